"""The policy layer's entry points for the daemon (see stoad.runtime.layers)."""

# stoad.runtime.layers and stoad.config import each other; loading the config package first is the
# order in which the daemon loads them, and makes this module importable on its own.
import stoad.config  # noqa: F401
from stoad.policy._layer import build_layer
from stoad.policy._settings import parse_route, parse_settings
from stoad.runtime.layers import LayerPlugin

PLUGIN = LayerPlugin(name="policy", parse_settings=parse_settings, build=build_layer,
                     parse_route=parse_route)
