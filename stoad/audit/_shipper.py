"""Ships one audit chain to Kafka from the local log, recording the acknowledged position durably.

Runs on its own thread around a confluent-kafka (librdkafka) producer; the reactor never waits on
it. After a crash it resumes from the recorded position: records acknowledged but not yet recorded
are sent again, so duplicates happen only across a crash and carry the same event_id.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import orjson
from twisted.logger import Logger, LogLevel

from stoad.audit._chain import CHECKPOINTS, SHIPPED, fsync_directory, log_files
from stoad.audit._event import parse_rfc3339_ms

log = Logger()
_READ_CHUNK = 1 << 20
OUTAGE_REPORT_INTERVAL = 30.0
READ_BACK_RETRY = 2.0
_LIBRDKAFKA_REPEAT = 300.0  # the same librdkafka message (numbers aside) at most once per 5 min
_OUTAGE_CODES = ("_TRANSPORT", "_ALL_BROKERS_DOWN", "_MSG_TIMED_OUT", "_TIMED_OUT",
                 "_RESOLVE", "NETWORK_EXCEPTION", "REQUEST_TIMED_OUT")


class _LibrdkafkaLog(logging.Handler):
    """
    librdkafka's own messages (handed over by the C{logger} setting from C{poll()}, on the
    shipper thread) into stoad's JSON log, each distinct message at most once per five minutes:
    a broker outage otherwise repeats "Connect failed" on every reconnect attempt.
    """

    _LEVELS = {logging.DEBUG: LogLevel.debug, logging.INFO: LogLevel.info,
               logging.WARNING: LogLevel.warn, logging.ERROR: LogLevel.error,
               logging.CRITICAL: LogLevel.critical}

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[str, float] = {}
        self.suppressed = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        key = re.sub(r"\d+", "N", text)[:200]
        now = time.monotonic()
        if now - self._last.get(key, -_LIBRDKAFKA_REPEAT) < _LIBRDKAFKA_REPEAT:
            self.suppressed += 1
            return
        if len(self._last) > 1000:
            self._last.clear()
        self._last[key] = now
        level = self._LEVELS.get(record.levelno, LogLevel.info)
        log.emit(level, "librdkafka: {message}", message=text[:1000])


LIBRDKAFKA_LOG = _LibrdkafkaLog()
_kafka_logger = logging.getLogger("stoad.audit.kafka")
_kafka_logger.addHandler(LIBRDKAFKA_LOG)
_kafka_logger.setLevel(logging.INFO)
_kafka_logger.propagate = False  # never to stderr as plain text


@dataclass
class Position:
    """Just after record C{seq}, which ends at byte C{offset} of log file C{file}."""

    seq: int = 0
    file: str = ""
    offset: int = 0
    checkpoints: int = 0  # bytes of checkpoints.jsonl acknowledged by Kafka


def load_position(directory: str) -> Position:
    try:
        with open(os.path.join(directory, SHIPPED), "rb") as f:
            data = orjson.loads(f.read())
        return Position(int(data["seq"]), str(data["file"]), int(data["offset"]),
                        int(data.get("checkpoints", 0)))
    except FileNotFoundError:
        return Position()
    except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
        log.error("audit shipper: {dir}/{name} is unreadable; shipping again from the start",
                  dir=directory, name=SHIPPED)
        return Position()


def save_position(directory: str, position: Position) -> None:
    """Replace the position file atomically and durably (write, fsync, rename, fsync folder)."""
    path = os.path.join(directory, SHIPPED)
    temporary = path + ".tmp"
    data = orjson.dumps({"seq": position.seq, "file": position.file, "offset": position.offset,
                         "checkpoints": position.checkpoints})
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    fsync_directory(directory)


class _Sent:
    __slots__ = ("seq", "file", "offset", "timestamp", "acked")

    def __init__(self, seq: int, file: str, offset: int, timestamp: float) -> None:
        self.seq, self.file, self.offset, self.timestamp = seq, file, offset, timestamp
        self.acked = False


class KafkaShipper:
    """
    Tails the chain in C{directory} and produces each record (the log line itself) to C{topic}
    keyed by consumer_id; C{alert} records go to C{alerts_topic} when one is set. Only records
    up to C{durable_seq()} are read, so nothing is shipped that a power cut could take back.
    Each signed checkpoint goes to C{checkpoints_topic} (keyed by the chain's folder name): the
    witness outside the machine that C{stoad audit verify --against-kafka} compares with.

    @ivar backlog: records written but not yet acknowledged by the broker.
    @ivar lag: seconds since the oldest unacknowledged record was written (0 when none).
    """

    def __init__(
        self,
        directory: str,
        producer_config: dict[str, Any],
        topic: str,
        alerts_topic: str | None = None,
        durable_seq: Callable[[], int] | None = None,
        max_in_flight: int = 10_000,
        commit_interval: float = 0.2,
        on_progress: Callable[[KafkaShipper], None] | None = None,
        producer_factory: Callable[[dict[str, Any]], Any] | None = None,
        checkpoints_topic: str | None = None,
        read_back: Callable[[KafkaShipper, int], set[int]] | None = None,
    ) -> None:
        self.directory = directory
        self._config = dict(producer_config)
        self.topic = topic
        self.alerts_topic = alerts_topic
        self._durable_seq = durable_seq
        self._max_in_flight = max_in_flight
        self._commit_interval = commit_interval
        self._on_progress = on_progress
        self._factory = producer_factory or _confluent_producer
        self.checkpoints_topic = checkpoints_topic
        self.chain = os.path.basename(os.path.normpath(directory))
        self._config["error_cb"] = self._client_error
        self._read_back = read_back if read_back is not None else (
            _read_back_tail if producer_factory is None else None)
        self.skipped_in_kafka = 0  # records not sent again because Kafka already held them
        self._next_read_back = 0.0
        self._read_back_failing = False

        self.committed = load_position(directory)
        self._acked = Position(self.committed.seq, self.committed.file, self.committed.offset)
        self._read = Position(self.committed.seq, self.committed.file, self.committed.offset)
        self._in_flight: collections.deque[_Sent] = collections.deque()
        self._by_seq: dict[int, _Sent] = {}
        self._rewind = False
        self._skip: set[int] = set()
        self._fatal = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: Any = None
        self._last_commit = 0.0
        self._drain_timeout = 10.0
        self.backlog = 0
        self.lag = 0.0
        self.shipped = 0
        self.errors = 0
        self.last_error = ""
        self._checkpoint_acked = self.committed.checkpoints
        self._checkpoint_sending: int | None = None  # end offset of the checkpoint in flight
        self.outage_since: float | None = None
        self._outage_reported = 0.0
        self.outages = 0

    def start(self) -> None:
        self._producer = self._factory(self._config)
        self._thread = threading.Thread(target=self._run, name=f"audit-shipper:{self.directory}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """
        Ship what is durable (giving the broker C{timeout} seconds), record the position, stop.
        Call it after the writer is closed, so the last records it wrote go too.
        """
        self._drain_timeout = timeout
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout + 5.0)

    # -- the shipper thread ---------------------------------------------------------------

    def _already_in_kafka(self, after: int) -> set[int] | None:
        """
        Seqs after C{after} that Kafka already holds: records acknowledged after the last saved
        position (a crash) or delivered although their delivery was reported as failed (a
        timeout). Skipping them makes shipping exactly-once per event_id. None while Kafka
        cannot be read: the resend waits (nothing could be delivered meanwhile anyway).
        """
        if self._read_back is None:
            return set()
        now = time.monotonic()
        if now < self._next_read_back:
            return None
        try:
            found = self._read_back(self, after)
        except Exception as e:
            self._next_read_back = now + READ_BACK_RETRY
            if not self._read_back_failing:
                self._read_back_failing = True
                log.warn("audit shipper {chain}: cannot read Kafka back ({error}); sending again "
                         "once it can", chain=self.chain, error=str(e)[:200])
            return None
        self._read_back_failing = False
        self.skipped_in_kafka += len(found)
        return found

    def _run(self) -> None:
        # Records after the saved position may be in Kafka already (a crash came between the
        # acknowledgement and the save): start as after a failed delivery, with a read-back.
        self._rewind = self._durable_seq is not None and self._durable_seq() > self.committed.seq
        while not self._stopping.is_set():
            try:
                self._step()
            except Exception as e:
                self.errors += 1
                self.last_error = f"{type(e).__name__}: {e}"
                log.error("audit shipper step failed: {error}", error=self.last_error)
                self._stopping.wait(1.0)
        try:
            self._drain(self._drain_timeout)
        except Exception as e:
            log.error("audit shipper could not finish cleanly: {error}", error=repr(e))

    def _drain(self, timeout: float) -> None:
        """At shutdown: send what the writer made durable last, wait for acks, record them."""
        if self._producer is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._rewind and not self._fatal:
            limit = self._durable_seq() if self._durable_seq is not None else None
            if limit is not None and self._read.seq >= limit and not self._by_seq:
                break
            if len(self._in_flight) < self._max_in_flight:
                self._send_more()
            self._send_checkpoint()
            self._producer.poll(0.05)
        self._send_checkpoint()
        self._producer.flush(max(0.0, deadline - time.monotonic()))
        self._producer.poll(0)
        self._commit(force=True)

    def _step(self) -> None:
        self._producer.poll(0.05 if self._in_flight else 0.0)
        if self._fatal:
            # A fatal idempotence error poisons the producer: start a fresh one, send again.
            log.error("audit shipper: fatal producer error ({error}); recreating the producer",
                      error=self.last_error)
            self._producer = self._factory(self._config)
            self._fatal = False
            self._rewind = True
            self._by_seq.clear()
        if self._rewind and not self._by_seq:
            # Send again from the first record not acknowledged, skipping those that were and
            # those Kafka holds although their delivery was reported as failed.
            in_kafka = self._already_in_kafka(self._acked.seq)
            if in_kafka is None:
                self._measure()
                self._report_outage()
                self._stopping.wait(0.2)
                return
            self._skip = {s.seq for s in self._in_flight if s.acked} | in_kafka
            self._read = Position(self._acked.seq, self._acked.file, self._acked.offset)
            self._in_flight.clear()
            self._checkpoint_sending = None
            self._rewind = False
        sent = 0
        if not self._rewind and len(self._in_flight) < self._max_in_flight:
            sent = self._send_more()
        self._send_checkpoint()
        self._commit(force=False)
        self._measure()
        self._report_outage()
        if not sent and not self._in_flight:
            self._stopping.wait(0.05)

    def _send_more(self) -> int:
        limit = self._durable_seq() if self._durable_seq is not None else None
        files = log_files(self.directory)
        if not files:
            return 0
        if not self._read.file:
            self._read = Position(self._read.seq, files[0][1], 0)
        names = [name for _, name in files]
        sent = 0
        while len(self._in_flight) < self._max_in_flight:
            newer = [n for n in names if n > self._read.file]
            chunk = self._read_chunk()
            if chunk is None:
                if not newer:
                    return sent
                self._read = Position(self._read.seq, newer[0], 0)
                continue
            for line, end in chunk:
                record = orjson.loads(line)
                seq = int(record["seq"])
                if seq <= self._read.seq:
                    self._read.offset = end  # already shipped before a rewind or crash
                    continue
                if limit is not None and seq > limit:
                    return sent
                entry = _Sent(seq, self._read.file, end, parse_rfc3339_ms(record["timestamp"]))
                if seq in self._skip:
                    self._skip.discard(seq)
                    entry.acked = True
                    self._in_flight.append(entry)
                    self._advance()
                else:
                    if not self._produce(record, line):
                        return sent
                    self._in_flight.append(entry)
                    self._by_seq[seq] = entry
                    sent += 1
                self._read = Position(seq, self._read.file, end)
                if len(self._in_flight) >= self._max_in_flight:
                    return sent
        return sent

    def _read_chunk(self) -> list[tuple[bytes, int]] | None:
        path = os.path.join(self.directory, self._read.file)
        try:
            with open(path, "rb") as f:
                f.seek(self._read.offset)
                data = f.read(_READ_CHUNK)
        except FileNotFoundError:
            return None
        end = data.rfind(b"\n")
        if end < 0:
            return None
        lines = []
        offset = self._read.offset
        for line in data[:end].split(b"\n"):
            offset += len(line) + 1
            lines.append((line, offset))
        return lines

    def _produce(self, record: dict[str, Any], line: bytes) -> bool:
        topic = self.topic
        if self.alerts_topic and record.get("event_type") == "alert":
            topic = self.alerts_topic
        consumer = record.get("consumer_id")
        key = consumer.encode() if isinstance(consumer, str) else None
        seq = int(record["seq"])
        try:
            self._producer.produce(
                topic, value=line, key=key,
                headers=[("event_id", str(record.get("event_id", "")).encode()),
                         ("event_type", str(record.get("event_type", "")).encode())],
                on_delivery=lambda err, msg, seq=seq: self._delivered(seq, err),
            )
        except BufferError:
            return False
        return True

    def _send_checkpoint(self) -> None:
        """Produce the next signed checkpoint line (one at a time: they are rare)."""
        if self.checkpoints_topic is None or self._checkpoint_sending is not None:
            return
        try:
            with open(os.path.join(self.directory, CHECKPOINTS), "rb") as f:
                f.seek(self._checkpoint_acked)
                data = f.read(65536)
        except FileNotFoundError:
            return
        end = data.find(b"\n")
        if end < 0:
            return
        line = data[:end]
        after = self._checkpoint_acked + end + 1
        try:
            self._producer.produce(
                self.checkpoints_topic, value=line, key=self.chain.encode(),
                headers=[("chain", self.chain.encode())],
                on_delivery=lambda err, msg, after=after: self._checkpoint_delivered(after, err),
            )
        except BufferError:
            return
        self._checkpoint_sending = after

    def _checkpoint_delivered(self, after: int, error: Any) -> None:
        self._checkpoint_sending = None
        if error is not None:
            self._delivery_failed(error)
            return
        self._checkpoint_acked = after
        self._delivery_ok()

    def _delivered(self, seq: int, error: Any) -> None:
        entry = self._by_seq.pop(seq, None)
        if entry is None:
            return
        if error is not None:
            self._delivery_failed(error)
            self._rewind = True
            return
        entry.acked = True
        self.shipped += 1
        self._advance()
        self._delivery_ok()

    # -- an outage is one warning, periodic figures and one notice ----------------------------

    def _delivery_failed(self, error: Any) -> None:
        self.errors += 1
        self.last_error = str(error)
        if getattr(error, "fatal", lambda: False)():
            self._fatal = True
        self._outage_started(str(error))

    def _client_error(self, error: Any) -> None:
        """librdkafka's error callback (from poll(), on the shipper thread)."""
        code = getattr(error, "name", lambda: "")()
        if getattr(error, "fatal", lambda: False)():
            self._fatal = True
            self.last_error = str(error)
        if code in _OUTAGE_CODES or self._fatal:
            self._outage_started(str(error))
        else:
            LIBRDKAFKA_LOG.handle(logging.makeLogRecord(
                {"msg": f"client error: {error}", "levelno": logging.WARNING,
                 "levelname": "WARNING"}))

    def _outage_started(self, reason: str) -> None:
        if self.outage_since is not None:
            return
        self.outage_since = self._outage_reported = time.monotonic()
        self.outages += 1
        log.warn("audit shipper {chain}: Kafka unreachable ({reason}); records stay on disk and "
                 "are sent when it is back", chain=self.chain, reason=reason[:300])

    def _report_outage(self) -> None:
        if self.outage_since is None:
            return
        now = time.monotonic()
        if now - self._outage_reported < OUTAGE_REPORT_INTERVAL:
            return
        self._outage_reported = now
        log.warn("audit shipper {chain}: Kafka still unreachable after {seconds}s; backlog "
                 "{backlog} records, oldest {lag}s", chain=self.chain,
                 seconds=round(now - self.outage_since), backlog=self.backlog,
                 lag=round(self.lag))

    def _delivery_ok(self) -> None:
        if self.outage_since is None:
            return
        seconds = time.monotonic() - self.outage_since
        self.outage_since = None
        log.info("audit shipper {chain}: Kafka reachable again after {seconds}s; sending a "
                 "backlog of {backlog} records", chain=self.chain, seconds=round(seconds, 1),
                 backlog=self.backlog)

    def _advance(self) -> None:
        in_flight = self._in_flight
        while in_flight and in_flight[0].acked:
            done = in_flight.popleft()
            self._acked = Position(done.seq, done.file, done.offset)

    def _commit(self, force: bool) -> None:
        if (self._acked.seq == self.committed.seq
                and self._checkpoint_acked == self.committed.checkpoints):
            return
        now = time.monotonic()
        if not force and now - self._last_commit < self._commit_interval:
            return
        position = Position(self._acked.seq, self._acked.file, self._acked.offset,
                            self._checkpoint_acked)
        save_position(self.directory, position)
        self.committed, self._last_commit = position, now
        if self._on_progress is not None:
            self._on_progress(self)

    def _measure(self) -> None:
        head = self._durable_seq() if self._durable_seq is not None else self._read.seq
        self.backlog = max(0, head - self._acked.seq)
        oldest = next((s for s in self._in_flight if not s.acked), None)
        self.lag = max(0.0, time.time() - oldest.timestamp) if oldest and self.backlog else 0.0


def _read_back_tail(shipper: KafkaShipper, after: int, timeout: float = 5.0) -> set[int]:
    """
    The seqs of C{shipper}'s chain after C{after} in the last C{max_in_flight} (+ margin)
    messages of every partition of its topics (records are keyed by consumer, so they spread
    over partitions; those not yet acknowledged are within that window of each end).
    """
    from confluent_kafka import Consumer, TopicPartition

    worker = shipper.chain.rpartition("-")[2]
    if not worker.isdigit():
        return set()
    settings = {k: v for k, v in shipper._config.items()
                if k.startswith(("bootstrap", "security", "ssl", "sasl", "client.id"))}
    consumer = Consumer({**settings, "group.id": f"stoad-audit-readback-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "logger": _kafka_logger,
                         "error_cb": lambda error: None})
    window = shipper._max_in_flight + 1000
    found: set[int] = set()
    try:
        ends: dict[tuple[str, int], int] = {}
        assignment = []
        for topic in filter(None, (shipper.topic, shipper.alerts_topic)):
            described = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
            if described is None or described.error is not None:
                continue
            for partition in described.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                           timeout=timeout)
                if high > low:
                    ends[(topic, partition)] = high
                    assignment.append(TopicPartition(topic, partition, max(low, high - window)))
        consumer.assign(assignment)
        deadline = time.monotonic() + 6 * timeout
        while ends:
            if time.monotonic() > deadline:
                raise TimeoutError("the topic's tail was not read in time")
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            where = (message.topic() or "", message.partition() or 0)
            if (message.offset() or 0) + 1 >= ends.get(where, 0):
                ends.pop(where, None)
            record = orjson.loads(message.value() or b"{}")
            seq = record.get("seq")
            if str(record.get("worker")) == worker and isinstance(seq, int) and seq > after:
                found.add(seq)
    finally:
        consumer.close()
    return found


def _confluent_producer(config: dict[str, Any]) -> Any:
    from confluent_kafka import Producer

    # librdkafka's own messages (broker down, reconnecting) go to stdlib logging, not stderr;
    # they are delivered from poll() on the shipper thread.
    settings: dict[str, Any] = {
        "logger": _kafka_logger,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "message.timeout.ms": 300_000,
        "queue.buffering.max.messages": 200_000,
    }
    settings.update(config)
    return Producer(settings)
