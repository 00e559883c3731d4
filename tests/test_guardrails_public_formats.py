"""Issue 14, heldout3 round: rules from the formats' public descriptions (IIN tables, the IBAN registry, RFC 2606,
RFC 5322 Message-IDs, RFC 7516 JWE, PuTTY key files, Kubernetes env, Dockerfile ARG/ENV, secret-store references)."""

from __future__ import annotations

import base64
import json

from twisted.trial.unittest import SynchronousTestCase

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.guardrails import (
    iban_ok,
)
from stoad.guardrails._detectors import looks_placeholder
from tests.support.guardrails import EUROPE_AND_MORE, found, kinds, scan_json


def luhn_complete(partial: str) -> str:
    """C{partial} and the Luhn check digit that makes it valid."""
    for digit in "0123456789":
        number = partial + digit
        total = 0
        for i, ch in enumerate(reversed(number)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return number
    raise AssertionError("unreachable")


def with_check_digits(country: str, bban: str) -> str:
    """An IBAN of C{country} and C{bban} with its MOD 97-10 check digits (ISO 13616)."""
    number = int("".join(str(int(ch, 36)) for ch in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class CardIssuerTests(SynchronousTestCase):
    def test_issuers_from_the_iin_tables(self) -> None:
        """InstaPayment (637-639), InterPayment (636), Elo (5041 75, 5066 99-5067 78, 509), Dankort, Troy, UzCard, Humo."""
        for prefix in ("6371", "6389", "6363", "504175", "506699", "509012", "5019", "9792", "8600", "9860"):
            number = luhn_complete(prefix + "0" * (15 - len(prefix)))
            spaced = " ".join(number[i:i + 4] for i in range(0, 16, 4))
            self.assertEqual(found(f"card on file {spaced} thanks"), [("card", spaced)], prefix)

    def test_a_prefix_of_no_issuer_is_no_card(self) -> None:
        """A Luhn-valid 16-digit run under a prefix no scheme issues (9999) is not a card."""
        number = luhn_complete("999912345678901")
        self.assertEqual(kinds(f"ref {number} ok"), [])


class IbanRegistryTests(SynchronousTestCase):
    def test_countries_without_iban_are_not_ibans(self) -> None:
        """US, CA, AU, JP and IN are not in the registry: correct-looking check digits do not make an IBAN."""
        for country in ("US", "CA", "AU", "JP", "IN"):
            value = with_check_digits(country, "3007892682255115")
            self.assertFalse(iban_ok(value), value)
            self.assertEqual(kinds(f"pay to {value} today"), [], value)

    def test_registry_countries_at_their_length(self) -> None:
        """Newer registry members (Russia 33, Oman 23, Honduras 28) are IBANs at their length, not one off."""
        ru = with_check_digits("RU", "04452560040702810412345678901")
        om = with_check_digits("OM", "0180000001299123456")
        hn = with_check_digits("HN", "PISA00000000000000123124")
        for value in (ru, om, hn):
            self.assertTrue(iban_ok(value), value)
        self.assertFalse(iban_ok(with_check_digits("RU", "0445256004070281041234567890")))

    def test_check_digits_never_computed(self) -> None:
        """Check digits 00, 01 and 99 are congruent to 97, 98 and 02 but MOD 97-10 never gives them."""
        twins = {"97": "00", "98": "01", "02": "99"}
        for serial in range(100_000):
            valid = with_check_digits("SC", f"RJDX928774920014000{serial:05d}MAL")
            if valid[2:4] in twins and iban_ok(valid):
                break
        self.assertIn(valid[2:4], twins)
        twin = valid[:2] + twins[valid[2:4]] + valid[4:]
        self.assertFalse(iban_ok(twin), twin)


class EmailLookAlikeTests(SynchronousTestCase):
    def test_reserved_names_hold_no_mailbox(self) -> None:
        """RFC 2606 / RFC 6761 names (example.com/net/org, .test, .example, .invalid, .localhost) are not PII."""
        for address in ("jane@example.com", "jo@mail.example.org", "a.b@example.net", "yuki@mail.test",
                        "liam@shop.example", "freya@host.invalid", "root@box.localhost"):
            self.assertEqual(kinds(f"write to {address} now"), [], address)
        self.assertEqual(kinds("write to jane@examples.com now"), ["email"])

    def test_message_ids_are_not_addresses(self) -> None:
        """An RFC 5322 Message-ID (a generated left part in angle brackets) is no address; a person's is."""
        self.assertEqual(kinds('"messageId": "<Y5rPdpoJk6MiMdj8YvM0UFVU.4112@mx.kpnmail.nl>"'), [])
        self.assertEqual(found("From: Jane Roe <jane.roe@kpnmail.nl>"), [("email", "jane.roe@kpnmail.nl")])

    def test_scp_style_remotes_are_not_addresses(self) -> None:
        """git@github.com:org/repo.git names an SSH destination, not a mailbox."""
        for remote in ("git@github.com:acme/billing.git", "git@gitlab.com:platform-team/web.git"):
            self.assertEqual(kinds(f"git clone {remote}"), [], remote)
        self.assertEqual(kinds("mail git@github.com: thanks"), ["email"])


class SsnTests(SynchronousTestCase):
    def test_unicode_dashes(self) -> None:
        """An SSN written with en dashes (or other Unicode dashes) is one; mixed dashes are not one number."""
        self.assertEqual(found("SSN 186\u201330\u20138353"), [("ssn", "186\u201330\u20138353")])
        self.assertEqual(kinds("id 186\u201330\u20148353"), [])

    def test_spanish_label_and_quoted_csv(self) -> None:
        """The SSA's "número de Seguro Social" labels nine digits; a quoted CSV field with a comma keeps the column."""
        self.assertEqual(kinds("su número de Seguro Social 720145411 y"), ["ssn"])
        csv = '"id","name","SSN","note"\r\n"62450","Aarav Bianchi","785331140","called back, ok"\r\n'
        self.assertEqual(found(csv), [("ssn", "785331140")])

    def test_fhir_identifier_system_names_the_value(self) -> None:
        """A FHIR identifier under the us-ssn system is an SSN in any layout (its sibling names it)."""
        patient = {"resourceType": "Patient", "identifier": [
            {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "814118522"},
            {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN8450106"}]}
        self.assertEqual(dict(scan_json(patient, "alert")[0].counts), {"pii": 1})
        patient["identifier"][0]["system"] = "urn:oid:2.16.840.1.113883.4.1.x"
        self.assertEqual(dict(scan_json(patient, "alert")[0].counts), {})


class PhoneTests(SynchronousTestCase):
    def test_more_fictional_ranges(self) -> None:
        """Ofcom's 0191 498 0xxx and 028 9649 6xxx and ACMA's 0491 57x xxx are for drama, not for people."""
        for number in ("0191 498 0835", "028 9649 6574", "0491 570 006", "0491 573 087"):
            self.assertEqual(kinds(f"call {number} today", EUROPE_AND_MORE), [], number)
        self.assertEqual(kinds("call 0191 498 1835 today", EUROPE_AND_MORE), ["phone"])

    def test_country_code_before_a_north_american_shape(self) -> None:
        """"+0 707 975 0762" is no number (no country code 0), though "707 975 0762" alone would be one."""
        self.assertEqual(kinds("tel +0 707 975 0762"), [])
        self.assertEqual(kinds("tel 707 975 0762"), ["phone"])

    def test_extension_is_part_of_the_finding(self) -> None:
        """A number's extension is redacted with it."""
        self.assertEqual(found("call 916-410-7424 ext. 4877 now"), [("phone", "916-410-7424 ext. 4877")])
        self.assertEqual(found("call (438) 749-3393 x3926"), [("phone", "(438) 749-3393 x3926")])
        self.assertEqual(kinds("call 314-173-2304 ext. 53"), [])  # exchange 173: impossible

    def test_click_to_chat_links(self) -> None:
        """https://wa.me/<international number> is a phone number, the whole link."""
        link = "https://wa.me/4917683583251"
        self.assertEqual(found(f"ping me at {link} please"), [("phone", link)])
        self.assertEqual(kinds("ping me at https://wa.me/1234 please"), [])

    def test_cell_id_is_no_phone_label(self) -> None:
        """A "cell id" column or CELL_ID variable is no phone label (a barcode under it is no phone)."""
        self.assertEqual(kinds("  CELL_ID: 5903424456116", EUROPE_AND_MORE), [])
        self.assertEqual(kinds('"id","cell id"\n"1","5404557668"\n', EUROPE_AND_MORE), [])


class PrivateKeyTests(SynchronousTestCase):
    def test_placeholder_bodies_and_mentions(self) -> None:
        """A PEM block whose body is "...", a note or a shortened line, or a BEGIN line named in code, is no key."""
        for text in ("-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
                     "-----BEGIN PRIVATE KEY-----\n(contents of key.pem)\n-----END PRIVATE KEY-----",
                     "-----BEGIN PRIVATE KEY-----\n<your private key here>\n-----END PRIVATE KEY-----",
                     "-----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC...\n-----END RSA PRIVATE KEY-----",
                     "if line.startswith('-----BEGIN PRIVATE KEY-----'):"):
            self.assertEqual(kinds(text), [], text)
        key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----"
        self.assertEqual(found(f"key:\n{key}\n"), [("private_key", key)])

    def test_key_split_over_a_notebook_cells_lines(self) -> None:
        """A key whose lines are the strings of a notebook cell's source is found in the raw body."""
        source = ["key = '''-----BEGIN PRIVATE KEY-----\r\n", "MIIAedoCQ1MQKGksg15/T56Wb1ioaaWpIlC+YmpB\r\n",
                  "-----END PRIVATE KEY-----'''\n"]
        tally, _ = scan_json({"cells": [{"cell_type": "code", "source": source}]}, "alert")
        self.assertEqual(dict(tally.counts), {"secrets": 1})

    def test_putty_key_file(self) -> None:
        """A PuTTY .ppk key (format 3) is a private key, from its first line on."""
        ppk = ("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: ssh-ed25519-key-20250901\n"
               "Public-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIBv0Hc8jv4A3kQ7bcHxWn2t1Z\nq0MzXx6m0sAyM1n9xNq\n"
               "Private-Lines: 1\nAAAAIHX5dcJ9kfmOqJ6eT7m1kz8vYbQ1hN0u2cXo3eZr8p4L\n"
               "Private-MAC: 4b8f0c3d2e1a9b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c\n")
        self.assertEqual(found(ppk), [("private_key", ppk.rstrip("\n"))])


class JwtTests(SynchronousTestCase):
    def test_compact_jwe_is_a_token(self) -> None:
        """An RFC 7516 compact JWE (five parts, a header with alg and enc) is a bearer token."""
        header = b64url(json.dumps({"alg": "RSA-OAEP-256", "enc": "A256GCM"}).encode())
        jwe = ".".join((header, "OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe",
                        "48V1_ALb6US04U3b", "5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji",
                        "XFBoMYUZodetZdvTiFvSkQ"))
        self.assertEqual(found(f"token={jwe} end"), [("jwt", jwe)])

    def test_unsecured_and_partial_jwts_are_not(self) -> None:
        """alg "none" (RFC 7519 section 6), a header alone, a cut token or a cursor sent as a bearer token is none."""
        none = b64url(b'{"alg": "none"}') + "." + b64url(b'{"sub": "1234567890", "iat": 1731238984}') + "."
        self.assertEqual(kinds(f"Authorization: Bearer {none}"), [])
        header = b64url(b'{"alg":"RS256","typ":"JWT"}')
        self.assertEqual(kinds(f"Authorization: Bearer {header}"), [])
        cursor = b64url(b'{"page": 35, "after": "7b3ff93d474e"}')
        self.assertEqual(kinds(f"Authorization: Bearer {cursor}"), [])
        self.assertEqual(kinds("Authorization: Bearer 8f2KJq9ZxT4mWv7LpN3sRb6Yc1Hd5Ge0"), ["bearer_token"])


class EnvironmentSecretTests(SynchronousTestCase):
    def test_kubernetes_env_entry(self) -> None:
        """"- name: DB_PASSWORD" with "value: ..." on the next line: the value is a secret."""
        text = '- name: LDAP_BIND_PASSWORD\n  value: "vx%}h{]CYULLhMlMi1y6VkE1m4"\n'
        self.assertEqual(found(text), [("generic_secret", "vx%}h{]CYULLhMlMi1y6VkE1m4")])
        self.assertEqual(kinds('- name: LOG_LEVEL\n  value: "debug-verbose-mode"\n'), [])

    def test_kubernetes_env_entry_in_json(self) -> None:
        """In JSON ({"name": ..., "value": ...}) the value is named by its sibling."""
        document = {"env": [{"name": "PUSHER_APP_SECRET", "value": "orLEBklry0IfvRTYcysmBZIpdQZ3yZg1SgHBiY7H"}]}
        self.assertEqual(dict(scan_json(document, "alert")[0].counts), {"secrets": 1})

    def test_command_lines_and_dockerfiles(self) -> None:
        """ARG/ENV, %env, heroku config:set and gh secret set --body carry values with any punctuation."""
        for text, value in (("ARG PUSHER_APP_SECRET=jAuaojB%,pPJ6VkGSXIMpz@c", "jAuaojB%,pPJ6VkGSXIMpz@c"),
                            ("heroku config:set COOKIE_SECRET=,zgh,ztIx48f,vWudiMwKB", ",zgh,ztIx48f,vWudiMwKB"),
                            ('gh secret set COOKIE_SECRET --body "OGd6iF/wtA0ol3PR03gjKQJ"', "OGd6iF/wtA0ol3PR03gjKQJ")):
            self.assertEqual(found(text), [("generic_secret", value)], text)
        self.assertEqual(kinds('gh secret set VAULT_ADDR --body "https://vault.internal:8200"'), [])

    def test_quoted_values_and_framework_keys(self) -> None:
        """NAME = "value" with punctuation, Rails' SECRET_KEY_BASE and Laravel's base64: APP_KEY."""
        self.assertEqual(kinds('Db__Password = "buC(?EL44u9Cuj27xm90c"  # rotated'), ["generic_secret"])
        self.assertEqual(kinds("SECRET_KEY_BASE=" + "4e7d2f477a7ccc1247ce4826d6434a2f70f780ad23ab8481fed390fc0a66a66d"),
                         ["generic_secret"])
        self.assertEqual(kinds("APP_KEY=base64:hLXUfC4VGmwsCWTpwqXE2dKonGxV/V/C1zCaZgjqenM="), ["generic_secret"])


class PlaceholderTests(SynchronousTestCase):
    def test_references_to_secret_stores(self) -> None:
        """Vault, 1Password, CloudFormation, SOPS, Terraform, Ansible and Kubernetes references are not secrets."""
        for value in ("vault:secret/data/api#token", "op://Platform/stripe/credential", "!Ref DbPassword",
                      "valueFrom.secretKeyRef: {name: api, key: token}", "{{resolve:secretsmanager:prod/db}}",
                      "ENC[AES256_GCM,data:abc,iv:def]", "var.stripe_secret_key", "{{ lookup('env', 'API_TOKEN') }}",
                      "TODO: paste key", "JWT_GOES_HERE", "ACCESS_TOKEN", "API_TOKEN:"):
            self.assertTrue(looks_placeholder(value), value)
            self.assertEqual(dict(scan_json({"apiKey": value}, "alert")[0].counts), {}, value)
        self.assertFalse(looks_placeholder(")7I4[N>x45X]v(B]UR1MR55%J6YA%zvC{"))
