"""The alert bus: any layer raises an alert (a stolen-token signal, a guardrail hit); the audit
layer subscribes and records it. A failing subscriber is logged, never raised to the layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from twisted.logger import Logger

from stoad.runtime.context import RequestContext

log = Logger()


@dataclass
class AlertBus:
    """Alerts raised by any layer (stolen-token signals, guardrail hits); audit subscribes."""

    subscribers: list[Callable[..., None]] = field(default_factory=list)

    def emit(self, kind: str, severity: str, ctx: RequestContext | None, **details: Any) -> None:
        for subscriber in self.subscribers:
            try:
                subscriber(kind, severity, ctx, **details)
            except Exception:
                log.failure("alert subscriber failed for {kind}", kind=kind)
