"""The worker's heap after start-up: everything made so far is frozen out of the cyclic
collector, and the collector runs at the worker's thresholds."""

from __future__ import annotations

import gc
import weakref

from twisted.trial.unittest import SynchronousTestCase

from stoad.daemon.worker import GC_THRESHOLDS, settle_heap


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

        class Node:
            other: object

        a, b = Node(), Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
        del a, b
        gc.collect()
        self.assertIsNone(alive())
