"""Usage counters: sliding 60 s / 3600 s windows per consumer and tool, in bounded memory."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from stoad.policy import UsageCounters

T0 = 1_772_438_400.0


class WindowTests(SynchronousTestCase):
    def test_calls_before_this_one_are_counted(self) -> None:
        """view() shows the calls recorded so far, not the one being decided."""
        usage = UsageCounters()
        self.assertEqual(usage.view("c", None, T0), {"calls_60s": 0, "calls_3600s": 0})
        for _ in range(3):
            usage.record("c", None, T0)
        self.assertEqual(usage.view("c", None, T0), {"calls_60s": 3, "calls_3600s": 3})

    def test_60s_window_slides_per_second(self) -> None:
        """A call leaves the 60 s count 60 s later and stays in the 3600 s count."""
        usage = UsageCounters()
        usage.record("c", None, T0)
        usage.record("c", None, T0 + 30)
        self.assertEqual(usage.view("c", None, T0 + 59.9)["calls_60s"], 2)
        self.assertEqual(usage.view("c", None, T0 + 60)["calls_60s"], 1)
        self.assertEqual(usage.view("c", None, T0 + 90)["calls_60s"], 0)
        self.assertEqual(usage.view("c", None, T0 + 90)["calls_3600s"], 2)

    def test_3600s_window_slides_per_minute(self) -> None:
        """A call leaves the 3600 s count an hour later."""
        usage = UsageCounters()
        usage.record("c", None, T0)
        self.assertEqual(usage.view("c", None, T0 + 3599)["calls_3600s"], 1)
        self.assertEqual(usage.view("c", None, T0 + 3600)["calls_3600s"], 0)

    def test_long_idle_gap_clears_everything(self) -> None:
        """After a day without calls every count is zero."""
        usage = UsageCounters()
        for _ in range(5):
            usage.record("c", "t", T0)
        self.assertEqual(usage.view("c", "t", T0 + 86400),
                         {"calls_60s": 0, "calls_3600s": 0,
                          "tool": {"name": "t", "calls_60s": 0, "calls_3600s": 0}})

    def test_clock_stepping_back_does_not_lose_counts(self) -> None:
        """A clock that steps back counts into the newest bucket instead of dropping calls."""
        usage = UsageCounters()
        usage.record("c", None, T0 + 10)
        usage.record("c", None, T0)
        self.assertEqual(usage.view("c", None, T0 + 10)["calls_60s"], 2)

    def test_consumers_and_tools_are_separate(self) -> None:
        """Counts are per consumer, and per tool within a consumer."""
        usage = UsageCounters()
        usage.record("a", "search", T0)
        usage.record("a", "search", T0)
        usage.record("a", "fetch", T0)
        usage.record("b", "search", T0)
        self.assertEqual(usage.view("a", "search", T0)["tool"],
                         {"name": "search", "calls_60s": 2, "calls_3600s": 2})
        self.assertEqual(usage.view("a", None, T0)["calls_60s"], 3)
        self.assertEqual(usage.view("b", None, T0)["calls_60s"], 1)


class BoundTests(SynchronousTestCase):
    def test_consumers_are_bounded_least_recent_first(self) -> None:
        """Past max_consumers the least recently seen consumer is dropped."""
        usage = UsageCounters(max_consumers=3)
        for name in ("a", "b", "c"):
            usage.record(name, None, T0)
        usage.record("a", None, T0)
        usage.record("d", None, T0)
        self.assertEqual(len(usage), 3)
        self.assertEqual(usage.view("b", None, T0)["calls_60s"], 0)
        self.assertEqual(usage.view("a", None, T0)["calls_60s"], 2)

    def test_made_up_tools_cannot_reset_a_busy_tool(self) -> None:
        """Calling many invented tools does not evict a tool with calls in the last hour."""
        usage = UsageCounters(max_tools=4)
        for _ in range(50):
            usage.record("c", "delete_all", T0)
        for index in range(100):
            usage.record("c", f"bogus-{index}", T0 + 1)
        self.assertEqual(usage.view("c", "delete_all", T0 + 2)["tool"]["calls_60s"], 50)
        self.assertLessEqual(len(usage._consumers["c"].tools), 4)

    def test_tools_beyond_the_limit_share_one_counter(self) -> None:
        """Untracked tools are counted together, so a policy still sees them add up."""
        usage = UsageCounters(max_tools=1)
        usage.record("c", "first", T0)
        usage.record("c", "second", T0)
        usage.record("c", "third", T0)
        self.assertEqual(usage.view("c", "fourth", T0)["tool"]["calls_60s"], 2)
        self.assertEqual(usage.view("c", None, T0)["calls_60s"], 3)

    def test_idle_tools_make_room(self) -> None:
        """A tool idle for an hour is dropped when a new tool needs its place."""
        usage = UsageCounters(max_tools=1)
        usage.record("c", "old", T0)
        usage.record("c", "new", T0 + 3600)
        self.assertEqual(list(usage._consumers["c"].tools), ["new"])
