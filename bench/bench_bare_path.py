"""Microbenchmark: stoad's own CPU per request on the bare path (no layers), in process.

The real server protocol, gateway, forwarder and upstream client, on in-memory transports and an
unstarted epoll reactor (its timer queue is run after every request, as a loaded worker's loop
would): what is left is the work stoad adds to the stack's floor (no TLS, no sockets, no load
generator), so a change to it shows without the noise of a shared machine.

    .venv/bin/python bench/bench_bare_path.py [--requests 20000] [--runs 5] [--profile]
    PYTHONPATH=OTHER_TREE .venv/bin/python bench/bench_bare_path.py   # another tree, same venv

The request is what the Go load generator sends (a 2 KB JSON POST); the upstream answers as
`loadgen serve` does.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from typing import Any

from twisted.internet.epollreactor import EPollReactor
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone

from stoad.config import LimitSettings, Route
from stoad.daemon.metrics import Metrics
from stoad.proxy.client import UpstreamConnection
from stoad.proxy.forward import Forwarder
from stoad.proxy.gateway import Gateway
from stoad.proxy.http import GatewayHTTPFactory
from stoad.proxy.pathnorm import normalise_path
from stoad.proxy.routing import RouteTable
from stoad.runtime.chain import FilterChain

LIMITS = LimitSettings(max_header_bytes=16384, max_headers=100, max_request_line=8192,
                       max_body_bytes=1 << 20, idle_timeout=60.0, read_timeout=15.0,
                       max_connections=1024)
BODY = b'{"data":"' + b"x" * 2037 + b'"}'
REQUEST = (b"POST /api/bench HTTP/1.1\r\nHost: localhost:8443\r\nUser-Agent: Go-http-client/1.1\r\n"
           b"Content-Length: %d\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n"
           % len(BODY)) + BODY
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Date: Fri, 04 Dec 2026 21:00:00 GMT\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
ROUTE = Route(name="api", prefix="/api", upstream="http://127.0.0.1:1", upstream_scheme="http",
              upstream_host="127.0.0.1", upstream_port=1, upstream_base_path="",
              connect_timeout=1, timeout=30, upstream_ca=None, upstream_client_certificate=None,
              upstream_client_key=None, public_url="https://gw.example/api")


class _Unreachable:
    def connect(self, factory: Any) -> Any:
        raise AssertionError("the benchmark's one pooled upstream connection was not reused")


def pooled_upstream(forwarder: Forwarder) -> tuple[UpstreamConnection, StringTransport]:
    """
    One upstream connection over an in-memory transport, parked in C{forwarder}'s pool for the
    route C{api} at http://127.0.0.1:1; a request that does not reuse it fails the run.
    """
    forwarder._endpoints = {"api": _Unreachable()}  # type: ignore[misc]
    upstream = UpstreamConnection(quick_ack=False)
    upstream_transport = StringTransport()
    upstream.makeConnection(upstream_transport)
    key = ("http", "127.0.0.1", 1)
    pool = forwarder.pool
    upstream.on_idle = lambda c: pool._park(key, c)
    upstream.on_lost = lambda c: pool._forget(key, c)
    pool._park(key, upstream)
    return upstream, upstream_transport


def setup() -> tuple[Any, Any, StringTransport, StringTransport, EPollReactor]:
    reactor = EPollReactor()
    metrics = Metrics()
    forwarder = Forwarder(reactor, [ROUTE])
    upstream, upstream_transport = pooled_upstream(forwarder)
    gateway = Gateway(routes=RouteTable([ROUTE]), chain=FilterChain([], reactor, 5.0, metrics),
                      forwarder=forwarder, metrics=metrics, clock=reactor,
                      normalise_path=normalise_path, public_host="gw.example")
    channel = GatewayHTTPFactory(gateway, LIMITS, metrics, reactor).buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    return channel, upstream, transport, upstream_transport, reactor


def exchange(channel: Any, upstream: Any, transport: StringTransport,
             upstream_transport: StringTransport, reactor: EPollReactor) -> None:
    channel.dataReceived(REQUEST)
    upstream.dataReceived(RESPONSE)
    reactor.runUntilCurrent()
    upstream_transport.clear()
    transport.clear()


def run(requests: int) -> float:
    """Process CPU microseconds per request over C{requests} keep-alive requests on one channel."""
    channel, upstream, transport, upstream_transport, reactor = setup()
    channel.dataReceived(REQUEST)
    assert upstream_transport.value().startswith(b"POST /api/bench HTTP/1.1\r\n")
    upstream.dataReceived(RESPONSE)
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b'{"ok":true}'), answer
    upstream_transport.clear()
    transport.clear()
    gc.collect()
    started = time.process_time()
    for _ in range(requests):
        exchange(channel, upstream, transport, upstream_transport, reactor)
    elapsed = time.process_time() - started
    channel.connectionLost(Failure(ResponseDone()))
    return elapsed / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one run instead")
    args = parser.parse_args()
    gc.freeze()
    gc.set_threshold(20000, 20, 20)  # as a worker runs
    if args.profile:
        import cProfile
        import pstats
        profiler = cProfile.Profile()
        profiler.runcall(run, args.requests)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(45)
        return
    run(1000)  # warm-up
    figures = [run(args.requests) for _ in range(args.runs)]
    print(json.dumps({"us_per_request_best": round(min(figures), 1),
                      "us_per_request_median": round(statistics.median(figures), 1),
                      "runs": [round(f, 1) for f in figures]}))


if __name__ == "__main__":
    main()
