"""OpenAPI request validation: 422 problem details listing violations, never echoing values."""

from __future__ import annotations

import json
import os

from twisted.trial.unittest import SynchronousTestCase

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.config._reader import Problems, SectionReader
from stoad.guardrails import GuardrailsLayer, OpenApiDocument, parse_route, parse_settings
from stoad.runtime.context import RequestContext
from stoad.runtime.deny import Deny
from stoad.runtime.layers import AlertBus, SectionSource

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "guardrails")


class FakeRoute:
    def __init__(self, options: object) -> None:
        self.prefix = "/api"
        self.layer_options = {"guardrails": options}


def layer_and_route(path: str = "openapi.yaml") -> tuple[GuardrailsLayer, FakeRoute]:
    problems = Problems()
    settings = parse_settings(SectionSource({}, problems, "."))
    reader = SectionReader("route:api", {"guardrails.openapi": path}, problems, DATA)
    options = parse_route(reader)
    reader.finish()
    assert not problems.items, problems.items
    return GuardrailsLayer(settings, None, AlertBus()), FakeRoute(options)


def call(method: str, path: str, query: str = "", body: bytes | None = b"",
         headers: dict[str, list[str]] | None = None, content_type: str | None = None) -> Deny | None:
    layer, route = layer_and_route()
    ctx = RequestContext("r", 0.0, "127.0.0.1", None, method, "/api" + path, "/api" + path, query,
                         dict(headers or {}), body, len(body or b""), content_type)
    ctx.route = route
    try:
        layer.on_request(ctx)
    except Deny as deny:
        return deny
    return None


class SchemaTests(SynchronousTestCase):
    def test_valid_requests_pass(self) -> None:
        """Requests matching the document pass (query, header, path and body)."""
        self.assertIsNone(call("GET", "/notes", "limit=5&tag=a&tag=b", headers={"x-trace": ["deadbeef"]}))
        self.assertIsNone(call("GET", "/notes/42"))
        self.assertIsNone(call("POST", "/notes", body=b'{"title": "t", "body": "b", "stars": 3}',
                               content_type="application/json"))

    def test_query_and_header_violations(self) -> None:
        """Missing, mistyped and out-of-range parameters give 422 problem details listing each."""
        deny = call("GET", "/notes", "tag=" + "x" * 11, headers={"x-trace": ["nothex!!"]})
        assert deny is not None
        self.assertEqual((deny.status, deny.error), (422, "invalid_request"))
        self.assertIn(("Content-Type", "application/problem+json"), deny.headers)
        assert deny.body is not None
        self.assertEqual(deny.body["status"], 422)
        self.assertEqual(deny.body["title"], "Request does not match the API description")
        locations = sorted(v["location"] for v in deny.body["violations"])  # type: ignore[union-attr]
        self.assertEqual(locations, ["header.x-trace", "query.limit", "query.tag/0"])
        deny = call("GET", "/notes", "limit=1000")
        assert deny is not None and deny.body is not None
        self.assertEqual(deny.body["violations"], [{"location": "query.limit", "message": "violates maximum 100"}])

    def test_path_parameter_type(self) -> None:
        """A path parameter of the wrong type (defined through a $ref) is a violation."""
        deny = call("GET", "/notes/abc")
        assert deny is not None and deny.body is not None
        self.assertEqual(deny.body["violations"], [{"location": "path.id", "message": "must be of type integer"}])

    def test_body_violations_do_not_echo_values(self) -> None:
        """JSON body violations are listed by location; the client's values are never echoed."""
        body = json.dumps({"title": "SECRETVALUE" * 3, "stars": -1, "sneaky<script>": 1}).encode()
        deny = call("POST", "/notes", body=body, content_type="application/json")
        assert deny is not None and deny.body is not None
        text = json.dumps(deny.body)
        self.assertNotIn("SECRETVALUE", text)
        self.assertNotIn("sneaky", text)
        messages = {v["location"]: v["message"] for v in deny.body["violations"]}  # type: ignore[union-attr]
        self.assertEqual(messages["body/title"], "violates maxLength 20")
        self.assertEqual(messages["body/stars"], "violates minimum 0")
        self.assertIn("body", messages)

    def test_missing_body_unknown_path_and_method(self) -> None:
        """A missing required body, an undescribed path and an undescribed method are violations."""
        for args, location in ((("POST", "/notes"), "body"), (("GET", "/other"), "path"),
                               (("DELETE", "/notes"), "method")):
            deny = call(*args)
            assert deny is not None and deny.body is not None
            self.assertEqual(deny.body["violations"][0]["location"], location)  # type: ignore[index]

    def test_wrong_media_and_bad_json(self) -> None:
        """A body in a media type not described, or not JSON, is a violation."""
        deny = call("POST", "/notes", body=b"title=x", content_type="application/x-www-form-urlencoded")
        assert deny is not None and deny.body is not None
        self.assertEqual(deny.body["violations"][0]["location"], "header.content-type")  # type: ignore[index]
        deny = call("POST", "/notes", body=b"{nope", content_type="application/json")
        assert deny is not None and deny.body is not None
        self.assertEqual(deny.body["violations"], [{"location": "body", "message": "not valid JSON"}])

    def test_json_document_and_bad_documents(self) -> None:
        """JSON documents load too; a non-3.x document or a dangling $ref is a config problem."""
        OpenApiDocument({"openapi": "3.0.3", "paths": {"/x": {"get": {}}}})
        with self.assertRaises(ValueError):
            OpenApiDocument({"swagger": "2.0", "paths": {}})
        with self.assertRaises(ValueError):
            OpenApiDocument({"openapi": "3.1.0", "paths": {"/x": {"get": {"parameters": [
                {"name": "a", "in": "query", "schema": {"$ref": "#/components/schemas/Missing"}}]}}}})
        import os
        import shutil
        import tempfile
        tmp = tempfile.mkdtemp(prefix="stoad-guardrails-")
        self.addCleanup(shutil.rmtree, tmp, True)
        with open(os.path.join(tmp, "bad.json"), "w") as f:
            f.write('{"openapi": "2.0"}')
        problems = Problems()
        reader = SectionReader("route:api", {"guardrails.openapi": "bad.json"}, problems, tmp)
        parse_route(reader)
        self.assertEqual(len(problems.items), 1)
        self.assertTrue(problems.items[0].startswith("[route:api] guardrails.openapi: cannot use"))
