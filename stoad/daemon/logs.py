"""Structured logs: one JSON object per line on stdout (journald keeps them), filtered by level."""

from __future__ import annotations

import sys
from typing import IO, Callable

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogEvent,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    jsonFileLogObserver,
)
from zope.interface import provider

_LEVELS = {"debug": LogLevel.debug, "info": LogLevel.info, "warn": LogLevel.warn,
           "error": LogLevel.error}


def start_logging(level: str, worker: int | None = None,
                  stream: IO[str] | None = None) -> Callable[[str], None]:
    """
    Send every event at C{level} or above to C{stream} (stdout) as JSON lines; returns the
    function that changes the level (a reload of C{[log] level}).
    """
    predicate = LogLevelFilterPredicate(defaultLogLevel=_LEVELS[level])
    observer: ILogObserver = jsonFileLogObserver(stream or sys.stdout, recordSeparator="")
    if worker is not None:
        inner = observer

        @provider(ILogObserver)
        def tag_worker(event: LogEvent) -> None:
            event.setdefault("stoad_worker", worker)
            inner(event)

        observer = tag_worker

    globalLogBeginner.beginLoggingTo([FilteringLogObserver(observer, [predicate])],
                                     redirectStandardIO=False)

    def set_level(name: str) -> None:
        predicate.defaultLogLevel = _LEVELS[name]

    return set_level
