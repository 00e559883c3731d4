"""The audit layer in the chain: fail closed when the log cannot be written, alerts, settings."""

from __future__ import annotations

import errno
import os
import threading
from types import SimpleNamespace

import orjson
from prometheus_client import CollectorRegistry
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import TestCase

from stoad.audit._chain import ChainReader, file_name, load_private_key, log_files
from stoad.audit._layer import AuditLayer
from stoad.audit.plugin import PLUGIN
from stoad.config._reader import ConfigError, Problems
from stoad.runtime.deny import Deny
from stoad.runtime.layers import AlertBus, SectionSource, Services
from tests.support.audit import context, settings, write_key


class LayerFixture(TestCase):
    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        self.key = write_key(self.base)
        self.clock = MemoryReactorClock()
        self.clock.advance(1_700_000_000.0)
        self.bus = AlertBus()
        self.registry = CollectorRegistry()
        self.services = Services(reactor=self.clock, metrics=SimpleNamespace(registry=self.registry),
                                 alerts=self.bus, worker_index=2)

    def layer(self, **overrides: object) -> AuditLayer:
        layer = AuditLayer(settings(os.path.join(self.base, "audit"), self.key, **overrides),
                           self.services)
        layer.start()
        self.addCleanup(layer.stop, 5.0)
        return layer

    def records(self, layer: AuditLayer) -> list[dict[str, object]]:
        self.assertTrue(layer.writer.wait_durable(10.0))
        reader = ChainReader(layer.writer.directory, load_private_key(self.key).public_key())
        records = list(reader.records())
        self.assertTrue(reader.report.ok, reader.report.errors)
        return records

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


class RecordingTests(LayerFixture):
    def test_every_request_recorded_per_worker(self) -> None:
        """on_complete records one event per request, in this worker's own chain folder."""
        layer = self.layer()
        for n in range(5):
            layer.on_request(context(n))
            layer.on_complete(context(n))
        records = self.records(layer)
        self.assertEqual([r["request_id"] for r in records], [f"req-{n}" for n in range(5)])
        self.assertTrue(layer.writer.directory.endswith(os.path.join("audit", "worker-2")))
        self.assertEqual(self.metric("stoad_audit_records_written_total", event_type="tool_call"), 5)

    def test_alerts_written_and_counted(self) -> None:
        """Alerts on the bus become alert events with a severity, and are counted by kind."""
        layer = self.layer()
        self.bus.emit("token_certificate_mismatch", "critical", context(1), x5t="abc")
        self.bus.emit("guardrail_block", "warning", context(2), detector="ssn",
                      matched_text="078-05-1120")
        records = self.records(layer)
        self.assertEqual([(r["alert"], r["severity"]) for r in records],
                         [("token_certificate_mismatch", "critical"), ("guardrail_block", "warning")])
        self.assertEqual(records[1]["details"], {"detector": "ssn", "matched_text": "[redacted]"})
        self.assertEqual(self.metric("stoad_alerts_total", kind="guardrail_block",
                                     severity="warning"), 1)

    def test_backlog_alert(self) -> None:
        """A backlog above the threshold raises one audit_backlog alert until it drains."""
        layer = self.layer(backlog_alert=3, fsync_interval=10.0, fsync_batch=100_000)
        raised: list[str] = []
        self.bus.subscribers.append(lambda kind, severity, ctx, **d: raised.append(kind))
        for n in range(10):
            layer.on_complete(context(n))
        self.clock.advance(1.0)
        self.clock.advance(1.0)
        self.assertEqual(raised, ["audit_backlog"])
        self.assertTrue(layer.writer.wait_durable(10.0))
        self.clock.advance(1.0)
        self.assertEqual(self.metric("stoad_audit_pending_events"), 0)

    def test_stop_signs_head(self) -> None:
        """Stopping the layer writes what is queued and signs the chain head."""
        layer = self.layer(fsync_interval=10.0, fsync_batch=100_000)
        layer.on_complete(context(1))
        layer.stop(5.0)
        reader = ChainReader(layer.writer.directory, load_private_key(self.key).public_key())
        report = reader.verify()
        self.assertTrue(report.ok, report.errors)
        self.assertEqual((report.records, report.unsigned_tail), (1, 0))

    def test_unopenable_log_fails_startup(self) -> None:
        """If the chain folder cannot be created, the layer refuses to start."""
        os.makedirs(self.base, exist_ok=True)
        with open(os.path.join(self.base, "audit"), "w") as f:
            f.write("not a folder")
        layer = AuditLayer(settings(os.path.join(self.base, "audit"), self.key), self.services)
        self.assertRaises(OSError, layer.start)


class FailClosedTests(LayerFixture):
    def _break_next_file(self, layer: AuditLayer) -> str:
        """Make the next log file unopenable (a symlink: the writer never follows one)."""
        directory = layer.writer.directory
        target = os.path.join(directory, file_name(layer.writer.durable_seq + 1))
        os.symlink(os.path.join(self.base, "elsewhere"), target)
        layer.writer._rotate_size = 1
        return target

    def test_unwritable_log_denies_with_503(self) -> None:
        """When the log cannot be written, requests get 503 until it can be written again."""
        layer = self.layer()
        layer.on_complete(context(0))
        self.assertTrue(layer.writer.wait_durable(5.0))
        trap = self._break_next_file(layer)
        layer.on_complete(context(1))
        self.assertFalse(layer.writer.wait_durable(0.5))
        self.assertFalse(layer.writer.healthy)
        deny = self.assertRaises(Deny, layer.on_request, context(2))
        self.assertEqual((deny.status, deny.error), (503, "audit_unavailable"))
        self.assertIn("audit log cannot record", deny.reason)
        self.assertEqual(self.metric("stoad_audit_refused_requests_total", reason="write_failure"), 1)
        self.clock.advance(1.0)
        self.assertEqual(self.metric("stoad_audit_writer_healthy"), 0)
        self.assertGreater(self.metric("stoad_audit_write_errors_total"), 0)
        os.remove(trap)
        layer.writer._wake.set()
        self.assertTrue(layer.writer.wait_durable(5.0))
        layer.on_request(context(3))
        records = self.records(layer)
        self.assertEqual([r["request_id"] for r in records if r["event_type"] != "alert"],
                         ["req-0", "req-1"])
        self.assertEqual(sorted(r["alert"] for r in records if r["event_type"] == "alert"),
                         ["audit_unavailable", "audit_write_failure"])

    def test_disk_full_mid_write_keeps_chain_intact(self) -> None:
        """A write that fails half-way (ENOSPC) is rolled back and retried: no torn record."""
        layer = self.layer()
        real_write = os.write
        failures = [1]

        def short_then_full(fd: int, data: bytes) -> int:
            if failures:
                failures.pop()
                real_write(fd, bytes(data[:10]))
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(fd, data)

        self.patch(os, "write", short_then_full)
        layer.on_complete(context(0))
        layer.on_complete(context(1))
        self.assertTrue(layer.writer.wait_durable(10.0))
        records = self.records(layer)
        self.assertEqual([r["seq"] for r in records], [1, 2])

    def test_alert_and_continue(self) -> None:
        """With the alarming on_write_failure key, requests go on and a critical alert is raised."""
        layer = self.layer(on_write_failure="alert_and_continue_do_not_use")
        raised: list[tuple[str, str]] = []
        self.bus.subscribers.append(lambda kind, severity, ctx, **d: raised.append((kind, severity)))
        layer.on_complete(context(0))
        self.assertTrue(layer.writer.wait_durable(5.0))
        self._break_next_file(layer)
        layer.on_complete(context(1))
        self.assertFalse(layer.writer.wait_durable(0.5))
        layer.on_request(context(2))
        self.clock.advance(1.0)
        self.assertIn(("audit_write_failure", "critical"), raised)

    def test_queue_full_waits_then_denies(self) -> None:
        """
        A full queue (writer stuck) is backpressure: the request waits durable_wait for room,
        then gets 503 audit_unavailable; the refusal is counted and raises one critical alert.
        Nothing is dropped: records of admitted requests are still queued.
        """
        layer = self.layer(max_pending=100, fsync_interval=10.0, fsync_batch=100_000,
                           durable_wait=0.02)
        raised: list[tuple[str, str]] = []
        self.bus.subscribers.append(lambda kind, severity, ctx, **d: raised.append((kind, severity)))
        stuck = threading.Lock()
        stuck.acquire()
        self.patch(layer.writer, "_commit_once", lambda: stuck.acquire(timeout=5.0))
        layer.writer._wake.set()
        for n in range(150):
            layer.on_complete(context(n))
        self.assertEqual(layer.writer.appended, 150)
        waiting = layer.on_request(context(1000))
        assert waiting is not None
        self.assertNoResult(waiting)
        self.clock.advance(0.02)
        deny = self.failureResultOf(waiting, Deny).value
        self.assertEqual((deny.status, deny.error), (503, "audit_unavailable"))
        self.assertEqual(self.metric("stoad_audit_refused_requests_total", reason="queue_full"), 1)
        self.clock.advance(1.0)
        self.assertIn(("audit_unavailable", "critical"), raised)
        stuck.release()

    def test_queue_full_admits_when_room_comes(self) -> None:
        """A request waiting for room goes on as soon as the writer catches up."""
        layer = self.layer(max_pending=100, durable_wait=5.0)
        layer.writer._queue.extend(({"event_type": "alert"}, None) for _ in range(150))
        waiting = layer.on_request(context(1))
        assert waiting is not None
        layer.writer._queue.clear()
        layer.check()
        self.successResultOf(waiting)


class SettingsTests(TestCase):
    def parse(self, sections: dict[str, dict[str, str]]) -> object:
        problems = Problems()
        source = SectionSource(sections, problems, self.base)
        result = PLUGIN.parse_settings(source)
        problems.raise_if_any()
        return result

    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        self.key = write_key(self.base)

    def test_defaults(self) -> None:
        """Only directory and signing_key are required; the rest has safe defaults."""
        result = self.parse({"audit": {"directory": "log", "signing_key": "audit.key"}})
        self.assertEqual(result.directory, os.path.join(self.base, "log"))
        self.assertEqual((result.fsync_every, result.on_write_failure), (False, "fail_closed"))
        self.assertIsNone(result.kafka)

    def test_every_problem_reported(self) -> None:
        """Unknown keys, bad values and a missing key are all reported at once."""
        error = self.assertRaises(ConfigError, self.parse, {"audit": {
            "directory": "log", "signing_key": "nope.key", "fsync": "sometimes",
            "on_write_failure": "continue", "colour": "blue"}})
        text = str(error)
        for fragment in ("[audit] signing_key", "[audit] fsync", "[audit] on_write_failure",
                         "[audit] colour: unknown key"):
            self.assertIn(fragment, text)

    def test_kafka_plaintext_off_loopback_refused(self) -> None:
        """Shipping the audit trail in plaintext to another host needs an alarming key."""
        sections = {"audit": {"directory": "log", "signing_key": "audit.key"},
                    "audit.kafka": {"bootstrap_servers": "kafka.example:9092",
                                    "security_protocol": "plaintext"}}
        self.assertIn("unencrypted", str(self.assertRaises(ConfigError, self.parse, sections)))
        sections["audit.kafka"]["allow_plaintext_off_loopback_do_not_use"] = "yes"
        self.assertEqual(self.parse(sections).kafka.security_protocol, "plaintext")

    def test_kafka_tls_and_sasl(self) -> None:
        """TLS and SASL settings map to librdkafka's; the password comes from its file."""
        with open(os.path.join(self.base, "ca.pem"), "w") as f:
            f.write("ca")
        with open(os.path.join(self.base, "kafka.pw"), "w") as f:
            f.write("s3cret\n")
        result = self.parse({"audit": {"directory": "log", "signing_key": "audit.key"},
                             "audit.kafka": {"bootstrap_servers": "kafka.example:9093",
                                             "security_protocol": "sasl_ssl",
                                             "ssl_ca": "ca.pem", "sasl_mechanism": "scram-sha-512",
                                             "sasl_username": "stoad",
                                             "sasl_password_file": "kafka.pw",
                                             "topic": "audit", "alerts_topic": "alerts"}})
        config = result.kafka.producer_config()
        self.assertEqual(config["security.protocol"], "SASL_SSL")
        self.assertEqual(config["sasl.mechanisms"], "SCRAM-SHA-512")
        self.assertEqual(config["sasl.password"], "s3cret")
        self.assertEqual(config["ssl.ca.location"], os.path.join(self.base, "ca.pem"))
        self.assertEqual((result.kafka.topic, result.kafka.alerts_topic), ("audit", "alerts"))

    def test_kafka_sasl_incomplete(self) -> None:
        """sasl_ssl without credentials is a configuration error, not a silent anonymous login."""
        error = self.assertRaises(ConfigError, self.parse, {
            "audit": {"directory": "log", "signing_key": "audit.key"},
            "audit.kafka": {"bootstrap_servers": "127.0.0.1:9092",
                            "security_protocol": "sasl_ssl"}})
        self.assertIn("needs sasl_mechanism", str(error))

    def test_kafka_protocol_must_be_explicit(self) -> None:
        """The broker's security protocol has no default."""
        error = self.assertRaises(ConfigError, self.parse, {
            "audit": {"directory": "log", "signing_key": "audit.key"},
            "audit.kafka": {"bootstrap_servers": "127.0.0.1:9092"}})
        self.assertIn("[audit.kafka] security_protocol: required", str(error))

    def test_build_through_plugin(self) -> None:
        """The plugin builds a layer that starts when activated and stops at reactor shutdown."""
        clock = MemoryReactorClock()
        result = self.parse({"audit": {"directory": "log", "signing_key": "audit.key"}})
        services = Services(reactor=clock, metrics=SimpleNamespace(registry=CollectorRegistry()),
                            alerts=AlertBus(), worker_index=0)
        layer = PLUGIN.build(result, (), services)
        self.assertFalse(layer._started)
        layer.activate()
        self.addCleanup(layer.stop, 5.0)
        self.assertEqual(layer.name, "audit")
        layer.on_complete(context(1))
        self.assertTrue(layer.writer.wait_durable(5.0))
        self.assertEqual(len(log_files(layer.writer.directory)), 1)
        stops = [call[0] for call in clock.triggers["before"]["shutdown"]]
        self.assertIn(layer.stop, stops)
        with open(os.path.join(layer.writer.directory, log_files(layer.writer.directory)[0][1]),
                  "rb") as f:
            self.assertEqual(orjson.loads(f.readline())["request_id"], "req-1")


class PublicSurfaceTests(TestCase):
    def test_exports(self) -> None:
        """stoad.audit re-exports exactly its public surface, and every name exists."""
        import stoad.audit

        self.assertEqual(sorted(stoad.audit.__all__), [
            "AuditChainWriter", "AuditLayer", "AuditSettings", "ChainReader", "ChainReport",
            "KafkaSettings", "KafkaShipper", "build_alert_event", "build_request_event",
            "canonical", "chain_directories", "load_private_key", "load_public_key",
            "parameters_hash", "sanitize_details", "worker_directory"])
        for name in stoad.audit.__all__:
            self.assertTrue(hasattr(stoad.audit, name), name)
