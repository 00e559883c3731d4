"""Layer 3: Rego policy evaluated in-process with regorus on every request, default deny."""

from stoad.policy._compile import CompiledPolicies, PolicyLoadError, compile_directory
from stoad.policy._decision import ALLOW, DENY, ERROR, Decision, decide, interpret
from stoad.policy._input import build_input
from stoad.policy._layer import PolicyLayer, build_layer
from stoad.policy._settings import PolicyRouteOptions, PolicySettings
from stoad.state._usage import UsageCounters

__all__ = [
    "ALLOW",
    "CompiledPolicies",
    "DENY",
    "Decision",
    "ERROR",
    "PolicyLayer",
    "PolicyLoadError",
    "PolicyRouteOptions",
    "PolicySettings",
    "UsageCounters",
    "build_input",
    "build_layer",
    "compile_directory",
    "decide",
    "interpret",
]
