"""The audit writer thread's CPU per forwarded request, per record and per group commit, in process.

    .venv/bin/python bench/bench_audit_writer.py [--requests 3000] [--runs 5] [--work-us 300]
    PYTHONPATH=OTHER_TREE .venv/bin/python bench/bench_audit_writer.py   # another tree, same venv

A closed loop drives the real audit layer and writer thread as the daemon does: the main thread
plays the reactor (it spends C{--work-us} of CPU on each request's other work, letting go of the
GIL every C{--step-us} as its socket calls do, appends the decision, waits for it to be durable,
settles it through C{callFromThread}, appends the completion) with C{--in-flight} requests at once;
each pass of the loop is one turn of the reactor (the requests it starts, then the calls due at its
end and those from the writer). The writer thread's CPU is read with its own thread clock
(C{pthread_getcpuclockid}), so the figures are the writer's alone: µs per request (decision +
completion), per record and per group commit, and records per group. Then the parts, timed alone on
the main thread: finishing and sealing each record, the head's signature, a group's
write + fdatasync.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from types import SimpleNamespace
from typing import Any, Callable

from prometheus_client import CollectorRegistry

from stoad.audit._chain import seal, sign_checkpoint
from stoad.audit._event import (
    ParametersKey,
    build_completion_event,
    build_decision_event,
    finish_event,
)
from stoad.audit._layer import AuditLayer
from stoad.runtime.layers import AlertBus, Services
from tests.support.audit import ThreadedClock, context, settings, write_key

ARGUMENTS = {"query": "weather in Lisbon", "units": "metric", "n": 1}


def spin(seconds: float, step: float) -> None:
    """
    Spend C{seconds} of this thread's CPU as the reactor's other work does: holding the GIL,
    letting go of it every C{step} seconds (a socket call) so that the writer can take it.
    """
    end = time.thread_time() + seconds
    while True:
        now = time.thread_time()
        if now >= end:
            return
        until = min(end, now + step)
        while time.thread_time() < until:
            pass
        time.sleep(0)


def closed_loop(base: str, requests: int, in_flight: int, work: float,
                step: float) -> dict[str, float]:
    """One run: the writer thread's CPU per request, record and group; records per group."""
    clock = ThreadedClock()
    clock.advance(time.time())
    services = Services(reactor=clock, metrics=SimpleNamespace(registry=CollectorRegistry()),
                        alerts=AlertBus())
    layer = AuditLayer(settings(os.path.join(base, "audit"), write_key(base),
                                fsync_interval=0.05, fsync_batch=512, durable_wait=60.0,
                                max_pending=4 * requests), services)
    layer.start()
    writer = layer.writer
    groups = [0]
    on_records = writer._on_records

    def counting(count: int, kinds: dict[str, int]) -> None:
        groups[0] += 1
        if on_records is not None:
            on_records(count, kinds)

    writer._on_records = counting
    assert writer._thread is not None and writer._thread.ident is not None
    writer_clock = time.pthread_getcpuclockid(writer._thread.ident)
    issued = done = 0

    def issue() -> None:
        nonlocal issued
        ctx = context(issued, arguments=ARGUMENTS, status=None, outcome=None)
        issued += 1
        spin(work, step)
        waiting = layer.before_forward(ctx)
        assert waiting is not None

        def durable(_: object) -> None:
            nonlocal done
            ctx.status, ctx.outcome = 200, "allowed"
            layer.on_complete(ctx)
            done += 1

        waiting.addCallback(durable)

    writer.wait_durable(10.0)
    groups[0] = 0
    records_before = writer.committed
    cpu_before = time.clock_gettime(writer_clock)
    main_before = time.thread_time()
    started = time.perf_counter()
    while done < requests:
        while issued - done < in_flight and issued < requests:
            issue()
        clock.run_calls(wait=1.0)
    writer.wait_durable(60.0)
    elapsed = time.perf_counter() - started
    cpu = time.clock_gettime(writer_clock) - cpu_before
    main = time.thread_time() - main_before
    records = writer.committed - records_before
    layer.stop(30.0)
    return {"request": cpu / requests * 1e6, "record": cpu / max(records, 1) * 1e6,
            "group": cpu / max(groups[0], 1) * 1e6, "per_group": records / max(groups[0], 1),
            "main": main / requests * 1e6 - work * 1e6, "rate": requests / elapsed}


def timed(fn: Callable[[Any], object], items: list[Any]) -> float:
    """µs of this thread's CPU per call of C{fn} over C{items}."""
    started = time.thread_time()
    for item in items:
        fn(item)
    return (time.thread_time() - started) / len(items) * 1e6


def parts(base: str, count: int) -> dict[str, float]:
    """The writer's fixed pieces, each timed alone on this thread."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = ParametersKey(b"k" * 32)
    figures: dict[str, float] = {}

    def decisions() -> list[tuple[dict[str, Any], Any]]:
        return [build_decision_event(context(n, arguments=ARGUMENTS), 0) for n in range(count)]

    def completions() -> list[tuple[dict[str, Any], Any]]:
        return [(build_completion_event(context(n, arguments=ARGUMENTS), 1_700_000_000.5, 0,
                                        "decision-id"), None) for n in range(count)]

    def finish_and_seal(pair: tuple[dict[str, Any], Any]) -> object:
        return seal(finish_event(pair[0], pair[1], key), 7, "0" * 64)

    figures["decision: finish + seal"] = timed(finish_and_seal, decisions())
    figures["completion: finish + seal"] = timed(finish_and_seal, completions())
    signing = Ed25519PrivateKey.generate()
    figures["head signature"] = timed(
        lambda _: sign_checkpoint(signing, 7, "0" * 64, "audit-00000000000000000001.jsonl",
                                  "2026-01-01T00:00:00.000Z", chain="worker-0"),
        [None] * count)
    line = finish_and_seal(build_decision_event(context(0, arguments=ARGUMENTS), 0))
    assert isinstance(line, tuple)
    group = line[0] * 2
    fd = os.open(os.path.join(base, "parts.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        def commit(_: object) -> None:
            os.write(fd, group)
            os.fdatasync(fd)

        figures["write + fdatasync of 2 records"] = timed(commit, [None] * min(count, 500))
    finally:
        os.close(fd)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--work-us", type=float, default=300.0,
                        help="the reactor's other CPU per request (holding the GIL)")
    parser.add_argument("--step-us", type=float, default=50.0,
                        help="the reactor lets go of the GIL this often (its socket calls)")
    parser.add_argument("--parts", type=int, default=5000, help="calls per part timed alone")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="stoad-bench-writer-")
    try:
        runs = []
        for run in range(args.runs):
            figures = closed_loop(os.path.join(base, f"loop-{run}"), args.requests,
                                  args.in_flight, args.work_us / 1e6, args.step_us / 1e6)
            runs.append(figures)
            print(f"run {run + 1}: writer {figures['request']:.1f} µs/request, "
                  f"{figures['record']:.1f} µs/record, {figures['group']:.1f} µs/group, "
                  f"{figures['per_group']:.2f} records/group; reactor's audit share "
                  f"{figures['main']:.1f} µs/request; {figures['rate']:.0f} requests/s")
        summary = {name: statistics.median(r[name] for r in runs) for name in runs[0]}
        print(f"median of {args.runs}: writer {summary['request']:.1f} µs/request "
              f"({min(r['request'] for r in runs):.1f}-{max(r['request'] for r in runs):.1f}), "
              f"{summary['record']:.1f} µs/record, {summary['group']:.1f} µs/group, "
              f"{summary['per_group']:.2f} records/group")
        for name, value in parts(base, args.parts).items():
            print(f"alone: {name}: {value:.1f} µs")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
