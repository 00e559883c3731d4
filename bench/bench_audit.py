"""Audit layer speed: request-path cost, the wait for a durable decision, writer throughput.

    .venv/bin/python bench/bench_audit.py [--requests 50000] [--forwarded 5000]

Prints µs per request on the reactor thread (a denial: one record; a forwarded request: its
decision and its completion), then how long a forward waits for its decision record to be durable
(group commit) with 1, 16 and 64 requests in flight, then the rate at which events become durable
with `fsync = batch` and `fsync = every`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from prometheus_client import CollectorRegistry  # noqa: E402
from twisted.internet.selectreactor import SelectReactor  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402

from stoad.audit._layer import AuditLayer  # noqa: E402
from stoad.runtime.layers import AlertBus, Services  # noqa: E402
from tests.support.audit import ThreadedClock, context, settings, write_key  # noqa: E402


def make_layer(base: str, clock: Any = None, **overrides: object) -> AuditLayer:
    if clock is None:
        clock = Clock()
        clock.advance(time.time())
    elif isinstance(clock, Clock):
        clock.advance(time.time())
    services = Services(reactor=clock, metrics=SimpleNamespace(registry=CollectorRegistry()),
                        alerts=AlertBus())
    options: dict[str, object] = {"fsync_interval": 0.05, "fsync_batch": 512}
    options.update(overrides)
    layer = AuditLayer(settings(os.path.join(base, "audit"), write_key(base), **options),
                       services)
    layer.start()
    return layer


def request_path(base: str, requests: int, writer_busy: bool) -> tuple[float, float]:
    """
    µs per on_complete. With C{writer_busy} the writer thread commits groups concurrently
    (its CPU competes for the GIL, so this is the full cost per request); otherwise the writer
    sleeps until the loop is over (the cost of building and queuing alone).
    """
    idle = {} if writer_busy else {"fsync_interval": 10.0, "fsync_batch": 100_000}
    layer = make_layer(base, max_pending=requests + 10, **idle)
    contexts = [context(n, arguments={"query": "weather in Lisbon", "units": "metric", "n": n})
                for n in range(requests)]
    started, cpu = time.perf_counter(), time.process_time()
    for ctx in contexts:
        layer.on_complete(ctx)
    elapsed = time.perf_counter() - started
    layer.writer.wait_durable(120.0)
    cpu = time.process_time() - cpu
    layer.stop(30.0)
    return elapsed / requests * 1e6, cpu / requests * 1e6


def forwarded_path(base: str, requests: int) -> tuple[float, float]:
    """
    µs per forwarded request on the reactor thread: build and queue the decision (waking the
    writer), register the wait for it, then build and queue the completion. The writer thread
    commits concurrently (its CPU shares the GIL), so this is the full cost per request.
    """
    # A real (not running) reactor: its timers live in a heap, as in the daemon, and the
    # writer's callFromThread calls run in runUntilCurrent.
    reactor = SelectReactor()
    layer = make_layer(base, clock=reactor, max_pending=2 * requests + 10, durable_wait=60.0)
    contexts = [context(n, arguments={"query": "weather in Lisbon", "units": "metric", "n": n},
                        status=None, outcome=None) for n in range(requests)]
    started, cpu = time.perf_counter(), time.process_time()
    for n, ctx in enumerate(contexts):
        layer.before_forward(ctx)
        ctx.status, ctx.outcome = 200, "allowed"
        layer.on_complete(ctx)
        if n % 64 == 63:
            # Settle what is durable, as the reactor does between requests.
            reactor.runUntilCurrent()
    elapsed = time.perf_counter() - started
    layer.writer.wait_durable(120.0)
    cpu = time.process_time() - cpu  # every thread: the writer's sealing, signing and syscalls
    layer.stop(30.0)
    return elapsed / requests * 1e6, cpu / requests * 1e6


def decision_wait(base: str, requests: int, in_flight: int, every: bool) -> dict[str, float]:
    """
    Closed loop with C{in_flight} requests waiting at once: each forward waits for its decision
    record to be durable, then completes, and the next request starts. Returns the wait's p50
    and p99 in ms, requests/s, and the records per fsync group.
    """
    clock = ThreadedClock()
    layer = make_layer(base, clock=clock, fsync_every=every, durable_wait=60.0,
                       max_pending=4 * requests)
    groups = [0]
    original = layer.writer._done_group

    def counting(notify: bool = True) -> None:
        groups[0] += 1
        original(notify)

    layer.writer._done_group = counting  # type: ignore[method-assign]
    waits: list[float] = []
    issued = done = 0

    def issue() -> None:
        nonlocal issued
        ctx = context(issued, arguments={"n": issued}, status=None, outcome=None)
        issued += 1
        t0 = time.perf_counter()
        waiting = layer.before_forward(ctx)
        assert waiting is not None

        def durable(_: object) -> None:
            nonlocal done
            waits.append(time.perf_counter() - t0)
            ctx.status, ctx.outcome = 200, "allowed"
            layer.on_complete(ctx)
            done += 1

        waiting.addCallback(durable)

    started = time.perf_counter()
    while done < requests:
        while issued - done < in_flight and issued < requests:
            issue()
        clock.run_calls(wait=1.0)
    elapsed = time.perf_counter() - started
    layer.writer.wait_durable(60.0)
    layer.stop(30.0)
    waits.sort()
    return {"p50": waits[len(waits) // 2] * 1e3, "p99": waits[int(len(waits) * 0.99)] * 1e3,
            "rate": requests / elapsed, "per_group": 2 * requests / max(groups[0], 1)}


def throughput(base: str, requests: int, every: bool) -> tuple[float, int]:
    """Events per second made durable, and how many fsync groups that took."""
    layer = make_layer(base, fsync_every=every, max_pending=requests + 10)
    contexts = [context(n, arguments={"n": n}) for n in range(requests)]
    groups = [0]
    original = layer.writer._done_group

    def counting(notify: bool = True) -> None:
        groups[0] += 1
        original(notify)

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
    parser.add_argument("--forwarded", type=int, default=5_000,
                        help="requests per closed-loop decision-wait run")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="stoad-bench-audit-")
    try:
        for busy in (False, True):
            for run in range(3):
                us, cpu = request_path(os.path.join(base, f"path-{busy}-{run}"),
                                       args.requests, busy)
                what = "with the writer committing concurrently" if busy else "build + queue"
                print(f"denial, on_complete ({what}): {us:.2f} µs/request on the reactor, "
                      f"{cpu:.2f} µs CPU/request in all threads  [run {run + 1}]")
        for run in range(3):
            us, cpu = forwarded_path(os.path.join(base, f"forwarded-{run}"), args.requests)
            print(f"forwarded, decision + wait + completion (writer concurrent): {us:.2f} "
                  f"µs/request on the reactor, {cpu:.2f} µs CPU/request in all threads  "
                  f"[run {run + 1}]")
        for every in (False, True):
            for in_flight in (1, 16, 64):
                figures = decision_wait(os.path.join(base, f"wait-{every}-{in_flight}"),
                                        args.forwarded, in_flight, every)
                mode = "every" if every else "batch"
                print(f"fsync = {mode}, {in_flight} in flight: decision durable after "
                      f"p50 {figures['p50']:.2f} ms, p99 {figures['p99']:.2f} ms; "
                      f"{figures['rate']:,.0f} requests/s; {figures['per_group']:.1f} "
                      "records per fsync")
        for every in (False, True):
            rate, groups = throughput(os.path.join(base, f"fsync-{every}"), args.requests, every)
            mode = "every" if every else "batch (50 ms / 512 events)"
            print(f"fsync = {mode}: {rate:,.0f} events/s durable, {groups} fsync groups "
                  f"for {args.requests} events")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
