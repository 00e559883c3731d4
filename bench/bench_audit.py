"""Audit layer speed: the request-path cost of on_complete, and writer throughput per fsync policy.

    .venv/bin/python bench/bench_audit.py [--requests 50000]

Prints µs per on_complete call (building the event and queuing it for the writer thread), then
the end-to-end rate at which events become durable on disk with `fsync = batch` and `fsync = every`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from prometheus_client import CollectorRegistry  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402

from stoad.audit._layer import AuditLayer  # noqa: E402
from stoad.runtime.layers import AlertBus, Services  # noqa: E402
from tests.support.audit import context, settings, write_key  # noqa: E402


def make_layer(base: str, **overrides: object) -> AuditLayer:
    clock = Clock()
    clock.advance(time.time())
    services = Services(reactor=clock, metrics=SimpleNamespace(registry=CollectorRegistry()),
                        alerts=AlertBus())
    options: dict[str, object] = {"fsync_interval": 0.05, "fsync_batch": 512}
    options.update(overrides)
    layer = AuditLayer(settings(os.path.join(base, "audit"), write_key(base), **options),
                       services)
    layer.start()
    return layer


def request_path(base: str, requests: int, writer_busy: bool) -> float:
    """
    µs per on_complete. With C{writer_busy} the writer thread commits groups concurrently
    (its CPU competes for the GIL, so this is the full cost per request); otherwise the writer
    sleeps until the loop is over (the cost of building and queuing alone).
    """
    idle = {} if writer_busy else {"fsync_interval": 10.0, "fsync_batch": 100_000}
    layer = make_layer(base, max_pending=requests + 10, **idle)
    contexts = [context(n, arguments={"query": "weather in Lisbon", "units": "metric", "n": n})
                for n in range(requests)]
    started = time.perf_counter()
    for ctx in contexts:
        layer.on_complete(ctx)
    elapsed = time.perf_counter() - started
    layer.writer.wait_durable(120.0)
    layer.stop(30.0)
    return elapsed / requests * 1e6


def throughput(base: str, requests: int, every: bool) -> tuple[float, int]:
    """Events per second made durable, and how many fsync groups that took."""
    layer = make_layer(base, fsync_every=every, max_pending=requests + 10)
    contexts = [context(n, arguments={"n": n}) for n in range(requests)]
    groups = [0]
    original = layer.writer._done_group

    def counting() -> None:
        groups[0] += 1
        original()

    layer.writer._done_group = counting  # type: ignore[method-assign]
    started = time.perf_counter()
    for ctx in contexts:
        layer.on_complete(ctx)
    layer.writer.wait_durable(300.0)
    elapsed = time.perf_counter() - started
    layer.stop(30.0)
    return requests / elapsed, groups[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="stoad-bench-audit-")
    try:
        for busy in (False, True):
            for run in range(3):
                us = request_path(os.path.join(base, f"path-{busy}-{run}"), args.requests, busy)
                what = "with the writer committing concurrently" if busy else "build + queue"
                print(f"on_complete ({what}): {us:.2f} µs/request  [run {run + 1}]")
        for every in (False, True):
            rate, groups = throughput(os.path.join(base, f"fsync-{every}"), args.requests, every)
            mode = "every" if every else "batch (50 ms / 512 events)"
            print(f"fsync = {mode}: {rate:,.0f} events/s durable, {groups} fsync groups "
                  f"for {args.requests} events")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
