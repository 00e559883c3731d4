"""Recorded before it happens: the decision is durable before the forward, the completion names it."""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from stoad.audit._chain import ChainReader, load_private_key
from stoad.audit._layer import AuditLayer
from stoad.runtime.deny import Deny
from stoad.runtime.layers import AlertBus, Services
from tests.support.audit import ThreadedClock, context, settings, write_key


class RecordPairTests(TestCase):
    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        self.key = write_key(self.base)
        self.clock = ThreadedClock()
        self.clock.advance(1_700_000_000.0)
        self.registry = CollectorRegistry()
        self.services = Services(reactor=self.clock, alerts=AlertBus(), worker_index=0,
                                 metrics=SimpleNamespace(registry=self.registry))

    def layer(self, **overrides: Any) -> AuditLayer:
        layer = AuditLayer(settings(os.path.join(self.base, "audit"), self.key, **overrides),
                           self.services)
        layer.start()
        self.addCleanup(layer.stop, 5.0)
        return layer

    def settle(self, waiting: Deferred[None]) -> None:
        """Run the writer's callbacks until C{waiting} has a result (bounded)."""
        for _ in range(200):
            if waiting.called:
                return
            self.clock.run_calls(wait=0.05)
        self.fail("the decision never settled")

    def records(self, layer: AuditLayer) -> list[dict[str, Any]]:
        self.assertTrue(layer.writer.wait_durable(10.0))
        reader = ChainReader(layer.writer.directory, load_private_key(self.key).public_key())
        records = list(reader.records())
        self.assertTrue(reader.report.ok, reader.report.errors)
        return records

    def on_disk(self, layer: AuditLayer) -> bytes:
        data = b""
        for name in sorted(os.listdir(layer.writer.directory)):
            if name.startswith("audit-"):
                with open(os.path.join(layer.writer.directory, name), "rb") as f:
                    data += f.read()
        return data

    def test_decision_is_durable_before_the_forward_may_go(self) -> None:
        """before_forward settles only once the decision record is fsynced to the log file."""
        layer = self.layer(fsync_interval=5.0)  # a decision wakes the writer; no timer helps
        ctx = context(1, arguments={"q": "x"}, status=None, outcome=None)
        waiting = layer.before_forward(ctx)
        assert waiting is not None
        self.settle(waiting)
        self.successResultOf(waiting)
        decision_id = ctx.extras["audit"]
        self.assertIn(decision_id.encode(), self.on_disk(layer))
        self.assertGreaterEqual(layer.writer.durable_seq, 1)

    def test_completion_names_the_decision(self) -> None:
        """An allowed request leaves a decision and a completion that refers to it by event_id."""
        layer = self.layer()
        ctx = context(1, arguments={"q": "x"}, status=None, outcome=None)
        waiting = layer.before_forward(ctx)
        assert waiting is not None
        self.settle(waiting)
        ctx.status, ctx.backend_status, ctx.outcome, ctx.bytes_out = 200, 200, "allowed", 99
        layer.on_complete(ctx)
        decision, completion = self.records(layer)
        self.assertEqual((decision["record_type"], completion["record_type"]),
                         ("decision", "completion"))
        self.assertEqual(completion["decision_event_id"], decision["event_id"])
        self.assertNotEqual(completion["event_id"], decision["event_id"])
        self.assertEqual(decision["outcome"], "allowed")
        self.assertTrue(decision["parameters_hash"].startswith("hmac-sha256:"))
        self.assertEqual(decision["parameters_key_id"], layer.parameters_key.key_id
                         if layer.parameters_key else None)
        self.assertEqual([d["layer"] for d in decision["decisions"]], ["audit", "auth"])
        self.assertNotIn("status", decision)
        self.assertEqual((completion["status"], completion["bytes_out"], completion["outcome"]),
                         (200, 99, "allowed"))

    def test_denial_is_one_record(self) -> None:
        """A request refused before the forward leaves exactly one record."""
        layer = self.layer()
        layer.on_complete(context(1, outcome="denied", denied_by="auth", status=401))
        (record,) = self.records(layer)
        self.assertEqual((record["record_type"], record["outcome"], record["denied_by"]),
                         ("request", "denied", "auth"))

    def stall_writes(self, layer: AuditLayer) -> threading.Event:
        """Hold the writer's writes (up to 5 s) until the returned event is set."""
        stuck = threading.Event()
        real = layer.writer._write

        def slow_write(data: bytes) -> None:
            stuck.wait(5.0)
            real(data)

        self.patch(layer.writer, "_write", slow_write)
        return stuck

    def test_slow_disk_refuses_with_503_and_the_completion_says_so(self) -> None:
        """
        A decision not durable within durable_wait: the forward is refused (503
        audit_unavailable, counted), and the completion, when written, records the refusal.
        """
        layer = self.layer(durable_wait=0.01)
        stuck = self.stall_writes(layer)
        ctx = context(1, status=None, outcome=None)
        waiting = layer.before_forward(ctx)
        assert waiting is not None
        self.clock.advance(0.01)
        deny = self.failureResultOf(waiting, Deny).value
        self.assertEqual((deny.status, deny.error), (503, "audit_unavailable"))
        self.assertEqual(self.registry.get_sample_value(
            "stoad_audit_refused_requests_total", {"reason": "slow_disk"}), 1)
        ctx.outcome, ctx.denied_by, ctx.status = "denied", "audit", 503
        layer.on_complete(ctx)
        stuck.set()
        decision, completion = self.records(layer)
        self.assertEqual(completion["decision_event_id"], decision["event_id"])
        self.assertEqual((completion["outcome"], completion["denied_by"]), ("denied", "audit"))

    def test_waiting_forwards_share_one_timer_and_each_is_refused_at_its_own_deadline(
            self) -> None:
        """
        Forwards waiting for their decisions are bounded by one timer between them, set for
        the oldest deadline: each is refused when its own durable_wait has passed, not before,
        and a forward whose record became durable is let through meanwhile.
        """
        layer = self.layer(durable_wait=0.1)
        stuck = self.stall_writes(layer)

        def deadline_timers() -> int:
            return sum(call.func == layer._durable_deadlines._expire for call in self.clock.getDelayedCalls())

        first = layer.before_forward(context(1, status=None, outcome=None))
        self.clock.advance(0.05)
        second = layer.before_forward(context(2, status=None, outcome=None))
        assert first is not None and second is not None
        self.assertEqual(deadline_timers(), 1)
        self.clock.advance(0.049)
        self.assertNoResult(first)
        self.clock.advance(0.002)
        self.assertEqual(self.failureResultOf(first, Deny).value.error, "audit_unavailable")
        self.assertNoResult(second)
        self.clock.advance(0.048)
        self.assertNoResult(second)
        self.clock.advance(0.002)
        self.assertEqual(self.failureResultOf(second, Deny).value.error, "audit_unavailable")
        self.assertEqual(deadline_timers(), 0)  # none left behind
        self.assertEqual(self.registry.get_sample_value(
            "stoad_audit_refused_requests_total", {"reason": "slow_disk"}), 2)
        stuck.set()

    def test_write_failure_fails_waiting_forwards_at_once(self) -> None:
        """When the writer fails, a forward waiting for its decision is refused without delay."""
        layer = self.layer(durable_wait=5.0)

        def broken(data: bytes) -> None:
            raise OSError(5, "Input/output error")

        self.patch(layer.writer, "_write", broken)
        waiting = layer.before_forward(context(1))
        assert waiting is not None
        self.settle(waiting)
        self.assertEqual(self.failureResultOf(waiting, Deny).value.error, "audit_unavailable")

    def test_disk_under_the_floor_refuses_and_alerts(self) -> None:
        """Free space under free_space_floor: an alert, and new requests get 503."""
        layer = self.layer(free_space_floor=10 * 1024 * 1024)
        raised: list[tuple[str, str]] = []
        self.services.alerts.subscribers.append(
            lambda kind, severity, ctx, **d: raised.append((kind, severity)))
        stats = os.statvfs(layer.writer.directory)
        tiny = SimpleNamespace(f_bavail=1, f_frsize=stats.f_frsize)
        self.patch(os, "statvfs", lambda path: tiny)
        layer.writer._last_space_check = 0.0
        layer.on_complete(context(0))
        self.assertTrue(layer.writer.wait_durable(5.0))
        self.assertTrue(layer.writer.below_floor)
        deny = self.assertRaises(Deny, layer.on_request, context(1))
        self.assertEqual((deny.status, deny.error), (503, "audit_unavailable"))
        self.clock.advance(1.0)
        self.assertIn(("audit_disk_low", "critical"), raised)
        self.assertEqual(self.registry.get_sample_value(
            "stoad_audit_refused_requests_total", {"reason": "disk_space"}), 1)

    def test_decisions_of_one_reactor_turn_share_one_group(self) -> None:
        """
        The decisions queued during one turn of the reactor wake the writer once, when the turn
        ends, and are made durable together: one write, one head signature, one settlement.
        """
        layer = self.layer(fsync_interval=5.0, durable_wait=20.0)  # no timer wakes the writer
        groups: list[int] = []
        on_records = layer.writer._on_records

        def counting(count: int, kinds: dict[str, int]) -> None:
            groups.append(count)
            if on_records is not None:
                on_records(count, kinds)

        layer.writer._on_records = counting
        waiting = [layer.before_forward(context(n, status=None, outcome=None)) for n in range(3)]
        self.assertEqual([call.getTime() for call in self.clock.getDelayedCalls()
                          if call.getTime() == self.clock.seconds()], [self.clock.seconds()])
        for each in waiting:
            assert each is not None
            self.settle(each)
            self.successResultOf(each)
        self.assertEqual(groups, [3])

    def test_a_long_reactor_turn_does_not_hold_a_decision_back(self) -> None:
        """
        A turn that never ends (the clock is not run) delays a decision at most half of
        durable_wait: the writer makes it durable on its own, before the deadline could pass.
        """
        layer = self.layer(fsync_interval=5.0, durable_wait=0.2)
        waiting = layer.before_forward(context(1, status=None, outcome=None))
        assert waiting is not None
        writer = layer.writer
        with writer._progress:
            self.assertTrue(writer._progress.wait_for(lambda: writer.processed >= 1, timeout=5.0))
        self.assertGreaterEqual(writer.durable_seq, 1)
        self.assertNoResult(waiting)  # the reactor hears of it when its turn ends
        self.settle(waiting)
        self.successResultOf(waiting)
