"""Validated PII (libphonenumber, card groupings, labelled SSNs) and the real-world secret rules."""

from __future__ import annotations

import orjson
from twisted.trial.unittest import SynchronousTestCase

import stoad.config  # noqa: F401  (imports stoad.layers in the right order)
from stoad.guardrails import BUILTIN_RULES, DETECTORS, ContentScanner, Scanner, Tally, builtin_phrases
from stoad.guardrails._detectors import jwt_ok
from stoad.runtime import strictjson

ALL = frozenset(DETECTORS)
SCANNER = Scanner(BUILTIN_RULES, builtin_phrases())
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY9Zq2Ld8KEy"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


def kinds(text: str) -> list[str]:
    return [f.kind for f in SCANNER.find(text, ALL)]


def found(text: str) -> list[str]:
    return [text[f.start:f.end] for f in SCANNER.find(text, ALL)]


def scan_json(document: object, actions: dict[str, str] | None = None) -> tuple[Tally, bytes | None]:
    content = ContentScanner(SCANNER, actions or {"pii": "redact", "secrets": "redact", "injection": "block"},
                             None)
    tally = Tally()
    return tally, content.body(orjson.dumps(document), "json", tally)


class PhoneTests(SynchronousTestCase):
    def test_valid_numbers_in_their_plans(self) -> None:
        """Numbers libphonenumber knows as valid are found, North-American and international."""
        for phone in ("(212) 736-0143", "+1 415 555 2671", "+44 20 7123 4567", "+33 6 12 34 56 78",
                      "+49 30 901820"):
            self.assertEqual(kinds(f"call {phone} please"), ["phone"], phone)

    def test_impossible_numbers_are_not_phones(self) -> None:
        """A '+' run outside any number plan and North-American numbers with impossible codes are not phones."""
        for text in ("+123456789012", "+99 1234 5678", "(123) 456-7890", "(415) 155-2671", "+1 099 555 0100"):
            self.assertEqual(kinds(f"ref {text} end"), [], text)


class CardTests(SynchronousTestCase):
    def test_all_issuer_groupings(self) -> None:
        """Cards are found in 4-3-3-3, 4-4-4-4-3, 4-6-4 and 4-6-5 groupings, not only 4-4-4-4."""
        for text in ("4222 222 222 222", "4111 1111 1111 1111 003", "3056 930902 5904", "3782 822463 10005",
                     "6011-0009-9013-9424"):
            self.assertEqual(found(f"card {text} ok"), [text], text)

    def test_mixed_separators_are_not_one_number(self) -> None:
        """Digit groups joined by different separators are not read as one card number."""
        self.assertEqual(kinds("card 4222 222-222 222 ok"), [])


class SsnTests(SynchronousTestCase):
    def test_nine_digits_next_to_a_label(self) -> None:
        """An SSN without separators is found after a label, and not as a bare nine-digit number."""
        for text in ("SSN: 472228338", "social security number 472228338", "ssn#472228338"):
            self.assertEqual(kinds(text), ["ssn"], text)
        self.assertEqual(kinds("order 472228338 shipped"), [])
        self.assertEqual(kinds("SSN: 912228338"), [])

    def test_member_named_ssn(self) -> None:
        """A JSON member named ssn with nine valid digits is redacted; an invalid area is left alone."""
        tally, out = scan_json({"ssn": "472228338", "other_ssn": "666228338"})
        self.assertEqual(orjson.loads(out or b""), {"ssn": "[REDACTED:ssn]", "other_ssn": "666228338"})
        self.assertEqual(tally.counts["pii"], 1)


class JwtTests(SynchronousTestCase):
    def test_structure(self) -> None:
        """A JWT counts only with a JSON header carrying alg and base64url payload and signature parts."""
        self.assertTrue(jwt_ok(JWT))
        header, payload, _ = JWT.split(".")
        self.assertFalse(jwt_ok(header))
        self.assertFalse(jwt_ok(f"{header}.<payload>.<signature>"))
        self.assertFalse(jwt_ok(f"{header}.{payload}"))
        no_alg = "eyJ0eXAiOiJKV1QifQ"  # {"typ":"JWT"}
        self.assertFalse(jwt_ok(f"{no_alg}.{payload}.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"))

    def test_placeholder_and_truncated_tokens_under_token_names(self) -> None:
        """Header-only and placeholder JWTs under a token member are not secrets; a real one is redacted."""
        header = JWT.split(".")[0]
        for value in (header, f"{header}.<payload>.<signature>", f"{header}.\u2026", "eyJ....<sig>"):
            tally, out = scan_json({"token": value})
            self.assertEqual((dict(tally.counts), out), ({}, None), value)
        tally, out = scan_json({"id_token": JWT})
        self.assertEqual(orjson.loads(out or b"")["id_token"], "[REDACTED:jwt]")


class SecretRuleTests(SynchronousTestCase):
    def test_punctuated_values(self) -> None:
        """KEY=value secrets whose values contain &, =, % or other punctuation are found whole."""
        for text, value in (("DB_PASSWORD=p&ss=w0rd%41Zq!", "p&ss=w0rd%41Zq!"),
                            ("SECRET_KEY=k9#mP2$vL8@qR5&nX", "k9#mP2$vL8@qR5&nX"),
                            ("export API_TOKEN=3f9a8b7c6d5e4f3a2b1c", "3f9a8b7c6d5e4f3a2b1c"),
                            ("apiToken: 'Zt4-q9Lx_2mW8rV'", "Zt4-q9Lx_2mW8rV")):
            self.assertEqual(found(text), [value], text)

    def test_url_passwords(self) -> None:
        """The password of scheme://user:pass@host is found (and not taken for an e-mail address)."""
        text = "DATABASE_URL=postgres://app:S3cr3t%21pw@db.internal:5432/app"
        self.assertEqual([(f.kind, text[f.start:f.end]) for f in SCANNER.find(text, ALL)],
                         [("url_password", "S3cr3t%21pw")])
        self.assertEqual(found("amqp://guest:Zq7!wLp3@rabbit:5672/"), ["Zq7!wLp3"])
        for text in ("postgres://user:password@localhost/db", "redis://:${REDIS_PASSWORD}@cache:6379",
                     "https://user:****@example.com", "mysql://root:<password>@db/app"):
            self.assertEqual(kinds(text), [], text)

    def test_aws_secret_in_prose_and_camel_case(self) -> None:
        """An AWS secret key is found after prose that names it and under camelCase or bare names."""
        for text in (f"The AWS secret key is {AWS_SECRET}, keep it safe",
                     f'{{"secretAccessKey": "{AWS_SECRET}"}}', f"awsSecretAccessKey={AWS_SECRET}"):
            self.assertIn(AWS_SECRET, found(text), text)

    def test_vendor_tokens(self) -> None:
        """Google OAuth access tokens (ya29.) and Slack app tokens (xapp-) are found with their types."""
        cases = {
            "ya29.a0AfH6SMBx3kQ9vLp2rT8wZ1nY4cE7gH0jK5mN": "google_oauth_token",
            "xapp-1-A07QX9RBL2M-4817203956617-9f3c1e7a2b8d04f6c5e9a7b1d3f2c8e6a4b0d9f7e5c3a1b8d6f4e2c0a9b7d5f3":
                "slack_app_token",
        }
        for text, kind in cases.items():
            self.assertEqual(kinds(f"use {text} now"), [kind], text)

    def test_name_value_negatives(self) -> None:
        """Secret-like names with non-secret values (placeholders, templates, words, paths) are not findings."""
        for text in ("PASSWORD=changeme", "API_TOKEN=${API_TOKEN}", "password: <your password>",
                     "token_type=Bearer", "max_tokens=4096", "tokenizer=bert-base-uncased",
                     "SECRET_KEY=your-secret-key-here", "password=********", "API_KEY=xxxxxxxxxxxxxxxx"):
            self.assertEqual(kinds(text), [], text)

    def test_members_by_name(self) -> None:
        """Members named like secrets (camelCase too) are redacted; pagination and count members are not."""
        tally, out = scan_json({"dbPassword": "Tr0ub4dor&3", "clientSecret": "q8#Lm2!vXz9@Tp",
                                "nextPageToken": "CAESBggBEAEYAQxyz", "total_tokens": "1234",
                                "password_hint": "first pet"})
        self.assertEqual(orjson.loads(out or b""), {
            "dbPassword": "[REDACTED:generic_secret]", "clientSecret": "[REDACTED:generic_secret]",
            "nextPageToken": "CAESBggBEAEYAQxyz", "total_tokens": "1234", "password_hint": "first pet"})
        self.assertEqual(tally.counts["secrets"], 2)


class DefectTests(SynchronousTestCase):
    def test_a_secret_member_alone_is_not_skipped_by_the_fast_path(self) -> None:
        """(a) A body whose only finding is a secret-named member is caught without any other hit."""
        tally, out = scan_json({"db_password": "Tr0ub4dor&3-horse"})
        self.assertEqual(orjson.loads(out or b""), {"db_password": "[REDACTED:generic_secret]"})
        self.assertEqual(dict(tally.counts), {"secrets": 1})

    def test_c_rejected_placeholder_is_not_hidden_content(self) -> None:
        """(c) A value the parsed scan rejected as a placeholder does not turn the body into a block."""
        tally, out = scan_json({"token": "abcd1234efgh5678ijkl (example)", "note": "see docs"},
                               {"pii": "redact", "secrets": "redact", "injection": "off"})
        self.assertEqual((dict(tally.counts), tally.unredactable, out), ({}, set(), None))

    def test_c_duplicate_member_is_refused(self) -> None:
        """(c) A body with a duplicate member (a secret in the one a parser drops) is refused as
        ambiguous (issue 10: one reading), not scanned in one reading and forwarded in another."""
        content = ContentScanner(SCANNER, {"pii": "redact", "secrets": "redact", "injection": "off"}, None)
        body = b'{"note":"ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A","note":"fine"}'
        with self.assertRaises(strictjson.DuplicateMember):
            content.body(body, "json", Tally())
