"""The worker's heap after start-up: everything made so far is frozen out of the cyclic
collector, and the collector runs at the worker's thresholds."""

from __future__ import annotations

import gc
import weakref

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from stoad.daemon.heap import GC_THRESHOLDS, Reclaimer, _malloc_trim, settle_heap


class _Node:
    other: object


def _garbage_cycle() -> weakref.ref[_Node]:
    """Two objects that refer to each other and to nothing else: only the collector frees them."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


class SettleHeapTests(SynchronousTestCase):
    def setUp(self) -> None:
        thresholds = gc.get_threshold()
        self.addCleanup(gc.set_threshold, *thresholds)
        self.addCleanup(gc.unfreeze)

    def test_start_up_objects_are_frozen_and_thresholds_set(self) -> None:
        """After settle_heap an object made during start-up is in the permanent generation
        (no collection walks it again), later objects are not, and the thresholds are the
        worker's."""
        gc.unfreeze()
        made_at_start_up = {"config": [1, 2, 3]}
        settle_heap()
        self.assertGreater(gc.get_freeze_count(), 0)
        self.assertEqual(gc.get_threshold(), GC_THRESHOLDS)
        frozen = gc.get_freeze_count()
        made_later = [["request", n] for n in range(100)]
        self.assertEqual(gc.get_freeze_count(), frozen)
        self.assertTrue(gc.is_tracked(made_at_start_up))
        collectable = gc.get_objects()
        self.assertFalse(any(o is made_at_start_up for o in collectable))
        self.assertTrue(any(o is made_later[0] for o in collectable))

    def test_cycles_made_after_start_up_are_still_collected(self) -> None:
        """Raised thresholds do not switch collection off: a reference cycle made after
        start-up is freed by the next collection."""
        settle_heap()
        alive = _garbage_cycle()
        gc.collect()
        self.assertIsNone(alive())


class ReclaimerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.runs: list[int] = []
        self.trims: list[int] = []
        self.reclaimer = Reclaimer(self.clock, delay=5.0, collect=self._collect,
                                   trim=lambda: self.trims.append(len(self.runs)))

    def _collect(self) -> int:
        self.runs.append(int(self.clock.seconds()))
        return 7

    def test_one_collection_a_delay_after_the_first_close(self) -> None:
        """Closes within the delay share one collection, run C{delay} after the first."""
        self.reclaimer.connection_closed()
        self.clock.advance(2)
        self.reclaimer.connection_closed()
        self.reclaimer.connection_closed()
        self.clock.advance(2.9)
        self.assertEqual(self.runs, [])
        self.clock.advance(0.1)
        self.assertEqual(self.runs, [5])
        self.assertEqual(self.trims, [1])  # after the collection freed what it found
        self.assertEqual((self.reclaimer.collections, self.reclaimer.collected), (1, 7))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_a_later_close_schedules_again(self) -> None:
        self.reclaimer.connection_closed()
        self.clock.advance(5)
        self.clock.advance(10)
        self.reclaimer.connection_closed()
        self.clock.advance(5)
        self.assertEqual(self.runs, [5, 20])

    def test_no_close_no_collection(self) -> None:
        self.clock.advance(60)
        self.assertEqual(self.runs, [])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop_cancels_a_pending_collection(self) -> None:
        self.reclaimer.connection_closed()
        self.reclaimer.stop()
        self.clock.advance(10)
        self.assertEqual(self.runs, [])

    def test_the_default_collects_garbage_cycles(self) -> None:
        """With gc.collect (the default), a cycle left by a closed connection is freed."""
        reclaimer = Reclaimer(self.clock, delay=1.0)
        alive = _garbage_cycle()
        reclaimer.connection_closed()
        self.clock.advance(1)
        self.assertIsNone(alive())
        self.assertGreaterEqual(reclaimer.collected, 2)

    def test_the_default_trim_is_callable(self) -> None:
        """The C library's malloc_trim (or the no-op where there is none) runs without error."""
        _malloc_trim()()
