"""The detectors: PII, secret and prompt-injection rules compiled once into google-re2 sets.

re2 finds candidate spans in linear time; Python validators (Luhn, mod-97, SSN rules, entropy,
placeholders, allow-lists) then run on the matched spans only.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from typing import Callable, Iterable, Sequence

import orjson
import phonenumbers
import re2

from stoad.guardrails._learned import InjectionModel, builtin_model, gate_entry, tokens
from stoad.guardrails._near import Tables, label_near

PII = "pii"
SECRETS = "secrets"
INJECTION = "injection"
DETECTORS = (PII, SECRETS, INJECTION)
LEARNED = "learned"  # the injection family the learned detector reports

# A validator gets the matched text and returns the (start, end) spans inside it that really are
# findings (an empty list rejects the match).
Validator = Callable[[str], list[tuple[int, int]]]

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.max_mem = 64 << 20

# A single space in a phrase stands for a run of whitespace or ASCII punctuation, so that
# "ignore -- all ... previous   instructions" is one phrase.
PHRASE_SEPARATOR = r"[\s!-/:-@\[-`{-~]+"


@dataclass(frozen=True)
class Rule:
    """One pattern: its detector class, the finding type it reports, and its span validator."""

    detector: str
    kind: str
    pattern: str
    validate: Validator | None = None
    group: int = 0  # the capture group that is the finding (0: the whole match)
    # A value that is a finding only under its label (nine digits, a bare AWS secret): the label's
    # pattern, which must be near the value (_near.label_near) and somewhere before it.
    label: str | None = None


# Finding kinds whose validator is expensive (libphonenumber is pure Python: 20-400 µs a
# candidate). A body or response holds at most CHECK_BUDGET of these checks; candidates past it
# count as found without the check (redacted or blocked as the action says: more is redacted,
# nothing is missed), so a body stuffed with phone-shaped numbers cannot hold a worker's reactor
# for seconds (1 MB of them cost ~8 s of CPU before).
COSTLY_KINDS = frozenset({"phone"})
CHECK_BUDGET = 1000


class CheckBudget:
    """The costly validator checks one body (or one response) may still make."""

    __slots__ = ("left", "exhausted")

    def __init__(self, checks: int = CHECK_BUDGET) -> None:
        self.left = checks
        self.exhausted = False


@dataclass(frozen=True)
class Finding:
    detector: str
    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class AllowList:
    """Values never reported: exact strings, and re2 patterns that must match the whole value."""

    values: frozenset[str] = frozenset()
    patterns: tuple[str, ...] = ()

    def merged(self, other: AllowList | None) -> AllowList:
        if other is None or (not other.values and not other.patterns):
            return self
        return AllowList(self.values | other.values, self.patterns + other.patterns)

    def __bool__(self) -> bool:
        return bool(self.values or self.patterns)


# --- validators -----------------------------------------------------------------------------

def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_issuer_ok(digits: str) -> bool:
    """
    True when the number has a known issuer prefix and a length that issuer uses (the schemes'
    published IIN tables, ISO/IEC 7812-1).
    """
    n = len(digits)
    two, three, four, six = int(digits[:2]), int(digits[:3]), int(digits[:4]), int(digits[:6])
    if four in _MAESTRO_PREFIXES or 6761 <= four <= 6763:
        return 12 <= n <= 19  # Maestro
    if n == 12:
        return False
    if digits[0] == "4":
        return n in (13, 16, 19)  # Visa
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16  # Mastercard
    if 2200 <= four <= 2204:
        return 16 <= n <= 19  # Mir
    if two in (34, 37):
        return n == 15  # American Express
    if digits[0] == "1":
        return n == 15  # UATP (airline cards, printed 4-5-6)
    if 506099 <= six <= 506198 or 650002 <= six <= 650027:
        return n in (16, 18, 19)  # Verve
    if four == 6011 or two == 65 or 644 <= three <= 649 or 622126 <= six <= 622925:
        return 16 <= n <= 19  # Discover
    if 300 <= three <= 305 or two in (36, 38, 39):
        return 14 <= n <= 19  # Diners Club
    if two == 35:
        return 16 <= n <= 19  # JCB (3528-3589 assigned; test generators use all of 35xx)
    if two == 62 or two == 81:
        return 16 <= n <= 19  # UnionPay
    if two in (60, 82) or three == 508:
        return n == 16  # RuPay (also 65 and 81, above; Hipercard's 606282 is in 60 too)
    if 637 <= three <= 639:
        return n == 16  # InstaPayment
    if three == 636:
        return 16 <= n <= 19  # InterPayment (Elo's 636297 and 636368 are in it)
    if six == 504175 or 506699 <= six <= 506778 or 509000 <= six <= 509999:
        return n == 16  # Elo (its other ranges are Visa's, Discover's and UnionPay's)
    if four == 5019:
        return n == 16  # Dankort
    if four in (9792, 8600, 9860):
        return n == 16  # Troy, UzCard, Humo
    return False


_MAESTRO_PREFIXES = frozenset({5018, 5020, 5038, 5893, 6304, 6759})


def _card_spans(text: str) -> list[tuple[int, int]]:
    # The match is a whole run of digit groups (the pattern takes every group that follows): it is
    # one card number or none. A valid card that is only the start of a longer run ("4708 2304
    # 0274 0492 004" with a Luhn-valid first 16 digits) is part of some other number.
    if not text[0].isdigit():
        return []  # after an IBAN's country code and check digits: the IBAN's own digits
    digits = []
    separators = set()
    for ch in text:
        if ch in "0123456789":
            digits.append(ch)
        else:
            separators.add(ch)
    if len(separators) > 1 or not 12 <= len(digits) <= 19:
        return []  # mixed separators are not one written number
    number = "".join(digits)
    return [(0, len(text))] if card_issuer_ok(number) and luhn_ok(number) else []


_SSN_KNOWN_INVALID = frozenset({"078051120", "219099999", "123456789"})


def ssn_ok(digits: str) -> bool:
    """The SSA's structural rules: no area 000, 666 or 9xx, no group 00, no serial 0000."""
    if len(digits) != 9 or not digits.isdigit():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    if len(set(digits)) == 1 or digits in _SSN_KNOWN_INVALID:
        return False
    return True


def _ssn_spans(text: str) -> list[tuple[int, int]]:
    seps = [ch for ch in text if not ch.isdigit()]
    if len(seps) == 2 and seps[0] != seps[1]:
        return []
    digits = "".join(ch for ch in text if ch.isdigit())
    return [(0, len(text))] if ssn_ok(digits) else []


# The countries of SWIFT's IBAN registry (ISO 13616) and the length of each one's IBAN. A country
# outside it has no IBAN: "US", "CA", "AU", "JP" or "IN" with check digits that happen to work is
# some other number (or an IBAN made up by hand).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


def iban_ok(compact: str) -> bool:
    """A registry country, its IBAN length, check digits MOD 97-10 can produce (02-98), and MOD 97 = 1."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    if not 2 <= int(compact[2:4]) <= 98:
        return False  # 00, 01 and 99 are congruent to 97, 98 and 02: never computed
    if not compact[4:].isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _iban_spans(text: str) -> list[tuple[int, int]]:
    # The pattern may take a trailing word along ("... 3000 81 INVOICE"): shrink from the right.
    end = len(text)
    while end >= 15:
        if iban_ok(text[:end].replace(" ", "")):
            return [(0, end)]
        end = text.rfind(" ", 0, end)
    return []


# Numbers without "+" are read in these regions' plans unless configured otherwise (phone_regions).
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US",)


def phone_regions_problem(regions: Iterable[str]) -> str | None:
    """Why C{regions} cannot be used as C{phone_regions} (codes libphonenumber does not know), or None."""
    unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        return f"not ISO 3166 alpha-2 regions libphonenumber knows: {', '.join(unknown)}"
    return None


def _digit_groups(text: str) -> list[str]:
    """The runs of ASCII digits in a short text (a phone candidate), in order."""
    return "".join(ch if ch in "0123456789" else " " for ch in text).split()


# Numbers the regulators reserve for films, TV and books, never assigned to anyone (libphonenumber
# calls them valid: they are in the plans' valid ranges). As "country code:national number":
# NANPA 555-0100 to 555-0199 in every area; Ofcom's drama numbers (020 7946 0xxx, 0113/0114/0115/
# 0116/0117/0118/0121/0131/0141/0151/0161 496 0xxx, 0191 498 0xxx, 028 9018 0xxx, 028 9649 6xxx,
# 029 2018 0xxx, 01632 960xxx, 07700 900xxx, 08081 570xxx, 0909 879 0xxx, 03069 990xxx); ACMA's
# fictitious (0x) 5550 xxxx, (0x) 7010 xxxx and the 0491 57x xxx mobiles.
_FICTIONAL = re2.compile(r"1:\d{3}55501\d{2}"
                         r"|44:(?:2079460|11[3-8]4960|1[2-6]14960|1914980|2890180|2896496|2920180|1632960|7700900"
                         r"|8081570|9098790|3069990)\d{3}"
                         r"|61:(?:[2378](?:5550|7010)|49157)\d{4}")


# The same ranges as national digits (with the trunk prefix 0 in the UK and Australia).
_NATIONAL_FICTION = {
    "NANP": r"1?\d{3}55501\d{2}",
    "GB": r"0(?:2079460|11[3-8]4960|1[2-6]14960|1914980|2890180|2896496|2920180|1632960|7700900|8081570|9098790"
          r"|3069990)\d{3}",
    "AU": r"0(?:[2378](?:5550|7010)|49157)\d{4}",
}


def _national_fiction(regions: Sequence[str]) -> re2._Regexp | None:
    plans = {"NANP" if phonenumbers.country_code_for_region(r) == 1 else r for r in regions}
    patterns = [_NATIONAL_FICTION[p] for p in sorted(plans) if p in _NATIONAL_FICTION]
    return re2.compile("|".join(patterns)) if patterns else None


def fictional(number: phonenumbers.PhoneNumber) -> bool:
    """Whether C{number} is in a range its regulator reserves for fiction (never a person's number)."""
    return _FICTIONAL.fullmatch(f"{number.country_code}:{phonenumbers.national_significant_number(number)}") is not None


def _national_ok(text: str, region: str, labelled: bool = False) -> bool:
    """
    Whether C{text} is a valid number of C{region} written as its people write it (with the trunk
    prefix). C{labelled}: a phone label stands next to it, so its digits may also be written in one
    run ("07879760901").
    """
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return False
    # Valid anywhere under the region's calling code ("US" takes in all of NANP, as before); this
    # cheap test first spares the grouping check below for the regions the number is not in.
    if not phonenumbers.is_valid_number(number) or fictional(number):
        return False
    groups = _digit_groups(text)
    written = "".join(groups)
    nsn = phonenumbers.national_significant_number(number)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    trunk = (metadata.national_prefix if metadata is not None else None) or ""
    if labelled and len(groups) == 1:
        return written in (nsn, trunk + nsn)
    # With the trunk prefix where the region's national format has one: libphonenumber reads
    # "2024 0115" as a German number, and its grouping check lets the prefix go where the plan
    # calls it optional ("711-221-6339" would be Indian). The digits must be the national
    # format's, or the trunk prefix and the national significant number.
    layout = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    formatted = _digit_groups(layout)
    national = "".join(formatted)
    if written not in (national, trunk + nsn):
        return False
    if groups == formatted and ("(" not in text or "(" in layout):
        return True  # exactly the national format's groups (the common case; the check below costs ~100 µs)
    # The area code (with the trunk prefix), then the rest: in one group as DIN 5008, Italy and the
    # Netherlands write it ("089 2786181", "020-2952098", "0160/9846106"), or in the national
    # format's groups and separators. With a phone label near, also in brackets as ITU-T E.123's
    # national notation has it ("mobile: (089) 2786181"), but not in the North-American layout
    # "(ddd) ddd-dddd" where the region's own format has no brackets: "(076) 228-7696" is valid in
    # Japan's plan, and taken for an impossible North-American number (as written, an equally
    # good reading; the Japanese "(045) 360-4511" is missed for it).
    area = trunk + nsn[:phonenumbers.length_of_national_destination_code(number)]
    bracketed = "(" in text and "(" not in layout
    if len(groups) >= 2 and groups[0] == area and area != written and not (
            bracketed and (not labelled or _NANP_LAYOUT.fullmatch(text) is not None)):
        rest = _after_digits(text, len(area))
        if len(groups) == 2 or rest == _after_digits(layout, len(area)):
            return True
    if bracketed:
        # an area code in brackets where the region never brackets it: "(087) 776-7047" is a
        # Dutch number's digits, "(311) 360-7043" an Italian mobile's, in a North-American layout
        return False
    # Grouped as that country writes its numbers: "(514) 091-0643" is valid in Brazil's plan but
    # written as a North-American number, "(047) 825-1003" is a French or Australian number's
    # digits in a North-American layout. libphonenumber's exact-grouping check decides.
    return any(m.start == 0 and m.end == len(text)
               for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.EXACT_GROUPING))


_NANP_LAYOUT = re2.compile(r"\(\d{3}\) ?\d{3}-\d{4}")


def _after_digits(text: str, count: int) -> str:
    """What follows the first C{count} digits of C{text}, without the separators right after them."""
    for i, ch in enumerate(text):
        if ch in "0123456789":
            count -= 1
            if count == 0:
                return text[i + 1:].lstrip(") ./-")
    return ""


def phone_validator(regions: Sequence[str], labelled: bool = False) -> Validator:
    """
    libphonenumber knows each country's number plan: impossible area or exchange codes and "+"
    numbers outside any plan are rejected, and so are the ranges reserved for fiction. A number
    without "+" (or the international prefix 00) is valid if it is a valid number of one of
    C{regions}, written in that region's national format (C{labelled}: a phone label is near it,
    any grouping).
    """
    regions = tuple(regions)
    # A national number in a listed region's range for fiction is that fiction, even where its
    # digits are also valid in another listed plan ("0161 496 0348" is Manchester's drama range
    # and a valid Ludhiana number): as written, the writer meant the fictional one.
    fiction = _national_fiction(regions)

    # libphonenumber is pure Python (20-150 µs a candidate) and a body's text is scanned more than
    # once (its strings, then the raw body): the verdicts on the last candidates are remembered.
    @functools.lru_cache(maxsize=2048)
    def valid(text: str) -> bool:
        if text.startswith("00") and text[2:3] not in ("", "0"):
            text = "+" + text[2:]  # the international prefix of most of the world ("0034 938 50 22 55")
        if text.startswith("+"):
            try:
                number = phonenumbers.parse(text, None)
            except phonenumbers.NumberParseException:
                return False
            return phonenumbers.is_valid_number(number) and not fictional(number)
        if fiction is not None and fiction.fullmatch("".join(_digit_groups(text))) is not None:
            return False
        return any(_national_ok(text, region, labelled) for region in regions)

    def validate(text: str) -> list[tuple[int, int]]:
        return [(0, len(text))] if valid(text) else []

    return validate


_EXTENSION = re2.compile(r",? ?(?:ext\.?|x|#) ?\d{1,6}$")


def _with_extension(phone: Validator) -> Validator:
    """A number with an extension after it: the number is checked, the finding covers both."""
    def validate(text: str) -> list[tuple[int, int]]:
        extension = _EXTENSION.search(text)
        number = text if extension is None else text[:extension.start()]
        return [(0, len(text))] if phone(number) else []

    return validate


def _click_to_chat(phone: Validator) -> Validator:
    """A wa.me link is a finding, the whole link, when its digits are a valid international number."""
    def validate(text: str) -> list[tuple[int, int]]:
        return [(0, len(text))] if phone("+" + text.rpartition("/")[2]) else []

    return validate


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


_PLACEHOLDER_WORDS = ("example", "xxxx", "placeholder", "dummy", "sample", "redacted", "todo", "paste",
                      "insert", "changeme", "replace", "abcdef", "123456", "000000", "test_key",
                      "<", "***")
# A reference to a variable that holds the secret: $NAME, ${NAME} (shell), %NAME% (Windows),
# #{NAME} (Ruby, CoffeeScript interpolation), and reading the environment in code: process.env.NAME
# (Node), os.environ['NAME'] / os.getenv("NAME") (Python), ENV['NAME'] (Ruby), env("NAME") (Laravel).
_VARIABLE_REFERENCE = re2.compile(
    r"\$[A-Za-z_][A-Za-z0-9_]*|\$\{[^}]*\}|%[A-Za-z_][A-Za-z0-9_]*%|#\{[^}]*\}"
    r"|process\.env\.[A-Za-z_][A-Za-z0-9_]*|process\.env\[[^\]]{1,80}\]"
    r"|os\.environ\[[^\]]{1,80}\]|os\.(?:environ\.get|getenv)\([^)]{1,80}\)|ENV\[[^\]]{1,80}\]"
    r"|env\([^)]{1,80}\)")


# "your" starts a placeholder's word ("your-api-key", "<YOUR_TOKEN>", "sk-yourkey"); inside a run of
# letters it is chance ("GryoURvi75…": 17 places × (2/62)^4, about one random 20-character
# base62 value in 54,000, holds "your").
_YOUR = re2.compile(r"(?i)(?:^|[^a-z])your")


def looks_placeholder(value: str) -> bool:
    low = value.lower()
    # "<your-key>", "<password" and "token>" are stand-ins; a ">" inside a random password ("N>x4") is not
    if low.endswith(">") or any(word in low for word in _PLACEHOLDER_WORDS):
        return True
    if "your" in low and _YOUR.search(low) is not None:
        return True
    # A mask shows a run of three stars or is a third stars ("ab**", "**"); "k**d5O%*9f" is a password.
    if low.count("*") * 3 >= len(low):
        return True
    if _VARIABLE_REFERENCE.fullmatch(value) is not None or _MASK_WORD.fullmatch(value) is not None:
        return True
    if _CONSTANT_NAME.fullmatch(value.rstrip(":")) is not None:
        # a constant's name in code ({"accessToken": ACCESS_TOKEN}), "JWT_GOES_HERE", "API_TOKEN:"
        return True
    if _SECRET_REFERENCE.search(value) is not None:
        return True
    return len(set(low)) < min(8, max(2, len(low) // 3))


# A reference to a secret kept elsewhere, as the stores and tools write one: HashiCorp Vault
# ("vault:secret/data/api#token"), 1Password ("op://vault/item/field"), CloudFormation ("!Ref X",
# "{{resolve:secretsmanager:...}}"), AWS ARNs of Secrets Manager and SSM parameters, SOPS ("ENC[...]"),
# Grafana ("$__env{...}"), Terraform ("var.x"), Ansible ("lookup('env', ...)"), Kubernetes
# ("valueFrom: secretKeyRef: ...").
_SECRET_REFERENCE = re2.compile(r"(?i)^(?:vault:|op://|!ref |!sub |!getatt |\{\{ ?resolve:|ssm:|enc\[|\$__env\{|"
                                r"\$__file\{|var\.[a-z_])|arn:aws:(?:secretsmanager|ssm):|secretkeyref|"
                                r"lookup\(|\{\{ ?lookup")
# Words of capital letters joined by "_" (SCREAMING_SNAKE_CASE): a constant or variable's name.
_CONSTANT_NAME = re2.compile(r"[A-Z]+(?:_[A-Z]+)+[0-9]*")
# What a log filter writes in place of a value: Rails' "[FILTERED]", "[REDACTED]", "[hidden]".
_MASK_WORD = re2.compile(r"\[[A-Za-z][A-Za-z _-]{0,30}\]")
_HEX = re2.compile(r"[0-9a-f]+|[0-9A-F]+")


def entropy_floor(value: str) -> float:
    """
    The least entropy (bits per character) a random value looks like: 3.0 under 16 characters,
    3.3 from 16. A hex value (16 symbols) is held to its own alphabet: 0.78 of log2 of the symbols
    a random hex string of its length shows on average (random 18-character hex values fall under
    3.3 bits 46 % of the time, under this floor 0.3 %; docs/guardrails.md).
    """
    floor = 3.0 if len(value) < 16 else 3.3
    if _HEX.fullmatch(value) is not None:
        expected = 16 * (1 - (15 / 16) ** len(value))
        floor = min(floor, 0.78 * math.log2(expected))
    return floor


def _token_validator(min_entropy: float, need_digit: bool = False) -> Validator:
    def validate(text: str) -> list[tuple[int, int]]:
        body = text.split("_", 1)[-1] if "_" in text[:12] else text
        if looks_placeholder(body) or entropy(body) < min_entropy:
            return []
        if need_digit and not (any(c.isdigit() for c in body) and any(c.isalpha() for c in body)):
            return []
        return [(0, len(text))]

    return validate


def _b64json(part: str) -> object:
    try:
        return orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError):
        return None


def jwt_ok(token: str) -> bool:
    """
    A compact JWS (a JSON header with C{alg}, then base64url payload and signature parts), or a
    compact JWE (RFC 7516: five parts, a header with C{alg} and C{enc}; an encrypted token is still a
    bearer token). An unsecured JWT (RFC 7519 section 6: C{alg} "none", no signature) proves
    nothing and is none.
    """
    parts = token.split(".")
    if len(parts) == 5:
        header = _b64json(parts[0])
        return isinstance(header, dict) and "alg" in header and "enc" in header and all(
            len(part) >= 8 and _B64URL.fullmatch(part) for part in parts[2:])
    if len(parts) != 3 or len(parts[1]) < 8 or len(parts[2]) < 16 or looks_placeholder(parts[2]):
        return False
    if not all(_B64URL.fullmatch(part) for part in parts[1:]):
        return False  # "<payload>", "…" and other stand-ins
    header = _b64json(parts[0])
    return isinstance(header, dict) and "alg" in header and header["alg"] != "none"


_B64URL = re2.compile(r"[A-Za-z0-9_-]+")


def _jwt_spans(text: str) -> list[tuple[int, int]]:
    return [(0, len(text))] if jwt_ok(text) else []


def _opaque_token_spans(text: str) -> list[tuple[int, int]]:
    """An opaque token under a secret name; one that starts like a JWT must be a whole JWT (a header alone is none)."""
    if text.startswith("eyJ"):
        return [(0, len(text))] if jwt_ok(text) else []
    return _OPAQUE_TOKEN(text)


def _bearer_spans(text: str) -> list[tuple[int, int]]:
    """
    A bearer token; one that is base64url JSON ("eyJ") must be a whole JWT or JWE: a header alone,
    a cut-off token or a pagination cursor sent as a bearer token is none.
    """
    if text.startswith("eyJ"):
        return [(0, len(text))] if jwt_ok(text) else []
    return _BEARER_TOKEN(text)


# "name@2x.png": the HiDPI asset-naming convention, not an address
_DENSITY_DOMAIN = re2.compile(r"(?i)\d+(?:\.\d+)?x\.[a-z]{2,5}")


def _intl_email_spans(text: str) -> list[tuple[int, int]]:
    local, _, domain = text.rpartition("@")
    labels = domain.split(".")
    if text.isascii() or len(local) > 64 or len(domain) > 255 or any(len(label) > 63 for label in labels) \
            or len(labels[-1]) > 24:
        return []  # an ASCII address is the rule above's
    return _email_spans(text)


def _email_spans(text: str) -> list[tuple[int, int]]:
    """
    The address in the match. The match takes along an opening "<" and what follows the domain
    (">", or ":" and a path's first character), to tell an address from what only looks like one:
    an RFC 5322 Message-ID ("<Y5rPdpoJk6MiMdj8YvM0.4112@mx.example>": a machine-made left part in
    angle brackets), an scp-style SSH destination ("git@github.com:org/repo.git"), and the names
    RFC 2606 and RFC 6761 reserve for documentation and tests, where no one has a mailbox.
    """
    start = 1 if text.startswith("<") else 0
    end = len(text)
    if text.endswith(">"):
        end -= 1
    elif text[-2:-1] == ":":
        return []  # user@host:path
    address = text[start:end]
    local, _, domain = address.rpartition("@")
    if _DENSITY_DOMAIN.fullmatch(domain) or reserved_domain(domain):
        return []
    if start and end < len(text) and machine_made(local):
        return []  # <id-left@id-right>: a Message-ID (Content-ID) whose left part is a random run
    return [(start, end)]


# Top-level names reserved by RFC 2606 and RFC 6761, and the second-level example domains.
_RESERVED_TLDS = frozenset({"test", "example", "invalid", "localhost"})
_EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org")


def reserved_domain(domain: str) -> bool:
    """Whether C{domain} is one that RFC 2606 / RFC 6761 reserve (example.com, *.test, ...)."""
    low = domain.lower().rstrip(".")
    if low.rpartition(".")[2] in _RESERVED_TLDS:
        return True
    return any(low == d or low.endswith("." + d) for d in _EXAMPLE_DOMAINS)


# A run of 12 or more letters and digits that mixes upper case, lower case and digits: what a mail
# system generates for a Message-ID, not what a person picks for a mailbox.
_MACHINE_ID = re2.compile(r"[A-Za-z0-9]{12,}")


def machine_made(local: str) -> bool:
    """Whether an address's left part holds a generated run (mixed case and digits, 12 or more long)."""
    return any(any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)
               for run in (m.group() for m in _MACHINE_ID.finditer(local)))


# Key material in a PEM body: base64 lines, with RFC 1421 header lines (Proc-Type, DEK-Info) before them.
_PEM_HEADER_LINE = re2.compile(r"[A-Za-z-]{2,20}: [^\n\\]*")  # to the line's end (or a JSON "\\n")
# A body of key material: base64 and white space, and around the lines of a key held in a JSON
# array of strings (a notebook cell's source, seen in raw bytes) quotes, commas and brackets.
_PEM_BODY = re2.compile(r'[A-Za-z0-9+/=\s\\",\[\]]*')
_BASE64_CHAR = re2.compile(r"[A-Za-z0-9+/]")
# A key's body must hold some key material and nothing else: a body that is empty, or holds a
# word, "..." or "<...>", is an example. (How much material a real key has is not asked: a key
# cut short in a log is still the start of a key.)


def _pem_material(body: str) -> bool:
    """Whether a PEM body is key material: base64 lines (after any RFC 1421 header lines), not a placeholder."""
    body = _PEM_HEADER_LINE.sub("", body).replace("\\n", "").replace("\\r", "")
    return _PEM_BODY.fullmatch(body) is not None and _BASE64_CHAR.search(body) is not None


def _pem_spans(text: str) -> list[tuple[int, int]]:
    """A whole PEM private key: its body is key material, not a placeholder ("...") or nothing."""
    body = text[text.index("-----", 10) + 5:text.rindex("-----END")]
    return [(0, len(text))] if _pem_material(body) else []


def _open_pem_spans(text: str) -> list[tuple[int, int]]:
    """A key's BEGIN line and the material after it: some material, not cut short with "..." (an example)."""
    if text.endswith((".", "…")):
        return []
    body = text[text.index("-----", 10) + 5:]
    return [(0, len(text))] if _pem_material(body) else []


def _ppk_spans(text: str) -> list[tuple[int, int]]:
    """A PuTTY key file: its header line and at least the "Encryption:" line that follows."""
    return [(0, len(text))] if "Encryption: " in text else []


# Values that stand for a secret without being one: template variables and masks.
_TEMPLATE = ("${", "{{", "%(", "$(", "<", "****", "...", "…")


def _password_validator(text: str) -> list[tuple[int, int]]:
    """A password in a URL or under a password name: not a placeholder, two kinds of character."""
    low = text.lower()
    if len(text) < 6 or any(t in text for t in _TEMPLATE) or low in _PASSWORD_WORDS or looks_placeholder(text):
        return []
    classes = sum((any(c.islower() for c in text), any(c.isupper() for c in text),
                   any(c.isdigit() for c in text), any(not c.isalnum() for c in text)))
    return [(0, len(text))] if classes >= 2 else []


_OPAQUE_TOKEN = _token_validator(3.5, need_digit=True)
_BEARER_TOKEN = _token_validator(3.5, need_digit=True)

_PASSWORD_WORDS = frozenset({"password", "passwd", "pass", "secret", "changeit", "hunter2", "admin", "root",
                             "postgres", "guest", "user", "username", "token", "pwd", "mypassword",
                             "s3cr3t", "p@ssw0rd", "password1", "password123", "letmein", "none", "null"})


def _name_value_validator(text: str) -> list[tuple[int, int]]:
    """C{NAME=value} under a secret-like name: mixed characters and enough entropy, no placeholder."""
    # an escaped closing quote (NAME=\\"value\\" in a JSON string) is not the value's
    text = text[:-1] if text.endswith("\\") else text
    value = text.strip("\"'")
    if len(value) < 8 or any(t in value for t in _TEMPLATE) or looks_placeholder(value):
        return []
    if value.lower() in _PASSWORD_WORDS or value.lower() in ("true", "false", "required", "optional"):
        return []
    if value.startswith("eyJ"):
        return [(0, len(text))] if jwt_ok(value) else []
    classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value),
                   any(c.isdigit() for c in value), any(not c.isalnum() for c in value)))
    if classes < 2 or entropy(value) < entropy_floor(value):
        return []
    return [(0, len(text))]


# --- rules ----------------------------------------------------------------------------------

# How far before a line or event boundary a value may end and still need what follows the
# boundary to be found: a URL's password needs the "@" and the host's first character after it.
TRAILING_CONTEXT = 8

_ND = r"(?:^|[^\w])"  # not preceded by a word character (consumed; the finding is group 1)
_END = r"(?:[^\w]|$)"

# Names under which a value is taken for a secret (documented in docs/guardrails.md): a name
# that ends with one of these (any case, any prefix: DB_PASSWORD, apiToken, secretAccessKey).
SECRET_NAME_WORDS = (
    r"passw(?:or)?d", r"pwd", r"passphrase", r"secret", r"secret[_-]?key", r"token", r"api[_-]?key", r"apikey",
    r"access[_-]?key", r"private[_-]?key", r"credentials?", r"auth[_-]?(?:token|key|code)",
    r"session[_-]?key", r"signing[_-]?key", r"encryption[_-]?key", r"master[_-]?key",
    r"conn(?:ection)?[_-]?str(?:ing)?", r"dsn",
    # DB_PASS, RABBITMQ_DEFAULT_PASS (the images' documented variables); an admin or master key
    # of a hosted service (Algolia's and Meilisearch's "Admin API key")
    r"[_-]pass", r"admin[_-]?(?:api[_-]?)?key",
    # Rails' SECRET_KEY_BASE (128 hex digits that sign its cookies)
    r"secret[_-]?key[_-]?base",
)
_NAMES = "(?:" + "|".join(SECRET_NAME_WORDS) + ")"
# (not a backslash: in raw JSON it starts an escape, "\\n" ending a line of a notebook cell)
_NAME_VALUE = r"([^\s\"'`<>,;()\[\]{}\\]{8,256})"

# An SSN's label: SSN, SS#, social security (number, no, #), soc. sec. no., ss_number, the SSA's
# Spanish "número de Seguro Social", and "ssn" as a word of an identifier (ssn_full, insured_ssn,
# employee.ssn, insuredSsn, FHIR's identifier system http://hl7.org/fhir/sid/us-ssn).
SSN_LABEL = (r"(?i:(?:^|[^a-z])(?:ssn|ss ?#|social[ _.-]?security|soc\.? ?sec\.?|ss[_ .-]?(?:number|no|num|nr)"
             r"|seguro social)"
             r"(?:[ _.-]?(?:number|no|num|nr|#)\.?)?)|(?-i:[a-z]Ssn)")
# An SSN as people write it: dashed (also with Unicode dashes), spaced, dotted, " - " between the
# parts, or nine digits.
# Dashed and spaced SSNs are found anywhere (the rule above); the others only under their label.
_SSN_DASH = r"[- \x{2010}-\x{2014}\x{2212}]"
_SSN_VALUE = (r"\d{3}[\x{2010}-\x{2014}\x{2212}]\d{2}[\x{2010}-\x{2014}\x{2212}]\d{4}"
              r"|\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}|\d{3}\.\d{2}\.\d{4}|\d{3} {1,2}- {1,2}\d{2} {1,2}- {1,2}\d{4}"
              r"|\d{9}")
SSN_VALUE = re2.compile(_SSN_VALUE)
# An AWS secret access key's label: AWS (or Amazon, IAM) and "secret" together, or secret access key.
AWS_SECRET_LABEL = (r"(?i:(?:aws|amazon|iam)[^\n]{0,30}?secret|secret[^\n]{0,30}?(?:aws|amazon)"
                    r"|secret[_ -]?access[_ -]?key)")
# A phone number's label (its member or column name, or words before it): English, German, French,
# Spanish, Italian and Dutch words, "msisdn" (3GPP), and camelCase (contactPhone). Short words
# must end there ("tel:", "Tel.", "fax_no"; not "telemetry"), and not name an ID ("cell id",
# "CELL_ID": a spreadsheet's or a radio network's cell).
PHONE_LABEL = (r"(?:^|[^A-Za-z])(?i:phone|telephone|telefon|t[ée]l[ée]phone|tel[ée]fono|mobile|mobil|mobiel"
               r"|cellulare|cellphone|m[óo]vil|portable|whatsapp|msisdn|call me (?:at|on)"
               r"|(?:tel|cell|fax|handy)(?:[^a-z _-]|[ _-](?:[^i]|i[^d]|$)|$))|[a-z](?:Phone|Mobile|Tel|Fax|Msisdn)")
# A phone number with its label near: any grouping ("333 4651718", "0160/9846106", "41 95814-5172").
_PHONE_VALUE = r"(?:^|[^\w+.-])((?:\+|00)?\(?\d[\d ()./-]{4,22}\d)(?:[^\w-]|$)"
PHONE_SHAPE = re2.compile(r"(?:\+|00)?\(?\d[\d ()./-]{4,22}\d")


# Between a card's digit groups: a space, two (as pasted from a printed card), a dash or a no-break space.
_CARD_SEPARATOR = r"(?: {1,2}|-|\x{00A0})"


def builtin_rules(phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> tuple[Rule, ...]:
    """The built-in PII and secret rules; numbers without "+" are read in C{phone_regions}' plans."""
    return _pii_rules(phone_validator(phone_regions), phone_validator(phone_regions, labelled=True)) + _SECRET_RULES


def _pii_rules(phone: Validator, labelled_phone: Validator) -> tuple[Rule, ...]:
    return (
        # Dashes as word processors and forms write them too: U+2010-2014 (hyphen to em dash), U+2212 (minus).
        Rule(PII, "ssn", r"\b(\d{3}" + _SSN_DASH + r"\d{2}" + _SSN_DASH + r"\d{4})\b", _ssn_spans, 1),
        # Nine digits, dotted or " - " SSNs count only with their label near (_near.label_near).
        Rule(PII, "ssn", r"(?:^|[^\w.+-])(" + _SSN_VALUE + r")(?:[^\w-]|$)", _ssn_spans, 1, SSN_LABEL),
        # 12-19 digits plain or in groups of any issuer's printing (4-4-4-4, 6-13, 4-6-5, 4-6-4, 4-3-3-3,
        # 4-4-4-4-3, UATP's 4-5-6, ...), taking every group that follows so that the validator sees the whole run; an
        # IBAN's country code and check digits are taken along so that its digits are not read as a card.
        # Not before "/": "4111 1111 1111 1111 12/27" is a card and its expiry date.
        Rule(PII, "card", r"\b((?:[A-Z]{2}\d{2} ?)?(?:\d{4,19}(?:" + _CARD_SEPARATOR + r"\d{1,13}){1,8}|\d{12,19}))"
             r"(?:[^\w/]|$)", _card_spans, 1),
        # Not after a "/": "scheme://user@host" names a user of a URL, not a mailbox.
        # An opening "<", and a closing ">" or ":" and a path's first character, are taken along for
        # the validator (Message-IDs, scp-style SSH destinations); the finding is the address.
        Rule(PII, "email", r"(?:^|[^\w.%+/-])(<?[A-Za-z0-9._%+-]{1,64}@"
             r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b(?:>|:[A-Za-z0-9~/_.-])?)",
             _email_spans, 1),
        # Internationalised addresses (RFC 6531: UTF-8 local parts, IDN domains): "田中.健二@例え.jp".
        # Unbounded repetitions keep the re2 program small; the validator checks the lengths.
        Rule(PII, "email", r"(?:^|[^\pL\pN_.%+/-])([\pL\pN._%+-]+@(?:[\pL\pN](?:[\pL\pN-]*[\pL\pN])?\.)+\pL\pL+)",
             _intl_email_spans, 1),
        Rule(PII, "phone", r"(?:^|[^\w+])(\+[1-9]\d{0,3}(?:[ .-]?\(?\d{1,4}\)?){2,6})\b", phone, 1),
        # North-American shape, with separators.
        # A country code before it is taken along ("+0 707 975 0762" is no North-American number), and
        # an extension after it ("ext. 4877", "x3926": the number and its extension are one finding).
        Rule(PII, "phone", r"(?:^|[^\w+(])((?:\+\d{1,3}[ .-]?|1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])"
             r"[2-9]\d{2}[ .-]\d{4}(?:,? ?(?:ext\.?|x|#) ?\d{1,6})?)\b", _with_extension(phone), 1),
        # National format elsewhere, with separators: a trunk "0" or an area code in brackets first
        # ("0151 14852825", "06 12 34 56 78", "(02) 9876 5432", "(11) 91234-5678").
        # Not a group inside a longer run of digit groups ("4708 2304 0274 0492 004", "+1 093 830 2993",
        # "(514) 091-0643"), nor of hyphenated words ("756c62bc-0228-4024-9d90-...", a UUID), nor
        # right after ":" or "/" (the seconds of "21:44:02.365049", a date's "12/02").
        # After a list's bullet too ("- 02.33.52.18.20").
        Rule(PII, "phone", r"(?:^|[^\w+( .:/-]|(?:^|[^0-9) .-])[ .]|(?:^|[^\w) .-])-|(?:^|\n)[ \t]{0,8}[-*][ \t]{1,4})"
             r"((?:\(0\d{1,4}\) ?|\(\d{2}\) ?|0\d{1,4}[ ./-])\d{1,10}(?:[ .-]\d{1,8}){0,4})(?:$|[^\w-]|-(?:$|\W))",
             phone, 1),
        # WhatsApp's click-to-chat link: the full international number without "+" (the link names a person).
        Rule(PII, "phone", r"\b(https?://(?:api\.)?wa\.me/\d{7,15})\b", _click_to_chat(phone), 1),
        # Any grouping, or none, with a phone label near (_near.label_near).
        Rule(PII, "phone", _PHONE_VALUE, labelled_phone, 1, PHONE_LABEL),
        Rule(PII, "iban", r"\b([A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)\b", _iban_spans, 1),
    )


_SECRET_RULES: tuple[Rule, ...] = (
    Rule(SECRETS, "aws_access_key_id",
         r"\b((?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z2-7]{16})\b",
         _token_validator(2.5), 1),
    Rule(SECRETS, "aws_secret_access_key",
         r"(?i)aws.{0,24}?(?:secret|private).{0,24}?[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})" + _END,
         _token_validator(3.5, need_digit=True), 1),
    # In prose ("the AWS secret key is ...") and under camelCase or bare names (secretAccessKey).
    Rule(SECRETS, "aws_secret_access_key",
         r"(?i)(?:(?:aws|amazon|iam).{0,40}?secret|secret[_ -]?access[_ -]?key).{0,40}?"
         r"(?:^|[^A-Za-z0-9/+])([A-Za-z0-9/+]{40})" + r"(?:[^A-Za-z0-9/+=]|$)",
         _token_validator(3.5, need_digit=True), 1),
    # Under a label near it that names it (a column header, "secret half of the AWS key pair '...'").
    Rule(SECRETS, "aws_secret_access_key", r"(?:^|[^A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)",
         _token_validator(3.5, need_digit=True), 1, AWS_SECRET_LABEL),
    Rule(SECRETS, "github_token", r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36})\b", _token_validator(3.0), 1),
    Rule(SECRETS, "github_token", r"\b(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b", _token_validator(3.0), 1),
    Rule(SECRETS, "gitlab_token", r"\b(gl(?:pat|dt|rt|ptt|cbt|oas)-[A-Za-z0-9_-]{20,256})", _token_validator(3.0), 1),
    # xoxb, xoxp, xoxa, ...; xoxe- refresh tokens and xoxe.xoxp- access tokens of token rotation
    Rule(SECRETS, "slack_token", r"\b((?:xoxe\.)?xox[abposre]-[A-Za-z0-9-]{10,256})", _token_validator(3.0), 1),
    Rule(SECRETS, "slack_app_token", r"\b(xapp-\d-[A-Za-z0-9]{6,16}-\d{6,16}-[A-Za-z0-9]{32,128})\b",
         _token_validator(3.0), 1),
    Rule(SECRETS, "slack_webhook",
         r"(https://hooks\.slack\.com/services/T[A-Z0-9]{6,16}/B[A-Z0-9]{6,16}/[A-Za-z0-9]{16,64})", None, 1),
    Rule(SECRETS, "stripe_key", r"\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,256})\b", _token_validator(3.0), 1),
    Rule(SECRETS, "openai_key", r"(?:^|[^\w-])(sk-(?:proj-|svcacct-|admin-|ant-api\d\d-)?[A-Za-z0-9_-]{20,256})",
         _token_validator(3.5, need_digit=True), 1),
    # Stripe webhook signing secrets ("Check the webhook signatures": whsec_ and base64).
    Rule(SECRETS, "stripe_webhook_secret", r"\b(whsec_[A-Za-z0-9+/]{24,128}={0,2})", _token_validator(3.0), 1),
    # Google OAuth client secrets, issued since 2021 as GOCSPX- and 28 URL-safe characters.
    Rule(SECRETS, "google_oauth_client_secret", r"\b(GOCSPX-[A-Za-z0-9_-]{24,40})" + r"(?:[^\w-]|$)",
         _token_validator(3.0), 1),
    Rule(SECRETS, "google_api_key", r"\b(AIza[0-9A-Za-z_-]{35})" + _END, _token_validator(3.0), 1),
    Rule(SECRETS, "google_oauth_token", r"\b(ya29\.[0-9A-Za-z_-]{20,1000})", _token_validator(3.0), 1),
    Rule(SECRETS, "private_key",
         r"(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?s:.*?)"
         r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)",
         _pem_spans, 1),
    # A key without its END line (cut off, or split over stream events): the BEGIN line and the
    # key material that follows it, header lines (Proc-Type: ...) and base64 lines; a "..." after
    # the material is taken along to tell a shortened example.
    # No capture group: re2 then finds the span with its DFA alone (a group made it NFA, ~1 s/MB).
    Rule(SECRETS, "private_key", r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
         r"(?:\s*(?:[A-Za-z-]{2,20}: [^\n]{0,200}|[A-Za-z0-9+/=]{16,}))*(?:\s*[A-Za-z0-9+/=]+)?(?:\.\.|…)?",
         _open_pem_spans, 0),
    # PuTTY's .ppk (format 2 and 3): the key file's header line, its "Name: value" lines and the
    # base64 lines of its public and private parts.
    Rule(SECRETS, "private_key", r"PuTTY-User-Key-File-\d: [^\n]{1,64}"
         r"(?:\r?\n[ \t]{0,16}(?:[A-Za-z-]{2,20}: [^\n]{0,200}|[A-Za-z0-9+/=]{4,}))*", _ppk_spans, 0),
    Rule(SECRETS, "jwt", r"\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,})", _jwt_spans, 1),
    # A compact JWE: header, encrypted key (empty for "dir"), IV, ciphertext, tag.
    Rule(SECRETS, "jwt",
         r"\b(eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})",
         _jwt_spans, 1),
    Rule(SECRETS, "bearer_token", r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{20,512}=*)", _bearer_spans, 1),
    # scheme://user:password@host: the password alone is the finding. The user may be empty
    # (redis://:password@host, as Redis clients write a password without an ACL user).
    Rule(SECRETS, "url_password", r"(?i)\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@?#]{0,128}:([^\s/@?#]{1,256})@[a-z0-9.\[-]",
         _password_validator, 1),
    Rule(SECRETS, "generic_secret",
         r"(?i)\b(?:api[_-]?key|apikey|secret(?:[_-]?key)?|client[_-]?secret|passw(?:or)?d|auth[_-]?token|"
         r"access[_-]?token|access[_-]?key|private[_-]?key|token)[\"']?\s*[:=]\s*[\"']?"
         r"([A-Za-z0-9_\-+/=.]{16,512})", _opaque_token_spans, 1),
    # NAME=value / NAME: value under a secret-like name, values with any punctuation (entropy-gated);
    # the quotes may be escaped (a shell line inside a JSON string inside JSON: export NAME=\\"value\\").
    Rule(SECRETS, "generic_secret",
         r"(?i)(?:^|[^A-Za-z0-9])[A-Za-z0-9_.-]{0,40}?" + _NAMES + r"(?:\\?[\"'])?[ \t]*(?:=|:)[ \t]*(?:\\?[\"'])?"
         + _NAME_VALUE,
         _name_value_validator, 1),
    # The same in quotes, where the value may hold any punctuation but no white space
    # (python-dotenv's NAME = "value"  # comment, a YAML or TOML string).
    Rule(SECRETS, "generic_secret",
         r"(?i)(?:^|[^A-Za-z0-9])[A-Za-z0-9_.-]{0,40}?" + _NAMES + r"(?:\\?[\"'])?[ \t]*(?:=|:)[ \t]*\\?[\"']"
         r"([^\"'\s\\]{8,256})\\?[\"']", _name_value_validator, 1),
    # A Kubernetes container's env entry: "- name: DB_PASSWORD" and, on the next line, "value: ...".
    Rule(SECRETS, "generic_secret",
         r"(?i)-[ \t]+name:[ \t]*[\"']?[A-Za-z0-9_.-]{0,40}?" + _NAMES + r"[\"']?[ \t]*\r?\n[ \t]*value:[ \t]*[\"']?"
         r"([^\"'\s\\]{8,256})", _name_value_validator, 1),
    # Set on a command line or in a Dockerfile, where the value runs to the next space: ARG and ENV
    # (Dockerfile reference), export, IPython's %env, heroku config:set, fly secrets set,
    # kubectl create secret --from-literal=, gh secret set NAME --body.
    Rule(SECRETS, "generic_secret",
         r"(?i)(?:(?:^|[^\w-])(?:ARG|ENV|export|%env|%set_env|config:set|secrets set)[ \t]+|--from-literal=)"
         r"[A-Za-z0-9_.-]{0,40}?" + _NAMES + r"=([^\s\"'`]{8,256})", _name_value_validator, 1),
    Rule(SECRETS, "generic_secret",
         r"(?i)\bsecret set [A-Za-z0-9_.-]{0,40}?" + _NAMES + r"[ \t]+(?:--body|-b)[ =][\"']?([^\s\"'`]{8,256})",
         _name_value_validator, 1),
    # Laravel's APP_KEY: "base64:" and a 32-byte key (the framework's key:generate), under any name.
    Rule(SECRETS, "generic_secret", r"(?:^|[^\w])(base64:[A-Za-z0-9+/]{43}=)", _token_validator(3.5), 1),
)

BUILTIN_RULES: tuple[Rule, ...] = builtin_rules()

# JSON object members and form fields whose name says "secret": the whole value is checked.
SECRET_KEY_PATTERN = (r"(?i)(?:(?:^|[_.-])(?:api[_-]?key|apikey|secret|client[_-]?secret|passw(?:or)?d|"
                      r"auth[_-]?token|access[_-]?token|refresh[_-]?token|access[_-]?key|private[_-]?key|"
                      r"token|credentials?)(?:$|[_.-])|" + _NAMES + r"$)")
# Names that end like a secret's but hold an opaque, non-secret reference.
NOT_SECRET_KEY_PATTERN = (r"(?i)(?:page|next|prev(?:ious)?|continuation|sync|cursor|resume|idempotency|"
                          r"request|trace|correlation|csrf[_-]?cookie|max|num|total|input|output)[_-]?tokens?$|"
                          r"tokens?[_-]?(?:count|type|usage|limit|id)$|_(?:name|id|hint|ref|path|file|length|policy)$")
# A JSON member whose name says "secret", in raw bytes: the fast path must not skip it.
# (or a [name, value] pair, or a JSON Patch path's last step: "path": "/a/api_key", "value": ...)
SECRET_MEMBER_PROBE = r'(?i)"[^"\\]{0,40}?' + _NAMES + r'"\s*[:,]\s*"'
# A JSON member named like an SSN holding nine digits, in raw bytes: PII by its name alone.
# (or its value in a [name, value] pair: ["SSN", "123456789"]), in any SSN layout.
SSN_MEMBER_PROBE = (r'(?i)(?:ssn|ss[_ .-]?(?:number|no|num|nr)|ss ?#|social[_ -]?security|soc\.? ?sec)'
                    r'[^"\\]{0,24}"\s*[:,]\s*"\d{3}[ .-]{0,5}\d{2}[ .-]{0,5}\d{4}"')
PASSWORD_KEY_PATTERN = r"(?i)(?:passw(?:or)?d|pwd|passphrase)$"

def load_pattern_lines(lines: Iterable[str]) -> list[tuple[str, str]]:
    """Parse C{name regex} lines (C{#} comments and blank lines skipped)."""
    out = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, pattern = line.partition(" ")
        pattern = pattern.strip()
        if not pattern:
            raise ValueError(f"expected 'name regex', got {line!r}")
        out.append((name, pattern))
    return out


def builtin_phrases() -> list[tuple[str, str]]:
    text = resources.files("stoad.guardrails").joinpath("injection_phrases.txt").read_text("utf-8")
    return load_pattern_lines(text.splitlines())


def phrase_regex(pattern: str) -> str:
    return pattern.replace(" ", PHRASE_SEPARATOR)


def check_regex(pattern: str) -> None:
    """Raise ValueError when re2 cannot compile C{pattern}."""
    try:
        re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as e:
        raise ValueError(f"not a valid re2 pattern {pattern!r}: {e}") from None


# --- normalisation for injection phrases ----------------------------------------------------

_INVISIBLE = [0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0]
_INVISIBLE += list(range(0x200B, 0x2010)) + list(range(0x202A, 0x202F)) + list(range(0x2060, 0x2070))
_INVISIBLE += list(range(0xFE00, 0xFE10)) + list(range(0x0300, 0x0370))  # variation selectors, combining
_HOMOGLYPHS = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "һ": "h",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ɡ": "g", "ց": "g", "յ": "j", "օ": "o", "ս": "u",
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c",
    "Т": "t", "У": "y", "Х": "x", "Ѕ": "s", "І": "i", "Ј": "j",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "Α": "a", "Β": "b", "Ε": "e", "Η": "h", "Ι": "i",
    "Κ": "k", "Μ": "m", "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x", "Ζ": "z",
    # Latin look-alikes
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŀ": "l", "ſ": "s", "ß": "ss",
}
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
_UNICODE_TABLE: dict[int, str | None] = {cp: None for cp in _INVISIBLE}
_UNICODE_TABLE.update({ord(k): v for k, v in _HOMOGLYPHS.items()})
_UNICODE_TABLE.update({ord(k): v for k, v in _LEET.items()})
# str.translate looks every character up in its table, and each one a dict lacks costs a raised
# and cleared LookupError: most of a Russian text. A list indexed by code point answers the
# characters below its length without one (an int entry keeps the character); the rarer table
# characters above it (variation selectors, BOM, Hangul fillers) send a text to the dict.
_LIST_END = 0x3040
_UNICODE_LIST: list[int | str | None] = list(range(_LIST_END))
for _cp, _to in _UNICODE_TABLE.items():
    if _cp < _LIST_END:
        _UNICODE_LIST[_cp] = _to
_TABLE_CHARS = re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(_UNICODE_TABLE)) + "]")
_HIGH_TABLE_CHARS = re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(_UNICODE_TABLE)
                                             if cp >= _LIST_END) + "]")
_ASCII_TABLE = bytes.maketrans(
    bytes(range(65, 91)) + "".join(_LEET).encode(),
    bytes(range(97, 123)) + "".join(_LEET.values()).encode(),
)


def normalise_ascii(data: bytes) -> bytes:
    """Normalise ASCII bytes for phrase matching: lower case and digit look-alikes."""
    return data.translate(_ASCII_TABLE)


def normalise(text: str) -> str:
    """Normalise text for phrase matching (see injection_phrases.txt)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_TABLE).decode("ascii")
    decomposed = unicodedata.normalize("NFKD", text)
    if _TABLE_CHARS.search(decomposed) is None:  # most Chinese and Japanese text: nothing to map
        return decomposed.lower()
    if _HIGH_TABLE_CHARS.search(decomposed) is None:
        return decomposed.translate(_UNICODE_LIST).lower()
    return decomposed.translate(_UNICODE_TABLE).lower()


# --- the scanner ----------------------------------------------------------------------------

class Scanner:
    """
    Every rule compiled once: one re2 set for PII and secrets (run on the text as it is) and one
    for injection phrases (run on normalised text), plus each rule alone to find its spans.
    """

    def __init__(self, rules: Sequence[Rule], phrases: Sequence[tuple[str, str]],
                 model: InjectionModel | None | bool = True) -> None:
        self.rules = tuple(rules)
        # the learned injection detector: the shipped one (True), another, or none
        self.model = builtin_model() if model is True else model or None
        self._model_gate = re2.compile(self.model.gate_pattern(), _RE2_OPTIONS) if self.model else None
        # the same words as a set: one pass tells how many distinct gate words a text holds
        self._gate_set = re2.Set.SearchSet(_RE2_OPTIONS)
        for word in self.model.gate if self.model else ():
            self._gate_set.Add(gate_entry(word))
        self._gate_set.Compile()
        self._gate_min = self.model.gate_min if self.model else 1
        self._compiled = [re2.compile(rule.pattern, _RE2_OPTIONS) for rule in self.rules]
        self._set = re2.Set.SearchSet(_RE2_OPTIONS)
        for rule in self.rules:
            # a labelled value needs its label somewhere before it: a benign run of nine digits
            # alone does not take a body off the fast path
            self._set.Add(rule.pattern if rule.label is None else f"(?:{rule.label})(?s:.*)(?:{rule.pattern})")
        # The raw-bytes probe for members that are findings by their name, as one more entry (past
        # the rules): the set's one pass over a body answers both questions (L{maybe}).
        self._set.Add(f"(?:{SECRET_MEMBER_PROBE})|(?:{SSN_MEMBER_PROBE})")
        self._set.Compile()
        self.phrases = tuple((name, phrase_regex(p)) for name, p in phrases)
        self._phrase_set = re2.Set.SearchSet(_RE2_OPTIONS)
        for _, pattern in self.phrases:
            self._phrase_set.Add(pattern)
        self._phrase_set.Compile()
        self._secret_key = re2.compile(SECRET_KEY_PATTERN, _RE2_OPTIONS)
        self._not_secret_key = re2.compile(NOT_SECRET_KEY_PATTERN, _RE2_OPTIONS)
        self._password_key = re2.compile(PASSWORD_KEY_PATTERN, _RE2_OPTIONS)
        # one pass over the raw bytes for both probes
        self._member_probe = re2.compile(f"(?:{SECRET_MEMBER_PROBE})|(?:{SSN_MEMBER_PROBE})", _RE2_OPTIONS)
        self._ssn_key = re2.compile(SSN_LABEL, _RE2_OPTIONS)
        self._phone_key = re2.compile(PHONE_LABEL, _RE2_OPTIONS)
        # the validator of phone numbers next to their label, for members named like a phone
        self._phone_member = next((r.validate for r in self.rules if r.kind == "phone" and r.label), None)
        # rules whose value counts only with its label near (_near.label_near)
        self._labels = [re2.compile(rule.label, _RE2_OPTIONS) if rule.label else None for rule in self.rules]
        self._allow_cache: dict[tuple[str, ...], re2._Regexp] = {}
        self._last_normalised: tuple[str, str] | None = None
        self._key_cache: dict[str, bool] = {}

    def maybe(self, data: bytes | str, detectors: frozenset[str], learned: bool = True) -> bool:
        """
        A cheap over-approximation: False means no rule of C{detectors} can match C{data}, and
        (for PII or secrets) that raw JSON C{data} holds no member that is a finding by its name
        (L{named_member}); C{learned=False}: leaving out the learned detector's gate, for raw
        bytes whose decoded strings were already asked about.
        """
        if (PII in detectors or SECRETS in detectors) and self._set.Match(data):
            return True
        if INJECTION in detectors:
            norm = normalise_ascii(data) if isinstance(data, bytes) and data.isascii() else \
                self._normalised(data if isinstance(data, str) else data.decode("utf-8", "replace"))
            if self._phrase_set.Match(norm):
                return True
            if learned and self._gated(norm if isinstance(norm, bytes) else _as_ascii_bytes(norm)):
                return True
        return False

    def injection(self, text: str) -> list[str]:
        """The phrase families found in C{text} after normalisation, and C{learned} if the model flags it."""
        norm = self._normalised(text)
        hits = self._phrase_set.Match(norm) or ()
        families = sorted({self.phrases[i][0] for i in hits})
        if self.model is not None and self._gated(_as_ascii_bytes(norm)) and self.model.flags(tokens(norm)):
            families.append(LEARNED)
        return families

    def find(self, text: str, detectors: frozenset[str], allow: AllowList | None = None,
             budget: CheckBudget | None = None) -> list[Finding]:
        """
        Validated, non-overlapping PII and secret findings in C{text} (spans in C{text}). With a
        C{budget}, checks of L{COSTLY_KINDS} past it are skipped and their candidates count as found.
        """
        if not (PII in detectors or SECRETS in detectors):
            return []
        subject = _as_ascii_bytes(text)
        indices = self._set.Match(subject)
        if not indices:
            return []
        candidates: list[Finding] = []
        tables: Tables | None = None  # the table headers met, for labelled values
        rules = len(self.rules)
        for index in sorted(indices):
            if index >= rules:
                continue  # the member probe (see __init__)
            rule = self.rules[index]
            if rule.detector not in detectors:
                continue
            label = self._labels[index]
            for match in self._compiled[index].finditer(subject):
                start, end = match.span(rule.group)
                if start < 0:
                    continue
                if label is not None:
                    tables = tables or Tables(text)
                    if not label_near(text, start, label, tables):
                        continue
                value = text[start:end]
                if rule.validate is None:
                    spans = [(0, len(value))]
                elif budget is not None and rule.kind in COSTLY_KINDS:
                    if budget.left > 0:
                        budget.left -= 1
                        spans = rule.validate(value)
                    else:
                        budget.exhausted = True
                        spans = [(0, len(value))]
                else:
                    spans = rule.validate(value)
                for a, b in spans:
                    if allow and self.allowed(value[a:b], allow):
                        continue
                    candidates.append(Finding(rule.detector, rule.kind, start + a, start + b))
        return _without_overlaps(candidates)

    def spans(self, text: str, detectors: frozenset[str]) -> list[tuple[int, int]]:
        """Every raw (unvalidated) match span of the rules of C{detectors}: where to look closer."""
        out: list[tuple[int, int]] = []
        subject = _as_ascii_bytes(text)
        rules = len(self.rules)
        for index in self._set.Match(subject) or ():
            if index < rules and self.rules[index].detector in detectors:
                out.extend(m.span() for m in self._compiled[index].finditer(subject))
        return out

    def gate_spans(self, text: str) -> list[tuple[int, int]] | None:
        """
        Where the learned detector's gate matches C{text}; None when a phrase matches anywhere or
        normalisation changes offsets (then every part of the text must be looked at).
        """
        norm = self._normalised(text)
        if len(norm) != len(text) or self._phrase_set.Match(norm):
            return None
        subject = _as_ascii_bytes(norm)
        if self._model_gate is None or not self._gated(subject):
            return []  # fewer distinct gate words in the whole text than any one string needs
        return [m.span() for m in self._model_gate.finditer(subject)]

    def phrase_possible(self, text: str) -> bool:
        """Whether any injection phrase, or the learned detector's gate, matches C{text}."""
        norm = self._normalised(text)
        if self._phrase_set.Match(norm):
            return True
        return self._gated(_as_ascii_bytes(norm))

    def _normalised(self, text: str) -> str:
        """L{normalise}, remembering the last long text: one body's joined strings are asked
        about up to three times (maybe, phrase_possible, gate_spans)."""
        if len(text) < 1024:
            return normalise(text)
        last = self._last_normalised
        if last is not None and last[0] is text:
            return last[1]
        norm = normalise(text)
        self._last_normalised = (text, norm)
        return norm

    def _gated(self, normalised: str | bytes) -> bool:
        """Whether normalised text holds the distinct gate words the learned detector needs."""
        if self.model is None:
            return False
        return len(self._gate_set.Match(normalised) or ()) >= self._gate_min

    def secret_member(self, key: str, value: str) -> bool:
        """Whether an object member or form field named C{key} holds a secret-looking value."""
        if len(value) < 6 or not self.secret_name(key):
            return False
        if self._password_key.search(key) is not None:
            return bool(_password_validator(value))
        return bool(_name_value_validator(value))

    def secret_name(self, key: str) -> bool:
        """Whether C{key} names a secret (password, api_key, apiToken, ...); cached."""
        named = self._key_cache.get(key)
        if named is None:
            named = self._secret_key.search(key) is not None and self._not_secret_key.search(key) is None
            if len(self._key_cache) < 4096:
                self._key_cache[key] = named
        return named

    def named_member(self, data: bytes) -> bool:
        """
        Whether raw JSON bytes may hold a member that is a finding by its name (a cheap probe): one
        named like a secret, or nine digits under one named like an SSN.
        """
        return self._member_probe.search(data) is not None

    def pii_member(self, key: str, value: str, budget: CheckBudget | None = None) -> str | None:
        """
        The PII type of a member value that is PII only by its name: an SSN under a name like
        C{ssn_full}, a phone number in any grouping under one like C{msisdn} or C{contactPhone}.
        """
        if 9 <= len(value) <= 17 and SSN_VALUE.fullmatch(value) is not None and _ssn_spans(value) and \
                self._ssn_key.search(key) is not None:
            return "ssn"
        if self._phone_member is not None and 6 <= len(value) <= 26 and PHONE_SHAPE.fullmatch(value) is not None \
                and self._phone_key.search(key) is not None:
            if budget is not None:
                if budget.left <= 0:
                    budget.exhausted = True
                    return "phone"
                budget.left -= 1
            if self._phone_member(value):
                return "phone"
        return None

    def allowed(self, value: str, allow: AllowList) -> bool:
        if value in allow.values:
            return True
        if not allow.patterns:
            return False
        compiled = self._allow_cache.get(allow.patterns)
        if compiled is None:
            compiled = re2.compile("|".join(f"(?:{p})" for p in allow.patterns), _RE2_OPTIONS)
            self._allow_cache[allow.patterns] = compiled
        return compiled.fullmatch(value) is not None


def _as_ascii_bytes(text: str) -> str | bytes:
    """
    ASCII text as bytes, other text unchanged. re2 matches a str as its UTF-8 bytes and then
    converts every match offset back to characters in Python; for ASCII the bytes, the matches
    and the offsets are the same, so the conversion is skipped.
    """
    return text.encode("ascii") if text.isascii() else text


def _without_overlaps(findings: list[Finding]) -> list[Finding]:
    # At one start a secret wins over PII (the password in user:pass@host is no e-mail address).
    findings.sort(key=lambda f: (f.start, f.detector != SECRETS, -(f.end - f.start)))
    out: list[Finding] = []
    for finding in findings:
        if out and finding.start < out[-1].end:
            continue
        out.append(finding)
    return out


def redact(text: str, findings: Sequence[Finding]) -> str:
    """Replace each finding's span with C{[REDACTED:<kind>]} (findings sorted, non-overlapping)."""
    parts = []
    last = 0
    for finding in findings:
        parts.append(text[last:finding.start])
        parts.append(f"[REDACTED:{finding.kind}]")
        last = finding.end
    parts.append(text[last:])
    return "".join(parts)


def custom_rules(patterns: Sequence[tuple[str, str]], detector: str = PII) -> list[Rule]:
    """Rules from configuration: each whole match is a finding of type C{name}."""
    return [Rule(detector, name, f"({pattern})", None, 1) for name, pattern in patterns]
