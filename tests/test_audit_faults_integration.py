"""Proof with faults: real broker, real daemon, recording upstream; nothing that reached it goes unrecorded.

Under steady load (bounded in count and time) the Kafka broker is stopped for longer than the
producer's delivery timeout, a worker is SIGKILLed, then the whole gateway; each comes back.
Afterwards every request the upstream received has its decision and a completion (or an
``incomplete`` one) in the local log, every record is in Kafka under its event_id, and
``stoad audit verify`` (also ``--against-kafka``) passes on the trail and fails on tampered copies.
"""

from __future__ import annotations

import collections
import http.client
import os
import shutil
import signal
import tempfile
import threading
import time
from typing import Any

import orjson
from twisted.trial.unittest import TestCase

from stoad.audit._chain import HEAD, load_private_key, log_files, sign_checkpoint
from stoad.audit._witness import collect, read_topic
from tests.support import kafka
from tests.support.audit import log_records, run_cli, write_key
from tests.support.daemon import StoadDaemon, gateway_config
from tests.support.kafka import shared_broker
from tests.support.upstream import Upstream

MAX_REQUESTS = 4000  # the load stops at this count ...
MAX_SECONDS = 150.0  # ... or after this long, whichever comes first
DELIVERY_TIMEOUT = "3s"  # the producer gives a record up (and stoad sends it again) after this


class _Load:
    """Two clients sending requests one after another until stopped or bounded out."""

    def __init__(self, daemon: StoadDaemon) -> None:
        self.daemon = daemon
        self.statuses: collections.Counter[int] = collections.Counter()
        self.failures = 0  # connection errors: the gateway was being killed
        self.sent = 0
        self.stop = threading.Event()
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(2)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _run(self, client: int) -> None:
        while not self.stop.is_set():
            with self.lock:
                if self.sent >= MAX_REQUESTS or time.monotonic() - self.started > MAX_SECONDS:
                    return
                self.sent += 1
                n = self.sent
            try:
                status, _, _ = self.daemon.request(
                    "POST", f"/api/echo/{client}/{n}", body=b'{"n": %d}' % n,
                    headers={"content-type": "application/json"}, timeout=15.0)
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.failures += 1
                self.stop.wait(0.05)  # back off while the gateway is down, not a synchronisation
                continue
            with self.lock:
                self.statuses[status] += 1

    def answered(self) -> int:
        return self.statuses[200]

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def _outages_over(messages: list[str]) -> bool:
    """True once each shipper that logged "Kafka unreachable" has logged "reachable again" after it."""
    open_outages: set[str] = set()
    for message in messages:
        if not message.startswith("audit shipper "):
            continue
        chain = message[len("audit shipper "):].split(":", 1)[0]
        if "Kafka unreachable" in message:
            open_outages.add(chain)
        elif "reachable again" in message:
            open_outages.discard(chain)
    return bool(messages) and not open_outages


class FaultTests(TestCase):
    def setUp(self) -> None:
        self.broker = shared_broker()
        self.base = tempfile.mkdtemp(prefix="stoad-audit-faults-")
        self.addCleanup(shutil.rmtree, self.base, True)
        self.key = write_key(self.base)
        self.topic = f"faults-{os.getpid()}"
        self.broker.create_topic(self.topic)
        self.broker.create_topic(self.topic + ".checkpoints", partitions=1)

    def gateway(self, upstream: Upstream) -> StoadDaemon:
        from stoad.dev.devpki import write_dev_pki

        pki = write_dev_pki(os.path.join(self.base, "pki"))
        self.audit_dir = os.path.join(self.base, "audit")
        text = gateway_config(
            pki, state_dir=os.path.join(self.base, "state"),
            admin_socket=os.path.join(self.base, "admin.sock"),
            routes={"api": {"prefix": "/api", "upstream": upstream.url}},
            layers=("audit",), server={"workers": "2"},
            sections={
                "audit": {"directory": self.audit_dir, "signing_key": self.key,
                          "fsync_interval": "10ms", "rotate_size": "64k",
                          "checkpoint_interval": "2s",
                          # a loaded 2-core CI box: room for a few fsyncs in a row
                          "durable_wait": "500ms"},
                "audit.kafka": {"bootstrap_servers": self.broker.bootstrap,
                                "security_protocol": "plaintext", "topic": self.topic,
                                "commit_interval": "20ms",
                                "delivery_timeout": DELIVERY_TIMEOUT},
            },
        )
        daemon = StoadDaemon(self.base, text, pki=pki)
        self.addCleanup(daemon.kill)
        return daemon

    def metric(self, daemon: StoadDaemon, name: str) -> float:
        total = 0.0
        for line in daemon.metrics().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def test_faults_leave_every_forwarded_call_on_record_and_in_kafka(self) -> None:
        """Broker outage, worker SIGKILL and gateway SIGKILL under load: the trail is whole."""
        upstream = Upstream()
        self.addCleanup(upstream.stop)
        daemon = self.gateway(upstream)
        daemon.start()
        load = _Load(daemon)
        self.addCleanup(load.finish)
        load.start()
        events: list[str] = []

        def progressed(more: int) -> None:
            target = load.answered() + more
            daemon.wait_until(lambda: load.answered() >= target, 60, f"{target} answered requests")

        progressed(100)
        # 1. The broker goes away for longer than the producer's delivery timeout.
        self.broker.stop()
        events.append("broker stopped")
        try:
            daemon.wait_until(lambda: self.metric(daemon, "stoad_audit_ship_errors") > 0, 60,
                              "a record given up by the producer (delivery timeout)")
            progressed(100)
        finally:
            self.broker.start()
        events.append("broker restarted")
        # The outage ends when every shipper that saw it delivers again (after a restart the
        # broker's coordinator can take seconds to hand out a producer id); only then a kill.
        daemon.wait_until(lambda: _outages_over(daemon.log_messages()), 120,
                          "every shipper reporting Kafka reachable again")
        progressed(100)
        # 2. One worker is SIGKILLed mid-load; the supervisor starts it again.
        victim = daemon.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        events.append("worker SIGKILLed")
        daemon.wait_until(lambda: (daemon.status() or {}).get("workers", [{}])[0].get("pid")
                          not in (None, victim), 60, "the worker replaced")
        daemon.wait_for_state("ready", 60)
        progressed(100)
        # 3. The whole gateway is SIGKILLed mid-load and started again.
        daemon.kill()
        events.append("gateway SIGKILLed")
        daemon.start()
        events.append("gateway restarted")
        progressed(100)
        load.finish()
        daemon.stop()
        kafka_lines = [m for m in daemon.log_messages() if "Kafka" in m or "librdkafka" in m]
        # One warning when an outage starts, figures every 30 s, one notice at its end, per
        # worker: a handful of lines, not one per record.
        self.assertLess(len(kafka_lines), 40, "\n".join(kafka_lines[:60]))
        self.assertTrue(any("Kafka unreachable" in m for m in kafka_lines), kafka_lines)
        self.assertTrue(any("reachable again" in m for m in kafka_lines), kafka_lines)

        received = {value for r in upstream.requests for name, value in r["headers"]
                    if name == "x-request-id"}
        chains = sorted(os.path.join(self.audit_dir, name) for name in os.listdir(self.audit_dir)
                        if name.startswith("worker-"))
        records = [record for chain in chains for record in log_records(chain, self.key)]
        decisions = {r["request_id"]: r for r in records if r.get("record_type") == "decision"}
        completions = collections.defaultdict(list)
        for record in records:
            if record.get("record_type") == "completion":
                completions[record["decision_event_id"]].append(record)
        missing_decision = received - set(decisions)
        missing_completion = [rid for rid in received
                              if len(completions.get(decisions[rid]["event_id"], [])) != 1] \
            if not missing_decision else []
        incomplete = sum(1 for c in completions.values() for r in c if r["outcome"] == "incomplete")
        self.assertEqual(missing_decision, set())
        self.assertEqual(missing_completion, [])

        copy = self.kafka_copy(records)
        by_id = {r["event_id"] for r in records}
        self.assertEqual(copy.conflicting, [])
        # Exactly one copy per event_id: a restarted shipper reads Kafka back before sending again.
        self.assertEqual(copy.duplicates, 0)
        in_kafka = {orjson.loads(v)["event_id"] for seqs in copy.records.values()
                    for v in seqs.values()}
        self.assertEqual(in_kafka, by_id)

        code, out, _ = run_cli("audit", "verify", "--key", self.key, self.audit_dir)
        self.assertEqual(code, 0, out)
        against = ("--against-kafka", "--bootstrap", self.broker.bootstrap, "--topic", self.topic)
        code, out_kafka, _ = run_cli("audit", "verify", "--key", self.key, *against,
                                     self.audit_dir)
        self.assertEqual(code, 0, out_kafka)

        tampering = self.tampering_is_caught(chains[0], against)
        print(f"\naudit fault test: {' -> '.join(events)}\n"
              f"  load: {load.sent} sent, statuses {dict(load.statuses)}, "
              f"{load.failures} connection errors while killed\n"
              f"  upstream received {len(received)}; every one has its decision and exactly "
              f"one completion ({incomplete} of them incomplete/worker_died)\n"
              f"  local records {len(records)} in {len(chains)} chains; kafka: "
              f"{copy.messages} messages, {len(by_id)} distinct event_ids (all local ones), "
              f"{copy.duplicates} duplicate copies, 0 conflicting\n"
              f"  verify: OK; --against-kafka: OK; tampered copies caught: {tampering}\n"
              f"  Kafka-related log lines for the whole run: {len(kafka_lines)}\n"
              f"{out_kafka}")

    def kafka_copy(self, records: list[dict[str, Any]]) -> Any:
        """Read both topics once every local record has arrived (bounded)."""
        wanted = {r["event_id"] for r in records}

        def complete() -> Any:
            values = read_topic(self.broker.bootstrap, self.topic)
            found = {orjson.loads(v)["event_id"] for v in values}
            return values if wanted <= found else None

        values = kafka.wait_for(complete, 120.0, "every local record in kafka", interval=1.0)
        return collect(values, read_topic(self.broker.bootstrap, self.topic + ".checkpoints"))

    def tampering_is_caught(self, chain: str, against: tuple[str, ...]) -> list[str]:
        """Truncate the newest record, edit one, delete a file: verify and the witness fail."""
        caught = []

        def tampered(name: str) -> str:
            copy = os.path.join(self.base, "tampered-" + name)
            shutil.copytree(self.audit_dir, copy)
            return os.path.join(copy, os.path.basename(chain))

        def assert_fails(directory: str, what: str, *, local: bool = True) -> None:
            parent = os.path.dirname(directory)
            code, out, _ = run_cli("audit", "verify", "--key", self.key, parent)
            self.assertEqual(code, 0 if not local else 1, f"{what}: {out}")
            code, out, _ = run_cli("audit", "verify", "--key", self.key, *against, parent)
            self.assertEqual(code, 1, f"{what} --against-kafka: {out}")
            caught.append(what)

        files = [os.path.join(chain, n) for _, n in log_files(chain)]
        self.assertGreater(len(files), 2, "rotate_size should have made several files")

        directory = tampered("truncate")
        newest = os.path.join(directory, os.path.basename(files[-1]))
        with open(newest, "rb") as f:
            lines = f.readlines()
        with open(newest, "wb") as f:
            f.writelines(lines[:-1])
        assert_fails(directory, "newest record truncated")

        directory = tampered("edit")
        middle = os.path.join(directory, os.path.basename(files[1]))
        with open(middle, "rb") as f:
            lines = f.readlines()
        edited = next(i for i, line in enumerate(lines) if b'"method":"POST"' in line)
        lines[edited] = lines[edited].replace(b'"method":"POST"', b'"method":"GETS"')
        with open(middle, "wb") as f:
            f.writelines(lines)
        assert_fails(directory, "one record edited")

        directory = tampered("delete")
        os.remove(os.path.join(directory, os.path.basename(files[1])))
        assert_fails(directory, "a file deleted")

        # Root with the key cuts the tail and signs the shorter chain anew: only the witness sees it.
        directory = tampered("resign")
        newest = os.path.join(directory, os.path.basename(files[-1]))
        with open(newest, "rb") as f:
            lines = f.readlines()
        with open(newest, "wb") as f:
            f.writelines(lines[:-1])
        last = orjson.loads(lines[-2])
        signed = sign_checkpoint(load_private_key(self.key), last["seq"], last["hash"],
                                 os.path.basename(newest), "2030-01-01T00:00:00.000Z",
                                 chain=os.path.basename(chain))
        with open(os.path.join(directory, HEAD), "wb") as f:
            f.write(signed)
        checkpoints = os.path.join(directory, "checkpoints.jsonl")
        with open(checkpoints, "rb") as f:
            kept = [p for p in f.readlines() if orjson.loads(p)["seq"] <= last["seq"]]
        with open(checkpoints, "wb") as f:
            f.writelines(kept)
        assert_fails(directory, "tail cut and re-signed with the key (kafka only)", local=False)
        return caught
