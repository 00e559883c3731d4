"""The gateway when the client goes away while a response is streaming or about to: the
upstream response is stopped, and the request is completed (and so audited) at once, once."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone, ResponseFailed
from twisted.web.http_headers import Headers

from stoad.runtime.deny import Deny
from tests.test_gateway import GatewayTestCase, _Layer

SSE_EVENT = b'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n'
REQUEST = b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n"


class _StreamingResponse:
    """An upstream response whose body arrives when the test says so, as Twisted delivers it."""

    def __init__(self) -> None:
        self.code = 200
        self.headers = Headers({b"content-type": [b"text/event-stream"]})
        self.transport = StringTransport()
        self.protocol: Any = None

    def deliverBody(self, protocol: Any) -> None:
        self.protocol = protocol
        protocol.makeConnection(self.transport)

    def send(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    def end(self, reason: Failure) -> None:
        self.protocol.connectionLost(reason)


class _WholeEventsOnly:
    """A body filter that refuses a body cut off mid-way at its end (as a buffering filter
    does when what it holds does not parse)."""

    def feed(self, chunk: bytes) -> bytes:
        return chunk

    def finish(self) -> bytes:
        raise Deny(502, "bad_gateway", "body cut off")


class ClientGoneWhileStreamingTests(GatewayTestCase):
    def start_stream(self, *layers: Any) -> _StreamingResponse:
        upstream = _StreamingResponse()
        self.forwarder.result = upstream
        self.channel.dataReceived(REQUEST)
        upstream.send(SSE_EVENT)
        self.assertIn(SSE_EVENT, self.transport.value())
        return upstream

    def assert_completed_as_client_gone(self, layer: _Layer) -> None:
        """Completed once, with the status the client was sent and why the stream ended."""
        self.assertEqual(len(layer.completed), 1)
        ctx = layer.completed[0]
        self.assertEqual((ctx.outcome, ctx.denied_by, ctx.status, ctx.reason),
                         ("allowed", None, 200,
                          "client closed the connection before the response ended"))
        self.assertEqual(ctx.backend_status, 200)

    def test_client_gone_mid_stream_stops_the_upstream_and_completes_once(self) -> None:
        """The client closes its connection after the first event of an event stream (as the
        MCP SDK client does once it has its JSON-RPC response): the upstream body is stopped,
        and when the upstream connection then closes the request completes at once, exactly
        once, with the status the client was sent (not as a failure)."""
        layer = _Layer()
        self.build(layer)
        upstream = self.start_stream()
        self.channel.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(upstream.transport.producerState, "stopped")
        self.assertEqual(layer.completed, [])
        upstream.end(Failure(ResponseFailed([Failure(ConnectionDone())])))
        self.assert_completed_as_client_gone(layer)

    def test_client_gone_just_before_the_upstream_body_ends_completes_once(self) -> None:
        """The client leaves and the upstream's end of body arrives right after (a race the
        SDK client's early close makes common): the request completes at once, exactly once,
        with the status the client was sent."""
        layer = _Layer()
        self.build(layer)
        upstream = self.start_stream()
        self.channel.connectionLost(Failure(ConnectionDone()))
        upstream.end(Failure(ResponseDone()))
        self.assert_completed_as_client_gone(layer)

    def test_client_gone_mid_stream_with_body_filters_completes_once(self) -> None:
        """Same, with a body filter in place (MCP routes always have one on event streams):
        the filters are not finished for a client that is gone (so a cut-off body is not
        audited as a refusal of a 200), and the request completes once."""
        layer = _Layer(response=lambda ctx, head: _WholeEventsOnly())
        self.build(layer)
        upstream = self.start_stream()
        self.channel.connectionLost(Failure(ConnectionDone()))
        upstream.end(Failure(ResponseDone()))
        self.assert_completed_as_client_gone(layer)

    def test_client_gone_while_response_steps_run_discards_the_upstream_body(self) -> None:
        """The client leaves while a layer's response step is still running: the upstream
        body is never relayed but stopped (its connection is not left open and paused), and
        the request completes as a client disconnect rather than as an internal error."""
        step: defer.Deferred[None] = defer.Deferred()
        layer = _Layer(response=lambda ctx, head: step)
        self.build(layer)
        upstream = _StreamingResponse()
        self.forwarder.result = upstream
        self.channel.dataReceived(REQUEST)
        self.channel.connectionLost(Failure(ConnectionDone()))
        step.callback(None)
        self.assertEqual(upstream.transport.producerState, "stopped")
        self.assertEqual(len(layer.completed), 1)
        ctx = layer.completed[0]
        self.assertEqual((ctx.outcome, ctx.denied_by, ctx.status), ("error", "client", 499))
