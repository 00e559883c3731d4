"""stoad.runtime.deadlines: many waits bounded by one timer."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from stoad.runtime.deadlines import Deadlines


class DeadlinesTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.deadlines = Deadlines(self.clock, 1.0)
        self.expired: list[str] = []

    def add(self, name: str) -> object:
        return self.deadlines.add(lambda: self.expired.append(name))

    def test_each_wait_expires_at_its_own_deadline_under_one_timer(self) -> None:
        self.add("a")
        self.clock.advance(0.4)
        self.add("b")
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.clock.advance(0.6)
        self.assertEqual(self.expired, ["a"])
        self.clock.advance(0.39)
        self.assertEqual(self.expired, ["a"])
        self.clock.advance(0.01)
        self.assertEqual(self.expired, ["a", "b"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_a_wait_done_in_time_never_expires_and_leaves_no_timer(self) -> None:
        first = self.add("a")
        self.clock.advance(0.5)
        second = self.add("b")
        self.deadlines.done(second)  # behind an open one: let go with it
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.deadlines.done(first)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(5)
        self.assertEqual(self.expired, [])

    def test_an_expiry_that_adds_a_wait_leaves_one_timer(self) -> None:
        self.deadlines.add(lambda: (self.expired.append("a"), self.add("b")))
        self.clock.advance(1.0)
        self.assertEqual(self.expired, ["a"])
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.clock.advance(1.0)
        self.assertEqual(self.expired, ["a", "b"])

    def test_stop_cancels_the_timer(self) -> None:
        self.add("a")
        self.deadlines.stop()
        self.clock.advance(5)
        self.assertEqual((self.expired, self.clock.getDelayedCalls()), ([], []))
