"""Microbenchmark: the full chain's CPU per request on the reactor thread, in process.

The worker's own runtime (`WorkerRuntime`: the real GatewayChannel, Gateway, Forwarder, upstream
client and layers) built from a configuration like the shipped `etc/stoad/stoad.ini` — audit
(its real writer thread, in a temporary folder), auth with a certificate-bound token, the shipped
policy through regorus, guardrails — with the dev PKI, over in-memory transports and an
unstarted epoll reactor. Each request waits, without spinning, for the audit writer's wake-up
(its decision record durable) before the upstream answers; the timer queue runs after every
request. Printed: process CPU (both threads) and reactor-thread CPU per request, median of runs.

    .venv/bin/python bench/bench_chain_path.py [--requests 3000] [--runs 5] [--profile]
    PYTHONPATH=OTHER_TREE .venv/bin/python bench/bench_chain_path.py   # another tree, same venv

`--profile` runs one run under cProfile (the reactor thread only) and prints the functions by
own time and a sum by part (layer or machinery). The request is what `bench_table.py` sends to
the full chain (a 2 KB JSON POST with a bound ES256 token); the upstream answers as
`loadgen serve` does.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import select
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

# Appended: a tree given in PYTHONPATH (an A/B run) comes first.
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet.epollreactor import EPollReactor  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402
from twisted.python.failure import Failure  # noqa: E402
from twisted.web.client import ResponseDone  # noqa: E402

from bench.bench_bare_path import pooled_upstream  # noqa: E402
from stoad.config import config_from_string  # noqa: E402
from stoad.daemon.worker import WorkerRuntime  # noqa: E402
from stoad.dev.devpki import write_dev_pki  # noqa: E402
from stoad.dev.devtoken import mint_dev_token, write_dev_issuer  # noqa: E402
from stoad.proxy.tls import peer_certificate_from_der  # noqa: E402
from tests.support.daemon import REPO, gateway_config  # noqa: E402

PUBLIC_URL = "https://localhost:8443"
BODY = b'{"data":"' + b"x" * 2037 + b'"}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Date: Fri, 04 Dec 2026 21:00:00 GMT\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")


def _wait_for_writer(waker: Any) -> None:
    """Sleep until the audit writer wakes the reactor (its decision record is durable)."""
    select.select([waker], [], [], 5.0)


class ChainPath:
    """One worker runtime with the full chain, one keep-alive client and one pooled upstream."""

    def __init__(self, tmp: str) -> None:
        pki = write_dev_pki(os.path.join(tmp, "pki"))
        issuer = write_dev_issuer(os.path.join(tmp, "pki"))
        policies = os.path.join(tmp, "policies")
        shutil.copytree(os.path.join(REPO, "etc", "stoad", "policies"), policies,
                        ignore=shutil.ignore_patterns("examples", "*_test.rego"))
        consumers = os.path.join(tmp, "consumers.ini")
        shutil.copy(os.path.join(REPO, "etc", "stoad", "consumers.ini"), consumers)
        # The shipped stoad.ini's chain (less mcp, as bench_table.py's full chain) and layer keys.
        text = gateway_config(
            pki, state_dir=os.path.join(tmp, "state"), admin_socket=os.path.join(tmp, "admin.sock"),
            routes={"api": {"prefix": "/api", "upstream": "http://127.0.0.1:1", "timeout": "30s"}},
            layers=("audit", "auth", "policy", "guardrails"),
            server={"workers": "1", "public_url": PUBLIC_URL, "step_timeout": "5s"},
            sections={
                "audit": {"directory": os.path.join(tmp, "audit"),
                          "signing_key": issuer["audit-key"], "fsync": "batch",
                          "fsync_interval": "50ms", "checkpoint_interval": "60s"},
                "auth": {"issuer": "https://issuer.stoad.dev", "jwks_file": issuer["issuer-jwks"],
                         "consumers": consumers, "algorithms": "ES256 RS256",
                         "max_token_lifetime": "15m", "require_binding": "yes"},
                "policy": {"directory": policies},
                "guardrails": {"scan_limit": "1m", "oversize": "block",
                               "secrets.request": "redact", "secrets.response": "redact",
                               "injection.learned": "alert", "phone_regions": "US"},
            })
        self.reactor = EPollReactor()
        self.worker = WorkerRuntime(config_from_string(text), self.reactor)
        token = mint_dev_token(issuer["issuer-key"], pki["agent-1"], "agent-1",
                               PUBLIC_URL + "/api", ["stoa:read", "stoa:write"], lifetime=600)
        self.request = (
            b"POST /api/bench HTTP/1.1\r\nHost: localhost:8443\r\nUser-Agent: Go-http-client/1.1\r\n"
            b"Content-Length: %d\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
            b"Accept-Encoding: gzip\r\n\r\n" % (len(BODY), token.encode())) + BODY
        with open(pki["agent-1"], "rb") as f:
            from cryptography import x509
            from cryptography.hazmat.primitives.serialization import Encoding
            der = x509.load_pem_x509_certificate(f.read()).public_bytes(Encoding.DER)
        self.peer = peer_certificate_from_der(der)

    def connect(self) -> tuple[Any, Any, StringTransport, StringTransport]:
        upstream, upstream_transport = pooled_upstream(self.worker.gateway.forwarder)
        channel = self.worker.http_factory.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        channel.peer = self.peer  # what the TLS handshake sets for a client certificate
        channel.handshake_done = True
        return channel, upstream, transport, upstream_transport

    def exchange(self, channel: Any, upstream: Any, transport: StringTransport,
                 upstream_transport: StringTransport) -> None:
        self.forward(channel, transport, upstream_transport)
        upstream.dataReceived(RESPONSE)
        self.reactor.runUntilCurrent()
        upstream_transport.clear()
        transport.clear()

    def forward(self, channel: Any, transport: StringTransport,
                upstream_transport: StringTransport) -> None:
        """One request in, until it is forwarded: the reactor's turn ends (calls due now run,
        such as the audit writer's end-of-turn wake-up), then it sleeps until the writer's
        callback comes through the waker, as the running reactor would."""
        reactor = self.reactor
        waker = reactor.waker  # type: ignore[attr-defined]
        channel.dataReceived(self.request)
        reactor.runUntilCurrent()
        while not upstream_transport.value():
            if transport.value():
                raise AssertionError(f"refused: {transport.value()[:300]!r}")
            _wait_for_writer(waker)
            waker.doRead()
            reactor.runUntilCurrent()

    def run(self, requests: int) -> tuple[float, float]:
        """Process and reactor-thread CPU microseconds per request over C{requests} keep-alive
        requests on one channel."""
        channel, upstream, transport, upstream_transport = self.connect()
        self.exchange(channel, upstream, transport, upstream_transport)
        self.forward(channel, transport, upstream_transport)
        sent = upstream_transport.value()
        assert sent.startswith(b"POST /api/bench HTTP/1.1\r\n") and sent.endswith(BODY), sent[:200]
        assert b"\r\nx-stoad-consumer: demo-team\r\n" in sent.lower(), sent[:600]
        upstream.dataReceived(RESPONSE)
        self.reactor.runUntilCurrent()
        answer = transport.value()
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b'{"ok":true}' in answer, answer
        upstream_transport.clear()
        transport.clear()
        gc.collect()
        process, thread = time.process_time(), time.thread_time()
        for _ in range(requests):
            self.exchange(channel, upstream, transport, upstream_transport)
        thread = time.thread_time() - thread
        process = time.process_time() - process
        channel.connectionLost(Failure(ResponseDone()))
        self.reactor.runUntilCurrent()
        return process / requests * 1e6, thread / requests * 1e6

    def close(self) -> None:
        for layer in self.worker.layers:
            stop = getattr(layer, "stop", None)
            if stop is not None:
                stop()


# Parts of the reactor thread's time, by the file a function is defined in (first match wins).
PARTS = (
    ("audit", ("stoad/audit/",)),
    ("auth", ("stoad/auth/",)),
    ("policy (regorus and input)", ("stoad/policy/", "regorus")),
    ("guardrails", ("stoad/guardrails/",)),
    ("chain machinery", ("stoad/runtime/",)),
    ("gateway and exchange", ("stoad/proxy/gateway.py", "stoad/proxy/forward.py",
                              "stoad/proxy/headers.py", "stoad/proxy/routing.py",
                              "stoad/proxy/pathnorm.py", "stoad/proxy/responses.py")),
    ("HTTP server", ("stoad/proxy/http.py", "httptools")),
    ("upstream client", ("stoad/proxy/client.py",)),
    ("Deferreds", ("twisted/internet/defer.py",)),
    ("logging and metrics", ("twisted/logger/", "prometheus_client/", "stoad/daemon/metrics.py")),
    ("reactor: timers, thread calls", ("twisted/internet/base.py", "twisted/internet/posixbase.py",
                                       "twisted/internet/epollreactor.py",
                                       "twisted/internet/fdesc.py", "twisted/internet/_signals.py")),
    ("JSON (orjson, json)", ("orjson", "json/")),
    ("benchmark harness", ("bench_chain_path.py", "twisted/internet/testing.py")),
)


# Code the layers call that has no part of its own: the shared-state round (policy's usage
# counters), strict JSON and schema checks (guardrails).
_LAYER_HELPERS = ("stoad/state/", "stoad/runtime/strictjson.py", "stoad/runtime/safeschema.py")


def part_of(filename: str, function: str) -> str:
    for part, needles in PARTS:
        if any(n in filename or n in function for n in needles):
            return part
    return "other"


def profile(bench: ChainPath, requests: int) -> None:
    import cProfile
    import pstats

    # The calling (reactor) thread only, in its own CPU time: waiting for the writer is free.
    profiler = cProfile.Profile(time.thread_time)
    profiler.runcall(bench.run, requests)
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(50)
    entries = stats.stats  # type: ignore[attr-defined]

    def owner(func: tuple[str, int, str], depth: int = 0) -> dict[str, float]:
        """Which parts a function's own time counts for: its own, or (C functions, other
        libraries, the layers' helpers) its callers', split by how much each called it."""
        filename, _, function = func
        part = part_of(filename, function)
        helper = filename == "~" or part == "other" or any(h in filename for h in _LAYER_HELPERS)
        callers = entries[func][4] if func in entries else {}
        if not helper or not callers or depth > 8:
            return {part: 1.0}
        whole_weight = sum(timing[2] for timing in callers.values()) or 1.0
        shares: dict[str, float] = {}
        for caller, timing in callers.items():
            for name, share in owner(caller, depth + 1).items():
                shares[name] = shares.get(name, 0.0) + share * timing[2] / whole_weight
        return shares

    totals: dict[str, float] = {}
    for func, (_, _, tottime, _, _) in entries.items():
        for part, share in owner(func).items():
            totals[part] = totals.get(part, 0.0) + tottime * share
    others: dict[str, float] = {}
    for (filename, line, function), (_, _, tottime, _, _) in entries.items():
        if part_of(filename, function) == "other" and filename != "~":
            key = f"{filename.rsplit('site-packages/', 1)[-1]}:{line}({function})"
            others[key] = others.get(key, 0.0) + tottime
    whole = sum(totals.values())
    print("own time by part (cProfile; its overhead inflates every figure, compare shares):")
    for part, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {part:30s} {seconds / requests * 1e6:7.1f} us  {seconds / whole:6.1%}")
    print("largest Python functions of no part (counted above for their callers):")
    for name, seconds in sorted(others.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {seconds / requests * 1e6:7.1f} us  {name}")


def sampled_parts(path: str) -> None:
    """
    The reactor thread's share by part from a py-spy raw (collapsed) profile of this script,
    without cProfile's overhead: each sample counts for the first stoad or Twisted frame from
    its leaf (C calls and other libraries count for the code calling them).
    """
    totals: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            if not any(frame.startswith("ChainPath.exchange ") for frame in frames):
                continue  # setup, the warm-up's first requests, the writer thread
            part = "other"
            for frame in reversed(frames):
                filename, _, function = frame.partition(" (")[2], None, frame.partition(" (")[0]
                if function == "_wait_for_writer":
                    part = ""  # asleep
                    break
                if "bench_chain_path.py" in filename:
                    part = "benchmark harness"
                    break
                if any(helper in filename for helper in _LAYER_HELPERS):
                    continue  # counts for the layer calling it
                if "stoad/" in filename or "twisted/" in filename:
                    part = part_of(filename, function)
                    break
            if part:
                totals[part] = totals.get(part, 0) + int(count)
    whole = sum(totals.values())
    for part, samples in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {part:34s} {samples:7d} samples  {samples / whole:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one run instead")
    parser.add_argument("--sampled", metavar="RAW", help="summarise a py-spy raw profile of a run "
                        "(py-spy record --format raw -o RAW -- python bench/bench_chain_path.py)")
    args = parser.parse_args()
    if args.sampled:
        sampled_parts(args.sampled)
        return
    tmp = tempfile.mkdtemp(prefix="stoad-chain-bench-")
    try:
        bench = ChainPath(tmp)
        gc.freeze()
        gc.set_threshold(20000, 20, 20)  # as a worker runs
        try:
            bench.run(300)  # warm-up: caches, the writer's first groups
            if args.profile:
                profile(bench, args.requests)
                return
            figures = [bench.run(args.requests) for _ in range(args.runs)]
        finally:
            bench.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    process = [p for p, _ in figures]
    reactor = [t for _, t in figures]
    print(json.dumps({"process_us_median": round(statistics.median(process), 1),
                      "reactor_thread_us_median": round(statistics.median(reactor), 1),
                      "process_runs": [round(p, 1) for p in process],
                      "reactor_thread_runs": [round(t, 1) for t in reactor]}))


if __name__ == "__main__":
    main()
