"""The audit shipper against a real Apache Kafka broker (KRaft, from the Maven jars).

One broker serves the whole module; each test ships to its own topics and reads them back with
a real consumer, matching events to the local log by event_id.
"""

from __future__ import annotations

import collections
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from types import SimpleNamespace
from typing import Any

import orjson
from prometheus_client import CollectorRegistry
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import TestCase

from stoad.audit._layer import AuditLayer
from stoad.runtime.layers import AlertBus, Services
from tests.support import kafka
from tests.support.audit import context, kafka_settings, log_records, settings, write_key
from tests.support.kafka import shared_broker


class BrokerFixture(TestCase):
    """A fresh audit folder, signing key and topic per test, on the module's broker."""

    def setUp(self) -> None:
        self.broker = shared_broker()
        self.base = tempfile.mkdtemp(prefix="stoad-audit-")
        self.addCleanup(shutil.rmtree, self.base, True)
        self.key = write_key(self.base)
        self.topic = f"audit-{self.id().rsplit('.', 1)[-1]}-{os.getpid()}"
        self.broker.create_topic(self.topic)

    def layer(self, alerts_topic: str | None = None) -> AuditLayer:
        services = Services(reactor=MemoryReactorClock(), alerts=AlertBus(),
                            metrics=SimpleNamespace(registry=CollectorRegistry()))
        audit = settings(os.path.join(self.base, "audit"), self.key,
                         kafka=kafka_settings(self.broker.bootstrap, self.topic, alerts_topic))
        layer = AuditLayer(audit, services)
        layer.start()
        self.addCleanup(layer.stop, 10.0)
        self.services = services
        return layer

    def wait_shipped(self, layer: AuditLayer, timeout: float = 60.0) -> None:
        assert layer.shipper is not None
        shipper, writer = layer.shipper, layer.writer
        self.assertTrue(writer.wait_durable(timeout))
        kafka.wait_for(lambda: shipper.committed.seq >= writer.durable_seq, timeout,
                       f"the shipper to reach seq {writer.durable_seq}")

    def consume(self, topic: str, want: set[str], timeout: float = 60.0) -> list[Any]:
        missing = set(want)

        def have_all(message: Any) -> bool:
            missing.discard(orjson.loads(message.value())["event_id"])
            return not missing

        return kafka.consume_all(self.broker.bootstrap, topic, have_all, timeout)

    def assertExactlyOnce(self, messages: list[Any], records: list[dict[str, Any]]) -> None:
        counts = collections.Counter(orjson.loads(m.value())["event_id"] for m in messages)
        self.assertEqual(set(counts), {r["event_id"] for r in records})
        self.assertEqual([i for i, n in counts.items() if n != 1], [])


class KafkaShippingTests(BrokerFixture):
    def test_every_event_arrives_exactly_once(self) -> None:
        """Each request's event reaches Kafka exactly once, keyed by consumer; alerts to their topic."""
        alerts_topic = self.topic + "-alerts"
        self.broker.create_topic(alerts_topic)
        layer = self.layer(alerts_topic)
        for n in range(1500):
            layer.on_complete(context(n, consumer=f"consumer-{n % 7}", arguments={"n": n}))
            if n % 500 == 0:
                self.services.alerts.emit("guardrail_block", "warning", context(n), detector="ssn")
        self.wait_shipped(layer)
        records = log_records(layer.writer.directory, self.key)
        requests = [r for r in records if r["event_type"] != "alert"]
        alerts = [r for r in records if r["event_type"] == "alert"]
        self.assertEqual((len(requests), len(alerts)), (1500, 3))
        messages = self.consume(self.topic, {r["event_id"] for r in requests})
        self.assertExactlyOnce(messages, requests)
        for message in messages:
            self.assertEqual(message.key().decode(), orjson.loads(message.value())["consumer_id"])
        self.assertExactlyOnce(self.consume(alerts_topic, {r["event_id"] for r in alerts}), alerts)
        layer.stop(10.0)
        self.assertEqual(layer.metrics.backlog._value.get(), 0)

    def test_broker_down_backlog_drains(self) -> None:
        """With the broker stopped, events pile up on disk and all arrive once it is back."""
        layer = self.layer()
        assert layer.shipper is not None
        for n in range(300):
            layer.on_complete(context(n))
        self.wait_shipped(layer)
        self.broker.stop()
        try:
            for n in range(300, 900):
                layer.on_complete(context(n))
            self.assertTrue(layer.writer.wait_durable(30.0))
            kafka.wait_for(lambda: layer.shipper.backlog >= 600, 10.0, "the backlog to build up")
            self.assertLessEqual(layer.shipper.committed.seq, 300)
        finally:
            self.broker.start()
        self.wait_shipped(layer, timeout=120.0)
        records = log_records(layer.writer.directory, self.key)
        self.assertEqual(len(records), 900)
        self.assertExactlyOnce(self.consume(self.topic, {r["event_id"] for r in records}), records)

    def test_shipper_killed_mid_load_resumes(self) -> None:
        """After SIGKILL mid-load, a restarted shipper delivers the rest; duplicates share event_id."""
        directory = os.path.join(self.base, "audit", "worker-0")
        command = [sys.executable, "-m", "tests.support.kafka", directory, self.key,
                   self.broker.bootstrap, self.topic]
        child = subprocess.Popen(command + ["4000"], cwd=kafka.REPO, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(lambda: child.poll() is None and child.kill())
        progress: dict[str, int] = {"written": 0, "shipped": 0}
        ready = threading.Event()

        def follow() -> None:
            assert child.stdout is not None
            for line in child.stdout:
                what, _, number = line.strip().partition(" ")
                if what in progress:
                    progress[what] = int(number)
                if progress["written"] >= 1500 and progress["shipped"] >= 200:
                    ready.set()
            ready.set()

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        self.assertTrue(ready.wait(120.0), "the child never got half-way")
        self.assertIsNone(child.poll(), "the child finished before it could be killed")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        reader.join(10)
        written_before = progress["written"]
        self.assertLess(written_before, 4000)

        restarted = subprocess.run(command + ["1000"], cwd=kafka.REPO, capture_output=True,
                                   text=True, timeout=180)
        self.assertEqual(restarted.returncode, 0, restarted.stdout[-500:])
        self.assertIn("done", restarted.stdout)

        records = log_records(directory, self.key)
        self.assertGreaterEqual(len(records), written_before + 1000)
        by_id = {r["event_id"]: r for r in records}
        messages = self.consume(self.topic, set(by_id), timeout=90.0)
        self.assertEqual({orjson.loads(m.value())["event_id"] for m in messages}, set(by_id))
        for message in messages:
            record = orjson.loads(message.value())
            self.assertEqual(record, by_id[record["event_id"]])  # a duplicate is the same record


class GatewayKilledTests(BrokerFixture):
    """The same guarantees through the real daemon (`twist stoad`), SIGKILLed mid-load."""

    def test_gateway_sigkilled_mid_load_resumes(self) -> None:
        """stoad SIGKILLed under load and restarted: every logged event reaches Kafka, dupes identical."""
        from stoad.dev.devpki import write_dev_pki
        from tests.support.daemon import StoadDaemon, gateway_config
        from tests.support.upstream import Upstream

        pki = write_dev_pki(os.path.join(self.base, "pki"))
        upstream = Upstream()
        self.addCleanup(upstream.stop)
        audit_dir = os.path.join(self.base, "audit")
        text = gateway_config(
            pki, state_dir=os.path.join(self.base, "state"),
            admin_socket=os.path.join(self.base, "admin.sock"),
            routes={"api": {"prefix": "/api", "upstream": upstream.url}},
            layers=("audit",),
            sections={
                "audit": {"directory": audit_dir, "signing_key": self.key,
                          "fsync_interval": "10ms"},
                "audit.kafka": {"bootstrap_servers": self.broker.bootstrap,
                                "security_protocol": "plaintext", "topic": self.topic,
                                "commit_interval": "20ms"},
            },
        )
        daemon = StoadDaemon(self.base, text, pki=pki)
        self.addCleanup(daemon.kill)
        daemon.start()
        directory = os.path.join(audit_dir, "worker-0")
        answered: list[int] = []
        stop_load = threading.Event()

        def load() -> None:
            n = 0
            while not stop_load.is_set():
                try:
                    status, _, _ = daemon.request("POST", f"/api/echo/{n}", body=b'{"n": %d}' % n,
                                                  headers={"content-type": "application/json"})
                except (OSError, http.client.HTTPException):
                    return  # the gateway was killed under us
                if status == 200:
                    answered.append(n)
                n += 1

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        kafka.wait_for(lambda: len(answered) >= 150 and os.path.exists(
            os.path.join(directory, "shipped.json")), 60.0, "load and shipping under way")
        daemon.kill()  # SIGKILL to the whole process group while requests are in flight
        stop_load.set()
        loader.join(30)
        daemon.start()
        for n in range(100_000, 100_100):
            status, _, _ = daemon.request("POST", f"/api/echo/{n}", body=b"{}",
                                          headers={"content-type": "application/json"})
            self.assertEqual(status, 200, daemon.output()[-3000:])
        daemon.stop()
        records = log_records(directory, self.key)
        paths = {r["path"] for r in records if r.get("record_type") in ("decision", "request")}
        self.assertLessEqual({f"/api/echo/{n}" for n in range(100_000, 100_100)}, paths)
        self.assertGreaterEqual(len(paths), 150)
        by_id = {r["event_id"]: r for r in records}
        messages = self.consume(self.topic, set(by_id), timeout=90.0)
        for message in messages:
            record = orjson.loads(message.value())
            self.assertEqual(record, by_id[record["event_id"]])
