"""`stoad policy eval` and `stoad policy test`: output and exit status policy authors rely on."""

from __future__ import annotations

import io
import json
import os
import sys
from contextlib import redirect_stderr, redirect_stdout

from twisted.trial.unittest import SynchronousTestCase

from stoad.cli import main
from tests.support.policy import ALLOW_ALL, SHIPPED_POLICIES, PolicyDirectory, utc

GET_INPUT = {
    "request": {"method": "GET", "path": "/api/items", "raw_path": "/api/items", "query": {},
                "headers": {}, "body_size": 0, "content_type": None},
    "route": {"name": "api", "prefix": "/api"},
    "consumer": {"id": "acme-support", "agent_id": "a1", "tier": "enterprise"},
    "token": {"kind": "jwt", "client_id": "c", "subject": "a1", "scopes": ["stoa:read"],
              "claims": {}},
    "time": {"now_ns": int(utc("2026-03-02T07:59:00")) * 1_000_000_000},
    "usage": {"calls_60s": 0, "calls_3600s": 0},
}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


class EvalCommandTests(SynchronousTestCase):
    def write_input(self, document: object) -> str:
        made = PolicyDirectory({"input.json": json.dumps(document)})
        self.addCleanup(made.cleanup)
        return os.path.join(made.path, "input.json")

    def test_allowed_input_prints_decision_and_exits_0(self) -> None:
        """The default policy allows the sample input: exit 0, JSON with result and version."""
        code, out, _ = run("policy", "eval", "--input", self.write_input(GET_INPUT),
                           "--dir", SHIPPED_POLICIES)
        self.assertEqual(code, 0)
        report = json.loads(out)
        self.assertEqual(report["result"], "opa:allow")
        self.assertEqual(len(report["policy_version"]), 16)

    def test_denied_input_exits_1(self) -> None:
        """input.time is used: at 07:59 UTC the business-hours example denies, exit 1."""
        code, out, _ = run("policy", "eval", "--input", self.write_input(GET_INPUT),
                           "--dir", SHIPPED_POLICIES, "--query",
                           "data.stoa.examples.business_hours.decision")
        self.assertEqual(code, 1)
        self.assertEqual(json.loads(out)["reason"], "GET outside business hours (hour 7 UTC)")

    def test_input_without_time_uses_now(self) -> None:
        """An input without time.now_ns is evaluated at the current time, with a note."""
        document = {k: v for k, v in GET_INPUT.items() if k != "time"}
        code, _, err = run("policy", "eval", "--input", self.write_input(document),
                           "--dir", SHIPPED_POLICIES)
        self.assertEqual(code, 0)
        self.assertIn("current time", err)

    def test_broken_policy_exits_2_with_one_line(self) -> None:
        """A directory that does not compile: exit 2, the error on stderr."""
        made = PolicyDirectory({"a.rego": "package stoa.authz\ndecision if {\n"})
        self.addCleanup(made.cleanup)
        code, _, err = run("policy", "eval", "--input", self.write_input(GET_INPUT),
                           "--dir", made.path)
        self.assertEqual(code, 2)
        self.assertIn("a.rego:3", err)

    def test_unreadable_input_exits_2(self) -> None:
        """Input that is missing, not JSON or not an object: exit 2."""
        made = PolicyDirectory({"bad.json": "{", "list.json": "[]"})
        self.addCleanup(made.cleanup)
        for name in ("missing.json", "bad.json", "list.json"):
            code, _, _ = run("policy", "eval", "--input", os.path.join(made.path, name),
                             "--dir", SHIPPED_POLICIES)
            self.assertEqual(code, 2, name)

    def test_bad_query_is_a_usage_error(self) -> None:
        """--query must be a data.x.y reference."""
        with redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as caught:
            main(["policy", "eval", "--input", "-", "--query", "data.x; true"])
        self.assertEqual(caught.exception.code, 2)

    def test_input_from_stdin(self) -> None:
        """--input - reads the document from standard input."""
        stdin = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(json.dumps(GET_INPUT).encode()))
        self.addCleanup(setattr, sys, "stdin", stdin)
        code, out, _ = run("policy", "eval", "--input", "-", "--dir", SHIPPED_POLICIES)
        self.assertEqual((code, json.loads(out)["result"]), (0, "opa:allow"))


class TestCommandTests(SynchronousTestCase):
    def test_shipped_tests_pass(self) -> None:
        """The shipped directory's Rego tests all pass: exit 0."""
        code, out, _ = run("policy", "test", "--dir", SHIPPED_POLICIES)
        self.assertEqual(code, 0)
        self.assertIn("PASS: 26/26", out)

    def test_failing_and_erroring_tests_exit_1(self) -> None:
        """A false test, an undefined one and an erroring one are each reported; exit 1."""
        made = PolicyDirectory({"a.rego": ALLOW_ALL, "a_test.rego": """package stoa.authz_test
import rego.v1
import data.stoa.authz
test_passes if authz.decision.allow
test_false if { authz.decision.allow == false }
test_undefined if input.nothing
test_errors if { x := 1 / 0; x > 0 }
"""})
        self.addCleanup(made.cleanup)
        code, out, _ = run("policy", "test", "--dir", made.path)
        self.assertEqual(code, 1)
        self.assertIn("FAIL: data.stoa.authz_test.test_false", out)
        self.assertIn("FAIL: data.stoa.authz_test.test_undefined (undefined)", out)
        self.assertIn("ERROR: data.stoa.authz_test.test_errors", out)
        self.assertNotIn("test_passes", out)
        self.assertIn("PASS: 1/4", out)

    def test_broken_test_file_exits_2(self) -> None:
        """A test file that does not parse stops the run: exit 2."""
        made = PolicyDirectory({"a.rego": ALLOW_ALL, "a_test.rego": "package x\ntest_a if {\n"})
        self.addCleanup(made.cleanup)
        code, _, err = run("policy", "test", "--dir", made.path)
        self.assertEqual(code, 2)
        self.assertIn("a_test.rego", err)

    def test_no_tests_exits_1(self) -> None:
        """A directory without test rules is reported, not silently passed."""
        made = PolicyDirectory({"a.rego": ALLOW_ALL})
        self.addCleanup(made.cleanup)
        code, _, err = run("policy", "test", "--dir", made.path)
        self.assertEqual(code, 1)
        self.assertIn("no test_* rules", err)
