"""The HTTP layer's per-phase deadlines, Expect handling, pipelining, connection slots and buffer
budget, in memory (a test clock, no sockets): every expiry ends in exactly one completion."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import ResponseFailed
from zope.interface import implementer

from stoad.daemon.metrics import Metrics
from stoad.proxy.http import GatewayHTTPFactory, GatewayTLSFactory
from tests.test_config import LIMITS
from tests.test_gateway import GatewayTestCase, _Layer
from tests.test_gateway_disconnect import _StreamingResponse

POST_HEAD = b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"


class _Completions(GatewayTestCase):
    def start(self, **limits: Any) -> _Layer:
        layer = _Layer()
        self.build(layer, limits=replace(LIMITS, **limits))
        return layer

    def assertCompletedOnce(self, layer: _Layer, outcome: str, by: str | None,
                            status: int) -> None:
        self.assertEqual(len(layer.completed), 1)
        ctx = layer.completed[0]
        self.assertEqual((ctx.outcome, ctx.denied_by, ctx.status), (outcome, by, status))


class HeadAndBodyDeadlineTests(_Completions):
    def test_body_in_a_second_write_gets_one_answer_and_no_unsolicited_408(self) -> None:
        """A POST whose body arrives after its head is answered 200 once; the connection then
        sits idle past the head deadline with nothing written, and is closed quietly (no 408,
        no second completion) when the keep-alive idle time is over."""
        layer = self.start(read_timeout=15.0, idle_timeout=60.0)
        self.channel.dataReceived(POST_HEAD)
        self.assertEqual(self.transport.value(), b"")
        self.channel.dataReceived(b"hello")
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 200"))
        self.assertEqual(self.forwarder.sent[0][3], b"hello")
        self.transport.clear()
        self.clock.advance(30.0)
        self.assertEqual(self.transport.value(), b"")
        self.assertFalse(self.transport.disconnecting)
        self.clock.advance(31.0)
        self.assertEqual(self.transport.value(), b"")
        self.assertTrue(self.transport.disconnecting)
        self.assertCompletedOnce(layer, "allowed", None, 200)

    def test_a_slow_upstream_after_a_body_in_a_second_write_is_not_cut(self) -> None:
        """Head and body in separate writes, then an upstream slower than the head deadline:
        the exchange is not cut by the HTTP layer, and is answered when the upstream answers."""
        layer = self.start(read_timeout=15.0)
        self.forwarder.result = "pending"
        self.channel.dataReceived(POST_HEAD)
        self.channel.dataReceived(b"hello")
        self.clock.advance(40.0)
        self.assertEqual(self.transport.value(), b"")
        from tests.test_gateway import _Response
        assert self.forwarder.pending is not None
        self.forwarder.pending.callback(_Response(200, {"content-type": ["application/json"]},
                                                  b'{"result": 1}'))
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 200"))
        self.assertCompletedOnce(layer, "allowed", None, 200)

    def test_a_head_that_does_not_end_gets_408_once(self) -> None:
        """A head still incomplete after read_timeout gets 408, the connection closes, and the
        refusal completes the chain once (denied by http)."""
        layer = self.start(read_timeout=15.0)
        self.channel.dataReceived(b"GET /api/x HTTP/1.1\r\nHost: x\r\n")
        self.clock.advance(14.9)
        self.assertEqual(self.transport.value(), b"")
        self.clock.advance(0.2)
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 408"))
        self.assertTrue(self.transport.disconnecting)
        self.clock.advance(120.0)
        self.assertCompletedOnce(layer, "denied", "http", 408)
        # The refusal names its audit event, as every other response does.
        self.assertIn(b"\r\nX-Request-Id: " + layer.completed[0].request_id.encode() + b"\r\n",
                      self.transport.value())

    def test_a_stalled_body_gets_408_once_and_is_never_forwarded(self) -> None:
        """A body that stops arriving fails the progress rule at the end of a window: 408,
        closed, one completion, nothing forwarded."""
        layer = self.start(body_window=5.0, body_min_rate=10)
        self.channel.dataReceived(b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
                                  + b"a" * 100)
        self.clock.advance(5.0)  # 100 bytes in the first window: at least 10 B/s
        self.assertEqual(self.transport.value(), b"")
        self.clock.advance(5.0)  # nothing in the second
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 408"))
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.forwarder.sent, [])
        self.assertCompletedOnce(layer, "denied", "http", 408)

    def test_a_slow_but_steady_body_is_forwarded(self) -> None:
        """A body arriving in many reads, each window above the minimum rate, is not cut."""
        layer = self.start(body_window=5.0, body_min_rate=10, read_timeout=1.0)
        self.channel.dataReceived(b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n")
        for _ in range(5):
            self.clock.advance(4.0)
            self.channel.dataReceived(b"b" * 60)
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 200"))
        self.assertEqual(self.forwarder.sent[0][3], b"b" * 300)
        self.assertCompletedOnce(layer, "allowed", None, 200)

    def test_an_idle_keep_alive_connection_is_closed_without_a_response(self) -> None:
        """After a response, a connection that sends nothing is closed at idle_timeout with no
        bytes written and no completion beyond the request's own."""
        layer = self.start(idle_timeout=20.0)
        self.channel.dataReceived(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.transport.clear()
        self.clock.advance(20.0)
        self.assertEqual(self.transport.value(), b"")
        self.assertTrue(self.transport.disconnecting)
        self.assertCompletedOnce(layer, "allowed", None, 200)


class ExchangeDeadlineTests(_Completions):
    def test_client_that_stops_reading_is_cut_and_recorded_as_client(self) -> None:
        """While the client reads nothing (the transport paused its producer) the upstream is
        paused; after write_timeout the connection is aborted and the exchange completes once
        as an error of the client (499)."""
        layer = self.start(write_timeout=30.0)
        upstream = _StreamingResponse()
        self.forwarder.result = upstream
        self.channel.dataReceived(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        upstream.send(b"data: 1\n\n")
        self.channel.pauseProducing()
        self.assertEqual(upstream.transport.producerState, "paused")
        self.clock.advance(30.0)
        self.assertTrue(self.transport.disconnected)
        self.channel.connectionLost(Failure(ConnectionError("aborted")))
        upstream.end(Failure(ResponseFailed([Failure(ConnectionError("stopped"))])))
        self.assertCompletedOnce(layer, "error", "client", 499)

    def test_a_reader_that_resumes_in_time_is_not_cut(self) -> None:
        """Backpressure that ends before write_timeout resumes the upstream, cuts nothing."""
        layer = self.start(write_timeout=30.0)
        upstream = _StreamingResponse()
        self.forwarder.result = upstream
        self.channel.dataReceived(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        self.channel.pauseProducing()
        self.clock.advance(29.0)
        self.channel.resumeProducing()
        self.assertEqual(upstream.transport.producerState, "producing")
        self.clock.advance(60.0)
        self.assertFalse(self.transport.disconnected)
        from twisted.web.client import ResponseDone
        upstream.end(Failure(ResponseDone()))
        self.assertCompletedOnce(layer, "allowed", None, 200)

    def test_whole_exchange_bound_answers_504_once(self) -> None:
        """An exchange still waiting for the upstream at exchange_timeout gets 504, the upstream
        request is cancelled, and it completes once as a gateway error."""
        layer = self.start(exchange_timeout=100.0)
        self.forwarder.result = "pending"
        self.channel.dataReceived(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.clock.advance(100.0)
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 504"))
        self.assertEqual(self.forwarder.cancelled, [True])
        self.assertCompletedOnce(layer, "error", "gateway", 504)

    def test_an_upstream_body_that_pauses_too_long_is_cut(self) -> None:
        """A response body that stops for longer than the route's body_timeout is stopped; the
        client's connection is cut (its head is out) and the exchange completes once as an
        upstream error."""
        layer = self.start()
        upstream = _StreamingResponse()
        self.forwarder.result = upstream
        self.channel.dataReceived(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        upstream.send(b"data: 1\n\n")
        self.clock.advance(299.0)
        upstream.send(b"data: 2\n\n")  # progress re-arms the idle timer
        self.clock.advance(299.0)
        self.assertEqual(upstream.transport.producerState, "producing")
        self.clock.advance(2.0)
        self.assertEqual(upstream.transport.producerState, "stopped")
        upstream.end(Failure(ResponseFailed([Failure(ConnectionError("stopped"))])))
        self.assertTrue(self.transport.disconnected)
        self.assertCompletedOnce(layer, "error", "upstream", 200)


class ExpectContinueTests(_Completions):
    def test_refused_head_gets_only_its_final_response(self) -> None:
        """Expect: 100-continue on a path no route serves: no 100, only the final 404, the
        connection closes (the body is never read), nothing is forwarded."""
        layer = self.start()
        self.channel.dataReceived(b"POST /nowhere HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                                  b"Content-Length: 5\r\n\r\n")
        reply = self.transport.value()
        self.assertTrue(reply.startswith(b"HTTP/1.1 404"), reply)
        self.assertNotIn(b"100 Continue", reply)
        self.assertIn(b"Connection: close", reply)
        self.assertTrue(self.transport.disconnecting)
        self.channel.dataReceived(b"hello")
        self.assertEqual(self.forwarder.sent, [])
        self.assertCompletedOnce(layer, "denied", "routing", 404)

    def test_allowed_head_gets_100_then_the_answer(self) -> None:
        """Expect: 100-continue on a routed path: 100 Continue first, then the body is read and
        forwarded and the final answer follows."""
        layer = self.start()
        self.channel.dataReceived(b"POST /api/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                                  b"Content-Length: 5\r\n\r\n")
        self.assertEqual(self.transport.value(), b"HTTP/1.1 100 Continue\r\n\r\n")
        self.transport.clear()
        self.channel.dataReceived(b"hello")
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 200"))
        self.assertEqual(self.forwarder.sent[0][3], b"hello")
        self.assertCompletedOnce(layer, "allowed", None, 200)

    def test_streamed_route_sends_100_only_when_the_upstream_reads_the_body(self) -> None:
        """On a request_body = stream route the 100 Continue waits until the chain has allowed
        the request and the forwarder starts reading the body; a request a layer refuses gets
        its final answer alone and nothing is forwarded."""
        from tests.test_routing import route

        def refuse_x(ctx: Any) -> None:
            if ctx.path.endswith("/refused"):
                from stoad.runtime.deny import Deny
                raise Deny(403, "forbidden", "not this one")

        layer = _Layer(request=refuse_x)
        self.build(layer, routes=[replace(route("api", "/api"), request_body="stream")])
        self.forwarder.result = "pending"
        head = (b"Host: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        self.channel.dataReceived(b"POST /api/ok HTTP/1.1\r\n" + head)
        self.assertEqual(self.transport.value(), b"")  # forwarded, body not read yet
        body = self.forwarder.sent[0][3]
        consumer = StringTransport()
        body.startProducing(consumer)
        self.assertEqual(self.transport.value(), b"HTTP/1.1 100 Continue\r\n\r\n")
        self.channel.dataReceived(b"hello")
        self.assertEqual(consumer.value(), b"hello")

        self.build(layer, routes=[replace(route("api", "/api"), request_body="stream")])
        self.channel.dataReceived(b"POST /api/refused HTTP/1.1\r\n" + head)
        reply = self.transport.value()
        self.assertTrue(reply.startswith(b"HTTP/1.1 403"), reply)
        self.assertNotIn(b"100 Continue", reply)
        self.assertIn(b"Connection: close", reply)  # the unread body cannot be told apart
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.forwarder.sent, [])

    def test_a_streamed_body_refused_after_hand_over_names_its_audit_event(self) -> None:
        """A chunked body on a request_body = stream route that passes max_body_bytes after the
        request was handed to the gateway gets 413 from the HTTP layer itself, with the
        X-Request-Id of the one audit event its exchange completes."""
        from tests.test_routing import route

        layer = _Layer()
        self.build(layer, routes=[replace(route("api", "/api"), request_body="stream")],
                   limits=replace(LIMITS, max_body_bytes=10))
        self.forwarder.result = "pending"
        self.channel.dataReceived(b"POST /api/x HTTP/1.1\r\nHost: x\r\n"
                                  b"Transfer-Encoding: chunked\r\n\r\n")
        self.assertEqual(len(self.forwarder.sent), 1)  # handed over, body not read yet
        self.channel.dataReceived(b"20\r\n" + b"a" * 32 + b"\r\n")
        reply = self.transport.value()
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply)
        self.assertTrue(self.transport.disconnecting)
        assert self.forwarder.pending is not None
        # The real forwarder fails the way it does when its body source failed.
        from stoad.proxy.forward import UpstreamFailure
        self.forwarder.pending.errback(Failure(UpstreamFailure(502, "bad_gateway", "body failed")))
        self.assertEqual(len(layer.completed), 1)
        self.assertIn(b"\r\nX-Request-Id: " + layer.completed[0].request_id.encode() + b"\r\n",
                      reply)

    def test_unknown_expectation_is_417(self) -> None:
        """An Expect other than 100-continue is refused with 417 and never forwarded."""
        layer = self.start()
        self.channel.dataReceived(b"POST /api/x HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n"
                                  b"Content-Length: 5\r\n\r\nhello")
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 417"))
        self.assertEqual(self.forwarder.sent, [])
        self.assertCompletedOnce(layer, "denied", "http", 417)


class PipeliningAndUpgradeTests(_Completions):
    def test_pipelined_requests_are_answered_in_order(self) -> None:
        """Two requests in one write: both forwarded and answered, in order, on one connection."""
        layer = self.start()
        self.channel.dataReceived(b"GET /api/1 HTTP/1.1\r\nHost: x\r\n\r\n"
                                  b"POST /api/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        self.assertEqual([sent[1] for sent in self.forwarder.sent], ["/api/1", "/api/2"])
        self.assertEqual(self.forwarder.sent[1][3], b"hi")
        self.assertEqual(self.transport.value().count(b"HTTP/1.1 200"), 2)
        self.assertEqual(len(layer.completed), 2)

    def test_a_refused_pipelined_request_waits_for_the_answer_before_it(self) -> None:
        """A malformed request behind one still being answered is refused after that answer,
        never before it."""
        layer = self.start()
        self.forwarder.result = "pending"
        self.channel.dataReceived(b"GET /api/1 HTTP/1.1\r\nHost: x\r\n\r\n"
                                  b"GET /api/2 HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n")
        self.assertEqual(self.transport.value(), b"")
        from tests.test_gateway import _Response
        assert self.forwarder.pending is not None
        self.forwarder.pending.callback(_Response(200, {}, b"one"))
        reply = self.transport.value()
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"))
        self.assertIn(b"HTTP/1.1 400", reply)
        self.assertLess(reply.index(b"HTTP/1.1 200"), reply.index(b"HTTP/1.1 400"))
        self.assertEqual(len(self.forwarder.sent), 1)
        self.assertEqual(len(layer.completed), 2)

    def test_upgrade_and_its_headers_are_dropped_and_the_connection_goes_on(self) -> None:
        """A request asking for a WebSocket upgrade is served as a plain request without
        Upgrade, Sec-WebSocket-* or HTTP2-Settings; the next request on the connection is read
        as HTTP/1.1."""
        self.start()
        self.channel.dataReceived(
            b"GET /api/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
            b"GET /api/after HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Protocol: chat\r\n\r\n")
        self.assertEqual([sent[1] for sent in self.forwarder.sent], ["/api/ws", "/api/after"])
        for _, _, headers, _ in self.forwarder.sent:
            names = {name.lower() for name, _ in headers.getAllRawHeaders()}
            for name in (b"upgrade", b"sec-websocket-key", b"sec-websocket-version",
                         b"sec-websocket-protocol", b"http2-settings", b"connection"):
                self.assertNotIn(name, names)

    def test_upgrade_with_a_body_is_refused(self) -> None:
        """An Upgrade request with a body is refused: the parser would read its body as the
        new protocol's bytes."""
        layer = self.start()
        self.channel.dataReceived(b"POST /api/ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n"
                                  b"Upgrade: websocket\r\nContent-Length: 3\r\n\r\nabc")
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 400"))
        self.assertEqual(self.forwarder.sent, [])
        self.assertCompletedOnce(layer, "denied", "http", 400)


class BufferBudgetTests(_Completions):
    def test_a_body_beyond_the_workers_budget_gets_503(self) -> None:
        """A body that would take the worker's buffered bytes past max_buffered_bytes is
        refused with 503 before it is read; nothing is forwarded."""
        layer = self.start(max_buffered_bytes=2000)
        # Counted twice: the copy the layers read, and the one on its way upstream.
        self.channel.dataReceived(b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n")
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 503"))
        self.assertEqual(self.forwarder.sent, [])
        self.assertCompletedOnce(layer, "denied", "http", 503)

    def test_chunked_bodies_count_as_they_arrive_and_are_released(self) -> None:
        """A chunked body is counted chunk by chunk; after the response the budget is free
        again."""
        self.start(max_buffered_bytes=2000)
        self.channel.dataReceived(b"POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                                  b"\r\n\r\n1f4\r\n" + b"a" * 500 + b"\r\n")
        self.assertEqual(self.factory.budget.used, 1000)
        self.channel.dataReceived(b"0\r\n\r\n")
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 200"))
        self.assertEqual(self.factory.budget.used, 0)
        self.channel.dataReceived(b"POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                                  b"\r\n\r\n3e9\r\n" + b"a" * 1001 + b"\r\n0\r\n\r\n")
        self.assertIn(b"HTTP/1.1 503", self.transport.value())
        self.assertEqual(len(self.forwarder.sent), 1)


@implementer(IOpenSSLServerConnectionCreator)
class _Creator:
    def serverConnectionForTLS(self, protocol: Any) -> Any:
        from OpenSSL import SSL

        return SSL.Connection(SSL.Context(SSL.TLS_METHOD), None)


class _TCPTransport(StringTransport):
    def setTcpNoDelay(self, enabled: bool) -> None:
        pass


class ConnectionSlotTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.metrics = Metrics()
        limits = replace(LIMITS, max_connections_per_source=2, handshake_timeout=10.0)
        self.tls = GatewayTLSFactory(_Creator(), GatewayHTTPFactory(None, limits, self.metrics,
                                                                    self.clock),
                                     self.metrics, 100, clock=self.clock)

    def test_one_source_address_gets_at_most_its_share(self) -> None:
        """Past max_connections_per_source, a source's next connection is refused at once while
        another address still connects; a closed connection frees its slot."""
        one = IPv4Address("TCP", "10.0.0.1", 1000)
        first = self.tls.buildProtocol(one)
        self.assertIsNotNone(self.tls.buildProtocol(one))
        self.assertIsNone(self.tls.buildProtocol(one))
        self.assertIsNotNone(self.tls.buildProtocol(IPv4Address("TCP", "10.0.0.2", 1000)))
        self.assertEqual(self.metrics.handshake_failures.labels("source connection limit")
                         ._value.get(), 1)
        first.makeConnection(_TCPTransport())
        first.connectionLost(Failure(ConnectionError("closed")))
        self.assertIsNotNone(self.tls.buildProtocol(one))

    def test_a_closed_connection_is_reported_once_and_keeps_no_wrapper(self) -> None:
        """Closing a connection calls on_close once and removes the per-connection accounting
        wrapper, so the protocol and its wrapper do not hold each other in a reference cycle
        until the collector runs; a second connectionLost does not count the slot twice."""
        closed: list[int] = []
        self.tls.on_close = lambda: closed.append(self.tls.open)
        protocol = self.tls.buildProtocol(IPv4Address("TCP", "10.0.0.1", 1000))
        self.assertIn("connectionLost", vars(protocol))
        protocol.makeConnection(_TCPTransport())
        protocol.connectionLost(Failure(ConnectionError("closed")))
        self.assertEqual(closed, [0])
        self.assertNotIn("connectionLost", vars(protocol))
        self.assertEqual((self.tls.open, self.tls.per_source), (0, {}))

    def test_a_handshake_that_does_not_finish_is_aborted(self) -> None:
        """A connection that has not completed its TLS handshake within handshake_timeout is
        aborted (before any certificate is looked at) and counted."""
        protocol = self.tls.buildProtocol(IPv4Address("TCP", "10.0.0.1", 1000))
        transport = _TCPTransport()
        protocol.makeConnection(transport)
        self.clock.advance(9.9)
        self.assertFalse(transport.disconnected)
        self.clock.advance(0.2)
        self.assertTrue(transport.disconnected)
        self.assertEqual(self.metrics.handshake_failures.labels("handshake timeout")._value.get(), 1)

    def test_a_finished_handshake_leaves_no_deadline_pending(self) -> None:
        """Once the handshake is done, its deadline is cancelled rather than left pending for
        the life of a keep-alive connection; the connection outlives the handshake_timeout."""
        protocol = self.tls.buildProtocol(IPv4Address("TCP", "10.0.0.1", 1000))
        transport = _TCPTransport()
        protocol.makeConnection(transport)
        pending = len(self.clock.getDelayedCalls())
        channel = protocol.wrappedProtocol
        channel.handshakeCompleted()
        self.assertEqual(len(self.clock.getDelayedCalls()), pending - 1)
        self.assertIsNone(channel.handshake_deadline)
        self.clock.advance(10.1)
        self.assertFalse(transport.disconnected)
        self.assertEqual(self.metrics.handshake_failures.labels("handshake timeout")._value.get(), 0)

    def test_new_limits_apply_to_the_next_connection(self) -> None:
        """Limits replaced on the HTTP factory (as a reload does) govern the next connection's
        slot check and resize the worker's buffer budget."""
        one = IPv4Address("TCP", "10.0.0.1", 1000)
        self.tls.buildProtocol(one)
        self.tls.buildProtocol(one)
        self.assertIsNone(self.tls.buildProtocol(one))
        http_factory = self.tls.http_factory
        http_factory.limits = replace(http_factory.limits, max_connections_per_source=3,
                                      max_buffered_bytes=4096)
        self.assertIsNotNone(self.tls.buildProtocol(one))
        self.assertEqual(http_factory.budget.limit, 4096)


class FormBodyTests(_Completions):
    def test_a_form_post_is_not_parsed_through_the_email_package(self) -> None:
        """A urlencoded POST reaches the upstream byte for byte without its Content-Type or body
        being parsed through the email package (twisted.web's Request did that for every POST)."""
        import email.message

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("the email package parsed a request")

        self.patch(email.message.Message, "__init__", refuse)
        self.start()
        self.channel.dataReceived(b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                  b"application/x-www-form-urlencoded; charset=utf-8\r\n"
                                  b"Content-Length: 7\r\n\r\na=1&b=2")
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 200"))
        self.assertEqual(self.forwarder.sent[0][3], b"a=1&b=2")
