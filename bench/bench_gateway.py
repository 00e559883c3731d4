"""Gateway benchmark: keep-alive throughput, latency and server CPU per request, in one run.

    make bench        (builds the tools, then runs this script)
    .venv/bin/python bench/bench_gateway.py --loadgen .cache/bench/loadgen \\
        --py-spy .cache/bench/venv/bin/py-spy [--seconds 10] [--connections 16]

Targets, all in front of the same fast Go upstream (a static 200): the upstream direct (plain
HTTP), nginx as an mTLS-terminating reverse proxy, and stoad (bare path: no security layers)
with workers = 1 and workers = 2. Load comes from bench/loadgen (Go stdlib client, mTLS,
one keep-alive connection per client). CPU per request is the utime+stime delta in
/proc/PID/stat of the server's processes (nginx master and worker; stoad supervisor and every
worker) over the measured run, divided by the requests answered. Then py-spy samples a stoad
worker under the same load and the hottest functions are listed.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stoad.dev.devpki import write_dev_pki  # noqa: E402
from tests.support.daemon import REPO, StoadDaemon, gateway_config  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the given processes, in seconds."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready within {timeout}s")


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: str) -> None:
        self.args = args
        self.tmp = tmp
        self.pki = write_dev_pki(os.path.join(tmp, "pki"))
        self.cleanups: list[Callable[[], None]] = []

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception as e:  # keep cleaning up the rest
                print(f"cleanup failed: {e}", file=sys.stderr)

    def command(self, url: str, tls: bool, seconds: float, warmup: float) -> list[str]:
        command = [self.args.loadgen, "run", "-url", url, "-c", str(self.args.connections),
                   "-d", f"{seconds}s", "-warmup", f"{warmup}s"]
        if tls:
            command += ["-cert", self.pki["agent-1"], "-key", self.pki["agent-1-key"],
                        "-ca", self.pki["ca"]]
        return command

    def load(self, url: str, tls: bool, pids: list[int]) -> dict[str, Any]:
        """A warm-up run, then the measured run with the servers' CPU counted around it."""
        subprocess.run(self.command(url, tls, 2, 0), check=True, capture_output=True,
                       timeout=60)
        before = [cpu_seconds([pid]) for pid in pids]
        busy_before = machine_busy()
        done = subprocess.run(self.command(url, tls, self.args.seconds, 0), check=True,
                              capture_output=True, text=True, timeout=self.args.seconds + 60)
        busy_after = machine_busy()
        by_pid = [cpu_seconds([pid]) - b for pid, b in zip(pids, before, strict=True)]
        used = sum(by_pid)
        result: dict[str, Any] = json.loads(done.stdout)
        result["cpu_seconds"] = used
        result["cpu_seconds_by_process"] = by_pid
        result["machine_busy_percent"] = 100.0 * (busy_after[0] - busy_before[0]) / max(
            busy_after[1] - busy_before[1], 1)
        result["cpu_us_per_request"] = used * 1e6 / max(result["requests"], 1)
        result["command"] = " ".join(self.command(url, tls, self.args.seconds, 0)).replace(
            self.tmp, "$TMP")
        return result

    def start_upstream(self) -> tuple[int, int]:
        portfile = os.path.join(self.tmp, "upstream.port")
        process = subprocess.Popen([self.args.loadgen, "serve", "-portfile", portfile])
        self.cleanups.append(lambda: (process.terminate(), process.wait(10)))
        wait_for(lambda: os.path.exists(portfile), "upstream")
        with open(portfile) as f:
            return process.pid, int(f.read())

    def start_nginx(self, upstream_port: int) -> tuple[list[int], int]:
        prefix = os.path.join(self.tmp, "nginx")
        os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
        port = free_port()
        pki = self.pki
        conf = f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream backend {{ server 127.0.0.1:{upstream_port}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {pki['server']};
        ssl_certificate_key {pki['server-key']};
        ssl_client_certificate {pki['ca']};
        ssl_crl {pki['crl']};
        ssl_verify_client on;
        ssl_protocols TLSv1.2 TLSv1.3;
        keepalive_requests 10000000;
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""
        path = os.path.join(prefix, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        process = subprocess.Popen(["nginx", "-p", prefix, "-c", path, "-g", "daemon off;"])
        self.cleanups.append(lambda: (process.terminate(), process.wait(10)))
        wait_for(lambda: port_open(port), "nginx")
        workers = wait_for(lambda: children(process.pid), "nginx worker")
        return [process.pid, *workers], port

    def start_stoad(self, upstream_port: int, workers: int) -> StoadDaemon:
        workdir = os.path.join(self.tmp, f"stoad-{workers}")
        os.makedirs(workdir)
        daemon = StoadDaemon(workdir, gateway_config(
            self.pki, state_dir=os.path.join(workdir, "state"),
            admin_socket=os.path.join(workdir, "admin.sock"),
            routes={"api": {"prefix": "/api", "upstream": f"http://127.0.0.1:{upstream_port}"}},
            server={"workers": str(workers)}), pki=self.pki)
        daemon.start()
        self.cleanups.append(lambda: (daemon.stop(), daemon.kill()))
        return daemon

    def profile(self, daemon: StoadDaemon) -> dict[str, Any]:
        """py-spy samples one worker while the load generator runs against it."""
        pid = daemon.worker_pids()[0]
        raw = os.path.join(self.tmp, "stoad-profile.txt")
        seconds = int(max(self.args.seconds, 6))
        load = subprocess.Popen(self.command(daemon.url("/api/bench"), True, seconds + 4, 0),
                                stdout=subprocess.DEVNULL)
        time.sleep(2)  # let every connection finish its handshake: profile the steady state
        spy = [self.args.py_spy, "record", "--pid", str(pid), "--duration", str(seconds),
               "--rate", "200", "--format", "raw", "--output", raw, "--nonblocking"]
        subprocess.run(spy, check=True, capture_output=True, timeout=seconds + 60)
        load.wait(seconds + 60)
        shutil.copy(raw, self.args.profile_out)
        return summarise_profile(raw)


def summarise_profile(path: str, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            count = int(count_text)
            frames = [_short(frame) for frame in stack.split(";")]
            total += count
            own[frames[-1]] += count
            for frame in set(frames):
                inclusive[frame] += count
    packages: collections.Counter[str] = collections.Counter()
    for name, n in own.items():
        packages[_package(name)] += n
    stoad = collections.Counter({k: v for k, v in inclusive.items() if "(stoad/" in k})

    def share(counter: collections.Counter[str], n: int = top) -> list[tuple[str, float]]:
        return [(name, 100.0 * c / max(total, 1)) for name, c in counter.most_common(n)]
    return {"samples": total, "self": share(own), "inclusive": share(inclusive),
            "packages": share(packages), "stoad": share(stoad, 15)}


def _package(frame: str) -> str:
    where = frame.rpartition(" (")[2]
    parts = where.split("/")
    if parts[0] == "twisted" and len(parts) >= 3:
        return "/".join(parts[:2])
    if len(parts) >= 2:
        return parts[0]
    return "stdlib/other"


def _short(frame: str) -> str:
    # "function (/abs/site-packages/pkg/module.py:123)" -> "function (pkg/module.py)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for root in (REPO + "/", "site-packages/", "lib/python3.11/"):
        if root in where:
            where = where.split(root, 1)[1]
    where = where.rsplit(":", 1)[0]  # per function, not per line
    return f"{name} ({where})" if where else name


def render(results: dict[str, dict[str, Any]], profile: dict[str, Any] | None) -> str:
    lines = ["| target | req/s | p50 ms | p99 ms | server CPU µs/request | CPU s by process "
             "| machine busy | errors |", "|---|---:|---:|---:|---:|---|---:|---:|"]
    for name, r in results.items():
        split = " / ".join(f"{c:.2f}" for c in r["cpu_seconds_by_process"])
        lines.append(f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                     f"{r['cpu_us_per_request']:.0f} | {split} | "
                     f"{r['machine_busy_percent']:.0f}% | {r['errors']} |")
    one, two = results.get("stoad workers=1"), results.get("stoad workers=2")
    if one and two:
        lines += ["", f"stoad throughput workers=2 / workers=1: {two['rps'] / one['rps']:.2f}x"]
    lines += ["", "Load commands (TMP is the run's temporary folder):", ""]
    lines += [f"    {name}: {r['command']}" for name, r in results.items()]
    if profile:
        lines += ["", f"py-spy, one stoad worker under load ({profile['samples']} samples), "
                  "top functions by own time:", "", "| % own | function |", "|---:|---|"]
        lines += [f"| {p:.1f} | `{n}` |" for n, p in profile["self"]]
        lines += ["", "Own time by package:", "", "| % own | package |", "|---:|---|"]
        lines += [f"| {p:.1f} | `{n}` |" for n, p in profile["packages"]]
        lines += ["", "stoad's own functions by inclusive time:", "", "| % incl. | function |",
                  "|---:|---|"]
        lines += [f"| {p:.1f} | `{n}` |" for n, p in profile["stoad"]]
        lines += ["", "Top functions by inclusive time:", "", "| % incl. | function |",
                  "|---:|---|"]
        lines += [f"| {p:.1f} | `{n}` |" for n, p in profile["inclusive"]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loadgen", default=os.path.join(REPO, ".cache", "bench", "loadgen"))
    parser.add_argument("--py-spy", dest="py_spy",
                        default=os.path.join(REPO, ".cache", "bench", "venv", "bin", "py-spy"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--json-out", default=os.path.join(REPO, ".cache", "bench", "results.json"))
    parser.add_argument("--profile-out",
                        default=os.path.join(REPO, ".cache", "bench", "stoad-profile.txt"))
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="stoad-bench-")
    bench = Bench(args, tmp)
    results: dict[str, dict[str, Any]] = {}
    profile = None
    try:
        upstream_pid, upstream_port = bench.start_upstream()
        results["upstream direct (plain HTTP)"] = bench.load(
            f"http://127.0.0.1:{upstream_port}/api/bench", False, [upstream_pid])
        nginx_pids, nginx_port = bench.start_nginx(upstream_port)
        results["nginx 1 worker, mTLS"] = bench.load(
            f"https://localhost:{nginx_port}/api/bench", True, nginx_pids)
        for workers in (1, 2):
            daemon = bench.start_stoad(upstream_port, workers)
            assert daemon.process is not None
            pids = [daemon.process.pid, *daemon.worker_pids()]
            results[f"stoad workers={workers}"] = bench.load(
                daemon.url("/api/bench"), True, pids)
            if workers == 1 and not args.no_profile:
                profile = bench.profile(daemon)
            daemon.stop()
    finally:
        bench.close()
        shutil.rmtree(tmp, True)
    os.makedirs(os.path.dirname(args.json_out), exist_ok=True)
    with open(args.json_out, "w") as f:
        json.dump({"results": results, "profile": profile, "cpus": os.cpu_count()}, f, indent=2)
    print(render(results, profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
