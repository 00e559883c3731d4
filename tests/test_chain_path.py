"""The full chain's shortcuts on the reactor thread keep every rule: a filtered response that
arrived whole is filtered in one piece and sent with its new length, with the relay's outcomes
for refusals and failures."""

from __future__ import annotations

from typing import Any

from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import ResponseDone

from stoad.config import LimitSettings
from stoad.daemon.metrics import Metrics
from stoad.proxy.gateway import Gateway, _framed_by_length
from stoad.proxy.http import GatewayHTTPFactory
from stoad.proxy.pathnorm import normalise_path
from stoad.proxy.routing import RouteTable
from stoad.runtime.chain import FilterChain
from stoad.runtime.deny import Deny
from stoad.runtime.layer import LayerBase
from tests.test_bare_path import _pooled

LIMITS = LimitSettings(max_header_bytes=16384, max_headers=100, max_request_line=8192,
                       max_body_bytes=1 << 20, idle_timeout=60.0, read_timeout=15.0,
                       max_connections=1024)
BODY = b'{"secret":"abc"}'
WHOLE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(BODY), BODY)


class _Filter:
    """Holds the body until finish, then rewrites it (or refuses, or fails, as told)."""

    def __init__(self, mode: str, seen: list[bytes]) -> None:
        self.mode = mode
        self.seen = seen
        self.held = b""

    def feed(self, chunk: bytes) -> bytes:
        self.seen.append(chunk)
        if self.mode == "let-out-then-refuse":
            return chunk[:5]
        self.held += chunk
        return b""

    def finish(self) -> bytes:
        if self.mode in ("refuse", "let-out-then-refuse"):
            raise Deny(502, "guardrail_blocked", "blocked", layer="test")
        if self.mode == "fail":
            raise RuntimeError("filter bug")
        return self.held.replace(b"abc", b"[REDACTED]")


class _FilteringLayer(LayerBase):
    name = "filtering"

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.seen: list[bytes] = []

    def on_response(self, ctx: Any, head: Any) -> _Filter:
        return _Filter(self.mode, self.seen)


class FilteredWholeBodyTests(SynchronousTestCase):
    def exchange(self, mode: str, method: bytes = b"GET", answer: bytes = WHOLE
                 ) -> tuple[_FilteringLayer, StringTransport, StringTransport, Any]:
        reactor = MemoryReactorClock()
        forwarder, upstream, upstream_transport, target = _pooled(reactor)
        layer = _FilteringLayer(mode)
        metrics = Metrics()
        gateway = Gateway(routes=RouteTable([target]),
                          chain=FilterChain([layer], reactor, 5.0, metrics),
                          forwarder=forwarder, metrics=metrics, clock=reactor,
                          normalise_path=normalise_path, public_host="gw.example")
        channel = GatewayHTTPFactory(gateway, LIMITS, metrics, reactor).buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        self.addCleanup(channel.connectionLost, Failure(ResponseDone()))
        channel.dataReceived(method + b" /api/x HTTP/1.1\r\nHost: gw.example\r\n\r\n")
        self.assertTrue(upstream_transport.value().startswith(method + b" /api/x HTTP/1.1\r\n"))
        upstream.dataReceived(answer)
        return layer, transport, upstream_transport, channel

    def test_whole_body_is_filtered_in_one_piece_and_sent_with_its_new_length(self) -> None:
        """A response whose body came with its head is fed to the filters whole, and the client
        gets the rewritten body with a Content-Length that is its length (not chunked)."""
        layer, transport, _, _ = self.exchange("redact")
        self.assertEqual(layer.seen, [BODY])
        head, _, body = transport.value().partition(b"\r\n\r\n")
        self.assertEqual(body, b'{"secret":"[REDACTED]"}')
        self.assertIn(b"\r\ncontent-length: %d" % len(body), head.lower())
        self.assertNotIn(b"chunked", head.lower())
        self.assertFalse(transport.disconnecting)

    def test_refusal_before_anything_was_let_out_is_the_answer(self) -> None:
        """A filter that refuses at the end of a whole body, having let nothing out, gives the
        client the refusal and no byte of the body."""
        _, transport, _, _ = self.exchange("refuse")
        answer = transport.value()
        self.assertTrue(answer.startswith(b"HTTP/1.1 502 "), answer)
        self.assertNotIn(b"abc", answer)

    def test_refusal_after_bytes_were_let_out_cuts_the_stream(self) -> None:
        """As the relay does: what a filter let out is sent, then the connection is cut, so
        the client sees a broken response rather than a complete one."""
        _, transport, _, _ = self.exchange("let-out-then-refuse")
        answer = transport.value()
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer)
        head = answer.partition(b"\r\n\r\n")[0].lower()
        self.assertNotIn(b"content-length", head)
        self.assertTrue(transport.disconnecting)
        self.assertNotIn(b"0\r\n\r\n", answer.partition(b"\r\n\r\n")[2])  # no final chunk

    def test_failing_filter_is_a_logged_502(self) -> None:
        """Any other failure of a filter is a 502 bad_gateway, logged, never echoed."""
        _, transport, _, _ = self.exchange("fail")
        answer = transport.value()
        self.assertTrue(answer.startswith(b"HTTP/1.1 502 "), answer)
        self.assertNotIn(b"filter bug", answer)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_head_response_keeps_the_relay(self) -> None:
        """A HEAD response's Content-Length is not its body's length: it is not rewritten."""
        for method, status in (("HEAD", 200), ("GET", 204), ("GET", 304), ("GET", 101)):
            self.assertFalse(_framed_by_length(method, status), (method, status))
        self.assertTrue(_framed_by_length("GET", 200))
        self.assertTrue(_framed_by_length("POST", 404))
        layer, transport, _, _ = self.exchange(
            "redact", b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n")
        head = transport.value().lower()
        self.assertNotIn(b"content-length: 0", head)
