"""heldout3: a third blind held-out split of PII, secrets and hard negatives, written from public format descriptions.

Its own seed, families, labels, text contexts, JSON shapes and SSE framings (see README.md, "heldout3"); it reuses
only the Sample structure and the check-digit helpers of corpus.py, so dev, heldout and heldout2 are untouched.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import os
import random
import string
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tests.support.modules import load_by_path

_corpus = load_by_path(
    "stoad_guardrails_independent_corpus", os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus.py")
)
Sample = _corpus.Sample
CARRIERS: tuple[str, ...] = _corpus.CARRIERS
DEPLOYMENT_REGIONS: tuple[str, ...] = _corpus.DEPLOYMENT_REGIONS
luhn_digit = _corpus.luhn_digit
luhn_valid = _corpus.luhn_valid
iban_check = _corpus.iban_check
no_card = _corpus.no_card
group = _corpus.group
b64url = _corpus.b64url
score = _corpus.score

HELDOUT3_SEED = 3907
SPLIT = "heldout3"

# Samples per kind and carrier: each positive format, each near-miss kind, and the benign values.
PER_CARRIER_POSITIVE = 18
PER_CARRIER_NEAR_MISS = 16
PER_CARRIER_BENIGN = 36

# Where a stream is cut inside the value, as fractions of its length (earlier splits: 1/4, 1/2, 3/4).
CUT_FRACTIONS = ((1, 3), (3, 5), (7, 8))

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
URLSAFE = ALNUM + "-_"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"


def rand(rng: random.Random, pool: str, n: int) -> str:
    return "".join(rng.choice(pool) for _ in range(n))


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


FIRST = ["lucía", "matteo", "joão", "sanne", "katarzyna", "aarav", "yuki", "chloé", "liam", "thandiwe", "omar", "freya"]
FIRST_ASCII = ["lucia", "matteo", "joao", "sanne", "katarzyna", "aarav", "yuki", "chloe", "liam", "thandiwe", "omar",
               "freya"]
LAST = ["garcia", "bianchi", "ferreira", "de vries", "nowak", "sharma", "sato", "moreau", "murphy", "dlamini",
        "khalil", "andersen"]


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST).title()} {rng.choice(LAST).title()}"


# --- cards: ISO/IEC 7812-1 (Luhn) and the IIN tables of the schemes ---------------------------------------------------

# issuer: (IIN prefixes, lengths, printed grouping per length)
CARD_ISSUERS: dict[str, tuple[list[str], list[int], dict[int, list[int]]]] = {
    "visa": (["4"], [16], {16: [4, 4, 4, 4]}),
    "mastercard": (["51", "52", "53", "54", "55"] + [str(p) for p in range(2221, 2721, 53)], [16], {16: [4, 4, 4, 4]}),
    "amex": (["34", "37"], [15], {15: [4, 6, 5]}),
    "diners": (["36"], [14], {14: [4, 6, 4]}),
    "discover": (["6011", "644", "647", "649", "65"], [16], {16: [4, 4, 4, 4]}),
    "jcb": ([str(p) for p in range(3528, 3590, 5)], [16], {16: [4, 4, 4, 4]}),
    "unionpay": (["62"], [16, 19], {16: [4, 4, 4, 4], 19: [4, 4, 4, 4, 3]}),
    "elo": (["636368", "636369", "438935", "504175", "451416", "636297", "506699"], [16], {16: [4, 4, 4, 4]}),
    "hipercard": (["606282"], [16], {16: [4, 4, 4, 4]}),
    "instapayment": (["637", "638", "639"], [16], {16: [4, 4, 4, 4]}),
}


def card_number(rng: random.Random, issuer: str) -> str:
    prefixes, lengths, _ = CARD_ISSUERS[issuer]
    prefix, length = rng.choice(prefixes), rng.choice(lengths)
    body = prefix + digits(rng, length - len(prefix) - 1)
    return body + luhn_digit(body)


def card_written(rng: random.Random, issuer: str, number: str) -> str:
    sizes = CARD_ISSUERS[issuer][2].get(len(number), [4] * 5)
    if rng.random() < 0.25:
        # a web form that groups every number in fours, whatever the scheme prints (Amex 4-4-4-3, Diners 4-4-4-2)
        sizes = [4] * 5
    return group(number, sizes, rng.choice([" ", "", "-", " ", ""]))


def gen_card(rng: random.Random, family: str) -> tuple[str, str]:
    written = card_written(rng, family, card_number(rng, family))
    return written, written


def imei(rng: random.Random) -> str:
    body = rng.choice(["35", "86", "01"]) + digits(rng, 12)
    return body + luhn_digit(body)


def gen_card_negative(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "luhn_invalid":
        issuer = rng.choice(list(CARD_ISSUERS))
        number = card_number(rng, issuer)
        number = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
        written = card_written(rng, issuer, number)
    elif family == "masked_receipt":  # PCI DSS 3.4: at most the first six and last four digits
        number = card_number(rng, rng.choice(list(CARD_ISSUERS)))
        fill = rng.choice(["*", "X", "x", "#"])
        written = rng.choice([
            fill * (len(number) - 4) + number[-4:],
            f"{fill * 4} {fill * 4} {fill * 4} {number[-4:]}",
            number[:6] + fill * (len(number) - 10) + number[-4:],
            f"{number[:4]} {number[4:6]}{fill * 2} {fill * 4} {number[-4:]}",
        ])
    elif family == "imei":  # 3GPP TS 23.003: TAC, serial, Luhn digit; 15 digits under no issuer of that length
        number = imei(rng)
        written = rng.choice([number, f"{number[:2]} {number[2:8]} {number[8:14]} {number[14]}", f"{number[:8]}-{number[8:14]}-{number[14]}"])
    else:  # no_issuer_length: Luhn-valid, but a length no scheme issues for that IIN (Mastercard 15/17, Amex 16)
        prefix, length = rng.choice([("51", 15), ("53", 17), ("55", 17), ("34", 16), ("37", 16), ("52", 15)])
        body = prefix + digits(rng, length - len(prefix) - 1)
        number = body + luhn_digit(body)
        written = rng.choice([number, " ".join(number[i:i + 4] for i in range(0, len(number), 4))])
    return written, written


# --- SSN: SSA POMS RM 10201.035, the randomization FAQ, and the advertising numbers -------------------------------

def ssn_parts(rng: random.Random) -> tuple[str, str, str]:
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    return f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"


def gen_ssn(rng: random.Random, family: str) -> tuple[str, str]:
    a, g, s = ssn_parts(rng)
    value = {"dashed": f"{a}-{g}-{s}", "plain": f"{a}{g}{s}", "spaced": f"{a} {g} {s}",
             "en_dash": f"{a}\u2013{g}\u2013{s}"}[family]
    return value, value


def gen_ssn_negative(rng: random.Random, family: str) -> tuple[str, str]:
    a, g, s = ssn_parts(rng)
    sep = rng.choice(["-", "", " "])
    if family == "advertising":  # SSA reserved 987-65-4320 to 987-65-4329 for advertisements
        value = f"987-65-432{rng.randint(0, 9)}"
    elif family == "area_invalid":  # 000, 666, 9xx (9xx with a group outside the ITIN ranges)
        value = sep.join((rng.choice(["000", "666", f"9{digits(rng, 2)}"]), f"{rng.randint(1, 49):02d}", s))
    elif family == "group00":
        value = sep.join((a, "00", s))
    elif family == "serial0000":
        value = sep.join((a, g, "0000"))
    elif family == "masked":
        fill = rng.choice(["X", "*", "#"])
        value = rng.choice([f"{fill * 3}-{fill * 2}-{s}", f"{fill * 5}{s}"])
    else:  # ein: IRS employer identification number of a business, NN-NNNNNNN
        value = f"{rng.choice(['12', '27', '46', '81', '94'])}-{digits(rng, 7)}"
    return value, value


# --- IBAN: SWIFT IBAN registry (ISO 13616), ISO 7064 MOD 97-10 -----------------------------------------------------

IBAN_FORMATS: dict[str, list[tuple[int, str]]] = {
    # the deployment's own countries
    "GB": [(4, "a"), (14, "n")], "DE": [(18, "n")], "FR": [(10, "n"), (11, "c"), (2, "n")], "ES": [(20, "n")],
    "IT": [(1, "a"), (10, "n"), (12, "c")], "NL": [(4, "a"), (10, "n")], "BR": [(23, "n"), (1, "a"), (1, "c")],
    # registry entries no earlier split used
    "BY": [(4, "c"), (4, "n"), (16, "c")], "BI": [(5, "n"), (5, "n"), (11, "n"), (2, "n")],
    "DJ": [(5, "n"), (5, "n"), (11, "n"), (2, "n")], "FK": [(2, "a"), (12, "n")], "GL": [(14, "n")],
    "GT": [(4, "c"), (20, "c")], "HN": [(4, "a"), (20, "n")], "IQ": [(4, "a"), (3, "n"), (12, "n")],
    "LC": [(4, "a"), (24, "c")], "VA": [(3, "n"), (15, "n")], "MD": [(2, "c"), (18, "c")],
    "SC": [(4, "a"), (2, "n"), (2, "n"), (16, "n"), (3, "a")], "LY": [(3, "n"), (3, "n"), (15, "n")],
    "SD": [(2, "n"), (12, "n")], "MN": [(4, "n"), (12, "n")], "NI": [(4, "a"), (20, "n")],
    "RU": [(9, "n"), (5, "n"), (15, "c")], "OM": [(3, "n"), (16, "c")],
}
IBAN_FAMILIES = {
    "deployment": ["GB", "DE", "FR", "ES", "IT", "NL", "BR"],
    "registry_new": ["BY", "BI", "DJ", "FK", "GL", "GT", "HN", "IQ", "LC", "VA", "MD", "SC", "LY", "SD", "MN", "NI",
                     "RU", "OM"],
}
# Countries that have no IBAN in the registry; the MOD 97-10 arithmetic still works on their letters.
NON_IBAN_COUNTRIES = {"US": 20, "CA": 22, "AU": 18, "JP": 20, "IN": 22}


def bban(rng: random.Random, country: str) -> str:
    pools = {"n": string.digits, "a": string.ascii_uppercase, "c": UPPER_DIGITS}
    return "".join(rand(rng, pools[cls], count) for count, cls in IBAN_FORMATS[country])


def iban_written(rng: random.Random, iban: str) -> str:
    paper = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))  # ISO 13616-1 paper format
    return rng.choice([iban, paper, paper, iban])


def gen_iban(rng: random.Random, family: str) -> tuple[str, str]:
    country = rng.choice(IBAN_FAMILIES[family])
    b = bban(rng, country)
    written = iban_written(rng, country + iban_check(country, b) + b)
    return written, written


def gen_iban_negative(rng: random.Random, family: str) -> tuple[str, str]:
    country = rng.choice(IBAN_FAMILIES["deployment"] + IBAN_FAMILIES["registry_new"])
    b = bban(rng, country)
    good = iban_check(country, b)
    if family == "bad_check":
        bad = good
        while bad == good:
            bad = f"{rng.randint(2, 98):02d}"
        iban = country + bad + b
    elif family == "impossible_check":  # MOD 97-10 check digits are always 02-98
        iban = country + rng.choice(["00", "01", "99"]) + b
    elif family == "wrong_length":
        b = b[:-1] if rng.random() < 0.5 else b + digits(rng, 1)
        iban = country + iban_check(country, b) + b
    else:  # non_registry: a country with no IBAN, check digits computed anyway
        country = rng.choice(list(NON_IBAN_COUNTRIES))
        b = digits(rng, NON_IBAN_COUNTRIES[country] - 4)
        iban = country + iban_check(country, b) + b
    written = iban_written(rng, iban)
    return written, written


# --- phones: ITU-T E.164, RFC 3966, and the national plans of the deployment regions --------------------------------

NANP_AREAS_US = ["201", "267", "314", "480", "612", "704", "813", "916", "952", "215", "469", "503", "571", "808"]
NANP_AREAS_CA = ["204", "306", "343", "418", "438", "450", "506", "519", "647", "709", "782", "905"]


def nanp_exchange(rng: random.Random) -> str:
    while True:
        nxx = f"{rng.randint(2, 9)}{digits(rng, 2)}"
        if nxx[1:] != "11" and nxx != "555":
            return nxx


def gen_phone(rng: random.Random, family: str) -> tuple[str, str]:
    d = functools.partial(digits, rng)
    ext = str(rng.randint(10, 4999))
    if family in ("us", "ca"):
        a, x, n = rng.choice(NANP_AREAS_US if family == "us" else NANP_AREAS_CA), nanp_exchange(rng), d(4)
        value = rng.choice([f"({a}) {x}-{n} x{ext}", f"{a}-{x}-{n} ext. {ext}", f"tel:+1-{a}-{x}-{n}",
                            f"https://wa.me/1{a}{x}{n}", f"1-{a}-{x}-{n}", f"+1 {a}-{x}-{n}", f"{a}/{x}-{n}"])
    elif family == "gb":
        mobile = f"7{rng.choice('3456789')}{d(2)}"  # 07xxx xxxxxx: eleven digits with the trunk 0
        while mobile == "7700":  # 07700 900xxx is Ofcom's drama range
            mobile = f"7{rng.choice('3456789')}{d(2)}"
        rest = d(6)
        area = rng.choice(["114", "115", "116", "118", "141", "151", "191"])
        value = rng.choice([f"0{mobile} {rest}", f"+44 (0){mobile} {rest}", f"tel:+44-{mobile}-{rest}",
                            f"0{area} {rng.choice('2345')}{d(2)} {d(4)} ext {ext}", f"+44 {area} {rng.choice('2345')}{d(2)} {d(4)}"])
    elif family == "de":
        # BNetzA: 015x and 0176-0179 subscribers have 8 digits, 0160/0170/0171/0175 have 7
        mobile = rng.choice(["151", "152", "157", "159", "176", "177", "178", "179"]) + d(8) if rng.random() < 0.7 else rng.choice(
            ["160", "170", "171", "175"]) + d(7)
        city, n = rng.choice([("89", 7), ("30", 8), ("40", 7), ("211", 6), ("621", 6), ("511", 7)])
        sub = f"{rng.randint(2, 9)}{d(n - 1)}"
        value = rng.choice([f"0{mobile[:3]} {mobile[3:7]} {mobile[7:]}", f"+49 {mobile[:3]} {mobile[3:]}",
                            f"https://wa.me/49{mobile}", f"0{city} {sub}-{d(2)}", f"+49 {city} {sub}-{d(3)}",
                            f"0{city}-{sub}"])
    elif family == "fr":
        m = f"{rng.choice('67')}{d(8)}"
        g = f"{rng.choice('12345')}{d(8)}"
        value = rng.choice([f"+33 (0){m[0]} {m[1:3]} {m[3:5]} {m[5:7]} {m[7:]}", f"0{m}", f"tel:+33-{m[0]}-{m[1:3]}-{m[3:5]}-{m[5:7]}-{m[7:]}",
                            f"0{g[0]} {g[1:3]} {g[3:5]} {g[5:7]} {g[7:]}", f"+33{m[0]} {m[1:5]} {m[5:]}"])
    elif family == "au":
        m = f"4{d(8)}"
        while m.startswith("4915"):  # ACMA's fictitious mobiles sit in 0491 57x
            m = f"4{d(8)}"
        area = rng.choice("2378")
        land = f"{rng.choice('4689')}{d(7)}"
        value = rng.choice([f"0{m[:3]} {m[3:6]} {m[6:]}", f"+61 {m[:3]} {m[3:6]} {m[6:]}", f"+61 (0){area} {land[:4]} {land[4:]}",
                            f"(0{area}) {land[:4]} {land[4:]}", f"0{m}"])
    elif family == "in":
        m = f"{rng.choice('6789')}{d(9)}"
        std, n = rng.choice([("22", 8), ("80", 8), ("44", 8), ("124", 7), ("484", 7)])
        value = rng.choice([f"+91-{m[:5]}-{m[5:]}", f"{m[:5]} {m[5:]}", f"(0{std}) {rng.randint(2, 7)}{d(n - 1)}",
                            f"+91 {std} {rng.randint(2, 7)}{d(n - 1)}", f"https://wa.me/91{m}"])
    elif family == "br":
        ddd = rng.choice(["11", "21", "31", "47", "48", "62", "71", "91", "27", "83"])
        value = rng.choice([f"({ddd}) 9{d(4)}-{d(4)}", f"+55 {ddd} 9{d(4)} {d(4)}", f"+55 ({ddd}) {rng.choice('2345')}{d(3)}-{d(4)}",
                            f"https://wa.me/55{ddd}9{d(8)}", f"{ddd} 9{d(4)}-{d(4)}"])
    elif family == "jp":
        value = rng.choice([f"0{rng.choice(['70', '80', '90'])}-{d(4)}-{d(4)}", f"+81-{rng.choice(['70', '80', '90'])}-{d(4)}-{d(4)}",
                            f"03-{rng.randint(3000, 6999)}-{d(4)}", f"(011) {rng.randint(200, 899)}-{d(4)}",
                            f"+81 6 {rng.randint(6000, 6999)} {d(4)}", f"092-{rng.randint(200, 899)}-{d(4)}"])
    elif family == "es":
        n = rng.choice([f"6{d(8)}", f"7{rng.randint(1, 4)}{d(7)}", f"91{rng.randint(2, 7)}{d(6)}", f"95{rng.randint(2, 7)}{d(6)}"])
        value = rng.choice([f"{n[:3]} {n[3:6]} {n[6:]}", f"(+34) {n[:3]} {n[3:5]} {n[5:7]} {n[7:]}", f"+34 {n[:2]} {n[2:5]} {n[5:7]} {n[7:]}",
                            f"tel:+34-{n}"])
    elif family == "it":
        m = f"3{rng.choice(['20', '27', '29', '31', '39', '45', '48', '51', '77', '93'])}{d(7)}"
        fixed = rng.choice([f"02 {rng.randint(2, 9)}{d(3)} {d(4)}", f"06 {rng.randint(2, 9)}{d(3)} {d(4)}", f"011 {rng.randint(2, 9)}{d(6)}"])
        value = rng.choice([f"+39 {m[:3]} {m[3:6]} {m[6:]}", f"{m[:3]} {m[3:]}", f"+39 {fixed}", fixed, f"{m[:3]}.{m[3:]}"])
    elif family == "nl":
        m = f"{rng.randint(1, 8)}{d(7)}"
        area = rng.choice(["20", "10", "30", "70", "40", "50", "24", "43"])
        sub = f"{rng.randint(2, 9)}{d(6)}"
        value = rng.choice([f"+31 6 {m[:2]} {m[2:4]} {m[4:6]} {m[6:]}", f"06 {m}", f"0{area}-{sub[:3]} {sub[3:]}",
                            f"+31 (0){area} {sub[:3]} {sub[3:]}", f"tel:+31-6-{m}"])
    else:  # e164_other: regions outside the deployment, only where the country code makes them unambiguous
        value = rng.choice([
            f"+353 8{rng.choice('35679')} {d(3)} {d(4)}", f"+41 7{rng.choice('5789')} {d(3)} {d(2)} {d(2)}",
            f"+43 664 {d(7)}", f"+32 4{rng.choice('789')}{d(1)} {d(2)} {d(2)} {d(2)}", f"+351 9{rng.choice('1236')}{d(1)} {d(3)} {d(3)}",
            f"+47 {rng.choice('49')}{d(2)} {d(2)} {d(3)}", f"+64 2{rng.choice('17')} {d(3)} {d(4)}",
            f"+971 5{rng.choice('0256')} {d(3)} {d(4)}", f"+972 5{rng.choice('02458')}-{d(3)}-{d(4)}",
        ])
    return value, value


# Ranges the regulators keep for drama and fiction, never assigned: Ofcom (01632 960, 01xx 496 0, 028 9649 6,
# 029 2018 0, 0191 498 0, 07700 900, 08081 570, 0909 8790, 03069 990), ACMA (0491 570/571/572/573 listed numbers,
# (02)/(07)/(08) 5550, (03) 7010) and NANPA (555-0100 to 555-0199).
ACMA_FICTITIOUS_MOBILES = ["0491 570 006", "0491 570 156", "0491 570 157", "0491 570 158", "0491 570 159",
                           "0491 570 110", "0491 570 313", "0491 570 737", "0491 571 266", "0491 571 491",
                           "0491 571 804", "0491 572 549", "0491 572 665", "0491 572 983", "0491 573 770",
                           "0491 573 087"]


def gen_phone_negative(rng: random.Random, family: str) -> tuple[str, str]:
    d = functools.partial(digits, rng)
    if family == "fictional":
        value = rng.choice([
            f"01632 960{d(3)}", f"0117 496 0{d(3)}", f"0121 496 0{d(3)}", f"0131 496 0{d(3)}", f"0141 496 0{d(3)}",
            f"028 9649 6{d(3)}", f"029 2018 0{d(3)}", f"0191 498 0{d(3)}", f"+44 7700 900{d(3)}", f"08081 570{d(3)}",
            f"0909 8790{d(3)}", f"03069 990{d(3)}", rng.choice(ACMA_FICTITIOUS_MOBILES),
            f"(0{rng.choice('278')}) 5550 {d(4)}", f"(03) 7010 {d(4)}",
            f"({rng.choice(NANP_AREAS_US)}) 555-01{d(2)}", f"+1-{rng.choice(NANP_AREAS_CA)}-555-01{d(2)}",
        ])
    elif family == "nanp_impossible":
        value = rng.choice([
            f"({rng.randint(2, 9)}11) {nanp_exchange(rng)}-{d(4)} x{rng.randint(10, 99)}",
            f"tel:+1-{rng.choice('01')}{d(2)}-{nanp_exchange(rng)}-{d(4)}",
            f"{rng.choice(NANP_AREAS_US)}-{rng.choice('01')}{d(2)}-{d(4)} ext. {rng.randint(10, 99)}",
            f"+1 {rng.choice(NANP_AREAS_CA)} {rng.choice('01')}{d(2)} {d(4)}",
        ])
    elif family == "bad_length":
        value = rng.choice([
            f"+44 7{d(3)} {d(5)}", f"+49 151 {d(4)}", f"+33 (0)6 {d(2)} {d(2)} {d(2)}", f"+61 4{d(2)} {d(3)} {d(2)}",
            f"+39 3{d(2)} {d(3)} {d(2)}", f"+91-9{d(4)}-{d(3)}", f"+34 6{d(2)} {d(3)} {d(4)}", f"+31 6 {d(2)} {d(2)} {d(2)}",
            f"+81-90-{d(4)}-{d(2)}", f"(11) 9{d(3)}-{d(4)}",
        ])
    else:  # spare_cc: country codes ITU-T E.164 lists as spare, and +0 (no country code starts with 0)
        value = rng.choice([f"+{cc} {d(3)} {d(3)} {d(3)}" for cc in ("281", "284", "287", "292", "294", "296", "990")]
                           + [f"+0 {d(3)} {d(3)} {d(4)}"])
    return value, value


# --- e-mail: RFC 5322 addr-spec / name-addr, RFC 6531, RFC 2606 reserved names ------------------------------------

DOMAINS = ["gmx.de", "orange.fr", "telefonica.es", "tiscali.it", "kpnmail.nl", "btinternet.com", "optusnet.com.au",
           "yahoo.co.in", "terra.com.br", "nifty.com", "shaw.ca", "comcast.net"]
CORPORATE = ["eng.contoso-labs.io", "mail.meridian-health.org", "corp.tailwind-logistics.eu", "hq.blueharbor.dev"]


def gen_email(rng: random.Random, family: str) -> tuple[str, str]:
    first, last = rng.choice(FIRST_ASCII), rng.choice(LAST).replace(" ", "")
    if family == "git_author":
        addr = f"{first}.{last}@{rng.choice(CORPORATE)}"
        return f"{first.title()} {last.title()} <{addr}>", addr
    if family == "isp_regional":
        addr = rng.choice([f"{first}{last}{rng.randint(1, 99)}@{rng.choice(DOMAINS)}", f"{first[0]}.{last}@{rng.choice(DOMAINS)}"])
    elif family == "corporate_subdomain":
        addr = f"{first}.{last}@{rng.choice(CORPORATE)}"
    elif family == "punycode":
        # IDNA A-labels of münchen, café, bücher, müller
        addr = rng.choice([f"{first}@xn--mnchen-3ya.de", f"{first}.{last}@xn--caf-dma.fr", f"{last}@xn--bcher-kva.nl",
                           f"{first}.{last}@xn--mller-kva.de"])
    elif family == "hyphen_tag":
        addr = f"{first}-{rng.choice(['invoices', 'github', 'school', 'tax2025'])}@{rng.choice(DOMAINS)}"
    else:  # digits_first
        addr = f"{rng.randint(1960, 2009)}{first}{last[:1]}@{rng.choice(DOMAINS)}"
    return addr, addr


def gen_email_negative(rng: random.Random, family: str) -> tuple[str, str]:
    first, last = rng.choice(FIRST_ASCII), rng.choice(LAST).replace(" ", "")
    if family == "reserved_domain":  # RFC 2606 / RFC 6761: names that can never be anyone's mailbox
        value = f"{first}.{last}@{rng.choice(['example.com', 'example.org', 'example.net', 'shop.example', 'mail.test', 'host.invalid'])}"
    elif family == "message_id":  # RFC 5322 §3.6.4: msg-id has addr-spec syntax but names a message
        value = f"<{rand(rng, ALNUM, 24)}.{rng.randint(1000, 9999)}@{rng.choice(['mail.gmail.com', 'eu-west-1.amazonses.com', 'mx.kpnmail.nl'])}>"
    elif family == "git_ssh":
        value = f"git@{rng.choice(['github.com', 'gitlab.com', 'bitbucket.org'])}:{rng.choice(['acme', 'platform-team'])}/{rng.choice(['billing', 'infra', 'web'])}.git"
    elif family == "scoped_package":
        value = f"@{rng.choice(['angular', 'aws-sdk', 'tanstack', 'babel'])}/{rng.choice(['core', 'client-s3', 'query', 'parser'])}@{rng.randint(1, 19)}.{rng.randint(0, 9)}.{rng.randint(0, 30)}"
    elif family == "shell_prompt":
        value = f"{rng.choice(['deploy', 'ubuntu', 'ci', 'root'])}@{rng.choice(['web-01', 'build-runner-7', 'db-replica'])}:~$"
    else:  # decorator
        value = rng.choice(['@app.route("/invoices")', "@dataclass(frozen=True)", "@Injectable()", "@lru_cache(maxsize=128)",
                            "@Transactional(readOnly = true)", "@pytest.mark.parametrize"])
    return value, value


# --- secrets -------------------------------------------------------------------------------------------------------

def gen_aws_key_id(rng: random.Random, family: str) -> tuple[str, str]:
    value = family.upper() + rand(rng, string.ascii_uppercase + "234567", 16)
    return value, value


def gen_aws_key_id_negative(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "unique_id":  # IAM unique IDs: 21 characters, prefix names the entity; identifiers, not credentials
        value = rng.choice(["AIDA", "AROA", "AGPA", "ANPA", "AIPA", "ASCA", "APKA"]) + rand(rng, string.ascii_uppercase + "234567", 17)
    elif family == "documentation":  # the example key IDs of the AWS documentation
        value = rng.choice(["AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPLE", "ASIAIOSFODNN7EXAMPLE"])
    else:  # masked as consoles and CLIs display keys
        key = "AKIA" + rand(rng, string.ascii_uppercase + "234567", 16)
        value = rng.choice([f"{key[:4]}{'*' * 12}{key[-4:]}", f"****************{key[-4:]}", f"{key[:8]}…"])
    return value, value


def gen_aws_secret(rng: random.Random, family: str) -> tuple[str, str]:
    value = rand(rng, B64, 40)
    return value, value


def gen_github(rng: random.Random, family: str) -> tuple[str, str]:
    value = f"github_pat_{rand(rng, ALNUM, 22)}_{rand(rng, ALNUM, 59)}" if family == "github_pat" else f"{family}_{rand(rng, ALNUM, 36)}"
    return value, value


def gen_slack(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "xoxb":
        value = f"xoxb-{digits(rng, 13)}-{digits(rng, 13)}-{rand(rng, ALNUM, 24)}"
    elif family == "xoxp":
        value = f"xoxp-{digits(rng, 13)}-{digits(rng, 13)}-{digits(rng, 13)}-{rand(rng, HEX, 32)}"
    elif family == "xapp":
        value = f"xapp-1-A{rand(rng, UPPER_DIGITS, 10)}-{digits(rng, 13)}-{rand(rng, HEX, 64)}"
    elif family == "xoxe_refresh":  # token rotation: refresh tokens start xoxe-
        value = f"xoxe-1-{rand(rng, ALNUM, 146)}"
    else:  # xoxe_access: rotating access tokens, xoxe.xoxb- / xoxe.xoxp-
        value = f"xoxe.{rng.choice(['xoxb', 'xoxp'])}-1-{rand(rng, ALNUM, 140)}"
    return value, value


def gen_stripe(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "whsec":
        value = "whsec_" + rand(rng, ALNUM, 32)
    elif family == "sk_live":
        value = "sk_live_" + rng.choice(["51" + rand(rng, ALNUM, 97), rand(rng, ALNUM, 24)])
    else:
        value = "rk_live_" + rng.choice(["51" + rand(rng, ALNUM, 97), rand(rng, ALNUM, 24)])
    return value, value


def gen_google(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "api_key":
        value = "AIza" + rand(rng, URLSAFE, 35)
    elif family == "oauth_access":
        value = "ya29." + rand(rng, URLSAFE, rng.randint(120, 220))
    else:
        value = "GOCSPX-" + rand(rng, URLSAFE, 28)
    return value, value


OPENAI_MARKER = "T3BlbkFJ"  # base64 of "OpenAI", which keys issued by the platform carry in their middle


def gen_openai(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "legacy":
        value = f"sk-{rand(rng, ALNUM, 20)}{OPENAI_MARKER}{rand(rng, ALNUM, 20)}"
    else:
        half = rng.randint(60, 76)
        value = f"sk-{family}-{rand(rng, URLSAFE, half)}{OPENAI_MARKER}{rand(rng, URLSAFE, half)}"
    return value, value


PEM_LABELS = {"pkcs8": "PRIVATE KEY", "rsa": "RSA PRIVATE KEY", "ec": "EC PRIVATE KEY", "openssh": "OPENSSH PRIVATE KEY",
              "encrypted": "ENCRYPTED PRIVATE KEY"}


def pem_lines(rng: random.Random, size: int) -> list[str]:
    der = b"\x30\x82" + size.to_bytes(2, "big") + rng.randbytes(size)
    b64 = base64.b64encode(der).decode()
    return [b64[i:i + 64] for i in range(0, len(b64), 64)]  # RFC 7468: 64 characters a line


def gen_private_key(rng: random.Random, family: str) -> tuple[str, str]:
    """A private key; the secret that must not stay readable is one line from the middle of its key material."""
    if family == "ppk":  # PuTTY private key file, format 3
        pub = [rand(rng, B64, 64) for _ in range(rng.choice([2, 6]))]
        priv = [rand(rng, B64, 64) for _ in range(rng.choice([1, 14]))]
        alg = "ssh-ed25519" if len(pub) == 2 else "ssh-rsa"
        value = "\n".join([f"PuTTY-User-Key-File-3: {alg}", "Encryption: none", f"Comment: {alg}-key-2025{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
                           f"Public-Lines: {len(pub)}", *pub, f"Private-Lines: {len(priv)}", *priv,
                           f"Private-MAC: {rand(rng, HEX, 64)}"])
        return value, priv[len(priv) // 2]
    label = PEM_LABELS[family]
    lines = pem_lines(rng, rng.choice([121, 138, 600, 1190]))
    if family == "openssh":  # PROTOCOL.key: "openssh-key-v1\0" then the key blob, base64 in 70-character lines
        b64 = base64.b64encode(b"openssh-key-v1\x00" + rng.randbytes(rng.choice([380, 1800]))).decode()
        lines = [b64[i:i + 70] for i in range(0, len(b64), 70)]
    eol = "\r\n" if rng.random() < 0.25 else "\n"  # PEM files saved on Windows
    value = eol.join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])
    return value, lines[len(lines) // 2]


def gen_private_key_negative(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "public_pem":
        label = rng.choice(["PUBLIC KEY", "CERTIFICATE", "CERTIFICATE REQUEST", "X509 CRL"])
        value = "\n".join([f"-----BEGIN {label}-----", *pem_lines(rng, rng.choice([290, 800])), f"-----END {label}-----"])
    elif family == "ssh_public":
        value = rng.choice([f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{rand(rng, B64, 43)} ci-runner-{rng.randint(1, 9)}",
                            f"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ{rand(rng, B64, 300)}= deploy key",
                            f"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBB{rand(rng, B64, 90)}="])
    elif family == "pgp_public":
        body = base64.b64encode(rng.randbytes(300)).decode()
        value = "\n".join(["-----BEGIN PGP PUBLIC KEY BLOCK-----", "", *[body[i:i + 64] for i in range(0, len(body), 64)],
                           "=" + base64.b64encode(rng.randbytes(3)).decode(), "-----END PGP PUBLIC KEY BLOCK-----"])
    elif family == "placeholder_pem":
        label = rng.choice(["PRIVATE KEY", "RSA PRIVATE KEY", "OPENSSH PRIVATE KEY"])
        body = rng.choice(["...", "<your private key here>", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC...", "(contents of key.pem)"])
        value = f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"
    else:  # mention: tooling that names the marker without a key
        value = rng.choice(['grep -rl "BEGIN RSA PRIVATE KEY" .', "if line.startswith('-----BEGIN PRIVATE KEY-----'):",
                            "detect-private-key (pre-commit hook): Passed", "openssl genpkey -algorithm ed25519 -out key.pem"])
    return value, value


JWT_ISSUERS = ["https://acme-eu.eu.auth0.com/", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Xk29fPq7R",
               f"https://login.microsoftonline.com/{uuid.UUID(int=0x5f3c2a1b9d8e4f7a8b6c5d4e3f2a1b0c)}/v2.0",
               "https://securetoken.google.com/tailwind-prod", "https://keycloak.internal/realms/staff"]
JWT_SIG_BYTES = {"RS256": 256, "ES256": 64, "EdDSA": 64, "PS512": 512, "HS384": 48}


def jwt_claims(rng: random.Random) -> str:
    now = 1_730_000_000 + rng.randint(0, 40_000_000)
    claims = {"iss": rng.choice(JWT_ISSUERS), "sub": rng.choice([str(uuid.UUID(bytes=rng.randbytes(16))), f"auth0|{rand(rng, HEX, 24)}"]),
              "aud": rng.choice(["api://billing", "https://api.tailwind.dev", "account"]), "iat": now, "exp": now + 900,
              "scope": rng.choice(["openid profile", "invoices:read invoices:write", "offline_access"])}
    return b64url(json.dumps(claims, separators=(",", ":")).encode())


def gen_jwt(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "jwe":  # RFC 7516 compact JWE, five parts; RFC 7519 JWTs may be encrypted
        header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": rand(rng, URLSAFE, 20), "cty": "JWT"}
        parts = [b64url(json.dumps(header, separators=(",", ":")).encode()), b64url(rng.randbytes(256)),
                 b64url(rng.randbytes(12)), b64url(rng.randbytes(rng.randint(200, 500))), b64url(rng.randbytes(16))]
        value = ".".join(parts)
        return value, value
    header = {"alg": family, "typ": rng.choice(["JWT", "at+jwt"]), "kid": rand(rng, URLSAFE, rng.choice([16, 27, 43]))}
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    value = f"{h}.{jwt_claims(rng)}.{b64url(rng.randbytes(JWT_SIG_BYTES[family]))}"
    return value, value


def gen_jwt_negative(rng: random.Random, family: str) -> tuple[str, str]:
    h = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    if family == "unsecured":  # RFC 7519 §6: alg "none", empty signature; proves nothing, grants nothing
        value = f"{b64url(json.dumps({'alg': 'none'}).encode())}.{jwt_claims(rng)}."
    elif family == "cursor":  # base64url JSON pagination cursors, no dots
        value = b64url(json.dumps({"page": rng.randint(2, 90), "after": rand(rng, HEX, 12)}).encode())
    elif family == "header_only":
        value = h
    elif family == "truncated":
        claims = jwt_claims(rng)
        value = rng.choice([f"{h}.{claims[:rng.randint(8, 24)]}...", f"{h[:20]}…", f"{h}.{claims}.<signature>"])
    else:
        value = rng.choice(["<access_token>", "eyJhbGciOiJSUzI1NiIs...", "Bearer {{token}}", "JWT_GOES_HERE", "${ID_TOKEN}"])
    return value, value


def url_password(rng: random.Random) -> str:
    raw = rand(rng, ALNUM + "!$&'()*+,;=-._~:@/?#[]", rng.randint(14, 30))
    return "".join(c if c in ALNUM + "-._~" else f"%{ord(c):02X}" for c in raw)


def gen_url_password(rng: random.Random, family: str) -> tuple[str, str]:
    password = url_password(rng) if rng.random() < 0.5 else rand(rng, ALNUM, rng.randint(14, 28))
    user = rng.choice(["svc_ingest", "reporter", "app-rw", "backup", "ops"])
    if family == "proxy":
        value = f"{rng.choice(['http', 'https', 'socks5', 'socks5h'])}://{user}:{password}@proxy.corp.tailwind.eu:{rng.choice(['3128', '8080', '1080'])}"
    elif family == "mongodb_multi":
        value = f"mongodb://{user}:{password}@mongo-0.db:27017,mongo-1.db:27017,mongo-2.db:27017/orders?replicaSet=rs0&authSource=admin"
    elif family == "git_https":
        value = f"https://{user}:{password}@git.tailwind.dev/platform/infra.git"
    elif family == "jdbc_query":  # JDBC drivers take the password as a URL parameter
        password = rand(rng, ALNUM + "!*-_.", rng.randint(14, 26))
        value = f"jdbc:postgresql://pg-primary.internal:5432/ledger?user={user}&password={password}&sslmode=require"
    elif family == "sftp":
        value = f"sftp://{user}:{password}@files.partner-bank.example.net:22/inbound/"
    else:  # postgres_params
        value = f"postgresql://{user}:{password}@10.20.{rng.randint(0, 255)}.{rng.randint(1, 254)}:6432/analytics?sslmode=verify-full&application_name=etl"
    return value, password


def gen_url_password_negative(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "templated":
        value = rng.choice(["postgresql://app:${DB_PASSWORD}@db:5432/app", "amqp://guest:{{ .Values.rabbit.password }}@mq:5672/",
                            "mongodb://admin:%(mongo_password)s@mongo:27017", "redis://:$REDIS_PASSWORD@cache:6379/0",
                            "https://x-access-token:${{ secrets.GITHUB_TOKEN }}@github.com/acme/infra.git"])
    elif family == "masked":
        value = rng.choice(["postgresql://app:****@db.internal:5432/app", "mysql://admin:xxxxxxxx@127.0.0.1:3306/shop",
                            "mongodb+srv://svc:<password>@cluster0.mongodb.net/", "sftp://ops:[REDACTED]@files.internal/"])
    elif family == "no_password":
        value = rng.choice(["ssh://git@git.tailwind.dev:2222/platform/infra.git", "https://deploy@registry.tailwind.dev/v2/",
                            "ftp://anonymous:@ftp.gnu.org/gnu/", "postgresql://reporter@db.internal/analytics"])
    else:  # lookalike: a colon and an @ that are not userinfo
        # (the mailto: address is at a name RFC 2606 reserves: ops@tailwind.dev was a real-looking mailbox, which is
        # PII, so a sample labelled "nothing to find" could not hold it; README.md, "heldout3", label corrections)
        value = rng.choice(["http://[2001:db8::17]:8080/healthz", "https://medium.com/@tailwind/how-we-ship-4f2a",
                            "https://maps.example.net/@52.5200,13.4050,12z", "mailto:ops@example.net?subject=pager"])
    return value, value


ENV_NAMES = ["SHOPIFY_API_SECRET", "PAYPAL_CLIENT_SECRET", "CLOUDINARY_API_SECRET", "PUSHER_APP_SECRET",
             "KEYCLOAK_CLIENT_SECRET", "COOKIE_SECRET", "RAILS_MASTER_KEY", "SECRET_KEY_BASE", "FLASK_SECRET_KEY",
             "ENCRYPTION_PASSPHRASE", "LDAP_BIND_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "APP_KEY", "SMTP_PASS",
             "Db__Password", "ConnectionStrings__Secret"]


def env_line(rng: random.Random, family: str, name: str, value: str) -> str:
    if family == "dockerfile":
        return f"{rng.choice(['ENV', 'ARG'])} {name}={value}"
    if family == "k8s_env":  # a container's env list: the name is the line above the value
        return f"- name: {name}\n  value: \"{value}\""
    if family == "cli_set":
        return rng.choice([f"heroku config:set {name}={value}", f"fly secrets set {name}={value}",
                           f"kubectl create secret generic app-env --from-literal={name.lower()}={value}",
                           f"gh secret set {name} --body \"{value}\""])
    if family == "jupyter_magic":
        return f"%env {name}={value}"
    return f"{name} = \"{value}\"  # rotated 2025-10"  # dotenv_spaced


# Values written unquoted on a command line or in a Dockerfile keep to characters neither the shell, Docker nor
# IPython would expand or cut; quoted and YAML values may carry any punctuation.
SHELL_SAFE = ALNUM + "-_.@%+=:,/"


def gen_env_secret(rng: random.Random, family: str) -> tuple[str, str]:
    name = rng.choice(ENV_NAMES)
    if name == "APP_KEY":  # Laravel: base64: and 32 random bytes
        value = "base64:" + base64.b64encode(rng.randbytes(32)).decode()
    elif name in ("RAILS_MASTER_KEY", "SECRET_KEY_BASE"):
        value = rand(rng, HEX, 32 if name == "RAILS_MASTER_KEY" else 128)
    elif family in ("dockerfile", "cli_set", "jupyter_magic"):
        value = rand(rng, rng.choice([ALNUM, SHELL_SAFE]), rng.randint(18, 44))
    else:
        value = rand(rng, rng.choice([ALNUM, ALNUM + "&=%!#*-_.@^~+", ALNUM + "$%(){}[]<>?"]), rng.randint(18, 44))
    return env_line(rng, family, name, value), value


ENV_NEGATIVES = [("TOKEN_EXPIRY", "15m"), ("SECRET_NAME", "prod/db/credentials"), ("API_KEY_HEADER", "X-Api-Key"),
                 ("JWT_ALGORITHM", "RS256"), ("SECRET_KEY_FILE", "/run/secrets/django_key"), ("KEY_VAULT_NAME", "kv-prod-weu"),
                 ("PASSWORD_HASHER", "argon2id"), ("SESSION_COOKIE_SECURE", "true"), ("VAULT_ADDR", "https://vault.internal:8200"),
                 ("ENABLE_TOKEN_REFRESH", "true"), ("OPENAI_MODEL", "gpt-4.1-mini"), ("STRIPE_API_VERSION", "2024-06-20"),
                 ("DB_PASSWORD_FILE", "/run/secrets/db_password"), ("AUTH_PROVIDER", "okta"), ("API_TOKEN", ""),
                 ("SECRET_ROTATION_DAYS", "30")]


def gen_env_negative(rng: random.Random, family: str) -> tuple[str, str]:
    name, value = rng.choice(ENV_NEGATIVES)
    line = env_line(rng, family, name, value)
    return line, line


# --- negatives that are not one format's near miss -------------------------------------------------------------------

PLACEHOLDERS = ["<YOUR_OPENAI_API_KEY>", "sk-...a1B2", "ghp_************************************", "xoxb-***",
                "API_TOKEN: ***", "whsec_<signing secret>", "AIza<your key>", "your-secret-here", "[MASKED]", "•••••••••",
                "sk_live_...", "TODO: paste key", "ENC[AES256_GCM,data:Tr7o=,iv:1x2c=,tag:Qw9=,type:str]"]
TEMPLATE_REFERENCES = ["var.stripe_secret_key", "${var.db_password}", "{{ lookup('env', 'API_TOKEN') }}", "!Ref DbPassword",
                       "{{resolve:secretsmanager:prod/db:SecretString:password}}", "$__env{GRAFANA_TOKEN}",
                       "op://Platform/stripe/credential", "vault:secret/data/api#token", "\"{{ vault_db_password }}\"",
                       "valueFrom.secretKeyRef: {name: api, key: token}", "${ssm:/prod/api/token}", "env(\"SLACK_TOKEN\")"]


def gen_placeholder(rng: random.Random, family: str) -> tuple[str, str]:
    value = rng.choice(PLACEHOLDERS if family == "documentation" else TEMPLATE_REFERENCES)
    return value, value


def gtin13(rng: random.Random) -> str:
    body = rng.choice(["400", "590", "800", "789", "471"]) + digits(rng, 9)
    return body + str((10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body)) % 10) % 10)


def gen_benign(rng: random.Random, family: str) -> tuple[str, str]:
    while True:
        value = _benign(rng, family)
        plain = "".join(c for c in value if c.isdigit())
        # numbers written without letters whose digits would be a Luhn-valid card length are drawn again (a card)
        if any(c.isalpha() for c in value) or not (12 <= len(plain) <= 19 and luhn_valid(plain)):
            return value, value


def _benign(rng: random.Random, family: str) -> str:
    if family == "trace_context":  # W3C Trace Context
        value = rng.choice([f"00-{rand(rng, HEX, 32)}-{rand(rng, HEX, 16)}-01", rand(rng, HEX, 32), rand(rng, HEX, 16)])
    elif family == "k8s_uid":
        value = str(uuid.UUID(bytes=rng.randbytes(16), version=4))
    elif family == "slack_ids":
        value = rng.choice([f"{rng.randint(1_700_000_000, 1_760_000_000)}.{digits(rng, 6)}", f"C0{rand(rng, UPPER_DIGITS, 9)}",
                            f"U0{rand(rng, UPPER_DIGITS, 9)}"])
    elif family == "cloud_ids":
        value = rng.choice([f"vpc-0{rand(rng, HEX, 16)}", f"subnet-0{rand(rng, HEX, 16)}", f"eni-0{rand(rng, HEX, 16)}",
                            f"/subscriptions/{uuid.UUID(bytes=rng.randbytes(16))}/resourceGroups/rg-weu-prod",
                            f"projects/tailwind-prod/locations/europe-west4/clusters/gke-{rand(rng, HEX, 6)}"])
    elif family == "notebook_ids":
        value = rng.choice([rand(rng, HEX, 8), f"{rand(rng, HEX, 8)}-{rand(rng, HEX, 4)}-{rand(rng, HEX, 4)}"])
    elif family == "etag":
        value = rng.choice([f"\"{hashlib.md5(rng.randbytes(20)).hexdigest()}\"", f"W/\"{rand(rng, HEX, 8)}-{rand(rng, HEX, 27)}\"",
                            f"\"{hashlib.md5(rng.randbytes(20)).hexdigest()}-{rng.randint(2, 40)}\""])
    elif family == "hl7_control":
        value = no_card(rng, lambda: rng.choice([f"MSG{digits(rng, 10)}", digits(rng, 14), f"{rng.randint(2024, 2025)}{digits(rng, 10)}"]))
    elif family == "gtin":
        value = no_card(rng, lambda: gtin13(rng))
    elif family == "rrn":  # card-network retrieval reference numbers and auth codes printed on receipts
        value = no_card(rng, lambda: rng.choice([digits(rng, 12), f"AUTH {digits(rng, 6)}"]))
    elif family == "png_thumbnail":
        value = "iVBORw0KGgoAAAANSUhEUgAA" + base64.b64encode(rng.randbytes(rng.choice([48, 96]))).decode()
    elif family == "measurements":
        value = rng.choice([f"{rng.uniform(-60, 60):.4f}, {rng.uniform(-170, 170):.4f}", f"EUR {rng.randint(1, 99)}.{digits(rng, 3)},{digits(rng, 2)}",
                            f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2025 {rng.randint(0, 23):02d}:{digits(rng, 2)}",
                            f"{rng.randint(90, 180)}/{rng.randint(50, 110)} mmHg"])
    else:  # digit_run: numbers of card length that fail Luhn (a Luhn-valid one would be a card)
        value = no_card(rng, lambda: rng.choice([digits(rng, 16), " ".join(digits(rng, 4) for _ in range(4)), digits(rng, 19)]))
    return value


# --- kinds -----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    name: str  # the format a positive carries, or a negative imitates
    detector: str
    positive: bool
    families: tuple[str, ...]
    make: Callable[[random.Random, str], tuple[str, str]]
    labels: tuple[str, ...]  # words that introduce the value in text
    keys: tuple[str, ...]  # member and key names that hold it
    needs_label: bool = False  # whether the value means nothing without its label next to it
    headers: tuple[str, ...] = ()  # HTTP header prefixes that carry it (credentials sent as headers)
    line: bool = False  # whether the value is a whole configuration line (env kinds)


def fams(*names: str) -> tuple[str, ...]:
    return names


BEARER = ("Authorization: Bearer ",)
KINDS = [
    Kind("card", "pii", True, tuple(CARD_ISSUERS), gen_card,
         ("card number", "número de tarjeta", "numero di carta", "número do cartão", "kaartnummer", "numer karty", "PAN on file"),
         ("cardNumber", "card_pan", "paymentCardNo", "billing.card", "cc_num")),
    Kind("ssn", "pii", True, fams("dashed", "plain", "spaced", "en_dash"), gen_ssn,
         ("SSN", "Social Security number (SSN)", "número de Seguro Social", "SSN of the subscriber", "soc sec #"),
         ("subscriberSsn", "ssn_number", "guarantor.ssn", "SocialSecurityNo", "ssn9"), needs_label=True),
    Kind("iban", "pii", True, tuple(IBAN_FAMILIES), gen_iban,
         ("IBAN", "cuenta IBAN", "IBAN beneficiario", "IBAN do favorecido", "rekeningnummer (IBAN)", "numer rachunku IBAN"),
         ("debtorIban", "payout_iban", "bankAccount.iban", "ibanCode", "refund_iban")),
    Kind("phone", "pii", True, fams("us", "ca", "gb", "de", "fr", "au", "in", "br", "jp", "es", "it", "nl", "e164_other"),
         gen_phone, ("phone", "teléfono", "telefono", "telefone", "telefoonnummer", "numer telefonu", "best callback"),
         ("callbackPhone", "phone_e164", "patient.telecom", "contact_tel", "whatsapp")),
    Kind("email", "pii", True, fams("git_author", "isp_regional", "corporate_subdomain", "punycode", "hyphen_tag", "digits_first"),
         gen_email, ("email", "correo electrónico", "indirizzo email", "e-mail", "e-mailadres", "adres e-mail", "Author"),
         ("requesterEmail", "email_address", "owner.mail", "notify_to", "userPrincipalName")),
    Kind("aws_access_key_id", "secrets", True, fams("akia", "asia"), gen_aws_key_id,
         ("aws_access_key_id", "Access key ID", "IAM key"), ("aws_access_key_id", "AccessKeyId", "access_key", "awsKeyId")),
    Kind("aws_secret_access_key", "secrets", True, fams("base64"), gen_aws_secret,
         ("aws_secret_access_key", "Secret access key", "AWS secret"),
         ("aws_secret_access_key", "SecretAccessKey", "secret_key", "awsSecret"), needs_label=True),
    Kind("github_token", "secrets", True, fams("ghp", "gho", "ghu", "ghs", "ghr", "github_pat"), gen_github,
         ("GitHub token", "fine-grained PAT", "GH_PAT"), ("gh_pat", "githubAccessToken", "GIT_TOKEN", "registry_token"),
         headers=("Authorization: token ", "Authorization: Bearer ")),
    Kind("slack_token", "secrets", True, fams("xoxb", "xoxp", "xapp", "xoxe_refresh", "xoxe_access"), gen_slack,
         ("Slack token", "refresh token", "SLACK_APP_TOKEN"), ("slackBotToken", "slack_refresh_token", "SLACK_USER_TOKEN", "token"),
         headers=BEARER),
    Kind("stripe_key", "secrets", True, fams("sk_live", "rk_live", "whsec"), gen_stripe,
         ("Stripe key", "restricted key", "endpoint secret"), ("STRIPE_SK", "stripeRestrictedKey", "endpoint_secret", "payments.key"),
         headers=BEARER),
    Kind("google_credential", "secrets", True, fams("api_key", "oauth_access", "client_secret"), gen_google,
         ("Google API key", "OAuth access token", "client secret"), ("googleMapsKey", "gcp_access_token", "oauthClientSecret", "GOOGLE_KEY"),
         headers=("x-goog-api-key: ", "Authorization: Bearer ")),
    Kind("openai_key", "secrets", True, fams("proj", "svcacct", "admin", "legacy"), gen_openai,
         ("OpenAI key", "project key", "admin key"), ("openaiKey", "OPENAI_API_KEY", "llm.apiKey", "provider_key"), headers=BEARER),
    Kind("private_key", "secrets", True, fams("pkcs8", "rsa", "ec", "openssh", "encrypted", "ppk"), gen_private_key,
         ("private key", "SSH key", "TLS key"), ("tls.key", "sshPrivateKey", "private_key", "signingKeyPem")),
    Kind("jwt", "secrets", True, fams("RS256", "ES256", "EdDSA", "PS512", "HS384", "jwe"), gen_jwt,
         ("access token", "id_token", "session cookie"), ("accessToken", "id_token", "session", "X-Amzn-Oidc-Data"), headers=BEARER),
    Kind("url_password", "secrets", True, fams("proxy", "mongodb_multi", "git_https", "jdbc_query", "sftp", "postgres_params"),
         gen_url_password, ("proxy URL", "JDBC URL", "remote", "connection string"),
         ("HTTPS_PROXY", "jdbcUrl", "remote_url", "mongoUri")),
    Kind("env_secret", "secrets", True, fams("dockerfile", "k8s_env", "cli_set", "jupyter_magic", "dotenv_spaced"),
         gen_env_secret, ("config", "env", "setup step"), ("line", "envLine", "setup_command"), line=True),
    # near misses
    Kind("card", "pii", False, fams("luhn_invalid", "masked_receipt", "imei", "no_issuer_length"), gen_card_negative,
         ("card number", "número de tarjeta", "kaartnummer", "PAN on file"), ("card_pan", "paymentCardNo", "cc_num")),
    Kind("ssn", "pii", False, fams("advertising", "area_invalid", "group00", "serial0000", "masked", "ein"), gen_ssn_negative,
         ("SSN", "Social Security number (SSN)", "soc sec #"), ("subscriberSsn", "ssn_number", "ssn9"), needs_label=True),
    Kind("iban", "pii", False, fams("bad_check", "impossible_check", "wrong_length", "non_registry"), gen_iban_negative,
         ("IBAN", "cuenta IBAN", "rekeningnummer (IBAN)"), ("debtorIban", "payout_iban", "ibanCode")),
    Kind("phone", "pii", False, fams("fictional", "nanp_impossible", "bad_length", "spare_cc"), gen_phone_negative,
         ("phone", "teléfono", "best callback"), ("callbackPhone", "phone_e164", "contact_tel")),
    Kind("email", "pii", False, fams("reserved_domain", "message_id", "git_ssh", "scoped_package", "shell_prompt", "decorator"),
         gen_email_negative, ("email", "e-mail", "correo electrónico"), ("requesterEmail", "email_address", "notify_to")),
    Kind("aws_access_key_id", "secrets", False, fams("unique_id", "documentation", "masked"), gen_aws_key_id_negative,
         ("aws_access_key_id", "Access key ID", "IAM key"), ("aws_access_key_id", "AccessKeyId", "access_key")),
    Kind("private_key", "secrets", False, fams("public_pem", "ssh_public", "pgp_public", "placeholder_pem", "mention"),
         gen_private_key_negative, ("public key", "certificate", "key note"), ("publicKey", "tls.crt", "authorized_key")),
    Kind("jwt", "secrets", False, fams("unsecured", "cursor", "header_only", "truncated", "placeholder"), gen_jwt_negative,
         ("access token", "id_token", "session cookie"), ("accessToken", "id_token", "session"), headers=BEARER),
    Kind("url_password", "secrets", False, fams("templated", "masked", "no_password", "lookalike"), gen_url_password_negative,
         ("connection string", "remote", "link"), ("jdbcUrl", "remote_url", "link")),
    Kind("env_secret", "secrets", False, fams("dockerfile", "k8s_env", "cli_set", "jupyter_magic", "dotenv_spaced"),
         gen_env_negative, ("config", "env", "setup step"), ("line", "envLine", "setup_command"), line=True),
    Kind("placeholder", "secrets", False, fams("documentation", "template"), gen_placeholder,
         ("API key", "client secret", "token", "password"), ("apiKey", "client_secret", "token", "password"),
         headers=("Authorization: Bearer ", "X-Api-Key: ")),
    Kind("benign", "secrets", False,
         fams("trace_context", "k8s_uid", "slack_ids", "cloud_ids", "notebook_ids", "etag", "hl7_control", "gtin", "rrn",
              "png_thumbnail", "measurements", "digit_run"),
         gen_benign, ("trace", "uid", "ref", "resource", "cell id", "etag", "control id", "barcode", "retrieval ref", "thumbnail",
                      "reading"),
         ("traceparent", "uid", "ts", "resourceId", "cellId", "etag", "controlId", "gtin", "rrn", "thumbnail", "reading")),
]

# Families whose labels differ from their kind's: an IMEI is introduced as an IMEI, an EIN as a business tax ID.
# Everything else a near miss imitates is introduced by its format's own names (a reserved-domain address is an
# e-mail address; a masked key ID is a key ID), so the names never tell the label.
FAMILY_NAMES: dict[tuple[str, bool, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("card", False, "imei"): (("IMEI", "IMEI 1", "device IMEI"), ("imei", "deviceImei", "handset_imei")),
    ("ssn", False, "ein"): (("EIN", "employer ID (EIN)", "Federal Tax ID"), ("ein", "employerId", "federal_tax_id")),
    ("aws_access_key_id", False, "unique_id"): (("UserId", "RoleId", "principal id"), ("UserId", "RoleId", "principalId")),
    ("jwt", False, "cursor"): (("next cursor", "page token"), ("nextCursor", "page_token", "cursor")),
    ("email", False, "message_id"): (("Message-ID", "In-Reply-To"), ("messageId", "in_reply_to")),
    ("email", False, "git_ssh"): (("remote", "clone URL"), ("remote_url", "cloneUrl")),
    ("email", False, "scoped_package"): (("dependency", "package"), ("dependency", "package")),
    ("email", False, "shell_prompt"): (("prompt", "shell"), ("prompt", "shell")),
    ("email", False, "decorator"): (("decorator", "annotation"), ("decorator", "annotation")),
}


FAMILY_LABELS = {label for labels, _ in FAMILY_NAMES.values() for label in labels}


def names(kind: Kind, family: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return FAMILY_NAMES.get((kind.name, kind.positive, family), (kind.labels, kind.keys))


# --- text contexts ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ctx:
    """What a text context is given: the value as generated, its label, its member name, and the kind."""

    kind: Kind
    value: str
    label: str
    key: str
    rng: random.Random

    @property
    def snake(self) -> str:
        out = "".join(c if c.isalnum() else "_" for c in self.key)
        return "".join(f"_{c.lower()}" if c.isupper() and i and out[i - 1].islower() else c.lower() for i, c in enumerate(out))

    @property
    def upper(self) -> str:
        return self.snake.upper()

    @property
    def camel(self) -> str:
        parts = self.snake.split("_")
        return parts[0] + "".join(p.title() for p in parts[1:])

    @property
    def name(self) -> str:
        return person(self.rng)


def _n(ctx: Ctx, lo: int = 10, hi: int = 9999) -> int:
    return ctx.rng.randint(lo, hi)


def ctx_http_dump(ctx: Ctx) -> tuple[str, str]:
    if ctx.kind.headers and ctx.rng.random() < 0.5:
        head = f"{ctx.rng.choice(ctx.kind.headers)}{ctx.value}"
        return (f"GET /v1/{ctx.rng.choice(['invoices', 'me', 'files'])}?limit=20 HTTP/1.1\r\nHost: api.tailwind.dev\r\n"
                f"{head}\r\nAccept: application/json\r\nUser-Agent: agent-runtime/0.9\r\n\r\n"), ctx.value
    body = f'{{"{ctx.key}": "{ctx.value}", "source": "agent"}}'
    return (f"POST /api/v2/{ctx.rng.choice(['customers', 'payouts', 'settings'])} HTTP/1.1\r\nHost: internal.tailwind.dev\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body.encode())}\r\n\r\n{body}"), ctx.value


def ctx_curl(ctx: Ctx) -> tuple[str, str]:
    if ctx.kind.headers and ctx.rng.random() < 0.5:
        return (f"curl -sS https://api.tailwind.dev/v1/me \\\n  -H '{ctx.rng.choice(ctx.kind.headers)}{ctx.value}' \\\n"
                "  -H 'Accept: application/json'"), ctx.value
    return (f"curl -sS -X POST https://api.tailwind.dev/v1/{ctx.rng.choice(['profile', 'billing'])} \\\n"
            f"  -H 'Content-Type: application/json' \\\n  -d '{{\"{ctx.key}\": \"{ctx.value}\"}}'"), ctx.value


def indent(value: str, pad: str) -> str:
    return "\n".join(pad + line for line in value.split("\n"))


def ctx_k8s(ctx: Ctx) -> tuple[str, str]:
    secret = ctx.kind.detector == "secrets"
    head = (f"apiVersion: v1\nkind: {'Secret' if secret else 'ConfigMap'}\nmetadata:\n  name: {ctx.rng.choice(['billing', 'crm-sync', 'payouts'])}"
            f"-{'credentials' if secret else 'config'}\n  namespace: {ctx.rng.choice(['prod', 'staging'])}\n"
            f"{'type: Opaque' + chr(10) + 'stringData' if secret else 'data'}:\n")
    if "\n" in ctx.value:
        written = indent(ctx.value.replace("\r\n", "\n"), "    ")
        return f"{head}  {ctx.key}: |\n{written}\n", written
    return f"{head}  {ctx.key}: \"{ctx.value}\"\n", ctx.value


def ctx_tfvars(ctx: Ctx) -> tuple[str, str]:
    if "\n" in ctx.value:
        return f"# prod.auto.tfvars\nregion = \"eu-central-1\"\n{ctx.snake} = <<-EOT\n{ctx.value}\nEOT\n", ctx.value
    return f"# prod.auto.tfvars\nregion         = \"eu-central-1\"\n{ctx.snake} = \"{ctx.value}\"\ninstance_count = 3\n", ctx.value


def ctx_gha_log(ctx: Ctx) -> tuple[str, str]:
    t = f"2025-11-04T09:12:{_n(ctx, 10, 59)}"
    return (f"{t}.1182345Z ##[group]Run ./scripts/sync.sh\n{t}.1190021Z ./scripts/sync.sh\n"
            f"{t}.1200312Z shell: /usr/bin/bash -e {{0}}\n{t}.1201377Z env:\n{t}.1202455Z   {ctx.upper}: {ctx.value}\n"
            f"{t}.1203516Z ##[endgroup]\n"), ctx.value


def ctx_python(ctx: Ctx) -> tuple[str, str]:
    if "\n" in ctx.value:
        return f'import paramiko\n\n{ctx.upper} = """{ctx.value}"""\n\nkey = load({ctx.upper})\n', ctx.value
    return (f"import requests\n\n{ctx.upper} = \"{ctx.value}\"  # TODO: move to the vault\n"
            f"resp = requests.post(URL, json={{\"{ctx.key}\": {ctx.upper}}}, timeout=10)\n"), ctx.value


def ctx_js(ctx: Ctx) -> tuple[str, str]:
    if "\n" in ctx.value:
        return f"const {ctx.camel} = `{ctx.value}`;\nmodule.exports = {{ {ctx.camel} }};\n", ctx.value
    return (f"const {ctx.camel} = '{ctx.value}';\n\nexport async function sync() {{\n"
            f"  return fetch(API_URL, {{ method: 'POST', body: JSON.stringify({{ {ctx.camel} }}) }});\n}}\n"), ctx.value


def ctx_stack_trace(ctx: Ctx) -> tuple[str, str]:
    if ctx.rng.random() < 0.5:
        return (f"Traceback (most recent call last):\n  File \"/srv/app/sync/{ctx.snake}.py\", line {_n(ctx, 20, 400)}, in push\n"
                f"    raise ValidationError(field)\napp.errors.ValidationError: {ctx.label} rejected: {ctx.value}\n"), ctx.value
    cls = ctx.rng.choice(["PaymentService", "ProfileUpdater", "CredentialStore"])
    return (f"java.lang.IllegalArgumentException: {ctx.label} rejected: {ctx.value}\n"
            f"\tat com.tailwind.core.{cls}.validate({cls}.java:{_n(ctx, 40, 900)})\n"
            f"\tat com.tailwind.core.{cls}.apply({cls}.java:{_n(ctx, 40, 900)})\n"), ctx.value


def ctx_hl7(ctx: Ctx) -> tuple[str, str]:
    v = ctx.value
    phone = v if ctx.kind.name == "phone" else f"^PRN^PH^^1^{ctx.rng.choice(NANP_AREAS_US)}^{nanp_exchange(ctx.rng)}{digits(ctx.rng, 4)}"
    if ctx.kind.name == "email":
        phone = f"^NET^Internet^{v}"
    last, first = ctx.rng.choice(LAST).upper(), ctx.rng.choice(FIRST_ASCII).upper()
    # segments end in CR on the wire; written here one a line, as logs and tickets show them
    return (f"MSH|^~\\&|EPIC|MERIDIAN|LAB|MERIDIAN|20251104091244||ADT^A04|{digits(ctx.rng, 9)}|P|2.5.1\n"
            f"PID|1||{digits(ctx.rng, 7)}^^^MERIDIAN^MR||{last}^{first}||19{rng_2(ctx)}0{ctx.rng.randint(1, 9)}1{ctx.rng.randint(0, 9)}|F|||"
            f"12 Harbor St^^Portland^OR^97201^USA||{phone}\n"), v


def rng_2(ctx: Ctx) -> str:
    return f"{ctx.rng.randint(40, 99)}"


def ctx_ticket(ctx: Ctx) -> tuple[str, str]:
    if ctx.kind.detector == "pii":
        story = f"Customer called about a failed refund. They gave us their {ctx.label} {ctx.value} and asked us to retry."
    else:
        story = f"A developer pasted the {ctx.label} {ctx.value} into the build notes; please rotate it and confirm."
    return (f"Ticket #{_n(ctx, 40000, 99999)} · Priority: High · Queue: {ctx.rng.choice(['Billing', 'Platform', 'Support L2'])}\n"
            f"Requester: {ctx.name}\nSubject: {ctx.rng.choice(['refund not received', 'access issue', 'please update my details'])}\n\n"
            f"Hi team,\n{story}\n\n— {ctx.name}, Tier 1\n"), ctx.value


PROSE = {
    "es": "Hola, les escribo por la factura de octubre. Mi {label} es {v}. Muchas gracias, {name}",
    "it": "Buongiorno, vi scrivo per il rimborso: il mio {label} è {v}. Cordiali saluti, {name}",
    "pt": "Olá! Segue o meu {label}: {v}. Qualquer dúvida é só chamar. Obrigado, {name}",
    "nl": "Hoi, mijn {label} is {v}, kunnen jullie het aanpassen? Groetjes, {name}",
    "pl": "Dzień dobry, mój {label} to {v}. Proszę o aktualizację danych. Pozdrawiam, {name}",
}
# the label words of each language, by kind; secrets keep their English names, as developers write them
LOCAL_LABELS = {
    "card": {"es": "número de tarjeta", "it": "numero di carta", "pt": "número do cartão", "nl": "kaartnummer", "pl": "numer karty"},
    "ssn": {"es": "número de Seguro Social (SSN)", "it": "SSN (Social Security)", "pt": "número do SSN", "nl": "SSN-nummer",
            "pl": "numer SSN"},
    "iban": {"es": "IBAN", "it": "codice IBAN", "pt": "IBAN", "nl": "IBAN-nummer", "pl": "numer IBAN"},
    "phone": {"es": "teléfono", "it": "numero di cellulare", "pt": "telefone", "nl": "telefoonnummer", "pl": "numer telefonu"},
    "email": {"es": "correo electrónico", "it": "indirizzo email", "pt": "e-mail", "nl": "e-mailadres", "pl": "adres e-mail"},
}


def ctx_prose(ctx: Ctx) -> tuple[str, str]:
    lang = ctx.rng.choice(list(PROSE))
    label = LOCAL_LABELS.get(ctx.kind.name, {}).get(lang, ctx.label)
    if ctx.label in FAMILY_LABELS:
        label = ctx.label  # an IMEI or an EIN keeps its own name in any language
    return PROSE[lang].format(label=label, v=ctx.value, name=ctx.name), ctx.value


def ctx_teams(ctx: Ctx) -> tuple[str, str]:
    a, b = ctx.name, ctx.name
    return (f"[04/11/2025 09:{_n(ctx, 10, 50)}] {a}\ncan you paste it here?\n[04/11/2025 09:{_n(ctx, 51, 59)}] {b}\n"
            f"{ctx.value}\n[04/11/2025 10:02] {a}\nthanks 👍\n"), ctx.value


def ctx_csv(ctx: Ctx) -> tuple[str, str]:
    return (f"\"id\",\"name\",\"{ctx.label}\",\"note\"\r\n\"{_n(ctx, 1000, 99999)}\",\"{ctx.name}\",\"{ctx.value}\","
            f"\"called back, ok\"\r\n"), ctx.value


def ctx_jsonl(ctx: Ctx) -> tuple[str, str]:
    return (f'{{"ts":"2025-11-04T09:12:01Z","event":"session.start","user":{_n(ctx)}}}\n'
            f'{{"ts":"2025-11-04T09:12:07Z","event":"profile.update","{ctx.key}":"{ctx.value}"}}\n'
            f'{{"ts":"2025-11-04T09:12:08Z","event":"session.end"}}\n'), ctx.value


def ctx_receipt(ctx: Ctx) -> tuple[str, str]:
    return (f"CAFÉ CENTRAL #0{_n(ctx, 100, 999)}\n2 x Flat white        9.80\nTOTAL EUR             9.80\n"
            f"{ctx.rng.choice(['CARD', 'CREDIT', 'DEBIT'])}  {ctx.value}\nAUTH {digits(ctx.rng, 6)}  CONTACTLESS\n"), ctx.value


def ctx_vcard(ctx: Ctx) -> tuple[str, str]:
    field = "TEL;TYPE=cell" if ctx.kind.name == "phone" else "EMAIL;TYPE=work"
    return f"BEGIN:VCARD\nVERSION:4.0\nFN:{ctx.name}\n{field}:{ctx.value}\nEND:VCARD\n", ctx.value


def ctx_git_log(ctx: Ctx) -> tuple[str, str]:
    return (f"commit {rand(ctx.rng, HEX, 40)}\nAuthor: {ctx.value}\nDate:   Tue Nov 4 09:12:44 2025 +0100\n\n"
            "    fix(billing): retry payouts on 502\n"), ctx.value


def ctx_ini(ctx: Ctx) -> tuple[str, str]:
    return f"[{ctx.rng.choice(['default', 'prod', 'ci'])}]\n{ctx.snake} = {ctx.value}\nregion = eu-west-1\noutput = json\n", ctx.value


def ctx_dockerfile(ctx: Ctx) -> tuple[str, str]:
    return (f"FROM python:3.12-slim\nWORKDIR /app\nENV {ctx.upper}={ctx.value}\nCOPY . .\n"
            "RUN pip install --no-cache-dir -r requirements.txt\n"), ctx.value


def ctx_line_in_notes(ctx: Ctx) -> tuple[str, str]:
    """For whole configuration lines: a runbook excerpt with the line in a fenced block."""
    return f"Runbook step {_n(ctx, 2, 9)}: set the config before the deploy.\n\n```\n{ctx.value}\n```\n\nThen restart the pods.\n", ctx.value


# (name, render, kinds it serves, labelled, multi-line values fit, characters the value must not contain)
ALL = frozenset({"card", "ssn", "iban", "phone", "email", "aws_access_key_id", "aws_secret_access_key", "github_token",
                 "slack_token", "stripe_key", "google_credential", "openai_key", "private_key", "jwt", "url_password",
                 "placeholder", "benign"})
TEXT_CONTEXTS: list[tuple[str, Callable[[Ctx], tuple[str, str]], frozenset[str], bool, bool, str]] = [
    ("http_dump", ctx_http_dump, ALL, True, False, "\"\\"),
    ("curl", ctx_curl, ALL, True, False, "'\"\\"),
    ("k8s_yaml", ctx_k8s, ALL, True, True, "\"\\"),
    ("tfvars", ctx_tfvars, ALL, True, True, "\"\\$"),
    ("gha_log", ctx_gha_log, ALL, True, False, ""),
    ("python_src", ctx_python, ALL, True, True, "\"\\"),
    ("js_src", ctx_js, ALL, True, True, "'`\\$"),
    ("stack_trace", ctx_stack_trace, ALL, True, False, ""),
    ("hl7_v2", ctx_hl7, frozenset({"phone", "email"}), False, False, "|^~\\&/:"),
    ("support_ticket", ctx_ticket, ALL | {"env_secret"}, True, False, ""),
    ("prose", ctx_prose, ALL | {"env_secret"}, True, False, ""),
    ("teams_chat", ctx_teams, ALL | {"env_secret"}, False, True, ""),
    ("csv_quoted", ctx_csv, ALL, True, True, "\""),
    ("jsonl", ctx_jsonl, ALL, True, False, "\"\\"),
    ("receipt", ctx_receipt, frozenset({"card"}), True, False, ""),
    ("vcard", ctx_vcard, frozenset({"phone", "email"}), True, False, "/"),
    ("git_log", ctx_git_log, frozenset({"email"}), True, False, ""),
    ("ini", ctx_ini, frozenset({"aws_access_key_id", "aws_secret_access_key", "github_token", "slack_token", "stripe_key",
                                "google_credential", "openai_key", "jwt", "url_password", "placeholder", "benign"}), True, False, ""),
    ("dockerfile", ctx_dockerfile, frozenset({"aws_access_key_id", "aws_secret_access_key", "github_token", "slack_token",
                                              "stripe_key", "google_credential", "openai_key", "jwt", "placeholder"}), True, False, " $\\"),
    ("runbook", ctx_line_in_notes, frozenset({"env_secret"}), True, True, ""),
]
# Only for e-mails written as `Name <addr>` (a git author): the contexts where a name-addr is how people write it.
NAME_ADDR_CONTEXTS = {"git_log", "support_ticket", "teams_chat", "csv_quoted", "prose"}


# Contexts whose field itself names the format, and the negatives that really appear in such fields (sample vCards and
# test messages use fictional numbers and reserved domains).
FORMAT_CONTEXTS = {"hl7_v2", "vcard", "git_log"}
FORMAT_CONTEXT_NEGATIVES = {"fictional", "bad_length", "nanp_impossible", "reserved_domain"}


def text_contexts(kind: Kind, family: str, value: str) -> list[str]:
    out = []
    for name, _render, kinds, labelled, multiline, forbidden in TEXT_CONTEXTS:
        if kind.name not in kinds or (kind.needs_label and not labelled):
            continue
        if ("\n" in value and not multiline) or any(c in value for c in forbidden):
            continue
        if (kind.name, family) == ("email", "git_author") and name not in NAME_ADDR_CONTEXTS:
            continue
        if name == "git_log" and family != "git_author":
            continue
        if name == "receipt" and kind.positive is False and family == "imei":
            continue
        if name in FORMAT_CONTEXTS and not kind.positive and family not in FORMAT_CONTEXT_NEGATIVES:
            continue  # a vCard TEL or an HL7 phone field says what the value is: only negatives that plausibly sit there
        out.append(name)
    return out


def render_text(rng: random.Random, kind: Kind, family: str, context: str, value: str) -> tuple[str, str]:
    labels, keys = names(kind, family)
    render = next(r for n, r, *_ in TEXT_CONTEXTS if n == context)
    return render(Ctx(kind=kind, value=value, label=rng.choice(labels), key=rng.choice(keys), rng=rng))


# --- JSON shapes -------------------------------------------------------------------------------------------------------

# Shapes that hold the value under its member name ("keyed"), or a text context inside a string member.
JSON_SHAPES = {
    "json_request": ["har_upload", "jupyter_save", "responses_input", "gemini_request", "form_fields", "fhir_bundle", "k8s_apply"],
    "json_response": ["slack_history", "gemini_response", "jsonrpc_error", "configmap_get", "fhir_patient", "cohere_chat", "har_export"],
}
KEYED_SHAPES = {"har_upload", "form_fields", "fhir_bundle", "k8s_apply", "jsonrpc_error", "configmap_get", "fhir_patient", "har_export"}
FHIR_KINDS = {"ssn", "phone", "email"}
# near misses that test records do hold in a Patient's identifier or telecom
FHIR_NEGATIVES = {"fictional", "bad_length", "nanp_impossible", "reserved_domain", "advertising", "area_invalid", "group00",
                  "serial0000"}


def shapes_for(kind: Kind, family: str, carrier: str) -> list[str]:
    out = []
    for shape in JSON_SHAPES[carrier]:
        if shape.startswith("fhir") and (kind.name not in FHIR_KINDS or not (kind.positive or family in FHIR_NEGATIVES)):
            continue
        if kind.needs_label and shape == "jupyter_save":
            continue  # a code cell carries the value with its name, but keep SSNs to the same rule as text: label near
        out.append(shape)
    return out


def fhir_patient(rng: random.Random, kind: Kind, value: str) -> dict[str, object]:
    doc: dict[str, object] = {"resourceType": "Patient", "id": rand(rng, ALNUM, 12),
                              "name": [{"family": rng.choice(LAST).title(), "given": [rng.choice(FIRST).title()]}]}
    if kind.name == "ssn":
        doc["identifier"] = [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": value},
                             {"system": "urn:oid:2.16.840.1.113883.19.5", "value": f"MRN{digits(rng, 7)}"}]
    else:
        doc["telecom"] = [{"system": "phone" if kind.name == "phone" else "email", "value": value, "use": rng.choice(["mobile", "home", "work"])}]
    return doc


def har_entry(rng: random.Random, kind: Kind, key: str, value: str, response: bool) -> dict[str, object]:
    request: dict[str, object] = {"method": "POST", "url": f"https://api.tailwind.dev/v2/{rng.choice(['profile', 'payouts', 'sync'])}",
                                  "httpVersion": "HTTP/2", "headers": [{"name": "content-type", "value": "application/json"}]}
    content: dict[str, object] = {"size": 2, "mimeType": "application/json", "text": "{}"}
    if kind.headers and rng.random() < 0.5:  # a credential header, captured as a name/value pair
        header, _, prefix = rng.choice(kind.headers).partition(": ")
        request["headers"] = [{"name": header.lower(), "value": prefix + value}, {"name": "accept", "value": "*/*"}]
    elif response:
        text = json.dumps({"ok": True, key: value})
        content = {"size": len(text), "mimeType": "application/json", "text": text}
    else:
        request["postData"] = {"mimeType": "application/json", "text": json.dumps({key: value})}
    return {"startedDateTime": "2025-11-04T09:12:44.118Z", "time": rng.randint(20, 900), "request": request,
            "response": {"status": 200, "statusText": "OK", "content": content}}


def json_body(rng: random.Random, shape: str, kind: Kind, label: str, key: str, text: str, value: str) -> bytes:
    doc: object
    if shape == "har_upload":
        doc = {"jsonrpc": "2.0", "id": rng.randint(1, 999), "method": "tools/call",
               "params": {"name": "attach_har", "arguments": {"har": {"log": {"version": "1.2", "creator": {"name": "Firefox", "version": "133.0"},
                                                                              "entries": [har_entry(rng, kind, key, value, False)]}}}}}
    elif shape == "jupyter_save":
        lines = text.split("\n")
        source = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
        doc = {"jsonrpc": "2.0", "id": rng.randint(1, 999), "method": "tools/call",
               "params": {"name": "write_notebook", "arguments": {"path": "analysis/payouts.ipynb", "notebook": {
                   "cells": [{"cell_type": "markdown", "id": rand(rng, HEX, 8), "metadata": {}, "source": ["## Payout sync"]},
                             {"cell_type": "code", "execution_count": rng.randint(1, 40), "id": rand(rng, HEX, 8),
                              "metadata": {}, "outputs": [], "source": source}],
                   "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}}, "nbformat": 4, "nbformat_minor": 5}}}}
    elif shape == "responses_input":  # OpenAI Responses API request
        doc = {"model": "gpt-4.1", "input": [{"role": "user", "content": [{"type": "input_text", "text": text}]}], "store": False}
    elif shape == "gemini_request":
        doc = {"contents": [{"role": "user", "parts": [{"text": text}]}], "generationConfig": {"temperature": 0.2}}
    elif shape == "form_fields":  # a form as a list of label/value pairs: the name is a sibling, not a key
        doc = {"formId": f"kyc-{rng.randint(10, 99)}", "fields": [{"label": "Full name", "value": person(rng)},
                                                                   {"label": label, "name": key, "value": value}]}
    elif shape == "fhir_bundle":
        doc = {"resourceType": "Bundle", "type": "transaction",
               "entry": [{"resource": fhir_patient(rng, kind, value), "request": {"method": "POST", "url": "Patient"}}]}
    elif shape == "k8s_apply":
        secret = kind.detector == "secrets"
        doc = {"apiVersion": "v1", "kind": "Secret" if secret else "ConfigMap",
               "metadata": {"name": rng.choice(["billing", "crm-sync"]), "namespace": "prod"},
               ("stringData" if secret else "data"): {key: value}}
        if secret:
            doc["type"] = "Opaque"
    elif shape == "slack_history":  # Slack conversations.history
        doc = {"ok": True, "messages": [{"type": "message", "user": f"U0{rand(rng, UPPER_DIGITS, 9)}", "text": text,
                                         "ts": f"{rng.randint(1_700_000_000, 1_760_000_000)}.{digits(rng, 6)}"}], "has_more": False}
    elif shape == "gemini_response":
        doc = {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}],
               "modelVersion": "gemini-2.5-flash"}
    elif shape == "jsonrpc_error":  # a tool error that echoes the parameter it rejected
        doc = {"jsonrpc": "2.0", "id": rng.randint(1, 999), "error": {"code": -32602, "message": "Invalid params",
                                                                      "data": {"field": key, key: value}}}
    elif shape == "configmap_get":
        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-settings", "namespace": "prod",
                                                                     "uid": str(uuid.UUID(bytes=rng.randbytes(16)))},
               "data": {"LOG_LEVEL": "info", key: value}}
    elif shape == "fhir_patient":
        doc = fhir_patient(rng, kind, value)
    elif shape == "cohere_chat":  # Cohere v2 chat response
        doc = {"id": str(uuid.UUID(bytes=rng.randbytes(16))), "finish_reason": "COMPLETE",
               "message": {"role": "assistant", "content": [{"type": "text", "text": text}]}}
    else:  # har_export: a tool returning a captured HAR
        doc = {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                       "entries": [har_entry(rng, kind, key, value, True)]}}
    return json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode()


# --- SSE framings -------------------------------------------------------------------------------------------------------

def data_lines(text: str, spaced: bool = True) -> bytes:
    """The data: lines of one event; the space after the colon may be left out unless the line starts with one."""
    out = []
    for line in text.split("\n"):
        sep = " " if spaced or line.startswith(" ") or line == "" else ""
        out.append(b"data:" + sep.encode() + line.encode() + b"\n")
    return b"".join(out)


def cut_points(value: str) -> list[int]:
    n = len(value)
    return sorted({max(1, min(n - 1, n * a // b)) for a, b in CUT_FRACTIONS})


def sse_lines(rng: random.Random, text: str, at: int) -> tuple[bytes, ...]:
    """One event with a comment line, retry and id fields; the value is split over two data: lines at the cut."""
    spaced = rng.random() < 0.5
    event = b": stream open\nretry: 3000\nid: " + str(rng.randint(1, 500)).encode() + b"\n"
    event += data_lines(text[:at], spaced) + data_lines(text[at:], spaced) + b"\n"
    return (event, b": done\ndata: [DONE]\n\n")


def sse_event(style: str, piece: str, n: int) -> bytes:
    if style == "gemini":  # streamGenerateContent?alt=sse
        doc = {"candidates": [{"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0}], "modelVersion": "gemini-2.5-flash"}
        return b"data: " + json.dumps(doc).encode() + b"\r\n\r\n"
    if style == "cohere":  # Cohere v2 chat stream
        doc2 = {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}}
        return b"event: content-delta\ndata: " + json.dumps(doc2).encode() + b"\n\n"
    if style == "openai_keepalive":
        chunk = {"id": "chatcmpl-h3", "object": "chat.completion.chunk", "model": "gpt-4.1-mini",
                 "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        keepalive = b": keep-alive\n\n" if n % 3 == 2 else b""
        return keepalive + b"data:" + json.dumps(chunk).encode() + b"\n\n"
    return b"id: " + str(n).encode() + b"\nretry: 2500\n" + data_lines(piece, spaced=n % 2 == 0) + b"\n"  # plain_ids


SSE_EVENT_STYLES = ("gemini", "cohere", "openai_keepalive", "plain_ids")


def sse_events(rng: random.Random, text: str, start: int, end: int, at: int, style: str) -> tuple[bytes, ...]:
    """Several events; the value is split between two of them at the cut, the rest in token-sized pieces."""
    cuts = {at}
    if style != "plain_ids":
        i = 0
        while i < len(text):
            i += rng.randint(2, 11)
            if not start < i < end:
                cuts.add(i)
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(text)), len(text)]
    events = [sse_event(style, text[a:b], k) for k, (a, b) in enumerate(itertools.pairwise(bounds)) if b > a]
    if style == "gemini":
        last = {"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"}, "finishReason": "STOP", "index": 0}]}
        events.append(b"data: " + json.dumps(last).encode() + b"\r\n\r\n")
    elif style == "cohere":
        events.append(b"event: message-end\ndata: {\"type\": \"message-end\", \"delta\": {\"finish_reason\": \"COMPLETE\"}}\n\n")
    else:
        events.append(b"data: [DONE]\n\n")
    return tuple(events)


# --- generation ----------------------------------------------------------------------------------------------------------

def count_for(kind: Kind) -> int:
    if kind.name == "benign":
        return PER_CARRIER_BENIGN
    return PER_CARRIER_POSITIVE if kind.positive else PER_CARRIER_NEAR_MISS


def _samples(rng: random.Random, kind: Kind, carrier: str) -> Iterable[Sample]:
    count = count_for(kind)
    for n in range(count):
        # families rotate across carriers too, so every family of a kind gets about the same share
        family = kind.families[(n + CARRIERS.index(carrier) * count) % len(kind.families)]
        value, secret = kind.make(rng, family)
        shape = rng.choice(shapes_for(kind, family, carrier)) if carrier in JSON_SHAPES else "text"
        key = rng.choice(names(kind, family)[1])
        context, text, written = "-", value, value
        if shape not in KEYED_SHAPES:
            context = rng.choice(text_contexts(kind, family, value))
            text, written = render_text(rng, kind, family, context, value)
        if secret == value:
            secret = written  # the value as it stands in the text (indented inside a YAML block)
        common = dict(split=SPLIT, kind=kind.name, positive=kind.positive, detector=kind.detector, family=family,
                      template=f"{shape}:{context}", carrier=carrier, value=written, secret=secret)
        base = f"{SPLIT}/{kind.name}/{'pos' if kind.positive else 'neg'}/{carrier}/{n}"
        if carrier in JSON_SHAPES:
            body = json_body(rng, shape, kind, rng.choice(names(kind, family)[0]), key, text, value)
            yield Sample(id=base, content_type="application/json", chunks=(body,), **common)
        elif carrier == "text":
            yield Sample(id=base, content_type="text/plain; charset=utf-8", chunks=(text.encode(),), **common)
        else:
            start = text.index(written)
            cuts = cut_points(written)
            cut = cuts[n % len(cuts)]
            if carrier == "sse_lines":
                chunks = sse_lines(rng, text, start + cut)
            else:
                style = SSE_EVENT_STYLES[n % len(SSE_EVENT_STYLES)]
                chunks = sse_events(rng, text, start, start + len(written), start + cut, style)
            yield Sample(id=f"{base}/cut{cut}", content_type="text/event-stream", chunks=chunks, **common)


def generate() -> list[Sample]:
    """The heldout3 split, the same on every call (its own seed)."""
    rng = random.Random(HELDOUT3_SEED)
    return [s for kind in KINDS for carrier in CARRIERS for s in _samples(rng, kind, carrier)]
