"""Tracing in memory: the spans of an exchange, their parents and attributes, the trace context
sent upstream, the [tracing] settings, and that nothing is traced when tracing is off."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from stoad.audit._event import build_request_event
from stoad.config import ConfigError
from stoad.config._reader import Problems, SectionReader
from stoad.runtime.context import TRACE, Identity, McpCall, RequestContext
from stoad.runtime.deny import Deny
from stoad.tracing import TracingSettings, parse_tracing
from stoad.tracing._tracer import ExchangeTracer
from tests.test_gateway import GatewayTestCase, _Layer
from tests.test_mcp_layer import TOOLS, LayerFixture, call, context, identity

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
CLIENT_TRACEPARENT = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
META_TRACE = "0af7651916cd43dd8448eb211c80319c"
META_TRACEPARENT = f"00-{META_TRACE}-b7ad6b7169203331-01"


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


class _Named(_Layer):
    def __init__(self, name: str, request: Any = None, response: Any = None) -> None:
        super().__init__(request, response)
        self.name = name


class _Recording(_Named):
    """A layer with a before_forward step (as the audit layer has), recording that it ran."""

    def __init__(self, name: str, seen: list[str]) -> None:
        super().__init__(name)
        self.seen = seen

    def before_forward(self, ctx: Any) -> None:
        self.seen.append("ran")


class TracedGatewayTestCase(GatewayTestCase):
    def traced(self, *layers: Any, **settings: Any) -> None:
        self.exporter = InMemorySpanExporter()
        clock = Clock()
        clock.advance(1_800_000_000)
        self.tracer = ExchangeTracer(TracingSettings(enabled=True, **settings), clock,
                                     "https://gw.example:8443", processor=SimpleSpanProcessor(
                                         self.exporter))
        self.addCleanup(self.tracer.shutdown)
        self.build(*layers, tracer=self.tracer, clock=clock)

    def spans(self) -> dict[str, ReadableSpan]:
        return {span.name: span for span in self.exporter.get_finished_spans()}

    def upstream_header(self, name: bytes) -> list[bytes] | None:
        result: list[bytes] | None = self.forwarder.sent[0][2].getRawHeaders(name)
        return result


class ExchangeSpanTests(TracedGatewayTestCase):
    def test_allowed_call_has_server_step_and_upstream_spans_in_one_trace(self) -> None:
        """An allowed call gives a server span named by method and route, a child per layer
        step and a client span for the upstream call, all in the trace the client started."""
        self.traced(_Named("auth"), _Named("policy"))
        status, _, _ = self.call(
            b"POST /api/items?q=secret HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            b"traceparent: " + CLIENT_TRACEPARENT.encode() + b"\r\nUser-Agent: agent/1\r\n\r\n",
            b"{}")
        self.assertEqual(status, 200)
        spans = self.spans()
        self.assertEqual(set(spans), {"POST /api", "auth request", "policy request",
                                      "auth response", "policy response", "POST"})
        server = spans["POST /api"]
        self.assertEqual(server.kind, SpanKind.SERVER)
        self.assertEqual(_hex(server.context.trace_id, 32), CLIENT_TRACE)
        assert server.parent is not None
        self.assertEqual(_hex(server.parent.span_id, 16), CLIENT_SPAN)
        for name in ("auth request", "policy request", "auth response", "POST"):
            assert spans[name].parent is not None
            self.assertEqual(spans[name].parent.span_id, server.context.span_id, name)
            self.assertEqual(spans[name].context.trace_id, server.context.trace_id, name)
        attributes = dict(server.attributes or {})
        self.assertEqual(attributes["http.request.method"], "POST")
        self.assertEqual(attributes["http.route"], "/api")
        self.assertEqual(attributes["url.path"], "/api/items")
        self.assertEqual(attributes["http.response.status_code"], 200)
        self.assertEqual(attributes["server.address"], "gw.example")
        self.assertEqual(attributes["server.port"], 8443)
        self.assertEqual(attributes["user_agent.original"], "agent/1")
        self.assertEqual(attributes["stoad.outcome"], "allowed")
        self.assertNotIn("secret", repr(attributes))
        client = spans["POST"]
        self.assertEqual(client.kind, SpanKind.CLIENT)
        self.assertEqual(dict(client.attributes or {})["http.response.status_code"], 200)
        self.assertEqual(dict(client.attributes or {})["url.full"], "http://127.0.0.1:1/api/items")
        self.assertEqual(dict(spans["auth request"].attributes or {})["stoad.decision"], "allow")

    def test_upstream_gets_stoads_traceparent_instead_of_the_clients(self) -> None:
        """The upstream's traceparent names stoad's client span in the client's trace; the
        client's own traceparent is not passed on, and its tracestate is carried along."""
        self.traced()
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\ntraceparent: " + CLIENT_TRACEPARENT.encode()
                  + b"\r\ntracestate: vendor=1\r\n\r\n")
        client = self.spans()["GET"]
        sent = self.upstream_header(b"traceparent")
        self.assertEqual(sent, [f"00-{CLIENT_TRACE}-{_hex(client.context.span_id, 16)}-01"
                                .encode()])
        self.assertEqual(self.upstream_header(b"tracestate"), [b"vendor=1"])

    def test_policy_denial_is_a_server_span_with_the_denying_step(self) -> None:
        """A refusal ends the trace without an upstream span: the server span says who denied
        and the denying layer's step span says deny."""
        def refuse(ctx: Any) -> None:
            raise Deny(403, "access_denied", "policy said no")

        self.traced(_Named("auth"), _Named("policy", request=refuse))
        status, _, _ = self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status, 403)
        spans = self.spans()
        self.assertEqual(set(spans), {"GET /api", "auth request", "policy request"})
        attributes = dict(spans["GET /api"].attributes or {})
        self.assertEqual(attributes["stoad.outcome"], "denied")
        self.assertEqual(attributes["stoad.denied_by"], "policy")
        self.assertEqual(attributes["http.response.status_code"], 403)
        self.assertEqual(spans["GET /api"].status.status_code, StatusCode.UNSET)
        self.assertEqual(dict(spans["policy request"].attributes or {})["stoad.decision"], "deny")
        self.assertEqual(self.forwarder.sent, [])

    def test_before_forward_step_is_a_span_of_the_layers_that_have_one(self) -> None:
        """A layer's before_forward step (the audit decision record) is timed like the others;
        a layer without one gets none."""
        seen: list[str] = []
        self.traced(_Recording("audit", seen), _Named("policy"))
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(seen, ["ran"])
        spans = self.spans()
        self.assertIn("audit before_forward", spans)
        self.assertNotIn("policy before_forward", spans)
        assert spans["audit before_forward"].parent is not None
        self.assertEqual(spans["audit before_forward"].parent.span_id,
                         spans["GET /api"].context.span_id)

    def test_failing_layer_marks_its_step_and_the_exchange_as_errors(self) -> None:
        """A layer that raises is an error step span, and the 500 it causes an error server span
        with error.type."""
        def broken(ctx: Any) -> None:
            raise RuntimeError("bug")

        self.traced(_Named("guardrails", request=broken))
        status, _, _ = self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status, 500)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        spans = self.spans()
        self.assertEqual(spans["guardrails request"].status.status_code, StatusCode.ERROR)
        self.assertEqual(spans["GET /api"].status.status_code, StatusCode.ERROR)
        self.assertEqual(dict(spans["GET /api"].attributes or {})["error.type"], "500")

    def test_step_span_covers_a_step_that_waits(self) -> None:
        """A step that returns a Deferred is timed until it fires, on the injected clock."""
        waiting: list[defer.Deferred[None]] = []

        def slow(ctx: Any) -> defer.Deferred[None]:
            waiting.append(defer.Deferred())
            return waiting[0]

        self.traced(_Named("auth", request=slow))
        self.channel.dataReceived(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.clock.advance(0.25)
        waiting[0].callback(None)
        step = self.spans()["auth request"]
        assert step.start_time is not None and step.end_time is not None
        # Nanoseconds from a float of epoch seconds: exact to well under a microsecond.
        self.assertLess(abs(step.end_time - step.start_time - 250_000_000), 1_000)

    def test_upstream_failure_is_an_error_client_span(self) -> None:
        """An upstream that cannot be reached gives an error client span and a 502 server span."""
        from stoad.proxy.forward import UpstreamFailure

        self.traced()
        self.forwarder.result = UpstreamFailure(502, "bad_gateway", "connection refused")
        status, _, _ = self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status, 502)
        client = self.spans()["GET"]
        self.assertEqual(client.status.status_code, StatusCode.ERROR)
        self.assertEqual(dict(client.attributes or {})["error.type"], "502")


class McpSpanTests(TracedGatewayTestCase):
    def mcp_layer(self, **call: Any) -> _Named:
        def parse(ctx: RequestContext) -> None:
            ctx.mcp = McpCall(**call)
            ctx.identity = Identity("client-1", "sub", "acme", "agent-7", "gold",
                                    frozenset(), {}, "jwt", "hash")

        return _Named("mcp", request=parse)

    def test_tool_call_carries_mcp_and_genai_attributes_but_no_arguments(self) -> None:
        """A tools/call is described by mcp.method.name, gen_ai.tool.name, the JSON-RPC id and a
        fingerprint of the session id; its arguments and the session id itself are not."""
        self.traced(self.mcp_layer(method="tools/call", request_id=7, tool_name="get_weather",
                                   arguments={"city": "s3cr3t-city"}, session_id="sess-raw"))
        self.call(b"POST /api/mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                  b"Mcp-Protocol-Version: 2026-07-28\r\n\r\n", b"{}")
        server = self.spans()["POST /api"]
        attributes = dict(server.attributes or {})
        self.assertEqual(attributes["mcp.method.name"], "tools/call")
        self.assertEqual(attributes["gen_ai.operation.name"], "execute_tool")
        self.assertEqual(attributes["gen_ai.tool.name"], "get_weather")
        self.assertEqual(attributes["jsonrpc.request.id"], "7")
        self.assertEqual(attributes["mcp.protocol.version"], "2026-07-28")
        self.assertEqual(attributes["stoad.consumer_id"], "acme")
        self.assertEqual(len(str(attributes["mcp.session.id"])), 16)
        every_value = repr([dict(span.attributes or {}) for span in self.spans().values()])
        self.assertNotIn("s3cr3t-city", every_value)
        self.assertNotIn("sess-raw", every_value)

    def test_trace_context_from_mcp_meta_is_continued(self) -> None:
        """Without a traceparent header, the one the MCP layer found in params._meta is the
        parent, and the upstream is called in that trace."""
        self.traced(self.mcp_layer(method="tools/call", request_id=1, tool_name="t",
                                   traceparent=META_TRACEPARENT))
        self.call(b"POST /api/mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n", b"{}")
        server = self.spans()["POST /api"]
        self.assertEqual(_hex(server.context.trace_id, 32), META_TRACE)
        self.assertTrue(self.upstream_header(b"traceparent")[0].startswith(  # type: ignore[index]
            f"00-{META_TRACE}-".encode()))

    def test_traceparent_header_wins_over_mcp_meta(self) -> None:
        """The HTTP header is the nearer parent (the client's HTTP span), so it is preferred."""
        self.traced(self.mcp_layer(method="tools/call", request_id=1, tool_name="t",
                                   traceparent=META_TRACEPARENT))
        self.call(b"POST /api/mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\ntraceparent: "
                  + CLIENT_TRACEPARENT.encode() + b"\r\n\r\n", b"{}")
        self.assertEqual(_hex(self.spans()["POST /api"].context.trace_id, 32), CLIENT_TRACE)


class TrustAndSamplingTests(TracedGatewayTestCase):
    def test_untrusted_client_trace_becomes_a_link_not_a_parent(self) -> None:
        """With continue_client_trace = no, stoad starts its own trace and links the client's."""
        self.traced(continue_client_trace=False)
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\ntraceparent: " + CLIENT_TRACEPARENT.encode()
                  + b"\r\ntracestate: vendor=1\r\n\r\n")
        server = self.spans()["GET /api"]
        self.assertNotEqual(_hex(server.context.trace_id, 32), CLIENT_TRACE)
        self.assertIsNone(server.parent)
        self.assertEqual([_hex(link.context.trace_id, 32) for link in server.links], [CLIENT_TRACE])
        self.assertIsNone(self.upstream_header(b"tracestate"))

    def test_malformed_or_repeated_traceparent_starts_a_new_trace(self) -> None:
        """A traceparent that is not W3C-valid, or sent twice, is ignored."""
        for extra in (b"traceparent: 00-zz-11-01\r\n",
                      b"traceparent: " + CLIENT_TRACEPARENT.encode() + b"\r\ntraceparent: "
                      + CLIENT_TRACEPARENT.encode() + b"\r\n"):
            self.traced()
            self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
            server = self.spans()["GET /api"]
            self.assertIsNone(server.parent)
            self.assertNotEqual(_hex(server.context.trace_id, 32), CLIENT_TRACE)

    def test_sampled_out_exchange_exports_nothing_but_still_propagates(self) -> None:
        """Sampled out: no span is exported, yet the upstream gets a traceparent (sampled flag clear) so
        the trace id stays the same across services."""
        self.traced(sampler="always_off")
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(self.exporter.get_finished_spans(), ())
        sent = self.upstream_header(b"traceparent")
        assert sent is not None
        self.assertEqual(int(sent[0].rsplit(b"-", 1)[1], 16) & 1, 0)  # the sampled flag

    def test_without_layer_spans_only_the_exchange_and_upstream_are_traced(self) -> None:
        """layer_spans = no: the server and client spans, no step span, layers run unwrapped."""
        self.traced(_Named("auth"), _Named("policy"), layer_spans=False)
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(set(self.spans()), {"GET /api", "GET"})
        self.assertEqual([type(layer).__name__ for layer in self.tracer.wrap([_Named("a")])],
                         ["_Named"])

    def test_ratio_sampler_respects_a_sampled_parent(self) -> None:
        """parentbased_traceidratio with ratio 0 still records a trace the client sampled."""
        self.traced(sampler="parentbased_traceidratio", ratio=0.0)
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\ntraceparent: " + CLIENT_TRACEPARENT.encode()
                  + b"\r\n\r\n")
        self.assertIn("GET /api", self.spans())
        self.exporter.clear()
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(self.exporter.get_finished_spans(), ())


class TracingOffTests(GatewayTestCase):
    def test_without_a_tracer_the_client_traceparent_passes_through_untouched(self) -> None:
        """Tracing off: no trace on the context, and the request is forwarded as before."""
        seen: list[Any] = []
        self.build(_Layer(request=lambda ctx: seen.append(ctx.extras.get(TRACE))))
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\ntraceparent: " + CLIENT_TRACEPARENT.encode()
                  + b"\r\n\r\n")
        self.assertEqual(seen, [None])
        self.assertEqual(self.forwarder.sent[0][2].getRawHeaders(b"traceparent"),
                         [CLIENT_TRACEPARENT.encode()])


def _audit_recorder(events: list[dict[str, Any]]) -> _Named:
    """A layer named audit whose on_complete builds the real audit event into C{events}."""
    layer = _Named("audit")
    layer.on_complete = lambda ctx: events.append(  # type: ignore[method-assign]
        build_request_event(ctx, 0.0, 0)[0])
    return layer


class AuditTraceIdTests(TracedGatewayTestCase):
    def test_audit_event_names_the_trace(self) -> None:
        """The audit event of a traced exchange carries its trace id, so a record leads to its
        trace; without tracing the field is null."""
        events: list[dict[str, Any]] = []
        layer = _audit_recorder(events)
        self.traced(layer)
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\ntraceparent: " + CLIENT_TRACEPARENT.encode()
                  + b"\r\n\r\n")
        self.assertEqual(events[0]["trace_id"], CLIENT_TRACE)
        self.build(layer)
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIsNone(events[1]["trace_id"])


class SettingsTests(SynchronousTestCase):
    def parse(self, **keys: str) -> tuple[TracingSettings, list[str]]:
        problems = Problems()
        settings = parse_tracing(SectionReader("tracing", keys, problems))
        try:
            problems.raise_if_any()
        except ConfigError as e:
            return settings, list(e.problems)
        return settings, []

    def test_tracing_is_off_by_default(self) -> None:
        """An absent [tracing] section means no tracing, with the OTLP/HTTP default endpoint."""
        settings, problems = self.parse()
        self.assertEqual(problems, [])
        self.assertFalse(settings.enabled)
        self.assertEqual(settings.endpoint, "http://127.0.0.1:4318/v1/traces")
        self.assertEqual(settings.sampler, "parentbased_traceidratio")

    def test_every_bad_key_is_reported_at_once(self) -> None:
        """A bad endpoint, sampler, ratio, batch size and an unknown key are all reported."""
        _, problems = self.parse(enabled="yes", endpoint="ftp://x", sampler="sometimes",
                                 ratio="1.5", max_queue_size="10", max_export_batch_size="20",
                                 colour="blue")
        text = "\n".join(problems)
        for key in ("endpoint", "sampler", "ratio", "max_export_batch_size", "colour"):
            self.assertIn(f"[tracing] {key}:", text)

    def test_full_section_parses(self) -> None:
        """Every key has its typed value."""
        settings, problems = self.parse(
            enabled="yes", endpoint="https://otel.example:4318/v1/traces", service_name="gw-eu",
            sampler="traceidratio", ratio="0.25", continue_client_trace="no", layer_spans="no",
            export_timeout="2s", schedule_delay="250ms", max_queue_size="100",
            max_export_batch_size="50")
        self.assertEqual(problems, [])
        self.assertEqual((settings.sampler, settings.ratio, settings.schedule_delay,
                          settings.continue_client_trace, settings.layer_spans,
                          settings.service_name),
                         ("traceidratio", 0.25, 0.25, False, False, "gw-eu"))


class TracingFailureTests(TracedGatewayTestCase):
    def test_a_failing_tracer_never_costs_the_audit_record(self) -> None:
        """If ending the spans fails, the failure is logged and every layer's on_complete (the
        audit record) still runs, without a trace id."""
        events: list[dict[str, Any]] = []
        layer = _audit_recorder(events)
        self.traced(layer)

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("exporter bug")

        self.tracer.tracer.start_span = broken  # type: ignore[method-assign]
        self.tracer.provider.get_tracer = broken  # type: ignore[method-assign]
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(len(events), 1)
        self.assertIsNone(events[0]["trace_id"])
        self.assertGreaterEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class McpMetaTests(LayerFixture, SynchronousTestCase):
    def test_mcp_layer_reads_trace_context_from_params_meta(self) -> None:
        """The mcp layer records params._meta's traceparent and tracestate (SEP-414) and ignores
        values that are not strings."""
        self.list_tools(TOOLS, who=identity())
        body = call("echo", {"text": "hi"})
        body["params"]["_meta"] = {"traceparent": META_TRACEPARENT, "tracestate": "k=v"}
        ctx = context(body, who=identity())
        self.layer.on_request(ctx)
        assert ctx.mcp is not None
        self.assertEqual((ctx.mcp.traceparent, ctx.mcp.tracestate), (META_TRACEPARENT, "k=v"))
        body["params"]["_meta"] = {"traceparent": 7, "tracestate": ["x"]}
        ctx = context(body, who=identity())
        self.layer.on_request(ctx)
        assert ctx.mcp is not None
        self.assertEqual((ctx.mcp.traceparent, ctx.mcp.tracestate), (None, None))
