"""The filter chain: runs every layer's request step, then (in reverse) every response step.

A layer never calls another layer; the chain composes them and turns any failure into a deny.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import CoroutineType
from typing import Any, Protocol, Sequence

from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.internet.defer import TimeoutError as DeferredTimeout
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from stoad.runtime.context import LayerDecision, RequestContext
from stoad.runtime.deadlines import Deadline, Deadlines
from stoad.runtime.deny import Deny, internal_error
from stoad.runtime.layer import Layer, LayerBase

log = Logger()
_PENDING = (Deferred, CoroutineType)  # what a step returns while it is still running


@dataclass
class ResponseHead:
    """The upstream response's status and headers (names lower-cased), as layers see them."""

    status: int
    headers: dict[str, list[str]]

    @property
    def content_type(self) -> str | None:
        values = self.headers.get("content-type")
        return values[0] if values else None


class BodyFilter(Protocol):
    """
    Rewrites a response body as it streams. C{feed} returns what may be sent now (a filter that
    must see the whole body returns C{b""} until C{finish}); either may raise L{Deny}, which
    the client receives if nothing has been sent yet, otherwise the stream is cut off.
    """

    def feed(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class FilterChain:
    """
    Runs layers in their fixed order. Every step is bounded by C{step_timeout} seconds on
    C{clock}; a timeout or any exception other than L{Deny} becomes a deny. With C{metrics},
    each request step's time (C{ctx.timings}) is also observed in C{stoad_layer_duration_seconds}.
    """

    def __init__(
        self, layers: Sequence[Layer], clock: IReactorTime, step_timeout: float = 5.0,
        metrics: Any = None,
    ) -> None:
        self.layers = tuple(layers)
        # The labelled child of each layer is looked up once, here, not per request.
        histogram = getattr(metrics, "layer_duration", None)
        self._request_steps: tuple[tuple[Layer, Any], ...] = tuple(
            (layer, histogram.labels(layer.name).observe if histogram is not None else None)
            for layer in self.layers)
        # Only layers that implement before_forward (audit) cost the request an extra step.
        self._before_forward = tuple(layer for layer in self.layers
                                     if type(layer).before_forward is not LayerBase.before_forward)
        # A layer allowing is the same fact every time: one frozen decision per layer, shared.
        self._allowed = {layer.name: LayerDecision(layer.name, "allow") for layer in self.layers}
        self._clock = clock
        self._step_timeout = step_timeout
        # Steps still running: one timer, set for the oldest, bounds them all.
        self._running = Deadlines(clock, step_timeout)

    def _call(self, layer: Layer, step: str, *args: Any) -> Any:
        """Call a step; a plain value is its result (no coroutine, no Deferred, no timer)."""
        try:
            return getattr(layer, step)(*args)
        except Deny as deny:
            raise deny if deny.layer else replace(deny, layer=layer.name) from None
        except Exception as exc:  # fail closed: any failure in a layer is a deny
            raise self._failed(layer, step, exc) from None

    async def _settle(self, layer: Layer, step: str, result: Any) -> Any:
        """Wait, within the step deadline, for a step that is still running."""
        entry: Deadline | None = None
        timed_out: list[bool] = []
        try:
            pending = result if isinstance(result, Deferred) else ensureDeferred(result)
            if not pending.called or pending.paused:
                # Past its deadline the step is cancelled, even if it has a result but waits on a
                # Deferred (paused), as addTimeout does: it has not answered until it resumed.
                def expired() -> None:
                    timed_out.append(True)
                    pending.cancel()

                entry = self._running.add(expired)
            return await pending
        except Deny as deny:
            raise deny if deny.layer else replace(deny, layer=layer.name) from None
        except Exception as exc:  # fail closed: any failure in a layer is a deny
            if isinstance(exc, DeferredTimeout) or (timed_out and isinstance(exc, CancelledError)):
                log.warn("layer {layer} {step} timed out", layer=layer.name, step=step)
                raise Deny(503, "temporarily_unavailable", f"{layer.name} {step} timed out",
                           layer=layer.name) from None
            raise self._failed(layer, step, exc) from None
        finally:
            if entry is not None:
                self._running.done(entry)

    @staticmethod
    def _failed(layer: Layer, step: str, exc: Exception) -> Deny:
        # Called inside the except block: Failure() captures the exception with its traceback.
        log.failure("layer {layer} {step} failed", Failure(), layer=layer.name, step=step)
        denial = internal_error(f"{layer.name} {step} raised {type(exc).__name__}")
        return replace(denial, layer=layer.name)

    async def run_request(self, ctx: RequestContext) -> None:
        """Run every request step in order; raises L{Deny} at the first refusal."""
        clock = self._clock
        allowed = self._allowed
        for layer, observe in self._request_steps:
            started = clock.seconds()
            try:
                # A step that returned a plain value has already finished; only one that is
                # still running (a Deferred or a coroutine) needs a deadline and a round trip.
                result = self._call(layer, "on_request", ctx)
                if isinstance(result, _PENDING):
                    await self._settle(layer, "on_request", result)
            except Deny as deny:
                ctx.decisions.append(LayerDecision(layer.name, "deny", deny.reason))
                raise
            finally:
                elapsed = ctx.timings[layer.name] = clock.seconds() - started
                if observe is not None:
                    observe(elapsed)
            ctx.decisions.append(allowed[layer.name])

    async def run_before_forward(self, ctx: RequestContext) -> None:
        """Run the C{before_forward} step of each layer that declares one, in chain order."""
        for layer in self._before_forward:
            try:
                result = self._call(layer, "before_forward", ctx)
                if isinstance(result, _PENDING):
                    await self._settle(layer, "before_forward", result)
            except Deny as deny:
                ctx.decisions.append(LayerDecision(layer.name, "deny", deny.reason))
                raise

    async def run_response(self, ctx: RequestContext, head: ResponseHead) -> list[BodyFilter]:
        """
        Run every response step, innermost layer first; returns the body filters in the order
        the body must pass through them.
        """
        filters: list[BodyFilter] = []
        for layer in reversed(self.layers):
            body_filter = self._call(layer, "on_response", ctx, head)
            if isinstance(body_filter, _PENDING):
                body_filter = await self._settle(layer, "on_response", body_filter)
            if body_filter is not None:
                filters.append(body_filter)
        return filters

    def complete(self, ctx: RequestContext) -> None:
        """Tell every layer the request is over; a failure here is logged, never raised."""
        for layer in self.layers:
            try:
                layer.on_complete(ctx)
            except Exception:
                log.failure("layer {layer} on_complete failed", layer=layer.name)


class FilterPipeline:
    """Feeds body chunks through a sequence of body filters (upstream side first)."""

    def __init__(self, filters: Sequence[BodyFilter]) -> None:
        self._filters = tuple(filters)

    def __bool__(self) -> bool:
        return bool(self._filters)

    def feed(self, chunk: bytes) -> bytes:
        for body_filter in self._filters:
            chunk = body_filter.feed(chunk)
        return chunk

    def finish(self) -> bytes:
        out = b""
        for body_filter in self._filters:
            out = body_filter.feed(out) if out else b""
            out += body_filter.finish()
        return out
