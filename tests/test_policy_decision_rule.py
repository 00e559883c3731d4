"""The generated decision rule (evaluated with C{eval_rule}) decides exactly as evaluating the query
text did, keeps C{null} apart from undefined, owns its package, and carries no state over.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from stoad.policy import PolicyLoadError, compile_directory, decide
from tests.support.policy import PolicyDirectory

QUERY = "data.stoa.authz.decision"
POLICY = """package stoa.authz

import rego.v1
decision := {"allow": true, "reason": "ok"} if input.request.method == "GET"
decision := {"allow": false, "reason": "post", "status": 429} if input.request.method == "POST"
decision := null if input.request.method == "PUT"
decision := x if { input.request.method == "PATCH"; x := 1 / input.request.zero }
decision := {"allow": true, "reason": "a"} if input.request.method == "DELETE"
decision := {"allow": true, "reason": "b"} if input.request.path == "/conflict"
decision := {"allow": time.now_ns() == 42, "reason": "clock"} if input.request.method == "TRACE"
decision := {"allow": input.request.seen == count(input.request.list), "reason": "n"} if {
    input.request.method == "OPTIONS"
}
"""


class DecisionRuleTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = PolicyDirectory({"authz.rego": POLICY})
        self.addCleanup(self.directory.cleanup)
        self.policies = compile_directory(self.directory.path, QUERY)
        # the same engine, deciding by parsing the query text on every request
        self.by_query = dataclasses.replace(self.policies, decision_rule=None)

    def both(self, request: dict[str, Any], now_ns: int | None = 42) -> Any:
        document: dict[str, Any] = {"request": request}
        if now_ns is not None:
            document["time"] = {"now_ns": now_ns}
        return decide(self.policies, QUERY, document), decide(self.by_query, QUERY, document)

    def test_generated_rule_is_used(self) -> None:
        """Compiling with a query adds the rule, outside the packages the policy declares."""
        self.assertEqual(self.policies.decision_rule, "data.stoad_gateway_generated.decision")
        self.assertEqual(self.policies.packages, ("data.stoa.authz",))

    def test_same_decisions_as_the_query_text(self) -> None:
        """Allow, deny with status, null, undefined, a runtime error, conflicting rules, the
        replaced clock and a missing clock: the same Decision either way."""
        cases: list[tuple[dict[str, Any], int | None]] = [
            ({"method": "GET"}, 42), ({"method": "POST"}, 42), ({"method": "PUT"}, 42),
            ({"method": "HEAD"}, 42), ({"method": "PATCH", "zero": 0}, 42),
            ({"method": "DELETE", "path": "/conflict"}, 42), ({"method": "TRACE"}, 42),
            ({"method": "TRACE"}, 41), ({"method": "GET"}, None),
        ]
        for request, now_ns in cases:
            by_rule, by_query = self.both(request, now_ns)
            self.assertEqual((by_rule.result, by_rule.status, by_rule.value),
                             (by_query.result, by_query.status, by_query.value), request)
            if "zero" not in request and "path" not in request:
                # error texts of regorus itself name the query or rule differently
                self.assertEqual(by_rule.reason, by_query.reason, request)

    def test_null_decision_is_not_undefined(self) -> None:
        """A decision of null is reported as a wrong type, not as an undefined decision."""
        by_rule, _ = self.both({"method": "PUT"})
        self.assertIn("NoneType", by_rule.reason)
        undefined, _ = self.both({"method": "HEAD"})
        self.assertEqual(undefined.reason, "decision is undefined")

    def test_clock_comes_from_the_input(self) -> None:
        """time.now_ns() inside the policy is input.time.now_ns through the generated rule."""
        allowed, _ = self.both({"method": "TRACE"}, 42)
        refused, _ = self.both({"method": "TRACE"}, 43)
        self.assertTrue(allowed.allowed)
        self.assertFalse(refused.allowed)

    def test_no_state_carries_between_requests(self) -> None:
        """Deciding A, then B, then A again gives A's decision both times."""
        first = {"method": "OPTIONS", "seen": 2, "list": [1, 2]}
        second = {"method": "OPTIONS", "seen": 2, "list": [1, 2, 3]}
        a1, _ = self.both(first)
        b, _ = self.both(second)
        a2, _ = self.both(first)
        self.assertTrue(a1.allowed)
        self.assertFalse(b.allowed)
        self.assertTrue(a2.allowed)

    def test_other_query_falls_back_to_the_query_text(self) -> None:
        """decide() with a query other than the compiled one evaluates that query itself."""
        directory = PolicyDirectory({"authz.rego": POLICY + 'other := {"allow": false, '
                                     '"reason": "other"}\n'})
        self.addCleanup(directory.cleanup)
        policies = compile_directory(directory.path, QUERY)
        decision = decide(policies, "data.stoa.authz.other", {"time": {"now_ns": 1}})
        self.assertEqual(decision.reason, "other")

    def test_generated_package_is_reserved(self) -> None:
        """A policy or data file under the generated rule's package refuses to load."""
        for files in ({"authz.rego": POLICY, "x.rego": "package stoad_gateway_generated\n"
                       "import rego.v1\nx := 1\n"},
                      {"authz.rego": POLICY, "stoad_gateway_generated/d.json": '{"a": 1}'}):
            directory = PolicyDirectory(files)
            self.addCleanup(directory.cleanup)
            with self.assertRaises(PolicyLoadError) as caught:
                compile_directory(directory.path, QUERY)
            self.assertIn("reserved", str(caught.exception))
