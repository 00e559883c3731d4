"""The JWT verifier decodes a token once and checks its claims itself: the rules python-jose's
C{jwt.decode} used to add (whole-second exp/nbf, at_hash) still hold, and the strict base64url
decoder agrees with its definition (decode, re-encode, compare).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import math
import random

from twisted.internet.defer import ensureDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from stoad.auth import ClaimRules, JwtVerifier, KeySet, StaticKeys, TokenRejected
from stoad.auth._jws import b64url_decode_strict
from tests.test_auth_helpers import EC_KEY, GATEWAY, ISSUER, RSA_KEY, SigningKey, claims_for

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _reference_decode(segment: str) -> bytes | None:
    """The definition: url-safe alphabet only, and re-encoding gives the same text back."""
    if any(c not in _ALPHABET for c in segment) or len(segment) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != segment:
        return None
    return raw


def _strict(segment: str) -> bytes | None:
    try:
        return b64url_decode_strict(segment)
    except TokenRejected:
        return None


class StrictBase64urlTests(SynchronousTestCase):
    def test_agrees_with_definition_on_every_short_segment(self) -> None:
        """Every segment of up to 3 characters (url-safe, standard and padding characters)
        is accepted exactly when it is the canonical unpadded encoding of its bytes."""
        characters = _ALPHABET + "+/=. \u00e9"
        for length in range(4):
            for chars in itertools.product(characters, repeat=length):
                segment = "".join(chars)
                self.assertEqual(_strict(segment), _reference_decode(segment), repr(segment))

    def test_agrees_with_definition_on_random_segments(self) -> None:
        """Random longer segments, mostly valid, some with a stray character or bad length."""
        rng = random.Random(9068)
        for _ in range(20000):
            length = rng.randint(4, 40)
            chars = [rng.choice(_ALPHABET) for _ in range(length)]
            if rng.random() < 0.2:
                chars[rng.randrange(length)] = rng.choice("+/=.\n")
            segment = "".join(chars)
            self.assertEqual(_strict(segment), _reference_decode(segment), repr(segment))

    def test_trailing_bits_set_in_the_last_character_are_refused(self) -> None:
        """'QR' and 'QUF' decode to the same bytes as 'QQ' and 'QUE' but are not canonical."""
        self.assertEqual(b64url_decode_strict("QQ"), b"A")
        self.assertEqual(b64url_decode_strict("QUE"), b"AA")
        for segment in ("QR", "QUF", "QUG", "Q_"):
            self.assertRaises(TokenRejected, b64url_decode_strict, segment)


class ClaimRulesOnceDecodedTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.whole = math.floor(1_700_000_000.0)
        self.clock.advance(self.whole + 0.1)
        keys = KeySet.from_jwks({"keys": [EC_KEY.public, RSA_KEY.public]}, {"ES256", "RS256"})
        rules = ClaimRules(ISSUER, frozenset({GATEWAY + "/api"}), 0.5, 900.0)
        self.verifier = JwtVerifier(StaticKeys(keys), self.clock, rules,
                                    frozenset({"ES256", "RS256"}))

    def verify(self, token: str) -> object:
        return ensureDeferred(self.verifier.verify(token))

    def refused(self, token: str) -> str:
        failure = self.failureResultOf(self.verify(token), TokenRejected)
        return str(failure.value.reason)

    def test_control_token_is_accepted(self) -> None:
        """A well-formed token verifies and its claims come back from the single decode."""
        claims = claims_for(self.clock.seconds(), lifetime=60)
        verified = self.successResultOf(self.verify(EC_KEY.sign(claims)))
        self.assertEqual(verified.claims, claims)  # type: ignore[attr-defined]
        self.assertEqual(verified.client_id, "agent-1")  # type: ignore[attr-defined]

    def test_fractional_exp_expired_in_whole_seconds_is_refused(self) -> None:
        """exp = now - 0.2 passes exp + leeway > now, but python-jose's whole-second rule
        (int(exp) < int(now) - leeway) refuses it, and so does stoad."""
        claims = claims_for(self.clock.seconds(), iat=self.whole - 100, exp=self.whole - 0.1)
        self.assertEqual(self.refused(EC_KEY.sign(claims)), "token has expired")

    def test_fractional_nbf_in_whole_seconds_is_refused(self) -> None:
        """nbf = now + 0.3 passes nbf <= now + leeway (0.5), but python-jose's whole-second
        rule (int(nbf) > int(now) + leeway) refuses it, and so does stoad."""
        self.clock.advance(0.8)  # now = whole + 0.9
        claims = claims_for(self.clock.seconds(), nbf=self.whole + 1.2)
        self.assertEqual(self.refused(EC_KEY.sign(claims)), "token is not valid yet (nbf)")

    def test_at_hash_claim_is_refused(self) -> None:
        """An at_hash claim (ID-token material) cannot be checked for an access token: refused,
        as python-jose refused it without an access token to compare with."""
        claims = claims_for(self.clock.seconds(), at_hash="x" * 22)
        self.assertEqual(self.refused(RSA_KEY.sign(claims)),
                         "claim at_hash cannot be checked for an access token")

    def test_valid_claims_with_a_signature_by_another_key_are_refused(self) -> None:
        """Claims checks passing never stand in for the signature: a token signed by a key not
        in the set, under the set's kid, is refused after the claims were checked."""
        other = SigningKey.ec(EC_KEY.kid)
        claims = claims_for(self.clock.seconds())
        self.assertEqual(self.refused(other.sign(claims)), "signature does not verify")

    def test_signature_with_non_canonical_trailing_bits_is_refused(self) -> None:
        """A valid token whose signature segment is re-spelt with unused bits set (the same
        bytes to a lax decoder) is refused."""
        token = EC_KEY.sign(claims_for(self.clock.seconds()))
        head, payload, signature = token.split(".")
        self.assertEqual(len(signature) % 4, 2)  # 64-byte ES256 signature: 86 characters
        last = _ALPHABET.index(signature[-1])
        respelt = signature[:-1] + _ALPHABET[last | 0x01]
        self.assertNotEqual(respelt, signature)
        self.successResultOf(self.verify(token))
        self.assertEqual(self.refused(f"{head}.{payload}.{respelt}"),
                         "segment is not canonical base64url")
