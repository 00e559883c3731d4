"""JSON Schema on request data with bounded work: RE2 patterns, refused backtracking syntax,
caps on depth, array length, size and keyword evaluations (OpenAPI and MCP inputSchema)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import jsonschema._keywords
import jsonschema._utils
from twisted.trial.unittest import SynchronousTestCase

from stoad.guardrails._schema import OpenApiDocument
from stoad.runtime import safeschema
from tests.test_mcp_layer import LayerFixture, call, context, identity


class _NoBacktracking:
    """Stands in for the re module inside jsonschema: any use of it fails the test."""

    def search(self, *args: Any) -> Any:
        raise AssertionError("jsonschema evaluated a pattern with Python's re")


class PatternTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.patch(jsonschema._keywords, "re", _NoBacktracking())
        self.patch(jsonschema._utils, "re", _NoBacktracking())

    def test_patterns_run_on_re2_never_on_python_re(self) -> None:
        """pattern, patternProperties and additionalProperties (which consults the property
        patterns) are evaluated without Python's re; results are as the schema says."""
        validator = safeschema.safe_validator({
            "type": "object",
            "properties": {"q": {"type": "string", "pattern": "^(a+)+$"}},
            "patternProperties": {"^x-": {"type": "integer"}},
            "additionalProperties": False,
        })
        errors = safeschema.iter_errors(validator, {"q": "a" * 4096 + "!", "x-n": "s", "zz": 1})
        self.assertEqual(len(errors), 3)
        self.assertEqual(safeschema.iter_errors(validator, {"q": "aaa", "x-n": 1}), [])

    def test_backreferences_and_lookaround_are_refused_at_load(self) -> None:
        """A pattern RE2 cannot run (backreference, lookahead), anywhere in the schema, is
        refused when the schema is loaded."""
        for schema in ({"pattern": "(a)\\1"}, {"properties": {"x": {"pattern": "^(?=a)"}}},
                       {"patternProperties": {"(?<=x)y": {}}}):
            self.assertRaises(safeschema.UnsafeSchema, safeschema.safe_validator, schema)

    def test_unevaluated_properties_with_pattern_properties_is_refused(self) -> None:
        """jsonschema matches patternProperties for unevaluatedProperties with Python's re, so
        the combination is refused at load."""
        self.assertRaises(safeschema.UnsafeSchema, safeschema.safe_validator,
                          {"patternProperties": {"^a": {}}, "unevaluatedProperties": False})


class CapTests(SynchronousTestCase):
    def test_depth_array_and_size_caps(self) -> None:
        """Instances nested deeper than MAX_DEPTH, with an array longer than MAX_ARRAY, or with
        more than MAX_NODES values are refused before validation."""
        deep: list[Any] = []
        node = deep
        for _ in range(safeschema.MAX_DEPTH + 1):
            node.append([])
            node = node[0]
        wide = {"k": list(range(safeschema.MAX_ARRAY + 1))}
        many = {str(i): [0] * 100 for i in range(safeschema.MAX_NODES // 100 + 1)}
        validator = safeschema.safe_validator({})
        for instance in (deep, wide, many):
            self.assertRaises(safeschema.TooComplex, safeschema.iter_errors, validator, instance)

    def test_keyword_evaluations_are_capped(self) -> None:
        """A schema whose anyOf branches multiply the work on a nested instance is cut off at
        MAX_WORK keyword evaluations."""
        schema = {"$defs": {"n": {"anyOf": [{"type": "array", "items": {"$ref": "#/$defs/n"}},
                                            {"type": "array", "items": {"$ref": "#/$defs/n"}},
                                            {"type": "integer"}]}},
                  "$ref": "#/$defs/n"}
        instance: Any = 0
        for _ in range(30):
            instance = [instance, "x"]
        validator = safeschema.safe_validator(schema)
        self.assertRaises(safeschema.TooComplex, safeschema.iter_errors, validator, instance)


class LayerUseTests(LayerFixture, SynchronousTestCase):
    def test_openapi_document_with_a_backreference_fails_to_load(self) -> None:
        """An OpenAPI document whose schema uses a backreference is a load error naming it."""
        text = ('openapi: 3.1.0\ninfo: {title: t, version: "1"}\npaths:\n  /x:\n    post:\n'
                '      requestBody:\n        content:\n          application/json:\n'
                '            schema: {type: string, pattern: "(a)\\\\1"}\n')
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        with self.assertRaises(ValueError) as caught:
            OpenApiDocument.from_file(f.name)
        self.assertIn("RE2", str(caught.exception))

    def test_mcp_tool_with_a_lookahead_pattern_refuses_calls(self) -> None:
        """A tool whose inputSchema needs a backtracking engine refuses every call (422)."""
        tools = [{"name": "echo", "inputSchema": {"type": "object", "properties": {
            "text": {"type": "string", "pattern": "^(?!admin)"}}}}]
        self.list_tools(tools, who=identity())
        deny = self.deny(context(call("echo", {"text": "x"}), who=identity()))
        self.assertEqual((deny.status, deny.error), (422, "invalid_tool_schema"))

    def test_mcp_arguments_nested_too_deep_are_400(self) -> None:
        """tools/call arguments nested beyond the cap are refused with 400 invalid params."""
        tools = [{"name": "echo", "inputSchema": {"type": "object"}}]
        self.list_tools(tools, who=identity())
        deep: dict[str, Any] = {}
        node = deep
        for _ in range(safeschema.MAX_DEPTH + 1):
            node["a"] = {}
            node = node["a"]
        deny = self.deny(context(call("echo", deep), who=identity()))
        self.assertEqual((deny.status, deny.error), (400, "invalid_params"))
