"""The policy layer on requests: allow, 403, 429, every error path, and what it leaves in ctx."""

from __future__ import annotations

import json
import os

import jsonschema
from twisted.trial.unittest import SynchronousTestCase

import stoad.policy
from stoad.config import Problems
from stoad.policy import ALLOW, DENY, ERROR, PolicyLoadError, PolicyRouteOptions
from stoad.policy.plugin import PLUGIN
from stoad.runtime.context import McpCall
from stoad.runtime.deny import Deny
from stoad.runtime.layers import SectionSource
from tests.support.policy import (
    ALLOW_ALL,
    PolicyDirectory,
    identity,
    layer,
    peer,
    request,
    route,
    services,
)

SCHEMA_PATH = os.path.join(os.path.dirname(stoad.policy.__file__), "input.schema.json")


def echo_policy(body: str) -> dict[str, str]:
    return {"p.rego": "package stoa.authz\nimport rego.v1\n" + body}


class LayerTestCase(SynchronousTestCase):
    def directory(self, files: dict[str, str]) -> str:
        made = PolicyDirectory(files)
        self.addCleanup(made.cleanup)
        return made.path

    def refusal(self, built: stoad.policy.PolicyLayer, ctx: object) -> Deny:
        with self.assertRaises(Deny) as caught:
            built.on_request(ctx)  # type: ignore[arg-type]
        return caught.exception


class DefaultPolicyTests(LayerTestCase):
    def test_registered_consumer_is_allowed(self) -> None:
        """The shipped default lets a registered consumer with the method's scope through."""
        built, _, _ = layer()
        ctx = request(who=identity())
        built.on_request(ctx)
        self.assertEqual(ctx.policy_result, ALLOW)
        self.assertEqual(ctx.policy_version, built.version)

    def test_anonymous_request_is_denied(self) -> None:
        """Without an identity the default policy answers 403 forbidden."""
        built, _, _ = layer()
        ctx = request()
        deny = self.refusal(built, ctx)
        self.assertEqual((deny.status, deny.error, deny.reason),
                         (403, "forbidden", "no verified consumer"))
        self.assertEqual(ctx.policy_result, DENY)

    def test_route_outside_allow_list_is_denied(self) -> None:
        """globex-analytics may not use the mcp route."""
        built, _, _ = layer()
        deny = self.refusal(built, request("/mcp", who=identity("globex-analytics"),
                                           on=route("mcp", "/mcp")))
        self.assertIn("route mcp is not allowed", deny.reason)

    def test_missing_scope_is_denied(self) -> None:
        """DELETE needs the admin scope."""
        built, _, _ = layer()
        deny = self.refusal(built, request(method="DELETE", who=identity()))
        self.assertEqual(deny.reason, "token lacks scope stoa:admin")


class DecisionPathTests(LayerTestCase):
    def test_policy_429_is_rate_limited(self) -> None:
        """A decision with status 429 becomes Deny(429, rate_limited)."""
        built, _, _ = layer(self.directory(echo_policy(
            'decision := {"allow": false, "status": 429, "reason": "too many"}\n')))
        deny = self.refusal(built, request(who=identity()))
        self.assertEqual((deny.status, deny.error, deny.reason), (429, "rate_limited", "too many"))

    def test_error_paths_deny_with_403(self) -> None:
        """Undefined, malformed and failing decisions all answer 403 with result opa:error."""
        bodies = [
            'decision := {"allow": true, "reason": "x"} if input.nothing\n',
            'decision := "yes"\n',
            'decision := {"allow": true}\n',
            'decision := {"allow": true, "reason": "x", "status": 429}\n',
            'decision := x if { x := 1 / 0 }\n',
            'decision := {"allow": true, "reason": "x", "obligations": {"encrypt": true}}\n',
        ]
        for body in bodies:
            built, svc, _ = layer(self.directory(echo_policy(body)))
            ctx = request(who=identity())
            deny = self.refusal(built, ctx)
            self.assertEqual((deny.status, deny.error), (403, "forbidden"), body)
            self.assertEqual(ctx.policy_result, ERROR, body)
            counted = svc.metrics.registry.get_sample_value(
                "stoad_policy_decisions_total", {"result": "error"})
            self.assertEqual(counted, 1.0)

    def test_allow_applies_upstream_header_obligation(self) -> None:
        """An allowed decision's upstream_headers reach ctx.upstream_headers."""
        built, _, _ = layer(self.directory(echo_policy(
            'decision := {"allow": true, "reason": "x", "obligations": '
            '{"upstream_headers": {"X-Tier": input.consumer.tier}}}\n')))
        ctx = request(who=identity(tier="gold"))
        built.on_request(ctx)
        self.assertEqual(ctx.upstream_headers, {"x-tier": "gold"})

    def test_decisions_are_counted(self) -> None:
        """Allows and denies are counted by result in the registry."""
        built, svc, _ = layer()
        built.on_request(request(who=identity()))
        self.assertRaises(Deny, built.on_request, request())
        registry = svc.metrics.registry
        self.assertEqual(registry.get_sample_value(
            "stoad_policy_decisions_total", {"result": "allow"}), 1.0)
        self.assertEqual(registry.get_sample_value(
            "stoad_policy_decisions_total", {"result": "deny"}), 1.0)

    def test_bad_query_string_denies(self) -> None:
        """A query that is not UTF-8 or has too many fields is not guessed at: 403."""
        built, _, _ = layer(self.directory({"a.rego": ALLOW_ALL}))
        for query in ("a=%ff", "&".join(f"k{i}=v" for i in range(300))):
            ctx = request(query=query, who=identity())
            self.refusal(built, ctx)
            self.assertEqual(ctx.policy_result, ERROR)


class InputDocumentTests(LayerTestCase):
    def capture(self, ctx: object, **settings: object) -> dict[str, object]:
        built, _, _ = layer(self.directory(echo_policy(
            'decision := {"allow": false, "reason": json.marshal(input)}\n')), **settings)
        decision = built.evaluate(ctx)  # type: ignore[arg-type]
        document: dict[str, object] = json.loads(decision.value["reason"])
        return document

    def full_context(self) -> object:
        ctx = request(
            "/api/%70ii/../items", method="POST", query="q=a+b&q=c&empty=",
            headers={"user-agent": ["agent/2"], "authorization": ["Bearer secret"],
                     "cookie": ["s=1"], "x-request-id": ["r1"]},
            who=identity(), cert=peer(),
            mcp=McpCall(method="tools/call", request_id=1, tool_name="search",
                        arguments={"q": "x"}),
        )
        ctx.body_size = 12
        ctx.content_type = "application/json"
        return ctx

    def test_document_matches_the_schema(self) -> None:
        """The built document validates against the published JSON Schema."""
        with open(SCHEMA_PATH, encoding="utf-8") as f:
            schema = json.load(f)
        document = self.capture(self.full_context())
        jsonschema.validate(document, schema)

    def test_document_fields(self) -> None:
        """Request, route, certificate, token, consumer, MCP call, time and usage are filled."""
        document = self.capture(self.full_context())
        req = document["request"]
        self.assertEqual(req["path"], "/api/items")  # type: ignore[index]
        self.assertEqual(req["raw_path"], "/api/%70ii/../items")  # type: ignore[index]
        self.assertEqual(req["query"], {"q": ["a b", "c"], "empty": [""]})  # type: ignore[index]
        self.assertEqual(document["consumer"], {"id": "acme-support",
                                                "agent_id": "agent-of-acme-support",
                                                "tier": "enterprise"})
        self.assertEqual(document["client_certificate"]["x5t#S256"],  # type: ignore[index]
                         "x5tThumbprint")
        self.assertEqual(document["token"]["scopes"], ["stoa:read", "stoa:write"])  # type: ignore[index]
        self.assertEqual(document["mcp"], {"method": "tools/call", "tool_name": "search",
                                           "arguments": {"q": "x"}})
        self.assertEqual(document["usage"], {"calls_60s": 0, "calls_3600s": 0, "tool": {
            "name": "search", "calls_60s": 0, "calls_3600s": 0}})
        self.assertEqual(document["route"], {"name": "api", "prefix": "/api"})

    def test_credential_headers_never_reach_policy(self) -> None:
        """Authorization and Cookie are not in the input even when the client sends them."""
        headers = self.capture(self.full_context())["request"]["headers"]  # type: ignore[index]
        self.assertEqual(headers, {"user-agent": ["agent/2"], "x-request-id": ["r1"]})

    def test_absent_parts_are_absent(self) -> None:
        """No certificate, identity or MCP call: those keys are missing, not null."""
        document = self.capture(request())
        for key in ("client_certificate", "token", "consumer", "mcp", "usage"):
            self.assertNotIn(key, document)

    def test_time_comes_from_the_injected_clock(self) -> None:
        """input.time.now_ns is the reactor's clock in nanoseconds."""
        from twisted.internet.task import Clock

        clock = Clock()
        clock.advance(1_772_438_400.25)
        built, _, _ = layer(self.directory(echo_policy(
            'decision := {"allow": false, "reason": sprintf("%d", [time.now_ns()])}\n')),
            clock=clock)
        deny = self.refusal(built, request())
        self.assertEqual(int(deny.reason), 1_772_438_400_250_000_000)


class SettingsTests(SynchronousTestCase):
    def parse(self, section: dict[str, str]) -> tuple[object, list[str]]:
        problems = Problems()
        source = SectionSource({"policy": section}, problems, "/")
        settings = PLUGIN.parse_settings(source)
        return settings, problems.items

    def test_defaults(self) -> None:
        """Without a [policy] section the defaults apply: /etc/stoad/policies, authz.decision."""
        problems = Problems()
        settings = PLUGIN.parse_settings(SectionSource({}, problems, "/"))
        self.assertEqual((settings.directory, settings.query),
                         ("/etc/stoad/policies", "data.stoa.authz.decision"))
        self.assertEqual(settings.watch_interval, 0.0)

    def test_every_problem_is_reported(self) -> None:
        """A bad query, a credential header, a missing directory and unknown keys are all named."""
        _, problems = self.parse({"directory": "/no/such/dir", "query": "data.x; true",
                                  "headers": "user-agent authorization", "colour": "blue"})
        text = "\n".join(problems)
        self.assertIn("[policy] directory", text)
        self.assertIn("[policy] query", text)
        self.assertIn("authorization carries credentials", text)
        self.assertIn("[policy] colour: unknown key", text)

    def test_watch_sets_interval(self) -> None:
        """watch = yes turns on the watcher at watch_interval."""
        settings, problems = self.parse({"directory": "/", "watch": "yes",
                                         "watch_interval": "500ms"})
        self.assertEqual(problems, [])
        self.assertEqual(settings.watch_interval, 0.5)  # type: ignore[attr-defined]

    def test_route_option(self) -> None:
        """policy.case_insensitive_paths is read from a route section."""
        from stoad.config import SectionReader

        problems = Problems()
        reader = SectionReader("route:api", {"policy.case_insensitive_paths": "yes"}, problems)
        self.assertEqual(PLUGIN.parse_route(reader), PolicyRouteOptions(True))
        reader.finish()
        self.assertEqual(problems.items, [])

    def test_build_with_broken_policy_fails_in_one_line(self) -> None:
        """Startup with a policy that does not compile raises one line with the regorus error."""
        made = PolicyDirectory({"a.rego": "package stoa.authz\ndecision if {\n"})
        self.addCleanup(made.cleanup)
        svc, _ = services()
        settings = stoad.policy.PolicySettings(directory=made.path)
        with self.assertRaises(PolicyLoadError) as caught:
            PLUGIN.build(settings, (), svc)
        message = str(caught.exception)
        self.assertIn("a.rego:3", message)
        self.assertNotIn("\n", message)


class DocumentationTests(SynchronousTestCase):
    def test_documented_schema_is_the_shipped_schema(self) -> None:
        """docs/policy.md prints exactly the schema the tests validate against."""
        from tests.support.policy import REPO

        with open(os.path.join(REPO, "docs", "policy.md"), encoding="utf-8") as f:
            text = f.read()
        block = text.split("<!-- input-schema -->\n```json\n", 1)[1].split("```", 1)[0]
        with open(SCHEMA_PATH, encoding="utf-8") as f:
            self.assertEqual(json.loads(block), json.load(f))
