"""Structured logs: one JSON object per line on stdout (journald keeps them), filtered by level."""

from __future__ import annotations

import sys
from typing import IO

from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    jsonFileLogObserver,
)

_LEVELS = {"debug": LogLevel.debug, "info": LogLevel.info, "warn": LogLevel.warn,
           "error": LogLevel.error}


def start_logging(level: str, worker: int | None = None, stream: IO[str] | None = None) -> None:
    """Send every event at C{level} or above to C{stream} (stdout) as JSON lines."""
    predicate = LogLevelFilterPredicate(defaultLogLevel=_LEVELS[level])
    observer = jsonFileLogObserver(stream or sys.stdout, recordSeparator="")
    if worker is not None:
        inner = observer

        def observer(event: dict) -> None:  # type: ignore[no-redef]
            event.setdefault("stoad_worker", worker)
            inner(event)

    globalLogBeginner.beginLoggingTo([FilteringLogObserver(observer, [predicate])],
                                     redirectStandardIO=False)
