"""A finished exchange leaves no reference cycle: its objects are freed by reference counting
as soon as the response is done, not by a later run of the cyclic garbage collector."""

from __future__ import annotations

import gc
from typing import Any

from stoad.proxy import gateway as gateway_module
from stoad.runtime.context import RequestContext
from stoad.runtime.layer import LayerBase
from tests.test_gateway import GatewayTestCase


class NoCycleTests(GatewayTestCase):
    def live(self, kind: type) -> set[int]:
        return {id(o) for o in gc.get_objects() if type(o) is kind}

    def test_a_relayed_request_leaves_nothing_for_the_collector(self) -> None:
        """With the collector off, after three relayed requests (one through a response body
        filter) no exchange, relay or request context is left alive."""
        gc.collect()
        gc.disable()
        self.addCleanup(gc.enable)
        # Objects earlier tests still hold are not this test's business.
        kinds = (gateway_module._Exchange, gateway_module._BodyRelay, RequestContext)
        before = {kind: self.live(kind) for kind in kinds}

        class Upper:
            def feed(self, chunk: bytes) -> bytes:
                return chunk.upper()

            def finish(self) -> bytes:
                return b""

        class Filtering(LayerBase):
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
        for kind in kinds:
            self.assertEqual(self.live(kind) - before[kind], set(), kind.__name__)
