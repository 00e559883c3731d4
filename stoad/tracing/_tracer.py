"""OpenTelemetry spans for stoad's exchanges: a server span per request, a child per layer step
and a client span for the upstream call, exported by a batch processor on its own thread.

Only imported when C{[tracing] enabled = yes}; with tracing off no span object is ever made.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Coroutine, Sequence
from urllib.parse import urlsplit

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers

from stoad.runtime.context import TRACE
from stoad.runtime.deny import Deny
from stoad.runtime.layer import LayerBase
from stoad.tracing._settings import TracingSettings

if TYPE_CHECKING:
    from stoad.runtime.chain import ResponseHead
    from stoad.runtime.context import RequestContext
    from stoad.runtime.layer import Layer

log = Logger()
_PROPAGATOR = TraceContextTextMapPropagator()
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                            "TRACE", "PATCH", "QUERY"})
_ATTRIBUTE_TEXT_MAX = 256  # bounds what a client can make stoad export per attribute


def _sampler(settings: TracingSettings) -> Sampler:
    root: Sampler = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
    }.get(settings.sampler.removeprefix("parentbased_"), TraceIdRatioBased(settings.ratio))
    return ParentBased(root) if settings.sampler.startswith("parentbased_") else root


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _method(method: str) -> str:
    return method if method in _KNOWN_METHODS else "_OTHER"


def _fingerprint(value: str) -> str:
    # The session id is a bearer secret for the session: export a label, never the id itself.
    # Same label as stoad.mcp's alerts, so a trace and an alert about one session match.
    import hashlib

    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _single(ctx: RequestContext, name: str) -> str | None:
    """A header sent exactly once (W3C trace context: repeated headers are invalid)."""
    values = ctx.headers.get(name)
    return values[0] if values is not None and len(values) == 1 else None


class ExchangeTracer:
    """
    The worker's tracer. C{begin} gives each exchange its L{ExchangeTrace}; C{wrap} puts a
    L{TracedLayer} around every layer so each step gets a child span; C{shutdown} flushes.
    """

    def __init__(self, settings: TracingSettings, clock: Any, public_url: str,
                 worker_index: int = 0, processor: SpanProcessor | None = None,
                 version: str = "0") -> None:
        self.settings = settings
        self.clock = clock
        resource = Resource.create({
            "service.name": settings.service_name,
            "service.version": version,
            "stoad.worker": worker_index,
        })
        self.provider = TracerProvider(resource=resource, sampler=_sampler(settings))
        if processor is None:
            exporter = OTLPSpanExporter(endpoint=settings.endpoint, timeout=settings.export_timeout,
                                        certificate_file=settings.ca)
            processor = BatchSpanProcessor(
                exporter,
                max_queue_size=settings.max_queue_size,
                schedule_delay_millis=settings.schedule_delay * 1000,
                max_export_batch_size=settings.max_export_batch_size,
                export_timeout_millis=settings.export_timeout * 1000,
            )
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("stoad", version)
        public = urlsplit(public_url)
        self.server_address = public.hostname or "localhost"
        self.server_port = public.port or 443

    def begin(self, ctx: RequestContext) -> ExchangeTrace:
        return ExchangeTrace(self, ctx)

    def wrap(self, layers: Sequence[Layer]) -> list[Layer]:
        """The layers as the chain should run them: timed, unless C{layer_spans = no}."""
        if not self.settings.layer_spans:
            return list(layers)
        return [(TracedForwardingLayer if type(layer).before_forward is not LayerBase.before_forward
                 else TracedLayer)(layer, self.clock) for layer in layers]

    def shutdown(self) -> None:
        """Export what is queued (bounded by C{export_timeout}) and stop the export thread."""
        self.provider.shutdown()


class ExchangeTrace:
    """
    The spans of one exchange. The server span is started lazily (at the upstream call, or at
    the end) with the exchange's start time, so that a trace context the MCP layer found in
    C{params._meta} can still be its parent; layer steps are recorded as they end and become
    child spans when the exchange finishes.
    """

    __slots__ = ("_owner", "_ctx", "_steps", "_server", "_client", "_finished")

    def __init__(self, owner: ExchangeTracer, ctx: RequestContext) -> None:
        self._owner = owner
        self._ctx = ctx
        self._steps: list[tuple[str, str, float, float, str]] = []
        self._server: Span | None = None
        self._client: Span | None = None
        self._finished = False

    def step(self, layer: str, phase: str, started: float, ended: float, decision: str) -> None:
        """A layer step ended: C{decision} is C{allow}, C{deny} or C{error}."""
        self._steps.append((layer, phase, started, ended, decision))

    @property
    def trace_id(self) -> str | None:
        """The W3C trace id (32 hex digits) this exchange belongs to (None if tracing broke)."""
        try:
            return format(self._server_span().get_span_context().trace_id, "032x")
        except Exception:
            log.failure("tracing: no trace id for this exchange")
            return None

    @property
    def sampled(self) -> bool:
        return self._server_span().get_span_context().trace_flags.sampled

    def _parent(self) -> tuple[Context, Sequence[Link]]:
        ctx = self._ctx
        traceparent = _single(ctx, "traceparent")
        tracestate = _single(ctx, "tracestate") if traceparent is not None else None
        mcp = ctx.mcp
        if traceparent is None and mcp is not None and mcp.traceparent is not None:
            traceparent, tracestate = mcp.traceparent, mcp.tracestate
        if traceparent is None:
            return Context(), ()
        carrier = {"traceparent": traceparent}
        if tracestate is not None:
            carrier["tracestate"] = tracestate
        parent = _PROPAGATOR.extract(carrier)
        if self._owner.settings.continue_client_trace:
            return parent, ()
        # Not trusted as a parent (a client could force sampling), but kept as a link.
        from opentelemetry.trace import get_current_span

        client = get_current_span(parent).get_span_context()
        return Context(), ((Link(client),) if client.is_valid else ())

    def _server_span(self) -> Span:
        if self._server is None:
            parent, links = self._parent()
            self._server = self._owner.tracer.start_span(
                _method(self._ctx.method), context=parent, kind=SpanKind.SERVER, links=links,
                start_time=_ns(self._ctx.started))
        return self._server

    def upstream_call(self, headers: Headers, upstream_path: str) -> None:
        """
        Start the client span for the upstream request and give the upstream its
        C{traceparent}: the client's trace context headers are replaced, never passed on.
        """
        ctx = self._ctx
        route = ctx.route
        server = self._server_span()
        attributes: dict[str, Any] = {
            "http.request.method": _method(ctx.method),
            "network.protocol.version": "1.1",
        }
        if route is not None:
            attributes["server.address"] = route.upstream_host
            attributes["server.port"] = route.upstream_port
            attributes["url.full"] = (f"{route.upstream_scheme}://{route.upstream_host}:"
                                      f"{route.upstream_port}{upstream_path}")[:_ATTRIBUTE_TEXT_MAX]
        self._client = self._owner.tracer.start_span(
            _method(ctx.method), context=set_span_in_context(server), kind=SpanKind.CLIENT,
            attributes=attributes, start_time=_ns(self._owner.clock.seconds()))
        headers.removeHeader(b"traceparent")
        headers.removeHeader(b"tracestate")
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=set_span_in_context(self._client))
        for name, value in carrier.items():
            headers.setRawHeaders(name.encode("ascii"), [value.encode("ascii")])

    def finish(self) -> None:
        """
        The exchange is over: emit the step spans and end the client and server spans. Never
        raises: what runs after it (every layer's C{on_complete}, the audit record) must run.
        """
        if self._finished:
            return
        self._finished = True
        try:
            self._finish()
        except Exception:
            log.failure("tracing: the spans of an exchange could not be finished")

    def _finish(self) -> None:
        ctx = self._ctx
        now = _ns(self._owner.clock.seconds())
        server = self._server_span()
        if server.is_recording():
            parent = set_span_in_context(server)
            tracer = self._owner.tracer
            for layer, phase, started, ended, decision in self._steps:
                child = tracer.start_span(
                    f"{layer} {phase}", context=parent, kind=SpanKind.INTERNAL,
                    attributes={"stoad.layer": layer, "stoad.phase": phase,
                                "stoad.decision": decision},
                    start_time=_ns(started))
                if decision == "error":
                    child.set_status(Status(StatusCode.ERROR, f"{layer} {phase} failed"))
                child.end(end_time=_ns(ended))
            server.set_attributes(self._server_attributes(ctx))
            route = ctx.route
            server.update_name(f"{_method(ctx.method)} {route.prefix}" if route is not None
                               else _method(ctx.method))
            if ctx.status is not None and ctx.status >= 500:
                server.set_attribute("error.type", str(ctx.status))
                server.set_status(Status(StatusCode.ERROR))
        if self._client is not None:
            self._end_client(ctx, now)
        server.end(end_time=now)

    def _end_client(self, ctx: RequestContext, now: int) -> None:
        client = self._client
        assert client is not None
        if client.is_recording():
            status = ctx.backend_status
            if status is not None:
                client.set_attribute("http.response.status_code", status)
                if status >= 400:
                    client.set_attribute("error.type", str(status))
                    client.set_status(Status(StatusCode.ERROR))
            elif ctx.denied_by in ("upstream", "client"):
                # No response head: the upstream timed out, refused or broke, or the client left.
                client.set_attribute("error.type", "client_gone" if ctx.denied_by == "client"
                                     else str(ctx.status or "upstream_failure"))
                client.set_status(Status(StatusCode.ERROR))
        client.end(end_time=now)

    def _server_attributes(self, ctx: RequestContext) -> dict[str, Any]:
        owner = self._owner
        attributes: dict[str, Any] = {
            "http.request.method": _method(ctx.method),
            "url.scheme": "https",
            "url.path": ctx.path[:_ATTRIBUTE_TEXT_MAX],
            "server.address": owner.server_address,
            "server.port": owner.server_port,
            "client.address": ctx.client_ip,
            "network.protocol.name": "http",
            "network.protocol.version": "1.1",
            "stoad.request_id": ctx.request_id,
        }
        agent = _single(ctx, "user-agent")
        if agent is not None:
            attributes["user_agent.original"] = agent[:_ATTRIBUTE_TEXT_MAX]
        if ctx.status is not None:
            attributes["http.response.status_code"] = ctx.status
        if ctx.route is not None:
            attributes["http.route"] = ctx.route.prefix
            attributes["stoad.route"] = ctx.route.name
        if ctx.outcome is not None:
            attributes["stoad.outcome"] = ctx.outcome
        if ctx.denied_by is not None:
            attributes["stoad.denied_by"] = ctx.denied_by
        if ctx.policy_result is not None:
            attributes["stoad.policy.result"] = ctx.policy_result
        identity = ctx.identity
        if identity is not None:
            attributes["stoad.consumer_id"] = identity.consumer_id
            attributes["stoad.agent_id"] = identity.agent_id
            attributes["stoad.client_id"] = identity.client_id
        if ctx.guardrail_triggers:
            attributes["stoad.guardrail.detectors"] = sorted(
                {trigger.detector for trigger in ctx.guardrail_triggers})
        mcp = ctx.mcp
        if mcp is not None and mcp.method:
            # OpenTelemetry's MCP conventions; never the arguments, a result or a resource URI.
            attributes["mcp.method.name"] = mcp.method[:_ATTRIBUTE_TEXT_MAX]
            attributes["network.transport"] = "tcp"
            if isinstance(mcp.request_id, (str, int)) and not isinstance(mcp.request_id, bool):
                attributes["jsonrpc.request.id"] = str(mcp.request_id)[:_ATTRIBUTE_TEXT_MAX]
            if mcp.session_id is not None:
                attributes["mcp.session.id"] = _fingerprint(mcp.session_id)
            version = _single(ctx, "mcp-protocol-version")
            if version is not None:
                attributes["mcp.protocol.version"] = version[:32]
            if mcp.tool_name is not None:
                attributes["gen_ai.operation.name"] = "execute_tool"
                attributes["gen_ai.tool.name"] = mcp.tool_name[:_ATTRIBUTE_TEXT_MAX]
            if mcp.prompt_name is not None:
                attributes["gen_ai.prompt.name"] = mcp.prompt_name[:_ATTRIBUTE_TEXT_MAX]
        return attributes


class TracedLayer(LayerBase):
    """
    A layer as the chain sees it when tracing is on: the same steps, each timed into the
    exchange's trace. The other hooks (local documents, error rendering) are the layer's own;
    the runtime keeps the unwrapped layer for reloads.
    """

    def __init__(self, layer: Layer, clock: Any) -> None:
        self._layer = layer
        self._clock = clock
        self.name = layer.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._layer, name)

    def serve_local(self, method: str, path: str) -> Any:
        return self._layer.serve_local(method, path)

    def render_denial(self, ctx: RequestContext, deny: Deny, body: bytes) -> bytes:
        return self._layer.render_denial(ctx, deny, body)

    def on_request(self, ctx: RequestContext) -> Any:
        return self._traced(ctx, "request", self._layer.on_request, ctx)

    def on_response(self, ctx: RequestContext, head: ResponseHead) -> Any:
        return self._traced(ctx, "response", self._layer.on_response, ctx, head)

    def on_complete(self, ctx: RequestContext) -> None:
        self._layer.on_complete(ctx)

    def _traced(self, ctx: RequestContext, phase: str, step: Any, *args: Any) -> Any:
        trace: ExchangeTrace | None = ctx.extras.get(TRACE)
        if trace is None:
            return step(*args)
        started = self._clock.seconds()
        try:
            result = step(*args)
        except Deny:
            trace.step(self.name, phase, started, self._clock.seconds(), "deny")
            raise
        except BaseException:
            trace.step(self.name, phase, started, self._clock.seconds(), "error")
            raise
        if isinstance(result, Deferred):
            def done(value: Any) -> Any:
                decision = "allow"
                if isinstance(value, Failure):
                    decision = "deny" if value.check(Deny) else "error"
                trace.step(self.name, phase, started, self._clock.seconds(), decision)
                return value

            return result.addBoth(done)
        if inspect.iscoroutine(result):
            return self._awaited(trace, phase, started, result)
        trace.step(self.name, phase, started, self._clock.seconds(), "allow")
        return result

    async def _awaited(self, trace: ExchangeTrace, phase: str, started: float,
                       pending: Coroutine[Any, Any, Any]) -> Any:
        try:
            value = await pending
        except Deny:
            trace.step(self.name, phase, started, self._clock.seconds(), "deny")
            raise
        except BaseException:
            trace.step(self.name, phase, started, self._clock.seconds(), "error")
            raise
        trace.step(self.name, phase, started, self._clock.seconds(), "allow")
        return value
class TracedForwardingLayer(TracedLayer):
    """A traced layer that has a C{before_forward} step (the audit layer): timed like the rest."""

    def before_forward(self, ctx: RequestContext) -> Any:
        return self._traced(ctx, "before_forward", self._layer.before_forward, ctx)


