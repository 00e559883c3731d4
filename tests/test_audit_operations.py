"""Quiet, readable operations (one warning per Kafka outage) and a trail with nothing recoverable."""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable

from cryptography.hazmat.primitives import serialization
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase

from stoad.audit import _shipper
from stoad.audit._chain import CHECKPOINTS, load_private_key
from stoad.audit._event import ParametersKey, build_request_event, parameters_hash
from stoad.audit._shipper import LIBRDKAFKA_LOG, KafkaShipper
from stoad.audit._writer import AuditChainWriter
from stoad.audit.plugin import PLUGIN
from stoad.config._reader import ConfigError, Problems
from stoad.runtime.layers import SectionSource
from tests.support.audit import context, run_cli, write_key


class _Error:
    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name

    def fatal(self) -> bool:
        return False

    def __str__(self) -> str:
        return f"KafkaError{{code={self._name}}}"


class FakeProducer:
    """Acknowledges on poll() while C{up}; while down every delivery fails (a timed-out message)."""

    def __init__(self) -> None:
        self.up = True
        self.pending: list[tuple[str, bytes, Callable[..., None]]] = []
        self.delivered: list[tuple[str, bytes]] = []

    def produce(self, topic: str, value: bytes, key: Any = None, headers: Any = None,
                on_delivery: Callable[..., None] | None = None) -> None:
        assert on_delivery is not None
        self.pending.append((topic, value, on_delivery))

    def poll(self, timeout: float = 0.0) -> int:
        pending, self.pending = self.pending, []
        for topic, value, callback in pending:
            if self.up:
                self.delivered.append((topic, value))
                callback(None, None)
            else:
                callback(_Error("_MSG_TIMED_OUT"), None)
        return len(pending)

    def flush(self, timeout: float = 0.0) -> int:
        self.poll()
        return 0


class OutageLoggingTests(TestCase):
    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        self.key = write_key(self.base)
        self.directory = os.path.join(self.base, "worker-0")
        self.writer = AuditChainWriter(self.directory, load_private_key(self.key))
        self.writer.open()
        self.producer = FakeProducer()
        self.shipper = KafkaShipper(self.directory, {}, "audit", durable_seq=lambda: self.writer.durable_seq,
                                    producer_factory=lambda config: self.producer,
                                    checkpoints_topic="audit.checkpoints", commit_interval=0.0)
        self.shipper._producer = self.producer
        self.messages: list[str] = []
        observer = lambda event: self.messages.append(formatEvent(event))  # noqa: E731
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

    def write(self, count: int, start: int = 0) -> None:
        for n in range(start, start + count):
            self.writer.append(*build_request_event(context(n), 1_700_000_001.0, 0))
        self.writer.close()  # synchronous commit (no thread), signs a checkpoint

    def step(self, times: int) -> None:
        for _ in range(times):
            self.shipper._step()

    def test_an_outage_is_one_warning_figures_and_one_notice(self) -> None:
        """A broker outage of many failed records logs one warning, then one notice at the end."""
        self.write(50)
        self.producer.up = False
        self.step(200)  # every record is sent and fails, again and again
        self.assertGreater(self.shipper.errors, 100)
        warnings = [m for m in self.messages if "Kafka unreachable" in m]
        self.assertEqual(len(warnings), 1, self.messages[:5])
        self.shipper._outage_reported -= _shipper.OUTAGE_REPORT_INTERVAL
        self.step(1)
        self.assertEqual(len([m for m in self.messages if "still unreachable" in m]), 1)
        self.assertIn("backlog 50 records", [m for m in self.messages if "still" in m][0])
        self.producer.up = True
        self.step(20)
        self.assertEqual(len([m for m in self.messages if "reachable again" in m]), 1)
        self.assertLess(len(self.messages), 6, self.messages)
        self.assertEqual(self.shipper.committed.seq, 50)

    def test_checkpoints_are_shipped_to_their_topic(self) -> None:
        """Each signed checkpoint line goes to the checkpoints topic, and its position is kept."""
        self.write(10)
        self.step(10)
        shipped = [value for topic, value in self.producer.delivered if topic == "audit.checkpoints"]
        with open(os.path.join(self.directory, CHECKPOINTS), "rb") as f:
            self.assertEqual(shipped, f.read().splitlines())
        self.assertEqual(self.shipper.committed.checkpoints,
                         os.path.getsize(os.path.join(self.directory, CHECKPOINTS)))

    def test_records_kafka_already_holds_are_not_sent_again(self) -> None:
        """
        After a crash (records past the saved position), the shipper reads Kafka back first and
        skips what is there; while Kafka cannot be read, it sends nothing and warns once.
        """
        self.write(10)
        answers: list[Any] = [OSError("broker away"), OSError("broker away"), {3, 4, 5}]

        def read_back(shipper: KafkaShipper, after: int) -> set[int]:
            self.assertEqual(after, 0)
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return set(answer)

        self.shipper._read_back = read_back
        self.shipper._rewind = True  # what _run does when durable > saved position
        for _ in range(2):
            self.shipper._step()
            self.shipper._next_read_back = 0.0
        self.assertEqual(self.producer.delivered, [])
        self.assertEqual(len([m for m in self.messages if "cannot read Kafka back" in m]), 1)
        self.step(10)
        seqs = [json.loads(v)["seq"] for t, v in self.producer.delivered if t == "audit"]
        self.assertEqual(seqs, [1, 2, 6, 7, 8, 9, 10])
        self.assertEqual((self.shipper.committed.seq, self.shipper.skipped_in_kafka), (10, 3))

    def test_librdkafka_messages_go_to_the_json_log_throttled(self) -> None:
        """librdkafka's log lines reach stoad's log, a repeated one (numbers aside) only once."""
        logger = logging.getLogger("stoad.audit.kafka")
        self.assertFalse(logger.propagate)
        LIBRDKAFKA_LOG._last.clear()
        for attempt in range(30):
            logger.warning("FAIL [rdkafka#producer-1] Connect to 127.0.0.1:%d failed (%d)",
                           9092, attempt)
        lines = [m for m in self.messages if m.startswith("librdkafka:")]
        self.assertEqual(len(lines), 1)


class KeyedHashTests(TestCase):
    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        os.makedirs(self.base)
        self.key_path = os.path.join(self.base, "parameters.key")
        with open(self.key_path, "wb") as f:
            f.write(b"k" * 64 + b"\n")
        self.key = ParametersKey(b"k" * 64)

    def test_keyed_hash_is_not_a_plain_digest(self) -> None:
        """Equal arguments hash alike under one key; the plain SHA-256 of them is not in the event."""
        a = parameters_hash(("json", {"ssn": "123-45-6789", "b": 1}), self.key)
        b = parameters_hash(("json", {"b": 1, "ssn": "123-45-6789"}), self.key)
        plain = parameters_hash(("json", {"b": 1, "ssn": "123-45-6789"}))
        other = parameters_hash(("json", {"b": 1, "ssn": "123-45-6789"}), ParametersKey(b"x" * 64))
        self.assertEqual(a, b)
        assert a is not None and plain is not None
        self.assertTrue(a.startswith("hmac-sha256:"))
        self.assertNotEqual(a.split(":")[1], plain.split(":")[1])
        self.assertNotEqual(a, other)

    def test_short_key_refused(self) -> None:
        """A key under 32 bytes is refused (it could be guessed)."""
        self.assertRaises(ValueError, ParametersKey, b"short")

    def test_investigator_checks_a_suspected_value(self) -> None:
        """`stoad audit hash-params --expect` says whether a suspected value is what was sent."""
        event_hash = parameters_hash(("json", {"ssn": "123-45-6789"}), self.key)
        assert event_hash is not None
        code, out, _ = run_cli("audit", "hash-params", "--key", self.key_path, "--arguments",
                               '{ "ssn" : "123-45-6789" }', "--expect", event_hash)
        self.assertEqual(code, 0, out)
        self.assertIn("MATCH", out)
        self.assertIn(f"key_id={self.key.key_id}", out)
        code, out, _ = run_cli("audit", "hash-params", "--key", self.key_path, "--arguments",
                               '{"ssn": "000-00-0000"}', "--expect", event_hash)
        self.assertEqual(code, 1)
        self.assertIn("NO MATCH", out)

    def test_body_file(self) -> None:
        """A raw body is hashed the way the gateway hashes it (JSON canonicalised)."""
        body = os.path.join(self.base, "body.json")
        with open(body, "wb") as f:
            f.write(b'{"b": 2,  "a": 1}')
        code, out, _ = run_cli("audit", "hash-params", "--key", self.key_path, "--body-file", body)
        self.assertEqual(code, 0)
        self.assertIn(str(parameters_hash(("json", {"a": 1, "b": 2}), self.key)), out)


class KeySettingsTests(TestCase):
    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        self.key = write_key(self.base)
        self.other = write_key(self.base, "other.key")
        for path in (self.key, self.other):
            with open(path + ".pub", "wb") as f:
                f.write(load_private_key(path).public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def parse(self, **audit: str) -> Any:
        problems = Problems()
        result = PLUGIN.parse_settings(SectionSource(
            {"audit": {"directory": "log", "signing_key": "audit.key", **audit}}, problems,
            self.base))
        problems.raise_if_any()
        return result

    def test_signing_key_must_be_listed(self) -> None:
        """public_keys that leave out the signing key's public key are refused at start-up."""
        error = self.assertRaises(ConfigError, self.parse, public_keys="other.key.pub")
        self.assertIn("[audit] public_keys", str(error))
        result = self.parse(public_keys="other.key.pub, audit.key.pub")
        self.assertEqual(len(result.public_keys), 2)

    def test_retention_needs_kafka_and_short_parameters_key_refused(self) -> None:
        """Retention without Kafka (nothing would ever count as shipped) and a short key are refused."""
        with open(os.path.join(self.base, "short.key"), "wb") as f:
            f.write(b"short")
        error = str(self.assertRaises(ConfigError, self.parse, retain_size="1g",
                                      parameters_key="short.key"))
        self.assertIn("needs an [audit.kafka] section", error)
        self.assertIn("at least 32 bytes", error)

    def test_verify_takes_the_keys_from_the_config(self) -> None:
        """`verify --config` trusts [audit] public_keys: a chain signed by another key fails."""
        from stoad.dev.devpki import write_dev_pki
        from tests.support.daemon import gateway_config

        pki = write_dev_pki(os.path.join(self.base, "pki"))
        directory = os.path.join(self.base, "log", "worker-0")
        writer = AuditChainWriter(directory, load_private_key(self.key))
        writer.open()
        writer.append(*build_request_event(context(0), 1_700_000_001.0, 0))
        writer.close()
        ini = os.path.join(self.base, "stoad.ini")
        for keys, expected in (("audit.key.pub", 0), ("other.key.pub", 1)):
            signing = "audit.key" if keys == "audit.key.pub" else "other.key"
            with open(ini, "w") as f:
                f.write(gateway_config(
                    pki, state_dir=self.base, admin_socket=os.path.join(self.base, "a.sock"),
                    routes={"api": {"prefix": "/api", "upstream": "http://127.0.0.1:1"}},
                    layers=("audit",), sections={"audit": {
                        "directory": os.path.join(self.base, "log"),
                        "signing_key": os.path.join(self.base, signing),
                        "public_keys": os.path.join(self.base, keys)}}))
            code, out, err = run_cli("audit", "verify", "--config", ini,
                                     os.path.join(self.base, "log"))
            self.assertEqual(code, expected, out + err)
