"""Issue 14, third round: issuers, SSN labels, reserved phone ranges and secret formats that heldout2 showed missing."""

from __future__ import annotations

import orjson
from twisted.trial.unittest import SynchronousTestCase

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.guardrails import luhn_ok
from tests.support.guardrails import EUROPE_AND_MORE, found, scan_json
from tests.test_guardrails_response import context, run
from tests.test_guardrails_stream import plain_events, redact_all


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

    def test_your_inside_a_random_value_is_chance(self) -> None:
        """A random value that happens to hold "your" inside a run of letters is a secret; "your-…" is a placeholder."""
        self.assertEqual(found('Environment="VAULT_TOKEN=Hq7mYoURk2Pz9wLx4Tb"'),
                         [("generic_secret", "Hq7mYoURk2Pz9wLx4Tb")])
        for placeholder in ("your-vault-token-here", "YOUR_VAULT_TOKEN_1", "sk-yourtoken12345"):
            self.assertEqual(found(f"VAULT_TOKEN={placeholder}"), [], placeholder)

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


class SsnLabelTests(SynchronousTestCase):
    def test_label_as_the_values_name(self) -> None:
        """Dotted, " - " and plain SSNs under a key, member, element or column name that holds "ssn"."""
        for text, value in (("insured_ssn=472.22.8338", "472.22.8338"),
                            ('ss_number: "472 - 22 - 8338"', "472 - 22 - 8338"),
                            ("<employee_ssn>472228338</employee_ssn>", "472228338"),
                            ('{"ssn_full": "472228338"}', "472228338"),
                            ("employee.ssn = '472.22.8338'", "472.22.8338"),
                            ("ts=2025 level=info insuredSsn=472228338 ok", "472228338")):
            self.assertEqual(found(text), [("ssn", value)], text)

    def test_label_in_words_before_it_on_the_line(self) -> None:
        """A label a few words before the value on its line, in any language, is near."""
        for text in ("Hallo, meine SSN (US) lautet 472.22.8338. Danke", "ValueError: SSN (US) '472228338' failed",
                     "voici mon SS# : 472.22.8338.", "meine Social Security # lautet 472 - 22 - 8338",
                     "| soc. sec. no. | 472228338 |"):
            self.assertEqual([k for k, _ in found(text)], ["ssn"], text)

    def test_label_as_the_columns_header(self) -> None:
        """In CSV, TSV and Markdown tables the header of the value's column is its label; in SQL, its column."""
        for text in ("id,name,taxpayer_ssn,created\n7,Ana Silva,472228338,2025-10-01",
                     "id\tname\tSSN\n7\tAna Silva\t472.22.8338",
                     "| # | owner | SSN (US) | updated |\n|--:|---|---|---|\n| 4 | Ana Silva | `472 - 22 - 8338` | today |",
                     "INSERT INTO people (name, ssn) VALUES ('Silva, Ana', '472228338');"):
            self.assertEqual([k for k, _ in found(text)], ["ssn"], text)

    def test_every_row_of_a_long_table(self) -> None:
        """Every row of a CSV or Markdown table is under its header, however far down (the header walk is remembered)."""
        rows = [f"{i},Ana Silva,{472228338 + i}" for i in range(300)]
        text = "id,name,ssn\n" + "\n".join(rows)
        self.assertEqual(len(found(text)), 300)
        table = "| name | SS# |\n|---|---|\n" + "\n".join(f"| Ana | {472228338 + i} |" for i in range(300))
        self.assertEqual(len(found(table)), 300)

    def test_a_label_that_is_not_the_values(self) -> None:
        """Another column's header, another clause or line, or more words between: not an SSN."""
        for text in ("id,order_no,ssn\n7,472228338,", "| ssn | order |\n|---|---|\n| | 472228338 |",
                     "INSERT INTO t (ssn, order_no) VALUES (NULL, '472228338');",
                     "SSN optional; order 472228338", "SSN not given. Order 472.22.8338 shipped",
                     "the SSN was verified by agent 472228338", "SSN\n472228338", "version 472.22.8338",
                     "SSN: 666.22.8338"):
            self.assertEqual(found(text), [], text)

    def test_json_names_pairs_and_patches(self) -> None:
        """An SSN in any layout under a member named like one, in a [name, value] row, or in a JSON Patch value."""
        tally, out = scan_json({"input": {"ssn_full": "472.22.8338", "insured_ssn": "472 - 22 - 8338"},
                                "rows": [["field", "value"], ["SSN", "472228338"]],
                                "patch": [{"op": "add", "path": "/person/ssn", "value": "472228338"}]})
        self.assertEqual(tally.counts["pii"], 4)
        self.assertNotIn(b"8338", out or b"")

    def test_dotted_ssn_split_over_events_after_its_label(self) -> None:
        """A dotted SSN whose label is in an earlier event and whose digits span two events is redacted whole."""
        text = "Bonjour, voici mon SS# : 472.22.8338. Cordialement"
        start = text.index("472")
        for cut in (start + 2, start + 5, start + 8):
            ctx = context()
            out = run(redact_all(), ctx, "text/event-stream", plain_events(text, [start - 3, cut]))
            self.assertNotIn(b"8338", out, cut)
            self.assertEqual([t.detector for t in ctx.guardrail_triggers], ["pii"], cut)


class AwsSecretLabelTests(SynchronousTestCase):
    SECRET = "k2Vq8Rt+Yw1Zp4Lm/Xn7Bc0Hd5Fg3Js9Qe6Ua2Ti"

    def test_label_near_the_secret(self) -> None:
        """A 40-character AWS secret under a column header, a name or prose that names it is found."""
        for text in (f"id,name,awsSecretAccessKey\n1,etl,{self.SECRET}",
                     f"| # | AWS secret | updated |\n|---|---|---|\n| 1 | `{self.SECRET}` | today |",
                     f"ValueError: secret half of the AWS key pair '{self.SECRET}' failed"):
            self.assertEqual(found(text), [("aws_secret_access_key", self.SECRET)], text)
        self.assertEqual(found(f"id,name,etag\n1,etl,{self.SECRET}"), [])

    def test_json_pairs_and_patches(self) -> None:
        """["AWS_SECRET_ACCESS_KEY", secret] and a JSON Patch to .../secret_access_key are secrets."""
        for document in ({"rows": [["AWS_SECRET_ACCESS_KEY", self.SECRET]]},
                         [{"op": "replace", "path": "/profile/secret_access_key", "value": self.SECRET}]):
            tally, out = scan_json(document)
            self.assertEqual(tally.counts["secrets"], 1, document)
            self.assertNotIn(self.SECRET[:10].encode(), out or b"")

    def test_filter_masks_are_no_secrets(self) -> None:
        """What a log filter writes for a value ("[FILTERED]") under a secret's name is no secret."""
        self.assertEqual(scan_json({"rows": [["api_key", "[FILTERED]"]], "password": "[REDACTED]"})[0].counts, {})


class PhoneFormatTests(SynchronousTestCase):
    def test_ranges_reserved_for_fiction_are_no_phones(self) -> None:
        """NANPA's 555-0100..0199, Ofcom's drama numbers and ACMA's fictitious numbers, in any writing, are not PII."""
        for text in ("(470) 555-0140", "403.555.0188", "+1 212 555 0199", "020 7946 0135", "+44 20 7946 0268",
                     "0113 496 0791", "0161 496 0362", "07700 900582", "+44 7700 900123", "(02) 5550 1080",
                     "(08) 7010 4567", "+61 3 5550 1234"):
            self.assertEqual(found(f"call {text} now", EUROPE_AND_MORE), [], text)
            self.assertEqual(found(f"phone: {text}", EUROPE_AND_MORE), [], text)
        # the neighbours of those ranges are real numbers
        for text in ("(470) 555-0240", "020 7947 0135", "07700 901582", "(02) 5551 1080"):
            self.assertEqual([k for k, _ in found(f"call {text} now", EUROPE_AND_MORE)], ["phone"], text)

    def test_international_prefix_00(self) -> None:
        """0034 ..., 0049 ...: the international prefix most of the world dials, read as "+"."""
        for text in ("0034 938 50 22 55", "0034 938502255", "0049 30 901820"):
            self.assertEqual([k for k, _ in found(f"ruf an: {text}.", EUROPE_AND_MORE)], ["phone"], text)
        self.assertEqual(found("ref 0099 1234 5678", EUROPE_AND_MORE), [])

    def test_groupings_people_write_next_to_a_phone_label(self) -> None:
        """With a phone label near: area code and subscriber in one group, a slash, no trunk prefix where the plan has none."""
        for text in ("msisdn=081 5842070", "Telefon: 0160/9846106", "mobile_phone = \"(089) 2786181\"",
                     "telephone: 333 4651718", "cellulare: 969 85 96 27", "contact.phone: 41 95814-5172",
                     "WhatsApp '0034 938502255'", "tel: 06958404436", "id,name,contact.phone\n7,Ana,020-2952098"):
            self.assertEqual([k for k, _ in found(text, EUROPE_AND_MORE)], ["phone"], text)

    def test_a_label_does_not_make_any_digits_a_phone(self) -> None:
        """Under a phone label, impossible numbers and North-American layouts of other plans' digits stay out."""
        for text in ("Tel. '911.837.6658'", "phone: (303) 167-9148", "phone: (076) 228-7696", "tel: 2025-10-01",
                     "telemetry 0151 1485"):
            self.assertEqual(found(text, EUROPE_AND_MORE), [], text)

    def test_members_named_like_a_phone(self) -> None:
        """A phone number in any grouping under msisdn, phoneNumber, a [name, value] row or a JSON Patch path."""
        tally, out = scan_json({"msisdn": "969 85 96 27", "owner": {"phoneNumber": "0160/9846106"},
                                "rows": [["telephone", "333 4651718"]],
                                "patch": [{"op": "replace", "path": "/profile/contact.phone", "value": "020-2952098"}],
                                "order": "333 4651718"}, scanner=EUROPE_AND_MORE)
        self.assertEqual(tally.counts["pii"], 4)
        self.assertEqual(orjson.loads(out or b"")["order"], "333 4651718")

    def test_list_bullet_before_a_number(self) -> None:
        """A number after a list bullet is read as one ("- 02.33.52.18.20")."""
        self.assertEqual(found("Attachments:\n- 02.33.52.18.20\n- invoice.pdf", EUROPE_AND_MORE),
                         [("phone", "02.33.52.18.20")])


class InternationalEmailTests(SynchronousTestCase):
    def test_utf8_addresses(self) -> None:
        """RFC 6531 addresses (UTF-8 local parts, IDN domains) are e-mail addresses."""
        for address in ("田中.健二@例え.jp", "ines@münchen-post.de", "josé.garcía@correo.es"):
            self.assertEqual(found(f"| {address} |"), [("email", address)], address)
        self.assertEqual(found("ünïcode@ohne-tld"), [])
