"""The audit layer's entry point (see stoad.runtime.layers): an append-only, signed, shipped audit trail."""

from stoad.audit._layer import build
from stoad.audit._settings import parse_settings
from stoad.runtime.layers import LayerPlugin

PLUGIN = LayerPlugin(name="audit", parse_settings=parse_settings, build=build)
