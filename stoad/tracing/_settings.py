"""The C{[tracing]} section: whether stoad exports OpenTelemetry traces, where, and how many."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # the config model holds TracingSettings: importing config here is a cycle
    from stoad.config._reader import SectionReader

SAMPLERS = (
    "parentbased_traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "traceidratio",
    "always_on",
    "always_off",
)


@dataclass(frozen=True)
class TracingSettings:
    """
    C{enabled = no} (the default) builds no tracer at all: the request path then carries one
    C{None} and creates no span objects.
    """

    enabled: bool = False
    endpoint: str = "http://127.0.0.1:4318/v1/traces"
    service_name: str = "stoad"
    sampler: str = "parentbased_traceidratio"
    ratio: float = 1.0
    continue_client_trace: bool = True
    layer_spans: bool = True  # a child span per layer step (no: only exchange and upstream)
    export_timeout: float = 10.0
    schedule_delay: float = 5.0
    max_queue_size: int = 2048
    max_export_batch_size: int = 512
    ca: str | None = None


def parse_tracing(reader: SectionReader) -> TracingSettings:
    """Read C{[tracing]}; every problem goes to the reader's problem list."""
    defaults = TracingSettings()
    endpoint = reader.string("endpoint", defaults.endpoint)
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        reader.problem("endpoint", "must be an http:// or https:// URL of an OTLP/HTTP traces "
                       "endpoint (e.g. http://127.0.0.1:4318/v1/traces)")
    ratio_text = reader.string("ratio", "1.0")
    try:
        ratio = float(ratio_text)
        if not 0.0 <= ratio <= 1.0:
            raise ValueError
    except ValueError:
        reader.problem("ratio", f"expected a number from 0 to 1, got {ratio_text!r}")
        ratio = 0.0
    batch = reader.integer("max_export_batch_size", defaults.max_export_batch_size, minimum=1,
                           maximum=65536)
    queue = reader.integer("max_queue_size", defaults.max_queue_size, minimum=1,
                           maximum=1_000_000)
    if batch > queue:
        reader.problem("max_export_batch_size", "must not exceed max_queue_size")
    settings = TracingSettings(
        enabled=reader.boolean("enabled", False),
        endpoint=endpoint,
        service_name=reader.string("service_name", defaults.service_name),
        sampler=reader.choice("sampler", SAMPLERS, defaults.sampler),
        ratio=ratio,
        continue_client_trace=reader.boolean("continue_client_trace", True),
        layer_spans=reader.boolean("layer_spans", True),
        export_timeout=reader.duration("export_timeout", defaults.export_timeout, minimum=0.1,
                                       maximum=300.0),
        schedule_delay=reader.duration("schedule_delay", defaults.schedule_delay, minimum=0.01,
                                       maximum=300.0),
        max_queue_size=queue,
        max_export_batch_size=batch,
        ca=reader.optional_path("ca"),
    )
    if settings.ca is not None and parts.scheme != "https":
        reader.problem("ca", "only meaningful with an https:// endpoint")
    reader.finish()
    return settings
