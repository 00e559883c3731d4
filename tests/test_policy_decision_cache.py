"""The policy decision cache gives exactly the decision a full evaluation gives: differential runs
over random input documents for the shipped policies and for policies written to trip a reader of
input references; and the cases where the reads cannot be listed are not cached at all."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from typing import Any

import regorus
from twisted.trial.unittest import SynchronousTestCase

from stoad.policy import _decision as decision_module
from stoad.policy._compile import compile_directory
from stoad.policy._decision import ERROR, decide, decide_uncached
from stoad.policy._reads import CACHE_KEY_BYTES, input_reads, minimal, project
from tests.support.policy import SHIPPED_POLICIES

SHIPPED_QUERIES = ("data.stoa.authz.decision", "data.stoa.examples.business_hours.decision",
                   "data.stoa.examples.tier_limits.decision",
                   "data.stoa.examples.pii_consent.decision")
CONSUMERS = ("acme-support", "globex-analytics", "initech-batch", "demo-team", "unknown", "")
SCOPES = ("stoa:read", "stoa:write", "stoa:admin", "read")
MCP_METHODS = ("initialize", "tools/list", "tools/call", "resources/read", "bogus/method")
# 2026-12-07 (a Monday) at 03:00, 10:00 and 21:00 UTC, and a Saturday noon.
TIMES = (1796612400_000000000, 1796637600_000000000, 1796677200_000000000, 1797076800_123456789)


def random_document(rng: random.Random) -> dict[str, Any]:
    """An input document of the shape stoad.policy._input builds, with some parts missing."""
    document: dict[str, Any] = {
        "request": {
            "method": rng.choice(("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")),
            "path": rng.choice(("/api/items", "/api/pii/x", "/api/x/pii/", "/mcp", "/")),
            "raw_path": "/raw",
            "query": rng.choice(({}, {"a": ["1"]})),
            "headers": rng.choice(({}, {"user-agent": ["x"]}, {"x-a": ["1", "2"]})),
            "body_size": rng.randrange(0, 4096),
            "content_type": rng.choice((None, "application/json")),
        },
    }
    if rng.random() < 0.95:
        document["time"] = {"now_ns": rng.choice(TIMES) + rng.randrange(0, 10**9)}
    if rng.random() < 0.9:
        document["route"] = {"name": rng.choice(("api", "mcp", "admin")), "prefix": "/api"}
    if rng.random() < 0.9:
        document["client_certificate"] = {"subject": "CN=a", "serial": str(rng.randrange(10**6))}
    if rng.random() < 0.85:
        consumer = rng.choice(CONSUMERS)
        document["token"] = {
            "kind": "jwt", "client_id": consumer, "subject": consumer,
            "scopes": sorted(rng.sample(SCOPES, rng.randrange(0, len(SCOPES) + 1))),
            "claims": {"jti": str(rng.random()), "exp": rng.randrange(10**9)},
        }
        if consumer:
            document["consumer"] = {"id": consumer, "agent_id": "a",
                                    "tier": rng.choice(("enterprise", "standard", "free", "gold"))}
        document["usage"] = {"calls_60s": rng.choice((0, 5, 59, 60, 599, 600, 10000)),
                             "calls_3600s": rng.randrange(0, 10**5)}
    if rng.random() < 0.3:
        call: dict[str, Any] = {"method": rng.choice(MCP_METHODS)}
        if rng.random() < 0.5:
            call["tool_name"] = rng.choice(("search", "delete_all", "x"))
        if rng.random() < 0.3:
            call["arguments"] = {"q": str(rng.random())}
        document["mcp"] = call
    return document


class DifferentialTests(SynchronousTestCase):
    def assert_cache_is_exact(self, directory: str, query: str, documents: int = 1500,
                              seed: int = 13) -> Any:
        policies = compile_directory(directory, query)
        self.assertIsNotNone(policies.reads, query)
        rng = random.Random(seed)
        corpus = [random_document(rng) for _ in range(documents)]
        evaluated: list[str] = []
        evaluate = decision_module._evaluate

        def counting(policies: Any, query: str, payload: str) -> Any:
            evaluated.append(payload)
            return evaluate(policies, query, payload)

        self.patch(decision_module, "_evaluate", counting)
        for round in range(2):  # the second pass is answered from the cache
            evaluated.clear()
            errors = 0
            for document in corpus:
                cached = decide(policies, query, document)
                errors += cached.result == ERROR
                self.assertEqual(cached, decide_uncached(policies, query, document),
                                 (query, document))
            if round == 1:
                # decide_uncached evaluated every document; decide only its errors (the cache
                # was used: every decision a first-pass miss would prove nothing).
                self.assertEqual(len(evaluated), documents + errors, query)
        return policies

    def test_shipped_policies_decide_the_same_from_the_cache(self) -> None:
        """For the shipped default policy and each shipped example, the cached decision of
        every random document equals the full evaluation's (result, status, reason, headers,
        value), on a first and a second pass."""
        for query in SHIPPED_QUERIES:
            self.assert_cache_is_exact(SHIPPED_POLICIES, query)

    def test_policies_with_tricky_references_decide_the_same_from_the_cache(self) -> None:
        """Computed indexes, object.get on input, a whole sub-object used as a value, a helper
        package reached through data, functions and comprehensions: the cache still matches
        the full evaluation on every document."""
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        with open(os.path.join(directory, "lib.rego"), "w", encoding="utf-8") as f:
            f.write("package t.lib\nimport rego.v1\n"
                    "agent_ok if input.token.claims.exp > 500000000\n"
                    "scope_count := count(input.token.scopes)\n")
        with open(os.path.join(directory, "unreached.rego"), "w", encoding="utf-8") as f:
            f.write("package other\nimport rego.v1\nx := input.client_certificate.serial\n")
        with open(os.path.join(directory, "main.rego"), "w", encoding="utf-8") as f:
            f.write(
                "package t.main\nimport rego.v1\n"
                "default decision := {\"allow\": false, \"reason\": \"default\"}\n"
                "h(m) := lower(m)\n"
                "hdr := [k | some k, _ in input.request.headers]\n"
                "f := input.request[field] if field := \"method\"\n"
                "decision := {\"allow\": true, \"reason\": sprintf(\"%v %v %v %v %v\", "
                "[h(f), hdr, object.get(input, [\"route\", \"name\"], \"-\"), "
                "data.t.lib.scope_count, object.get(input, \"mcp\", {})])} if {\n"
                "\tdata.t.lib.agent_ok\n\tinput.consumer.tier != \"gold\"\n}\n")
        policies = self.assert_cache_is_exact(directory, "data.t.main.decision")
        assert policies.reads is not None
        self.assertNotIn(("client_certificate", "serial"), policies.reads)  # package unreached
        self.assertIn(("token", "claims", "exp"), policies.reads)  # reached through data.t.lib

    def test_large_projections_are_decided_but_not_kept(self) -> None:
        """A projection larger than the key bound (big MCP tool arguments, which the default
        policy's `input.mcp` reads) gets its decision, equal to a full evaluation, and is not
        kept: the cache's memory stays bounded whatever clients send."""
        policies = compile_directory(SHIPPED_POLICIES, SHIPPED_QUERIES[0])
        document = random_document(random.Random(1))
        document["mcp"] = {"method": "tools/call", "tool_name": "x",
                           "arguments": {"q": "a" * CACHE_KEY_BYTES}}
        self.assertEqual(decide(policies, SHIPPED_QUERIES[0], document),
                         decide_uncached(policies, SHIPPED_QUERIES[0], document))
        self.assertEqual(policies.decisions, {})
        del document["mcp"]["arguments"]
        decide(policies, SHIPPED_QUERIES[0], document)
        self.assertEqual(len(policies.decisions), 1)

    def test_errors_are_not_cached(self) -> None:
        """An evaluation that fails (a policy error) is evaluated again next time, not kept."""
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        with open(os.path.join(directory, "p.rego"), "w", encoding="utf-8") as f:
            f.write("package p\nimport rego.v1\ndecision := 1 / input.n\n")
        policies = compile_directory(directory, "data.p.decision")
        document = {"n": 0, "time": {"now_ns": 1}}
        self.assertEqual(decide(policies, "data.p.decision", document).result, ERROR)
        self.assertEqual(policies.decisions, {})


def _reads(source: str, query: str | None = None) -> Any:
    engine = regorus.Engine()
    engine.add_policy("t.rego", "package t\nimport rego.v1\n" + source)
    return input_reads(engine.get_ast_as_json(), query)


class ReadsTests(SynchronousTestCase):
    def test_static_part_of_each_reference_is_read(self) -> None:
        """A reference's static part is what is read: a computed index reads all of what it
        indexes; a string index is a step; a number index ends the path."""
        self.assertEqual(_reads('x if { input.a[k] == 1; input.q["z"][0]; input.r[input.s.t] }'),
                         {("a",), ("q", "z"), ("r",), ("s", "t")})
        self.assertEqual(_reads('x := object.get(input, ["r", "n"], 1)'), {("r", "n")})
        self.assertEqual(_reads("x if time.now_ns() > 1"), {("time", "now_ns")})

    def test_uses_that_cannot_be_listed_turn_the_cache_off(self) -> None:
        """input as a whole, a computed object.get path, `with` on input or the clock, an
        import from input, and builtins whose value is not a function of their arguments
        (http, rand, uuid, net, opa, io.jwt.decode_verify, print) leave no reads: no cache."""
        for source in ("x := input", "x if walk(input, [p, w])", "f(a) := a.b\nx := f(input)",
                       "x := object.get(input, y, 1) if y := [\"a\"]", 'x := input[y] if y := "a"',
                       "x if input.a with input.b as 1", "x if input.a with time.now_ns as 1",
                       'x := http.send({"url": "u", "method": "get"})', 'x := rand.intn("a", 3)',
                       "x := uuid.rfc4122(\"a\")", 'x if print("a")',
                       'x := io.jwt.decode_verify("a", {})'):
            self.assertIsNone(_reads(source), source)
        engine = regorus.Engine()
        engine.add_policy("t.rego", "package t\nimport rego.v1\nimport input.a as b\nx := b.c\n")
        self.assertIsNone(input_reads(engine.get_ast_as_json()))

    def test_only_packages_the_query_reaches_count(self) -> None:
        """Reads of a package the query cannot reach through data references do not count."""
        engine = regorus.Engine()
        engine.add_policy("a.rego", "package a\nimport rego.v1\nd := data.b.v\n")
        engine.add_policy("b.rego", "package b\nimport rego.v1\nv := input.x\n")
        engine.add_policy("c.rego", "package c\nimport rego.v1\nv := time.now_ns()\n")
        self.assertEqual(input_reads(engine.get_ast_as_json(), "data.a.d"), {("x",)})
        self.assertEqual(input_reads(engine.get_ast_as_json(), "data.c.v"), {("time", "now_ns")})

    def test_projection_keeps_what_is_read_and_a_placeholder_clock(self) -> None:
        """The projection holds each read path's value (a path inside another is covered by
        it), leaves the document alone, and keeps an unread clock only as a constant."""
        reads = minimal([("a",), ("a", "b"), ("c", "d"), ("c", "e"), ("z",)])
        self.assertEqual(reads, (("a",), ("z",), ("c", "d"), ("c", "e")))
        document = {"a": {"b": 1, "x": 2}, "c": {"d": [1], "f": 3}, "time": {"now_ns": 7}}
        projected = project(document, reads)
        self.assertEqual(projected, {"a": {"b": 1, "x": 2}, "c": {"d": [1]},
                                     "time": {"now_ns": 0}})
        self.assertEqual(document["c"], {"d": [1], "f": 3})
        self.assertEqual(project({"a": 1}, reads), {"a": 1})  # no clock, none invented
        self.assertEqual(project(document, (("time", "now_ns"),)), {"time": {"now_ns": 7}})
