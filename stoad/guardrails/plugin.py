"""The guardrails layer's entry points for the daemon (see stoad.runtime.layers)."""

from __future__ import annotations

from typing import Any

from stoad.guardrails._layer import GuardrailsLayer
from stoad.guardrails._settings import GuardrailSettings, parse_route, parse_settings
from stoad.runtime.layers import LayerPlugin, Services


def build(settings: GuardrailSettings, routes: Any, services: Services) -> GuardrailsLayer:
    return GuardrailsLayer(settings, services.metrics, services.alerts)


PLUGIN = LayerPlugin(name="guardrails", parse_settings=parse_settings, build=build, parse_route=parse_route)
