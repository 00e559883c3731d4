"""Issue 14, third round: issuers, SSN labels, reserved phone ranges and secret formats that heldout2 showed missing."""

from __future__ import annotations

import orjson
from twisted.trial.unittest import SynchronousTestCase

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.guardrails import BUILTIN_RULES, DETECTORS, ContentScanner, Scanner, Tally, builtin_phrases, luhn_ok

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


def grouped(number: str, sizes: tuple[int, ...], separator: str) -> str:
    parts, at = [], 0
    for size in sizes:
        parts.append(number[at:at + size])
        at += size
    return separator.join(parts)


class CardIssuerTests(SynchronousTestCase):
    # Luhn-valid numbers made from each scheme's IIN range and lengths (digits filled with 3s)
    ISSUERS = {
        "maestro 12": ("501833333336", (4, 4, 4)),
        "maestro 19": ("6763333333333333334", (4, 4, 4, 4, 3)),
        "mir": ("2201333333333332", (4, 4, 4, 4)),
        "uatp": ("123433333333339", (4, 5, 6)),
        "verve 18": ("506120333333333330", (4, 4, 4, 4, 2)),
        "verve 16": ("6500103333333338", (4, 4, 4, 4)),
        "rupay 82": ("8271333333333334", (4, 4, 4, 4)),
        "rupay 508": ("5081333333333330", (4, 4, 4, 4)),
        "discover 19": ("6011333333333333338", (4, 4, 4, 4, 3)),
        "visa 13": ("4539333333337", (4, 3, 3, 3)),
        "jcb 19": ("3566333333333333334", (4, 4, 4, 4, 3)),
        "unionpay 17": ("62123333333333331", (4, 4, 4, 4, 1)),
    }

    def test_issuers_and_lengths_from_the_iin_tables(self) -> None:
        """Maestro (12-19), Mir, UATP, Verve, RuPay, and Discover/JCB/UnionPay/Visa at every length they issue."""
        for name, (number, sizes) in self.ISSUERS.items():
            for separator in (" ", "-", ""):
                written = grouped(number, sizes, separator)
                self.assertEqual(found(f"card: {written}."), [("card", written)], (name, written))

    def test_groups_joined_by_two_spaces_or_no_break_spaces(self) -> None:
        """Groups pasted with two spaces or a no-break space between them are one card number."""
        for number, sizes in self.ISSUERS.values():
            for separator in ("  ", "\u00a0"):
                written = grouped(number, sizes, separator)
                self.assertEqual(found(f"PAN {written} ok"), [("card", written)], written)

    def test_lengths_an_issuer_does_not_use_are_no_cards(self) -> None:
        """A Luhn-valid number with a known prefix but a length its scheme never issues is not a card."""
        for number in ("220133333330",  # Mir at 12 digits
                       "1234333333333335",  # UATP at 16
                       "82713333333333335",  # RuPay at 17
                       "506120333333339"):  # Verve at 15
            self.assertTrue(luhn_ok(number), number)
            self.assertEqual(found(f"ref {number} ok"), [], number)
        self.assertEqual(found("ref 5018 3333 3337 ok"), [])  # Luhn-invalid Maestro
