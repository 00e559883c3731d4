"""Issue 14's rule fixes from the independent corpus: phone regions, card runs, labelled SSNs, .env values, masks."""

from __future__ import annotations

import orjson
from twisted.trial.unittest import SynchronousTestCase

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.config._reader import Problems
from stoad.guardrails import (
    luhn_ok,
    parse_settings,
)
from stoad.guardrails._detectors import entropy
from stoad.runtime.layers import SectionSource
from tests.support.guardrails import ALL, EUROPE_AND_MORE, found, scan_json
from tests.test_guardrails_response import context, make_layer, run
from tests.test_guardrails_stream import plain_events, redact_all


class PhoneRegionTests(SynchronousTestCase):
    def test_national_numbers_of_listed_regions(self) -> None:
        """Without "+", a number valid in a listed region's plan and written in its national format is a phone."""
        for phone in ("0151 14852825", "07879 760901", "06 12 34 56 78", "0412 345 678", "(02) 9876 5432",
                      "(11) 91234-5678", "090-1234-5678", "(212) 736-0143"):
            self.assertEqual(found(f"call {phone} today", EUROPE_AND_MORE), [("phone", phone)], phone)

    def test_default_reads_north_american_numbers_only(self) -> None:
        """The default region list is US: national numbers of other countries are not read, as before."""
        self.assertEqual(found("call 0151 14852825 today"), [])
        self.assertEqual(found("call (212) 736-0143 today"), [("phone", "(212) 736-0143")])

    def test_separators_or_a_label(self) -> None:
        """A national number needs separators, or a phone label right before it when it has none."""
        self.assertEqual(found("ref 07879760901 ok", EUROPE_AND_MORE), [])
        self.assertEqual(found("mobile: 07879760901", EUROPE_AND_MORE), [("phone", "07879760901")])

    def test_digits_in_another_countrys_layout_are_not_phones(self) -> None:
        """
        Valid digits written in a layout the region does not use (brackets where it never brackets its
        area codes: Dutch, Italian, Japanese, German numbers in a North-American layout), without its trunk 0, or as a group
        inside a longer run of digit groups (the rest of a "+1" number, a card, an IBAN), of a UUID or
        of a timestamp, are no phones.
        """
        for text in ("(514) 091-0643", "(047) 825-1003", "(021) 203-7936", "ref 2024 0115", "on 2024-01-15 at",
                     "4708 2304 0274 0492 004", "+1 093 830 2993", "(711) 221-6339", "3563 0821 4896 4995",
                     "SE72 4986 7287 0214 3258 9363", "id 756c62bc-0228-4024-9d90-a867fde11f1d",
                     "(087) 776-7047", "(311) 360-7043", "(076) 228-7696", "(030) 901820",
                     "at 2010-12-12T21:44:02.365049 ok", "ref 711-221-6339 ok"):
            self.assertEqual([k for k, _ in found(text, EUROPE_AND_MORE)], [], text)

    def test_phone_regions_configured_and_checked(self) -> None:
        """[guardrails] phone_regions reaches the layer's scanner; an unknown region is a config error."""
        problems = Problems()
        settings = parse_settings(SectionSource({"guardrails": {"phone_regions": "de, FR"}}, problems, "."))
        self.assertEqual((settings.phone_regions, problems.items), (("DE", "FR"), []))
        layer = make_layer({"phone_regions": "DE FR"})
        self.assertEqual([f.kind for f in layer.scanner.find("Handy 0151 14852825", ALL)], ["phone"])
        self.assertEqual(make_layer().settings.phone_regions, ("US",))
        problems = Problems()
        parse_settings(SectionSource({"guardrails": {"phone_regions": "US XX UK"}}, problems, "."))
        self.assertEqual(len(problems.items), 1)
        self.assertIn("phone_regions", str(problems.items[0]))
        self.assertIn("XX, UK", str(problems.items[0]))


class CardRunTests(SynchronousTestCase):
    def test_issuer_groupings(self) -> None:
        """UnionPay 6-13 and 4-4-4-4-3, 4-6-4, 4-6-5 and any single separator are found whole."""
        for text in ("621234 5678901234569", "621234-5678901234569", "6212 3456 7890 1234 569", "3056 930902 5904",
                     "3782 822463 10005", "4512-3456-7890-1234"):
            self.assertEqual(found(f"card {text} ok"), [("card", text)], text)

    def test_valid_prefix_of_a_longer_run_is_no_card(self) -> None:
        """A Luhn-valid 16 digits followed by more digit groups of the same number are not a card."""
        self.assertTrue(luhn_ok("4512345678901234") and not luhn_ok("4512345678901234004"))
        for text in ("4512 3456 7890 1234 004", "4512345678901234 004", "4111 1111 1111 1111 12"):
            self.assertEqual(found(f"ref {text} end"), [], text)
        # an expiry date after the number is no part of it
        self.assertEqual(found("card 4111 1111 1111 1111 12/27"), [("card", "4111 1111 1111 1111")])

    def test_no_card_inside_an_iban(self) -> None:
        """Digits of an IBAN (valid or not) that hold a Luhn-valid run are not read as a card."""
        self.assertTrue(luhn_ok("4512345678901234"))
        for text in ("IL43 4512 3456 7890 1234", "XX12 4512 3456 7890 1234", "IL434512345678901234"):
            self.assertEqual([k for k, _ in found(f"iban {text} ok")], [], text)


class LabelledSsnTests(SynchronousTestCase):
    def test_label_within_the_window(self) -> None:
        """Nine digits are an SSN after its label with connecting words, punctuation or table markup between."""
        for text in ("Here is the SSN you asked for -> 472228338. Thanks", "Update: the SSN changed to 472228338;",
                     "<tr><td>SSN</td><td>472228338</td></tr>", "| SSN | 472228338 |",
                     "Your social security number on file: 472228338"):
            self.assertEqual(found(text), [("ssn", "472228338")], text)

    def test_other_words_between_or_no_label(self) -> None:
        """Other words between the label and the digits, or no label at all, leave nine digits alone."""
        for text in ("SSN field optional; order 472228338", "order 472228338 shipped",
                     "SSN\n472228338", "the SSN was verified by agent 472228338"):
            self.assertEqual(found(text), [], text)

    def test_member_named_like_an_ssn_alone_in_a_body(self) -> None:
        """Nine digits under a member named taxpayer_ssn are redacted even when nothing else in the body matches."""
        tally, out = scan_json({"params": {"arguments": {"taxpayer_ssn": "472228338", "note": ""}}})
        self.assertEqual(orjson.loads(out or b"")["params"]["arguments"]["taxpayer_ssn"], "[REDACTED:ssn]")
        self.assertEqual(tally.counts["pii"], 1)


class EnvValueTests(SynchronousTestCase):
    def test_hex_values_judged_by_their_alphabet(self) -> None:
        """Random hex values of 18-22 characters, under 3.3 bits of entropy, are secrets under a secret name."""
        for value in ("4c123b1612dd272d1371", "cccc3fc1626e53a13043", "fb008f86bebb2737f6a6f0"):
            self.assertLess(entropy(value), 3.3)
            self.assertEqual(found(f"CF_API_TOKEN={value}"), [("generic_secret", value)], value)
            self.assertEqual(found(f"db_password='{value}'"), [("generic_secret", value)], value)
        self.assertEqual(found("API_TOKEN=aaaa1111bbbb2222cc"), [])  # low variety stays out

    def test_two_stars_in_a_password_are_no_mask(self) -> None:
        """A value with ** among other characters is a password; runs of three stars or mostly stars are masks."""
        value = "7sc!-X##rB6DJ4k**d5O%*9f%!RN"
        self.assertEqual(found(f"PYPI_PASSWORD='{value}'"), [("generic_secret", value)])
        for text in ("PYPI_PASSWORD=ab***cdXk9", "DB_PASSWORD=****", "api_key: sk**", "password=Zq7*****"):
            self.assertEqual(found(text), [], text)

    def test_variable_references_are_placeholders(self) -> None:
        """$NAME, ${NAME} and %NAME% under a secret name refer to a secret elsewhere: not secrets."""
        for value in ("$SLACK_BOT_TOKEN", "${OPENAI_API_KEY}", "%GITHUB_TOKEN%"):
            tally, out = scan_json({"token": value, "api_key": value})
            self.assertEqual((dict(tally.counts), out), ({}, None), value)
            self.assertEqual(found(f"API_TOKEN={value}"), [], value)
        self.assertEqual(found("API_TOKEN=$k9Zq2Lx!7wPv"), [("generic_secret", "$k9Zq2Lx!7wPv")])


class UrlPasswordStreamTests(SynchronousTestCase):
    def test_password_cut_before_the_host_is_found(self) -> None:
        """A URL cut over two events right before or right after its "@": the password is redacted once."""
        password = "LYUzjUNqcQn8P"
        text = f"uri = https://svc:{password}@cache-1.example.com/artifacts ok"
        at = text.index("@")
        for cut in (at, at + 1):
            ctx = context()
            out = run(redact_all(), ctx, "text/event-stream", plain_events(text, [cut]))
            self.assertNotIn(password[:6].encode(), out, cut)
            self.assertIn(b"[REDACTED:url_password]", out)
            self.assertEqual([t.detector for t in ctx.guardrail_triggers], ["secrets"], cut)

    def test_password_after_the_cut_is_no_email(self) -> None:
        """"scheme://user:" in one event and "pass@host" in the next: one secret, no e-mail address."""
        ctx = context()
        out = run(redact_all(), ctx, "text/event-stream",
                  plain_events("db mongodb+srv://etl:sS0Q6A4xka5HA@cluster0.ab12c.mongodb.net/x ok", [22]))
        self.assertNotIn(b"sS0Q6A", out)
        self.assertEqual([t.detector for t in ctx.guardrail_triggers], ["secrets"])

    def test_password_cut_before_the_host_over_data_lines(self) -> None:
        """One event, the URL cut at "@" over two data: lines: the password is redacted."""
        block = b"data: postgres://etl:urHkjfZMnevwF8VpxDNUGs@\ndata: cluster0.ab12c.mongodb.net:5432/orders\n\n"
        out = run(make_layer({"stream_window": "0"}), context(), "text/event-stream", [block])
        self.assertNotIn(b"urHkjfZM", out)
        self.assertIn(b"[REDACTED:url_password]", out)
