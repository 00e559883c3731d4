"""Every shipped layer implements the one Layer interface: each hook is declared, none probed."""

from __future__ import annotations

import inspect

from twisted.trial.unittest import SynchronousTestCase

from stoad.audit import AuditLayer
from stoad.auth._layer import IdentityLayer
from stoad.config._layers import CHAIN_ORDER, settings_parser
from stoad.guardrails._layer import GuardrailsLayer
from stoad.mcp import McpLayer
from stoad.policy._layer import PolicyLayer
from stoad.runtime.layer import Layer, LayerBase
from stoad.runtime.registry import load_plugin

HOOKS = ("on_request", "on_response", "on_complete", "serve_local", "render_denial",
         "successor", "activate", "retire")


class LayerInterfaceTests(SynchronousTestCase):
    def test_the_protocol_declares_every_hook(self) -> None:
        """Layer declares request, response, complete, local documents, error rendering and the
        reload hooks (successor, activate, retire)."""
        declared = {name for name, _ in inspect.getmembers(Layer, inspect.isfunction)}
        self.assertEqual(set(HOOKS) - declared, set())

    def test_every_layer_class_has_every_hook_with_the_protocol_signature(self) -> None:
        """The five layer classes derive from LayerBase and their hooks take the parameters
        the protocol names."""
        for cls in (AuditLayer, IdentityLayer, McpLayer, PolicyLayer, GuardrailsLayer):
            self.assertTrue(issubclass(cls, LayerBase), cls)
            for hook in HOOKS:
                expected = list(inspect.signature(getattr(Layer, hook)).parameters)
                actual = list(inspect.signature(getattr(cls, hook)).parameters)
                self.assertEqual(actual, expected, f"{cls.__name__}.{hook}")

    def test_registry_and_config_reader_find_the_same_plugins(self) -> None:
        """The config reader's settings parser and the runtime's plugin are one object per
        layer, in the fixed chain order."""
        self.assertEqual(CHAIN_ORDER, ("audit", "auth", "mcp", "policy", "guardrails"))
        for name in CHAIN_ORDER:
            self.assertIs(settings_parser(name), load_plugin(name))
            self.assertEqual(load_plugin(name).name, name)
