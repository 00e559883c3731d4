"""Issue 13's floors: what the design's stack costs per request before stoad does anything.

    .venv/bin/python bench/bench_floor.py --loadgen .cache/bench/loadgen [--seconds 5]

One run starts the Go upstream and, one after another, nginx, `bench/floor_proxy.py` (Twisted +
pyOpenSSL memory-BIO TLS + httptools, forwarding and nothing else) and stoad with no layers
(1 worker), and measures each with the same load as `bench/bench_table.py`: keep-alive mTLS 2 KB
JSON POSTs over 16 connections, and one GET per new mTLS connection. CPU is utime+stime of the
server's processes over the measured run divided by the requests answered. Then it times, in
this process, the fixed work of one audited request that no implementation of the issue-11
design can skip: two SHA-256 digests and two orjson encodings of a record, an Ed25519 signature
of the head per group commit, and the CPU of one write + fdatasync.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import orjson  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from bench.bench_gateway import wait_for  # noqa: E402
from bench.bench_table import BODY_BYTES, Table, stoad_pids  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def start_floor(table: Table, upstream_port: int) -> tuple[list[int], int]:
    port_file = os.path.join(table.tmp, "floor.port")
    process = subprocess.Popen([sys.executable, os.path.join(HERE, "floor_proxy.py"),
                                "--port-file", port_file, "--upstream-port", str(upstream_port),
                                "--cert", table.pki["server"], "--key", table.pki["server-key"],
                                "--ca", table.pki["ca"]])
    table.cleanups.append(lambda: (process.terminate(), process.wait(10)))
    wait_for(lambda: os.path.exists(port_file), "floor proxy")
    with open(port_file) as f:
        return [process.pid], int(f.read())


def measure(table: Table, url: str, pids: list[int]) -> dict[str, Any]:
    return {"post": table.run(url, pids, "-body-bytes", str(BODY_BYTES)),
            "new": table.run(url, pids, "-new-connections")}


def per_call(function: Any, n: int) -> float:
    """Median over 5 runs of thread CPU µs per call."""
    runs = []
    for _ in range(5):
        start = time.thread_time()
        for _ in range(n):
            function()
        runs.append((time.thread_time() - start) * 1e6 / n)
    return sorted(runs)[2]


def audit_floor(tmp: str) -> dict[str, float]:
    record = {"event_id": "0" * 26, "event_type": "http_request", "record_type": "decision",
              "timestamp": "2026-12-04T21:00:00.000Z", "worker": 0, "consumer": "agent-1",
              "agent": "agent-1", "method": "POST", "path": "/api/bench", "route": "api",
              "status": 200, "outcome": "allowed", "parameters_hash": "hmac-sha256:" + "0" * 64,
              "decisions": [{"layer": n, "outcome": "allow"} for n in
                            ("auth", "policy", "guardrails")],
              "trace_id": "0" * 32, "seq": 1, "prev_hash": "0" * 64}
    key = Ed25519PrivateKey.generate()
    encoded = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    fd = os.open(os.path.join(tmp, "floor.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    line = encoded + b"\n"

    def write_sync() -> None:
        os.write(fd, line)
        os.fdatasync(fd)
    try:
        figures = {
            "orjson sorted encoding of a record": per_call(
                lambda: orjson.dumps(record, option=orjson.OPT_SORT_KEYS), 20000),
            "SHA-256 of a record": per_call(lambda: hashlib.sha256(encoded).hexdigest(), 20000),
            "Ed25519 signature of a head": per_call(lambda: key.sign(encoded[:160]), 5000),
            "write + fdatasync of one group": per_call(write_sync, 500),
        }
    finally:
        os.close(fd)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loadgen", default=os.path.join(HERE, "..", ".cache", "bench", "loadgen"))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    args.py_spy, args.rate, args.idle_connections = "", 200.0, 0
    tmp = tempfile.mkdtemp(prefix="stoad-floor-")
    table = Table(args, tmp)
    rows: dict[str, dict[str, Any]] = {}
    try:
        _, upstream_port = table.start_upstream()
        pids, port = table.start_nginx(upstream_port)
        rows["nginx"] = measure(table, f"https://localhost:{port}/api/bench", pids)
        pids, port = start_floor(table, upstream_port)
        rows["floor: Twisted + pyOpenSSL + httptools, forwarding only"] = measure(
            table, f"https://localhost:{port}/api/bench", pids)
        bare = table.start_stoad(upstream_port, 1)
        rows["stoad, no layers"] = measure(table, bare.url("/api/bench"), stoad_pids(bare))
        bare.stop()
        audit = audit_floor(tmp)
    finally:
        table.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"Keep-alive mTLS {BODY_BYTES}-byte JSON POST and one GET per new mTLS connection, "
          f"{args.connections} connections, {args.seconds:.0f} s each; load average "
          f"{os.getloadavg()[0]:.2f}.\n")
    print("| server | req/s | CPU µs per request | new-connection CPU µs | errors |")
    print("|---|---:|---:|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['post']['rps']:.0f} | {row['post']['cpu_us_per_request']:.0f} | "
              f"{row['new']['cpu_us_per_request']:.0f} | "
              f"{row['post']['errors'] + row['new']['errors']} |")
    print("\n| fixed audit work | CPU µs |\n|---|---:|")
    for name, value in audit.items():
        print(f"| {name} | {value:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
