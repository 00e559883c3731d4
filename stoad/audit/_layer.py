"""The audit layer: refuses requests while the log cannot be written, records every request.

It runs first in the chain. Its request step is a health check; its completion step captures
the event and queues it for the writer thread; alerts from any layer become C{alert} events.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from twisted.internet.task import LoopingCall

from stoad.audit._chain import load_private_key
from stoad.audit._event import build_alert_event, build_request_event
from stoad.audit._metrics import AuditMetrics, audit_metrics
from stoad.audit._settings import ALERT_AND_CONTINUE, AuditSettings
from stoad.audit._shipper import KafkaShipper
from stoad.audit._writer import AuditChainWriter
from stoad.runtime.context import RequestContext
from stoad.runtime.deny import Deny

if TYPE_CHECKING:
    from stoad.runtime.layers import Services

MONITOR_INTERVAL = 1.0


def worker_directory(settings: AuditSettings, worker_index: int) -> str:
    """Each worker process writes its own chain in its own folder."""
    return os.path.join(settings.directory, f"worker-{worker_index}")


class AuditLayer:
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
            on_records=self._records_written,
            on_write_error=self._write_failed,
        )
        self.shipper: KafkaShipper | None = None
        if settings.kafka is not None:
            kafka = settings.kafka
            self.shipper = KafkaShipper(
                directory, kafka.producer_config(), kafka.topic, kafka.alerts_topic,
                durable_seq=lambda: self.writer.durable_seq,
                max_in_flight=kafka.max_in_flight, commit_interval=kafka.commit_interval,
            )
        self._alerts = services.alerts
        self._alerts.subscribers.append(self.record_alert)
        self._monitor = LoopingCall(self.check)
        self._monitor.clock = services.reactor
        self._backlog_alerted = False
        self._unhealthy_alerted = False
        self._shipped_seen = 0
        self._started = False

    def start(self) -> None:
        self.writer.open()
        if self.writer.repaired_bytes:
            self.record_alert("audit_log_repaired", "warning", None,
                              bytes_removed=self.writer.repaired_bytes)
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
        if self.record_alert in self._alerts.subscribers:
            self._alerts.subscribers.remove(self.record_alert)
        self.writer.close(timeout)
        if self.shipper is not None:
            self.shipper.stop(timeout)
        self.check()

    # -- chain steps ----------------------------------------------------------------------

    def on_request(self, ctx: RequestContext) -> None:
        if not self.writer.accepting and not self._alert_and_continue:
            raise Deny(503, "temporarily_unavailable",
                       "audit log cannot be written: " + (self.writer.error or "queue full"))

    def on_response(self, ctx: RequestContext, head: Any) -> None:
        return None

    def on_complete(self, ctx: RequestContext) -> None:
        event, source = build_request_event(ctx, self._clock.seconds(), self._worker)
        self.writer.append(event, source)

    # -- alerts and health ----------------------------------------------------------------

    def record_alert(self, kind: str, severity: str, ctx: RequestContext | None,
                     **details: Any) -> None:
        """An AlertBus subscriber: count the alert and write it as an C{alert} event."""
        event = build_alert_event(kind, severity, ctx, details, self._clock.seconds(), self._worker)
        self.metrics.alerts.labels(event["alert"], event["severity"]).inc()
        self.writer.append(event, None)

    def _records_written(self, count: int, kinds: dict[str, int]) -> None:
        for kind, n in kinds.items():
            self.metrics.records.labels(kind).inc(n)

    def _write_failed(self, reason: str) -> None:
        self.metrics.write_errors.inc()

    def check(self) -> None:
        """Periodically (on the reactor): publish gauges; alert on backlog and write failure."""
        writer, m = self.writer, self.metrics
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
    """Make and start the audit layer; stop it (drain, sign, close) at reactor shutdown."""
    layer = AuditLayer(settings, services)
    layer.start()
    trigger = getattr(services.reactor, "addSystemEventTrigger", None)
    if trigger is not None:
        trigger("before", "shutdown", layer.stop)
    return layer
