"""Route lookup: the longest configured prefix that matches the normalised path, on a segment
boundary. Nothing the client sends besides the path takes part.
"""

from __future__ import annotations

from typing import Sequence

from stoad.config import Route


class RouteTable:
    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = tuple(routes)
        # Longest prefix first; each entry is the prefix without its trailing slash.
        self._routes = sorted(
            ((route.prefix.rstrip("/"), route) for route in routes),
            key=lambda item: len(item[0]),
            reverse=True,
        )

    def match(self, path: str) -> Route | None:
        """The route for a normalised path, or None. C{/api} matches C{/api} and C{/api/x},
        never C{/apix}."""
        for prefix, route in self._routes:
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                return route
        return None

    def upstream_path(self, route: Route, path: str) -> str:
        """The path sent upstream: the route's base path joined with the request path."""
        return route.upstream_base_path + path if route.upstream_base_path else path
