"""Many waits, one timer: entries that expire at their own deadline, in the order they were added."""

from __future__ import annotations

import collections
from typing import Any, Callable

from twisted.internet.interfaces import IReactorTime


class Deadline:
    """One wait's deadline; L{Deadlines.done} once the wait is over."""

    __slots__ = ("at", "expired", "over")

    def __init__(self, at: float, expired: Callable[[], None]) -> None:
        self.at = at
        self.expired = expired
        self.over = False


class Deadlines:
    """
    Waits bounded by one timer, set for the oldest one still open, instead of a timer each
    (a timer per request costs a heap entry, its callbacks and a cancel). Waits are added in
    deadline order: every one gets the same timeout. When a deadline passes, that wait's
    C{expired} is called unless it was L{done} before; with no wait left open, no timer is left
    behind.
    """

    def __init__(self, clock: IReactorTime, timeout: float) -> None:
        self._clock = clock
        self.timeout = timeout
        self._open: collections.deque[Deadline] = collections.deque()
        self._timer: Any = None

    def add(self, expired: Callable[[], None]) -> Deadline:
        entry = Deadline(self._clock.seconds() + self.timeout, expired)
        self._open.append(entry)
        if self._timer is None:
            self._timer = self._clock.callLater(self.timeout, self._expire)
        return entry

    def done(self, entry: Deadline) -> None:
        """The wait is over. One that ends behind an older open wait is let go when that one is."""
        entry.over = True
        waits = self._open
        while waits and waits[0].over:
            waits.popleft()
        if not waits:
            self.stop()

    def stop(self) -> None:
        """Cancel the timer (the waits still open are not expired)."""
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        waits = self._open
        now = self._clock.seconds()
        while waits and waits[0].at <= now:
            entry = waits.popleft()
            if not entry.over:
                entry.over = True
                entry.expired()  # may add waits (and so set the timer) or end others
        if waits and self._timer is None:
            self._timer = self._clock.callLater(waits[0].at - now, self._expire)
