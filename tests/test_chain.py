"""The filter chain fails closed: exceptions and timeouts in any layer become denies."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from stoad.runtime.chain import FilterChain, FilterPipeline, ResponseHead
from stoad.runtime.context import RequestContext
from stoad.runtime.deny import Deny
from stoad.runtime.layer import LayerBase


def context() -> RequestContext:
    return RequestContext(request_id="r", started=0.0, client_ip="127.0.0.1", peer=None,
                          method="GET", raw_path="/x", path="/x", query="", headers={},
                          body=b"", body_size=0, content_type=None)


class _Layer(LayerBase):
    def __init__(self, name: str, log: list[str], request: Any = None, response: Any = None) -> None:
        self.name = name
        self.log = log
        self._request = request
        self._response = response

    def on_request(self, ctx: RequestContext) -> Any:
        self.log.append(f"{self.name}.request")
        return self._request(ctx) if self._request else None

    def on_response(self, ctx: RequestContext, head: ResponseHead) -> Any:
        self.log.append(f"{self.name}.response")
        return self._response(ctx, head) if self._response else None

    def on_complete(self, ctx: RequestContext) -> None:
        self.log.append(f"{self.name}.complete")


class _Upper:
    def feed(self, chunk: bytes) -> bytes:
        return chunk.upper()

    def finish(self) -> bytes:
        return b"!"


class _Hold:
    def __init__(self) -> None:
        self.held = b""

    def feed(self, chunk: bytes) -> bytes:
        self.held += chunk
        return b""

    def finish(self) -> bytes:
        return b"[" + self.held + b"]"


def boom(ctx: RequestContext) -> None:
    raise KeyError("secret detail")


class ChainTests(SynchronousTestCase):
    def run_request(self, chain: FilterChain, ctx: RequestContext) -> Deferred[None]:
        return ensureDeferred(chain.run_request(ctx))

    def test_layers_run_in_order_and_record_decisions(self) -> None:
        """Request steps run in order; each allowed layer is recorded."""
        log: list[str] = []
        chain = FilterChain([_Layer("a", log), _Layer("b", log)], Clock())
        ctx = context()
        self.successResultOf(self.run_request(chain, ctx))
        self.assertEqual(log, ["a.request", "b.request"])
        self.assertEqual([d.outcome for d in ctx.decisions], ["allow", "allow"])

    def test_deny_stops_the_chain_and_names_the_layer(self) -> None:
        """A Deny from a layer stops later layers; the deny carries the layer's name."""
        log: list[str] = []

        def refuse(ctx: RequestContext) -> None:
            raise Deny(403, "forbidden", "policy says no")

        chain = FilterChain([_Layer("a", log, refuse), _Layer("b", log)], Clock())
        failure = self.failureResultOf(self.run_request(chain, context()), Deny)
        self.assertEqual(failure.value.layer, "a")
        self.assertEqual(log, ["a.request"])

    def test_exception_in_a_layer_is_a_500_deny_without_detail(self) -> None:
        """An unexpected exception becomes a 500 deny whose error says nothing of the cause."""
        chain = FilterChain([_Layer("a", [], boom)], Clock())
        failure = self.failureResultOf(self.run_request(chain, context()), Deny)
        self.assertEqual((failure.value.status, failure.value.error), (500, "internal_error"))
        self.assertNotIn("secret detail", failure.value.error)
        self.assertEqual(len(self.flushLoggedErrors(KeyError)), 1)

    def test_a_layer_that_never_answers_times_out_as_a_deny(self) -> None:
        """A step still pending after step_timeout becomes a 503 deny."""
        clock = Clock()
        chain = FilterChain([_Layer("slow", [], lambda ctx: Deferred())], clock, step_timeout=2)
        d = self.run_request(chain, context())
        self.assertNoResult(d)
        clock.advance(2.1)
        failure = self.failureResultOf(d, Deny)
        self.assertEqual(failure.value.status, 503)
        self.assertEqual(failure.value.layer, "slow")

    def test_coroutine_layers_are_awaited(self) -> None:
        """A layer whose step is async def is awaited like one returning a Deferred."""

        async def refuse(ctx: RequestContext) -> None:
            raise Deny(401, "invalid_token", "expired")

        chain = FilterChain([_Layer("a", [], refuse)], Clock())
        self.assertEqual(self.failureResultOf(self.run_request(chain, context()), Deny).value.status, 401)

    def test_response_steps_run_innermost_first_and_filters_compose(self) -> None:
        """Response steps run in reverse; their filters see the body upstream-side first."""
        log: list[str] = []
        chain = FilterChain([_Layer("outer", log, response=lambda c, h: _Hold()),
                             _Layer("inner", log, response=lambda c, h: _Upper())], Clock())
        filters = self.successResultOf(ensureDeferred(chain.run_response(context(), ResponseHead(200, {}))))
        self.assertEqual(log, ["inner.response", "outer.response"])
        pipeline = FilterPipeline(filters)
        self.assertEqual(pipeline.feed(b"ab"), b"")
        self.assertEqual(pipeline.finish(), b"[AB!]")

    def test_complete_runs_for_every_layer_even_if_one_fails(self) -> None:
        """on_complete reaches every layer; a failing one is logged, not raised."""
        log: list[str] = []
        bad = _Layer("bad", log)
        bad.on_complete = lambda ctx: (_ for _ in ()).throw(ValueError("x"))  # type: ignore[method-assign]
        chain = FilterChain([bad, _Layer("good", log)], Clock())
        chain.complete(context())
        self.assertEqual(log, ["good.complete"])
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    def test_synchronous_steps_schedule_no_deadline(self) -> None:
        """A step that returns a plain value has finished: no timeout is scheduled for it, and
        a Deferred step's deadline is cancelled once it answers."""
        clock = Clock()
        chain = FilterChain([_Layer("a", []), _Layer("b", [], lambda ctx: defer_succeed())], clock)
        self.successResultOf(self.run_request(chain, context()))
        self.assertEqual(clock.getDelayedCalls(), [])


class StepDeadlineTests(SynchronousTestCase):
    """Every running step is bounded by the chain's step_timeout through one shared timer."""

    def test_running_steps_share_one_timer_and_each_keeps_its_deadline(self) -> None:
        """Two requests waiting on a step need one timer; each times out at its own deadline."""
        clock = Clock()
        chain = FilterChain([_Layer("slow", [], lambda ctx: Deferred())], clock, step_timeout=2)
        first = ensureDeferred(chain.run_request(context()))
        clock.advance(1)
        second = ensureDeferred(chain.run_request(context()))
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        clock.advance(1)
        self.assertEqual(self.failureResultOf(first, Deny).value.status, 503)
        self.assertNoResult(second)
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        clock.advance(1)
        failure = self.failureResultOf(second, Deny)
        self.assertEqual((failure.value.status, failure.value.layer), (503, "slow"))
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_an_answered_step_leaves_no_timer(self) -> None:
        """Once the last running step answers, its deadline timer is gone; an earlier step
        that is still running keeps it, and still times out."""
        clock = Clock()
        held: list[Deferred[None]] = []

        def hold(ctx: RequestContext) -> Deferred[None]:
            held.append(Deferred())
            return held[-1]

        chain = FilterChain([_Layer("a", [], hold)], clock, step_timeout=2)
        first = ensureDeferred(chain.run_request(context()))
        second = ensureDeferred(chain.run_request(context()))
        held[1].callback(None)
        self.successResultOf(second)
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        clock.advance(2)
        self.assertEqual(self.failureResultOf(first, Deny).value.status, 503)
        self.assertEqual(clock.getDelayedCalls(), [])
        third = ensureDeferred(chain.run_request(context()))
        held[2].callback(None)
        self.successResultOf(third)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_a_step_waiting_on_a_chained_deferred_times_out(self) -> None:
        """A step whose Deferred has a result that is itself a Deferred still waiting (paused)
        has not answered: it is cancelled at its deadline like any running step."""
        clock = Clock()
        inner: Deferred[None] = Deferred()

        def chained(ctx: RequestContext) -> Deferred[None]:
            outer: Deferred[None] = Deferred()
            outer.callback(None)
            outer.addCallback(lambda _: inner)
            return outer

        chain = FilterChain([_Layer("a", [], chained)], clock, step_timeout=2)
        d = ensureDeferred(chain.run_request(context()))
        self.assertNoResult(d)
        clock.advance(2)
        self.assertEqual(self.failureResultOf(d, Deny).value.status, 503)
        self.assertTrue(inner.called)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_a_layer_turning_its_cancellation_into_a_deny_keeps_its_deny(self) -> None:
        """A step cancelled at its deadline whose layer answers the cancellation with its own
        refusal (as the audit layer does) is refused with that refusal."""
        clock = Clock()

        def own(ctx: RequestContext) -> Deferred[None]:
            def refuse(failure: Any) -> None:
                raise Deny(503, "audit_unavailable", "not durable in time")
            return Deferred().addErrback(refuse)

        chain = FilterChain([_Layer("audit", [], own)], clock, step_timeout=1)
        d = ensureDeferred(chain.run_request(context()))
        clock.advance(1)
        failure = self.failureResultOf(d, Deny)
        self.assertEqual((failure.value.error, failure.value.layer), ("audit_unavailable", "audit"))

    def test_a_cancellation_before_the_deadline_is_a_failure(self) -> None:
        """A step that fails with a cancellation of its own, before its deadline, is an internal
        error (500), not a timeout."""
        from twisted.internet.defer import CancelledError

        clock = Clock()
        pending: Deferred[None] = Deferred()
        chain = FilterChain([_Layer("a", [], lambda ctx: pending)], clock, step_timeout=5)
        d = ensureDeferred(chain.run_request(context()))
        pending.errback(CancelledError())
        self.assertEqual(self.failureResultOf(d, Deny).value.status, 500)
        self.assertEqual(len(self.flushLoggedErrors(CancelledError)), 1)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_allow_decisions_name_their_layer(self) -> None:
        """Each request gets one allow decision per layer, naming the layer, whatever came before."""
        chain = FilterChain([_Layer("a", []), _Layer("b", [])], Clock())
        for _ in range(2):
            ctx = context()
            self.successResultOf(ensureDeferred(chain.run_request(ctx)))
            self.assertEqual([(d.layer, d.outcome, d.reason) for d in ctx.decisions],
                             [("a", "allow", ""), ("b", "allow", "")])


def defer_succeed() -> Deferred[None]:
    from twisted.internet.defer import succeed

    return succeed(None)


class _Recorder(_Layer):
    """A layer that declares a before_forward step (as the audit layer does)."""

    def __init__(self, name: str, log: list[str], before: Any = None) -> None:
        super().__init__(name, log)
        self._before = before

    def before_forward(self, ctx: RequestContext) -> Any:
        self.log.append(f"{self.name}.before_forward")
        return self._before(ctx) if self._before else None


class BeforeForwardTests(SynchronousTestCase):
    def before_forward(self, chain: FilterChain, ctx: RequestContext) -> Deferred[None]:
        return ensureDeferred(chain.run_before_forward(ctx))

    def test_only_layers_that_declare_it_run_in_order(self) -> None:
        """before_forward runs for the layers that declare it, in chain order, and no others."""
        log: list[str] = []
        chain = FilterChain([_Recorder("a", log), _Layer("b", log), _Recorder("c", log)], Clock())
        self.successResultOf(self.before_forward(chain, context()))
        self.assertEqual(log, ["a.before_forward", "c.before_forward"])

    def test_waits_for_a_pending_step(self) -> None:
        """The chain awaits a step that returns a Deferred before the request may go on."""
        pending: Deferred[None] = Deferred()
        chain = FilterChain([_Recorder("a", [], lambda ctx: pending)], Clock())
        d = self.before_forward(chain, context())
        self.assertNoResult(d)
        pending.callback(None)
        self.successResultOf(d)

    def test_deny_is_recorded_and_raised(self) -> None:
        """A Deny from before_forward stops the request and is recorded as that layer's decision."""
        def refuse(ctx: RequestContext) -> None:
            raise Deny(503, "audit_unavailable", "not durable")

        ctx = context()
        chain = FilterChain([_Recorder("audit", [], refuse)], Clock())
        failure = self.failureResultOf(self.before_forward(chain, ctx), Deny)
        self.assertEqual((failure.value.status, failure.value.layer), (503, "audit"))
        self.assertEqual([(d.layer, d.outcome) for d in ctx.decisions], [("audit", "deny")])

    def test_timeout_and_exception_fail_closed(self) -> None:
        """A before_forward step that hangs past the step timeout or raises becomes a deny."""
        clock = Clock()
        chain = FilterChain([_Recorder("a", [], lambda ctx: Deferred())], clock, step_timeout=1.0)
        d = self.before_forward(chain, context())
        clock.advance(1.0)
        self.assertEqual(self.failureResultOf(d, Deny).value.status, 503)
        chain = FilterChain([_Recorder("a", [], boom)], clock)
        self.assertEqual(self.failureResultOf(self.before_forward(chain, context()), Deny).value.status, 500)
        self.assertEqual(len(self.flushLoggedErrors(KeyError)), 1)
