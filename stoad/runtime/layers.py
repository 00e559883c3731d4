"""Compatibility names for branches written before the split of this module (issue 10).

The registry is L{stoad.runtime.registry}, the layer interface L{stoad.runtime.layer}, the
services and alert bus L{stoad.runtime.services}, section sources L{stoad.config._sources}.
"""

from stoad.config._layers import CHAIN_ORDER, LAYER_MODULES
from stoad.config._sources import SectionSource
from stoad.runtime.alerts import AlertBus
from stoad.runtime.registry import LayerPlugin, load_plugin
from stoad.runtime.services import Services

__all__ = ["AlertBus", "CHAIN_ORDER", "LAYER_MODULES", "LayerPlugin", "SectionSource", "Services",
           "load_plugin"]
