"""Per-consumer call counts over the last 60 s and 3600 s, overall and per tool, in one process's memory.

Counts live in rings of time buckets (1 s and 60 s wide), so memory per consumer is fixed.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict

SHORT_BUCKETS = 60  # 1 s each: the last 60 s
LONG_BUCKETS = 60  # 60 s each: the last 3600 s
LONG_WIDTH = 60


class _Ring:
    """
    Counts in C{size} buckets of C{width} seconds with a running total; buckets whose time has
    passed are cleared as the clock moves on, so reading and counting cost O(1) amortised.
    """

    __slots__ = ("counts", "head", "running", "width")

    def __init__(self, size: int, width: int) -> None:
        self.counts = array("Q", bytes(8 * size))
        self.head = 0  # the newest bucket's time (in buckets)
        self.running = 0
        self.width = width

    def _advance(self, now: int) -> int:
        slot = now // self.width
        if slot <= self.head:
            return self.head  # a clock that stepped back counts into the newest bucket
        size = len(self.counts)
        if slot - self.head >= size:
            for index in range(size):
                self.counts[index] = 0
            self.running = 0
        else:
            for past in range(self.head + 1, slot + 1):
                index = past % size
                self.running -= self.counts[index]
                self.counts[index] = 0
        self.head = slot
        return slot

    def add(self, now: int) -> None:
        slot = self._advance(now)
        self.counts[slot % len(self.counts)] += 1
        self.running += 1

    def total(self, now: int) -> int:
        self._advance(now)
        return self.running

    def idle(self, now: int) -> bool:
        return self.total(now) == 0

    def remove(self, at: int, now: int) -> None:
        """Un-count one call counted at C{at}, if its bucket is still in the window."""
        self._advance(now)
        slot = at // self.width
        if self.head - slot >= len(self.counts) or slot > self.head:
            return
        index = slot % len(self.counts)
        if self.counts[index] > 0:
            self.counts[index] -= 1
            self.running -= 1


class _Counter:
    __slots__ = ("short", "long")

    def __init__(self) -> None:
        self.short = _Ring(SHORT_BUCKETS, 1)
        self.long = _Ring(LONG_BUCKETS, LONG_WIDTH)

    def add(self, now: int) -> None:
        self.short.add(now)
        self.long.add(now)

    def remove(self, at: int, now: int) -> None:
        self.short.remove(at, now)
        self.long.remove(at, now)

    def view(self, now: int) -> dict[str, object]:
        # object values: the caller adds the nested "tool" entry to this fresh dict.
        return {"calls_60s": self.short.total(now), "calls_3600s": self.long.total(now)}


class _ConsumerUsage:
    __slots__ = ("overall", "tools", "other_tools")

    def __init__(self) -> None:
        self.overall = _Counter()
        self.tools: dict[str, _Counter] = {}
        self.other_tools = _Counter()


class UsageCounters:
    """
    Calls per consumer. The 60 s count covers the current second and the 59 before it; the
    3600 s count the current minute and the 59 before it (bucket granularity, documented).

    At most C{max_consumers} consumers are tracked (the least recently seen is dropped) and at
    most C{max_tools} tools per consumer. A tool table never drops a tool that still has calls
    in the last hour: a client could otherwise reset a tool's count by calling many made-up
    tools. Calls to tools beyond the limit count under C{other_tools}.
    """

    def __init__(self, max_consumers: int = 10000, max_tools: int = 64) -> None:
        self.max_consumers = max_consumers
        self.max_tools = max_tools
        self._consumers: OrderedDict[str, _ConsumerUsage] = OrderedDict()

    def __len__(self) -> int:
        return len(self._consumers)

    def view(self, consumer: str, tool: str | None, now: float) -> dict[str, object]:
        """The counts a policy sees for this call (the call itself not included)."""
        seconds = int(now)
        usage = self._consumers.get(consumer)
        if usage is None:
            empty = {"calls_60s": 0, "calls_3600s": 0}
            out: dict[str, object] = dict(empty)
            if tool is not None:
                out["tool"] = {"name": tool, **empty}
            return out
        out = usage.overall.view(seconds)
        if tool is not None:
            counter = usage.tools.get(tool)
            if counter is None and len(usage.tools) >= self.max_tools:
                counter = usage.other_tools
            counts = counter.view(seconds) if counter is not None else {
                "calls_60s": 0, "calls_3600s": 0}
            out["tool"] = {"name": tool, **counts}
        return out

    def reserve(self, consumer: str, tool: str | None,
                now: float) -> tuple[dict[str, object], tuple[_Counter, ...], int]:
        """
        The counts before this call, then the call counted: what L{release} needs to un-count
        it is returned with them (the counters it went to and the second it went in).
        """
        view = self.view(consumer, tool, now)
        counters = self.record(consumer, tool, now)
        return view, counters, int(now)

    def release(self, counters: tuple[_Counter, ...], at: int, now: float) -> None:
        """Un-count a call L{reserve} counted (the policy did not allow it)."""
        for counter in counters:
            counter.remove(at, int(now))

    def record(self, consumer: str, tool: str | None, now: float) -> tuple[_Counter, ...]:
        """Count one call; returns the counters it was counted in."""
        seconds = int(now)
        usage = self._consumers.get(consumer)
        if usage is None:
            usage = _ConsumerUsage()
            self._consumers[consumer] = usage
            while len(self._consumers) > self.max_consumers:
                self._consumers.popitem(last=False)
        else:
            self._consumers.move_to_end(consumer)
        usage.overall.add(seconds)
        if tool is None:
            return (usage.overall,)
        counter = usage.tools.get(tool)
        if counter is None:
            if len(usage.tools) >= self.max_tools:
                for name in [n for n, c in usage.tools.items() if c.long.idle(seconds)]:
                    del usage.tools[name]
            if len(usage.tools) >= self.max_tools:
                counter = usage.other_tools
            else:
                counter = usage.tools[tool] = _Counter()
        counter.add(seconds)
        return (usage.overall, counter)
