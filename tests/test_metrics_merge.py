"""Per-worker metrics merged by the supervisor: the snapshot a worker answers, the sums and gauge
modes of the merge, counters that stay monotonic across worker restarts, and the /metrics page."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from twisted.internet import defer
from twisted.internet.defer import TimeoutError
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from stoad.audit._metrics import AuditMetrics
from stoad.daemon.admin import MetricsResource
from stoad.daemon.metrics import Metrics
from stoad.daemon.metrics_merge import (
    MetricsSnapshotFactory,
    Snapshot,
    WorkerMetrics,
    decode_snapshot,
    encode_snapshot,
    fetch_snapshot,
)


def worker_metrics(requests: int, open_connections: int, healthy: int = 1,
                   durable_seq: int = 0) -> Metrics:
    """A worker's registry with C{requests} answered on route api and some gauges set."""
    metrics = Metrics()
    for _ in range(requests):
        metrics.requests.labels("api", "200").inc()
        metrics.latency.labels("api").observe(0.003)
    metrics.open_connections.set(open_connections)
    audit = AuditMetrics(metrics.registry)
    audit.healthy.set(healthy)
    audit.durable_seq.set(durable_seq)
    audit.dropped.set(2)
    return metrics


def snapshot_of(metrics: Metrics) -> Snapshot:
    return decode_snapshot(encode_snapshot(metrics.registry))


def exposition(merged: WorkerMetrics) -> str:
    registry = CollectorRegistry()
    registry.register(merged)
    return generate_latest(registry).decode("utf-8")


def value(text: str, sample: str) -> float:
    match = re.search("^" + re.escape(sample) + r" (\S+)$", text, re.MULTILINE)
    assert match is not None, f"{sample} not in:\n{text}"
    return float(match.group(1))


class SnapshotTests(SynchronousTestCase):
    def test_snapshot_round_trip_keeps_every_sample_but_created(self) -> None:
        """A decoded snapshot holds every sample of the registry with its value and labels,
        except C{_created} timestamps (multiprocess mode never exported those)."""
        metrics = worker_metrics(requests=3, open_connections=2)
        snapshot = snapshot_of(metrics)
        requests = snapshot["stoad_requests"]
        self.assertEqual(requests.type, "counter")
        self.assertEqual(requests.samples,
                         {("stoad_requests_total", (("route", "api"), ("status", "200"))): 3.0})
        latency = snapshot["stoad_request_duration_seconds"].samples
        self.assertEqual(latency[("stoad_request_duration_seconds_bucket",
                                  (("le", "+Inf"), ("route", "api")))], 3.0)
        self.assertFalse(any(name.endswith("_created")
                             for f in snapshot.values() for name, _ in f.samples))

    def test_snapshot_carries_each_gauge_mode(self) -> None:
        """Gauges carry the multiprocess_mode they were declared with."""
        snapshot = snapshot_of(worker_metrics(requests=0, open_connections=0))
        self.assertEqual(snapshot["stoad_open_connections"].mode, "livesum")
        self.assertEqual(snapshot["stoad_audit_writer_healthy"].mode, "min")
        self.assertEqual(snapshot["stoad_audit_durable_seq"].mode, "all")

    def test_garbage_is_not_a_snapshot(self) -> None:
        """Bytes that are not a snapshot raise ValueError, never a partial result."""
        for data in (b"", b"{}", b'{"families": [{"name": "x"}]}', b"\xff"):
            self.assertRaises(ValueError, decode_snapshot, data)

    def test_worker_answers_one_snapshot_and_closes(self) -> None:
        """A connection to a worker's metrics socket gets the snapshot, then the worker closes."""
        metrics = worker_metrics(requests=1, open_connections=0)
        proto = MetricsSnapshotFactory(metrics.registry).buildProtocol(None)
        assert proto is not None
        transport = StringTransport()
        proto.makeConnection(transport)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(decode_snapshot(transport.value()), snapshot_of(metrics))

    def test_fetch_reads_until_the_worker_closes(self) -> None:
        """The supervisor's fetch returns the snapshot once the worker has closed."""
        reactor = MemoryReactorClock()
        d = fetch_snapshot(reactor, "/nonexistent/worker-0.sock", 2.0)
        factory = reactor.unixClients[0][1]
        proto = factory.buildProtocol(None)
        proto.makeConnection(StringTransport())
        data = encode_snapshot(worker_metrics(requests=2, open_connections=0).registry)
        proto.dataReceived(data[:10])
        self.assertNoResult(d)
        proto.dataReceived(data[10:])
        proto.connectionLost(Failure(ConnectionDone()))
        snapshot = self.successResultOf(d)
        self.assertEqual(snapshot["stoad_requests"].samples[
            ("stoad_requests_total", (("route", "api"), ("status", "200")))], 2.0)

    def test_fetch_from_a_silent_worker_times_out(self) -> None:
        """A worker that does not answer within the timeout fails the fetch."""
        reactor = MemoryReactorClock()
        d = fetch_snapshot(reactor, "/nonexistent/worker-0.sock", 2.0)
        reactor.advance(2.0)
        self.failureResultOf(d, TimeoutError)


class MergeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.merged = WorkerMetrics()
        self.merged.worker_started(0, 100)
        self.merged.worker_started(1, 101)
        self.merged.update(0, 100, snapshot_of(worker_metrics(3, 2, healthy=1, durable_seq=7)))
        self.merged.update(1, 101, snapshot_of(worker_metrics(4, 5, healthy=0, durable_seq=9)))

    def test_counters_and_histograms_are_summed(self) -> None:
        """Counters, histogram buckets, sums and counts add up over the workers, with the
        metric names and labels one worker has."""
        text = exposition(self.merged)
        self.assertEqual(value(text, 'stoad_requests_total{route="api",status="200"}'), 7.0)
        self.assertEqual(value(
            text, 'stoad_request_duration_seconds_bucket{le="+Inf",route="api"}'), 7.0)
        self.assertEqual(value(
            text, 'stoad_request_duration_seconds_bucket{le="0.0025",route="api"}'), 0.0)
        self.assertEqual(value(
            text, 'stoad_request_duration_seconds_bucket{le="0.005",route="api"}'), 7.0)
        self.assertEqual(value(text, 'stoad_request_duration_seconds_count{route="api"}'), 7.0)
        self.assertAlmostEqual(value(text, 'stoad_request_duration_seconds_sum{route="api"}'),
                               0.021)
        self.assertIn("# TYPE stoad_requests_total counter", text)
        self.assertNotIn("_created", text)

    def test_gauges_combine_by_their_mode(self) -> None:
        """livesum gauges add up, min takes the lowest, all keeps one series per worker pid."""
        text = exposition(self.merged)
        self.assertEqual(value(text, "stoad_open_connections"), 7.0)
        self.assertEqual(value(text, "stoad_audit_dropped_events"), 4.0)
        self.assertEqual(value(text, "stoad_audit_writer_healthy"), 0.0)
        self.assertEqual(value(text, 'stoad_audit_durable_seq{pid="100"}'), 7.0)
        self.assertEqual(value(text, 'stoad_audit_durable_seq{pid="101"}'), 9.0)

    def test_a_dead_workers_counts_stay_in_the_sums(self) -> None:
        """When a worker dies its last counted requests stay in the totals, its gauges leave,
        and its replacement's counts add on top: counters never go down."""
        self.merged.worker_ended(1)
        text = exposition(self.merged)
        self.assertEqual(value(text, 'stoad_requests_total{route="api",status="200"}'), 7.0)
        self.assertEqual(value(text, "stoad_open_connections"), 2.0)
        self.assertEqual(value(text, "stoad_audit_writer_healthy"), 1.0)
        self.assertNotIn('pid="101"', text)
        self.merged.worker_started(1, 102)
        text = exposition(self.merged)
        self.assertEqual(value(text, 'stoad_requests_total{route="api",status="200"}'), 7.0)
        self.merged.update(1, 102, snapshot_of(worker_metrics(1, 0)))
        text = exposition(self.merged)
        self.assertEqual(value(text, 'stoad_requests_total{route="api",status="200"}'), 8.0)
        self.assertEqual(value(
            text, 'stoad_request_duration_seconds_bucket{le="+Inf",route="api"}'), 8.0)

    def test_a_late_snapshot_of_a_replaced_worker_is_ignored(self) -> None:
        """A snapshot that arrives for a pid that is no longer the worker's is dropped, so a
        dead worker's counts are never counted twice."""
        self.merged.worker_ended(1)
        self.merged.worker_started(1, 102)
        self.merged.update(1, 101, snapshot_of(worker_metrics(50, 0)))
        text = exposition(self.merged)
        self.assertEqual(value(text, 'stoad_requests_total{route="api",status="200"}'), 7.0)

    def test_a_worker_without_a_snapshot_adds_nothing(self) -> None:
        """A worker that has not answered yet contributes no series."""
        merged = WorkerMetrics()
        merged.worker_started(0, 100)
        self.assertEqual(list(merged.collect()), [])


class MetricsPageTests(SynchronousTestCase):
    def test_page_takes_fresh_snapshots_before_rendering(self) -> None:
        """/metrics waits for the refresh, then renders the registry as it is after it."""
        registry = CollectorRegistry()
        counter = Counter("stoad_example", "An example.", registry=registry)
        refreshed: defer.Deferred[None] = defer.Deferred()
        resource = MetricsResource(registry, lambda: refreshed)
        request = DummyRequest([b""])
        resource.render_GET(request)  # type: ignore[arg-type]  # DummyRequest stands in
        self.assertEqual(request.finished, 0)
        counter.inc()
        refreshed.callback(None)
        self.assertEqual(request.finished, 1)
        self.assertIn(b"stoad_example_total 1.0", b"".join(request.written))

    def test_gauge_and_histogram_types_survive_the_merge(self) -> None:
        """A merged family keeps its type line (gauge, histogram) for the scraper."""
        registry = CollectorRegistry()
        Gauge("stoad_g", "g", registry=registry, multiprocess_mode="livesum").set(1)
        Histogram("stoad_h", "h", registry=registry).observe(1)
        merged = WorkerMetrics()
        merged.worker_started(0, 1)
        merged.update(0, 1, decode_snapshot(encode_snapshot(registry)))
        text = exposition(merged)
        self.assertIn("# TYPE stoad_g gauge", text)
        self.assertIn("# TYPE stoad_h histogram", text)
