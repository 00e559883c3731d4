"""The admin listener: C{/_status} (per-worker state and configuration hash), C{/metrics}
(Prometheus text) and C{POST /_reload} (what C{stoad reload} calls). Loopback or a unix socket
only; it serves no proxied traffic.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

log = Logger()

# A browser on the same machine can send a cross-site POST but not a custom header without a
# CORS preflight (which this listener never answers): the header proves a deliberate client.
RELOAD_HEADER = b"x-stoad-reload"


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

    def __init__(self, registry: Any,
                 refresh: Callable[[], Deferred[None]] | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Twisted leaves it unannotated
        self._registry = registry
        self._refresh = refresh

    def render_GET(self, request: Request) -> bytes | int:
        request.setHeader("content-type", CONTENT_TYPE_LATEST)
        request.setHeader("cache-control", "no-store")
        if self._refresh is None:
            return generate_latest(self._registry)
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def answer(_: object) -> None:
            if gone:
                return
            try:
                body = generate_latest(self._registry)
            except Exception:
                log.failure("cannot render /metrics")
                request.setResponseCode(500)
                body = b"metrics unavailable\n"
            request.write(body)
            request.finish()

        defer.maybeDeferred(self._refresh).addBoth(answer)
        return NOT_DONE_YET


class ReloadResource(Resource):
    """C{POST /_reload}: reload every worker, answer with the outcome once all have answered."""

    isLeaf = True

    def __init__(self, reload: Callable[[], Deferred[dict[str, Any]]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Twisted leaves it unannotated
        self._reload = reload

    def render_POST(self, request: Request) -> int | bytes:
        request.setHeader("content-type", "application/json")
        request.setHeader("cache-control", "no-store")
        if request.getHeader(RELOAD_HEADER) != b"yes":
            request.setResponseCode(403)
            return b'{"error":"send the X-Stoad-Reload: yes header"}'

        def answer(outcome: dict[str, Any]) -> None:
            if request.finished or request.channel is None:
                return
            request.setResponseCode(200 if outcome.get("ok") else 409)
            request.write(json.dumps(outcome, sort_keys=True).encode("utf-8"))
            request.finish()

        def failed(failure: Failure) -> None:
            log.failure("reload request failed", failure)
            answer({"ok": False, "problems": ["internal error while reloading"]})

        self._reload().addCallbacks(answer, failed)
        return NOT_DONE_YET


def admin_root(status: Callable[[], dict[str, Any]], registry: Any,
               reload: Callable[[], Deferred[dict[str, Any]]] | None = None,
               refresh: Callable[[], Deferred[None]] | None = None) -> Resource:
    """C{/_status}, C{/metrics} (C{refresh}, if given, runs before every scrape) and
    C{/_reload}."""
    root = Resource()
    root.putChild(b"_status", StatusResource(status))
    root.putChild(b"metrics", MetricsResource(registry, refresh))
    if reload is not None:
        root.putChild(b"_reload", ReloadResource(reload))
    return root
