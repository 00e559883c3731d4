"""Loading a policy directory: what compiles, what refuses to, and the version of what loaded."""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from stoad.policy import PolicyLoadError, compile_directory, decide
from tests.support.policy import ALLOW_ALL, SHIPPED_POLICIES, PolicyDirectory

QUERY = "data.stoa.authz.decision"


class CompileTests(SynchronousTestCase):
    def make(self, files: dict[str, str]) -> str:
        directory = PolicyDirectory(files)
        self.addCleanup(directory.cleanup)
        return directory.path

    def assertLoadError(self, files: dict[str, str], *fragments: str) -> str:
        with self.assertRaises(PolicyLoadError) as caught:
            compile_directory(self.make(files), QUERY)
        message = str(caught.exception)
        self.assertNotIn("\n", message)
        self.assertNotIn("Stack backtrace", message)
        for fragment in fragments:
            self.assertIn(fragment, message)
        return message

    def test_shipped_directory_compiles(self) -> None:
        """The shipped policies load without their tests, with every data document."""
        policies = compile_directory(SHIPPED_POLICIES, QUERY)
        self.assertIn("authz.rego", policies.files)
        self.assertNotIn("authz_test.rego", policies.files)
        self.assertIn("data.stoa.examples.tier_limits", policies.packages)

    def test_empty_directory_is_refused(self) -> None:
        """No policy at all cannot start: there would be nothing to allow with."""
        self.assertLoadError({"data.json": "{}"}, "no .rego file")

    def test_missing_directory_is_refused(self) -> None:
        """A directory that does not exist is refused."""
        with self.assertRaises(PolicyLoadError):
            compile_directory(os.path.join(self.make({}), "nope"), QUERY)

    def test_parse_error_names_file_and_line(self) -> None:
        """A syntax error is one line with the file, line and regorus message."""
        self.assertLoadError({"bad.rego": "package stoa.authz\ndecision if {\n"}, "bad.rego:3")

    def test_rego_v0_syntax_is_refused(self) -> None:
        """Policies are Rego v1: a body without `if` does not compile."""
        self.assertLoadError({"old.rego": "package stoa.authz\ndecision { true }\n"},
                             "old.rego", "if")

    def test_unknown_function_is_refused_at_load(self) -> None:
        """A misspelt function on the way to the query fails now, not on some request later."""
        self.assertLoadError({"f.rego": """package stoa.authz
import rego.v1
decision if { input.request.method == "GET"; strings.nope(input.x) }
"""}, "strings.nope")

    def test_query_without_a_rule_is_refused(self) -> None:
        """A query naming no loaded rule (a typo in [policy] query) is refused."""
        with self.assertRaises(PolicyLoadError) as caught:
            compile_directory(self.make({"a.rego": ALLOW_ALL}), "data.stoa.authz.decisoin")
        self.assertIn("decisoin", str(caught.exception))

    def test_data_must_be_a_json_object(self) -> None:
        """A data file that is not JSON, or not an object, is refused."""
        self.assertLoadError({"a.rego": ALLOW_ALL, "d.json": "[1, 2]"}, "d.json", "object")
        self.assertLoadError({"a.rego": ALLOW_ALL, "d.json": "{oops"}, "d.json", "not JSON")

    def test_conflicting_data_is_refused(self) -> None:
        """Two data files defining the same key are refused, naming the key."""
        self.assertLoadError({"a.rego": ALLOW_ALL, "a.json": '{"x": {"y": 1}}',
                              "b.json": '{"x": {"y": 2}}'}, "b.json", "data.x.y")

    def test_data_is_mounted_at_its_folder(self) -> None:
        """sub/dir/any.json lands at data.sub.dir, as with `opa eval -d`; booleans stay booleans."""
        path = self.make({"a.rego": """package stoa.authz
import rego.v1
decision := {"allow": data.sub.dir.flag == true, "reason": "flag"}
""", "sub/dir/any.json": '{"flag": true}'})
        policies = compile_directory(path, QUERY)
        decision = decide(policies, QUERY, {"time": {"now_ns": 1}})
        self.assertTrue(decision.allowed)

    def test_hidden_files_and_folders_are_skipped(self) -> None:
        """Dot files and ConfigMap ..data folders are not loaded (nor would double-load)."""
        path = self.make({"a.rego": ALLOW_ALL, ".a.rego.swp.rego": "broken {",
                          "..2026_01_01/a.rego": ALLOW_ALL})
        self.assertEqual(compile_directory(path, QUERY).files, ("a.rego",))

    def test_non_utf8_policy_is_refused(self) -> None:
        """Bytes that are not UTF-8 are refused."""
        path = self.make({})
        with open(os.path.join(path, "a.rego"), "wb") as f:
            f.write(b"package stoa.authz\n# \xff\n")
        with self.assertRaises(PolicyLoadError):
            compile_directory(path, QUERY)

    def test_version_follows_contents(self) -> None:
        """The version is the same for the same files and changes with any byte or name."""
        first = compile_directory(self.make({"a.rego": ALLOW_ALL}), QUERY).version
        same = compile_directory(self.make({"a.rego": ALLOW_ALL}), QUERY).version
        renamed = compile_directory(self.make({"b.rego": ALLOW_ALL}), QUERY).version
        edited = compile_directory(self.make({"a.rego": ALLOW_ALL + "\n"}), QUERY).version
        self.assertEqual(first, same)
        self.assertEqual(len({first, renamed, edited}), 3)
