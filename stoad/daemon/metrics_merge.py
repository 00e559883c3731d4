"""Per-worker Prometheus registries merged by the supervisor at scrape time: each worker answers
a snapshot of its registry on a unix socket; the supervisor sums, keeps and exposes them.

Counters (and histograms) stay monotonic across worker restarts: a worker's last snapshot is kept
when it dies and added to the live workers' sums. What a worker counted after its last snapshot
and before it died is lost; see docs/architecture.md, "Metrics".
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from twisted.internet import defer, protocol
from twisted.internet.interfaces import IAddress
from twisted.python.failure import Failure

# One snapshot is a few kB per route; anything this large is not a snapshot.
_MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024
_SUMMED_TYPES = frozenset({"counter", "histogram", "summary", "gaugehistogram"})

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Family:
    """One metric family as one worker reported it: samples keyed by (sample name, labels)."""

    name: str
    type: str
    documentation: str
    mode: str  # a gauge's multiprocess_mode, as declared where the gauge is made
    samples: dict[tuple[str, Labels], float]


Snapshot = dict[str, Family]


# -- the worker side --------------------------------------------------------------------------------
def encode_snapshot(registry: CollectorRegistry) -> bytes:
    """Every sample of C{registry} as JSON (C{_created} samples left out, as multiprocess mode
    did); gauges carry the C{multiprocess_mode} they were declared with."""
    modes: dict[str, str] = {}
    # prometheus-client keeps collectors in this mapping and offers no public list of them.
    for collector in getattr(registry, "_collector_to_names", {}):
        mode = getattr(collector, "_multiprocess_mode", None)
        name = getattr(collector, "_name", None)
        if isinstance(mode, str) and isinstance(name, str):
            modes[name] = mode
    families = []
    for metric in registry.collect():
        samples = [
            [s.name, sorted(s.labels.items()), _encode_float(s.value)]
            for s in metric.samples if not s.name.endswith("_created")
        ]
        families.append({"name": metric.name, "type": metric.type,
                         "help": metric.documentation, "mode": modes.get(metric.name, "all"),
                         "samples": samples})
    return json.dumps({"families": families}, separators=(",", ":")).encode("utf-8")


def _encode_float(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)


def decode_snapshot(data: bytes) -> Snapshot:
    """The families of one worker's snapshot; C{ValueError} if it is not one."""
    try:
        document = json.loads(data)
        snapshot: Snapshot = {}
        for f in document["families"]:
            samples: dict[tuple[str, Labels], float] = {}
            for name, labels, value in f["samples"]:
                key = (str(name), tuple((str(k), str(v)) for k, v in labels))
                samples[key] = float(value)
            snapshot[str(f["name"])] = Family(str(f["name"]), str(f["type"]), str(f["help"]),
                                              str(f["mode"]), samples)
        return snapshot
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"not a metrics snapshot: {e}") from None


class _AnswerSnapshot(protocol.Protocol):
    def connectionMade(self) -> None:
        factory = self.factory
        assert isinstance(factory, MetricsSnapshotFactory)
        try:
            self.transport.write(encode_snapshot(factory.registry))  # type: ignore[union-attr]
        finally:
            self.transport.loseConnection()  # type: ignore[union-attr]


class MetricsSnapshotFactory(protocol.Factory):
    """A worker's metrics socket: every connection gets one snapshot, then is closed."""

    protocol = _AnswerSnapshot
    noisy = False

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry


# -- the supervisor side ----------------------------------------------------------------------------
class _ReadSnapshot(protocol.Protocol):
    def __init__(self, done: defer.Deferred[bytes]) -> None:
        self.done = done
        self.chunks: list[bytes] = []
        self.size = 0

    def dataReceived(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > _MAX_SNAPSHOT_BYTES:
            self.transport.abortConnection()  # type: ignore[union-attr]
            return
        self.chunks.append(data)

    def connectionLost(self, reason: Any = None) -> None:
        if self.done.called:
            return
        if self.size > _MAX_SNAPSHOT_BYTES:
            self.done.errback(ValueError("metrics snapshot too large"))
        else:
            self.done.callback(b"".join(self.chunks))


class _SnapshotClient(protocol.ClientFactory):
    noisy = False

    def __init__(self) -> None:
        self.done: defer.Deferred[bytes] = defer.Deferred()

    def buildProtocol(self, addr: IAddress | None) -> protocol.Protocol:
        return _ReadSnapshot(self.done)

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        if not self.done.called:
            self.done.errback(reason)


def fetch_snapshot(reactor: Any, path: str, timeout: float) -> defer.Deferred[Snapshot]:
    """Ask the worker listening on C{path} for its snapshot; fails after C{timeout} seconds."""
    client = _SnapshotClient()
    connector = reactor.connectUNIX(path, client, timeout=timeout)
    d = client.done

    def close(failure: Failure) -> Failure:
        connector.disconnect()
        return failure

    d.addTimeout(timeout, reactor)
    d.addErrback(close)
    return d.addCallback(decode_snapshot)


@dataclass
class _Worker:
    pid: int
    snapshot: Snapshot = field(default_factory=dict)


class WorkerMetrics:
    """
    The workers' metrics as one set: counters and histograms are summed over the live workers
    plus what dead workers had counted at their last snapshot; gauges come from live workers only,
    combined by their C{multiprocess_mode} (C{livesum}/C{sum}, C{min}, C{max}, C{all} with a
    C{pid} label). Registered on the supervisor's registry as a collector.
    """

    def __init__(self) -> None:
        self._live: dict[int, _Worker] = {}  # by worker index
        self._retired: dict[str, Family] = {}

    def worker_started(self, index: int, pid: int) -> None:
        self.worker_ended(index)
        self._live[index] = _Worker(pid)

    def update(self, index: int, pid: int, snapshot: Snapshot) -> None:
        """Keep C{snapshot} as worker C{index}'s, unless that worker is no longer C{pid}."""
        worker = self._live.get(index)
        if worker is not None and worker.pid == pid:
            worker.snapshot = snapshot

    def worker_ended(self, index: int) -> None:
        """Fold the last snapshot's counts of worker C{index} into the retired totals."""
        worker = self._live.pop(index, None)
        if worker is None:
            return
        for name, family in worker.snapshot.items():
            if family.type not in _SUMMED_TYPES:
                continue
            kept = self._retired.get(name)
            if kept is None:
                kept = self._retired[name] = Family(name, family.type, family.documentation,
                                                    family.mode, {})
            for key, value in family.samples.items():
                kept.samples[key] = kept.samples.get(key, 0.0) + value

    def live(self) -> list[tuple[int, int]]:
        """(index, pid) of every live worker."""
        return [(index, w.pid) for index, w in sorted(self._live.items())]

    def collect(self) -> Iterator[Metric]:
        return iter(merge(list(self._retired.values()),
                          [(w.pid, w.snapshot) for _, w in sorted(self._live.items())]))


def merge(retired: Iterable[Family], live: Sequence[tuple[int, Snapshot]]) -> list[Metric]:
    """The families of C{live} workers' snapshots (pid, snapshot) merged, plus C{retired} sums."""
    merged: dict[str, tuple[Family, dict[tuple[str, Labels], float]]] = {}

    def family_for(f: Family) -> dict[tuple[str, Labels], float]:
        found = merged.get(f.name)
        if found is None:
            found = merged[f.name] = (f, {})
        return found[1]

    for family in retired:
        target = family_for(family)
        for key, value in family.samples.items():
            target[key] = target.get(key, 0.0) + value
    for pid, snapshot in live:
        for family in snapshot.values():
            target = family_for(family)
            mode = family.mode.removeprefix("live")
            for (name, labels), value in family.samples.items():
                if family.type in _SUMMED_TYPES or (family.type == "gauge" and mode == "sum"):
                    key = (name, labels)
                    target[key] = target.get(key, 0.0) + value
                elif family.type == "gauge" and mode in ("min", "max"):
                    key = (name, labels)
                    current = target.get(key)
                    pick = min if mode == "min" else max
                    target[key] = value if current is None else pick(current, value)
                else:  # "all" (and any other kind): one series per worker, as multiprocess mode
                    target[(name, tuple(sorted(labels + (("pid", str(pid)),))))] = value
    result = []
    for family, samples in merged.values():
        if not samples:
            continue  # a labelled metric with no child yet: multiprocess mode showed nothing
        metric = Metric(family.name, family.documentation, family.type)
        for (name, labels), value in samples.items():
            metric.add_sample(name, dict(labels), value)
        result.append(metric)
    return result


def socket_path(directory: str, index: int) -> str:
    """Where worker C{index} answers its metrics snapshot."""
    return os.path.join(directory, f"worker-{index}.sock")
