"""One request's single trip to the shared store, and what a failed trip means for each feature.

The MCP layer runs the round (it knows the session and tool); the policy layer reuses its answer.
"""

from __future__ import annotations

import time
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from stoad.runtime.context import RequestContext
from stoad.runtime.deny import Deny
from stoad.state._interface import UNAVAILABLE_BODY, Maybe, RoundRequest, RoundResult, StateUnavailable

log = Logger()

ROUND = "state"  # ctx.extras key: the RoundResult, or the StateUnavailable the round ended in
USAGE_NEED = "usage"


def now_of(services: Any) -> float:
    reactor = getattr(services, "reactor", None)
    return float(reactor.seconds()) if reactor is not None else time.time()


def holder_of(ctx: RequestContext) -> str:
    """Who holds a session: consumer, agent and certificate, else the certificate alone."""
    thumbprint = ctx.peer.x5t_s256 if ctx.peer is not None else "-"
    if ctx.identity is not None:
        return (f"consumer:{ctx.identity.consumer_id} agent:{ctx.identity.agent_id} "
                f"cert:{thumbprint}")
    if ctx.peer is not None:
        return f"cert:{thumbprint}"
    return "anonymous"


def run_round(ctx: RequestContext, services: Any, *, session_id: str | None = None,
              tools_version: bool = False) -> Maybe[RoundResult | StateUnavailable]:
    """
    Ask the store for everything this request needs (session, usage if a layer counts it, tools
    version) in one call. The answer, or the L{StateUnavailable} it ended in, is kept on C{ctx}
    and returned; any other error propagates (the chain turns it into a deny).
    """
    identity = ctx.identity
    counting = identity is not None and USAGE_NEED in getattr(services, "state_needs", ())
    request = RoundRequest(
        now=now_of(services), session_id=session_id,
        holder=holder_of(ctx) if session_id is not None else None,
        usage_consumer=identity.consumer_id if counting and identity is not None else None,
        usage_tool=(ctx.mcp.tool_name if counting and ctx.mcp is not None else None),
        tools_version=tools_version)
    try:
        answer = services.state.request_round(request)
    except StateUnavailable as e:
        ctx.extras[ROUND] = e
        return e
    if isinstance(answer, Deferred):
        return answer.addCallbacks(_keep, _kept_failure, callbackArgs=(ctx,),
                                   errbackArgs=(ctx,))
    return _keep(answer, ctx)


def _keep(result: RoundResult, ctx: RequestContext) -> RoundResult:
    ctx.extras[ROUND] = result
    return result


def _kept_failure(failure: Failure, ctx: RequestContext) -> StateUnavailable | Failure:
    if failure.check(StateUnavailable):
        error: StateUnavailable = failure.value  # type: ignore[assignment]
        ctx.extras[ROUND] = error
        return error
    return failure


def unavailable(services: Any, ctx: RequestContext | None, feature: str,
                error: BaseException) -> Deny | None:
    """
    The store failed for C{feature}: alert, count, and either a 503 deny with the fixed body
    (the feature fails closed) or None (it fails open and the request goes on without it).
    """
    settings = getattr(services.state, "settings", None)
    closed = settings.fails_closed(feature) if settings is not None else True
    mode = "closed" if closed else "open"
    counter = getattr(services.metrics, "state_failures", None)
    if counter is not None:
        counter.labels(feature, mode).inc()
    services.alerts.emit("state_backend_unavailable", "high", ctx, feature=feature,
                         failure_mode=mode, error=str(error))
    if not closed:
        log.warn("shared state unavailable for {feature}, failing open: {why}", feature=feature,
                 why=str(error))
        return None
    return Deny(503, "state_unavailable", f"shared state unavailable for {feature} "
                f"(fails closed): {error}", body=UNAVAILABLE_BODY)
