"""A real single-node Apache Kafka broker (KRaft) for integration tests, run from the Maven jars.

`make kafka-jars` (mk/kafka.mk) fetches the jars into .cache/kafka/libs; L{KafkaBroker} formats
storage in a temporary folder, starts C{kafka.Kafka} on 127.0.0.1 with free ports, waits (bounded)
until a client can list topics, and can stop and restart on the same log folder.

Also a child-process driver for the shipper tests (`python -m tests.support.kafka ...`): it runs
the real audit writer and shipper, so that a test can SIGKILL it mid-load.
"""

from __future__ import annotations

import atexit
import base64
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from typing import Any, Callable

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIBS = os.path.join(REPO, ".cache", "kafka", "libs")
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0

_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""


def jars_available() -> bool:
    """True when the broker jars have been fetched (`make kafka-jars`)."""
    return os.path.isdir(LIBS) and any(n.startswith("kafka_2.13-") for n in os.listdir(LIBS))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll C{condition} until it returns something true; raise after C{timeout} seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class KafkaBroker:
    """
    One KRaft broker+controller process. C{start()} formats storage on first use and returns
    once the broker answers metadata requests; C{stop()} sends SIGTERM and waits; the log
    folder survives, so C{start()} again brings back every topic and message.
    """

    def __init__(self, base_dir: str, heap: str = "-Xmx512m") -> None:
        self.base_dir = base_dir
        self.port = free_port()
        self.controller_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.heap = heap
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(base_dir, "server.log")
        self._formatted = False
        self._stdout: Any = None
        atexit.register(self.kill)

    @property
    def _config_path(self) -> str:
        return os.path.join(self.base_dir, "server.properties")

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            "java", self.heap, "-Xms64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={os.path.join(self.base_dir, 'log4j2.properties')}",
            "-cp", os.path.join(LIBS, "*"), main, *args,
        ]

    def _write_config(self) -> None:
        os.makedirs(self.base_dir, exist_ok=True)
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": os.path.join(self.base_dir, "data"),
            "num.partitions": "3",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "log.flush.interval.messages": "1",
        }
        with open(self._config_path, "w") as f:
            f.writelines(f"{k}={v}\n" for k, v in lines.items())
        with open(os.path.join(self.base_dir, "log4j2.properties"), "w") as f:
            f.write(_LOG4J2.format(log=self.log_path))

    def _format(self) -> None:
        self._write_config()
        cluster_id = "-"
        while cluster_id.startswith("-"):  # the tool would take a leading "-" for an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", self._config_path),
            check=True, capture_output=True, timeout=120,
        )
        self._formatted = True

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the broker (formatting storage the first time); return once it serves metadata."""
        if not jars_available():
            raise RuntimeError("Kafka jars missing: run `make kafka-jars`")
        if not self._formatted:
            self._format()
        self._stdout = open(os.path.join(self.base_dir, "stdout.log"), "ab")
        self.process = subprocess.Popen(
            self._java("kafka.Kafka", self._config_path),
            stdout=self._stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        try:
            wait_for(self._ready, timeout, f"the Kafka broker on {self.bootstrap}", interval=0.25)
        except BaseException:
            self.kill()
            raise

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"Kafka exited with {self.process.returncode}; see {self.base_dir}")
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0,
                             "logger": _quiet_logger()})
        try:
            metadata = admin.list_topics(timeout=1.0)
        except Exception:
            return False
        return bool(metadata.brokers)

    def create_topic(self, name: str, partitions: int = 3, timeout: float = 30.0) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=timeout)
        futures[name].result(timeout=timeout)

        def has_leaders() -> bool:
            topic = admin.list_topics(name, timeout=2.0).topics.get(name)
            return bool(topic and topic.partitions and
                        all(p.leader >= 0 for p in topic.partitions.values()))

        wait_for(has_leaders, timeout, f"leaders for topic {name}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the broker and wait for a clean shutdown (SIGKILL after C{timeout})."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None

    def kill(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None


_shared: list[KafkaBroker] = []


def shared_broker() -> KafkaBroker:
    """One broker for every test of a run, started on first use, killed at exit."""
    if not _shared:
        if not jars_available():
            from twisted.trial.unittest import SkipTest

            raise SkipTest("Kafka jars not fetched: run `make kafka-jars`")
        import shutil
        import tempfile

        directory = tempfile.mkdtemp(prefix="stoad-kafka-")
        atexit.register(shutil.rmtree, directory, True)
        broker = KafkaBroker(directory)
        broker.start()
        _shared.append(broker)
    broker = _shared[0]
    if broker.process is None:
        broker.start()  # a test that stopped it failed before starting it again
    return broker


def _quiet_logger() -> Any:
    import logging

    logger = logging.getLogger("tests.kafka.admin")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


def consume_all(bootstrap: str, topic: str, complete: Callable[[Any], bool],
                timeout: float) -> list[Any]:
    """
    Read C{topic} from the beginning with a fresh consumer group, passing each message to
    C{complete} until it returns True (or raise after C{timeout}), then read on for two more
    seconds so that a duplicate right behind shows up. Returns every message read.
    """
    from confluent_kafka import Consumer

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"test-{uuid.uuid4().hex}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
    })
    consumer.subscribe([topic])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    done = False
    try:
        while not done:
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumed {len(messages)} messages from {topic}; "
                                   f"wanted more within {timeout:.0f}s")
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            messages.append(message)
            done = complete(message)
        quiet_until = time.monotonic() + 2.0
        while time.monotonic() < quiet_until:
            message = consumer.poll(0.2)
            if message is not None and not message.error():
                messages.append(message)
    finally:
        consumer.close()
    return messages


def run_shipping_child(argv: list[str]) -> int:
    """
    `python -m tests.support.kafka DIR KEY BOOTSTRAP TOPIC COUNT`: run the real audit writer and
    Kafka shipper on DIR, record COUNT request events (making each 20 durable before going on, so a test can
    kill it mid-load), then wait until the shipper's recorded position reaches the end of the
    log and exit 0. Prints C{written N} and C{shipped SEQ} lines as it goes; shipping is kept
    close behind writing, so a kill at any moment lands with records in every state.
    """
    from stoad.audit._chain import load_private_key
    from stoad.audit._event import build_request_event
    from stoad.audit._shipper import KafkaShipper
    from stoad.audit._writer import AuditChainWriter
    from tests.support.audit import context, kafka_settings

    directory, key, bootstrap, topic, count = argv[0], argv[1], argv[2], argv[3], int(argv[4])
    writer = AuditChainWriter(directory, load_private_key(key), fsync_interval=0.005)
    writer.open()
    writer.start()
    kafka = kafka_settings(bootstrap, topic)
    shipper = KafkaShipper(directory, kafka.producer_config(), topic,
                           durable_seq=lambda: writer.durable_seq, commit_interval=0.02)
    shipper.start()
    for n in range(count):
        writer.append(*build_request_event(context(n, arguments={"n": n}), time.time(), 0))
        if n % 20 == 19:
            writer.wait_durable(10.0)
            # Keep the shipper within 200 records of the writer, so that at any moment some
            # records are shipped and recorded, some in flight, and some not yet read.
            wait_for(lambda: shipper.committed.seq >= writer.durable_seq - 200, 60.0,
                     "the shipper to keep up")
            print(f"written {n + 1}", flush=True)
            print(f"shipped {shipper.committed.seq}", flush=True)
    if not writer.wait_durable(30.0):
        return 3
    writer.close()
    print(f"written {count}", flush=True)
    deadline = time.monotonic() + 120.0
    while shipper.committed.seq < writer.durable_seq:
        if time.monotonic() > deadline:
            return 4
        time.sleep(0.02)
    shipper.stop()
    print(f"shipped {shipper.committed.seq}", flush=True)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_shipping_child(sys.argv[1:]))
