"""An independent labelled corpus of PII, secrets and hard negatives, written from public format descriptions.

Every format here was written from the description named in README.md, not from stoad's rules. Samples are split
by generator family and context template into ``dev`` (tune on it) and ``heldout`` (score once, never tune).
"""

from __future__ import annotations

import base64
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
    split: str  # "dev" or "heldout"
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
    """The whole corpus, the same on every call (fixed seed)."""
    rng = random.Random(SEED)
    out: list[Sample] = []
    for split in ("dev", "heldout"):
        for kind in KINDS:
            for carrier in CARRIERS:
                out.extend(_samples_for(rng, kind, carrier, split))
    return out


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
