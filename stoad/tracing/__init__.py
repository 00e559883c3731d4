"""OpenTelemetry tracing of stoad's exchanges (C{[tracing]}, off by default).

The SDK is imported only when tracing is enabled; with it off, the request path sees one C{None}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stoad.tracing._settings import SAMPLERS, TracingSettings, parse_tracing

if TYPE_CHECKING:
    from stoad.config import Config
    from stoad.tracing._tracer import ExchangeTrace, ExchangeTracer, TracedLayer

__all__ = ["SAMPLERS", "ExchangeTrace", "ExchangeTracer", "TracedLayer", "TracingSettings",
           "build_tracer", "parse_tracing"]


def build_tracer(config: Config, clock: Any, worker_index: int = 0) -> ExchangeTracer | None:
    """The worker's tracer with its OTLP/HTTP batch exporter, or None when tracing is off."""
    if not config.tracing.enabled:
        return None
    from importlib.metadata import PackageNotFoundError, version

    from stoad.tracing._tracer import ExchangeTracer

    try:
        stoad_version = version("stoad")
    except PackageNotFoundError:
        stoad_version = "0"
    return ExchangeTracer(config.tracing, clock, config.server.public_url, worker_index,
                          version=stoad_version)


def __getattr__(name: str) -> Any:
    # The SDK-backed classes load on first use, so importing stoad.tracing stays cheap.
    if name in ("ExchangeTrace", "ExchangeTracer", "TracedLayer"):
        from stoad.tracing import _tracer

        return getattr(_tracer, name)
    raise AttributeError(name)
