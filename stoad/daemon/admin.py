"""The admin listener: C{/_status} (per-worker state) and C{/metrics} (Prometheus text).

Loopback or a unix socket only; it serves no proxied traffic.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from twisted.web.resource import Resource
from twisted.web.server import Request


class StatusResource(Resource):
    isLeaf = True

    def __init__(self, status: Callable[[], dict[str, Any]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Twisted leaves it unannotated
        self._status = status

    def render_GET(self, request: Request) -> bytes:
        status = self._status()
        request.setHeader("content-type", "application/json")
        request.setHeader("cache-control", "no-store")
        if status.get("state") != "ready":
            request.setResponseCode(503)
        return json.dumps(status, sort_keys=True).encode("utf-8")


class MetricsResource(Resource):
    isLeaf = True

    def __init__(self, registry: Any) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Twisted leaves it unannotated
        self._registry = registry

    def render_GET(self, request: Request) -> bytes:
        request.setHeader("content-type", CONTENT_TYPE_LATEST)
        request.setHeader("cache-control", "no-store")
        return generate_latest(self._registry)


def admin_root(status: Callable[[], dict[str, Any]], registry: Any) -> Resource:
    root = Resource()
    root.putChild(b"_status", StatusResource(status))
    root.putChild(b"metrics", MetricsResource(registry))
    return root
