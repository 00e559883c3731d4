"""Metric updates per request: what the worker pays for its counters, histogram and gauges, in
prometheus-client's multiprocess mode (as before) and on a plain per-worker registry (now).

Run: .venv/bin/python bench/bench_metrics.py [--iterations N]
Each mode runs in its own interpreter (multiprocess mode is chosen when prometheus_client is
imported). The per-request work is what the gateway does per answered request: one
C{stoad_requests} child looked up and incremented, one latency observation, the open-connections
gauge up and down (one connection per request, the worst case).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_one(iterations: int) -> dict[str, float]:
    sys.path.insert(0, REPO)
    from stoad.daemon.metrics import Metrics

    metrics = Metrics()
    requests = metrics.requests.labels("api", "200")
    latency = metrics.latency.labels("api")
    gauge = metrics.open_connections
    for _ in range(1000):
        requests.inc()
    start_cpu = time.process_time()
    start = time.perf_counter()
    for _ in range(iterations):
        requests.inc()
        latency.observe(0.003)
        gauge.inc()
        gauge.dec()
    wall = time.perf_counter() - start
    cpu = time.process_time() - start_cpu
    return {"us_per_request_wall": wall / iterations * 1e6, "us_per_request_cpu": cpu / iterations * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.iterations)))
        return
    for label, multiproc in (("multiprocess mode (before)", True),
                             ("per-worker registry (now)", False)):
        env = dict(os.environ)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with tempfile.TemporaryDirectory() as tmp:
            if multiproc:
                env["PROMETHEUS_MULTIPROC_DIR"] = tmp
            best = None
            for _ in range(3):
                out = subprocess.run([sys.executable, __file__, "--child", "--iterations",
                                      str(args.iterations)], env=env, check=True,
                                     capture_output=True, text=True).stdout
                result = json.loads(out)
                if best is None or result["us_per_request_cpu"] < best["us_per_request_cpu"]:
                    best = result
        assert best is not None
        print(f"{label:30s} {best['us_per_request_cpu']:6.2f} µs CPU per request "
              f"({best['us_per_request_wall']:.2f} µs wall), best of 3")


if __name__ == "__main__":
    main()
