"""The audit layer: refuses requests it cannot record, records every request before it is forwarded.

It runs first in the chain. Its request step refuses while the log cannot take more (with a short
wait when only the queue is full); its before-forward step makes the decision record durable and
holds the forward until it is; its completion step queues the completion (or, for a request that
never reached an upstream, its single record). Alerts from any layer become C{alert} events.
"""

from __future__ import annotations

import collections
import os
import secrets
from typing import TYPE_CHECKING, Any, Callable

from prometheus_client import CollectorRegistry
from twisted.internet import defer
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from stoad.audit._chain import load_private_key
from stoad.audit._event import (
    ParametersKey,
    build_alert_event,
    build_completion_event,
    build_config_event,
    build_decision_event,
    build_request_event,
)
from stoad.audit._metrics import AuditMetrics, audit_metrics
from stoad.audit._settings import ALERT_AND_CONTINUE, AuditSettings
from stoad.audit._shipper import KafkaShipper
from stoad.audit._writer import AuditChainWriter
from stoad.runtime.context import RequestContext
from stoad.runtime.deadlines import Deadline, Deadlines
from stoad.runtime.deny import Deny
from stoad.runtime.layer import LayerBase, RestartRequired, changed_keys

if TYPE_CHECKING:
    from stoad.runtime.services import Services

MONITOR_INTERVAL = 1.0
PARAMETERS_KEY = "parameters.key"


def worker_directory(settings: AuditSettings, worker_index: int) -> str:
    """Each worker process writes its own chain in its own folder."""
    return os.path.join(settings.directory, f"worker-{worker_index}")


def load_parameters_key(path: str) -> ParametersKey:
    """The C{parameters_hash} key: the file's bytes (surrounding whitespace removed)."""
    with open(path, "rb") as f:
        return ParametersKey(f.read().strip())


def ensure_parameters_key(settings: AuditSettings) -> ParametersKey:
    """
    The configured key, or C{<directory>/parameters.key}, made once (random, mode 0600) for the
    whole deployment: every worker must key its hashes alike, so the first one to start links
    a complete file into place and the others read it.
    """
    if settings.parameters_key:
        return load_parameters_key(settings.parameters_key)
    os.makedirs(settings.directory, mode=0o700, exist_ok=True)
    path = os.path.join(settings.directory, PARAMETERS_KEY)
    if not os.path.exists(path):
        temporary = f"{path}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, secrets.token_hex(32).encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another worker won the race; its key is complete
        finally:
            os.unlink(temporary)
    return load_parameters_key(path)


class AuditLayer(LayerBase):
    """
    The audit layer of one worker. L{start} opens the chain (raising if it cannot: startup
    fails loudly) and starts the writer and shipper threads; L{stop} drains and closes them.
    """

    name = "audit"

    def __init__(self, settings: AuditSettings, services: Services,
                 metrics: AuditMetrics | None = None) -> None:
        self.settings = settings
        self._clock = services.reactor
        self._worker = services.worker_index
        self._alert_and_continue = settings.on_write_failure == ALERT_AND_CONTINUE
        registry = getattr(services.metrics, "registry", None) or CollectorRegistry()
        self.metrics = metrics or audit_metrics(registry)
        directory = worker_directory(settings, services.worker_index)
        self.parameters_key: ParametersKey | None = None  # loaded (or made) by start()
        self.writer = AuditChainWriter(
            directory,
            load_private_key(settings.signing_key),
            fsync_every=settings.fsync_every,
            fsync_interval=settings.fsync_interval,
            fsync_batch=settings.fsync_batch,
            rotate_size=settings.rotate_size,
            rotate_interval=settings.rotate_interval,
            checkpoint_interval=settings.checkpoint_interval,
            max_pending=settings.max_pending,
            worker=services.worker_index,
            free_space_floor=settings.free_space_floor,
            retain_age=settings.retain_age,
            retain_size=settings.retain_size,
            shipped_seq=self._shipped_seq if settings.kafka is not None else None,
            on_records=self._records_written,
            on_write_error=self._write_failed,
            on_progress=self._progress_from_writer,
            wake_after_turn=self._after_turn,
            turn_wait=settings.durable_wait / 2,
        )
        self.shipper: KafkaShipper | None = None
        if settings.kafka is not None:
            kafka = settings.kafka
            self.shipper = KafkaShipper(
                directory, kafka.producer_config(), kafka.topic, kafka.alerts_topic,
                durable_seq=lambda: self.writer.durable_seq,
                max_in_flight=kafka.max_in_flight, commit_interval=kafka.commit_interval,
                checkpoints_topic=kafka.checkpoints_topic,
            )
        # Requests waiting for their decision record to be durable, in ticket order (and so in
        # deadline order) with their deadlines, and requests waiting for room in a full queue.
        self._durable_waiters: collections.deque[
            tuple[int, dict[str, Any], defer.Deferred[None], Deadline]] = collections.deque()
        # One timer bounds every durable waiter (durable_wait changes only on restart).
        self._durable_deadlines = Deadlines(self._clock, settings.durable_wait)
        self._room_waiters: collections.deque[defer.Deferred[None]] = collections.deque()
        self._call_from_thread = getattr(services.reactor, "callFromThread", None)
        self._refused_seen = 0.0
        self._refusal_alerted = False
        self._floor_alerted = False
        self._alerts = services.alerts
        self._alerts.subscribers.append(self.record_alert)
        self._monitor = LoopingCall(self.check)
        self._monitor.clock = services.reactor
        self._backlog_alerted = False
        self._unhealthy_alerted = False
        self._shipped_seen = 0
        self._started = False

    def activate(self) -> None:
        self.start()

    def successor(self, settings: AuditSettings, routes: Any, services: Services) -> AuditLayer:
        """The same layer: its log and threads outlive a reload; a changed key needs a restart."""
        changed = changed_keys("audit", self.settings, settings)
        if changed:
            raise RestartRequired([f"{key} changes only on restart" for key in changed])
        return self

    def start(self) -> None:
        if self._started:
            return
        self.parameters_key = self.writer.parameters_key = ensure_parameters_key(self.settings)
        self.writer.open()
        if self.writer.repaired_bytes:
            self.record_alert("audit_log_repaired", "warning", None,
                              bytes_removed=self.writer.repaired_bytes)
        if self.writer.recovered_incomplete or self.writer.recovered_unsigned:
            self.record_alert("audit_crash_recovered", "warning", None,
                              incomplete=self.writer.recovered_incomplete,
                              unsigned_records=self.writer.recovered_unsigned)
        self.writer.start()
        if self.shipper is not None:
            self.shipper.start()
        self._monitor.start(MONITOR_INTERVAL, now=False)
        self._started = True

    def stop(self, timeout: float = 10.0) -> None:
        if not self._started:
            return
        self._started = False
        if self._monitor.running:
            self._monitor.stop()
        self._durable_deadlines.stop()
        if self.record_alert in self._alerts.subscribers:
            self._alerts.subscribers.remove(self.record_alert)
        self.writer.close(timeout)
        if self.shipper is not None:
            self.shipper.stop(timeout)
        self.check()

    # -- chain steps ----------------------------------------------------------------------

    def _refusal(self, why: str, detail: str) -> Deny:
        self.metrics.refused.labels(why).inc()
        return Deny(503, "audit_unavailable", f"audit log cannot record the request: {detail}")

    def on_request(self, ctx: RequestContext) -> defer.Deferred[None] | None:
        """
        Admit the request only if it can be recorded. A full queue (a slow disk) is
        backpressure: the request waits up to C{durable_wait} for room, then is refused.
        """
        writer = self.writer
        if writer.accepting or self._alert_and_continue:
            return None
        if not writer.healthy:
            raise self._refusal("write_failure", writer.error or "write failed")
        if writer.below_floor:
            raise self._refusal("disk_space", "free space under the floor")
        room: defer.Deferred[None] = defer.Deferred()
        self._room_waiters.append(room)
        return self._bounded(room, "queue_full", "the queue stayed full")

    def before_forward(self, ctx: RequestContext) -> defer.Deferred[None] | None:
        """
        Append the decision record and hold the forward until the group it is in is durable
        (bounded by C{durable_wait}; then 503 C{audit_unavailable}, and the completion says so).
        """
        event, source = build_decision_event(ctx, self._worker)
        ctx.extras["audit"] = event["event_id"]
        if self._alert_and_continue:
            self.writer.append(event, source, urgent=True)
            return None
        durable: defer.Deferred[None] = defer.Deferred()

        def expired() -> None:
            if not durable.called:
                durable.errback(defer.TimeoutError())
            # Waiters expire in ticket order, so the refused ones are at the front: let them go
            # now, not when the writer next makes progress (a stalled disk would keep them all).
            waiters = self._durable_waiters
            while waiters and waiters[0][2].called:
                waiters.popleft()

        deadline = self._durable_deadlines.add(expired)
        self._durable_waiters.append((self.writer.appended + 1, event, durable, deadline))
        self.writer.append(event, source, urgent=True)
        return durable.addErrback(self._refuse_slow_disk)

    def _refuse_slow_disk(self, failure: Failure) -> None:
        if failure.check(Deny):
            failure.raiseException()
        failure.trap(defer.TimeoutError, defer.CancelledError)
        raise self._refusal("slow_disk", "the decision record was not durable in time")

    def _bounded(self, waiting: defer.Deferred[None], why: str,
                 detail: str) -> defer.Deferred[None]:
        waiting.addTimeout(self.settings.durable_wait, self._clock)

        def refuse(failure: Failure) -> None:
            if failure.check(Deny):
                failure.raiseException()
            failure.trap(defer.TimeoutError, defer.CancelledError)
            raise self._refusal(why, detail)

        return waiting.addErrback(refuse)

    def _after_turn(self, wake: Callable[[], None]) -> None:
        """Call C{wake} once the reactor has handled every event of its current turn."""
        self._clock.callLater(0, wake)

    def _progress_from_writer(self, processed: int) -> None:
        """Called on the writer thread after every group: settle waiters on the reactor."""
        if self._call_from_thread is not None:
            self._call_from_thread(self._settle, processed)

    def _settle(self, processed: int) -> None:
        writer = self.writer
        waiters = self._durable_waiters
        deadlines = self._durable_deadlines
        while writer.healthy and waiters and waiters[0][0] <= processed:
            _, event, durable, deadline = waiters.popleft()
            deadlines.done(deadline)
            if durable.called:
                continue
            if "seq" in event:
                durable.callback(None)
            else:
                durable.errback(self._refusal("encode", "the decision record could not be encoded"))
        if not writer.healthy:
            while waiters:
                _, _, durable, deadline = waiters.popleft()
                deadlines.done(deadline)
                if not durable.called:
                    durable.errback(self._refusal("write_failure", writer.error or "write failed"))
        rooms = self._room_waiters
        while rooms and (rooms[0].called or writer.accepting):
            room = rooms.popleft()
            if not room.called:
                room.callback(None)

    def on_response(self, ctx: RequestContext, head: Any) -> None:
        return None

    def on_complete(self, ctx: RequestContext) -> None:
        decision_id = ctx.extras.get("audit")
        if decision_id is not None:
            completion = build_completion_event(ctx, self._clock.seconds(), self._worker,
                                                decision_id)
            self.writer.append(completion, None)
            return
        event, source = build_request_event(ctx, self._clock.seconds(), self._worker)
        self.writer.append(event, source)

    # -- alerts and health ----------------------------------------------------------------

    def record_alert(self, kind: str, severity: str, ctx: RequestContext | None,
                     **details: Any) -> None:
        """An AlertBus subscriber: count the alert and write it as an C{alert} event."""
        event = build_alert_event(kind, severity, ctx, details, self._clock.seconds(), self._worker)
        self.metrics.alerts.labels(event["alert"], event["severity"]).inc()
        self.writer.append(event, None)

    def record_config_change(self, kind: str, config_hash: str, previous_hash: str | None,
                             problems: list[str]) -> None:
        """
        The daemon's entry point for reload outcomes: write a C{config_reloaded} or
        C{config_reload_failed} event into this worker's chain.
        """
        event = build_config_event(kind, config_hash, previous_hash, problems,
                                   self._clock.seconds(), self._worker)
        self.writer.append(event, None)

    def _records_written(self, count: int, kinds: dict[str, int]) -> None:
        for kind, n in kinds.items():
            self.metrics.records.labels(kind).inc(n)

    def _write_failed(self, reason: str) -> None:
        self.metrics.write_errors.inc()

    def _shipped_seq(self) -> int:
        return self.shipper.committed.seq if self.shipper is not None else 0

    def check(self) -> None:
        """Periodically (on the reactor): publish gauges; alert on backlog, refusals, disk."""
        writer, m = self.writer, self.metrics
        if self._room_waiters:
            self._settle(writer.processed)  # room may have come without a group (close)
        refused = sum(sample.value for metric in m.refused.collect()
                      for sample in metric.samples if sample.name.endswith("_total"))
        if refused > self._refused_seen and not self._refusal_alerted:
            self._refusal_alerted = True
            self._alerts.emit("audit_unavailable", "critical", None,
                              refused=int(refused - self._refused_seen))
        elif refused == self._refused_seen:
            self._refusal_alerted = False
        self._refused_seen = refused
        if writer.free_bytes is not None:
            m.free_bytes.set(writer.free_bytes)
            low = writer.free_bytes < 2 * self.settings.free_space_floor
            if low and not self._floor_alerted:
                self._floor_alerted = True
                self._alerts.emit("audit_disk_low", "critical" if writer.below_floor else "warning",
                                  None, free_bytes=writer.free_bytes,
                                  floor=self.settings.free_space_floor)
            elif not low:
                self._floor_alerted = False
        m.healthy.set(1 if writer.healthy else 0)
        m.pending.set(writer.pending)
        m.dropped.set(writer.dropped)
        m.durable_seq.set(writer.durable_seq)
        if not writer.healthy and not self._unhealthy_alerted:
            self._unhealthy_alerted = True
            self._alerts.emit("audit_write_failure", "critical", None,
                              continuing=self._alert_and_continue)
        elif writer.healthy:
            self._unhealthy_alerted = False
        backlog = writer.pending
        shipper = self.shipper
        if shipper is not None:
            backlog += shipper.backlog
            m.backlog.set(shipper.backlog)
            m.lag.set(shipper.lag)
            m.shipped_seq.set(shipper.committed.seq)
            m.ship_errors.set(shipper.errors)
            if shipper.shipped > self._shipped_seen:
                m.shipped.inc(shipper.shipped - self._shipped_seen)
                self._shipped_seen = shipper.shipped
        threshold = self.settings.backlog_alert
        if backlog > threshold and not self._backlog_alerted:
            self._backlog_alerted = True
            self._alerts.emit("audit_backlog", "warning", None, backlog=backlog,
                              threshold=threshold)
        elif backlog <= threshold // 2:
            self._backlog_alerted = False


def build(settings: AuditSettings, routes: Any, services: Services) -> AuditLayer:
    """Make the audit layer (L{AuditLayer.activate} starts it); stop it (drain, sign, close) at
    reactor shutdown."""
    layer = AuditLayer(settings, services)
    trigger = getattr(services.reactor, "addSystemEventTrigger", None)
    if trigger is not None:
        trigger("before", "shutdown", layer.stop)
    return layer
