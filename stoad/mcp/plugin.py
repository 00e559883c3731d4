"""The C{mcp} layer's entry points for the daemon (see L{stoad.runtime.layers.LayerPlugin})."""

from __future__ import annotations

from typing import Any

from stoad.mcp._config import McpSettings, parse_route, parse_settings
from stoad.mcp._layer import McpLayer
from stoad.runtime.layers import LayerPlugin, Services


def build(settings: McpSettings, routes: Any, services: Services) -> McpLayer:
    return McpLayer(settings, services)


PLUGIN = LayerPlugin(name="mcp", parse_settings=parse_settings, build=build,
                     parse_route=parse_route)
