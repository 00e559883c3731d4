"""How a worker manages its heap: the collector's settings, and a collection after connections close.

A worker freezes what start-up made and collects rarely (L{settle_heap}): requests leave no
cyclic garbage, so the collector has little to do on the data path. Closed connections do leave
some: Twisted's transport and its protocol refer to each other, and a connection that ends
without a TLS close_notify carries a L{Failure} with a traceback whose frames refer back to the
connection's objects (about 55 objects per connection, with pyOpenSSL's C{Connection} among
them). With rare collections that garbage would stay, and keep its memory, until enough new
objects had been allocated — an idle worker keeps the RSS of its last burst. L{Reclaimer}
collects once, a little after connections closed, then asks glibc's malloc to give the freed
heap back to the kernel (C{malloc_trim}; without it the freed memory stays in the process, to be
reused by the next burst), so a worker's RSS returns toward idle soon after a burst ends.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import time
from typing import Any, Callable

from twisted.logger import Logger

log = Logger()

GC_THRESHOLDS = (20_000, 20, 20)
RECLAIM_DELAY = 5.0  # seconds after the first close of a quiet period


def _malloc_trim() -> Callable[[], object]:
    """glibc's C{malloc_trim(0)}, or a no-op where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return lambda: 0
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


def settle_heap() -> None:
    """
    After start-up: collect once, move every object that exists now (modules, config, the
    compiled policy, layers) out of the collector's reach for good, and collect less often.
    Later collections then walk only what requests allocate.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class Reclaimer:
    """
    Runs one full collection C{delay} seconds after a connection closes; closes in the meantime
    share it, so a worker collects at most once per C{delay} however many connections end.

    @ivar collections: collections run so far.
    @ivar collected: unreachable objects they found.
    """

    def __init__(self, clock: Any, delay: float = RECLAIM_DELAY,
                 collect: Callable[[], int] = gc.collect,
                 trim: Callable[[], object] | None = None) -> None:
        self._clock = clock
        self._delay = delay
        self._collect = collect
        self._trim = trim if trim is not None else _malloc_trim()
        self._pending: Any = None
        self.collections = 0
        self.collected = 0

    def connection_closed(self) -> None:
        if self._pending is None:
            self._pending = self._clock.callLater(self._delay, self._run)

    def _run(self) -> None:
        self._pending = None
        started = time.perf_counter()
        found = self._collect()
        self._trim()
        self.collections += 1
        self.collected += found
        log.debug("reclaimed {found} objects of closed connections in {ms:.1f} ms",
                  found=found, ms=(time.perf_counter() - started) * 1000.0)

    def stop(self) -> None:
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        self._pending = None
