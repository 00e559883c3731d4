"""The layer registry: each layer package exports a C{PLUGIN}; this finds and describes it.

The chain order is fixed in L{stoad.config._layers}, not by configuration.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from stoad.config._layers import CHAIN_ORDER, LAYER_MODULES
from stoad.config._reader import SectionReader
from stoad.config._sources import SectionSource
from stoad.runtime.layer import Layer
from stoad.runtime.services import Services

__all__ = ["CHAIN_ORDER", "LAYER_MODULES", "LayerPlugin", "load_plugin"]


@dataclass(frozen=True)
class LayerPlugin:
    """
    A layer's entry points.

    @ivar parse_settings: reads the layer's own sections from a L{SectionSource}; returns a
        frozen settings object (problems go to C{source.problems}).
    @ivar parse_route: reads the layer's keys in one C{[route:NAME]} section (optional).
    @ivar build: makes the L{Layer} from its settings, the routes and the shared L{Services}.
        It starts nothing (no timer, no thread): L{Layer.activate} does, once the runtime the
        layer belongs to is installed.
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
