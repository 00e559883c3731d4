"""The heldout3 split of the independent corpus generates the same samples every time, with truthful labels.

These tests check the corpus against the format descriptions it was written from (ISO/IEC 7812 Luhn and IIN
tables, SSA rules, ISO 13616 / MOD 97-10, the regulators' fictional ranges, RFC 7519, RFC 3986), and that every
sample's carrier holds its value where a client would read it. They never run stoad's detectors.
"""

from __future__ import annotations

import base64
import collections
import json
import os
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twisted.trial.unittest import SynchronousTestCase

from tests.support.modules import load_by_path

HELDOUT3_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "guardrails", "independent",
                             "heldout3.py")
heldout3 = load_by_path("stoad_guardrails_independent_heldout3", HELDOUT3_PATH)
SAMPLES = heldout3.generate()


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def mod97(iban: str) -> int:
    s = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97


def only_digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def of(kind: str, positive: bool, family: str | None = None) -> list[Any]:
    found = [s for s in SAMPLES if s.kind == kind and s.positive is positive and (family is None or s.family == family)]
    assert found, (kind, positive, family)
    return found


def strings(doc: Any) -> list[str]:
    """Every string in a JSON document, and in JSON documents held inside its strings (HAR bodies, tool arguments);
    a list of strings also counts joined, as a notebook cell's source lines make one text."""
    out: list[str] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append(k)
            out.extend(strings(v))
    elif isinstance(doc, list):
        for v in doc:
            out.extend(strings(v))
        if doc and all(isinstance(v, str) for v in doc):
            out.append("".join(doc))
    elif isinstance(doc, str):
        out.append(doc)
        if doc.startswith("{"):
            try:
                out.extend(strings(json.loads(doc)))
            except ValueError:
                pass
    return out


def sse_events(body: bytes) -> list[str]:
    """The data of each event, parsed as the WHATWG EventSource algorithm does (CRLF, LF or CR end a line)."""
    events, data = [], []
    for line in re.split(r"\r\n|\n|\r", body.decode("utf-8")):
        if line == "":
            if data:
                events.append("\n".join(data))
            data = []
            continue
        field, _, rest = line.partition(":")
        if field == "data":
            data.append(rest[1:] if rest.startswith(" ") else rest)
    return events


def event_text(data: str) -> str:
    """The text one event adds to what the client shows, for the framings heldout3 uses."""
    if data == "[DONE]":
        return ""
    try:
        doc = json.loads(data) if data.startswith("{") else None
    except ValueError:
        doc = None  # plain text that starts with a brace (a JSON Lines body streamed as text)
    if isinstance(doc, dict):
        if "candidates" in doc:
            return "".join(p["text"] for p in doc["candidates"][0]["content"]["parts"])
        if doc.get("type") == "content-delta":
            return str(doc["delta"]["message"]["content"]["text"])
        if doc.get("type") == "message-end":
            return ""
        if doc.get("object") == "chat.completion.chunk":
            return str(doc["choices"][0]["delta"]["content"])
    return data


def squeeze(text: str) -> str:
    return text.replace("\r", "").replace("\n", "")


class GenerationTests(SynchronousTestCase):
    """The split is deterministic and has the documented size and shape."""

    def test_same_samples_every_time(self) -> None:
        """Two generations give equal samples, body bytes included (the split has its own seed)."""
        self.assertEqual(heldout3.generate(), SAMPLES)

    def test_counts_per_kind_and_carrier(self) -> None:
        """18 samples per positive format and carrier, 16 per near-miss kind, 36 benign: 2,500, 1,440 of them positive."""
        counts = collections.Counter((s.kind, s.positive, s.carrier) for s in SAMPLES)
        for (kind, positive, carrier), n in counts.items():
            expected = 36 if kind == "benign" else 18 if positive else 16
            self.assertEqual(n, expected, (kind, positive, carrier))
        self.assertEqual(len({k for k, p, _ in counts if p}), 16)
        self.assertEqual(len({c for _, _, c in counts}), 5)
        self.assertEqual(len(SAMPLES), 2500)
        self.assertEqual(sum(s.positive for s in SAMPLES), 1440)
        self.assertEqual(len({s.id for s in SAMPLES}), 2500)
        self.assertEqual({s.split for s in SAMPLES}, {"heldout3"})

    def test_every_family_appears(self) -> None:
        """Each family of each kind is generated, and in about equal shares (families rotate)."""
        for kind in heldout3.KINDS:
            shares = collections.Counter(s.family for s in SAMPLES if s.kind == kind.name and s.positive is kind.positive)
            self.assertEqual(set(shares), set(kind.families), kind.name)
            self.assertLessEqual(max(shares.values()) - min(shares.values()), 2, kind.name)


class CardLabelTests(SynchronousTestCase):
    """Cards follow ISO/IEC 7812: issuer prefix, length, Luhn; near misses fail exactly one of those."""

    def test_positives_are_luhn_valid_under_their_issuer(self) -> None:
        """Every positive passes Luhn and has a prefix and length of its issuer's published table."""
        for s in of("card", True):
            number = only_digits(s.value)
            prefixes, lengths, _ = heldout3.CARD_ISSUERS[s.family]
            self.assertTrue(luhn_ok(number), s.value)
            self.assertIn(len(number), lengths, s.value)
            self.assertTrue(any(number.startswith(p) for p in prefixes), s.value)

    def test_luhn_invalid_negatives_fail_luhn(self) -> None:
        """A Luhn-invalid near miss fails the check digit."""
        for s in of("card", False, "luhn_invalid"):
            self.assertFalse(luhn_ok(only_digits(s.value)), s.value)

    def test_imeis_are_not_of_any_card_length(self) -> None:
        """IMEIs pass Luhn but are 15 digits under a reporting body, not Amex (34/37) or UATP (1)."""
        for s in of("card", False, "imei"):
            number = only_digits(s.value)
            self.assertEqual(len(number), 15)
            self.assertTrue(luhn_ok(number))
            self.assertIn(number[:2], {"35", "86", "01"})

    def test_no_issuer_length_negatives_have_no_issuer(self) -> None:
        """Mastercard prefixes at 15 or 17 digits and Amex prefixes at 16: Luhn-valid, but no scheme issues them."""
        for s in of("card", False, "no_issuer_length"):
            number = only_digits(s.value)
            self.assertTrue(luhn_ok(number))
            self.assertTrue((number[:2] in {"51", "52", "53", "55"} and len(number) in (15, 17))
                            or (number[:2] in {"34", "37"} and len(number) == 16), s.value)

    def test_masked_receipts_hide_the_middle(self) -> None:
        """A masked number shows at most ten digits (PCI DSS: first six, last four)."""
        for s in of("card", False, "masked_receipt"):
            self.assertLessEqual(len(only_digits(s.value)), 10, s.value)


class SsnLabelTests(SynchronousTestCase):
    """SSNs follow the SSA rules; near misses break one, or are not SSNs at all."""

    def test_positives_keep_the_ssa_rules(self) -> None:
        """No positive has area 000, 666 or 9xx, group 00 or serial 0000, and each has nine digits."""
        for s in of("ssn", True):
            number = only_digits(s.value)
            self.assertEqual(len(number), 9, s.value)
            self.assertNotIn(number[:3], {"000", "666"})
            self.assertNotEqual(number[0], "9")
            self.assertNotEqual(number[3:5], "00")
            self.assertNotEqual(number[5:], "0000")

    def test_near_misses_break_a_rule(self) -> None:
        """Each near miss breaks the rule its family names, or is an advertising number, a mask or an EIN."""
        for s in of("ssn", False):
            number = only_digits(s.value)
            if s.family == "advertising":
                self.assertRegex(s.value, r"^987-65-432\d$")
            elif s.family == "area_invalid":
                self.assertTrue(number[:3] in {"000", "666"} or number[0] == "9", s.value)
            elif s.family == "group00":
                self.assertEqual(number[3:5], "00")
            elif s.family == "serial0000":
                self.assertEqual(number[5:], "0000")
            elif s.family == "masked":
                self.assertEqual(len(number), 4)
            else:
                self.assertRegex(s.value, r"^\d{2}-\d{7}$")

    def test_ssns_always_sit_next_to_their_label(self) -> None:
        """Nine digits mean nothing alone: SSN samples use only labelled contexts or keyed JSON shapes."""
        labelled = {name for name, _r, _k, lab, _m, _f in heldout3.TEXT_CONTEXTS if lab}
        for s in SAMPLES:
            if s.kind == "ssn":
                shape, _, context = s.template.partition(":")
                self.assertTrue(context in labelled or (context == "-" and shape in heldout3.KEYED_SHAPES), s.id)


class IbanLabelTests(SynchronousTestCase):
    """IBANs follow ISO 13616: registry length and MOD 97-10."""

    def test_positives_check_and_have_registry_length(self) -> None:
        """Every positive is 1 modulo 97 and as long as the registry says for its country."""
        for s in of("iban", True):
            iban = s.value.replace(" ", "")
            self.assertEqual(mod97(iban), 1, s.value)
            expected = 4 + sum(n for n, _ in heldout3.IBAN_FORMATS[iban[:2]])
            self.assertEqual(len(iban), expected, s.value)

    def test_near_misses_fail(self) -> None:
        """Wrong check digits fail MOD 97-10; 00/01/99 never come out of it; wrong lengths and non-IBAN countries do not fit the registry."""
        for s in of("iban", False):
            iban = s.value.replace(" ", "")
            if s.family == "bad_check":
                self.assertNotEqual(mod97(iban), 1, s.value)
            elif s.family == "impossible_check":
                self.assertIn(iban[2:4], {"00", "01", "99"})
            elif s.family == "wrong_length":
                self.assertEqual(mod97(iban), 1)
                self.assertNotEqual(len(iban), 4 + sum(n for n, _ in heldout3.IBAN_FORMATS[iban[:2]]))
            else:
                self.assertEqual(mod97(iban), 1)
                self.assertNotIn(iban[:2], heldout3.IBAN_FORMATS)


FICTIONAL = re.compile(r"555-01\d\d|555\.01|7700 ?900|01632 ?960|496 0\d{3}|9649 6|2018 0\d{3}|498 0\d{3}|08081 ?570|"
                       r"0909 ?8790|03069 ?990|0491 57\d|\) 5550 |\(03\) 7010")


class PhoneLabelTests(SynchronousTestCase):
    """Phones: positives avoid the regulators' fictional ranges; the fictional near misses are in them."""

    def test_positives_avoid_fictional_ranges(self) -> None:
        """No positive is in a range Ofcom, ACMA or NANPA keeps for drama."""
        for s in of("phone", True):
            self.assertIsNone(FICTIONAL.search(s.value), s.value)

    def test_fictional_negatives_are_in_them(self) -> None:
        """Every fictional near miss is in one of those ranges."""
        for s in of("phone", False, "fictional"):
            self.assertIsNotNone(FICTIONAL.search(s.value), s.value)

    def test_nanp_positives_have_possible_codes(self) -> None:
        """North-American positives have area and exchange codes starting 2-9 and no N11 area."""
        for s in of("phone", True):
            if s.family not in ("us", "ca"):
                continue
            number = only_digits(s.value)
            number = number[1:] if number.startswith("1") and len(number) > 10 else number
            area, exchange = number[:3], number[3:6]
            self.assertNotIn(area[0], "01", s.value)
            self.assertNotIn(exchange[0], "01", s.value)
            self.assertNotEqual(area[1:], "11", s.value)


class SecretLabelTests(SynchronousTestCase):
    """Secrets have the vendor shapes; their near misses are identifiers, placeholders or public material."""

    def test_aws_key_ids(self) -> None:
        """Key IDs are AKIA/ASIA and 16 base-32 characters; near-miss unique IDs are 21 characters under other prefixes."""
        for s in of("aws_access_key_id", True):
            self.assertRegex(s.value, r"^(AKIA|ASIA)[A-Z2-7]{16}$")
        for s in of("aws_access_key_id", False, "unique_id"):
            self.assertRegex(s.value, r"^(AIDA|AROA|AGPA|ANPA|AIPA|ASCA|APKA)[A-Z2-7]{17}$")

    def test_vendor_prefixes(self) -> None:
        """GitHub, Slack, Stripe, Google and OpenAI positives carry their documented prefixes."""
        patterns = {"github_token": r"^(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})$",
                    "slack_token": r"^(xox[bp]-|xapp-1-|xoxe-1-|xoxe\.xox[bp]-1-)",
                    "stripe_key": r"^(sk_live_|rk_live_|whsec_)", "google_credential": r"^(AIza.{35}$|ya29\.|GOCSPX-)",
                    "openai_key": r"^sk-(proj-|svcacct-|admin-)?[A-Za-z0-9_-]*T3BlbkFJ[A-Za-z0-9_-]+$"}
        for kind, pattern in patterns.items():
            for s in of(kind, True):
                self.assertRegex(s.value, pattern)

    def test_jwts_decode_to_a_header_with_alg(self) -> None:
        """Positive JWTs (JWS and JWE) decode to a JSON header with a signing or key-management alg; none is 'none'."""
        for s in of("jwt", True):
            parts = s.value.split(".")
            self.assertIn(len(parts), (3, 5))
            header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
            self.assertNotEqual(header["alg"], "none")
            self.assertTrue(all(parts), s.value)
        for s in of("jwt", False, "unsecured"):
            head, claims, signature = s.value.split(".")
            self.assertEqual(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["alg"], "none")
            self.assertEqual(signature, "")

    def test_url_passwords_are_the_password_of_the_url(self) -> None:
        """The secret is the RFC 3986 userinfo password (or a JDBC password parameter) of its URL."""
        for s in of("url_password", True):
            parts = urlsplit(s.value.removeprefix("jdbc:"))
            password = parts.password or parse_qs(parts.query)["password"][0]
            self.assertEqual(password, s.secret)
        for s in of("url_password", False):
            # read by hand: a redacted "[REDACTED]" password is how logs print it, but urlsplit takes it for an IPv6 host
            userinfo = re.match(r"^[a-z0-9+.-]+://([^/@]*)@", s.value)
            password = userinfo.group(1).partition(":")[2] if userinfo else None
            self.assertTrue(not password or "$" in password or "{" in password or "%(" in password or set(password) <= set("*x")
                            or password.startswith(("<", "[")), s.value)

    def test_private_keys_hold_their_secret_line(self) -> None:
        """A private key's secret is a whole line of its key material; no near miss is a private key block with a body."""
        for s in of("private_key", True):
            self.assertIn(s.secret, s.value.splitlines() + [line.strip() for line in s.value.splitlines()])
            self.assertGreaterEqual(len(s.secret), 40)
        for s in of("private_key", False):
            if "PRIVATE KEY-----" in s.value and s.family != "mention":
                body = s.value.split("-----")[2].strip()
                self.assertLess(len(body), 40, s.value)

    def test_env_secrets_hold_their_value(self) -> None:
        """The secret of an environment line is its value, and it is at least 18 characters long."""
        for s in of("env_secret", True):
            self.assertIn(s.secret, s.value)
            self.assertGreaterEqual(len(s.secret), 18)

    def test_benign_digit_strings_are_not_cards(self) -> None:
        """Benign values written without letters never hold a Luhn-valid number of card length."""
        for s in of("benign", False):
            plain = only_digits(s.value)
            if not any(c.isalpha() for c in s.value) and 12 <= len(plain) <= 19:
                self.assertFalse(luhn_ok(plain), s.value)


class CarrierTests(SynchronousTestCase):
    """Every sample's body holds its value where a client reads it; streams split it at the documented cuts."""

    def test_text_bodies_hold_the_value(self) -> None:
        """A text body contains the value as written."""
        for s in SAMPLES:
            if s.carrier == "text":
                self.assertIn(s.value, s.chunks[0].decode("utf-8"), s.id)

    def test_json_bodies_hold_the_value(self) -> None:
        """A JSON body parses, and one of its strings (or of a JSON document inside one) contains the value."""
        for s in SAMPLES:
            if s.carrier.startswith("json"):
                found = strings(json.loads(s.chunks[0]))
                self.assertTrue(any(s.value in text for text in found), s.id)

    def test_streams_rebuild_the_value(self) -> None:
        """What a client rebuilds from a stream holds the value (a data: line break aside) and its secret."""
        for s in SAMPLES:
            if s.carrier.startswith("sse"):
                shown = "".join(event_text(d) for d in sse_events(b"".join(s.chunks)))
                self.assertIn(squeeze(s.value), squeeze(shown), s.id)
                self.assertIn(squeeze(s.secret), squeeze(shown), s.id)

    def test_sse_events_split_the_value_between_events(self) -> None:
        """No single event of an sse_events sample carries the whole value, and the cut is at 1/3, 3/5 or 7/8."""
        for s in SAMPLES:
            if s.carrier != "sse_events":
                continue
            self.assertFalse(any(squeeze(s.value) in squeeze(event_text(d)) for d in sse_events(b"".join(s.chunks))), s.id)
            cut = int(s.id.rpartition("/cut")[2])
            n = len(s.value)
            self.assertIn(cut, {max(1, min(n - 1, n * a // b)) for a, b in heldout3.CUT_FRACTIONS}, s.id)

    def test_sse_lines_split_the_value_over_two_lines_of_one_event(self) -> None:
        """An sse_lines sample carries the value in one event, broken over two data: lines."""
        for s in SAMPLES:
            if s.carrier != "sse_lines":
                continue
            events = sse_events(s.chunks[0])
            self.assertEqual(len(events), 1, s.id)
            self.assertIn(squeeze(s.value), squeeze(events[0]), s.id)
            self.assertNotIn(s.value.replace("\r\n", "\n"), events[0], s.id)


class ScorerFramingTests(SynchronousTestCase):
    """The scorer rebuilds the text of the two stream framings only heldout3 uses (hand-written streams, no detector)."""

    def test_gemini_and_cohere_deltas_are_read(self) -> None:
        """Gemini candidates chunks and Cohere content-delta events give their text; Cohere's message-end gives none."""
        from tests.independent_scoring import stream_text

        gemini = (b'data: {"candidates": [{"content": {"parts": [{"text": "card 4539 "}], "role": "model"}}]}\r\n\r\n'
                  b'data: {"candidates": [{"content": {"parts": [{"text": "0151"}], "role": "model"}, '
                  b'"finishReason": "STOP"}]}\r\n\r\n')
        cohere = (b'event: content-delta\ndata: {"type": "content-delta", "index": 0, '
                  b'"delta": {"message": {"content": {"text": "ghp_ab"}}}}\n\n'
                  b'event: message-end\ndata: {"type": "message-end", "delta": {"finish_reason": "COMPLETE"}}\n\n')
        self.assertEqual(stream_text(gemini), "card 4539 0151")
        self.assertEqual(stream_text(cohere), "ghp_ab")
