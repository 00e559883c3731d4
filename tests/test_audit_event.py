"""Audit events: their fields, the parameters hash, and that no secret or PII ever gets in."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import orjson
import rfc8785
from twisted.trial.unittest import SynchronousTestCase

from stoad.audit._canonical import canonical, canonical_with_digest
from stoad.audit._event import (
    REDACTED,
    build_alert_event,
    build_request_event,
    finish_event,
    parameters_hash,
    parse_rfc3339_ms,
    rfc3339_ms,
    sanitize_details,
)
from stoad.runtime.context import GuardrailTrigger
from tests.support.audit import context

PII_BODY = {
    "name": "Jane Q. Public",
    "email": "jane.public@example.org",
    "ssn": "078-05-1120",
    "card": "4111 1111 1111 1111",
    "phone": "+1 202 555 0143",
    "api_key": "sk-live-4f9a8b7c6d5e4f3a2b1c",
    "password": "hunter2-Correct-Horse",
    "address": "1600 Pennsylvania Avenue NW",
}
SECRETS = [v.encode() for v in PII_BODY.values()] + [b"secret-token-value", b"Bearer", b"tokenhash"]


def _final(ctx, now=1_700_000_000.5):
    event, source = build_request_event(ctx, now, 3)
    return finish_event(event, source)


class RequestEventTests(SynchronousTestCase):
    def test_tool_call_fields(self) -> None:
        """An MCP tool call becomes a tool_call event with who, what, the decisions and sizes."""
        event = _final(context(1, arguments={"q": "weather"}))
        self.assertEqual(event["event_type"], "tool_call")
        self.assertEqual(event["timestamp"], "2023-11-14T22:13:20.250Z")
        self.assertEqual(event["duration_ms"], 250)
        self.assertEqual((event["consumer_id"], event["agent_id"], event["session_id"]),
                         ("acme", "agent-7", "sess-1"))
        self.assertEqual((event["tool_name"], event["route"], event["method"], event["path"]),
                         ("search", "tools", "POST", "/mcp"))
        self.assertEqual((event["outcome"], event["status"], event["backend_status"]),
                         ("allowed", 200, 200))
        self.assertEqual((event["policy_result"], event["policy_version"]), ("opa:allow", "v42"))
        self.assertEqual(event["guardrail_triggers"],
                         [{"detector": "email", "direction": "request", "action": "redact",
                           "count": 2}])
        self.assertEqual(event["decisions"][1], {"layer": "auth", "outcome": "allow"})
        self.assertEqual((event["client_cert_x5t"], event["client_ip"], event["request_id"]),
                         ("x5t-thumbprint", "127.0.0.1", "req-1"))
        self.assertEqual((event["bytes_in"], event["bytes_out"], event["worker"]), (0, 321, 3))
        self.assertEqual(event["layer_ms"], {"auth": 1.2})
        self.assertEqual(len(event["event_id"]), 36)

    def test_denied_request(self) -> None:
        """A deny records the layer that refused and why; the outcome is derived if unset."""
        ctx = context(2, tool=None, outcome=None, denied_by="policy",
                      reason="opa: deny\nrule x", status=403, backend_status=None)
        event = _final(ctx)
        self.assertEqual(event["event_type"], "http_request")
        self.assertEqual((event["outcome"], event["denied_by"]), ("denied", "policy"))
        self.assertEqual(event["reason"], "opa: deny rule x")
        self.assertIsNone(event["backend_status"])

    def test_error_outcome_without_status(self) -> None:
        """A request that ended without a status (client gone, internal error) is an error."""
        event = _final(context(3, outcome=None, status=None))
        self.assertEqual(event["outcome"], "error")

    def test_event_ids_unique(self) -> None:
        """Every event gets its own event_id."""
        ids = {build_request_event(context(i), 1.0, 0)[0]["event_id"] for i in range(2000)}
        self.assertEqual(len(ids), 2000)

    def test_no_secret_or_pii_in_event(self) -> None:
        """A body full of PII and secrets, and a bearer token, leave nothing but a hash."""
        body = orjson.dumps(PII_BODY)
        for ctx in (
            context(4, body=body, content_type="application/json", tool=None),
            context(5, body=body, content_type="text/plain", tool=None),
            context(6, body=body, arguments=PII_BODY),
        ):
            ctx.guardrail_triggers.append(GuardrailTrigger("credit_card", "request", "block", 1))
            line = canonical(_final(ctx))
            for secret in SECRETS:
                self.assertNotIn(secret, line)
            self.assertNotIn(b"078-05", line)
            self.assertNotIn(b"4111", line)


class ParametersHashTests(SynchronousTestCase):
    def test_tool_arguments_canonical(self) -> None:
        """Tool arguments hash as RFC 8785 JSON: key order and spacing do not matter."""
        a = parameters_hash(("json", {"b": [1, 2.5], "a": "é"}))
        b = parameters_hash(("json", orjson.loads(b'{ "a" : "\\u00e9", "b":[1, 2.5]}')))
        self.assertEqual(a, b)
        expected = hashlib.sha256(rfc8785.dumps({"a": "é", "b": [1, 2.5]})).hexdigest()
        self.assertEqual(a, "sha256:" + expected)

    def test_json_body(self) -> None:
        """A JSON body (application/json or +json) hashes as canonical JSON."""
        body = b'{"z": 1, "a": {"y": null}}'
        want = "sha256:" + hashlib.sha256(b'{"a":{"y":null},"z":1}').hexdigest()
        self.assertEqual(parameters_hash(("body", body, "application/json; charset=utf-8")), want)
        self.assertEqual(parameters_hash(("body", body, "application/problem+json")), want)

    def test_other_body_raw(self) -> None:
        """Any other body, or JSON that does not parse, hashes as raw bytes."""
        for body, ctype in ((b"a=1&b=2", "application/x-www-form-urlencoded"),
                            (b"{not json", "application/json")):
            self.assertEqual(parameters_hash(("body", body, ctype)),
                             "sha256:" + hashlib.sha256(body).hexdigest())

    def test_no_body(self) -> None:
        """No buffered body and no arguments: no hash."""
        self.assertIsNone(parameters_hash(None))
        event = _final(context(7, body=None, tool=None))
        self.assertIsNone(event["parameters_hash"])


class CanonicalTests(SynchronousTestCase):
    def test_matches_rfc8785(self) -> None:
        """The fast canonical encoder gives the exact bytes of the RFC 8785 reference."""
        rng = random.Random(8785)
        alphabet = "aZ09 \"\\/\n\t\x01\x7fé€😀\u2028"
        for _ in range(3000):
            value = {
                "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4))): rng.choice([
                    rng.randint(-2**53 + 1, 2**53 - 1),
                    round(rng.uniform(-1e6, 1e6), rng.randint(0, 9)),
                    rng.random() * 10 ** rng.randint(-8, 22),
                    "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))),
                    None, True, [1, "x", {"k": 2.5}],
                ]) for _ in range(rng.randint(0, 4))
            }
            self.assertEqual(canonical(value), rfc8785.dumps(value), value)

    def test_nested_values_match_rfc8785(self) -> None:
        """
        Values inside lists and dicts at any depth (integers past 2**53, integral and tiny
        floats, non-ASCII keys) take the fast path only where it gives RFC 8785's exact bytes:
        the two encoders agree, or both refuse.
        """
        rng = random.Random(2**53)
        alphabet = "aZ09 \"\\\n\x01é€😀"

        def scalar() -> Any:
            return rng.choice([
                rng.randint(-2**53 + 1, 2**53 - 1), 2**53 + rng.randint(0, 9),
                -2**53 - rng.randint(0, 9), float(rng.randint(-9, 9)),
                round(rng.uniform(-1e6, 1e6), rng.randint(0, 9)),
                rng.random() * 10 ** rng.randint(-8, 22), None, True, False,
                "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5))),
            ])

        def value(depth: int) -> Any:
            if depth == 0 or rng.random() < 0.4:
                return scalar()
            if rng.random() < 0.5:
                items = [value(depth - 1) for _ in range(rng.randint(0, 4))]
                return items if rng.random() < 0.7 else tuple(items)
            return {"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3))): value(depth - 1)
                    for _ in range(rng.randint(0, 4))}

        for _ in range(4000):
            record = {"k": value(4), "z": value(3)}
            try:
                expected: bytes | None = rfc8785.dumps(record)
            except (rfc8785.CanonicalizationError, TypeError):
                expected = None
            if expected is None:
                self.assertRaises(ValueError, canonical, record)
            else:
                self.assertEqual(canonical(record), expected, record)

    def test_digest_both_paths(self) -> None:
        """A record's hash covers its RFC 8785 bytes on the fast path and on the fallback."""
        for record in ({"a": 1, "b": "x"}, {"a": 1.0, "b": 2**60 // 2**10}):
            copy = dict(record)
            line, digest = canonical_with_digest(record, "hash")
            self.assertEqual(digest, hashlib.sha256(rfc8785.dumps(copy)).hexdigest())
            self.assertEqual(line, rfc8785.dumps({**copy, "hash": digest}))

    def test_rejects_non_json(self) -> None:
        """What JSON cannot hold (NaN) is refused, not written in some other form."""
        self.assertRaises(ValueError, canonical, {"x": float("nan")})


class AlertEventTests(SynchronousTestCase):
    def test_alert_fields(self) -> None:
        """An alert records its kind, severity, sanitised details and who was involved."""
        event = finish_event(build_alert_event(
            "token_certificate_mismatch", "critical", context(9),
            {"expected_x5t": "abc-DEF_123", "count": 2}, 1_700_000_000.0, 1), None)
        self.assertEqual((event["event_type"], event["alert"], event["severity"]),
                         ("alert", "token_certificate_mismatch", "critical"))
        self.assertEqual(event["details"], {"expected_x5t": "abc-DEF_123", "count": 2})
        self.assertEqual((event["consumer_id"], event["request_id"]), ("acme", "req-9"))
        self.assertEqual(event["timestamp"], "2023-11-14T22:13:20.000Z")

    def test_alert_without_context(self) -> None:
        """An alert not tied to a request (policy reload failed) has null request fields."""
        event = build_alert_event("policy_reload_failed", "warning", None, {}, 1.0, 0)
        self.assertIsNone(event["request_id"])
        self.assertIsNone(event["consumer_id"])

    def test_details_never_carry_matched_text(self) -> None:
        """Details naming content, free text and nested values are redacted or dropped."""
        details = sanitize_details({
            "detector": "email", "action": "block", "count": 3, "ratio": 0.5, "ok": True,
            "matched_text": "jane@example.org", "snippet": "ssn 078-05-1120",
            "where": "call me at +1 202 555 0143 please", "Bad Key": "x",
            "nested": {"email": "jane@example.org"}, "detectors": ["email", "ssn value 1"],
            "token_hash": "abc",
        })
        self.assertEqual(details["detector"], "email")
        self.assertEqual((details["count"], details["ratio"], details["ok"]), (3, 0.5, True))
        self.assertEqual(details["matched_text"], REDACTED)
        self.assertEqual(details["snippet"], REDACTED)
        self.assertEqual(details["where"], REDACTED)
        self.assertEqual(details["nested"], REDACTED)
        self.assertEqual(details["detectors"], ["email", REDACTED])
        self.assertEqual(details["token_hash"], REDACTED)
        self.assertNotIn("Bad Key", details)
        self.assertNotIn(b"jane", canonical(details))


class TimestampTests(SynchronousTestCase):
    def test_round_trip(self) -> None:
        """Timestamps are RFC 3339 UTC with milliseconds (truncated) and parse back to the same instant."""
        self.assertEqual(rfc3339_ms(0.0015), "1970-01-01T00:00:00.001Z")
        self.assertEqual(rfc3339_ms(1_700_000_000.9999), "2023-11-14T22:13:20.999Z")
        self.assertEqual(parse_rfc3339_ms("2023-11-14T22:13:20.250Z"), 1_700_000_000.25)
