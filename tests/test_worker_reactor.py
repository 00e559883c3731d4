"""The worker's reactor: socket events reach their selectables without the legacy log context,
and an error escaping one event is logged without stopping the others."""

from __future__ import annotations

import os
from typing import Any

from twisted.python import context, log
from twisted.trial.unittest import SynchronousTestCase

from stoad.daemon.reactor import WorkerReactor


class _Reader:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.reads: list[Any] = []

    def fileno(self) -> int:
        return self.fd

    def logPrefix(self) -> str:
        return "reader"

    def doRead(self) -> None:
        self.reads.append(context.get(log.ILogContext))
        os.read(self.fd, 100)

    def connectionLost(self, reason: Any) -> None:
        pass


class WorkerReactorTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = WorkerReactor()  # type: ignore[no-untyped-call]
        self.pipes: list[tuple[int, int]] = []
        self.addCleanup(self.close)

    def close(self) -> None:
        self.reactor.removeAll()
        for r, w in self.pipes:
            os.close(r)
            os.close(w)
        self.reactor._poller.close()

    def readable(self) -> _Reader:
        r, w = os.pipe()
        self.pipes.append((r, w))
        os.write(w, b"x")
        reader = _Reader(r)
        self.reactor.addReader(reader)  # type: ignore[arg-type]
        return reader

    def test_events_reach_selectables_without_log_context(self) -> None:
        """A readable descriptor gets doRead from one poll, with no per-event log context set."""
        reader = self.readable()
        default = context.get(log.ILogContext)
        self.reactor.doIteration(0)
        self.assertEqual(len(reader.reads), 1)
        self.assertEqual(reader.reads[0], default)

    def test_an_escaping_error_is_logged_and_other_events_still_run(self) -> None:
        """If handling one event raises past Twisted's own handler, the error is logged and the
        next ready descriptor is still served in the same poll."""
        first, second = self.readable(), self.readable()
        original = self.reactor._doReadOrWrite
        failed: list[int] = []

        def flaky(selectable: Any, fd: int, event: int) -> None:
            if not failed:
                failed.append(fd)
                raise RuntimeError("boom")
            original(selectable, fd, event)

        self.reactor._doReadOrWrite = flaky  # type: ignore[method-assign]
        self.reactor.doIteration(0)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(len(first.reads) + len(second.reads), 1)
