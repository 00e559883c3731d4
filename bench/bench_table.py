"""Issue 13's comparison in one run: nginx and stoad (no layers; audit+auth+policy+guardrails)
side by side — CPU per request, latency at a fixed rate, new mTLS connections, memory per idle
keep-alive connection — and a py-spy breakdown of the full chain by part.

    make bench-table    (builds the tools, then runs this script)
    .venv/bin/python bench/bench_table.py --loadgen .cache/bench/loadgen \\
        --py-spy .cache/bench/venv/bin/py-spy [--seconds 10] [--connections 16]

All servers forward to the same Go upstream (bench/loadgen serve) and serve the dev PKI's
server certificate with client certificates required. CPU is utime+stime from /proc of the
server's processes (nginx master+worker; stoad supervisor+workers) over a measured run divided
by the requests answered; the load generator, the upstream and the servers share the machine.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.bench_gateway import Bench, _short, cpu_seconds  # noqa: E402
from stoad.daemon.heap import RECLAIM_DELAY  # noqa: E402
from stoad.dev.devtoken import mint_dev_token, write_dev_issuer  # noqa: E402
from tests.support.daemon import REPO, StoadDaemon, gateway_config  # noqa: E402

PUBLIC_URL = "https://localhost:8443"
BODY_BYTES = 2048


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


class Table(Bench):
    def __init__(self, args: argparse.Namespace, tmp: str) -> None:
        super().__init__(args, tmp)
        self.issuer = write_dev_issuer(tmp)
        self.headers: list[str] = []

    def command(self, url: str, tls: bool, seconds: float, warmup: float) -> list[str]:
        command = super().command(url, tls, seconds, warmup)
        for header in self.headers:
            command += ["-header", header]
        return command + self.extra

    extra: list[str] = []

    def run(self, url: str, pids: list[int], *extra: str, connections: int | None = None
            ) -> dict[str, Any]:
        self.extra = list(extra)
        saved = self.args.connections
        if connections is not None:
            self.args.connections = connections
        try:
            return self.load(url, True, pids)
        finally:
            self.args.connections = saved
            self.extra = []

    def start_full_chain(self, upstream_port: int) -> StoadDaemon:
        workdir = os.path.join(self.tmp, "stoad-full")
        os.makedirs(workdir)
        policies = os.path.join(workdir, "policies")
        shutil.copytree(os.path.join(REPO, "etc", "stoad", "policies"), policies,
                        ignore=shutil.ignore_patterns("examples", "*_test.rego"))
        consumers = os.path.join(workdir, "consumers.ini")
        shutil.copy(os.path.join(REPO, "etc", "stoad", "consumers.ini"), consumers)
        text = gateway_config(
            self.pki, state_dir=os.path.join(workdir, "state"),
            admin_socket=os.path.join(workdir, "admin.sock"),
            routes={"api": {"prefix": "/api", "upstream": f"http://127.0.0.1:{upstream_port}"}},
            layers=("audit", "auth", "policy", "guardrails"),
            server={"workers": "1", "public_url": PUBLIC_URL},
            sections={
                "audit": {"directory": os.path.join(workdir, "audit"),
                          "signing_key": self.issuer["audit-key"]},
                "auth": {"issuer": "https://issuer.stoad.dev", "jwks_file": self.issuer["issuer-jwks"],
                         "consumers": consumers, "algorithms": "ES256", "require_binding": "yes"},
                "policy": {"directory": policies},
                "guardrails": {},
            })
        daemon = StoadDaemon(workdir, text, pki=self.pki)
        daemon.start()
        self.cleanups.append(lambda: (daemon.stop(), daemon.kill()))
        token = mint_dev_token(self.issuer["issuer-key"], self.pki["agent-1"], "agent-1",
                               PUBLIC_URL + "/api", ["stoa:read", "stoa:write"], lifetime=600)
        self.headers = [f"Authorization: Bearer {token}"]
        return daemon

    def idle_connections(self, port: int, pids: list[int], count: int) -> dict[str, float]:
        """RSS growth per idle keep-alive connection (each made one request), then RSS after
        they all closed."""
        context = ssl.create_default_context(cafile=self.pki["ca"])
        context.load_cert_chain(self.pki["agent-1"], self.pki["agent-1-key"])
        header = "".join(f"{h}\r\n" for h in self.headers)
        request = (f"GET /api/idle HTTP/1.1\r\nHost: localhost\r\n{header}\r\n").encode()
        time.sleep(1.0)
        before = rss_kb(pids)
        held = []
        for i in range(count):
            # From 50 loopback addresses: stoad holds at most max_connections_per_source (128)
            # slots per client address, and this measures memory, not that limit.
            raw = socket.create_connection(("127.0.0.1", port), timeout=10,
                                           source_address=(f"127.0.0.{2 + i % 50}", 0))
            sock = context.wrap_socket(raw, server_hostname="localhost")
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            held.append(sock)
        time.sleep(1.0)
        loaded = rss_kb(pids)
        for sock in held:
            sock.close()
        # stoad collects what closed connections left RECLAIM_DELAY after they closed.
        time.sleep(RECLAIM_DELAY + 2.0)
        after = rss_kb(pids)
        return {"rss_idle_kb": before, "rss_with_connections_kb": loaded,
                "kb_per_connection": (loaded - before) / count, "rss_after_close_kb": after,
                "connections": count}

    def profile_parts(self, daemon: StoadDaemon, url: str) -> dict[str, Any]:
        pid = daemon.worker_pids()[0]
        raw = os.path.join(self.tmp, "stoad-full-profile.txt")
        seconds = int(max(self.args.seconds, 6))
        self.extra = ["-body-bytes", str(BODY_BYTES)]
        load = subprocess.Popen(self.command(url, True, seconds + 4, 0), stdout=subprocess.PIPE)
        self.extra = []
        time.sleep(2)
        before = cpu_of([pid])
        spy = [self.args.py_spy, "record", "--pid", str(pid), "--duration", str(seconds),
               "--rate", "200", "--format", "raw", "--output", raw, "--nonblocking"]
        subprocess.run(spy, check=True, capture_output=True, timeout=seconds + 60)
        out, _ = load.communicate(timeout=seconds + 60)
        result = json.loads(out)
        shutil.copy(raw, self.args.profile_out)
        return {"parts": parts_of(raw), "worker_cpu_seconds": cpu_of([pid]) - before,
                "requests": result.get("requests")}


def cpu_of(pids: list[int]) -> float:
    return cpu_seconds(pids)


# Parts of the request path, as the issue names them. A sample belongs to the part of its
# innermost frame that matches a rule; frames matching none (stdlib, builtins) are transparent.
PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("policy (regorus and input)", ("stoad/policy/", "regorus")),
    ("audit (request path + writer thread)", ("stoad/audit/", "orjson")),
    ("guardrails", ("stoad/guardrails/", "re2")),
    ("auth", ("stoad/auth/", "jose/")),
    ("logging context and metrics", ("prometheus_client/", "twisted/logger/",
                                     "twisted/python/log.py", "twisted/python/context.py")),
    ("Deferred/chain machinery", ("twisted/internet/defer.py", "stoad/runtime/")),
    ("forwarding (upstream client)", ("twisted/web/client.py", "twisted/web/_newclient.py",
                                      "stoad/proxy/forward.py", "stoad/proxy/streaming.py")),
    ("HTTP server parsing/writing", ("twisted/web/http.py", "twisted/web/server.py",
                                     "twisted/protocols/basic.py", "stoad/proxy/http.py",
                                     "stoad/proxy/gateway.py", "stoad/proxy/headers.py",
                                     "stoad/proxy/pathnorm.py", "stoad/proxy/routing.py",
                                     "stoad/proxy/responses.py", "email/", "httptools",
                                     "twisted/web/http_headers.py")),
    ("TLS", ("OpenSSL/", "twisted/protocols/tls.py", "twisted/internet/_sslverify.py",
             "stoad/proxy/tls.py")),
    ("reactor and socket calls", ("twisted/internet/",)),
]


def parts_of(path: str) -> dict[str, float]:
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            count = int(count_text)
            total += count
            counts[_part(stack.split(";"))] += count
    return {name: 100.0 * n / max(total, 1) for name, n in counts.most_common()}


def _part(frames: list[str]) -> str:
    for frame in reversed(frames):
        where = _short(frame)
        for name, needles in PARTS:
            if any(n in where for n in needles):
                return name
    return "other (interpreter, stdlib)"


def render(rows: dict[str, dict[str, Any]], profile: dict[str, Any] | None,
           args: argparse.Namespace) -> str:
    nginx = rows["nginx"]
    lines = [f"Keep-alive mTLS, {BODY_BYTES}-byte JSON POST, {args.connections} connections, "
             f"{args.seconds:.0f} s; latency at {args.rate:.0f} req/s over 4 connections; "
             f"new connections: one GET per new mTLS connection (full handshake), "
             f"{args.connections} connections.", "",
             "| | req/s, 1 worker | CPU µs per request | ÷ nginx (CPU) | p50 ms at rate "
             "| p99 ms at rate | new-connection CPU µs (handshake + GET) "
             "| KB per idle keep-alive connection | RSS idle → with conns → after close (MB) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, r in rows.items():
        mem = r["memory"]
        lines.append(
            f"| {name} | {r['post']['rps']:.0f} | {r['post']['cpu_us_per_request']:.0f} | "
            f"{r['post']['cpu_us_per_request'] / nginx['post']['cpu_us_per_request']:.1f}× | "
            f"{r['rate']['p50_ms']:.2f} | {r['rate']['p99_ms']:.2f} | "
            f"{r['new']['cpu_us_per_request']:.0f} | {mem['kb_per_connection']:.1f} | "
            f"{mem['rss_idle_kb'] / 1024:.1f} → {mem['rss_with_connections_kb'] / 1024:.1f} → "
            f"{mem['rss_after_close_kb'] / 1024:.1f} |")
    errors = {name: {k: r[k]["errors"] for k in ("post", "rate", "new")} for name, r in rows.items()}
    lines += ["", f"Errors per run: {json.dumps(errors)}"]
    if profile:
        cpu_us = profile["worker_cpu_seconds"] * 1e6 / max(profile["requests"] or 1, 1)
        lines += ["", f"Where the full chain's worker CPU goes (py-spy, {cpu_us:.0f} µs of worker "
                  "CPU per request in the profiled run):", "",
                  "| part | % of samples | ≈ µs per request |", "|---|---:|---:|"]
        for name, share in profile["parts"].items():
            lines.append(f"| {name} | {share:.1f} | {share * cpu_us / 100:.0f} |")
    return "\n".join(lines)


def measure(table: Table, name: str, url_base: str, pids: list[int],
            port: int, args: argparse.Namespace) -> dict[str, Any]:
    print(f"* {name}", file=sys.stderr)
    url = url_base + "/api/bench"
    row = {
        "post": table.run(url, pids, "-body-bytes", str(BODY_BYTES)),
        "rate": table.run(url, pids, "-body-bytes", str(BODY_BYTES), "-rate", str(args.rate),
                          connections=4),
        "new": table.run(url, pids, "-new-connections"),
    }
    row["memory"] = table.idle_connections(port, pids, args.idle_connections)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loadgen", default=os.path.join(REPO, ".cache", "bench", "loadgen"))
    parser.add_argument("--py-spy", dest="py_spy",
                        default=os.path.join(REPO, ".cache", "bench", "venv", "bin", "py-spy"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--idle-connections", type=int, default=500)
    parser.add_argument("--json-out",
                        default=os.path.join(REPO, ".cache", "bench", "table.json"))
    parser.add_argument("--profile-out",
                        default=os.path.join(REPO, ".cache", "bench", "stoad-full-profile.txt"))
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="stoad-table-")
    table = Table(args, tmp)
    rows: dict[str, dict[str, Any]] = {}
    profile = None
    try:
        _, upstream_port = table.start_upstream()
        nginx_pids, nginx_port = table.start_nginx(upstream_port)
        rows["nginx"] = measure(table, "nginx", f"https://localhost:{nginx_port}", nginx_pids,
                                nginx_port, args)
        bare = table.start_stoad(upstream_port, 1)
        rows["stoad, no layers"] = measure(table, "stoad, no layers", bare.url(""),
                                           stoad_pids(bare), _port(bare), args)
        bare.stop()
        full = table.start_full_chain(upstream_port)
        name = "stoad, audit+auth+policy+guardrails"
        rows[name] = measure(table, name, full.url(""), stoad_pids(full),
                             _port(full), args)
        if not args.no_profile:
            table.extra = []
            profile = table.profile_parts(full, full.url("/api/bench"))
    finally:
        table.close()
        shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(args.json_out), exist_ok=True)
    with open(args.json_out, "w") as f:
        json.dump({"rows": rows, "profile": profile}, f, indent=2)
    print(render(rows, profile, args))
    return 0


def _port(daemon: StoadDaemon) -> int:
    assert daemon.port is not None
    return daemon.port


def stoad_pids(daemon: StoadDaemon) -> list[int]:
    assert daemon.process is not None
    return [daemon.process.pid, *daemon.worker_pids()]


if __name__ == "__main__":
    sys.exit(main())
