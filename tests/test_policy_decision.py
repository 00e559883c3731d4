"""The decision's documented shape: what allows, what denies, and everything else denies."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from stoad.policy import ALLOW, DENY, ERROR, compile_directory, decide, interpret
from tests.support.policy import PolicyDirectory


class InterpretTests(SynchronousTestCase):
    def test_true_allows(self) -> None:
        """A bare true allows."""
        self.assertEqual(interpret(True).result, ALLOW)

    def test_false_denies_with_403(self) -> None:
        """A bare false is a 403 deny."""
        decision = interpret(False)
        self.assertEqual((decision.result, decision.status), (DENY, 403))

    def test_object_allow(self) -> None:
        """{allow: true, reason} allows and keeps the reason."""
        decision = interpret({"allow": True, "reason": "fine"})
        self.assertEqual((decision.result, decision.reason), (ALLOW, "fine"))

    def test_object_deny_with_status_429(self) -> None:
        """{allow: false, status: 429} is a 429 deny (also as a whole float, as Rego numbers are)."""
        for status in (429, 429.0):
            decision = interpret({"allow": False, "reason": "slow down", "status": status})
            self.assertEqual((decision.result, decision.status, decision.reason),
                             (DENY, 429, "slow down"))

    def test_non_conforming_values_are_errors(self) -> None:
        """Numbers, strings, lists, null and truthy look-alikes are errors, i.e. denies."""
        for value in (1, 0, "true", "allow", [True], None, {}, 1.0):
            decision = interpret(value)
            self.assertEqual((decision.result, decision.status), (ERROR, 403), value)

    def test_object_shape_errors(self) -> None:
        """Missing or mistyped keys, unknown keys and bad statuses are errors."""
        bad = [
            {"reason": "no allow"},
            {"allow": 1, "reason": "number"},
            {"allow": "true", "reason": "string"},
            {"allow": True},
            {"allow": True, "reason": 5},
            {"allow": True, "reason": "typo", "alow": True},
            {"allow": False, "reason": "x", "status": 500},
            {"allow": False, "reason": "x", "status": 200},
            {"allow": False, "reason": "x", "status": 403.5},
            {"allow": False, "reason": "x", "status": True},
            {"allow": False, "reason": "x", "status": "429"},
            {"allow": True, "reason": "x", "status": 429},
        ]
        for value in bad:
            self.assertEqual(interpret(value).result, ERROR, value)

    def test_unsupported_obligation_denies(self) -> None:
        """An obligation the gateway cannot carry out must not let the request through."""
        decision = interpret({"allow": True, "reason": "x", "obligations": {"log_to": "siem"}})
        self.assertEqual(decision.result, ERROR)
        self.assertIn("log_to", decision.reason)

    def test_upstream_header_obligation(self) -> None:
        """obligations.upstream_headers is carried out: the headers are returned to add."""
        decision = interpret({"allow": True, "reason": "x",
                              "obligations": {"upstream_headers": {"X-Tenant": "acme"}}})
        self.assertEqual(decision.result, ALLOW)
        self.assertEqual(dict(decision.upstream_headers), {"x-tenant": "acme"})

    def test_upstream_header_obligation_cannot_forge_identity_or_framing(self) -> None:
        """A policy may not set framing, hop-by-hop, credential or stoad identity headers."""
        for name in ("Content-Length", "Transfer-Encoding", "Host", "Authorization",
                     "X-Forwarded-For", "X-Stoad-Consumer", "Connection", "bad name"):
            decision = interpret({"allow": True, "reason": "x",
                                  "obligations": {"upstream_headers": {name: "v"}}})
            self.assertEqual(decision.result, ERROR, name)

    def test_upstream_header_values_cannot_split_headers(self) -> None:
        """Header values with CR/LF or that are not strings are errors."""
        for value in ("a\r\nX-Evil: 1", "a\nb", 5, None):
            decision = interpret({"allow": True, "reason": "x",
                                  "obligations": {"upstream_headers": {"x-a": value}}})
            self.assertEqual(decision.result, ERROR, value)


class DecideTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = PolicyDirectory({"p.rego": """package stoa.authz
import rego.v1
decision := {"allow": true, "reason": "ok"} if input.request.method == "GET"
decision := {"allow": false, "reason": "post"} if input.request.method == "POST"
decision := 7 if input.request.method == "PUT"
decision := x if { input.request.method == "PATCH"; x := 1 / input.request.zero }
decision := {"allow": true, "reason": "a"} if input.request.method == "DELETE"
decision := {"allow": true, "reason": "b"} if input.request.path == "/conflict"
at := time.now_ns()
"""})
        self.addCleanup(self.directory.cleanup)
        self.policies = compile_directory(self.directory.path, "data.stoa.authz.decision")

    def run_method(self, method: str, path: str = "/") -> str:
        document = {"request": {"method": method, "path": path}, "time": {"now_ns": 5}}
        return decide(self.policies, "data.stoa.authz.decision", document).result

    def test_allow_and_deny(self) -> None:
        """The rule's object decides."""
        self.assertEqual(self.run_method("GET"), ALLOW)
        self.assertEqual(self.run_method("POST"), DENY)

    def test_undefined_decision_is_an_error(self) -> None:
        """No rule matched and there is no default: the undefined decision denies."""
        self.assertEqual(self.run_method("HEAD"), ERROR)

    def test_wrong_type_is_an_error(self) -> None:
        """A decision of 7 denies."""
        self.assertEqual(self.run_method("PUT"), ERROR)

    def test_evaluation_error_is_an_error(self) -> None:
        """A division by zero while evaluating denies, with the regorus message as reason."""
        document = {"request": {"method": "PATCH", "zero": 0}, "time": {"now_ns": 5}}
        decision = decide(self.policies, "data.stoa.authz.decision", document)
        self.assertEqual(decision.result, ERROR)
        self.assertIn("divide by zero", decision.reason)
        self.assertNotIn("\n", decision.reason)

    def test_conflicting_rules_are_an_error(self) -> None:
        """Two complete rules giving different values is an evaluation error, so a deny."""
        self.assertEqual(self.run_method("DELETE", "/conflict"), ERROR)

    def test_unencodable_input_is_an_error(self) -> None:
        """An input that cannot become JSON (too deep, huge integer) denies, never crashes."""
        deep: object = 1
        for _ in range(400):
            deep = [deep]
        for document in ({"request": {"method": "GET", "x": deep}},
                         {"request": {"method": "GET", "x": 2 ** 70}}):
            decision = decide(self.policies, "data.stoa.authz.decision", document)
            self.assertEqual(decision.result, ERROR)

    def test_time_now_ns_is_input_time(self) -> None:
        """Inside Rego, time.now_ns() returns input.time.now_ns."""
        engine = self.policies.engine.clone()
        engine.set_input_json('{"time": {"now_ns": 1234567890123456789}}')
        from stoad.policy._decision import evaluation_query

        result = engine.eval_query(evaluation_query("data.stoa.authz.at"))
        self.assertEqual(result["result"][0]["expressions"][0]["value"], 1234567890123456789)

    def test_missing_time_makes_the_decision_undefined(self) -> None:
        """Without input.time.now_ns the query is undefined, hence a deny."""
        decision = decide(self.policies, "data.stoa.authz.decision",
                          {"request": {"method": "GET"}})
        self.assertEqual(decision.result, ERROR)
