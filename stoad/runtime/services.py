"""What the daemon hands every layer when building it: the clock, metrics and the alert bus.

No layer reaches for globals; a layer that needs the reactor gets it here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stoad.runtime.alerts import AlertBus

__all__ = ["AlertBus", "Services"]


@dataclass
class Services:
    """What the daemon hands every layer when building it; no layer reaches for globals."""

    reactor: Any
    metrics: Any  # stoad.daemon.metrics.Metrics
    alerts: AlertBus
    worker_index: int = 0
    state_dir: str = "."
    state: Any = None  # stoad.state.SharedState: what every worker and instance shares
    state_needs: set[str] = field(default_factory=set)  # what layers want in each request's round
