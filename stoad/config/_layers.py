"""Which security layers exist, in chain order, and where each one's C{PLUGIN} lives.

The config reader asks a layer's plugin to parse its own sections; it imports the plugin by
name, so this package never imports the runtime (the runtime imports this package).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, Protocol

from stoad.config._reader import SectionReader
from stoad.config._sources import SectionSource

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


class LayerSettingsParser(Protocol):
    """The configuration half of a layer's plugin (see L{stoad.runtime.registry.LayerPlugin})."""

    @property
    def parse_settings(self) -> Callable[[SectionSource], Any]: ...

    @property
    def parse_route(self) -> Callable[[SectionReader], Any] | None: ...


def settings_parser(name: str) -> LayerSettingsParser:
    """The plugin of layer C{name}, seen only as its settings parser."""
    module = importlib.import_module(LAYER_MODULES[name])
    parser: LayerSettingsParser = module.PLUGIN
    return parser
