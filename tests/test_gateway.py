"""The gateway in memory: what reaches the upstream, and what the client gets on every kind of
failure (fixed bodies, nothing leaked, fail closed)."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import ResponseDone
from twisted.web.http_headers import Headers

from stoad.daemon.metrics import Metrics
from stoad.mcp._layer import McpLayer
from stoad.proxy.forward import UpstreamFailure
from stoad.proxy.gateway import Gateway
from stoad.proxy.http import GatewayChannel, GatewayHTTPFactory
from stoad.proxy.pathnorm import normalise_path
from stoad.proxy.routing import RouteTable
from stoad.runtime.chain import FilterChain
from stoad.runtime.deny import Deny
from stoad.runtime.layer import LayerBase
from tests.test_config import LIMITS
from tests.test_routing import route


class _Response:
    def __init__(self, code: int, headers: dict[str, list[str]], body: bytes) -> None:
        self.code = code
        self.headers = Headers({k.encode(): [v.encode() for v in vs] for k, vs in headers.items()})
        self.body = body

    def deliverBody(self, protocol: Any) -> None:
        protocol.makeConnection(StringTransport())
        if self.body:
            protocol.dataReceived(self.body)
        protocol.connectionLost(Failure(ResponseDone()))


class _Forwarder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Headers, Any]] = []
        self.result: Any = _Response(200, {"content-type": ["application/json"]}, b'{"ok": true}')
        self.pending: defer.Deferred[Any] | None = None
        self.cancelled: list[bool] = []

    def send(self, route: Any, method: str, target: str, headers: Headers, body: Any) -> Any:
        self.sent.append((method, target, headers, body))
        if self.result == "pending":
            self.pending = defer.Deferred(lambda d: self.cancelled.append(True))
            return self.pending
        if isinstance(self.result, Exception):
            return defer.fail(self.result)
        return defer.succeed(self.result)


class _Layer(LayerBase):
    name = "test"

    def __init__(self, request: Any = None, response: Any = None) -> None:
        self._request = request
        self._response = response
        self.completed: list[Any] = []

    def on_request(self, ctx: Any) -> Any:
        return self._request(ctx) if self._request else None

    def on_response(self, ctx: Any, head: Any) -> Any:
        return self._response(ctx, head) if self._response else None

    def on_complete(self, ctx: Any) -> None:
        self.completed.append(ctx)


class GatewayTestCase(SynchronousTestCase):
    def build(self, *layers: Any, tracer: Any = None, clock: Clock | None = None,
              routes: Any = None, limits: Any = LIMITS, **options: Any) -> None:
        self.clock = clock if clock is not None else Clock()
        self.forwarder = _Forwarder()
        self.metrics = Metrics()
        chain_layers = tracer.wrap(layers) if tracer is not None else list(layers)
        gateway = Gateway(routes=RouteTable(routes or [route("api", "/api")]),
                          chain=FilterChain(chain_layers, self.clock, 5.0, self.metrics),
                          forwarder=self.forwarder, metrics=self.metrics, clock=self.clock,
                          normalise_path=normalise_path, public_host="gw.example", tracer=tracer,
                          **options)
        factory = GatewayHTTPFactory(gateway, limits, self.metrics, self.clock)
        self.factory = factory
        self.channel: GatewayChannel = factory.buildProtocol(None)
        self.transport = StringTransport()
        self.channel.makeConnection(self.transport)

    def call(self, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        self.channel.dataReceived(head + body)
        raw = self.transport.value()
        self.transport.clear()
        top, _, payload = raw.partition(b"\r\n\r\n")
        lines = top.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            payload = _dechunk(payload)
        return int(lines[0].split()[1]), headers, payload


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return out


class ForwardingTests(GatewayTestCase):
    def test_client_credentials_and_identity_claims_never_reach_upstream(self) -> None:
        """Authorization, X-Forwarded-*, client-certificate and stoad identity headers from the
        client are dropped; stoad sets its own X-Forwarded-* and a request id."""
        self.build()
        self.call(b"GET /api/x HTTP/1.1\r\nHost: evil\r\nAuthorization: Bearer t\r\n"
                  b"X-Forwarded-For: 6.6.6.6\r\nX-Stoad-Consumer: root\r\nX-SSL-Client-Cert: x\r\n"
                  b"Accept: */*\r\n\r\n")
        _, target, headers, _ = self.forwarder.sent[0]
        self.assertEqual(target, "/api/x")
        names = {name.lower() for name, _ in headers.getAllRawHeaders()}
        for name in (b"authorization", b"x-stoad-consumer", b"x-ssl-client-cert", b"host"):
            self.assertNotIn(name, names)
        self.assertNotEqual(headers.getRawHeaders(b"x-forwarded-for"), [b"6.6.6.6"])
        self.assertEqual(headers.getRawHeaders(b"x-forwarded-host"), [b"gw.example"])
        self.assertEqual(headers.getRawHeaders(b"accept"), [b"*/*"])
        self.assertEqual(len(headers.getRawHeaders(b"x-request-id")[0]), 32)

    def test_header_bytes_are_forwarded_unchanged(self) -> None:
        """A header value with bytes 0x80-0xFF reaches the upstream byte for byte."""
        self.build()
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\nX-Name: caf\xe9\x85\r\n\r\n")
        headers = self.forwarder.sent[0][2]
        self.assertEqual(headers.getRawHeaders(b"x-name"), [b"caf\xe9\x85"])

    def test_the_normalised_path_is_forwarded(self) -> None:
        """The upstream gets the path policy saw, with the query unchanged."""
        self.build()
        self.call(b"GET /api/a/../%62//c?q=%2F HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(self.forwarder.sent[0][1], "/api/b/c?q=%2F")

    def test_response_hop_by_hop_headers_are_stripped(self) -> None:
        """Connection-named and hop-by-hop response headers do not reach the client."""
        self.build()
        self.forwarder.result = _Response(200, {"connection": ["x-internal"], "x-internal": ["1"],
                                                "keep-alive": ["timeout=5"], "x-fine": ["yes"]}, b"hi")
        status, headers, body = self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((status, body), (200, b"hi"))
        self.assertNotIn("x-internal", headers)
        self.assertNotIn("keep-alive", headers)
        self.assertEqual(headers["x-fine"], "yes")

    def test_get_with_a_body_is_refused(self) -> None:
        """A GET carrying a body is refused with 400 and never forwarded."""
        self.build()
        status, _, _ = self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", b"abc")
        self.assertEqual(status, 400)
        self.assertEqual(self.forwarder.sent, [])


class ErrorMappingTests(GatewayTestCase):
    def test_upstream_timeout_is_504(self) -> None:
        """UpstreamFailure(504) becomes 504 with a fixed JSON body."""
        self.build()
        self.forwarder.result = UpstreamFailure(504, "gateway_timeout", "upstream timed out")
        status, headers, body = self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((status, json.loads(body)), (504, {"error": "gateway_timeout"}))
        self.assertEqual(headers["cache-control"], "no-store")

    def test_upstream_refused_is_502(self) -> None:
        """UpstreamFailure(502) becomes 502; the upstream's error text is not echoed."""
        self.build()
        self.forwarder.result = UpstreamFailure(502, "bad_gateway", "ECONNREFUSED 10.0.0.5:8080")
        status, _, body = self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((status, json.loads(body)), (502, {"error": "bad_gateway"}))
        self.assertNotIn(b"10.0.0.5", body)

    def test_unexpected_failure_is_500_without_detail(self) -> None:
        """Any other exception is a 500 with a fixed body, logged, nothing echoed."""
        self.build()
        self.forwarder.result = RuntimeError("secret internals")
        status, _, body = self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((status, json.loads(body)), (500, {"error": "internal_error"}))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_a_failing_layer_fails_closed(self) -> None:
        """A layer that raises refuses the request (500) and nothing is forwarded; every layer
        still completes (audit sees the request)."""
        layer = _Layer(request=lambda ctx: 1 / 0)
        self.build(layer)
        status, _, body = self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((status, json.loads(body)), (500, {"error": "internal_error"}))
        self.assertEqual(self.forwarder.sent, [])
        self.assertEqual(layer.completed[0].outcome, "denied")
        self.flushLoggedErrors(ZeroDivisionError)

    def test_a_deny_carries_its_status_and_headers(self) -> None:
        """A layer's Deny sets the status and headers; its reason stays out of the body."""

        def refuse(ctx: Any) -> None:
            raise Deny(401, "invalid_token", "signature broken: key 7",
                       (("WWW-Authenticate", 'Bearer error="invalid_token"'),))

        layer = _Layer(request=refuse)
        self.build(layer)
        status, headers, body = self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status, 401)
        self.assertEqual(headers["www-authenticate"], 'Bearer error="invalid_token"')
        self.assertNotIn(b"key 7", body)
        self.assertEqual(layer.completed[0].denied_by, "test")

    def test_a_response_filter_can_refuse_before_anything_is_sent(self) -> None:
        """A body filter that refuses while buffering turns the response into its deny."""

        class Refuse:
            def feed(self, chunk: bytes) -> bytes:
                return b""

            def finish(self) -> bytes:
                raise Deny(502, "guardrail_blocked", "secret in response")

        self.build(_Layer(response=lambda ctx, head: Refuse()))
        status, _, body = self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((status, json.loads(body)), (502, {"error": "guardrail_blocked"}))

    def test_denials_are_counted_by_route_and_layer(self) -> None:
        """A refusal counts in stoad_route_denials_total under its route and the refusing layer;
        one refused before routing counts under route "-" and the routing step."""

        def refuse(ctx: Any) -> None:
            raise Deny(403, "access_denied", "policy says no")

        self.build(_Layer(request=refuse), routes=[route("api", "/api"), route("mcp", "/mcp")])
        for path in (b"/api/x", b"/api/y", b"/mcp", b"/other"):
            self.call(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        sample = self.metrics.registry.get_sample_value
        self.assertEqual(sample("stoad_route_denials_total", {"route": "api", "layer": "test"}), 2)
        self.assertEqual(sample("stoad_route_denials_total", {"route": "mcp", "layer": "test"}), 1)
        self.assertEqual(sample("stoad_route_denials_total", {"route": "-", "layer": "routing"}), 1)

    def test_each_layer_step_is_observed_in_the_layer_histogram(self) -> None:
        """Every request step, allowing or refusing, is one observation for its layer, with
        the time the chain recorded in ctx.timings."""
        clock = Clock()

        def slow_then_refuse(ctx: Any) -> None:
            clock.advance(0.003)
            if ctx.path == "/api/refused":
                raise Deny(403, "access_denied", "no")

        layer = _Layer(request=slow_then_refuse)
        self.build(layer, clock=clock)
        self.call(b"GET /api/ok HTTP/1.1\r\nHost: x\r\n\r\n")
        self.call(b"GET /api/refused HTTP/1.1\r\nHost: x\r\n\r\n")
        sample = self.metrics.registry.get_sample_value
        labels = {"layer": "test"}
        self.assertEqual(sample("stoad_layer_duration_seconds_count", labels), 2)
        self.assertAlmostEqual(sample("stoad_layer_duration_seconds_sum", labels), 0.006)
        self.assertEqual(sample("stoad_layer_duration_seconds_bucket", {**labels, "le": "0.0025"}), 0)
        self.assertEqual(sample("stoad_layer_duration_seconds_bucket", {**labels, "le": "0.005"}), 2)
        self.assertEqual([c.timings["test"] for c in layer.completed], [0.003, 0.003])

    def test_unknown_route_is_404(self) -> None:
        """No route: 404 with a fixed body, audited as denied by routing."""
        layer = _Layer()
        self.build(layer)
        status, _, body = self.call(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((status, json.loads(body)), (404, {"error": "not_found"}))
        self.assertEqual(layer.completed[0].denied_by, "routing")

    def test_client_disconnect_cancels_the_upstream_request(self) -> None:
        """When the client goes away the pending upstream request is cancelled."""
        layer = _Layer()
        self.build(layer)
        self.forwarder.result = "pending"
        self.channel.dataReceived(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIsNotNone(self.forwarder.pending)
        self.channel.connectionLost(Failure(ConnectionError("gone")))
        self.assertEqual(self.forwarder.cancelled, [True])
        self.assertEqual(layer.completed[0].outcome, "error")


class ConnectionLimitTests(SynchronousTestCase):
    def test_idle_connection_is_closed(self) -> None:
        """A connection that sends nothing for idle_timeout is closed."""
        from dataclasses import replace

        clock = Clock()
        limits = replace(LIMITS, idle_timeout=30.0)
        factory = GatewayHTTPFactory(None, limits, Metrics(), clock)
        channel = factory.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        clock.advance(29)
        self.assertFalse(transport.disconnecting)
        clock.advance(2)
        self.assertTrue(transport.disconnecting or transport.disconnected)

    def test_connections_over_the_cap_are_refused(self) -> None:
        """With max_connections open, the next connection gets no protocol (closed at once)."""
        from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
        from zope.interface import implementer

        from stoad.proxy.http import GatewayTLSFactory

        @implementer(IOpenSSLServerConnectionCreator)
        class Creator:
            def serverConnectionForTLS(self, protocol: Any) -> Any:
                from OpenSSL import SSL

                return SSL.Connection(SSL.Context(SSL.TLS_METHOD), None)

        metrics = Metrics()
        tls_factory = GatewayTLSFactory(Creator(), GatewayHTTPFactory(None, LIMITS, metrics, Clock()),
                                        metrics, 1, clock=Clock())
        first = tls_factory.buildProtocol(None)
        self.assertIsNotNone(first)
        class TCPTransport(StringTransport):
            def setTcpNoDelay(self, enabled: bool) -> None:
                pass

        first.makeConnection(TCPTransport())
        self.assertIsNone(tls_factory.buildProtocol(None))
        self.assertEqual(metrics.handshake_failures.labels("connection limit")._value.get(), 1)
        first.connectionLost(Failure(ConnectionError("closed")))
        self.assertIsNotNone(tls_factory.buildProtocol(None))


class RejectionAuditTests(GatewayTestCase):
    def test_requests_refused_by_the_http_layer_complete_the_chain(self) -> None:
        """A request refused while parsing (obs-fold) still completes every layer once, as a
        deny by the HTTP layer, so the audit log records it."""
        layer = _Layer()
        self.build(layer)
        self.channel.dataReceived(b"GET /api/x HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n")
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 400"))
        self.assertEqual(self.forwarder.sent, [])
        [ctx] = layer.completed
        self.assertEqual((ctx.outcome, ctx.denied_by, ctx.status, ctx.method), ("denied", "http", 400, "GET"))
        self.assertIn("folding", ctx.reason)


class _JsonRpcRenderer(_Layer):
    """Renders denials as the MCP layer does (its render_denial, without the rest of it)."""

    render_denial = McpLayer.render_denial  # type: ignore[assignment]


class McpRefusalTests(GatewayTestCase):
    def test_refusal_of_a_json_rpc_request_is_a_json_rpc_error(self) -> None:
        """A deny on a request the MCP layer parsed answers its JSON-RPC id with an error whose
        message is the fixed error code (the MCP layer's render_denial hook); the HTTP status is
        kept."""
        from stoad.runtime.context import McpCall

        def parsed_then_refused(ctx: Any) -> None:
            ctx.mcp = McpCall(method="tools/call", request_id=7, tool_name="delete_all")
            raise Deny(403, "forbidden", "policy: tool denied")

        self.build(_JsonRpcRenderer(request=parsed_then_refused))
        status, _, body = self.call(b"POST /api/mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n", b"{}")
        self.assertEqual(status, 403)
        self.assertEqual(json.loads(body), {"jsonrpc": "2.0", "id": 7, "error": {
            "code": -32003, "message": "forbidden", "data": {"status": 403}}})

    def test_notifications_keep_the_plain_body(self) -> None:
        """Without a JSON-RPC id (a notification) the fixed JSON body is kept."""
        from stoad.runtime.context import McpCall

        def refuse(ctx: Any) -> None:
            ctx.mcp = McpCall(method="notifications/initialized", request_id=None)
            raise Deny(403, "forbidden", "no")

        self.build(_JsonRpcRenderer(request=refuse))
        status, _, body = self.call(b"POST /api/mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n", b"{}")
        self.assertEqual((status, json.loads(body)), (403, {"error": "forbidden"}))
