"""Runs the OpenTelemetry Collector built by mk/otelcol.mk (OTLP/HTTP receiver, file exporter) as a
real OTLP endpoint for black-box tracing tests, and reads back the spans it received.

    collector = OtelCollector(workdir).start()    # blocks until the receiver is listening
    collector.endpoint                            # http://127.0.0.1:PORT/v1/traces
    collector.wait_for_spans(lambda spans: ...)   # spans as plain dicts, bounded wait
    collector.stop()
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from typing import Any, Callable

from twisted.trial.unittest import SkipTest

from tests.support.daemon import REPO, stop_process_group

OTELCOL = os.path.join(REPO, ".cache", "otelcol", "otelcol-stoad-test")

_CONFIG = """\
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
exporters:
  file:
    path: {path}
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
"""

_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def collector_binary() -> str:
    """The collector mk/otelcol.mk builds; built here the same way if `make test` did not yet."""
    if os.access(OTELCOL, os.X_OK):
        return OTELCOL
    if shutil.which("go") is None:
        raise SkipTest("the Go toolchain is not installed, so the collector cannot be built "
                       "(mk/otelcol.mk)")
    subprocess.run(["make", "-s", "otelcol"], cwd=REPO, check=True, timeout=900,
                   stdout=subprocess.DEVNULL)
    return OTELCOL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _value(value: dict[str, Any]) -> Any:
    """An OTLP/JSON AnyValue as a Python value."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "boolValue" in value:
        return value["boolValue"]
    if "doubleValue" in value:
        return value["doubleValue"]
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values", [])]
    return value


def _attributes(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {item["key"]: _value(item.get("value", {})) for item in items or []}


class OtelCollector:
    """One collector process; C{spans()} is what it has written to its file so far."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.output = os.path.join(workdir, "spans.jsonl")
        self.log_path = os.path.join(workdir, "otelcol.log")
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def start(self, timeout: float = 60.0) -> OtelCollector:
        binary = collector_binary()
        # The collector cannot report a port it chose itself; a port just freed may be taken
        # again before the collector binds it, so a failed bind is retried with another.
        for _ in range(3):
            self.port = _free_port()
            config = os.path.join(self.workdir, "otelcol.yaml")
            with open(config, "w", encoding="utf-8") as f:
                f.write(_CONFIG.format(port=self.port, path=self.output))
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen([binary, "--config", config], stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
            if self._wait_ready(timeout):
                return self
            self.stop()
        raise RuntimeError(f"the collector did not start:\n{self.log()}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            if "Everything is ready" in self.log():
                return True
            time.sleep(0.05)
        return False

    def log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def spans(self) -> list[dict[str, Any]]:
        """Every span received so far, flattened: ids in hex, kind as a word, attributes."""
        try:
            with open(self.output, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        spans = []
        for line in lines:
            try:
                document = json.loads(line)
            except ValueError:
                continue  # a line the exporter is still writing
            for resource_spans in document.get("resourceSpans", []):
                resource = _attributes(resource_spans.get("resource", {}).get("attributes"))
                for scope_spans in resource_spans.get("scopeSpans", []):
                    for span in scope_spans.get("spans", []):
                        spans.append({
                            "trace_id": span["traceId"],
                            "span_id": span["spanId"],
                            "parent_span_id": span.get("parentSpanId") or None,
                            "name": span["name"],
                            "kind": _KINDS.get(span.get("kind", 0), "unspecified"),
                            "attributes": _attributes(span.get("attributes")),
                            "status": span.get("status", {}).get("code", 0),
                            "links": [link["traceId"] for link in span.get("links", [])],
                            "resource": resource,
                        })
        return spans

    def wait_for_spans(self, predicate: Callable[[list[dict[str, Any]]], Any],
                       timeout: float = 30.0, what: str = "spans") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate(self.spans())
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError(f"{what} not received within {timeout}s; got:\n"
                             + json.dumps(self.spans(), indent=1)[-4000:])

    def stop(self) -> None:
        stop_process_group(self.process)
        self.process = None
