"""One request's way through stoad: context, routing, the chain, the forwarder and the reply.

Every exit (deny, upstream failure, client gone, bug) ends in exactly one C{chain.complete}.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Sequence, cast
from urllib.parse import parse_qsl

from twisted.internet import defer
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone, ResponseFailed
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

from stoad.daemon.metrics import Metrics
from stoad.proxy.forward import Forwarder, UpstreamFailure
from stoad.proxy.headers import (
    DEFAULT_IDENTITY_POLICY,
    OVERRIDE_HEADERS,
    IdentityHeaderPolicy,
    RawHeaders,
    canonical_name,
    end_to_end,
    end_to_end_raw,
    override_names,
)
from stoad.proxy.responses import SECURITY_HEADERS, deny_response, error_body
from stoad.proxy.routing import RouteTable
from stoad.proxy.streaming import StreamedBody
from stoad.runtime.chain import FilterChain, FilterPipeline, ResponseHead
from stoad.runtime.context import TRACE, PeerCertificate, RequestContext
from stoad.runtime.deny import Deny
from stoad.runtime.layer import Layer

if TYPE_CHECKING:
    from stoad.proxy.http import GatewayRequest
    from stoad.tracing import ExchangeTracer

log = Logger()

# Never sent upstream from the client's request: framing is the forwarder's, the Host is the
# upstream's, and the client's credentials stay at the gateway (no token passthrough).
_NOT_FORWARDED = frozenset({"host", "content-length", "authorization", "expect", "cookie2"})


_IDS_PER_READ = 256
_ids: list[str] = []


def _request_id() -> str:
    """
    A request id as C{secrets.token_hex(16)} makes one: 128 bits from C{os.urandom}, in hex.
    Read for 256 ids at a time (one system call, not one per request); each id is used once.
    """
    if not _ids:
        pool = os.urandom(16 * _IDS_PER_READ).hex()
        _ids.extend(pool[i:i + 32] for i in range(0, len(pool), 32))
    return _ids.pop()


# A child process must never hand out the ids its parent holds.
os.register_at_fork(after_in_child=_ids.clear)


class _ClientGone(Exception):
    """The client disconnected before its response was complete."""


class _Expired(Exception):
    """The exchange deadline passed; the answer has been sent and recorded already."""


class Gateway:
    """Handles every request a worker receives; built once per worker (and per reload)."""

    def __init__(
        self,
        *,
        routes: RouteTable,
        chain: FilterChain,
        forwarder: Forwarder,
        metrics: Metrics,
        clock: Any,
        normalise_path: Callable[[str], str],
        public_host: str,
        tracer: ExchangeTracer | None = None,
        identity_headers: IdentityHeaderPolicy = DEFAULT_IDENTITY_POLICY,
    ) -> None:
        self.routes = routes
        self.chain = chain
        self.forwarder = forwarder
        self.metrics = metrics
        self.clock = clock
        self.normalise_path = normalise_path
        self.public_host = public_host
        self.public_host_bytes = public_host.encode("latin-1")
        self.tracer = tracer
        self.identity_headers = identity_headers
        self.layers: Sequence[Layer] = chain.layers
        self._counted: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._any_route_streams = any(route.request_body == "stream" for route in routes.routes)

    def count(self, route: str, status: int, seconds: float) -> None:
        """Record one answered request; labelled children are looked up once per pair."""
        key = (route, str(status))
        children = self._counted.get(key)
        if children is None:
            children = (self.metrics.requests.labels(*key), self.metrics.latency.labels(route))
            if len(self._counted) < 4096:  # statuses come from upstreams: keep the map bounded
                self._counted[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def handle(self, request: GatewayRequest, peer: PeerCertificate | None,
               streamed: StreamedBody | None = None) -> None:
        _drive(_Exchange(self, request, peer, streamed).run())

    def head_refusal(self, method: bytes, target: bytes, has_body: bool) -> Deny | None:
        """
        The refusal a request gets on its head alone (no route, a path or target refused, a
        body on GET/HEAD), or None. Decided before C{100 Continue} is sent, and again, the same
        way, when the exchange runs.
        """
        raw_path = target.decode("latin-1").partition("?")[0]
        try:
            _check_head(method.decode("latin-1"), raw_path, has_body)
            path = self.normalise_path(raw_path)
        except Deny as deny:
            return deny
        except ValueError as e:
            return Deny(400, "invalid_request", f"path refused: {e}", layer="http")
        if path.startswith("/.well-known/"):
            return None  # local documents are decided by their layers
        if self.routes.match(path) is None:
            return Deny(404, "not_found", "no route matches the path", layer="routing")
        return None

    def record_rejection(self, peer: PeerCertificate | None, client_ip: str, status: int,
                         reason: str, method: bytes, target: bytes) -> str:
        """
        Account for a request the HTTP layer refused before it reached the chain (bad framing,
        oversize head or body, slow client): counted, and completed through every layer so the
        audit log holds one event for it too. Returns the event's request id, for the
        refusal's C{X-Request-Id}.
        """
        raw_path = target.decode("latin-1")[:256]
        ctx = RequestContext(
            request_id=_request_id(), started=self.clock.seconds(), client_ip=client_ip,
            peer=peer, method=method.decode("latin-1")[:16], raw_path=raw_path, path=raw_path,
            query="", headers={}, body=None, body_size=0, content_type=None,
            outcome="denied", denied_by="http", reason=reason, status=status,
        )
        self.count("-", status, 0.0)
        self.chain.complete(ctx)
        return ctx.request_id

    def streams_body(self, target: bytes) -> bool:
        """Whether the route for this request target streams request bodies."""
        if not self._any_route_streams:
            return False  # the usual case: no second path normalisation per request
        raw_path = target.decode("latin-1").partition("?")[0]
        try:
            route = self.routes.match(self.normalise_path(raw_path))
        except ValueError:
            return False
        return route is not None and route.request_body == "stream"


def _drive(exchange: Coroutine[Any, Any, None], failure: Failure | None = None) -> None:
    """
    Run an exchange's coroutine now, up to the first Deferred it waits on that has not fired,
    and on from there each time one fires. In place of C{ensureDeferred}, which would add a
    Deferred, a canceller and a copied context per exchange and per wait: nothing outside
    cancels an exchange (it cancels what it waits on itself) and C{run} handles every
    exception, so an exchange needs neither.
    """
    try:
        if failure is None:
            awaited = exchange.send(None)
        else:
            awaited = failure.throwExceptionIntoGenerator(exchange)
    except StopIteration:
        return
    except Exception:
        log.failure("request failed inside stoad")  # run() handles everything; never here
        return
    if not isinstance(awaited, defer.Deferred):
        # Only Deferreds are awaited on the exchange's path (the chain wraps what layers
        # return); anything else fails the exchange closed rather than leaving it hanging.
        _drive(exchange, Failure(TypeError(f"exchange awaited a {type(awaited).__name__}")))
        return
    awaited.addBoth(_resume, exchange)


def _resume(result: object, exchange: Coroutine[Any, Any, None]) -> None:
    # A result is still the awaited Deferred's while this callback runs: resumed, the
    # coroutine's await returns it. A failure is raised at the await, as ensureDeferred does.
    _drive(exchange, result if isinstance(result, Failure) else None)


def _request_headers(request: GatewayRequest, identity: IdentityHeaderPolicy
                     ) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    names, prefixes, passed = identity.names, identity.prefixes, identity.passed  # per header
    for name, raw in request.headers:
        key = name.decode("latin-1").lower()
        if (key in names or key.startswith(prefixes)) and key not in passed:
            continue
        value = raw.decode("latin-1")
        found = headers.get(key)
        if found is None:
            headers[key] = [value]
        else:
            found.append(value)
    return headers


def _check_head(method: str, raw_path: str, has_body: bool) -> None:
    if not raw_path.startswith("/"):
        # Absolute-form and asterisk-form targets are for forward proxies: a reverse proxy
        # that honoured them would let the client choose the upstream.
        raise Deny(400, "invalid_request", f"request target not in origin-form: {raw_path[:80]!r}",
                   layer="http")
    if method in ("GET", "HEAD") and has_body:
        # A body on GET/HEAD has no defined meaning (RFC 9110 9.3.1); an upstream that
        # ignores it would read it as the next request on a pooled connection.
        raise Deny(400, "invalid_request", "body on a GET or HEAD request", layer="http")


class _Exchange:
    """The state of one request/response exchange."""

    def __init__(self, gateway: Gateway, request: GatewayRequest, peer: PeerCertificate | None,
                 streamed: StreamedBody | None) -> None:
        self.gateway = gateway
        self.request = request
        self.peer = peer
        self.streamed = streamed
        self.ctx: RequestContext | None = None
        self.head_sent = False
        self.pending: defer.Deferred[Any] | None = None
        self.relay: _BodyRelay | None = None
        self.client_gone = False
        self.expired = False
        request.on_deadline = self._expire
        request.on_lost = self._client_went_away
        if request.lost:
            self.client_gone = True

    def _client_went_away(self, failure: Failure) -> None:
        self.client_gone = True
        if self.pending is not None:
            self.pending.cancel()
        if self.relay is not None:
            self.relay.abort()

    def _expire(self) -> None:
        """The whole-exchange deadline passed before the response began: 504, once."""
        self.expired = True
        cut = self.request.cut or ("gateway", 504, "exchange longer than exchange_timeout")
        log.info("exchange deadline passed: {reason}", reason=cut[2])
        self._finish_error(504, "gateway_timeout", cut[0], cut[2])
        if self.pending is not None:
            self.pending.cancel()
        if self.relay is not None:
            self.relay.abort()

    async def run(self) -> None:
        started = self.gateway.clock.seconds()
        route_name = "-"
        ctx: RequestContext | None
        try:
            ctx = self.ctx = self._context(started)
            if self.request.head_refusal is not None:
                raise self.request.head_refusal
            await self._serve(ctx)
            if ctx.route is not None:
                route_name = ctx.route.name
        except Deny as deny:
            if self.ctx is not None:
                route_name = self.ctx.route.name if self.ctx.route is not None else "-"
            self._refuse(deny)
        except UpstreamFailure as failure:
            route_name = self.ctx.route.name if self.ctx and self.ctx.route else "-"
            if self.request.refusal is not None or self.expired:
                return  # answered and recorded already (see finally)
            log.info("upstream failure on {route}: {reason}", route=route_name,
                     reason=failure.reason)
            self._finish_error(failure.status, failure.error, "upstream", failure.reason)
        except _Expired:
            pass
        except (_ClientGone, defer.CancelledError):
            if not self.expired:
                self._record("error", "client", "client disconnected", 499)
        except Exception:
            log.failure("request failed inside stoad")
            self._finish_error(500, "internal_error", "gateway", "internal error")
        finally:
            ctx = self.ctx
            if ctx is not None:
                self._settle_cut(ctx)
            status = ctx.status if ctx and ctx.status else self.request.code
            self.gateway.count(route_name, status, self.gateway.clock.seconds() - started)
            if ctx is not None:
                trace = ctx.extras.get(TRACE)
                if trace is not None:
                    trace.finish()
                self.gateway.chain.complete(ctx)
            # The relay's send_head closes over this exchange, and the request's deadline and
            # loss hooks are bound to it: drop them so the request's objects are freed by
            # reference counting, not by the cyclic collector.
            self.relay = None
            self.request.on_deadline = self.request.on_lost = None

    def _settle_cut(self, ctx: RequestContext) -> None:
        """What the HTTP layer decided about this exchange outranks how the exchange ended."""
        refusal, cut = self.request.refusal, self.request.cut
        if refusal is not None:
            ctx.outcome, ctx.denied_by = "denied", "http"
            ctx.status, ctx.reason = refusal
        elif cut is not None:
            ctx.outcome, ctx.denied_by = "error", cut[0]
            ctx.status, ctx.reason = cut[1], cut[2]

    def _context(self, started: float) -> RequestContext:
        request = self.request
        uri = request.uri.decode("latin-1")
        raw_path, _, query = uri.partition("?")
        if self.streamed is None:
            body: bytes | None = request.body
            size = len(body or b"")
        else:
            body = None
            size = self.streamed.length if isinstance(self.streamed.length, int) else -1
        headers = _request_headers(request, self.gateway.identity_headers)
        request_id = request.request_id = _request_id()
        ctx = RequestContext(
            request_id=request_id,
            started=started,
            client_ip=request.client_ip,
            peer=self.peer,
            method=request.method.decode("ascii"),
            raw_path=raw_path,
            path=raw_path,
            query=query,
            headers=headers,
            body=body,
            body_size=size,
            content_type=(headers.get("content-type") or (None,))[0],
            bytes_in=max(size, 0),
        )
        self.ctx = ctx
        if self.gateway.tracer is not None:
            ctx.extras[TRACE] = self.gateway.tracer.begin(ctx)
        _check_head(ctx.method, raw_path, size != 0)
        try:
            ctx.path = self.gateway.normalise_path(raw_path)
        except ValueError as e:
            raise Deny(400, "invalid_request", f"path refused: {e}", layer="http") from None
        return ctx

    async def _serve(self, ctx: RequestContext) -> None:
        if ctx.path.startswith("/.well-known/"):
            for layer in self.gateway.layers:
                local = layer.serve_local(ctx.method, ctx.path)
                if local is not None:
                    status, headers, body = local
                    self._write_complete(status, list(headers.items()), body)
                    self._record("allowed", None, "served locally", status)
                    return
        route = self.gateway.routes.match(ctx.path)
        if route is None:
            raise Deny(404, "not_found", "no route matches the path", layer="routing")
        ctx.route = route
        _refuse_overrides(ctx)
        await self.gateway.chain.run_request(ctx)
        if self.expired:
            raise _Expired()
        if self.client_gone:
            raise _ClientGone()
        await self.gateway.chain.run_before_forward(ctx)
        if self.client_gone:
            raise _ClientGone()
        self.pending = self.gateway.forwarder.send(
            route, ctx.method, self._upstream_target(ctx), self._upstream_headers(ctx),
            self.streamed if self.streamed is not None else ctx.body)
        response: Any = await self.pending  # IResponse-shaped (stoad/proxy/client.py)
        self.pending = None
        if self.expired:
            _discard(response)
            raise _Expired()
        ctx.backend_status = response.code
        head = ResponseHead(response.code, _response_headers(response))
        try:
            filters = await self.gateway.chain.run_response(ctx, head)
        except Deny:
            _discard(response)
            raise
        if not self.client_gone and (not filters or _framed_by_length(ctx.method, head.status)):
            take_body = getattr(response, "take_body", None)  # stoad/proxy/client.py's
            whole: bytes | None = take_body() if take_body is not None else None
            if whole is not None:
                # All of it is here: head and body leave in one write, with no relay, producer
                # or body timer; filters see it in one piece, as the relay would feed it.
                sent = end_to_end(head.headers)
                if filters:
                    whole = self._filter_whole(ctx, head, sent, FilterPipeline(filters), whole)
                    sent["content-length"] = [str(len(whole))]
                self._send_whole(ctx, head, sent, whole)
                return
        await self._relay(ctx, response, head, FilterPipeline(filters))

    def _filter_whole(self, ctx: RequestContext, head: ResponseHead,
                      headers: dict[str, list[str]], pipeline: FilterPipeline,
                      body: bytes) -> bytes:
        """
        The whole body through the filters, with the outcomes the relay gives a body that came
        in one read: a refusal while nothing was let out is the client's answer; once C{feed}
        let bytes out, they are sent and the stream is cut (a filter's other failures are a
        502, logged). The body is counted against the worker's buffer budget meanwhile.
        """
        budget = self.request.channel.budget
        if not budget.reserve(len(body)):
            raise Deny(503, "service_unavailable", "worker buffer budget exhausted", layer="http")
        out = b""
        try:
            try:
                out = pipeline.feed(body) if body else b""
                return out + pipeline.finish()
            except Deny:
                raise
            except Exception:
                log.failure("response body filter failed")
                raise Deny(502, "bad_gateway", "response filter failed", layer="gateway") from None
        except Deny:
            if not out:
                raise
            # As the relay: what the filters let out has gone; cut the stream after it.
            headers.pop("content-length", None)
            self._send_head(ctx, head, headers)
            ctx.bytes_out += len(out)
            self.request.write(out)
            ctx.outcome, ctx.status = "denied", head.status
            self._abort()
            raise _ClientGone() from None
        finally:
            budget.release(len(body))

    def _send_whole(self, ctx: RequestContext, head: ResponseHead, headers: dict[str, list[str]],
                    body: bytes) -> None:
        request = self.request
        self._send_head(ctx, head, headers)
        if body:
            ctx.bytes_out += len(body)
            request.write(body)
        if self.streamed is not None:
            ctx.bytes_in = self.streamed.received
        ctx.status = head.status
        ctx.outcome = "allowed"
        request.finish()

    def _send_head(self, ctx: RequestContext, head: ResponseHead,
                   headers: dict[str, list[str]]) -> None:
        if self.head_sent:
            return
        self.head_sent = True
        # The operator finds the audit event from what the client saw (the upstream's own
        # X-Request-Id, if any, is replaced: it names no event of ours).
        self.request.start_response(head.status, [
            *[(name, value) for name, values in headers.items() if name != "x-request-id"
              for value in values],
            ("X-Request-Id", ctx.request_id)])

    def _upstream_target(self, ctx: RequestContext) -> str:
        path = self.gateway.routes.upstream_path(ctx.route, ctx.path)
        return f"{path}?{ctx.query}" if ctx.query else path

    def _upstream_headers(self, ctx: RequestContext) -> RawHeaders:
        # Header bytes were decoded as Latin-1; encoding them back the same way forwards every
        # byte unchanged (str values would be re-encoded as UTF-8). Names are checked and
        # values made single-line as twisted.web's Headers does (RawHeaders).
        raw = end_to_end_raw(ctx.headers, _NOT_FORWARDED)
        raw[b"X-Forwarded-For"] = [ctx.client_ip.encode("latin-1")]
        raw[b"X-Forwarded-Proto"] = [b"https"]
        raw[b"X-Forwarded-Host"] = [self.gateway.public_host_bytes]
        raw[b"X-Request-Id"] = [ctx.request_id.encode("ascii")]
        for name, value in ctx.upstream_headers.items():  # as setRawHeaders, without its loop
            raw[canonical_name(name)] = [value.encode("latin-1")]
        headers = RawHeaders(raw)
        trace = ctx.extras.get(TRACE)
        if trace is not None:
            trace.upstream_call(headers, self.gateway.routes.upstream_path(ctx.route, ctx.path))
        return headers

    async def _relay(self, ctx: RequestContext, response: IResponse, head: ResponseHead,
                     pipeline: FilterPipeline) -> None:
        request = self.request
        headers = end_to_end(head.headers)
        if pipeline:
            headers.pop("content-length", None)

        def send_head() -> None:
            self._send_head(ctx, head, headers)

        if self.client_gone:
            # Gone while the response steps ran: with no channel left there is nothing to relay
            # to (or to register a producer with); stop the upstream body instead of leaving it.
            _discard(response)
            raise _ClientGone()
        done: defer.Deferred[None] = defer.Deferred()
        self.relay = _BodyRelay(request, pipeline, send_head, done, ctx, self.gateway.clock,
                                ctx.route.body_timeout if ctx.route is not None else 300.0)
        if not pipeline:
            send_head()
        response.deliverBody(self.relay)
        try:
            await done
        except Deny:
            if self.head_sent:
                # Part of the body is out already: cut the stream so the client sees it broken.
                ctx.outcome, ctx.status = "denied", head.status
                self._abort()
                raise _ClientGone() from None
            raise
        except (ResponseFailed, ConnectionError, PotentialDataLoss) as e:
            if self.expired:
                raise _Expired() from None
            if isinstance(e, _UpstreamBodyIdle):
                if self.head_sent:
                    self._record("error", "upstream", str(e), head.status)
                    self._abort()
                    return
                raise UpstreamFailure(504, "gateway_timeout", str(e)) from None
            if self.client_gone:
                self._client_left_mid_response(head)
                return
            if self.head_sent:
                self._record("error", "upstream", f"upstream body broke: {type(e).__name__}",
                             head.status)
                self._abort()
                return
            raise UpstreamFailure(502, "bad_gateway", "upstream body broke") from None
        if self.client_gone:
            self._client_left_mid_response(head)
            return
        send_head()
        if self.streamed is not None:
            ctx.bytes_in = self.streamed.received
        ctx.status = head.status
        ctx.outcome = "allowed"
        request.finish()

    def _client_left_mid_response(self, head: ResponseHead) -> None:
        if not self.head_sent:
            raise _ClientGone()
        # The client had the status and possibly the whole message: an MCP SDK client closes a
        # POST's event stream as soon as its JSON-RPC response is in, often before the upstream
        # ends the stream. Record what was sent (as nginx logs it), not a failure.
        self._record("allowed", None, "client closed the connection before the response ended",
                     head.status)

    def _abort(self) -> None:
        if not self.expired:
            self.request.abort()

    def _refuse(self, deny: Deny) -> None:
        status, headers, body = deny_response(deny)
        if self.ctx is not None and deny.body is None:
            # A layer may give the fixed body its protocol's form (MCP: a JSON-RPC error).
            for renderer in self.gateway.layers:
                body = renderer.render_denial(self.ctx, deny, body)
        layer = deny.layer or "gateway"
        self.gateway.metrics.denials.labels(layer, deny.error).inc()
        route = self.ctx.route.name if self.ctx is not None and self.ctx.route else "-"
        self.gateway.metrics.route_denials.labels(route, layer).inc()
        log.info("denied {status} by {layer}: {reason}", status=status, layer=layer,
                 reason=deny.reason)
        self._record("denied", layer, deny.reason, status)
        self._write_complete(status, headers, body)

    def _finish_error(self, status: int, error: str, where: str, reason: str) -> None:
        self._record("error", where, reason, status)
        self._write_complete(status, [("Content-Type", "application/json")], error_body(status, error))

    def _record(self, outcome: str, by: str | None, reason: str, status: int) -> None:
        ctx = self.ctx
        if ctx is None:
            return
        ctx.outcome = ctx.outcome if ctx.outcome == "denied" else outcome
        if by is not None and outcome != "allowed":
            ctx.denied_by = ctx.denied_by or by
        ctx.reason = ctx.reason or reason
        ctx.status = ctx.status or status

    def _write_complete(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        try:
            self._write_response(status, headers, body)
        except Exception:
            # Nothing sensible can be sent any more; a hung client would be worse than a cut one.
            log.failure("writing a response failed; closing the connection")
            self._abort()

    def _write_response(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        request = self.request
        if self.head_sent or self.client_gone or request.finished or request.refusal is not None:
            return
        self.head_sent = True
        extra = [("X-Request-Id", self.ctx.request_id)] if self.ctx is not None else []
        merged = {name.lower(): (name, value) for name, value in
                  [*headers, *SECURITY_HEADERS, *extra, ("Content-Length", str(len(body)))]}
        request.start_response(status, merged.values())
        if self.ctx is not None:
            self.ctx.bytes_out += len(body)
        request.write(body)
        request.finish()


def _framed_by_length(method: str, status: int) -> bool:
    """Whether a response's Content-Length is its body's length (not for HEAD, 1xx, 204, 304),
    so that a filtered whole body can be sent with its new length."""
    return method != "HEAD" and status >= 200 and status not in (204, 304)


class _UpstreamBodyIdle(ConnectionError):
    """The upstream paused its response body for longer than the route's body_timeout."""


class _BodyRelay(Protocol):
    """
    Streams an upstream body to the client through the body filters, with backpressure, a
    deadline for pauses in the upstream body, and the bytes the filters hold counted against
    the worker's buffer budget.
    """

    # A response body is delivered over the response's IPushProducer; Twisted types a
    # Protocol's transport as ITransport, hence the casts before stopProducing().

    def __init__(self, request: GatewayRequest, pipeline: FilterPipeline,
                 send_head: Callable[[], None], done: defer.Deferred[None], ctx: RequestContext,
                 clock: Any, idle_timeout: float) -> None:
        self.request = request
        self.pipeline = pipeline
        self.send_head = send_head
        self.done = done
        self.ctx = ctx
        self.error: BaseException | None = None
        self.registered = False
        self.stopped = False
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.idle: Any = None
        self.budget = request.channel.budget
        self.held = 0  # bytes fed to the filters and not yet let out

    def connectionMade(self) -> None:
        self.request.registerProducer(self.transport, True)
        self.registered = True
        self._rearm()

    def _rearm(self) -> None:
        if self.idle is not None and self.idle.active():
            self.idle.reset(self.idle_timeout)
        else:
            self.idle = self.clock.callLater(self.idle_timeout, self._idle_expired)

    def _idle_expired(self) -> None:
        self.idle = None
        if self.error is None:
            self.error = _UpstreamBodyIdle("upstream body paused longer than body_timeout")
            cast(IPushProducer, self.transport).stopProducing()

    def _emit(self, data: bytes) -> None:
        if data:
            self.send_head()
            self.ctx.bytes_out += len(data)
            self.request.write(data)

    def dataReceived(self, data: bytes) -> None:
        if self.error is not None:
            return
        self._rearm()
        try:
            if self.pipeline:
                if not self.budget.reserve(len(data)):
                    raise Deny(503, "service_unavailable", "worker buffer budget exhausted",
                               layer="http")
                self.held += len(data)
                out = self.pipeline.feed(data)
                self._let_out(len(out))
                self._emit(out)
            else:
                self._emit(data)
        except Exception as e:  # a filter's Deny or failure: stop reading the upstream
            self.error = e
            cast(IPushProducer, self.transport).stopProducing()

    def _let_out(self, n: int) -> None:
        n = min(n, self.held)
        self.held -= n
        self.budget.release(n)

    def abort(self) -> None:
        """The client is gone: stop the upstream body; what is still to come goes nowhere."""
        self.stopped = True
        if self.transport is not None:
            cast(IPushProducer, self.transport).stopProducing()

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        if self.idle is not None and self.idle.active():
            self.idle.cancel()
        self.idle = None
        if self.registered:
            self.registered = False
            self.request.unregisterProducer()
        if self.error is None and reason is not None and not reason.check(
                ResponseDone, PotentialDataLoss):
            self.error = reason.value
        if self.error is None and self.pipeline and not self.stopped:
            try:
                self._emit(self.pipeline.finish())
            except Exception as e:
                self.error = e
        self._let_out(self.held)
        if self.error is not None:
            if not isinstance(self.error, (Deny, ResponseFailed, ConnectionError)):
                log.failure("response body filter failed", Failure(self.error))
                self.error = Deny(502, "bad_gateway", "response filter failed", layer="gateway")
            self.done.errback(self.error)
        else:
            self.done.callback(None)


class _Discard(Protocol):
    def connectionMade(self) -> None:
        cast(IPushProducer, self.transport).stopProducing()  # see _BodyRelay


def _discard(response: IResponse) -> None:
    response.deliverBody(_Discard())


def _response_headers(response: Any) -> dict[str, list[str]]:
    head_map = getattr(response, "head_map", None)  # stoad's upstream client decodes them
    if head_map is not None:
        return cast("dict[str, list[str]]", head_map)
    headers: Headers = response.headers
    return {
        name.decode("latin-1").lower(): [v.decode("latin-1") for v in values]
        for name, values in headers.getAllRawHeaders()
    }


def _refuse_overrides(ctx: RequestContext) -> None:
    """
    One reading of the method and URL: a header or parameter that makes some framework act on
    another method or path than the one every layer checked is refused (400) unless the route
    allows it by name.
    """
    # The usual request carries none of them: three C-level checks and out.
    query = ctx.query and "method" in ctx.query.lower()  # every override parameter has it
    form = (ctx.body and ctx.content_type is not None
            and ctx.content_type.lower().startswith("application/x-www-form-urlencoded")
            and b"method" in ctx.body.lower())
    if not (query or form or not OVERRIDE_HEADERS.isdisjoint(ctx.headers)):
        return
    query_names = [name for name, _ in parse_qsl(ctx.query, keep_blank_values=True)] if query else []
    form_names = [name for name, _ in parse_qsl((ctx.body or b"").decode("latin-1"),
                                                keep_blank_values=True)] if form else []
    found = override_names(ctx.headers, query_names, form_names, ctx.route.allow_override)
    if found:
        raise Deny(400, "invalid_request", f"method or URL override not allowed on this route: "
                   f"{', '.join(sorted(found))[:200]}", layer="http")

