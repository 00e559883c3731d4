"""stoad_layer_duration_seconds, kept without locks, exports what a prometheus-client Histogram
with the same buckets would: the same samples, bucket boundaries included."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram
from twisted.trial.unittest import SynchronousTestCase

from stoad.daemon.metrics import LAYER_BUCKETS, LayerDurations
from stoad.daemon.metrics_merge import decode_snapshot, encode_snapshot


class LayerDurationsTests(SynchronousTestCase):
    def test_samples_match_a_prometheus_client_histogram(self) -> None:
        """Observations below, on and above bucket bounds give the same bucket counts, count
        and sum as prometheus-client's Histogram, for each label value."""
        ours, theirs = CollectorRegistry(), CollectorRegistry()
        durations = LayerDurations(ours, LAYER_BUCKETS)
        reference = Histogram("stoad_layer_duration_seconds", "x", ["layer"],
                              buckets=LAYER_BUCKETS, registry=theirs)
        values = [0.0, 0.00001, *LAYER_BUCKETS, 0.0003, 0.07, 7.0, 1e9]
        for layer in ("auth", "policy"):
            for value in values:
                durations.labels(layer).observe(value)
                reference.labels(layer).observe(value)

        def samples(registry: CollectorRegistry) -> list[tuple[str, tuple[tuple[str, str], ...],
                                                             float]]:
            return sorted((s.name, tuple(sorted(s.labels.items())), round(s.value, 9))
                          for family in registry.collect() for s in family.samples
                          if not s.name.endswith("_created"))

        self.assertEqual(samples(ours), samples(theirs))

    def test_worker_snapshot_carries_the_histogram(self) -> None:
        """The snapshot a worker sends the supervisor has the family as a histogram."""
        registry = CollectorRegistry()
        LayerDurations(registry, LAYER_BUCKETS).labels("mcp").observe(0.002)
        family = decode_snapshot(encode_snapshot(registry))["stoad_layer_duration_seconds"]
        self.assertEqual(family.type, "histogram")
        self.assertEqual(family.samples[("stoad_layer_duration_seconds_count", (("layer", "mcp"),))], 1)
