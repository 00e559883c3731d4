"""What tracing costs per exchange: the real gateway and HTTP channel in memory, five pass-through
layers and an upstream that answers at once, with tracing off, on (every exchange sampled,
exported by the batch processor's thread to an exporter that drops the batches), on with every
exchange sampled out, and on with the daemon's real OTLP/HTTP exporter sending to a collector.

Run: .venv/bin/python bench/bench_tracing.py [--exchanges N] [--runs R] [--modes off,on,...]
     .venv/bin/python bench/bench_tracing.py --modes otlp --endpoint http://127.0.0.1:4318/v1/traces
Against another checkout (tracing off only, e.g. main before tracing landed):
     PYTHONPATH=OTHER_CHECKOUT .venv/bin/python bench/bench_tracing.py --modes off
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from typing import Any, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.environ.get("PYTHONPATH"):
    sys.path.insert(0, os.environ["PYTHONPATH"].split(os.pathsep)[0])

from twisted.internet import defer  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402
from twisted.python.failure import Failure  # noqa: E402
from twisted.web.client import ResponseDone  # noqa: E402
from twisted.web.http_headers import Headers  # noqa: E402

from stoad.config._model import LimitSettings, Route  # noqa: E402
from stoad.daemon.metrics import Metrics  # noqa: E402
from stoad.proxy.gateway import Gateway  # noqa: E402
from stoad.proxy.http import GatewayHTTPFactory  # noqa: E402
from stoad.proxy.pathnorm import normalise_path  # noqa: E402
from stoad.proxy.routing import RouteTable  # noqa: E402
from stoad.runtime.chain import FilterChain  # noqa: E402

REQUEST = (b"POST /api/items HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
           b"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
           b"Content-Length: 2\r\n\r\n{}")
LIMITS = LimitSettings(max_header_bytes=16384, max_headers=100, max_request_line=8192,
                       max_body_bytes=1 << 20, idle_timeout=60.0, read_timeout=15.0,
                       max_connections=1024)
ROUTE = Route(name="api", prefix="/api", upstream="http://127.0.0.1:1", upstream_scheme="http",
              upstream_host="127.0.0.1", upstream_port=1, upstream_base_path="",
              connect_timeout=1, timeout=1, upstream_ca=None, upstream_client_certificate=None,
              upstream_client_key=None, public_url="https://gw/api")


class _Response:
    code = 200

    def __init__(self) -> None:
        self.headers = Headers({b"content-type": [b"application/json"]})

    def deliverBody(self, protocol: Any) -> None:
        protocol.makeConnection(StringTransport())
        protocol.dataReceived(b'{"ok": true}')
        protocol.connectionLost(Failure(ResponseDone()))


class _Upstream:
    def send(self, route: Any, method: str, target: str, headers: Any, body: Any) -> Any:
        return defer.succeed(_Response())


class _PassThrough:
    def __init__(self, name: str) -> None:
        self.name = name

    def on_request(self, ctx: Any) -> None:
        return None

    def on_response(self, ctx: Any, head: Any) -> None:
        return None

    def on_complete(self, ctx: Any) -> None:
        return None


def _tracer(mode: str, clock: Clock, endpoint: str | None = None) -> Any:
    if mode == "off":
        return None
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from stoad.tracing import TracingSettings
    from stoad.tracing._tracer import ExchangeTracer

    class _Drop(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    settings = TracingSettings(enabled=True, sampler="always_off" if mode == "sampled-out"
                               else "always_on", max_queue_size=1 << 16,
                               layer_spans=mode not in ("on-no-layer-spans", "otlp-no-layer-spans"),
                               schedule_delay=0.2, endpoint=endpoint or "http://127.0.0.1:9/")
    if mode.startswith("otlp"):
        if endpoint is None:
            raise SystemExit("mode otlp needs --endpoint (a collector's /v1/traces URL)")
        return ExchangeTracer(settings, clock, "https://gw:8443")  # the daemon's own exporter
    return ExchangeTracer(settings, clock, "https://gw:8443",
                          processor=BatchSpanProcessor(_Drop(), max_queue_size=1 << 16,
                                                       schedule_delay_millis=200))


def run(mode: str, exchanges: int, endpoint: str | None = None) -> float:
    """CPU microseconds per exchange (every thread of the process, so the export thread's work
    counts too), one run."""
    clock = Clock()
    tracer = _tracer(mode, clock, endpoint)
    layers: list[Any] = [_PassThrough(n) for n in ("audit", "auth", "mcp", "policy",
                                                   "guardrails")]
    extra = {} if tracer is None else {"tracer": tracer}
    gateway = Gateway(routes=RouteTable([ROUTE]),
                      chain=FilterChain(tracer.wrap(layers) if tracer else layers, clock, 5.0),
                      forwarder=_Upstream(), metrics=Metrics(), clock=clock,
                      normalise_path=normalise_path, public_host="gw", **extra)
    factory = GatewayHTTPFactory(gateway, LIMITS, Metrics(), clock)
    channel = factory.buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    for _ in range(200):  # warm up
        channel.dataReceived(REQUEST)
        transport.clear()
    gc.collect()
    started = time.process_time()
    for _ in range(exchanges):
        channel.dataReceived(REQUEST)
        transport.clear()
    elapsed = time.process_time() - started
    channel.dataReceived(REQUEST)
    if not transport.value().startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"{mode}: the exchange did not succeed: {transport.value()[:200]!r}")
    if tracer is not None:
        started = time.process_time()
        tracer.shutdown()  # the spans still queued are part of the cost
        elapsed += time.process_time() - started
    return elapsed / exchanges * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exchanges", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--modes", default="off,on,sampled-out",
                        help="off, on (exported to a no-op exporter), on-no-layer-spans, "
                        "sampled-out, otlp, otlp-no-layer-spans")
    parser.add_argument("--endpoint", help="OTLP/HTTP traces URL for mode otlp")
    args = parser.parse_args()
    for mode in args.modes.split(","):
        figures = sorted(run(mode, args.exchanges, args.endpoint) for _ in range(args.runs))
        print(f"{mode:12} median {statistics.median(figures):7.1f} µs CPU/exchange "
              f"(best {figures[0]:.1f}, worst {figures[-1]:.1f}; {args.runs} runs of "
              f"{args.exchanges})")


if __name__ == "__main__":
    main()
