"""An independent labelled corpus of PII, secrets and hard negatives, written from public format descriptions.

Every format here was written from the description named in README.md, not from stoad's rules. Samples are split
by generator family and context template into ``dev`` (tune on it) and ``heldout`` (scored, since tuned on); a
second held-out split, ``heldout2``, has its own seed, families and contexts and is never tuned on.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import random
import string
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

SEED = 1413

# How many samples of each kind per carrier and split.
PER_CARRIER = {"dev": 24, "heldout": 24}

CARRIERS = ("json_request", "json_response", "text", "sse_lines", "sse_events")

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
URLSAFE = ALNUM + "-_"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"


@dataclass(frozen=True)
class Sample:
    """One labelled sample: a body as sent, and what it carries."""

    id: str
    split: str  # "dev", "heldout" or "heldout2"
    kind: str  # the format carried; for a negative, the format it imitates
    positive: bool
    detector: str  # "pii" or "secrets": the detector a positive must trigger (or a negative imitates)
    family: str  # generator family: one way of writing the format
    template: str  # context template the value sits in
    carrier: str  # json_request, json_response, text, sse_lines, sse_events
    value: str  # the value as written in the sample
    secret: str  # the part that must not stay readable (for a positive)
    content_type: str
    chunks: tuple[bytes, ...]  # the body as received, in pieces (one piece unless a stream)


# --- check digits -----------------------------------------------------------------------------------------------

def luhn_digit(partial: str) -> str:
    """The Luhn check digit for a number without its last digit (ISO/IEC 7812-1 annex B)."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return luhn_digit(number[:-1]) == number[-1]


def iban_check(country: str, bban: str) -> str:
    """ISO 13616 / ISO 7064 MOD 97-10 check digits for a country code and BBAN."""
    rearranged = bban + country + "00"
    digits = "".join(str(int(c, 36)) for c in rearranged)
    return f"{98 - int(digits) % 97:02d}"


# --- PII --------------------------------------------------------------------------------------------------------

# Issuer IIN prefixes and lengths, with the grouping each issuer prints on its cards.
CARD_ISSUERS: dict[str, tuple[list[str], list[int], list[list[int]]]] = {
    "visa": (["4"], [16], [[4, 4, 4, 4]]),
    "visa19": (["4"], [19], [[4, 4, 4, 4, 3]]),
    "mastercard": (["51", "52", "53", "54", "55"], [16], [[4, 4, 4, 4]]),
    "mastercard2": ([str(p) for p in range(2221, 2721, 37)], [16], [[4, 4, 4, 4]]),
    "amex": (["34", "37"], [15], [[4, 6, 5]]),
    "diners": (["300", "301", "305", "36", "38"], [14], [[4, 6, 4]]),
    "discover": (["6011", "644", "645", "649", "65"], [16], [[4, 4, 4, 4]]),
    "jcb": ([str(p) for p in range(3528, 3590, 7)], [16], [[4, 4, 4, 4]]),
    "unionpay": (["62"], [16, 19], [[4, 4, 4, 4], [6, 13]]),
}
CARD_HELDOUT = {"diners", "unionpay", "visa19"}


def card_number(rng: random.Random, issuer: str) -> str:
    prefixes, lengths, _ = CARD_ISSUERS[issuer]
    prefix = rng.choice(prefixes)
    length = rng.choice(lengths)
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return body + luhn_digit(body)


def group(number: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for size in sizes:
        out.append(number[i:i + size])
        i += size
    if i < len(number):
        out.append(number[i:])
    return sep.join(p for p in out if p)


def card_written(rng: random.Random, issuer: str, number: str) -> str:
    _, _, groupings = CARD_ISSUERS[issuer]
    sizes = next((g for g in groupings if sum(g) == len(number)), [len(number)])
    return group(number, sizes, rng.choice([" ", "-", " ", ""]))


def gen_card(rng: random.Random, family: str) -> tuple[str, str]:
    number = card_number(rng, family)
    return card_written(rng, family, number), number


def gen_card_luhn_invalid(rng: random.Random, family: str) -> tuple[str, str]:
    number = card_number(rng, family)
    wrong = str((int(number[-1]) + rng.randint(1, 9)) % 10)
    number = number[:-1] + wrong
    return card_written(rng, family, number), number


# SSA: never 000, 666 or 900-999 as area, 00 as group, 0000 as serial (SSA RM 10201.035, randomization FAQ).
def ssn_parts(rng: random.Random) -> tuple[str, str, str]:
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    return f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"


def gen_ssn(rng: random.Random, family: str) -> tuple[str, str]:
    a, g, s = ssn_parts(rng)
    sep = {"dashed": "-", "spaced": " ", "plain": ""}[family]
    value = sep.join((a, g, s))
    return value, value


def gen_ssn_invalid(rng: random.Random, family: str) -> tuple[str, str]:
    a, g, s = ssn_parts(rng)
    if family == "area000":
        a = "000"
    elif family == "area666":
        a = "666"
    elif family == "area9xx":
        a = str(rng.randint(900, 999))
    elif family == "group00":
        g = "00"
    else:
        s = "0000"
    value = "-".join((a, g, s))
    return value, value


# IBAN lengths and BBAN structures from the SWIFT IBAN registry (n = digits, a = upper letters, c = alphanumeric).
IBAN_FORMATS: dict[str, list[tuple[int, str]]] = {
    "DE": [(18, "n")], "GB": [(4, "a"), (14, "n")], "FR": [(10, "n"), (11, "c"), (2, "n")],
    "ES": [(20, "n")], "IT": [(1, "a"), (10, "n"), (12, "c")], "NL": [(4, "a"), (10, "n")],
    "BE": [(12, "n")], "CH": [(5, "n"), (12, "c")], "AT": [(16, "n")], "PL": [(24, "n")],
    "SE": [(20, "n")], "NO": [(11, "n")], "DK": [(14, "n")], "FI": [(14, "n")], "PT": [(21, "n")],
    "IE": [(4, "a"), (14, "n")], "LU": [(3, "n"), (13, "c")], "SA": [(2, "n"), (18, "c")],
    "TR": [(5, "n"), (1, "n"), (16, "c")], "BR": [(23, "n"), (1, "a"), (1, "c")], "MT": [(4, "a"), (5, "n"), (18, "c")],
    "KW": [(4, "a"), (22, "c")], "AE": [(3, "n"), (16, "n")], "IL": [(3, "n"), (3, "n"), (13, "n")],
}
IBAN_FAMILIES = {
    "eu_numeric": ["DE", "ES", "BE", "AT", "PL", "SE", "NO", "DK", "FI", "PT"],
    "eu_alpha": ["GB", "FR", "IT", "NL", "CH", "IE", "LU"],
    "outside_eu": ["SA", "TR", "BR", "MT", "KW", "AE", "IL"],
}


def bban(rng: random.Random, country: str) -> str:
    out = []
    for count, cls in IBAN_FORMATS[country]:
        pool = {"n": string.digits, "a": string.ascii_uppercase, "c": UPPER_DIGITS}[cls]
        out.append("".join(rng.choice(pool) for _ in range(count)))
    return "".join(out)


def iban_written(rng: random.Random, iban: str) -> str:
    if rng.random() < 0.5:
        return iban
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))  # the paper format of ISO 13616-1


def gen_iban(rng: random.Random, family: str) -> tuple[str, str]:
    country = rng.choice(IBAN_FAMILIES[family])
    b = bban(rng, country)
    iban = country + iban_check(country, b) + b
    return iban_written(rng, iban), iban


def gen_iban_bad_check(rng: random.Random, family: str) -> tuple[str, str]:
    country = rng.choice(IBAN_FAMILIES[family])
    b = bban(rng, country)
    good = int(iban_check(country, b))
    bad = (good + rng.randint(1, 90)) % 97
    if bad < 2:
        bad += 2
    iban = f"{country}{bad:02d}{b}"
    return iban_written(rng, iban), iban


# Phone numbers from ITU-T E.164 and national plans: NANP NXX-NXX-XXXX with in-service area codes (NANPA);
# Ofcom UK mobile 07[1-5,7-9]; BNetzA German mobile 015x/016x/017x; ARCEP French 06/07; TRAI Indian
# mobile [6-9]; ACMA Australian mobile 04; Japanese mobile 070/080/090; Anatel Brazilian mobile 9 + 8 digits.
NANP_AREAS = ["212", "213", "305", "312", "404", "415", "503", "512", "602", "617", "702", "713", "808",
              "206", "303", "416", "604", "514", "919", "860"]


def nanp_exchange(rng: random.Random) -> str:
    while True:
        nxx = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
        if nxx[1:] != "11" and nxx != "555":
            return nxx


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def gen_phone(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "nanp":
        area, nxx, line = rng.choice(NANP_AREAS), nanp_exchange(rng), digits(rng, 4)
        value = rng.choice([f"({area}) {nxx}-{line}", f"+1 {area} {nxx} {line}", f"{area}-{nxx}-{line}",
                            f"+1-{area}-{nxx}-{line}", f"1 ({area}) {nxx}-{line}"])
    elif family == "uk":
        sub = f"7{rng.choice('123457 89'.replace(' ', ''))}{digits(rng, 8)}"
        value = rng.choice([f"+44 {sub[:4]} {sub[4:]}", f"0{sub[:4]} {sub[4:]}", f"+44{sub}"])
    elif family == "de":
        prefix = rng.choice(["151", "152", "157", "170", "171", "172", "175", "176", "179"])
        rest = digits(rng, 7 if prefix in ("170", "171", "172", "175") else 8)
        value = rng.choice([f"+49 {prefix} {rest}", f"0{prefix} {rest}", f"+49{prefix}{rest}"])
    elif family == "fr":
        d = f"{rng.choice('67')}{digits(rng, 8)}"
        pairs = " ".join(d[i:i + 2] for i in range(1, 9, 2))
        value = rng.choice([f"+33 {d[0]} {pairs}", f"0{d[0]} {pairs}"])
    elif family == "in":
        d = f"{rng.choice('6789')}{digits(rng, 9)}"
        value = rng.choice([f"+91 {d[:5]} {d[5:]}", f"+91-{d}"])
    elif family == "au":
        d = f"4{digits(rng, 8)}"
        value = rng.choice([f"+61 {d[:3]} {d[3:6]} {d[6:]}", f"04{d[1:3]} {d[3:6]} {d[6:]}"])
    elif family == "jp":
        value = f"+81 {rng.choice(['70', '80', '90'])}-{rng.randint(1000, 9999)}-{digits(rng, 4)}"
    else:  # br
        value = f"+55 {rng.choice(['11', '21', '31', '41', '51', '61'])} 9{digits(rng, 4)}-{digits(rng, 4)}"
    return value, value


def gen_phone_invalid(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "nanp_bad_area":
        area = rng.choice([f"0{digits(rng, 2)}", f"1{digits(rng, 2)}", f"{rng.randint(2, 9)}11"])
        value = rng.choice([f"({area}) {nanp_exchange(rng)}-{digits(rng, 4)}", f"+1 {area} {nanp_exchange(rng)} {digits(rng, 4)}"])
    elif family == "nanp_bad_exchange":
        area = rng.choice(NANP_AREAS)
        value = f"({area}) {rng.choice('01')}{digits(rng, 2)}-{digits(rng, 4)}"
    elif family == "wrong_length":
        value = rng.choice([f"+44 7{digits(rng, 4)} {digits(rng, 2)}", f"+33 6 {digits(rng, 2)} {digits(rng, 2)}",
                            f"+49 1{digits(rng, 3)}", f"+61 4{digits(rng, 3)} {digits(rng, 2)}"])
    else:  # unassigned country code (ITU: 999 is spare)
        value = f"+999 {digits(rng, 3)} {digits(rng, 4)}"
    return value, value


FIRST = ["maria", "john", "wei", "fatima", "olga", "pierre", "anika", "kenji", "lucas", "amara", "noah", "ines"]
LAST = ["schmidt", "okafor", "tanaka", "silva", "novak", "dubois", "kowalski", "haddad", "jensen", "rossi"]
DOMAINS = ["gmail.com", "outlook.com", "proton.me", "acme-corp.io", "mail.uni-heidelberg.de", "fastmail.fm",
           "northwind.co.uk", "yahoo.co.jp", "contoso.com.br", "web.de"]


def gen_email(rng: random.Random, family: str) -> tuple[str, str]:
    first, last, domain = rng.choice(FIRST), rng.choice(LAST), rng.choice(DOMAINS)
    if family == "dotted":
        local = f"{first}.{last}"
    elif family == "tagged":
        local = f"{first}+{rng.choice(['billing', 'news', 'ci', 'x7'])}"
    else:  # the RFC 5322 dot-atom with digits and underscores
        local = f"{first[0]}_{last}{rng.randint(1, 99)}"
    value = f"{local}@{domain}"
    return value, value


def gen_email_lookalike(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "retina_asset":
        value = f"{rng.choice(['logo', 'icon', 'hero', 'avatar'])}@{rng.choice(['2x', '3x'])}.png"
    elif family == "package_version":
        value = f"{rng.choice(['react', 'lodash', 'express', '@types/node', 'typescript'])}@{rng.randint(1, 20)}.{rng.randint(0, 12)}.{rng.randint(0, 30)}"
    else:  # a mention, not an address
        value = f"@{rng.choice(FIRST)}_{rng.choice(LAST)}"
    return value, value


# --- secrets ----------------------------------------------------------------------------------------------------

def rand(rng: random.Random, pool: str, n: int) -> str:
    return "".join(rng.choice(pool) for _ in range(n))


def gen_aws_key_id(rng: random.Random, family: str) -> tuple[str, str]:
    value = family.upper() + rand(rng, string.ascii_uppercase + "234567", 16)
    return value, value


def gen_aws_secret(rng: random.Random, family: str) -> tuple[str, str]:
    value = rand(rng, B64, 40)
    return value, value


def gen_github(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "github_pat":
        value = f"github_pat_{rand(rng, ALNUM, 22)}_{rand(rng, ALNUM, 59)}"
    else:
        value = f"{family}_{rand(rng, ALNUM, 36)}"
    return value, value


def gen_slack(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "xoxb":
        value = f"xoxb-{digits(rng, rng.randint(10, 13))}-{digits(rng, rng.randint(10, 13))}-{rand(rng, ALNUM, 24)}"
    elif family == "xoxp":
        value = f"xoxp-{digits(rng, 12)}-{digits(rng, 12)}-{digits(rng, 13)}-{rand(rng, HEX, 32)}"
    else:  # app-level token
        value = f"xapp-1-A{rand(rng, UPPER_DIGITS, 10)}-{digits(rng, 13)}-{rand(rng, HEX, 64)}"
    return value, value


def gen_stripe(rng: random.Random, family: str) -> tuple[str, str]:
    value = f"{family}_live_{rand(rng, ALNUM, rng.choice([24, 34, 99]))}"
    return value, value


def gen_google(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "api_key":
        value = "AIza" + rand(rng, URLSAFE, 35)
    else:  # OAuth 2.0 access token
        value = "ya29." + rand(rng, URLSAFE, rng.randint(90, 180))
    return value, value


def gen_openai(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "legacy":
        value = "sk-" + rand(rng, ALNUM, 48)
    else:
        value = f"sk-{family}-" + rand(rng, URLSAFE, rng.randint(120, 160))
    return value, value


PEM_LABELS = {"pkcs8": "PRIVATE KEY", "rsa": "RSA PRIVATE KEY", "ec": "EC PRIVATE KEY",
              "encrypted": "ENCRYPTED PRIVATE KEY", "openssh": "OPENSSH PRIVATE KEY"}


def pem(label: str, der: bytes) -> str:
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]  # RFC 7468: 64 characters a line
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"


def gen_private_key(rng: random.Random, family: str) -> tuple[str, str]:
    size = rng.choice([121, 138, 300, 600])
    der = b"\x30\x82" + size.to_bytes(2, "big") + rng.randbytes(size)  # an ASN.1 SEQUENCE, as DER starts
    value = pem(PEM_LABELS[family], der)
    return value, value


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_parts(rng: random.Random, alg: str) -> tuple[str, str, str]:
    header = {"alg": alg, "typ": "JWT"}
    if rng.random() < 0.5:
        header["kid"] = rand(rng, ALNUM, 12)
    now = 1_700_000_000 + rng.randint(0, 60_000_000)
    claims = {"sub": str(rng.randint(10_000, 99_999_999)), "iat": now, "exp": now + 3600,
              "iss": rng.choice(["https://id.acme-corp.io", "https://login.northwind.co.uk/oauth2"]),
              "scope": rng.choice(["read", "read write", "admin"])}
    sig_len = {"HS256": 32, "RS256": 256, "ES256": 64, "EdDSA": 64, "PS384": 384}[alg]
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return h, p, b64url(rng.randbytes(sig_len))


def gen_jwt(rng: random.Random, family: str) -> tuple[str, str]:
    value = ".".join(jwt_parts(rng, family))
    return value, value


def gen_jwt_truncated(rng: random.Random, family: str) -> tuple[str, str]:
    h, p, s = jwt_parts(rng, "HS256")
    if family == "header_only":
        value = h
    elif family == "cut_payload":
        value = f"{h}.{p[:rng.randint(4, len(p) - 4)]}"
    else:  # documentation placeholder
        value = rng.choice([f"{h}.<payload>.<signature>", "eyJ....<payload>.<signature>", f"{h}.eyJ...", "<jwt>"])
    return value, value


def url_password(rng: random.Random) -> str:
    raw = rand(rng, ALNUM + "!$&'()*+,;=-._~", rng.randint(12, 28))
    return "".join(c if c in ALNUM + "-._~" else f"%{ord(c):02X}" for c in raw)  # RFC 3986 pct-encoding


def gen_url_password(rng: random.Random, family: str) -> tuple[str, str]:
    user = rng.choice(["app", "admin", "svc_reader", "deploy", "etl"])
    password = url_password(rng) if rng.random() < 0.6 else rand(rng, ALNUM, rng.randint(12, 24))
    host = rng.choice(["db.internal", "10.0.3.17", "cluster0.ab12c.mongodb.net", "mq.acme-corp.io", "cache-1"])
    scheme, port, path = {
        "postgres": (rng.choice(["postgres", "postgresql"]), ":5432", "/orders"),
        "mysql": ("mysql", ":3306", "/shop"), "mongodb": ("mongodb+srv", "", "/?retryWrites=true"),
        "redis": (rng.choice(["redis", "rediss"]), ":6379", "/0"), "amqp": ("amqps", ":5671", "/vhost"),
        "https": ("https", "", "/artifacts/release.tar.gz"),
    }[family]
    value = f"{scheme}://{user}:{password}@{host}{port}{path}"
    return value, password


ENV_NAMES = {
    "upper": ["DATABASE_PASSWORD", "API_TOKEN", "SECRET_KEY", "CLIENT_SECRET", "JWT_SECRET", "SMTP_PASSWORD",
              "WEBHOOK_SECRET", "SENTRY_AUTH_TOKEN", "REDIS_PASSWORD", "SESSION_SECRET", "ENCRYPTION_KEY"],
    "lower": ["db_password", "api_key", "auth_token", "client_secret", "private_token", "access_token"],
    "prefixed": ["STRIPE_WEBHOOK_SIGNING_SECRET", "OKTA_CLIENT_SECRET", "MAILGUN_API_KEY", "TWILIO_AUTH_TOKEN",
                 "DATADOG_API_KEY", "NPM_TOKEN", "PYPI_PASSWORD", "CF_API_TOKEN"],
}


def gen_env_secret(rng: random.Random, family: str) -> tuple[str, str]:
    name = rng.choice(ENV_NAMES[family])
    pool = rng.choice([ALNUM, ALNUM + "&=%!#*-_.", HEX])
    value = rand(rng, pool, rng.randint(18, 40))
    quote = rng.choice(["", '"', "'"])
    return f"{name}={quote}{value}{quote}", value


# --- hard negatives that are not one format's near miss ---------------------------------------------------------

TEMPLATE_PLACEHOLDERS = ["<your-token>", "${API_TOKEN}", "{{ secrets.GITHUB_TOKEN }}", "<redacted>", "%(api_key)s",
                         "$SLACK_BOT_TOKEN", "<INSERT_KEY_HERE>"]
PLACEHOLDERS = ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "sk_test_xxxxxxxxxxxxxxxxxxxxxxxx",
                "<your-token>", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "YOUR_API_KEY", "${API_TOKEN}",
                "xoxb-your-bot-token", "sk-...", "AIzaXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "********", "changeme",
                "<redacted>", "sk_live_••••••••••••••••4242", "{{ secrets.GITHUB_TOKEN }}"]


def no_card(rng: random.Random, make: Callable[[], str]) -> str:
    """A number of card length that fails Luhn: a Luhn-valid one would be a card by the card's own description."""
    while True:
        value = make()
        plain = "".join(c for c in value if c.isdigit())
        if not (12 <= len(plain) <= 19 and luhn_valid(plain)):
            return value


def isbn13(rng: random.Random) -> str:
    body = "978" + digits(rng, 9)
    check = (10 - sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body)) % 10) % 10
    return f"{body[:3]}-{body[3]}-{body[4:8]}-{body[8:]}-{check}"


def gen_benign(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "uuid":
        value = str(uuid.UUID(bytes=rng.randbytes(16), version=4))
    elif family == "hash":
        data = rng.randbytes(32)
        value = rng.choice([hashlib.sha256(data).hexdigest(), hashlib.sha1(data).hexdigest(), hashlib.md5(data).hexdigest(),
                            "sha256:" + hashlib.sha256(data).hexdigest()])
    elif family == "base64_blob":
        value = rng.choice(["data:image/png;base64,iVBORw0KGgo", ""]) + base64.b64encode(rng.randbytes(rng.choice([30, 45, 90]))).decode()
    elif family == "version":
        value = rng.choice([f"{rng.randint(0, 30)}.{rng.randint(0, 40)}.{rng.randint(0, 200)}",
                            f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}-rc.{rng.randint(1, 5)}",
                            f"{rng.randint(2019, 2026)}.{rng.randint(1, 12)}.{rng.randint(1, 28)}.{rng.randint(1, 999)}"])
    elif family == "timestamp":
        t = 1_600_000_000 + rng.randint(0, 200_000_000)
        value = no_card(rng, lambda: rng.choice([str(t), str(t * 1000 + rng.randint(0, 999)),
                                                 f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"]))
    elif family == "order_number":
        value = no_card(rng, lambda: rng.choice([digits(rng, 16), f"{digits(rng, 3)}-{digits(rng, 7)}-{digits(rng, 7)}",
                                                 f"ORD-{digits(rng, 10)}", digits(rng, 9)]))
    elif family == "isbn":
        value = no_card(rng, lambda: isbn13(rng))
    elif family == "placeholder":
        value = rng.choice(PLACEHOLDERS)
    elif family == "public_pem":
        der = b"\x30\x82\x01\x22" + rng.randbytes(290)
        value = pem(rng.choice(["PUBLIC KEY", "CERTIFICATE", "RSA PUBLIC KEY"]), der)
    elif family == "stripe_publishable":  # public by design (Stripe API keys docs)
        value = f"pk_live_{rand(rng, ALNUM, rng.choice([24, 99]))}"
    elif family == "url_no_password":
        value = rng.choice([f"https://{rng.choice(FIRST)}@git.acme-corp.io/repo.git", "postgres://app@db.internal:5432/orders",
                            f"https://api.acme-corp.io/v1/items?page={rng.randint(1, 9)}&limit=50",
                            "postgres://app:${DB_PASSWORD}@db.internal/orders", "redis://:<password>@cache-1:6379/0"])
    elif family == "env_config":
        value = rng.choice(["LOG_LEVEL=debug", "PORT=8080", "NODE_ENV=production", "TOKEN_TTL=3600",
                            "PASSWORD_MIN_LENGTH=12", "SECRET_KEY=", "API_KEY=<your-api-key>",
                            "DB_PASSWORD=${DB_PASSWORD}", "API_URL=https://api.acme-corp.io/v2",
                            "AUTH_TOKEN_HEADER=Authorization", "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}"])
    else:  # identifiers with a format of their own
        value = rng.choice([f"cus_{rand(rng, ALNUM, 14)}", f"ch_{rand(rng, ALNUM, 24)}", f"i-{rand(rng, HEX, 17)}",
                            f"arn:aws:iam::{digits(rng, 12)}:role/deploy", f"sg-{rand(rng, HEX, 8)}",
                            f"git commit {rand(rng, HEX, 40)}", f"ami-{rand(rng, HEX, 17)}"])
    return value, value


def gen_placeholder(rng: random.Random, family: str) -> tuple[str, str]:
    value = rng.choice(PLACEHOLDERS if family == "documentation" else TEMPLATE_PLACEHOLDERS)
    return value, value


# --- kinds --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    name: str  # the format a positive carries, or a negative imitates
    detector: str
    positive: bool
    families: tuple[str, ...]
    heldout_families: frozenset[str]
    make: Callable[[random.Random, str], tuple[str, str]]
    labels: tuple[str, ...]  # words that introduce the value in text
    keys: tuple[str, ...]  # JSON member names that hold it
    bare: bool = True  # whether the value may stand with no label at all


def fams(*names: str) -> tuple[str, ...]:
    return names


KINDS = [
    Kind("card", "pii", True, tuple(CARD_ISSUERS), frozenset(CARD_HELDOUT), gen_card,
         ("card number", "credit card", "Visa/MC", "payment card", "PAN", "card"),
         ("card_number", "cardNumber", "pan", "cc", "payment_card")),
    Kind("ssn", "pii", True, fams("dashed", "spaced", "plain"), frozenset({"spaced"}), gen_ssn,
         ("SSN", "social security number", "Social Security No.", "SSN#", "ssn"),
         ("ssn", "social_security_number", "socialSecurityNumber", "taxpayer_ssn")),
    Kind("iban", "pii", True, tuple(IBAN_FAMILIES), frozenset({"outside_eu"}), gen_iban,
         ("IBAN", "bank account", "account (IBAN)", "pay to", "Kontonummer/IBAN"),
         ("iban", "bank_account", "payoutIban", "account_iban")),
    Kind("phone", "pii", True, fams("nanp", "uk", "de", "fr", "in", "au", "jp", "br"), frozenset({"jp", "br", "au"}),
         gen_phone, ("phone", "call me at", "mobile", "tel.", "contact number", "cell"),
         ("phone", "phone_number", "mobile", "tel", "contactPhone")),
    Kind("email", "pii", True, fams("dotted", "tagged", "underscored"), frozenset({"underscored"}), gen_email,
         ("email", "e-mail", "reach me at", "contact", "mail"), ("email", "emailAddress", "contact_email", "user")),
    Kind("aws_access_key_id", "secrets", True, fams("akia", "asia"), frozenset({"asia"}), gen_aws_key_id,
         ("aws_access_key_id", "access key ID", "AWS key", "AccessKeyId"),
         ("aws_access_key_id", "AccessKeyId", "accessKeyId", "key_id")),
    Kind("aws_secret_access_key", "secrets", True, fams("base64"), frozenset(), gen_aws_secret,
         ("aws_secret_access_key", "AWS secret access key", "secret access key", "SecretAccessKey", "aws secret"),
         ("aws_secret_access_key", "SecretAccessKey", "secretAccessKey", "awsSecretKey"), bare=False),
    Kind("github_token", "secrets", True, fams("ghp", "gho", "ghu", "ghs", "ghr", "github_pat"),
         frozenset({"ghr", "github_pat"}), gen_github,
         ("GitHub token", "GH_TOKEN", "token", "PAT", "access token"), ("token", "github_token", "ghToken", "auth")),
    Kind("slack_token", "secrets", True, fams("xoxb", "xoxp", "xapp"), frozenset({"xapp"}), gen_slack,
         ("Slack token", "SLACK_BOT_TOKEN", "bot token", "app token"), ("slack_token", "botToken", "token")),
    Kind("stripe_key", "secrets", True, fams("sk", "rk"), frozenset({"rk"}), gen_stripe,
         ("Stripe key", "STRIPE_SECRET_KEY", "secret key", "restricted key"), ("stripe_key", "secretKey", "api_key")),
    Kind("google_credential", "secrets", True, fams("api_key", "oauth_token"), frozenset({"oauth_token"}), gen_google,
         ("Google API key", "key", "access token", "Authorization: Bearer"), ("key", "apiKey", "access_token")),
    Kind("openai_key", "secrets", True, fams("proj", "svcacct", "legacy"), frozenset({"svcacct"}), gen_openai,
         ("OpenAI key", "OPENAI_API_KEY", "api key", "Bearer"), ("openai_api_key", "apiKey", "key")),
    Kind("private_key", "secrets", True, tuple(PEM_LABELS), frozenset({"ec", "openssh"}), gen_private_key,
         ("private key", "key file", "id_rsa", "server.key"), ("private_key", "privateKey", "pem", "key")),
    Kind("jwt", "secrets", True, fams("HS256", "RS256", "ES256", "EdDSA", "PS384"), frozenset({"EdDSA", "PS384"}),
         gen_jwt, ("JWT", "id_token", "Bearer", "session token", "access_token"),
         ("id_token", "access_token", "jwt", "authorization")),
    Kind("url_password", "secrets", True, fams("postgres", "mysql", "mongodb", "redis", "amqp", "https"),
         frozenset({"amqp", "https"}), gen_url_password,
         ("DATABASE_URL", "connection string", "dsn", "broker url", "uri"), ("database_url", "dsn", "uri", "connectionString")),
    Kind("env_secret", "secrets", True, fams("upper", "lower", "prefixed"), frozenset({"prefixed"}), gen_env_secret,
         (".env", "config", "env", "settings"), ("env", "config_line", "dotenv")),
    # Hard negatives, each the near miss of one format.
    Kind("card", "pii", False, tuple(CARD_ISSUERS), frozenset(CARD_HELDOUT), gen_card_luhn_invalid,
         ("card number", "credit card", "payment card", "card"), ("card_number", "cardNumber", "pan")),
    Kind("ssn", "pii", False, fams("area000", "area666", "area9xx", "group00", "serial0000"),
         frozenset({"group00", "serial0000"}), gen_ssn_invalid, ("SSN", "social security number", "ssn"),
         ("ssn", "social_security_number")),
    Kind("iban", "pii", False, tuple(IBAN_FAMILIES), frozenset({"outside_eu"}), gen_iban_bad_check,
         ("IBAN", "bank account", "pay to"), ("iban", "bank_account")),
    Kind("phone", "pii", False, fams("nanp_bad_area", "nanp_bad_exchange", "wrong_length", "unassigned_cc"),
         frozenset({"wrong_length", "unassigned_cc"}), gen_phone_invalid, ("phone", "tel.", "call"), ("phone", "tel")),
    Kind("email", "pii", False, fams("retina_asset", "package_version", "mention"), frozenset({"mention"}),
         gen_email_lookalike, ("asset", "dependency", "cc"), ("asset", "dependency", "handle")),
    Kind("jwt", "secrets", False, fams("header_only", "cut_payload", "placeholder"), frozenset({"placeholder"}),
         gen_jwt_truncated, ("token", "id_token", "example"), ("token", "id_token", "access_token")),
    Kind("placeholder", "secrets", False, fams("documentation", "template"), frozenset({"template"}), gen_placeholder,
         ("API key", "token", "secret key", "access token", "password"), ("api_key", "token", "password", "secret")),
    Kind("benign", "secrets", False,
         fams("uuid", "hash", "base64_blob", "version", "timestamp", "order_number", "isbn", "placeholder",
              "public_pem", "stripe_publishable", "url_no_password", "env_config", "identifier"),
         frozenset({"isbn", "public_pem", "identifier", "env_config"}), gen_benign,
         ("id", "checksum", "version", "reference", "value", "config", "build"),
         ("id", "checksum", "version", "ref", "value", "data", "etag")),
]


# --- carriers and templates ---------------------------------------------------------------------------------------

# A template index in these sets puts a sample into the held-out split.
TEXT_TEMPLATES = [
    "{label}: {v}",
    "Please use {label} {v} for this one.",
    "Here is the {label} you asked for -> {v}. Let me know if anything else is needed.",
    "{v}",
    "Customer record\n{label} = {v}\nstatus = active",
    "I found it in the logs: [{label}] \"{v}\" (line 42).",
    "Update: the {label} changed to {v}; the previous one was revoked.",
    "| field | value |\n|---|---|\n| {label} | {v} |",
    "<tr><td>{label}</td><td>{v}</td></tr>",
    "Sure! Your {label} is {v}\n\nAnything else?",
]
HELDOUT_TEXT = {2, 6, 8}
HELDOUT_KEY_INDEX = 1  # the second JSON member name of each kind is held out
JSON_SHAPES = {
    "json_request": ["chat", "field", "tool_args"],
    "json_response": ["chat", "mcp_result", "field"],
}
HELDOUT_SHAPES = {"tool_args", "mcp_result"}
PROSE = ["Thanks for waiting.", "As requested:", "", "Note:", "From the ticket:"]


def render_text(rng: random.Random, kind: Kind, value: str, template: int) -> str:
    label = rng.choice(kind.labels)
    return TEXT_TEMPLATES[template].format(label=label, v=value)


def text_templates(kind: Kind, family: str) -> list[int]:
    # a value whose format alone does not say what it is (nine plain digits) only comes with a label
    bare = kind.bare and not (kind.name == "ssn" and family == "plain")
    return [i for i in range(len(TEXT_TEMPLATES)) if bare or i != 3]


def json_body(rng: random.Random, carrier: str, shape: str, kind: Kind, key: str, text: str, value: str) -> bytes:
    doc: object
    if carrier == "json_request":
        if shape == "chat":
            doc = {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "You are helpful."},
                                                        {"role": "user", "content": text}]}
        elif shape == "field":
            doc = {"customer": {"name": f"{rng.choice(FIRST).title()} {rng.choice(LAST).title()}", key: value,
                                "created": "2025-03-02"}}
        else:
            doc = {"jsonrpc": "2.0", "id": rng.randint(1, 99), "method": "tools/call",
                   "params": {"name": "update_record", "arguments": {key: value, "note": rng.choice(PROSE)}}}
    else:
        if shape == "chat":
            doc = {"id": f"chatcmpl-{rand(rng, ALNUM, 10)}", "object": "chat.completion",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
        elif shape == "mcp_result":
            doc = {"jsonrpc": "2.0", "id": rng.randint(1, 99), "result": {"content": [{"type": "text", "text": text}]}}
        else:
            doc = {"data": [{"id": rng.randint(1, 10_000), key: value, "updated_at": "2025-06-01T10:00:00Z"}],
                   "has_more": False}
    return json.dumps(doc).encode()


def sse_data_lines(text: str) -> bytes:
    return b"".join(b"data: " + line.encode() + b"\n" for line in text.split("\n"))


def chunk_event(piece: str) -> bytes:
    chunk = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "model": "m",
             "choices": [{"index": 0, "delta": {"content": piece}}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def cut_points(rng: random.Random, value: str) -> list[int]:
    n = len(value)
    return sorted({max(1, n // 4), max(1, n // 2), max(1, min(n - 1, (3 * n) // 4 + rng.randint(-1, 1)))})


def sse_lines(text: str, start: int, cut: int) -> tuple[bytes, ...]:
    """One event; the value is split over two data: lines at the cut."""
    at = start + cut
    return (sse_data_lines(text[:at]) + sse_data_lines(text[at:]) + b"\n", b"data: [DONE]\n\n")


def sse_events(rng: random.Random, text: str, start: int, end: int, cut: int, style: str) -> tuple[bytes, ...]:
    """Two or more events; the value is split between two of them at the cut."""
    at = start + cut
    if style == "plain":
        return (sse_data_lines(text[:at]) + b"\n", sse_data_lines(text[at:]) + b"\n", b"data: [DONE]\n\n")
    cuts = {at}
    i = 0
    while i < len(text):  # token-sized pieces elsewhere, as an LLM streams them
        i += rng.randint(3, 12)
        if not start < i < end:  # inside the value only the one cut
            cuts.add(i)
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(text)), len(text)]
    return (*(chunk_event(text[a:b]) for a, b in itertools.pairwise(bounds) if b > a), b"data: [DONE]\n\n")


# --- generation ---------------------------------------------------------------------------------------------------

def _choices(kind: Kind, carrier: str) -> list[tuple[str, str, str]]:
    """Every (family, template, member name) a sample of this kind and carrier can take."""
    out = []
    for family in kind.families:
        if carrier in JSON_SHAPES:
            for shape in JSON_SHAPES[carrier]:
                keys = kind.keys if shape in ("field", "tool_args") else ("",)
                texts = text_templates(kind, family) if shape in ("chat", "mcp_result") else [-1]
                for key in keys:
                    for t in texts:
                        out.append((family, f"{shape}:{t}", key))
        else:
            for t in text_templates(kind, family):
                out.append((family, f"text:{t}", ""))
    return out


def _split(kind: Kind, family: str, template: str, key: str) -> str:
    shape, _, t = template.partition(":")
    held = (family in kind.heldout_families or shape in HELDOUT_SHAPES or (t.lstrip("-").isdigit() and int(t) in HELDOUT_TEXT)
            or (key != "" and len(kind.keys) > 1 and key == kind.keys[HELDOUT_KEY_INDEX]))
    return "heldout" if held else "dev"


def _samples_for(rng: random.Random, kind: Kind, carrier: str, split: str) -> Iterable[Sample]:
    pool = [c for c in _choices(kind, carrier) if _split(kind, *c) == split]
    if not pool:
        return
    count = PER_CARRIER[split] * (3 if kind.name == "benign" else 1)
    for n in range(count):
        family, template, key = rng.choice(pool)
        value, secret = kind.make(rng, family)
        shape, _, t = template.partition(":")
        text = render_text(rng, kind, value, int(t)) if t != "-1" else value
        if rng.random() < 0.4 and t != "-1":
            text = f"{rng.choice(PROSE)} {text}".strip()
        base = f"{split}/{kind.name}/{'pos' if kind.positive else 'neg'}/{carrier}/{n}"
        common = dict(split=split, kind=kind.name, positive=kind.positive, detector=kind.detector, family=family,
                      template=template, carrier=carrier, value=value, secret=secret)
        if carrier in JSON_SHAPES:
            body = json_body(rng, carrier, shape, kind, key, text, value)
            yield Sample(id=base, content_type="application/json", chunks=(body,), **common)  # type: ignore[arg-type]
        elif carrier == "text":
            yield Sample(id=base, content_type="text/plain", chunks=(text.encode(),), **common)  # type: ignore[arg-type]
        else:
            start = text.index(value)
            cuts = cut_points(rng, value)
            cut = cuts[n % len(cuts)]
            if carrier == "sse_lines":
                chunks = sse_lines(text, start, cut)
            else:
                chunks = sse_events(rng, text, start, start + len(value), cut, "plain" if n % 2 else "json_chunks")
            yield Sample(id=f"{base}/cut{cut}", content_type="text/event-stream", chunks=chunks,
                         **common)  # type: ignore[arg-type]


def generate() -> list[Sample]:
    """The whole corpus, the same on every call (fixed seeds): dev, heldout, then heldout2 from its own seed."""
    rng = random.Random(SEED)
    out: list[Sample] = []
    for split in ("dev", "heldout"):
        for kind in KINDS:
            for carrier in CARRIERS:
                out.extend(_samples_for(rng, kind, carrier, split))
    out.extend(generate_heldout2())
    return out


# --- heldout2: a second held-out split, written after held-out was scored and never tuned on -----------------------
#
# Everything below is used only by the ``heldout2`` split: its own seed, its own families (new issuers, countries,
# phone plans, e-mail forms, token types), its own labels and member names, text contexts and JSON shapes neither
# ``dev`` nor ``heldout`` uses, and SSE framings of other providers. ``dev`` and ``heldout`` are generated first, from
# their own random stream, so adding this section leaves them byte for byte as they were.

HELDOUT2_SEED = 2614
PER_CARRIER_HELDOUT2 = 20

# The deployment the phone samples model (ISO 3166-1 alpha-2): numbers of these regions are written in E.164 and in
# their national formats; see README.md ("heldout2") for what is done with other regions.
DEPLOYMENT_REGIONS = ("US", "CA", "GB", "DE", "FR", "AU", "IN", "BR", "JP", "ES", "IT", "NL")

# Issuers only heldout2 uses (IIN prefixes and lengths from the schemes' published tables), with printed groupings.
CARD_ISSUERS_HELDOUT2: dict[str, tuple[list[str], list[int], dict[int, list[int]]]] = {
    "maestro": (
        ["5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763"],
        list(range(12, 20)),
        {16: [4, 4, 4, 4], 19: [4, 4, 4, 4, 3], 13: [4, 4, 5], 12: [4, 4, 4]},
    ),
    "discover_long": (["6011", "644", "646", "648", "65"], [17, 18, 19], {19: [4, 4, 4, 4, 3]}),
    "unionpay_long": (["62"], [17, 18, 19], {19: [4, 4, 4, 4, 3]}),
    "jcb_long": ([str(p) for p in range(3530, 3590, 11)], [17, 18, 19], {19: [4, 4, 4, 4, 3]}),
    "visa13": (["4"], [13], {13: [4, 3, 3, 3]}),
    "mir": (["2200", "2201", "2202", "2203", "2204"], [16], {16: [4, 4, 4, 4]}),
    "rupay": (["60", "652", "81", "82", "508"], [16], {16: [4, 4, 4, 4]}),
    "uatp": (["1"], [15], {15: [4, 5, 6]}),
    "verve": (
        [str(p) for p in range(506099, 506199, 9)] + [f"6500{p:02d}" for p in range(2, 28, 5)],
        [16, 18, 19],
        {16: [4, 4, 4, 4], 19: [4, 4, 4, 4, 3]},
    ),
}
# How cardholders type and paste numbers: spaces, dashes, nothing, two spaces, and the no-break space a PDF or a web
# page leaves between groups.
CARD_SEPARATORS_HELDOUT2 = [" ", "-", "", "  ", "\u00a0"]


def card_number_heldout2(rng: random.Random, issuer: str) -> str:
    prefixes, lengths, _ = CARD_ISSUERS_HELDOUT2[issuer]
    prefix, length = rng.choice(prefixes), rng.choice(lengths)
    body = prefix + digits(rng, length - len(prefix) - 1)
    return body + luhn_digit(body)


def card_written_heldout2(rng: random.Random, issuer: str, number: str) -> str:
    sizes = CARD_ISSUERS_HELDOUT2[issuer][2].get(len(number), [4] * (len(number) // 4))
    return group(number, sizes, rng.choice(CARD_SEPARATORS_HELDOUT2))


def gen_card_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    # the secret is the number as written, so that a stream left with a readable group of it counts as a miss
    written = card_written_heldout2(rng, family, card_number_heldout2(rng, family))
    return written, written


def imei(rng: random.Random) -> str:
    """A 15-digit IMEI (3GPP TS 23.003): 8-digit TAC, 6-digit serial, Luhn check digit."""
    body = rng.choice(["35", "86", "01"]) + digits(rng, 12)
    return body + luhn_digit(body)


def gen_card_negative_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "imei":  # Luhn-valid, but 15 digits under no issuer of that length: a device, not a card
        number = imei(rng)
        value = rng.choice(
            [number, f"{number[:2]}-{number[2:8]}-{number[8:14]}-{number[14]}", f"{number[:8]} {number[8:]}"]
        )
        return value, number
    if family == "masked":  # PCI DSS truncation: at most the first six and last four digits shown
        issuer = rng.choice(list(CARD_ISSUERS_HELDOUT2))
        number = card_number_heldout2(rng, issuer)
        fill = rng.choice(["*", "X", "•"])
        shown = rng.choice(
            [number[:6] + fill * (len(number) - 10) + number[-4:], fill * (len(number) - 4) + number[-4:]]
        )
        return card_written_heldout2(rng, issuer, shown), shown
    issuer = rng.choice(list(CARD_ISSUERS_HELDOUT2))
    number = card_number_heldout2(rng, issuer)
    number = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
    return card_written_heldout2(rng, issuer, number), number


def gen_ssn_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    a, g, s = ssn_parts(rng)
    value = {
        "dashed": f"{a}-{g}-{s}",
        "dotted": f"{a}.{g}.{s}",
        "plain": f"{a}{g}{s}",
        "spaced_dash": f"{a} - {g} - {s}",
    }[family]
    return value, value


# SSA: numbers voided after being printed on sample cards (078-05-1120, the 1938 wallet insert; 219-09-9999, an SSA
# pamphlet), and the masked form statements print.
def gen_ssn_negative_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    a, g, s = ssn_parts(rng)
    sep = rng.choice(["-", ".", ""])
    if family == "voided":
        value = rng.choice(["078-05-1120", "219-09-9999"])
    elif family == "masked":
        fill = rng.choice(["*", "X", "x"])
        value = f"{fill * 3}-{fill * 2}-{s}"
    elif family == "area000_666":
        value = sep.join((rng.choice(["000", "666"]), g, s))
    elif family == "group00":
        value = sep.join((a, "00", s))
    else:
        value = sep.join((a, g, "0000"))
    return value, value


# SWIFT IBAN registry: countries neither dev nor heldout uses.
IBAN_FORMATS_HELDOUT2: dict[str, list[tuple[int, str]]] = {
    "HR": [(17, "n")],
    "HU": [(24, "n")],
    "CZ": [(20, "n")],
    "SK": [(20, "n")],
    "RO": [(4, "a"), (16, "c")],
    "BG": [(4, "a"), (4, "n"), (2, "n"), (8, "c")],
    "GR": [(3, "n"), (4, "n"), (16, "c")],
    "CY": [(3, "n"), (5, "n"), (16, "c")],
    "SI": [(15, "n")],
    "EE": [(16, "n")],
    "LV": [(4, "a"), (13, "c")],
    "LT": [(16, "n")],
    "IS": [(22, "n")],
    "LI": [(5, "n"), (12, "c")],
    "MC": [(10, "n"), (11, "c"), (2, "n")],
    "SM": [(1, "a"), (10, "n"), (12, "c")],
    "GI": [(4, "a"), (15, "c")],
    "FO": [(14, "n")],
    "AD": [(8, "n"), (12, "c")],
    "ME": [(18, "n")],
    "RS": [(18, "n")],
    "MK": [(3, "n"), (10, "c"), (2, "n")],
    "BA": [(16, "n")],
    "AL": [(8, "n"), (16, "c")],
    "UA": [(6, "n"), (19, "c")],
    "XK": [(16, "n")],
    "QA": [(4, "a"), (21, "c")],
    "JO": [(4, "a"), (4, "n"), (18, "c")],
    "LB": [(4, "n"), (20, "c")],
    "EG": [(25, "n")],
    "AZ": [(4, "a"), (20, "c")],
    "GE": [(2, "a"), (16, "n")],
    "KZ": [(3, "n"), (13, "c")],
    "PK": [(4, "a"), (16, "c")],
    "TN": [(20, "n")],
    "BH": [(4, "a"), (14, "c")],
    "PS": [(4, "a"), (21, "c")],
    "DO": [(4, "a"), (20, "n")],
    "CR": [(18, "n")],
    "VG": [(4, "a"), (16, "n")],
    "SV": [(4, "a"), (20, "n")],
    "MR": [(23, "n")],
    "TL": [(19, "n")],
    "MU": [(4, "a"), (2, "n"), (2, "n"), (12, "n"), (3, "n"), (3, "a")],
}
IBAN_FAMILIES_HELDOUT2 = {
    "eu_east": ["HR", "HU", "CZ", "SK", "RO", "BG", "GR", "CY", "SI", "EE", "LV", "LT"],
    "europe_outside_eu": ["IS", "LI", "MC", "SM", "GI", "FO", "AD", "ME", "RS", "MK", "BA", "AL", "UA", "XK"],
    "asia_africa_americas": [
        "QA",
        "JO",
        "LB",
        "EG",
        "AZ",
        "GE",
        "KZ",
        "PK",
        "TN",
        "BH",
        "PS",
        "DO",
        "CR",
        "VG",
        "SV",
        "MR",
        "TL",
        "MU",
    ],
}


def bban_heldout2(rng: random.Random, country: str, stretch: int = 0) -> str:
    out = []
    for count, cls in IBAN_FORMATS_HELDOUT2[country]:
        pool = {"n": string.digits, "a": string.ascii_uppercase, "c": UPPER_DIGITS}[cls]
        out.append(rand(rng, pool, count))
    b = "".join(out)
    if stretch > 0:
        return b + digits(rng, stretch)
    return b[: len(b) + stretch] if stretch < 0 else b


def gen_iban_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    country = rng.choice(IBAN_FAMILIES_HELDOUT2[family])
    b = bban_heldout2(rng, country)
    written = iban_written(rng, country + iban_check(country, b) + b)
    return rng.choice([written, f"IBAN {written}"]), written


def gen_iban_negative_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    country = rng.choice([c for cs in IBAN_FAMILIES_HELDOUT2.values() for c in cs])
    if family == "wrong_length":  # correct MOD 97-10 check digits over a BBAN one or two characters off the registry
        b = bban_heldout2(rng, country, rng.choice([-2, -1, 1, 2]))
        iban = country + iban_check(country, b) + b
    else:
        b = bban_heldout2(rng, country)
        good = iban_check(country, b)
        bad = good
        while bad == good:  # check digits run 02-98
            bad = f"{rng.randint(2, 98):02d}"
        iban = f"{country}{bad}{b}"
    return iban_written(rng, iban), iban


# Numbering plans: NANPA (NPA-NXX-XXXX); Ofcom (geographic 01/02); BNetzA (Ortsnetzkennzahlen, mobile 015x-017x);
# ARCEP (01-05 geographic, 09, 06/07 mobile, 10 digits with the 0); CNMC (Spain: 9 digits, 6/7 mobile, 8/9 fixed);
# AGCOM (Italy: fixed numbers keep their 0 in E.164, mobile 3xx); ACM (Netherlands: 06 mobile + 8, fixed area codes);
# ACMA (Australia: (0x) xxxx xxxx); TRAI (India: STD codes, mobile 10 digits from 6-9); Anatel (Brazil: DDD + 8 fixed
# or 9 + 8 mobile); MIC (Japan: 0 + area code, 070/080/090 mobile).
NANP_AREAS_HELDOUT2 = [
    "646",
    "718",
    "917",
    "470",
    "678",
    "971",
    "385",
    "720",
    "737",
    "929",
    "403",
    "613",
    "902",
    "587",
    "778",
    "289",
]


def gen_phone_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    d = functools.partial(digits, rng)
    if family == "us_ca":
        a, x, n = rng.choice(NANP_AREAS_HELDOUT2), nanp_exchange(rng), d(4)
        value = rng.choice(
            [
                f"{a}.{x}.{n}",
                f"{a} {x} {n}",
                f"+1 ({a}) {x}-{n}",
                f"+1.{a}.{x}.{n}",
                f"+1{a}{x}{n}",
                f"({a}){x}-{n}",
                f"{a}-{x}-{n} ext. {rng.randint(10, 999)}",
            ]
        )
    elif family == "gb":
        # Ofcom keeps 020 7946 0xxx and 01x1 496 0xxx for drama (negatives below): subscribers here avoid them
        area = rng.choice(["20", "161", "121", "131", "117", "113"])
        if area == "20":
            rest = f"{rng.choice('378')}{d(3)} {d(4)}"
            if rest.startswith("7946"):
                rest = "7047" + rest[4:]
        else:
            rest = f"{rng.choice('235678')}{d(2)} {d(4)}"
        value = rng.choice([f"0{area} {rest}", f"+44 {area} {rest}", f"+44 (0){area} {rest}"])
    elif family == "de":
        if rng.random() < 0.5:
            area, n = rng.choice([("30", 8), ("40", 8), ("89", 7), ("69", 8), ("221", 7), ("711", 7), ("351", 7)])
            sub = f"{rng.randint(2, 9)}{d(n - 1)}"
            value = rng.choice(
                [
                    f"0{area} {sub}",
                    f"(0{area}) {sub}",
                    f"+49 {area} {sub}",
                    f"+49 (0){area} {sub}",
                    f"0{area}/{sub}",
                    f"0{area}-{sub}",
                ]
            )
        else:
            pre = rng.choice(["151", "160", "162", "173", "176", "178"])
            sub = d(7 if pre in ("160", "162") else 8)
            value = rng.choice(
                [f"0{pre}/{sub}", f"0{pre}-{sub}", f"+49 (0){pre} {sub}", f"+49 {pre} {sub[:3]} {sub[3:]}"]
            )
    elif family == "fr":
        n = f"{rng.choice('123459')}{d(8)}"
        pairs = [n[1:3], n[3:5], n[5:7], n[7:9]]
        value = rng.choice(
            [
                f"0{n[0]}.{'.'.join(pairs)}",
                f"0{n[0]} {' '.join(pairs)}",
                f"+33 (0){n[0]} {' '.join(pairs)}",
                f"+33{n}",
                f"0{n[0]}-{'-'.join(pairs)}",
            ]
        )
    elif family == "es":
        n = rng.choice([f"6{d(8)}", f"7{rng.randint(1, 4)}{d(7)}", f"91{d(7)}", f"93{d(7)}", f"96{d(7)}"])
        value = rng.choice(
            [
                f"+34 {n[:3]} {n[3:6]} {n[6:]}",
                f"{n[:3]} {n[3:5]} {n[5:7]} {n[7:]}",
                f"{n[:3]} {n[3:6]} {n[6:]}",
                f"0034 {n}",
                f"+34{n}",
            ]
        )
    elif family == "it":
        if rng.random() < 0.5:
            n = f"3{rng.choice(['20', '28', '33', '35', '38', '40', '47', '49', '66', '88', '92'])}{d(7)}"
            value = rng.choice([f"+39 {n[:3]} {n[3:6]} {n[6:]}", f"{n[:3]} {n[3:]}", f"{n[:3]}-{n[3:]}", f"+39 {n}"])
        else:
            area, n = rng.choice([("06", 8), ("02", 8), ("011", 7), ("055", 7), ("081", 7), ("051", 7)])
            sub = f"{rng.randint(2, 9)}{d(n - 1)}"
            value = rng.choice([f"{area} {sub}", f"+39 {area} {sub}", f"{area}/{sub}", f"+39 {area}{sub}"])
    elif family == "nl":
        if rng.random() < 0.5:
            sub = f"{rng.randint(1, 9)}{d(7)}"
            value = rng.choice(
                [f"06-{sub}", f"06 {sub[:2]} {sub[2:4]} {sub[4:6]} {sub[6:]}", f"+31 6 {sub}", f"+31 (0)6 {sub}"]
            )
        else:
            area, n = rng.choice([("20", 7), ("10", 7), ("30", 7), ("70", 7), ("40", 7), ("50", 7)])
            sub = f"{rng.randint(2, 9)}{d(n - 1)}"
            value = rng.choice(
                [
                    f"0{area}-{sub}",
                    f"0{area} {sub[:3]} {sub[3:]}",
                    f"+31 {area} {sub[:3]} {sub[3:]}",
                    f"+31 (0){area} {sub}",
                ]
            )
    elif family == "au":
        area = rng.choice("2378")
        sub = f"{rng.choice('3456789')}{d(7)}"
        if sub.startswith("5550"):  # ACMA fictitious-use range (a negative below)
            sub = "6" + sub[1:]
        value = rng.choice(
            [
                f"(0{area}) {sub[:4]} {sub[4:]}",
                f"0{area} {sub[:4]} {sub[4:]}",
                f"+61 {area} {sub[:4]} {sub[4:]}",
                f"+61{area}{sub}",
            ]
        )
    elif family == "in":
        if rng.random() < 0.5:
            area, n = rng.choice([("11", 8), ("22", 8), ("80", 8), ("44", 8), ("40", 8), ("33", 8)])
            sub = f"{rng.choice('2345679')}{d(n - 1)}"
            value = rng.choice([f"0{area}-{sub}", f"0{area} {sub[:4]} {sub[4:]}", f"+91 {area} {sub}"])
        else:
            m = f"{rng.choice('6789')}{d(9)}"
            value = rng.choice([f"0{m}", f"{m[:5]} {m[5:]}", f"0{m[:5]}-{m[5:]}"])
    elif family == "br":
        ddd = rng.choice(["11", "21", "31", "41", "51", "61", "71", "81", "85", "19"])
        if rng.random() < 0.5:
            value = rng.choice([f"({ddd}) 9{d(4)}-{d(4)}", f"{ddd} 9{d(4)}-{d(4)}", f"+55 ({ddd}) 9{d(4)} {d(4)}"])
        else:
            value = rng.choice(
                [f"({ddd}) {rng.choice('2345')}{d(3)}-{d(4)}", f"+55 {ddd} {rng.choice('2345')}{d(3)}-{d(4)}"]
            )
    elif family == "jp":
        value = rng.choice(
            [
                f"0{rng.choice(['70', '80', '90'])}-{d(4)}-{d(4)}",
                f"03-{rng.randint(1000, 9999)}-{d(4)}",
                f"06-{rng.randint(1000, 9999)}-{d(4)}",
                f"+81 3-{rng.randint(1000, 9999)}-{d(4)}",
                f"(045) {rng.randint(200, 999)}-{d(4)}",
                f"+81 (0)90 {d(4)} {d(4)}",
            ]
        )
    else:  # other regions, in E.164 only: unambiguous wherever the deployment is
        value = rng.choice(
            [
                f"+48 {rng.choice('5678')}{d(2)} {d(3)} {d(3)}",
                f"+46 7{rng.choice('0236')} {d(3)} {d(2)} {d(2)}",
                f"+52 55 {d(4)} {d(4)}",
                f"+27 {rng.choice(['82', '83', '72'])} {d(3)} {d(4)}",
                f"+82 10-{d(4)}-{d(4)}",
                f"+65 {rng.choice('89')}{d(3)} {d(4)}",
            ]
        )
    return value, value


def gen_phone_negative_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    d = functools.partial(digits, rng)
    if family == "fictional":  # ranges the plans reserve for drama and never assign
        value = rng.choice(
            [
                f"({rng.choice(NANP_AREAS_HELDOUT2)}) 555-01{d(2)}",
                f"{rng.choice(NANP_AREAS_HELDOUT2)}.555.01{d(2)}",  # NANPA
                f"020 7946 0{d(3)}",
                f"0161 496 0{d(3)}",
                f"0113 496 0{d(3)}",
                f"+44 20 7946 0{d(3)}",  # Ofcom drama ranges
                f"07700 900{d(3)}",
                f"(0{rng.choice('2378')}) 5550 {d(4)}",  # ACMA fictitious-use numbers
            ]
        )
    elif family == "nanp_impossible":  # N11 area, or area/exchange starting 0 or 1
        value = rng.choice(
            [
                f"{rng.randint(2, 9)}11.{nanp_exchange(rng)}.{d(4)}",
                f"+1 ({rng.randint(2, 9)}11) {nanp_exchange(rng)}-{d(4)}",
                f"{rng.choice(NANP_AREAS_HELDOUT2)}.{rng.choice('01')}{d(2)}.{d(4)}",
                f"+1 ({rng.choice('01')}{d(2)}) {nanp_exchange(rng)}-{d(4)}",
            ]
        )
    elif family == "bad_length":
        value = rng.choice(
            [
                f"+34 6{d(2)} {d(3)} {d(2)}",
                f"+31 6 {d(6)}",
                f"+81 90-{d(4)}-{d(3)}",
                f"+55 11 9{d(3)}-{d(4)}",
                f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)} {d(2)}",
                f"+91 9{d(8)}",
                f"+61 4{d(2)} {d(3)} {d(4)}",
            ]
        )
    else:  # spare country codes in ITU-T E.164 (280-289, 292-296, 990)
        value = f"+{rng.choice(['280', '283', '286', '289', '293', '295', '990'])} {d(3)} {d(4)}"
    return value, value


# RFC 5322 name-addr and addr-spec forms seen in practice, and RFC 6531 UTF-8 addresses.
DOMAINS_HELDOUT2 = [
    "eu.mail.fabrikam.example.de",
    "tailspin-toys.com",
    "posteo.de",
    "icloud.com",
    "wanadoo.fr",
    "libero.it",
    "hotmail.es",
    "ziggo.nl",
    "bigpond.com",
    "rediffmail.com",
    "uol.com.br",
    "docomo.ne.jp",
]


def gen_email_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    first, last, domain = rng.choice(FIRST), rng.choice(LAST), rng.choice(DOMAINS_HELDOUT2)
    if family == "name_addr":
        addr = f"{first}.{last}@{domain}"
        value = rng.choice([f'"{last.title()}, {first.title()}" <{addr}>', f"{first.title()} {last.title()} <{addr}>"])
    elif family == "mixed_case":
        addr = f"{first.title()}.{last.upper()}@{domain.title()}"
        value = addr
    elif family == "hyphen_digits":
        addr = f"{first}-{last}.{rng.randint(1970, 2005)}@{domain}"
        value = addr
    elif family == "utf8":
        addr = rng.choice(
            [
                f"josé.{last}@{domain}",
                f"jürgen.{last}@{domain}",
                f"{first}@münchen-post.de",
                f"françois.{last}@{domain}",
                "田中.健二@例え.jp",
                f"ines.{last}@correo.españa.es",
            ]
        )
        value = addr
    else:  # mailto URI (RFC 6068)
        addr = f"{first}.{last}@{domain}"
        value = f"mailto:{addr}?subject=Invoice%20{rng.randint(1000, 9999)}"
    return value, addr


def gen_email_negative_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "image_digest":
        value = f"{rng.choice(['python', 'nginx', 'postgres', 'redis'])}@sha256:{rand(rng, HEX, 64)}"
    elif family == "at_rule":
        value = rng.choice(
            [
                "@media (max-width: 600px)",
                "@keyframes spin",
                "@Override",
                "@pytest.fixture(scope=\"module\")",
                "@font-face",
                "@import url(theme.css)",
                "@supports (display: grid)",
            ]
        )
    else:  # an SSH login to an address, not a mail domain
        value = f"{rng.choice(['deploy', 'ubuntu', 'ec2-user', 'root'])}@{rng.randint(10, 192)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    return value, value


def gen_jwt_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    h, p, _ = jwt_parts(rng, "HS256")
    header = {"alg": family, "typ": "JWT", "kid": rand(rng, URLSAFE, 16)}
    sig = {"RS512": 256, "ES384": 96, "HS512": 64, "PS256": 256}[family]
    value = f"{b64url(json.dumps(header, separators=(',', ':')).encode())}.{p}.{b64url(rng.randbytes(sig))}"
    return value, value


def gen_jwt_negative_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    h, p, s = jwt_parts(rng, "RS256")
    if family == "header_only":
        value = h
    elif family == "ellipsis":
        value = f"{h}.{p[: rng.randint(6, 20)]}…"
    else:
        value = rng.choice(["Bearer <jwt>", "eyJhbGciOi...", f"{h}.<claims>.<sig>", "<ID_TOKEN>"])
    return value, value


def gen_private_key_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "pgp":  # RFC 4880 ASCII armor: blank line after the headers, 64-character lines, CRC-24 line
        data = base64.b64encode(rng.randbytes(rng.choice([180, 400]))).decode()
        body = "\n".join(data[i : i + 64] for i in range(0, len(data), 64))
        crc = base64.b64encode(rng.randbytes(3)).decode()
        value = f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{body}\n={crc}\n-----END PGP PRIVATE KEY BLOCK-----"
        return value, value
    label = {
        "dsa": "DSA PRIVATE KEY",
        "pkcs8": "PRIVATE KEY",
        "rsa": "RSA PRIVATE KEY",
        "openssh": "OPENSSH PRIVATE KEY",
    }[family]
    size = rng.choice([150, 420, 1190])
    value = pem(label, b"\x30\x82" + size.to_bytes(2, "big") + rng.randbytes(size))
    return value, value


def gen_slack_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "webhook":  # Slack: "your webhook URL contains a secret"
        secret = rand(rng, ALNUM, 24)
        return (
            f"https://hooks.slack.com/services/T{rand(rng, UPPER_DIGITS, 8)}/B{rand(rng, UPPER_DIGITS, 10)}/{secret}",
            secret,
        )
    return gen_slack(rng, family)


def gen_stripe_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "whsec":  # webhook endpoint signing secret
        value = "whsec_" + rand(rng, ALNUM, 32)
        return value, value
    return gen_stripe(rng, family)


def gen_google_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "client_secret":  # OAuth client secrets since 2021: GOCSPX- prefix
        value = "GOCSPX-" + rand(rng, URLSAFE, 28)
        return value, value
    return gen_google(rng, family)


def gen_openai_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "admin":
        value = "sk-admin-" + rand(rng, URLSAFE, rng.randint(120, 160))
        return value, value
    return gen_openai(rng, family)


def gen_url_password_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    password = url_password(rng) if rng.random() < 0.6 else rand(rng, ALNUM, rng.randint(12, 24))
    user = rng.choice(["reporting", "ci-bot", "backup", "mailer", "svc.payments"])
    if family == "redis_no_user":  # RFC 3986 allows an empty user before the colon
        return f"{rng.choice(['redis', 'rediss'])}://:{password}@cache-{rng.randint(1, 9)}.internal:6379/2", password
    host = rng.choice(
        ["[fd00::5]", "ftp.acme-corp.io", "smtp.northwind.co.uk", "sql-7.internal", "nats.svc.cluster.local"]
    )
    scheme, tail = {
        "ftp": ("ftp", ":21/exports/"),
        "smtps": ("smtps", ":465"),
        "sqlserver": ("sqlserver", ":1433?database=ledger"),
        "nats": ("nats", ":4222"),
        "clickhouse": ("clickhouse", ":9440/analytics?secure=true"),
    }[family]
    return f"{scheme}://{user}:{password}@{host}{tail}", password


ENV_NAMES_HELDOUT2 = [
    "AZURE_CLIENT_SECRET",
    "DJANGO_SECRET_KEY",
    "POSTGRES_PASSWORD",
    "AUTH0_CLIENT_SECRET",
    "SENDGRID_API_KEY",
    "ALGOLIA_ADMIN_KEY",
    "VAULT_TOKEN",
    "HF_TOKEN",
    "MINIO_ROOT_PASSWORD",
    "RABBITMQ_DEFAULT_PASS",
    "mysql_root_password",
    "nextauth_secret",
    "ConsumerSecret",
]


def gen_env_secret_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    name = rng.choice(ENV_NAMES_HELDOUT2)
    value = rand(rng, rng.choice([ALNUM, ALNUM + "&=%!#*-_.@^~", HEX]), rng.randint(20, 44))
    line = {
        "export": f"export {name}=\"{value}\"",
        "compose": f"- {name}={value}",
        "powershell": f"$env:{name} = '{value}'",
        "systemd": f"Environment=\"{name}={value}\"",
        "windows_set": f"set {name}={value}",
    }[family]
    return line, value


PLACEHOLDERS_HELDOUT2 = [
    "sk-proj-XXXXXXXXXXXXXXXXXXXXXXXX",
    "ghp_<your_token_here>",
    "AKIA****************",
    "xoxb-XXXXXXXXXXXX-XXXXXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX",
    "REDACTED",
    "[FILTERED]",
    "whsec_...",
    "GOCSPX-<client-secret>",
    "sk-ant-...",
    "<PASSWORD>",
]
TEMPLATE_PLACEHOLDERS_HELDOUT2 = [
    "{{ .Values.apiKey }}",
    "$(API_KEY)",
    "%API_KEY%",
    "process.env.OPENAI_API_KEY",
    "os.environ['AWS_SECRET_ACCESS_KEY']",
    "${{ secrets.SLACK_WEBHOOK }}",
    "#{STRIPE_SECRET}",
    "{{ vault \"secret/api\" \"token\" }}",
    "@Value(\"${api.key}\")",
]


def gen_placeholder_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    value = rng.choice(PLACEHOLDERS_HELDOUT2 if family == "documentation" else TEMPLATE_PLACEHOLDERS_HELDOUT2)
    return value, value


def tracking_number(rng: random.Random) -> str:
    return rng.choice(
        [
            f"1Z{rand(rng, UPPER_DIGITS, 6)}{digits(rng, 10)}",  # UPS
            no_card(rng, lambda: digits(rng, 12)),  # FedEx Express
            f"9400 {digits(rng, 4)} {digits(rng, 4)} {digits(rng, 4)} {digits(rng, 4)} {digits(rng, 2)}",
        ]
    )  # USPS


def gen_benign_heldout2(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "ulid_uuid7":
        value = rng.choice(
            [
                rand(rng, "0123456789ABCDEFGHJKMNPQRSTVWXYZ", 26),
                str(
                    uuid.UUID(
                        bytes=(
                            rng.randint(1_700_000_000_000, 1_800_000_000_000).to_bytes(6, "big")
                            + b"\x70"
                            + rng.randbytes(9)
                        )
                    )
                ),
            ]
        )
    elif family == "digest":
        data = rng.randbytes(24)
        value = rng.choice(
            [
                hashlib.sha512(data).hexdigest(),
                hashlib.blake2b(data, digest_size=20).hexdigest(),
                "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode(),
            ]
        )  # SRI hash
    elif family == "version":
        value = rng.choice(
            [
                f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}+build.{rng.randint(100, 9999)}",
                f"{rng.randint(2019, 2026)}.{rng.randint(1, 12):02d}.{rng.randint(1, 28):02d}-{rand(rng, HEX, 7)}",
            ]
        )
    elif family == "timestamp":
        value = no_card(
            rng,
            lambda: rng.choice(
                [
                    f"Tue, {rng.randint(1, 28):02d} Oct 2025 {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00 +0200",
                    f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{digits(rng, 6)}+05:30",
                    str(1_600_000_000_000_000 + rng.randint(0, 10**14)),
                ]
            ),
        )
    elif family == "order_number":
        value = no_card(
            rng,
            lambda: rng.choice(
                [
                    f"PO-2025-{digits(rng, 6)}",
                    f"INV/{digits(rng, 4)}/{digits(rng, 5)}",
                    digits(rng, 13),
                    f"#{digits(rng, 10)}",
                ]
            ),
        )
    elif family == "isbn":
        value = no_card(rng, lambda: isbn13(rng).replace("-", rng.choice(["", "-", " "])))
    elif family == "tracking":
        value = tracking_number(rng)
    elif family == "network":
        value = rng.choice(
            [
                f"fe80::{rand(rng, HEX, 4)}:{rand(rng, HEX, 4)}:{rand(rng, HEX, 4)}:{rand(rng, HEX, 4)}",
                ":".join(rand(rng, HEX, 2) for _ in range(6)),
                f"2001:db8:{rand(rng, HEX, 4)}::{rand(rng, HEX, 3)}",
            ]
        )
    elif family == "k8s_name":
        value = f"{rng.choice(['billing-api', 'web', 'worker'])}-{rand(rng, 'bcdfghjklmnpqrstvwxz2456789', 10)}-{rand(rng, 'bcdfghjklmnpqrstvwxz2456789', 5)}"
    else:  # digit runs of card length that fail Luhn (a Luhn-valid one would be a card by the card's description)
        value = no_card(rng, lambda: " ".join(digits(rng, 4) for _ in range(rng.choice([4, 5]))))
    return value, value


KINDS_HELDOUT2 = [
    Kind(
        "card",
        "pii",
        True,
        tuple(CARD_ISSUERS_HELDOUT2),
        frozenset(),
        gen_card_heldout2,
        ("Kartennummer", "numéro de carte", "card no.", "billing card", "tarjeta"),
        ("card_no", "primaryAccountNumber", "ccNumber", "payment.card.number", "CardNum"),
    ),
    Kind(
        "ssn",
        "pii",
        True,
        fams("dashed", "dotted", "plain", "spaced_dash"),
        frozenset(),
        gen_ssn_heldout2,
        ("SSN (US)", "Social Security #", "soc. sec. no.", "SS#", "social security number of the insured"),
        ("ssn_full", "SSN", "insured_ssn", "employee.ssn", "ss_number"),
        bare=False,
    ),
    Kind(
        "iban",
        "pii",
        True,
        tuple(IBAN_FAMILIES_HELDOUT2),
        frozenset(),
        gen_iban_heldout2,
        ("IBAN-Nr.", "payee IBAN", "compte IBAN", "beneficiary account", "refund to"),
        ("ibanNumber", "beneficiary_iban", "IBAN", "payee.iban", "creditorAccount"),
    ),
    Kind(
        "phone",
        "pii",
        True,
        fams("us_ca", "gb", "de", "fr", "es", "it", "nl", "au", "in", "br", "jp", "e164_other"),
        frozenset(),
        gen_phone_heldout2,
        ("Tel.", "Handy", "portable", "móvil", "cellulare", "phone (work)", "callback number", "WhatsApp"),
        ("telephone", "phoneNumber", "mobile_phone", "contact.phone", "msisdn"),
    ),
    Kind(
        "email",
        "pii",
        True,
        fams("name_addr", "mixed_case", "hyphen_digits", "utf8", "mailto"),
        frozenset(),
        gen_email_heldout2,
        ("E-Mail", "courriel", "correo", "address on file", "send the invoice to"),
        ("mail", "emailAddr", "billing_email", "contact.email", "replyTo"),
    ),
    Kind(
        "aws_access_key_id",
        "secrets",
        True,
        fams("akia", "asia"),
        frozenset(),
        gen_aws_key_id,
        ("AWS access key", "key id", "IAM access key"),
        ("awsAccessKeyId", "AWS_ACCESS_KEY_ID", "aws.accessKeyId", "access_key"),
    ),
    Kind(
        "aws_secret_access_key",
        "secrets",
        True,
        fams("base64"),
        frozenset(),
        gen_aws_secret,
        ("AWS secret", "IAM secret key", "secret half of the AWS key pair"),
        ("AWS_SECRET_ACCESS_KEY", "aws.secretKey", "awsSecretAccessKey", "secret_access_key"),
        bare=False,
    ),
    Kind(
        "github_token",
        "secrets",
        True,
        fams("ghp", "gho", "ghu", "ghs", "ghr", "github_pat"),
        frozenset(),
        gen_github,
        ("GitHub PAT", "gh token", "GITHUB_TOKEN value"),
        ("githubToken", "GITHUB_TOKEN", "gh.token", "git_auth_token"),
    ),
    Kind(
        "slack_token",
        "secrets",
        True,
        fams("xoxb", "xoxp", "xapp", "webhook"),
        frozenset(),
        gen_slack_heldout2,
        ("Slack bot token", "Slack credential", "incoming webhook"),
        ("SLACK_TOKEN", "slack.botToken", "slackWebhookUrl", "bot_token"),
    ),
    Kind(
        "stripe_key",
        "secrets",
        True,
        fams("sk", "rk", "whsec"),
        frozenset(),
        gen_stripe_heldout2,
        ("Stripe secret", "live key", "webhook signing secret"),
        ("STRIPE_API_KEY", "stripe.secretKey", "stripeSecret", "signing_secret"),
    ),
    Kind(
        "google_credential",
        "secrets",
        True,
        fams("api_key", "oauth_token", "client_secret"),
        frozenset(),
        gen_google_heldout2,
        ("Google key", "Maps API key", "OAuth client secret", "gcloud access token"),
        ("GOOGLE_API_KEY", "google.apiKey", "client_secret", "gcpToken"),
    ),
    Kind(
        "openai_key",
        "secrets",
        True,
        fams("proj", "svcacct", "legacy", "admin"),
        frozenset(),
        gen_openai_heldout2,
        ("OpenAI API key", "sk key", "openai credential"),
        ("OPENAI_KEY", "openai.apiKey", "openaiApiKey", "llm_api_key"),
    ),
    Kind(
        "private_key",
        "secrets",
        True,
        fams("pkcs8", "rsa", "dsa", "openssh", "pgp"),
        frozenset(),
        gen_private_key_heldout2,
        ("private key (PEM)", "signing key", "deploy key"),
        ("tls.key", "privateKeyPem", "signing_key", "ssh_private_key"),
    ),
    Kind(
        "jwt",
        "secrets",
        True,
        fams("RS512", "ES384", "HS512", "PS256"),
        frozenset(),
        gen_jwt_heldout2,
        ("bearer token", "ID token", "session JWT"),
        ("idToken", "bearer", "auth.jwt", "sessionToken"),
    ),
    Kind(
        "url_password",
        "secrets",
        True,
        fams("ftp", "smtps", "sqlserver", "nats", "clickhouse", "redis_no_user"),
        frozenset(),
        gen_url_password_heldout2,
        ("connection URL", "broker", "upstream"),
        ("databaseUrl", "SQLALCHEMY_DATABASE_URI", "broker_url", "upstream.url"),
    ),
    Kind(
        "env_secret",
        "secrets",
        True,
        fams("export", "compose", "powershell", "systemd", "windows_set"),
        frozenset(),
        gen_env_secret_heldout2,
        ("env file", ".env.production", "environment"),
        ("environment", "envFile", "dotenv_line"),
    ),
    # Hard negatives
    Kind(
        "card",
        "pii",
        False,
        fams("luhn_invalid", "imei", "masked"),
        frozenset(),
        gen_card_negative_heldout2,
        ("card no.", "Kartennummer", "billing card"),
        ("card_no", "ccNumber", "CardNum"),
    ),
    Kind(
        "ssn",
        "pii",
        False,
        fams("voided", "masked", "area000_666", "group00", "serial0000"),
        frozenset(),
        gen_ssn_negative_heldout2,
        ("SSN (US)", "Social Security #", "SS#"),
        ("ssn_full", "SSN", "insured_ssn"),
        bare=False,
    ),
    Kind(
        "iban",
        "pii",
        False,
        fams("bad_check", "wrong_length"),
        frozenset(),
        gen_iban_negative_heldout2,
        ("IBAN-Nr.", "payee IBAN", "compte IBAN"),
        ("ibanNumber", "beneficiary_iban", "IBAN"),
    ),
    Kind(
        "phone",
        "pii",
        False,
        fams("fictional", "nanp_impossible", "bad_length", "spare_cc"),
        frozenset(),
        gen_phone_negative_heldout2,
        ("Tel.", "callback number", "phone (work)"),
        ("telephone", "phoneNumber", "msisdn"),
    ),
    Kind(
        "email",
        "pii",
        False,
        fams("image_digest", "at_rule", "ssh_login"),
        frozenset(),
        gen_email_negative_heldout2,
        ("image", "rule", "login"),
        ("image", "selector", "ssh_target"),
    ),
    Kind(
        "jwt",
        "secrets",
        False,
        fams("header_only", "ellipsis", "placeholder"),
        frozenset(),
        gen_jwt_negative_heldout2,
        ("bearer token", "ID token", "example token"),
        ("idToken", "bearer", "sessionToken"),
    ),
    Kind(
        "placeholder",
        "secrets",
        False,
        fams("documentation", "template"),
        frozenset(),
        gen_placeholder_heldout2,
        ("API key", "client secret", "webhook secret", "password"),
        ("apiKey", "clientSecret", "webhook_secret", "passwd"),
    ),
    Kind(
        "benign",
        "secrets",
        False,
        fams(
            "ulid_uuid7",
            "digest",
            "version",
            "timestamp",
            "order_number",
            "isbn",
            "tracking",
            "network",
            "k8s_name",
            "digit_run",
        ),
        frozenset(),
        gen_benign_heldout2,
        ("trace id", "digest", "build", "tracking no.", "node", "revision"),
        ("trace_id", "digest", "build_id", "tracking", "node", "revision", "sku"),
    ),
]

# Text contexts of heldout2: (name, template, scope). Scope "pii"/"secrets" limits a context to that detector's kinds;
# "labelled" marks a context whose label is near the value (README.md: the value's own key, its column header, or the
# same line) — values that need a label to mean anything (nine plain digits) only come in those.
TEXT_HELDOUT2: list[tuple[str, str, str, bool]] = [
    ("yaml", "```yaml\nservice: billing\n{key}: \"{v}\"\nretries: 3\n```", "all", True),
    ("properties", "# application.properties\nserver.port=8443\n{key}={v}\nlogging.level.root=WARN", "all", True),
    ("log", "2025-11-04T09:12:44.118Z INFO  [worker-3] profile.update user={uid} {key}={v} took=41ms", "all", True),
    ("logfmt", "ts=2025-11-04T09:12:44Z level=warn msg=\"retrying sync\" {key}=\"{v}\" attempt=2", "all", True),
    ("csv", "id,name,{key},created_at\n{uid},{Name},{v},2025-10-01", "all", True),
    (
        "md_table",
        "| # | owner | {label} | updated |\n|--:|---|---|---|\n| {n} | {Name} | `{v}` | 2 days ago |",
        "all",
        True,
    ),
    ("toml", "[{section}]\n{key} = \"{v}\"\ntimeout = 30", "all", True),
    ("xml", "<record id=\"{uid}\">\n  <{xmlkey}>{v}</{xmlkey}>\n</record>", "all", True),
    ("sql", "INSERT INTO contacts (name, {sqlkey}) VALUES ('{Name}', '{v}');", "all", True),
    ("exception", "ValueError: {label} '{v}' failed validation (row {n})", "all", True),
    ("signature", "Kind regards,\n{Name}\nAccounts Payable · Northwind Traders\n{label}: {v}", "pii", True),
    ("german", "Hallo, meine {label} lautet {v}. Viele Grüße, {Name}", "pii", True),
    ("french", "Bonjour, voici mon {label} : {v}. Cordialement, {Name}", "pii", True),
    (
        "chat",
        "[10:42] {Name}: can you resend the {label}?\n[10:43] support-bot: sure, it is {v}\n[10:43] {Name}: thanks",
        "all",
        False,
    ),
    (
        "quoted_reply",
        "On Tue, 4 Nov 2025 at 09:12, {Name} wrote:\n> see below\n> {v}\n\nNoted, updating the {label} now.",
        "all",
        False,
    ),
    ("shell", "$ export {envkey}='{v}'\n$ ./deploy.sh --env staging", "secrets", True),
    ("bare_list", "Attachments reviewed:\n- {v}\n- invoice-2291.pdf", "bare", False),
]
# Multi-line values only fit contexts that do not indent or quote them line by line.
MULTILINE_OK_HELDOUT2 = {"chat", "exception", "log", "bare_list", "signature"}
JSON_SHAPES_HELDOUT2 = {
    "json_request": ["graphql", "json_patch", "nested_rows", "mcp_call_text", "anthropic_request"],
    "json_response": ["mcp_result_multi", "mcp_structured", "anthropic_message", "openai_tool_call", "search_hits"],
}
KEYED_SHAPES_HELDOUT2 = {"graphql", "json_patch", "nested_rows", "mcp_structured", "openai_tool_call", "search_hits"}
SSE_EVENT_STYLES_HELDOUT2 = ("anthropic", "openai_responses", "named_plain", "mcp_progress")


def text_contexts_heldout2(kind: Kind, family: str, value: str) -> list[str]:
    needs_label = not kind.bare
    out = []
    for name, _template, scope, labelled in TEXT_HELDOUT2:
        if scope in ("pii", "secrets") and scope != kind.detector:
            continue
        if scope == "bare" and needs_label:
            continue
        if needs_label and not labelled:
            continue
        if "\n" in value and name not in MULTILINE_OK_HELDOUT2:
            continue
        if (
            (name == "csv" and "," in value)
            or (name == "md_table" and ("|" in value or "`" in value))
            or (name == "sql" and "'" in value)
            or (name in ("yaml", "toml", "logfmt") and '"' in value)
            or (name == "shell" and "'" in value)
            or (name == "xml" and ("<" in value or "&" in value))
        ):
            continue
        out.append(name)
    return out


# Families whose labels differ from their kind's: an IMEI is introduced as an IMEI, never as a card.
FAMILY_NAMES_HELDOUT2 = {
    ("card", False, "imei"): (("IMEI", "IMEI/SV", "device id"), ("imei", "deviceImei", "handset.imei"))
}


def names_heldout2(kind: Kind, family: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The labels and member names a sample of this kind and family is introduced by."""
    return FAMILY_NAMES_HELDOUT2.get((kind.name, kind.positive, family), (kind.labels, kind.keys))


def render_text_heldout2(rng: random.Random, kind: Kind, family: str, context: str, value: str) -> str:
    template = next(t for n, t, _, _ in TEXT_HELDOUT2 if n == context)
    labels, keys = names_heldout2(kind, family)
    key = rng.choice(keys)
    plain_key = "".join(c if c.isalnum() else "_" for c in key)
    return template.format(
        key=key,
        label=rng.choice(labels),
        v=value,
        uid=rng.randint(1000, 99_999),
        Name=f"{rng.choice(FIRST).title()} {rng.choice(LAST).title()}",
        n=rng.randint(1, 40),
        section=rng.choice(["billing", "upstream", "profile", "integration"]),
        xmlkey=plain_key,
        sqlkey=plain_key.lower(),
        envkey=plain_key.upper(),
    )


def json_body_heldout2(rng: random.Random, carrier: str, shape: str, key: str, text: str, value: str) -> bytes:
    doc: object
    if shape == "graphql":
        doc = {
            "operationName": "UpdateProfile",
            "query": "mutation UpdateProfile($input: ProfileInput!) { updateProfile(input: $input) { id } }",
            "variables": {"input": {"id": rng.randint(1, 9999), key: value}},
        }
    elif shape == "json_patch":  # RFC 6902 operations
        doc = [
            {"op": "test", "path": "/version", "value": rng.randint(1, 9)},
            {"op": "replace", "path": f"/profile/{key}", "value": value},
        ]
    elif shape == "nested_rows":
        doc = {"sheet": "contacts", "rows": [["field", "value"], ["name", rng.choice(FIRST).title()], [key, value]]}
    elif shape == "mcp_call_text":
        doc = {
            "jsonrpc": "2.0",
            "id": rng.randint(100, 999),
            "method": "tools/call",
            "params": {
                "name": rng.choice(["write_file", "create_issue", "send_message"]),
                "arguments": {"path": "notes/ticket.md", "content": text},
            },
        }
    elif shape == "anthropic_request":
        doc = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        }
    elif shape == "mcp_result_multi":
        doc = {
            "jsonrpc": "2.0",
            "id": rng.randint(100, 999),
            "result": {
                "content": [{"type": "text", "text": "Found 1 matching record."}, {"type": "text", "text": text}],
                "isError": False,
            },
        }
    elif shape == "mcp_structured":
        doc = {
            "jsonrpc": "2.0",
            "id": rng.randint(100, 999),
            "result": {
                "content": [{"type": "text", "text": json.dumps({key: value})}],
                "structuredContent": {key: value},
            },
        }
    elif shape == "anthropic_message":
        doc = {
            "id": f"msg_{rand(rng, ALNUM, 24)}",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
        }
    elif shape == "openai_tool_call":  # the arguments are a JSON document inside a JSON string
        doc = {
            "id": f"chatcmpl-{rand(rng, ALNUM, 12)}",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": f"call_{rand(rng, ALNUM, 10)}",
                                "type": "function",
                                "function": {"name": "save_contact", "arguments": json.dumps({key: value})},
                            }
                        ],
                    },
                }
            ],
        }
    else:  # search_hits
        doc = {
            "took": rng.randint(1, 40),
            "hits": {
                "total": {"value": 1},
                "hits": [
                    {
                        "_index": "customers",
                        "_id": rand(rng, URLSAFE, 20),
                        "_source": {"owner": {key: value, "tier": "gold"}},
                    }
                ],
            },
        }
    return json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode()


def sse_event_heldout2(style: str, piece: str, n: int) -> bytes:
    if style == "anthropic":
        data = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
        return b"event: content_block_delta\ndata: " + json.dumps(data).encode() + b"\n\n"
    if style == "openai_responses":
        data2 = {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": piece,
        }
        return b"event: response.output_text.delta\ndata: " + json.dumps(data2).encode() + b"\n\n"
    if style == "mcp_progress":  # text streamed by a tool as plain event lines, with ids for resumption
        return f"id: {n}\n".encode() + sse_data_lines(piece) + b"\n"
    return b"event: message\n" + sse_data_lines(piece) + b"\n"


def sse_events_heldout2(rng: random.Random, text: str, start: int, end: int, cut: int, style: str) -> tuple[bytes, ...]:
    at = start + cut
    cuts = {at}
    if style in ("anthropic", "openai_responses"):
        i = 0
        while i < len(text):
            i += rng.randint(2, 9)
            if not start < i < end:
                cuts.add(i)
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(text)), len(text)]
    events = [sse_event_heldout2(style, text[a:b], k) for k, (a, b) in enumerate(itertools.pairwise(bounds)) if b > a]
    if style == "anthropic":
        events.append(b"event: message_stop\ndata: {\"type\": \"message_stop\"}\n\n")
    else:
        events.append(b"data: [DONE]\n\n")
    return tuple(events)


def sse_lines_heldout2(rng: random.Random, text: str, start: int, cut: int) -> tuple[bytes, ...]:
    """One event (named, with an id, CRLF line ends half the time); the value is split over two data: lines."""
    at = start + cut
    event = b"event: message\nid: 1\n" + sse_data_lines(text[:at]) + sse_data_lines(text[at:]) + b"\n"
    if rng.random() < 0.5:
        event = event.replace(b"\n", b"\r\n")
    return (event, b"event: end\ndata: {}\n\n")


def _samples_heldout2(rng: random.Random, kind: Kind, carrier: str) -> Iterable[Sample]:
    count = PER_CARRIER_HELDOUT2 * (2 if kind.name == "benign" else 1)
    for n in range(count):
        # families rotate across carriers too, so that every family of a kind gets about the same share
        family = kind.families[(n + CARRIERS.index(carrier) * count) % len(kind.families)]
        value, secret = kind.make(rng, family)
        shape = rng.choice(JSON_SHAPES_HELDOUT2[carrier]) if carrier in JSON_SHAPES_HELDOUT2 else "text"
        key = rng.choice(names_heldout2(kind, family)[1])
        context = "-"
        text = value
        if shape not in KEYED_SHAPES_HELDOUT2:
            context = rng.choice(text_contexts_heldout2(kind, family, value))
            text = render_text_heldout2(rng, kind, family, context, value)
        template = f"{shape}:{context}"
        base = f"heldout2/{kind.name}/{'pos' if kind.positive else 'neg'}/{carrier}/{n}"
        common = dict(
            split="heldout2",
            kind=kind.name,
            positive=kind.positive,
            detector=kind.detector,
            family=family,
            template=template,
            carrier=carrier,
            value=value,
            secret=secret,
        )
        if carrier in JSON_SHAPES_HELDOUT2:
            body = json_body_heldout2(rng, carrier, shape, key, text, value)
            yield Sample(id=base, content_type="application/json", chunks=(body,), **common)  # type: ignore[arg-type]
        elif carrier == "text":
            yield Sample(id=base, content_type="text/plain; charset=utf-8", chunks=(text.encode(),), **common)  # type: ignore[arg-type]
        else:
            start = text.index(value)
            cuts = cut_points(rng, value)
            cut = cuts[n % len(cuts)]
            if carrier == "sse_lines":
                chunks = sse_lines_heldout2(rng, text, start, cut)
            else:
                style = SSE_EVENT_STYLES_HELDOUT2[n % len(SSE_EVENT_STYLES_HELDOUT2)]
                chunks = sse_events_heldout2(rng, text, start, start + len(value), cut, style)
            yield Sample(id=f"{base}/cut{cut}", content_type="text/event-stream", chunks=chunks, **common)  # type: ignore[arg-type]


def generate_heldout2() -> list[Sample]:
    """The heldout2 split alone, from its own seed."""
    rng = random.Random(HELDOUT2_SEED)
    return [s for kind in KINDS_HELDOUT2 for carrier in CARRIERS for s in _samples_heldout2(rng, kind, carrier)]


# --- scoring ------------------------------------------------------------------------------------------------------

def score(samples: Iterable[Sample], predict: Callable[[Sample], tuple[set[str], bool]]) -> dict[str, dict[str, dict[str, float]]]:
    """Precision and recall per detector, per kind and per carrier.

    ``predict`` returns the detectors that fired on a sample and whether its secret was covered whole (a body scan
    that only reports may return True). A positive counts as found when its detector fired and nothing of its
    secret stayed readable; a negative counts as a false positive for every PII/secrets detector that fired, and a
    positive for the other detector when that one fired too.
    """
    def cell() -> dict[str, float]:
        return {"tp": 0, "fp": 0, "fn": 0, "tn": 0}

    tables: dict[str, dict[str, dict[str, float]]] = {"detector": {}, "kind": {}, "carrier": {}}
    for s in samples:
        fired, whole = predict(s)
        fired &= {"pii", "secrets"}
        for table, key in (("kind", s.kind), ("carrier", s.carrier)):
            c = tables[table].setdefault(key, cell())
            if s.positive:
                c["tp" if s.detector in fired and whole else "fn"] += 1
            else:
                c["fp" if fired else "tn"] += 1
        detectors = tables["detector"]
        if s.positive:
            detectors.setdefault(s.detector, cell())["tp" if s.detector in fired and whole else "fn"] += 1
        for other in fired - ({s.detector} if s.positive else set()):
            detectors.setdefault(other, cell())["fp"] += 1
        if not s.positive and not fired:
            detectors.setdefault(s.detector, cell())["tn"] += 1
    for table in tables.values():
        for c in table.values():
            found = c["tp"] + c["fp"]
            c["precision"] = c["tp"] / found if found else 1.0
            real = c["tp"] + c["fn"]
            c["recall"] = c["tp"] / real if real else 1.0
    return tables
