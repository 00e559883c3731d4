"""Prometheus metrics of one process; the supervisor merges its workers' at scrape time.

Layers add their own metrics to C{Metrics.registry}; names all start with C{stoad_}.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0, 30.0)

# A layer's request step: tens of microseconds in memory, up to the step timeout when it waits
# on an authorization server, OPA or Redis.
LAYER_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _Durations:
    """One label value's buckets (the last one +Inf) and sum."""

    __slots__ = ("_bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self._bounds, seconds)] += 1
        self.sum += seconds


class LayerDurations:
    """
    C{stoad_layer_duration_seconds{layer}}: a histogram observed once per layer per request, so
    kept without prometheus-client's locks (two per observation): only the reactor thread
    observes, and the snapshot for the supervisor is taken on that thread too.
    """

    name = "stoad_layer_duration_seconds"
    documentation = "Time each layer's request step took, by layer (a refusing step included)."
    _labelnames = ("layer",)

    def __init__(self, registry: CollectorRegistry, buckets: tuple[float, ...]) -> None:
        self._bounds = tuple(sorted(buckets))
        self._children: dict[str, _Durations] = {}
        registry.register(self)

    def labels(self, layer: str) -> _Durations:
        child = self._children.get(layer)
        if child is None:
            child = self._children[layer] = _Durations(self._bounds)
        return child

    def describe(self) -> Iterator[HistogramMetricFamily]:
        yield HistogramMetricFamily(self.name, self.documentation, labels=self._labelnames)

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self._labelnames)
        for layer, child in sorted(self._children.items()):
            total, buckets = 0, []
            for bound, count in zip((*self._bounds, float("inf")), child.counts, strict=True):
                total += count
                buckets.append((floatToGoString(bound), total))
            family.add_metric([layer], buckets, child.sum)
        yield family


class RequestDurations(LayerDurations):
    """
    C{stoad_request_duration_seconds{route}}: observed once per request, on the reactor thread,
    so kept without prometheus-client's locks as L{LayerDurations} is.
    """

    name = "stoad_request_duration_seconds"
    documentation = "Time from request received to response finished."
    _labelnames = ("route",)


class _Count:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class ReactorCounts:
    """
    A labelled counter incremented only on the reactor thread (where the supervisor's snapshot
    is taken too): a plain number per label tuple instead of prometheus-client's C{Counter}
    with a lock per increment; the same exposition (its C{_created} samples aside).
    """

    def __init__(self, registry: CollectorRegistry, name: str, documentation: str,
                 labelnames: tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self._labelnames = labelnames
        self._children: dict[tuple[str, ...], _Count] = {}
        registry.register(self)

    def labels(self, *values: str) -> _Count:
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self._labelnames):
                raise ValueError(f"{self.name} takes labels {self._labelnames}, got {values}")
            child = self._children[values] = _Count()
        return child

    def describe(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(self.name, self.documentation, labels=self._labelnames)

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self._labelnames)
        for key, child in sorted(self._children.items()):
            family.add_metric(list(key), child.value)
        yield family


class RequestCounts(ReactorCounts):
    """C{stoad_requests_total{route,status}}: incremented once per request."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry, "stoad_requests", "Requests answered, by route and status.",
                         ("route", "status"))


class Metrics:
    """The daemon's own metrics on a registry that layers share."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = RequestCounts(self.registry)
        self.latency = RequestDurations(self.registry, LATENCY_BUCKETS)
        self.open_connections = Gauge(
            "stoad_open_connections", "Client connections open now.", registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.handshake_failures = Counter(
            "stoad_tls_handshake_failures", "TLS handshakes that failed, by reason.", ["reason"],
            registry=self.registry,
        )
        self.denials = Counter(
            "stoad_denials", "Requests refused, by layer and error.", ["layer", "error"],
            registry=self.registry,
        )
        self.route_denials = Counter(
            "stoad_route_denials", "Requests refused, by route and layer.", ["route", "layer"],
            registry=self.registry,
        )
        self.layer_duration = LayerDurations(self.registry, LAYER_BUCKETS)
        self.state_up = Gauge(
            "stoad_state_backend_up", "1 while the shared-state backend answers (the lowest "
            "across workers).", registry=self.registry, multiprocess_mode="livemin",
        )
        self.state_failures = Counter(
            "stoad_state_failures", "Requests the shared-state backend failed, by feature and "
            "failure mode (closed: refused 503; open: served without it).", ["feature", "mode"],
            registry=self.registry,
        )
        self.state_commands = Counter(
            "stoad_state_commands", "Round trips to the shared-state backend.",
            registry=self.registry,
        )
        self.reload_failures = Counter(
            "stoad_reload_failures", "Reloads that failed and kept the old state, by part.",
            ["part"], registry=self.registry,
        )
