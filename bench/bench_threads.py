"""Where a stoad worker's CPU goes by thread, and each layer's mean request-step time, under load.

    .venv/bin/python bench/bench_threads.py --loadgen .cache/bench/loadgen [--mode full|bare]
        [--seconds 8] [--connections 16] [--rate R]

Starts the Go upstream and stoad (1 worker) as `bench/bench_table.py` does — `full`: audit, auth
with a bound ES256 token, the shipped policy, guardrails; `bare`: no layers — runs keep-alive
mTLS 2 KB JSON POSTs, and prints each thread's CPU (utime and stime from /proc, per request) and
the mean of `stoad_layer_duration_seconds` per layer (wall time on the reactor thread, so it
includes waiting for the GIL while the audit writer thread holds it), and the load generator's
latency percentiles. With C{--rate} the load is that many requests per second instead of as many
as the connections can carry.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.bench_table import BODY_BYTES, Table  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[int, tuple[float, float]]:
    """utime and stime in seconds of every thread of C{pid}."""
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # the thread ended
        found[int(tid)] = (int(fields[11]) / TICK, int(fields[12]) / TICK)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loadgen", default=os.path.join(".cache", "bench", "loadgen"))
    parser.add_argument("--mode", choices=("full", "bare"), default="full")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", dest="fixed_rate", type=float, default=0.0,
                        help="requests per second in all (0: as fast as they are answered)")
    args = parser.parse_args()
    args.py_spy, args.rate, args.idle_connections = "", 200.0, 0
    tmp = tempfile.mkdtemp(prefix="stoad-threads-")
    table = Table(args, tmp)
    try:
        _, upstream_port = table.start_upstream()
        daemon = (table.start_full_chain(upstream_port) if args.mode == "full"
                  else table.start_stoad(upstream_port, 1))
        worker = daemon.worker_pids()[0]
        url = daemon.url("/api/bench")
        table.extra = ["-body-bytes", str(BODY_BYTES)]
        if args.fixed_rate:
            table.extra += ["-rate", str(args.fixed_rate)]
        subprocess.run(table.command(url, True, 2, 0), check=True, capture_output=True)
        before = thread_cpu(worker)
        done = subprocess.run(table.command(url, True, args.seconds, 0), check=True,
                              capture_output=True)
        after = thread_cpu(worker)
        result = json.loads(done.stdout)
        metrics = daemon.metrics()
    finally:
        table.close()
        shutil.rmtree(tmp, ignore_errors=True)
    n = max(result["requests"], 1)
    print(f"{args.mode}: {result['requests']} requests, {result['rps']:.0f} req/s, "
          f"{result['errors']} errors, p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
          f"load average {os.getloadavg()[0]:.2f}")
    total = 0.0
    for tid, (user, system) in sorted(after.items()):
        was = before.get(tid, (0.0, 0.0))
        used_user, used_system = user - was[0], system - was[1]
        total += used_user + used_system
        if used_user + used_system > 0:
            name = "reactor thread" if tid == worker else f"thread {tid}"
            print(f"  {name}: {(used_user + used_system) * 1e6 / n:.0f} µs/request "
                  f"(user {used_user * 1e6 / n:.0f}, system {used_system * 1e6 / n:.0f})")
    print(f"  worker: {total * 1e6 / n:.0f} µs/request")
    sums = dict(re.findall(r'stoad_layer_duration_seconds_sum\{layer="([^"]+)"\} (\S+)', metrics))
    counts = dict(re.findall(r'stoad_layer_duration_seconds_count\{layer="([^"]+)"\} (\S+)',
                             metrics))
    for layer, seconds in sums.items():
        print(f"  layer {layer}: request step mean {float(seconds) / max(float(counts[layer]), 1) * 1e6:.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
