"""The group-commit writer of one audit chain: a dedicated thread appends, fsyncs, rotates, signs.

The request path only appends to an in-memory queue; this thread turns queued events into chained
records in order, writes them in one go, fsyncs them (one fsync per group) and signs the new head.
"""

from __future__ import annotations

import collections
import errno
import os
import threading
import time
from typing import Any, Callable

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from twisted.logger import Logger

from stoad.audit._chain import (
    CHECKPOINTS,
    GENESIS_HASH,
    HEAD,
    HEAD_SIZE,
    HeadSigner,
    file_name,
    fsync_directory,
    key_id,
    log_files,
    seal,
    sign_checkpoint,
)
from stoad.audit._event import (
    HashSource,
    ParametersKey,
    finish_event,
    incomplete_completion,
    new_event_id,
    rfc3339_ms,
)
from stoad.audit._tail import last_nonempty_line, read_tail

log = Logger()
_MAX_GROUP = 4096  # records per write; bounds the time the chain state is held by one batch
_SPACE_CHECK_INTERVAL = 1.0
_RETENTION_CHECK_INTERVAL = 10.0
WORKER_DIED = "worker_died"


class _Wake:
    """
    Wakes the writer thread: one C-level lock used as a binary semaphore, held by the writer
    while it waits. L{set} from any thread costs a lock release (C{threading.Event} costs a
    Python-level condition variable on both sides, on every urgent record and every group).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def set(self) -> None:
        try:
            self._lock.release()
        except RuntimeError:
            pass  # already set and not yet taken: one wake serves both

    def wait(self, timeout: float) -> bool:
        """Wait up to C{timeout} seconds for L{set}; True if it was set (and is now clear)."""
        return self._lock.acquire(timeout=timeout)


class AuditChainWriter:
    """
    Owns one chain directory. C{open()} (at startup, on the calling thread) recovers the chain
    head from the newest file, cutting off a record torn by a crash, and closes what the crash
    left open (see L{open}); C{start()} runs the writer thread; C{append()} is all the request
    path does.

    @ivar healthy: False while the log cannot be written; the reason is in C{error}.
    @ivar durable_seq: the last seq written and fsynced (the shipper ships no further).
    @ivar processed: queued events that are durable (or were refused as unencodable), in the
        order they were appended: the event with ticket N is settled once C{processed >= N}.
    @ivar below_floor: free space in the folder is under C{free_space_floor}: requests are
        refused, records of requests already admitted are still written.
    """

    def __init__(
        self,
        directory: str,
        signing_key: Ed25519PrivateKey,
        *,
        fsync_every: bool = False,
        fsync_interval: float = 0.05,
        fsync_batch: int = 512,
        rotate_size: int = 64 * 1024 * 1024,
        rotate_interval: float = 0.0,
        checkpoint_interval: float = 60.0,
        max_pending: int = 100_000,
        parameters_key: ParametersKey | None = None,
        worker: int = 0,
        free_space_floor: int = 0,
        retain_age: float = 0.0,
        retain_size: int = 0,
        shipped_seq: Callable[[], int] | None = None,
        on_records: Callable[[int, dict[str, int]], None] | None = None,
        on_write_error: Callable[[str], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
        wake_after_turn: Callable[[Callable[[], None]], object] | None = None,
        turn_wait: float = 0.05,
    ) -> None:
        self.directory = directory
        self.chain = os.path.basename(os.path.normpath(directory))
        self._key = signing_key
        self._key_id = key_id(signing_key.public_key())
        self._head_signer = HeadSigner(signing_key, self.chain)
        self._fsync_every = fsync_every
        # With a reactor to wait for (wake_after_turn), the writer still looks at the queue at
        # least every turn_wait, however long a turn lasts.
        self._interval = min(fsync_interval, turn_wait) if wake_after_turn else fsync_interval
        self._batch = fsync_batch
        self._rotate_size = rotate_size
        self._rotate_interval = rotate_interval
        self._checkpoint_interval = checkpoint_interval
        self.max_pending = max_pending
        self.parameters_key = parameters_key
        self._worker = worker
        self._floor = free_space_floor
        self._retain_age = retain_age
        self._retain_size = retain_size
        self._shipped_seq = shipped_seq
        self._on_records = on_records
        self._on_write_error = on_write_error
        self._on_progress = on_progress
        self._now = wall_clock
        self._wake_after_turn = wake_after_turn
        self._wake_pending = False  # a wake at the end of the reactor's turn is scheduled

        self._queue: collections.deque[tuple[dict[str, Any], HashSource]] = collections.deque()
        self._wake = _Wake()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._progress = threading.Condition()

        self.healthy = True
        self.error = ""
        self.dropped = 0  # events that could not be encoded (logged as errors; never silent)
        self.appended = 0  # events accepted by append(); only the reactor thread writes it
        self.committed = 0  # events durable on disk
        self.processed = 0
        self.head_seq = 0
        self.head_hash = GENESIS_HASH
        self.durable_seq = 0
        self.durable_hash = GENESIS_HASH
        self.repaired_bytes = 0
        self.recovered_incomplete = 0  # decisions closed as incomplete at start-up
        self.recovered_unsigned = 0  # records found after the last signature at start-up
        self.rotated_key: tuple[str, str] | None = None
        self.removed_files: list[str] = []
        self.free_bytes: int | None = None
        self.below_floor = False

        self._fd: int | None = None
        self._head_fd: int | None = None
        self._file = ""
        self._file_opened = 0.0
        self._good_size = 0
        self._unwritten: list[bytes] = []  # sealed lines not yet durable, kept across a failure
        self._unwritten_events = 0
        self._unwritten_dropped = 0
        self._unwritten_queued = 0
        self._unwritten_types: dict[str, int] = {}
        self._signed_seq = 0  # the last seq covered by a checkpoint
        self._head_signed = 0  # the last seq covered by head.json
        self._checkpoint_due = True  # the first commit of a run is always checkpointed
        self._last_checkpoint = 0.0
        self._checkpoint_seqs: set[int] = set()
        self._last_space_check = 0.0
        self._last_retention = 0.0

    # -- start-up --------------------------------------------------------------------------

    def open(self) -> None:
        """
        Create the directory, recover the chain head, open the file to append to, and make the
        trail whole after a crash: append an C{incomplete} completion (reason C{worker_died})
        for every decision without one, record a change of signing key, and sign what was on
        disk with a checkpoint that says which records it signed only now (C{recovered_after}),
        so they are never passed off as covered by a signature made before the crash.
        """
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        files = log_files(self.directory)
        if files:
            first_seq, name = files[-1]
            self._recover(name, first_seq)
        else:
            self._open_file(file_name(1))
        last_key = self._read_checkpoints()
        head_seq, head_hash = self._read_head()
        open_decisions, hash_at_head = self._open_decisions(files, head_seq)
        if head_seq and head_seq <= self.head_seq and hash_at_head == head_hash:
            # The head counts only if it names a record that is still there with that hash.
            self._head_signed = head_seq
        self._signed_seq = max(self._signed_seq, self._head_signed)
        signed_before = self._signed_seq
        on_disk = self.head_seq
        now = self._now()
        events: list[dict[str, Any]] = []
        if last_key is not None and last_key != self._key_id:
            self.rotated_key = (last_key, self._key_id)
            events.append({"event_id": new_event_id(), "event_type": "key_rotation",
                           "timestamp": now, "worker": self._worker,
                           "from_key_id": last_key, "to_key_id": self._key_id})
        for decision in open_decisions.values():
            events.append(incomplete_completion(decision, now, self._worker, WORKER_DIED))
        self.recovered_incomplete = len(open_decisions)
        for event in events:
            self._seal(event, None)
        if self._unwritten:
            self._write(b"".join(self._unwritten))
            self._done_group(notify=False)
        if on_disk > signed_before:
            # Records the crash left after the last signature: signed now, and saying so.
            self.recovered_unsigned = on_disk - signed_before
            log.warn("audit log {dir}: {n} records after the last signature (a crash); "
                     "signed at recovery", dir=self.directory, n=self.recovered_unsigned)
            self._checkpoint(recovered_after=signed_before, recovered_through=on_disk)
        elif self.durable_seq > self._signed_seq:
            self._checkpoint()
        self._write_head(self.durable_seq, self.durable_hash)

    def _recover(self, name: str, first_seq: int) -> None:
        path = os.path.join(self.directory, name)
        # Only the end is read: start-up memory does not grow with the file.
        tail = read_tail(path)
        if tail.complete < tail.size:
            # A record torn by a crash was never fsynced, so never shipped: cut it off.
            self.repaired_bytes = tail.size - tail.complete
            log.warn("audit log {path}: cut off {n} bytes of a torn last record",
                     path=path, n=self.repaired_bytes)
            with open(path, "r+b") as f:
                f.truncate(tail.complete)
                os.fsync(f.fileno())
        if tail.last_line is not None:
            try:
                last = orjson.loads(tail.last_line)
                self.head_seq, self.head_hash = int(last["seq"]), str(last["hash"])
            except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as e:
                raise ValueError(f"{path}: the last record is unreadable ({e}); "
                                 "run `stoad audit verify` on this folder") from None
        else:
            self.head_seq = first_seq - 1
            self.head_hash = self._previous_hash(first_seq)
        self.durable_seq, self.durable_hash = self.head_seq, self.head_hash
        self._open_file(name)

    def _read_checkpoints(self) -> str | None:
        """Learn what the checkpoints signed; returns the key id of the newest one."""
        try:
            with open(os.path.join(self.directory, CHECKPOINTS), "rb") as f:
                lines = f.read().split(b"\n")
        except FileNotFoundError:
            return None
        last_key = None
        for line in lines:
            try:
                point = orjson.loads(line)
                seq = int(point["seq"])
            except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
                continue  # a torn last line: what it claimed is not counted as signed
            if seq <= self.head_seq:
                self._checkpoint_seqs.add(seq)
                self._signed_seq = max(self._signed_seq, seq)
            last_key = str(point.get("key_id"))
        return last_key

    def _read_head(self) -> tuple[int, str]:
        """The seq and hash head.json signed (0 when it is missing or unreadable)."""
        try:
            with open(os.path.join(self.directory, HEAD), "rb") as f:
                head = orjson.loads(f.read().strip())
            return int(head["seq"]), str(head["hash"])
        except (OSError, orjson.JSONDecodeError, KeyError, ValueError, TypeError):
            return 0, ""

    def _open_decisions(self, files: list[tuple[int, str]],
                        want_seq: int) -> tuple[dict[str, dict[str, Any]], str | None]:
        """
        Decisions in the kept files that have no completion yet (the worker died first), and
        the hash of the record at C{want_seq} (None when it is not there).
        """
        decisions: dict[str, dict[str, Any]] = {}
        wanted: str | None = None
        for first_seq, name in files:
            with open(os.path.join(self.directory, name), "rb") as f:
                for number, line in enumerate(f):
                    if first_seq + number == want_seq:
                        wanted = str(orjson.loads(line).get("hash"))
                    if b'"record_type"' not in line:
                        continue
                    record = orjson.loads(line)
                    kind = record.get("record_type")
                    if kind == "decision":
                        decisions[record["event_id"]] = record
                    elif kind == "completion":
                        decisions.pop(record.get("decision_event_id"), None)
        return decisions, wanted

    def _previous_hash(self, first_seq: int) -> str:
        """The hash of the record before an empty newest file (the last of the file before)."""
        if first_seq == 1:
            return GENESIS_HASH
        earlier = [n for s, n in log_files(self.directory) if s < first_seq]
        if not earlier:
            raise ValueError(f"{self.directory}: chain starts at seq {first_seq}, files are missing")
        line = last_nonempty_line(os.path.join(self.directory, earlier[-1]))
        last = orjson.loads(line if line is not None else b"")
        return str(last["hash"])

    def _open_file(self, name: str) -> None:
        path = os.path.join(self.directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            size = os.fstat(fd).st_size
            if self._file == name and size > self._good_size:
                # Bytes of a failed write: the records will be written again.
                os.ftruncate(fd, self._good_size)
                size = self._good_size
        except OSError:
            os.close(fd)
            raise
        if self._file != name:
            fsync_directory(self.directory)
            self._file_opened = self._now()
        self._fd, self._file, self._good_size = fd, name, size

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"audit-writer:{self.directory}",
                                        daemon=True)
        self._thread.start()

    # -- the request path -----------------------------------------------------------------

    @property
    def accepting(self) -> bool:
        """True when the log is being written, the queue has room and the disk has space."""
        return self.healthy and not self.below_floor and len(self._queue) < self.max_pending

    @property
    def queue_full(self) -> bool:
        return len(self._queue) >= self.max_pending

    @property
    def pending(self) -> int:
        return len(self._queue) + self._unwritten_events

    def append(self, event: dict[str, Any], source: HashSource = None, urgent: bool = False) -> int:
        """
        Queue one captured event (see L{stoad.audit._event}); never blocks and never drops: the
        request path refuses new requests while the queue is full (L{accepting}) instead. An
        C{urgent} event (a decision the forward waits for) wakes the writer when the reactor's
        current turn ends (through C{wake_after_turn}, which only the reactor thread may call
        here), or at once without one. Returns the event's ticket (see L{processed}).
        """
        queue = self._queue
        queue.append((event, source))
        self.appended += 1
        if self._fsync_every or len(queue) >= self._batch:
            self._wake.set()
        elif urgent:
            if self._wake_after_turn is None:
                self._wake.set()
            elif not self._wake_pending:
                # One group for every urgent record of this turn of the reactor: none of them
                # can be forwarded before the reactor's next turn anyway.
                self._wake_pending = True
                self._wake_after_turn(self._turn_ended)
        return self.appended

    def _turn_ended(self) -> None:
        """The reactor's turn that queued urgent events has ended (on the reactor thread)."""
        self._wake_pending = False
        self._wake.set()

    # -- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            stopping = self._stopping
            try:
                self._check_space()
                self._commit_once()
                self._maybe_retain()
            except Exception as e:  # keep the thread alive whatever happens; fail closed
                self._failed(f"{type(e).__name__}: {e}")
            if stopping and not self._queue and not self._unwritten:
                break
            if stopping and not self.healthy:
                break

    def _seal(self, event: dict[str, Any], source: HashSource) -> None:
        try:
            event = finish_event(event, source, self.parameters_key)
            line, digest = seal(event, self.head_seq + 1, self.head_hash)
        except Exception as e:
            log.error("audit event {id} refused: cannot encode it ({error})",
                      id=str(event.get("event_id")), error=repr(e))
            self.dropped += 1
            self._unwritten_dropped += 1
            return
        self.head_seq += 1
        self.head_hash = digest
        self._unwritten.append(line)
        self._unwritten_events += 1
        kind = event["event_type"]
        self._unwritten_types[kind] = self._unwritten_types.get(kind, 0) + 1

    def _seal_queued(self) -> None:
        queue = self._queue
        while queue and len(self._unwritten) < _MAX_GROUP:
            event, source = queue.popleft()
            self._unwritten_queued += 1
            self._seal(event, source)

    def _commit_once(self) -> None:
        while True:
            if not self._unwritten:
                self._seal_queued()
            if not self._unwritten:
                if self._unwritten_queued:
                    self._done_group()
                self._maybe_checkpoint(force=self._stopping)
                return
            if self._fd is None:
                self._open_file(self._file)
            self._maybe_rotate()
            self._write(b"".join(self._unwritten))
            self._done_group()
            self._maybe_checkpoint(force=False)
            if not self._queue:
                if self._stopping:
                    self._maybe_checkpoint(force=True)
                return

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fdatasync(self._fd)
        self._good_size += len(data)

    def _done_group(self, notify: bool = True) -> None:
        count, kinds = self._unwritten_events, self._unwritten_types
        # Only events that came through append() count towards tickets; those the writer made
        # itself (recovery, retention) do not.
        settled = self._unwritten_queued
        self._unwritten, self._unwritten_events, self._unwritten_types = [], 0, {}
        self._unwritten_dropped = self._unwritten_queued = 0
        head_error: OSError | None = None
        if notify and count:
            # Signed before anyone is told the records are durable: whoever saw them durable
            # also finds them covered by the head's signature.
            try:
                self._write_head(self.head_seq, self.head_hash)
            except OSError as e:
                head_error = e  # the records are durable all the same; fail closed below
        with self._progress:
            self.durable_seq, self.durable_hash = self.head_seq, self.head_hash
            self.committed += count
            self.processed += settled
            self._progress.notify_all()
        if head_error is None:
            if not self.healthy:
                log.info("audit log {dir} is writable again", dir=self.directory)
            self.healthy, self.error = True, ""
        if self._on_records is not None and count:
            self._on_records(count, kinds)
        if head_error is not None:
            raise head_error
        if notify and self._on_progress is not None:
            self._on_progress(self.processed)

    def _write_head(self, seq: int, digest: str) -> None:
        """
        Sign the durable head into C{head.json} after every group (tens of microseconds), so
        that removing the newest records shows: the head names a record that is gone. It is
        rewritten in place, not fsynced: after a power cut an older head means the records
        after it are an unsigned tail, which start-up signs as recovered (see L{open}).
        """
        if seq == self._head_signed or seq == 0:
            return
        line = self._head_signer.line(seq, digest, self._file, rfc3339_ms(self._now()))
        if self._head_fd is None:
            self._head_fd = os.open(os.path.join(self.directory, HEAD),
                                    os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        os.pwrite(self._head_fd, line.ljust(HEAD_SIZE - 1) + b"\n", 0)
        self._head_signed = seq

    def _failed(self, reason: str) -> None:
        if self.healthy:
            log.error("audit log {dir} cannot be written: {reason}", dir=self.directory,
                      reason=reason)
        self.healthy, self.error = False, reason
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None
        if self._on_write_error is not None:
            self._on_write_error(reason)
        with self._progress:
            self._progress.notify_all()
        if self._on_progress is not None:
            self._on_progress(self.processed)

    def _check_space(self) -> None:
        if not self._floor:
            return
        now = time.monotonic()
        if now - self._last_space_check < _SPACE_CHECK_INTERVAL:
            return
        self._last_space_check = now
        stats = os.statvfs(self.directory)
        self.free_bytes = stats.f_bavail * stats.f_frsize
        below = self.free_bytes < self._floor
        if below != self.below_floor:
            if below:
                log.error("audit log {dir}: {free} bytes free, under the floor of {floor}; "
                          "refusing requests", dir=self.directory, free=self.free_bytes,
                          floor=self._floor)
            else:
                log.info("audit log {dir}: free space back over the floor", dir=self.directory)
        self.below_floor = below

    def _maybe_rotate(self) -> None:
        too_big = self._good_size >= self._rotate_size
        too_old = self._rotate_interval > 0 and self._now() - self._file_opened >= self._rotate_interval
        if not (too_big or too_old) or self._good_size == 0:
            return
        # The checkpoint at the last seq of the old file anchors the next file: once the old
        # file is removed by retention, the chain still verifies from the new one.
        self._maybe_checkpoint(force=True)
        assert self._fd is not None
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        self._open_file(file_name(self.durable_seq + 1))

    def _maybe_checkpoint(self, force: bool) -> None:
        if self.durable_seq == self._signed_seq or self.durable_seq == 0:
            return
        now = self._now()
        if not (force or self._checkpoint_due
                or now - self._last_checkpoint >= self._checkpoint_interval):
            return
        self._checkpoint()

    def _checkpoint(self, **extra: Any) -> None:
        now = self._now()
        line = sign_checkpoint(self._key, self.durable_seq, self.durable_hash, self._file,
                               rfc3339_ms(now), chain=self.chain, **extra)
        path = os.path.join(self.directory, CHECKPOINTS)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._checkpoint_seqs.add(self.durable_seq)
        self._signed_seq, self._last_checkpoint = self.durable_seq, now
        self._checkpoint_due = False

    # -- retention --------------------------------------------------------------------------

    def _maybe_retain(self) -> None:
        if self._shipped_seq is None or not (self._retain_age or self._retain_size):
            return
        now = time.monotonic()
        if now - self._last_retention < _RETENTION_CHECK_INTERVAL:
            return
        self._last_retention = now
        self.apply_retention()

    def request_retention(self) -> None:
        """Have the writer thread apply retention at its next wake (instead of within 10 s)."""
        self._last_retention = float("-inf")
        self._wake.set()

    def apply_retention(self) -> list[str]:
        """
        Remove the oldest files beyond C{retain_age} or C{retain_size}, only while each file to
        remove has been shipped to Kafka and a signed checkpoint anchors its successor (a
        checkpoint at the last seq of the file: the successor's first C{prev_hash}). Every
        removal is itself a record. Returns the names removed.
        """
        if self._shipped_seq is None:
            return []
        files = log_files(self.directory)
        sizes = {name: os.stat(os.path.join(self.directory, name)).st_size for _, name in files}
        total = sum(sizes.values())
        shipped = self._shipped_seq()
        removed: list[str] = []
        for (first, name), (successor_first, _) in zip(files, files[1:], strict=False):
            last = successor_first - 1
            path = os.path.join(self.directory, name)
            too_old = bool(self._retain_age) and self._now() - os.stat(path).st_mtime > self._retain_age
            too_big = bool(self._retain_size) and total > self._retain_size
            if not (too_old or too_big):
                break
            if shipped < last or last not in self._checkpoint_seqs:
                break  # not yet shipped, or nothing would anchor the successor: keep it
            os.unlink(path)
            fsync_directory(self.directory)
            total -= sizes[name]
            removed.append(name)
            log.info("audit retention: removed {name} (seq {first}..{last})", name=name,
                     first=first, last=last)
            self._seal({"event_id": new_event_id(), "event_type": "retention",
                        "timestamp": self._now(), "worker": self._worker, "file": name,
                        "first_seq": first, "last_seq": last}, None)
        self.removed_files.extend(removed)
        return removed

    # -- control --------------------------------------------------------------------------

    def wait_durable(self, timeout: float) -> bool:
        """Block until every event appended so far is durable; False after C{timeout} seconds."""
        target = self.appended
        deadline = time.monotonic() + timeout
        self._wake.set()
        with self._progress:
            while self.processed < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._progress.wait(min(left, 0.05))
                self._wake.set()
        return self.processed >= target

    def close(self, timeout: float = 10.0) -> None:
        """Write everything queued, sign the head, stop the thread and close the file."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("audit writer did not finish within {t}s", t=timeout)
        elif self.healthy:
            try:
                self._commit_once()
            except OSError as e:
                self._failed(f"{errno.errorcode.get(e.errno or 0, 'error')}: {e.strerror}")
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._head_fd is not None:
            try:
                os.fsync(self._head_fd)
            finally:
                os.close(self._head_fd)
                self._head_fd = None
