"""The audit layer's Prometheus metrics, registered once per registry."""

from __future__ import annotations

import weakref
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge


class AuditMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.records = Counter("stoad_audit_records_written", "Audit records written and fsynced.",
                               ["event_type"], registry=registry)
        self.write_errors = Counter("stoad_audit_write_errors",
                                    "Failed attempts to write or fsync the audit log.",
                                    registry=registry)
        self.dropped = Gauge("stoad_audit_dropped_events",
                             ("Audit events the writer could not encode since start (each logged as an "
                              "error)."),
                             registry=registry, multiprocess_mode="livesum")
        self.healthy = Gauge("stoad_audit_writer_healthy",
                             "1 while the audit log can be written, else 0 (requests get 503).",
                             registry=registry, multiprocess_mode="min")
        self.pending = Gauge("stoad_audit_pending_events",
                             "Audit events queued in memory, not yet durable.", registry=registry,
                             multiprocess_mode="livesum")
        self.durable_seq = Gauge("stoad_audit_durable_seq", "Last audit record seq fsynced.",
                                 registry=registry, multiprocess_mode="all")
        self.shipped = Counter("stoad_audit_shipped_records",
                               "Audit records acknowledged by Kafka.", registry=registry)
        self.ship_errors = Gauge("stoad_audit_ship_errors",
                                 "Kafka delivery errors since start (records are sent again).",
                                 registry=registry, multiprocess_mode="livesum")
        self.backlog = Gauge("stoad_audit_ship_backlog_records",
                             "Audit records on disk not yet acknowledged by Kafka.",
                             registry=registry, multiprocess_mode="livesum")
        self.lag = Gauge("stoad_audit_ship_lag_seconds",
                         "Age of the oldest audit record not yet acknowledged by Kafka.",
                         registry=registry, multiprocess_mode="max")
        self.shipped_seq = Gauge("stoad_audit_shipped_seq",
                                 "Last audit record seq durably recorded as shipped.",
                                 registry=registry, multiprocess_mode="all")
        self.refused = Counter("stoad_audit_refused_requests",
                               "Requests refused with 503 audit_unavailable because they could "
                               "not be recorded, by reason.", ["reason"], registry=registry)
        self.free_bytes = Gauge("stoad_audit_free_bytes",
                                "Free space in the audit folder's file system.",
                                registry=registry, multiprocess_mode="min")
        self.alerts = Counter("stoad_alerts", "Alerts raised, by kind and severity.",
                              ["kind", "severity"], registry=registry)


_BY_REGISTRY: weakref.WeakKeyDictionary[Any, AuditMetrics] = weakref.WeakKeyDictionary()


def audit_metrics(registry: CollectorRegistry) -> AuditMetrics:
    """The audit metrics on C{registry}, created on first use (a reload builds the layer again)."""
    metrics = _BY_REGISTRY.get(registry)
    if metrics is None:
        metrics = _BY_REGISTRY[registry] = AuditMetrics(registry)
    return metrics
