"""Memory and connection slots under abuse: concurrent large uploads, and idle TCP connections.

    .venv/bin/python bench/bench_slots.py uploads [--clients 100] [--megabytes 10]
    .venv/bin/python bench/bench_slots.py idle [--sources 1] [--per-source 1100]
    .venv/bin/python bench/bench_slots.py keepalive [--connections 500]

`uploads`: a real `twist stoad` (1 worker, no security layers, buffered route, max_body_bytes
16m) in front of a sink upstream; N clients each POST an M MB body at the same time over mTLS.
Reports the answers by status and the worker's peak RSS (VmHWM) before and after.

`idle`: opens plain TCP connections that never start TLS (from 127.0.0.2, 127.0.0.3, ... one
address per source), then times how long a real mTLS client is refused service.

`keepalive`: N mTLS connections each make one request and stay open; reports the worker's RSS
growth per connection.

Run it with another checkout's venv python (that checkout's `twist` is started) to compare.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import http.server
import os
import shutil
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stoad.dev.devpki import write_dev_pki  # noqa: E402
from tests.support.daemon import StoadDaemon, gateway_config  # noqa: E402


class _Sink(http.server.BaseHTTPRequestHandler):
    """Reads whatever body comes and answers 200: the upstream costs next to nothing."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        remaining = int(self.headers.get("Content-Length", "0"))
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 512


def peak_rss_kib(pid: int) -> tuple[int, int]:
    """(VmHWM, VmRSS) in KiB."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                values[line.split(":")[0]] = int(line.split()[1])
    return values["VmHWM"], values["VmRSS"]


def start(tmp: str, upstream_port: int, limits: dict[str, str]) -> StoadDaemon:
    pki = write_dev_pki(os.path.join(tmp, "pki"))
    daemon = StoadDaemon(tmp, gateway_config(
        pki, state_dir=os.path.join(tmp, "state"), admin_socket=os.path.join(tmp, "admin.sock"),
        routes={"api": {"prefix": "/api", "upstream": f"http://127.0.0.1:{upstream_port}",
                        "timeout": "120s"}},
        limits=limits), pki=pki)
    daemon.start()
    return daemon


def uploads(args: argparse.Namespace, tmp: str) -> None:
    sink = _Server(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    daemon = start(tmp, sink.server_address[1], {"max_body_bytes": "16m", "read_timeout": "60s",
                                                 "idle_timeout": "120s"})
    try:
        worker = daemon.worker_pids()[0]
        before = peak_rss_kib(worker)
        body = os.urandom(args.megabytes * 1024 * 1024)
        statuses: collections.Counter[str] = collections.Counter()
        lock = threading.Lock()
        go = threading.Event()

        def client() -> None:
            conn = daemon.connection("agent-1", timeout=300)
            try:
                conn.connect()
                go.wait()
                conn.request("POST", "/api/upload", body=body,
                             headers={"Content-Type": "application/octet-stream"})
                status = str(conn.getresponse().status)
            except (OSError, ssl.SSLError) as e:
                status = type(e).__name__
            finally:
                conn.close()
            with lock:
                statuses[status] += 1

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        started = time.monotonic()
        go.set()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        after = peak_rss_kib(worker)
        print(f"{args.clients} concurrent uploads of {args.megabytes} MiB in {elapsed:.1f} s: "
              f"{dict(statuses)}")
        print(f"worker peak RSS (VmHWM): {before[0] / 1024:.0f} MiB before, "
              f"{after[0] / 1024:.0f} MiB after; RSS now {after[1] / 1024:.0f} MiB")
    finally:
        daemon.stop()
        sink.shutdown()


def keepalive(args: argparse.Namespace, tmp: str) -> None:
    sink = _Server(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    daemon = start(tmp, sink.server_address[1], {"idle_timeout": "300s"})
    conns = []
    try:
        worker = daemon.worker_pids()[0]
        warm = daemon.connection("agent-1", timeout=30)
        warm.request("POST", "/api/warm", body=b"{}")
        warm.getresponse().read()
        before = peak_rss_kib(worker)[1]
        context = daemon.ssl_context("agent-1")
        for i in range(args.connections):
            # Spread over source addresses: one address may hold only so many connections.
            conn = http.client.HTTPSConnection("localhost", daemon.port, timeout=30,
                                               context=context,
                                               source_address=(f"127.0.0.{2 + i % 50}", 0))
            conn.request("POST", "/api/x", body=b"{}")
            conn.getresponse().read()
            conns.append(conn)
        after = peak_rss_kib(worker)[1]
        print(f"{args.connections} idle keep-alive mTLS connections (one request each): worker "
              f"RSS {before / 1024:.0f} -> {after / 1024:.0f} MiB, "
              f"{(after - before) / args.connections:.1f} KiB per connection")
    finally:
        for conn in conns:
            conn.close()
        warm.close()
        daemon.stop()
        sink.shutdown()


def idle(args: argparse.Namespace, tmp: str) -> None:
    daemon = start(tmp, 9, {})  # the upstream is never reached
    assert daemon.port is not None
    held: list[socket.socket] = []
    try:
        for source in range(args.sources):
            address = f"127.0.0.{source + 2}"  # the real client comes from 127.0.0.1
            for _ in range(args.per_source):
                sock = socket.socket()
                sock.bind((address, 0))
                sock.connect(("127.0.0.1", daemon.port))
                held.append(sock)
        opened = time.monotonic()
        print(f"{len(held)} idle TCP connections from {args.sources} address(es) held")
        refused_until = None
        while time.monotonic() - opened < args.give_up:
            try:
                status, _, _ = daemon.request("GET", "/api/x", timeout=5)
                if status:
                    refused_until = time.monotonic()
                    break
            except (OSError, ssl.SSLError):
                time.sleep(0.25)
        if refused_until is None:
            print(f"a real client was refused for the whole {args.give_up:.0f} s")
        else:
            print(f"a real client was served {refused_until - opened:.1f} s after the idle "
                  "connections were opened")
    finally:
        for sock in held:
            sock.close()
        daemon.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    up = sub.add_parser("uploads")
    up.add_argument("--clients", type=int, default=100)
    up.add_argument("--megabytes", type=int, default=10)
    keep = sub.add_parser("keepalive")
    keep.add_argument("--connections", type=int, default=500)
    idl = sub.add_parser("idle")
    idl.add_argument("--sources", type=int, default=1)
    idl.add_argument("--per-source", type=int, default=1100)
    idl.add_argument("--give-up", type=float, default=90.0)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="stoad-bench-slots-")
    try:
        {"uploads": uploads, "keepalive": keepalive, "idle": idle}[args.what](args, tmp)
    finally:
        shutil.rmtree(tmp, True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
