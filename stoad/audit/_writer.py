"""The group-commit writer of one audit chain: a dedicated thread appends, fsyncs, rotates, signs.

The request path only appends to an in-memory queue; this thread turns queued events into chained
records in order, writes them in one go and fsyncs them (one fsync per group).
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
    file_name,
    fsync_directory,
    log_files,
    seal,
    sign_checkpoint,
)
from stoad.audit._event import HashSource, finish_event, rfc3339_ms

log = Logger()
_MAX_GROUP = 4096  # records per write; bounds the time the chain state is held by one batch


class AuditChainWriter:
    """
    Owns one chain directory. C{open()} (at startup, on the calling thread) recovers the chain
    head from the newest file, cutting off a record torn by a crash; C{start()} runs the writer
    thread; C{append()} is all the request path does.

    @ivar healthy: False while the log cannot be written; the reason is in C{error}.
    @ivar durable_seq: the last seq written and fsynced (the shipper ships no further).
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
        on_records: Callable[[int, dict[str, int]], None] | None = None,
        on_write_error: Callable[[str], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self._key = signing_key
        self._fsync_every = fsync_every
        self._interval = fsync_interval
        self._batch = fsync_batch
        self._rotate_size = rotate_size
        self._rotate_interval = rotate_interval
        self._checkpoint_interval = checkpoint_interval
        self.max_pending = max_pending
        self._on_records = on_records
        self._on_write_error = on_write_error
        self._now = wall_clock

        self._queue: collections.deque[tuple[dict[str, Any], HashSource]] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._progress = threading.Condition()

        self.healthy = True
        self.error = ""
        self.dropped = 0
        self.appended = 0  # events accepted by append(); only the reactor thread writes it
        self.committed = 0  # events durable on disk
        self.head_seq = 0
        self.head_hash = GENESIS_HASH
        self.durable_seq = 0
        self.durable_hash = GENESIS_HASH
        self.repaired_bytes = 0

        self._fd: int | None = None
        self._file = ""
        self._file_opened = 0.0
        self._good_size = 0
        self._unwritten: list[bytes] = []  # sealed lines not yet durable, kept across a failure
        self._unwritten_events = 0
        self._unwritten_types: dict[str, int] = {}
        self._signed_seq = -1
        self._last_checkpoint = 0.0

    # -- start-up --------------------------------------------------------------------------

    def open(self) -> None:
        """Create the directory, recover the chain head, open the file to append to."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        files = log_files(self.directory)
        if files:
            first_seq, name = files[-1]
            self._recover(name, first_seq)
        else:
            self._open_file(file_name(1))

    def _recover(self, name: str, first_seq: int) -> None:
        path = os.path.join(self.directory, name)
        with open(path, "rb") as f:
            data = f.read()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            # A record torn by a crash was never fsynced, so never shipped: cut it off.
            self.repaired_bytes = len(data) - complete
            log.warn("audit log {path}: cut off {n} bytes of a torn last record",
                     path=path, n=self.repaired_bytes)
            with open(path, "r+b") as f:
                f.truncate(complete)
                os.fsync(f.fileno())
        lines = data[:complete].split(b"\n")[:-1]
        if lines:
            try:
                last = orjson.loads(lines[-1])
                self.head_seq, self.head_hash = int(last["seq"]), str(last["hash"])
            except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as e:
                raise ValueError(f"{path}: the last record is unreadable ({e}); "
                                 "run `stoad audit verify` on this folder") from None
        else:
            self.head_seq = first_seq - 1
            self.head_hash = self._previous_hash(first_seq)
        self.durable_seq, self.durable_hash = self.head_seq, self.head_hash
        self._signed_seq = self.head_seq
        self._open_file(name)

    def _previous_hash(self, first_seq: int) -> str:
        """The hash of the record before an empty newest file (the last of the file before)."""
        if first_seq == 1:
            return GENESIS_HASH
        earlier = [n for s, n in log_files(self.directory) if s < first_seq]
        if not earlier:
            raise ValueError(f"{self.directory}: chain starts at seq {first_seq}, files are missing")
        with open(os.path.join(self.directory, earlier[-1]), "rb") as f:
            data = f.read().rstrip(b"\n")
        last = orjson.loads(data[data.rfind(b"\n") + 1:])
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
        """True when the log is being written and the queue has room."""
        return self.healthy and len(self._queue) < self.max_pending

    @property
    def pending(self) -> int:
        return len(self._queue) + self._unwritten_events

    def append(self, event: dict[str, Any], source: HashSource = None) -> None:
        """Queue one captured event (see L{stoad.audit._event}); never blocks."""
        queue = self._queue
        if len(queue) >= self.max_pending:
            self.dropped += 1
            return
        queue.append((event, source))
        self.appended += 1
        if self._fsync_every or len(queue) >= self._batch:
            self._wake.set()

    # -- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            stopping = self._stopping
            try:
                self._commit_once()
            except Exception as e:  # keep the thread alive whatever happens; fail closed
                self._failed(f"{type(e).__name__}: {e}")
            if stopping and not self._queue and not self._unwritten:
                break
            if stopping and not self.healthy:
                break

    def _seal_queued(self) -> None:
        queue = self._queue
        while queue and len(self._unwritten) < _MAX_GROUP:
            event, source = queue.popleft()
            try:
                event = finish_event(event, source)
                line, digest = seal(event, self.head_seq + 1, self.head_hash)
            except Exception as e:
                log.error("audit event dropped: cannot encode it ({error})", error=repr(e))
                self.dropped += 1
                continue
            self.head_seq += 1
            self.head_hash = digest
            self._unwritten.append(line)
            self._unwritten_events += 1
            kind = event["event_type"]
            self._unwritten_types[kind] = self._unwritten_types.get(kind, 0) + 1

    def _commit_once(self) -> None:
        while True:
            if not self._unwritten:
                self._seal_queued()
            if not self._unwritten:
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

    def _done_group(self) -> None:
        count, kinds = self._unwritten_events, self._unwritten_types
        self._unwritten, self._unwritten_events, self._unwritten_types = [], 0, {}
        with self._progress:
            self.durable_seq, self.durable_hash = self.head_seq, self.head_hash
            self.committed += count
            self._progress.notify_all()
        if not self.healthy:
            log.info("audit log {dir} is writable again", dir=self.directory)
        self.healthy, self.error = True, ""
        if self._on_records is not None:
            self._on_records(count, kinds)

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

    def _maybe_rotate(self) -> None:
        too_big = self._good_size >= self._rotate_size
        too_old = self._rotate_interval > 0 and self._now() - self._file_opened >= self._rotate_interval
        if not (too_big or too_old) or self._good_size == 0:
            return
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
        first = self._signed_seq < 0
        if not (force or first or now - self._last_checkpoint >= self._checkpoint_interval):
            return
        line = sign_checkpoint(self._key, self.durable_seq, self.durable_hash, self._file,
                               rfc3339_ms(now))
        path = os.path.join(self.directory, CHECKPOINTS)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._signed_seq, self._last_checkpoint = self.durable_seq, now

    # -- control --------------------------------------------------------------------------

    def wait_durable(self, timeout: float) -> bool:
        """Block until every event appended so far is durable; False after C{timeout} seconds."""
        target = self.appended
        deadline = time.monotonic() + timeout
        self._wake.set()
        with self._progress:
            while self.committed + self.dropped < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._progress.wait(min(left, 0.05))
                self._wake.set()
        return self.committed + self.dropped >= target

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
