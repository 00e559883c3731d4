"""Issue 14: JSON documents inside JSON strings (tool-call arguments, HAR bodies, MCP text content) are scanned as
the upstream reads them, decoded, and redaction re-encodes them as valid JSON; and the JSON fast path's one re2
pass (the member-name probe is an entry of the rules' set)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from twisted.trial.unittest import SynchronousTestCase

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.guardrails import BUILTIN_RULES, ContentScanner, Scanner, Tally, builtin_phrases
from stoad.guardrails._content import MAX_NESTED_DEPTH, MAX_NESTED_DOCUMENTS
from stoad.runtime import strictjson

SCANNER = Scanner(BUILTIN_RULES, builtin_phrases(), model=None)
EMAIL = "jane.okafor@mailbox.org"
# a Kubernetes env entry, as a manifest in a HAR body holds it
K8S_SECRET = "pQdYT_sdvOo=t2SdedTTdH3sDuIP23dDkVi_6"
K8S_MANIFEST = f'env:\n- name: FLASK_SECRET_KEY\n  value: "{K8S_SECRET}"\n'


def scan(document: Any, action: str = "redact") -> tuple[Tally, bytes | None]:
    content = ContentScanner(SCANNER, {"pii": action, "secrets": action, "injection": "off"}, None)
    tally = Tally()
    return tally, content.body(orjson.dumps(document), "json", tally)


def tool_call(arguments: str) -> dict[str, Any]:
    """An OpenAI chat completion whose assistant message calls a function with C{arguments} (a JSON string)."""
    return {"id": "chatcmpl-9", "object": "chat.completion", "model": "gpt-4o",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": None,
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": "create_user", "arguments": arguments}}]}}]}


def har_upload(text: str) -> dict[str, Any]:
    """A HAR 1.2 log of one POST whose C{postData.text} is C{text}."""
    return {"log": {"version": "1.2", "creator": {"name": "Firefox", "version": "133.0"}, "entries": [{
        "startedDateTime": "2025-11-27T10:00:00.000Z", "time": 41,
        "request": {"method": "POST", "url": "https://api.tailwind.dev/v1/deploy", "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "Content-Type", "value": "application/json"}],
                    "postData": {"mimeType": "application/json", "text": text}},
        "response": {"status": 201, "statusText": "Created", "content": {"size": 2, "mimeType": "application/json",
                                                                           "text": "{}"}}}]}}


def mcp_result(text: str) -> dict[str, Any]:
    """An MCP tools/call result whose one text content item is C{text}."""
    return {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": text}], "isError": False}}


class NestedDocumentTests(SynchronousTestCase):
    def test_tool_call_arguments_members_are_redacted_inside_valid_json(self) -> None:
        """A secret-named member of a tool call's arguments is redacted, and the arguments stay valid JSON (its
        value holds a quote, which the arguments' text shows escaped: C{\\"})."""
        arguments = json.dumps({"username": "jokafor", "db_password": 'Tr0ub"4dor&3xQ!v9', "role": "analyst"})
        tally, out = scan(tool_call(arguments))
        self.assertEqual(tally.counts["secrets"], 1)
        assert out is not None
        inner = json.loads(orjson.loads(out)["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])
        self.assertEqual(inner, {"username": "jokafor", "db_password": "[REDACTED:generic_secret]", "role": "analyst"})
        self.assertNotIn(b"4dor&3xQ", out)

    def test_escaped_address_in_mcp_text_content_is_found_and_unreadable(self) -> None:
        """An address written with a JSON escape (C{\\u0040}) in a JSON text content item is found on its decoded
        text and redacted, so neither the address nor its escaped form is left in the result."""
        text = '{"customer":{"id":4411,"email":"jane.okafor\\u0040mailbox.org"}}'
        self.assertEqual(json.loads(text)["customer"]["email"], EMAIL)
        tally, out = scan(mcp_result(text))
        self.assertEqual(tally.counts["pii"], 1)
        assert out is not None
        inner = json.loads(orjson.loads(out)["result"]["content"][0]["text"])
        self.assertEqual(inner, {"customer": {"id": 4411, "email": "[REDACTED:email]"}})
        self.assertNotIn(b"mailbox.org", out)

    def test_ssn_with_escaped_en_dashes_in_har_post_data(self) -> None:
        """An SSN under its name in a HAR C{postData.text}, with its en dashes written C{\\u2013}, is found."""
        tally, out = scan(har_upload(json.dumps({"applicant": "R. Castillo", "ssn": "596\u201383\u20139752"})))
        self.assertEqual(tally.counts["pii"], 1)
        assert out is not None
        text = orjson.loads(out)["log"]["entries"][0]["request"]["postData"]["text"]
        self.assertEqual(json.loads(text), {"applicant": "R. Castillo", "ssn": "[REDACTED:ssn]"})

    def test_manifest_secret_in_har_post_data_is_redacted_whole(self) -> None:
        """A Kubernetes env secret in a manifest inside a HAR C{postData.text} (its newlines escaped there) is
        found on the decoded text and redacted; the HAR and its inner document stay valid JSON."""
        tally, out = scan(har_upload(json.dumps({"manifest": K8S_MANIFEST, "dryRun": False})))
        self.assertEqual(tally.counts["secrets"], 1)
        assert out is not None
        text = orjson.loads(out)["log"]["entries"][0]["request"]["postData"]["text"]
        inner = json.loads(text)
        self.assertNotIn(K8S_SECRET[6:20], inner["manifest"])
        self.assertIn("- name: FLASK_SECRET_KEY\n", inner["manifest"])
        self.assertIs(inner["dryRun"], False)

    def test_alert_counts_without_rewriting(self) -> None:
        """With C{alert}, a finding in a nested document is counted and the body is left as it was."""
        tally, out = scan(tool_call(json.dumps({"email": EMAIL})), action="alert")
        self.assertEqual(tally.counts["pii"], 1)
        self.assertIsNone(out)

    def test_unchanged_nested_documents_keep_their_text(self) -> None:
        """A nested document with nothing redacted in it keeps its exact text (spacing, escapes) when another
        part of the body is rewritten."""
        untouched = '{ "query" : "caf\\u00e9",  "limit": 10 }'
        body = {"messages": [{"role": "user", "content": f"mail {EMAIL}"}],
                "tools": [{"arguments": untouched}]}
        tally, out = scan(body)
        self.assertEqual(tally.counts["pii"], 1)
        assert out is not None
        self.assertEqual(orjson.loads(out)["tools"][0]["arguments"], untouched)

    def test_documents_nested_twice_are_read(self) -> None:
        """A document in a string of a document in a string (an MCP result carrying a tool call) is read too."""
        inner = json.dumps({"function": {"name": "notify", "arguments": json.dumps({"to": EMAIL})}})
        tally, out = scan(mcp_result(inner))
        self.assertEqual(tally.counts["pii"], 1)
        assert out is not None
        level1 = json.loads(orjson.loads(out)["result"]["content"][0]["text"])
        self.assertEqual(json.loads(level1["function"]["arguments"]), {"to": "[REDACTED:email]"})

    def test_string_that_only_looks_like_json_is_scanned_as_text(self) -> None:
        """A string between braces that is not JSON (a template) is scanned as the text it is."""
        tally, out = scan({"template": "{Contact " + EMAIL + " for access}"})
        self.assertEqual(tally.counts["pii"], 1)
        assert out is not None
        self.assertEqual(orjson.loads(out)["template"], "{Contact [REDACTED:email] for access}")

    def test_duplicate_member_in_nested_document_is_refused(self) -> None:
        """A nested document naming a member twice is refused as the body itself would be: the tool may read
        either value."""
        arguments = '{"email":"nobody","email":"' + EMAIL + '"}'
        self.assertRaises(strictjson.DuplicateMember, scan, tool_call(arguments))

    def test_nesting_past_the_depth_bound_blocks_what_may_hide(self) -> None:
        """A document nested deeper than the bound is not read; since it holds an escape (where a value may
        hide), it counts as an unredactable hit, so redaction becomes a block."""
        document: Any = {"email": "jane.okafor\\u0040mailbox.org"}
        for _ in range(MAX_NESTED_DEPTH + 1):
            document = {"text": json.dumps(document)}
        tally, _ = scan(document)
        self.assertIn("pii", tally.unredactable)
        self.assertIn("secrets", tally.unredactable)

    def test_nesting_within_the_depth_bound_is_read(self) -> None:
        """At the depth bound the innermost document is still read and redacted."""
        document: Any = {"email": EMAIL}
        for _ in range(MAX_NESTED_DEPTH):
            document = {"text": json.dumps(document)}
        tally, out = scan(document)
        self.assertEqual(tally.counts["pii"], 1)
        self.assertFalse(tally.unredactable)
        assert out is not None
        self.assertNotIn(b"mailbox.org", out)

    def test_documents_past_the_count_bound_block_what_may_hide(self) -> None:
        """Past the bound on nested documents per body, one that may hold a finding (here an escape) is not read
        and counts as unredactable."""
        items = [json.dumps({"n": i, "note": "line\nbreak"}) for i in range(MAX_NESTED_DOCUMENTS)]
        items.append('{"email":"jane.okafor\\u0040mailbox.org"}')
        tally, _ = scan({"results": items})
        self.assertIn("pii", tally.unredactable)

    def test_plain_documents_past_the_count_bound_pass(self) -> None:
        """Past the count bound, nested documents in which nothing could be a finding (no escape, no rule's raw
        match, no secret-named member) pass unflagged: their text scan sees all they hold."""
        items = [json.dumps({"n": i, "note": "line\nbreak"}) for i in range(MAX_NESTED_DOCUMENTS)]
        items.extend(json.dumps({"n": i, "ok": True}) for i in range(5))
        tally, out = scan({"results": items})
        self.assertFalse(tally)
        self.assertIsNone(out)


class OnePassProbeTests(SynchronousTestCase):
    def test_maybe_answers_for_members_named_like_secrets(self) -> None:
        """The rules' set also holds the member-name probe, so one pass (L{Scanner.maybe}) says that a raw JSON body
        with a secret- or SSN-named member may hold a finding, though no rule matches its value."""
        secrets = frozenset(("secrets",))
        self.assertTrue(SCANNER.maybe(b'{"db_password": "plain words here"}', secrets))
        self.assertTrue(SCANNER.maybe(b'{"ssn": "596 83 9752"}', frozenset(("pii",))))
        self.assertFalse(SCANNER.maybe(b'{"title": "plain words here"}', secrets))
        # the probe is no rule: it finds nothing itself
        self.assertEqual(SCANNER.find('{"db_password": "plain words here"}', secrets), [])
        self.assertEqual(SCANNER.spans('{"db_password": "plain words here"}', secrets), [])
