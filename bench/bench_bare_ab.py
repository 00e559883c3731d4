"""Two stoad installs side by side on the bare path: interleaved CPU per request, A then B, N times.

    .venv/bin/python bench/bench_bare_ab.py --loadgen .cache/bench/loadgen \\
        --twist-b OTHER_CHECKOUT/.venv/bin/twist [--runs 3] [--seconds 5]
    .venv/bin/python bench/bench_bare_ab.py --pythonpath-b OTHER_TREE   # same venv, other code

One Go upstream, two daemons with no layers and 1 worker each (A: this venv's `twist`, B: the
other install's), both running for the whole comparison; the load (keep-alive mTLS 2 KB JSON
POSTs over 16 connections, as `bench/bench_floor.py`) goes to one of them at a time, alternating.
On a shared machine, alternating short runs sees the same background load on both sides, which
one run of each at different times does not. Optionally (`--py-spy`) samples A's worker with
`--gil` under the same load and prints the largest own-time functions.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.bench_table import BODY_BYTES, Table, stoad_pids  # noqa: E402
from tests.support.daemon import TWIST, StoadDaemon, gateway_config  # noqa: E402


def start(table: Table, name: str, twist: str, upstream_port: int,
          pythonpath: str = "") -> StoadDaemon:
    workdir = os.path.join(table.tmp, name)
    os.makedirs(workdir)
    daemon = StoadDaemon(workdir, gateway_config(
        table.pki, state_dir=os.path.join(workdir, "state"),
        admin_socket=os.path.join(workdir, "admin.sock"),
        routes={"api": {"prefix": "/api", "upstream": f"http://127.0.0.1:{upstream_port}"}},
        server={"workers": "1"}), pki=table.pki, twist=twist)
    saved = os.environ.get("PYTHONPATH")
    if pythonpath:  # another source tree ahead of the install's own
        os.environ["PYTHONPATH"] = pythonpath
    try:
        daemon.start()
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    table.cleanups.append(lambda: (daemon.stop(), daemon.kill()))
    return daemon


def profile(table: Table, daemon: StoadDaemon, py_spy: str, seconds: int) -> list[str]:
    pid = daemon.worker_pids()[0]
    raw = os.path.join(table.tmp, "ab-profile.txt")
    table.extra = ["-body-bytes", str(BODY_BYTES)]
    load = subprocess.Popen(table.command(daemon.url("/api/bench"), True, seconds + 3, 0),
                            stdout=subprocess.DEVNULL)
    table.extra = []
    time.sleep(2)
    subprocess.run([py_spy, "record", "--pid", str(pid), "--duration", str(seconds), "--gil",
                    "--rate", "250", "--format", "raw", "--output", raw, "--nonblocking"],
                   check=True, capture_output=True, timeout=seconds + 60)
    load.wait(seconds + 60)
    own: collections.Counter[str] = collections.Counter()
    total = 0
    with open(raw) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            total += int(count)
            own[stack.split(";")[-1]] += int(count)
    return [f"{100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(40)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loadgen", default=os.path.join(".cache", "bench", "loadgen"))
    parser.add_argument("--twist-b", default=TWIST, help="the other install's twist")
    parser.add_argument("--pythonpath-b", default="",
                        help="a source tree B imports stoad from (e.g. a git worktree)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--py-spy", default="", help="profile A's worker (py-spy --gil) after")
    args = parser.parse_args()
    args.py_spy_path, args.py_spy, args.rate, args.idle_connections = args.py_spy, "", 200.0, 0
    tmp = tempfile.mkdtemp(prefix="stoad-ab-")
    table = Table(args, tmp)
    results: dict[str, list[float]] = {"A": [], "B": []}
    try:
        _, upstream_port = table.start_upstream()
        daemons = {"A": start(table, "a", TWIST, upstream_port),
                   "B": start(table, "b", args.twist_b, upstream_port, args.pythonpath_b)}
        for run in range(args.runs):
            for name in ("A", "B") if run % 2 == 0 else ("B", "A"):
                daemon = daemons[name]
                row = table.run(daemon.url("/api/bench"), stoad_pids(daemon),
                                "-body-bytes", str(BODY_BYTES))
                results[name].append(row["cpu_us_per_request"])
                print(f"run {run + 1} {name}: {row['cpu_us_per_request']:.0f} µs/request, "
                      f"{row['rps']:.0f} req/s, errors {row['errors']}, "
                      f"load {os.getloadavg()[0]:.2f}", flush=True)
        if args.py_spy_path:
            print("\nA's worker, py-spy --gil, own time:")
            for line in profile(table, daemons["A"], args.py_spy_path, int(args.seconds)):
                print(line)
    finally:
        table.close()
        shutil.rmtree(tmp, ignore_errors=True)
    for name, values in results.items():
        print(f"{name}: " + ", ".join(f"{v:.0f}" for v in values) + " µs/request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
