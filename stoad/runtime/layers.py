"""How security layers plug into the daemon: each layer package exports a C{PLUGIN}.

The chain order is fixed here, not by configuration: identity before policy before guardrails.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from twisted.logger import Logger

from stoad.config._reader import Problems, SectionReader
from stoad.runtime.chain import Layer
from stoad.runtime.context import RequestContext

log = Logger()

# name -> module exporting PLUGIN. The chain runs enabled layers in exactly this order: audit
# first (so it can refuse when it cannot record), then who is calling, what they call, whether
# policy allows it, and what the content holds.
LAYER_MODULES: Mapping[str, str] = {
    "audit": "stoad.audit.plugin",
    "auth": "stoad.auth.plugin",
    "mcp": "stoad.mcp.plugin",
    "policy": "stoad.policy.plugin",
    "guardrails": "stoad.guardrails.plugin",
}
CHAIN_ORDER = tuple(LAYER_MODULES)


class SectionSource:
    """Gives a layer's settings parser readers for the sections it owns (and only those)."""

    def __init__(self, sections: Mapping[str, Mapping[str, str]], problems: Problems,
                 base_dir: str, state_dir: str = ".") -> None:
        self._sections = sections
        self.problems = problems
        self.base_dir = base_dir
        self.state_dir = state_dir  # [server] state_dir: where layers keep what they write
        self.claimed: set[str] = set()

    def names(self, prefix: str) -> list[str]:
        """Section names that start with C{prefix} (e.g. C{"consumer:"})."""
        return [name for name in self._sections if name.startswith(prefix)]

    def reader(self, name: str, required: bool = False) -> SectionReader | None:
        self.claimed.add(name)
        if name not in self._sections:
            if required:
                self.problems.add(name, None, "required section is missing")
            return None
        return SectionReader(name, dict(self._sections[name]), self.problems, self.base_dir)


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


@dataclass(frozen=True)
class LayerPlugin:
    """
    A layer's entry points.

    @ivar parse_settings: reads the layer's own sections from a L{SectionSource}; returns a
        frozen settings object (problems go to C{source.problems}).
    @ivar parse_route: reads the layer's keys in one C{[route:NAME]} section (optional).
    @ivar build: makes the L{Layer} from its settings, the routes and the shared L{Services}.
    @ivar check: optional; the problems C{stoad check-config} reports beyond parsing (a policy
        that does not compile, a key file that does not load), without side effects.
    """

    name: str
    parse_settings: Callable[[SectionSource], Any]
    build: Callable[[Any, Any, Services], Layer]
    parse_route: Callable[[SectionReader], Any] | None = None
    check: Callable[[Any, Any], list[str]] | None = None


def load_plugin(name: str) -> LayerPlugin:
    module = importlib.import_module(LAYER_MODULES[name])
    plugin: LayerPlugin = module.PLUGIN
    return plugin
