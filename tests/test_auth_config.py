"""Configuration of the identity layer: [auth], per-route keys, and the consumers file."""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from stoad.auth._settings import load_consumers, parse_route
from stoad.config import ConfigError, Problems, SectionReader
from tests.test_auth_helpers import (
    CONSUMERS,
    REPO_ROOT,
    ROUTES,
    Harness,
    route,
    settings_from,
    write,
)


class SettingsTests(SynchronousTestCase):
    def test_defaults_are_safe(self) -> None:
        """Defaults: binding required, RS256+ES256, 15 minute lifetime, introspection off."""
        s = settings_from(self.mktemp())
        self.assertEqual((s.require_binding, s.algorithms, s.max_token_lifetime, s.introspection),
                         (True, ("RS256", "ES256"), 900.0, "off"))

    def test_every_problem_reported_at_once(self) -> None:
        """Bad algorithm, http issuer and missing secret file are reported together."""
        with self.assertRaises(ConfigError) as caught:
            settings_from(self.mktemp(), "algorithms = HS256 none\n"
                                         "introspection = client_secret_basic\n"
                                         "leeway = 2h")
        text = str(caught.exception)
        for fragment in ("[auth] algorithms: 'HS256'", "[auth] algorithms: 'none'",
                         "[auth] client_id: required", "[auth] client_secret_file: required",
                         "[auth] leeway: must be at most"):
            self.assertIn(fragment, text)

    def test_unknown_key_is_an_error(self) -> None:
        """An unknown [auth] key is reported."""
        with self.assertRaises(ConfigError) as caught:
            settings_from(self.mktemp(), "require_bindings = no")
        self.assertIn("[auth] require_bindings: unknown key", str(caught.exception))

    def test_route_keys(self) -> None:
        """audiences and scopes.METHOD are read from a route section; others are left alone."""
        problems = Problems()
        reader = SectionReader("route:api", {"audiences": "urn:a urn:b",
                                             "scopes.get": "stoa:read",
                                             "scopes.POST": "stoa:write stoa:admin"}, problems)
        rules = parse_route(reader)
        reader.finish()
        self.assertEqual(problems.items, [])
        self.assertEqual(rules.audiences, ("urn:a", "urn:b"))
        self.assertEqual(rules.required_scopes("GET"), {"stoa:read"})
        self.assertEqual(rules.required_scopes("POST"), {"stoa:write", "stoa:admin"})
        self.assertEqual(rules.required_scopes("PUT"), {"stoa:write"})

    def test_route_key_problems(self) -> None:
        """scopes.get-x and an empty scope list are reported with their key."""
        problems = Problems()
        parse_route(SectionReader("route:api", {"scopes.get-x": "a", "scopes.put": ""}, problems))
        self.assertEqual(len(problems.items), 2)

    def test_unknown_route_scope_fails_build(self) -> None:
        """A route requiring a scope not in the known set fails at start-up."""
        from stoad.auth._settings import RouteAuth

        bad = route("api", "/api", RouteAuth(method_scopes={"GET": frozenset({"stoa:rread"})}))
        with self.assertRaises(ConfigError) as caught:
            Harness(self.mktemp(), routes=(bad,))
        self.assertIn("unknown scope 'stoa:rread'", str(caught.exception))

    def test_consumer_naming_unknown_route_fails_build(self) -> None:
        """A consumer allowed on a route that does not exist fails at start-up."""
        with self.assertRaises(ConfigError) as caught:
            Harness(self.mktemp(), routes=ROUTES,
                    consumers=CONSUMERS.replace("routes = api admin", "routes = api nope"))
        self.assertIn("no route named 'nope'", str(caught.exception))


class ConsumerFileTests(SynchronousTestCase):
    def _load(self, text: str) -> tuple[object, list[str]]:
        problems = Problems()
        registry = load_consumers(write(self.mktemp(), "consumers.ini", text), problems)
        return registry, problems.items

    def test_valid_file(self) -> None:
        """Two consumers load, keyed by client_id; agent_id defaults to the client_id."""
        registry, problems = self._load(CONSUMERS)
        self.assertEqual(problems, [])
        self.assertEqual(registry.find("agent-2").agent_id, "agent-2")
        self.assertIsNone(registry.find("agent-3"))

    def test_strict_parsing(self) -> None:
        """Unknown sections and keys, duplicate client ids and unsafe ids are all reported."""
        registry, problems = self._load(
            "[consumer:a]\nclient_id = x\ntier = gold\nroutes = *\ncolour = red\n"
            "[consumer:b]\nclient_id = x\ntier = gold\nroutes = *\n"
            "[consumer:c]\nclient_id = y\ntier = go ld\nroutes = *\nconsumer_id = a\\nb\n"
            "[other]\nx = 1\n")
        text = "\n".join(problems)
        self.assertIn("[consumers.ini consumer:a] colour: unknown key", text)
        self.assertIn("[consumers.ini consumer:b] client_id: 'x' is also the client", text)
        self.assertIn("[consumers.ini consumer:c] tier:", text)
        self.assertIn("[consumers.ini consumer:c] consumer_id:", text)
        self.assertIn("[consumers.ini other]: unknown section", text)

    def test_duplicate_keys_rejected(self) -> None:
        """A key given twice in a consumer section is an error, not last-one-wins."""
        _, problems = self._load("[consumer:a]\nclient_id = x\nclient_id = y\n")
        self.assertIn("not a valid INI file", problems[0])

    def test_example_file_in_repository_parses(self) -> None:
        """etc/stoad/consumers.ini parses and maps agent-1 and agent-2."""
        problems = Problems()
        registry = load_consumers(os.path.join(REPO_ROOT, "etc", "stoad", "consumers.ini"),
                                  problems)
        self.assertEqual(problems.items, [])
        self.assertEqual(registry.find("agent-1").certificate_cn, "agent-1")
        self.assertEqual(registry.find("agent-2").certificate_cn, "agent-2")


class BuildTests(SynchronousTestCase):
    def test_plugin_build_with_real_client(self) -> None:
        """PLUGIN.build makes the layer with its own treq client, CA trust and metrics registry."""
        from prometheus_client import CollectorRegistry
        from twisted.internet.testing import MemoryReactorClock

        from stoad.auth.plugin import PLUGIN
        from stoad.dev.devpki import make_ca
        from stoad.runtime.layers import AlertBus, Services

        tmp = self.mktemp()
        ca = write(tmp, "ca.pem", make_ca().cert_pem.decode())
        settings = settings_from(tmp, f"authorization_server_ca = {ca}")

        class Metrics:
            registry = CollectorRegistry()

        layer = PLUGIN.build(settings, ROUTES, Services(MemoryReactorClock(), Metrics(),
                                                        AlertBus()))
        self.assertEqual(layer.name, "auth")
        self.assertIsNotNone(Metrics.registry.get_sample_value(
            "stoad_auth_token_cache_total", {"result": "hit"}))
