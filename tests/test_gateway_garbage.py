"""A finished exchange leaves no reference cycle: its objects are freed by reference counting
as soon as the response is done, not by a later run of the cyclic garbage collector."""

from __future__ import annotations

import gc
from typing import Any

from stoad.proxy import gateway as gateway_module
from stoad.runtime.context import RequestContext
from tests.test_gateway import GatewayTestCase


class NoCycleTests(GatewayTestCase):
    def live(self, kind: type) -> int:
        return sum(1 for o in gc.get_objects() if type(o) is kind)

    def test_a_relayed_request_leaves_nothing_for_the_collector(self) -> None:
        """With the collector off, after three relayed requests (one through a response body
        filter) no exchange, relay or request context is left alive."""
        gc.collect()
        gc.disable()
        self.addCleanup(gc.enable)

        class Upper:
            def feed(self, chunk: bytes) -> bytes:
                return chunk.upper()

            def finish(self) -> bytes:
                return b""

        class Filtering:
            name = "filtering"

            def on_request(self, ctx: Any) -> None:
                return None

            def on_response(self, ctx: Any, head: Any) -> Upper | None:
                return Upper() if ctx.path == "/api/f" else None

            def on_complete(self, ctx: Any) -> None:
                return None

        self.build(Filtering())
        for path in (b"/api/a", b"/api/b", b"/api/f"):
            status, _, body = self.call(b"GET " + path + b" HTTP/1.1\r\nHost: gw\r\n\r\n")
            self.assertEqual(status, 200)
        self.assertEqual(body, b'{"OK": TRUE}')
        self.assertEqual(self.live(gateway_module._Exchange), 0)
        self.assertEqual(self.live(gateway_module._BodyRelay), 0)
        self.assertEqual(self.live(RequestContext), 0)
