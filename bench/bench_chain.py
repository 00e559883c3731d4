"""Microbenchmark: one request through the gateway and a chain of five no-op layers, in process.

No sockets, no TLS, no upstream: an in-memory transport, a forwarder answering at once. What is
left is stoad's own request path (head parsing, context, routing, the chain, the relay), so a
change to it shows here without the noise of a shared machine's network stack.

    .venv/bin/python bench/bench_chain.py --requests 20000 --runs 5
    PYTHONPATH=OTHER_TREE .venv/bin/python bench/bench_chain.py   # the same against another tree
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from typing import Any

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http_headers import Headers

from stoad.config import LimitSettings, Route
from stoad.daemon.metrics import Metrics
from stoad.proxy.gateway import Gateway
from stoad.proxy.http import GatewayHTTPFactory
from stoad.proxy.pathnorm import normalise_path
from stoad.proxy.routing import RouteTable
from stoad.runtime.chain import FilterChain

LIMITS = LimitSettings(max_header_bytes=16384, max_headers=100, max_request_line=8192,
                       max_body_bytes=1 << 20, idle_timeout=60.0, read_timeout=15.0,
                       max_connections=1024)
REQUEST = (b"GET /api/items/42?limit=10 HTTP/1.1\r\nHost: gw.example\r\nAccept: */*\r\n"
           b"User-Agent: bench\r\nAuthorization: Bearer x\r\nX-Trace: abc\r\n\r\n")


try:  # trees with the Layer interface: the chain asks LayerBase which optional steps a layer has
    from stoad.runtime.layer import LayerBase as _LayerRoot
except ImportError:  # older trees
    _LayerRoot = object  # type: ignore[assignment,misc]


class _NoOpLayer(_LayerRoot):  # type: ignore[misc,valid-type]
    """Every hook of the layer interface, doing nothing (works with trees before and after the
    Layer protocol: the hooks are plain methods)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def on_request(self, ctx: Any) -> None:
        return None

    def on_response(self, ctx: Any, head: Any) -> None:
        return None

    def on_complete(self, ctx: Any) -> None:
        return None

    def serve_local(self, method: str, path: str) -> None:
        return None

    def render_denial(self, ctx: Any, deny: Any, body: bytes) -> bytes:
        return body

    def successor(self, settings: Any, routes: Any, services: Any) -> None:
        return None

    def activate(self) -> None:
        return None

    def retire(self) -> None:
        return None


class _Response:
    code = 200

    def __init__(self) -> None:
        self.headers = Headers({b"content-type": [b"application/json"]})

    def deliverBody(self, protocol: Any) -> None:
        protocol.makeConnection(StringTransport())
        protocol.dataReceived(b'{"ok":true}')
        protocol.connectionLost(Failure(ResponseDone()))


class _Forwarder:
    def send(self, route: Any, method: str, target: str, headers: Headers, body: Any) -> Any:
        return defer.succeed(_Response())

    def close(self) -> None:
        return None


def _route() -> Route:
    return Route(name="api", prefix="/api", upstream="http://127.0.0.1:1", upstream_scheme="http",
                 upstream_host="127.0.0.1", upstream_port=1, upstream_base_path="",
                 connect_timeout=1, timeout=1, upstream_ca=None, upstream_client_certificate=None,
                 upstream_client_key=None, public_url="https://gw.example/api")


def run(requests: int) -> float:
    """CPU microseconds per request over C{requests} keep-alive requests on one channel
    (process CPU time, not wall time: the machine is shared)."""
    clock = Clock()
    metrics = Metrics()
    layers = [_NoOpLayer(n) for n in ("audit", "auth", "mcp", "policy", "guardrails")]
    try:  # the chain observes each layer's time (stoad_layer_duration_seconds) since issue 16
        chain = FilterChain(layers, clock, 5.0, metrics)  # type: ignore[call-arg]
    except TypeError:
        chain = FilterChain(layers, clock, 5.0)
    gateway = Gateway(routes=RouteTable([_route()]), chain=chain,
                      forwarder=_Forwarder(), metrics=metrics, clock=clock,  # type: ignore[arg-type]
                      normalise_path=normalise_path, public_host="gw.example")
    channel = GatewayHTTPFactory(gateway, LIMITS, metrics, clock).buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    gc.collect()
    started = time.process_time()
    for _ in range(requests):
        channel.dataReceived(REQUEST)
        transport.clear()
    elapsed = time.process_time() - started
    channel.connectionLost(Failure(ResponseDone()))
    return elapsed / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    run(1000)  # warm-up
    figures = [run(args.requests) for _ in range(args.runs)]
    print(json.dumps({"us_per_request_best": round(min(figures), 1),
                      "us_per_request_median": round(statistics.median(figures), 1),
                      "runs": [round(f, 1) for f in figures]}))


if __name__ == "__main__":
    main()
