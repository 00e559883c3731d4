"""Issue 14, third round: issuers, SSN labels, reserved phone ranges and secret formats that heldout2 showed missing."""

from __future__ import annotations

import orjson
from twisted.trial.unittest import SynchronousTestCase

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.guardrails import BUILTIN_RULES, DETECTORS, ContentScanner, Scanner, Tally, builtin_phrases

ALL = frozenset(DETECTORS)
DEFAULT = Scanner(BUILTIN_RULES, builtin_phrases(), model=None)


def found(text: str, scanner: Scanner = DEFAULT) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start:f.end]) for f in scanner.find(text, ALL)]


def scan_json(document: object, scanner: Scanner = DEFAULT) -> tuple[Tally, bytes | None]:
    content = ContentScanner(scanner, {"pii": "redact", "secrets": "redact"}, None)
    tally = Tally()
    return tally, content.body(orjson.dumps(document), "json", tally)


class SecretFormatTests(SynchronousTestCase):
    def test_stripe_webhook_signing_secret(self) -> None:
        """A Stripe webhook signing secret (whsec_ and base64) is a secret wherever it stands."""
        secret = "whsec_Q2h8fT0rW5pLx7ZkM1vNa9cYb4EeRgHd"
        self.assertEqual(found(f"- {secret}"), [("stripe_webhook_secret", secret)])
        self.assertEqual(found("whsec_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), [])

    def test_google_oauth_client_secret(self) -> None:
        """A Google OAuth client secret (GOCSPX- and 28 URL-safe characters) is a secret."""
        secret = "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"
        self.assertEqual(found(f"client '{secret}' failed"), [("google_oauth_client_secret", secret)])

    def test_url_password_with_an_empty_user(self) -> None:
        """redis://:password@host (RFC 3986 allows an empty user) has its password found, not an e-mail address."""
        text = "REDIS_URL=redis://:Vq7t%21Lm2Rz9Kp@cache.internal:6379/0"
        self.assertEqual(found(text), [("url_password", "Vq7t%21Lm2Rz9Kp")])

    def test_environment_secrets_outside_dotenv(self) -> None:
        """Shell, compose, PowerShell, systemd and cmd.exe assignments of DB_PASS-style and admin-key names."""
        value = "r7Tq2Lx9Vm4Kp8Zw"
        for line in (f'export POSTGRES_PASS="{value}"', f"  - MYSQL_ROOT_PASS={value}",
                     f"$env:SEARCH_ADMIN_KEY = '{value}'", f'Environment="SEARCH_ADMIN_API_KEY={value}"',
                     f"set APP_DB_PASS={value}"):
            self.assertEqual([v for _, v in found(line)], [value], line)
        for line in ("BYPASS=enabled-always", "compass: north-north-west"):
            self.assertEqual(found(line), [], line)

    def test_escaped_quotes_are_not_part_of_the_value(self) -> None:
        """export NAME=\\"value\\" inside a JSON string inside JSON: the value is found, its escaped quote kept."""
        inner = orjson.dumps({"line": 'export HF_TOKEN="c0a8f2e91b7d4e3fa6b5c2d18e9f7a4b"'}).decode()
        tally, out = scan_json({"arguments": inner})
        self.assertEqual(tally.counts["secrets"], 1)
        assert out is not None
        self.assertEqual(orjson.loads(orjson.loads(out)["arguments"]), {"line": "export HF_TOKEN=\"[REDACTED:generic_secret]\""})

    def test_code_that_reads_the_environment_is_no_secret(self) -> None:
        """process.env.X, os.environ['X'], os.getenv("X"), ENV['X'] and #{X} under a key name are references."""
        for ref in ("process.env.OPENAI_API_KEY", "os.environ['DB_PASSWORD']", 'os.getenv("API_TOKEN")',
                    "ENV['STRIPE_SECRET_KEY']", "#{SLACK_SIGNING_SECRET}"):
            self.assertEqual(found(f"apiKey: {ref}"), [], ref)
            self.assertEqual(scan_json({"apiKey": ref})[0].counts["secrets"], 0, ref)
