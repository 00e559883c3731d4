"""Attacks on the token verifier: every Wycheproof JWS vector, and hand-made hostile tokens
(alg none, HS256 with the public key, kid tricks, jku/x5u/jwk headers, bad claims, bad encodings).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from stoad.auth import KeySet, TokenRejected, verify_jws
from stoad.auth._jws import SUPPORTED_ALGORITHMS
from tests.test_auth_helpers import (
    EC_KEY,
    GATEWAY,
    RSA_KEY,
    WYCHEPROOF_JWS,
    Harness,
    SigningKey,
    b64url,
    bearer,
    claims_for,
    request,
)

_PYTHON_JOSE_LACKS = {"PS256", "PS384", "PS512", "EdDSA", "ES256K"}


def _header_alg(token: str) -> str | None:
    try:
        segment = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        return header.get("alg") if isinstance(header, dict) else None
    except ValueError:
        return None


class WycheproofTests(SynchronousTestCase):
    def _check_suite(self, allowed: frozenset[str]) -> Counter[str]:
        with open(WYCHEPROOF_JWS, encoding="utf-8") as f:
            suite = json.load(f)
        outcomes: Counter[str] = Counter()
        for group in suite["testGroups"]:
            jwk = group.get("public") or group["private"]
            keys = KeySet.from_jwks({"keys": [jwk]}, allowed)
            key_alg = jwk.get("alg")
            for vector in group["tests"]:
                token = vector["jws"]
                label = f"tcId {vector['tcId']} ({vector['comment']})"
                if not isinstance(token, str):
                    # JSON serialization: stoad only takes compact tokens from a header
                    outcomes["refused: JSON serialization"] += 1
                    self.assertEqual(vector["result"], "invalid", label)
                    continue
                try:
                    verify_jws(token, keys, allowed)
                    accepted = True
                except TokenRejected:
                    accepted = False
                alg = _header_alg(token)
                if vector["result"] == "invalid":
                    self.assertFalse(accepted, f"accepted invalid vector {label}")
                    outcomes["invalid refused"] += 1
                    continue
                if alg in _PYTHON_JOSE_LACKS or alg not in SUPPORTED_ALGORITHMS and \
                        alg not in ("HS256", "HS384", "HS512"):
                    self.assertFalse(accepted, label)
                    outcomes[f"unsupported by python-jose: {alg}"] += 1
                elif alg not in allowed or key_alg != alg or jwk.get("kty") == "oct":
                    # one-algorithm rule: the key's own alg, from the allow-list, asymmetric
                    self.assertFalse(accepted, f"accepted {label} outside the one-algorithm rule")
                    outcomes[f"valid but refused by policy: {alg}"] += 1
                elif accepted:
                    outcomes["valid accepted"] += 1
                else:
                    # only non-canonical base64 may be refused among allowed valid vectors
                    self.assertIn("Inserted", vector["comment"], label)
                    outcomes["valid but refused: non-canonical base64"] += 1
        return outcomes

    def test_every_vector_with_all_supported_algorithms(self) -> None:
        """
        Every Wycheproof JWS vector: no invalid one verifies; valid ones verify exactly when
        their algorithm is allowed and is the key's own; PS*/unsupported ones are reported.
        """
        outcomes = self._check_suite(SUPPORTED_ALGORITHMS)
        self.assertEqual(sum(outcomes.values()), 401)
        self.assertEqual(outcomes["invalid refused"] + outcomes["refused: JSON serialization"],
                         355)
        self.assertEqual(outcomes["valid accepted"], 18)
        self.assertEqual(outcomes["unsupported by python-jose: PS256"], 6)

    def test_every_vector_with_default_algorithms(self) -> None:
        """With the default allow-list (RS256 ES256), only RS256/ES256 valid vectors verify."""
        outcomes = self._check_suite(frozenset({"RS256", "ES256"}))
        self.assertEqual(outcomes["invalid refused"] + outcomes["refused: JSON serialization"],
                         355)
        self.assertEqual(outcomes["valid accepted"], 10)


def _raw(header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes, signature: bytes = b"",
         ) -> str:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    p = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return f"{b64url(h)}.{b64url(p)}.{b64url(signature)}"


class HandMadeTokenTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.h = Harness(self.mktemp())
        self.claims = claims_for(self.h.now)

    def assertRefused(self, token: str, status: int = 401) -> None:
        deny = self.h.run(request(authorization=bearer(token)))
        self.assertIsNotNone(deny, "token was accepted")
        self.assertEqual(deny.status, status)

    def test_valid_token_is_accepted(self) -> None:
        """The control: a well-formed ES256 and RS256 token pass."""
        self.assertIsNone(self.h.run(request(authorization=bearer(EC_KEY.sign(self.claims)))))
        rsa = RSA_KEY.sign(claims_for(self.h.now, jti="r"))
        self.assertIsNone(self.h.run(request(authorization=bearer(rsa))))

    def test_alg_none_in_any_case(self) -> None:
        """alg none, None and NONE with an empty (or any) signature never verify."""
        for alg in ("none", "None", "NONE", "nOnE"):
            header = {"alg": alg, "typ": "at+jwt", "kid": EC_KEY.kid}
            self.assertRefused(_raw(header, self.claims))
            self.assertRefused(_raw(header, self.claims, b"x"))

    def test_hs256_signed_with_the_public_key(self) -> None:
        """HS256 keyed with the RSA/EC public key (PEM or JWK JSON) is refused."""
        for secret in (RSA_KEY.pem_public, EC_KEY.pem_public,
                       json.dumps(RSA_KEY.public).encode()):
            for kid in (RSA_KEY.kid, EC_KEY.kid):
                header = {"alg": "HS256", "typ": "at+jwt", "kid": kid}
                h = b64url(json.dumps(header).encode())
                p = b64url(json.dumps(self.claims).encode())
                mac = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
                self.assertRefused(f"{h}.{p}.{b64url(mac)}")

    def test_key_used_with_other_algorithm(self) -> None:
        """The RSA key's kid with RS512 (or the EC kid with RS256) is refused."""
        self.assertRefused(RSA_KEY.sign(self.claims, alg="RS512"))
        self.assertRefused(RSA_KEY.sign(self.claims, kid=EC_KEY.kid))

    def test_kid_path_traversal_and_injection(self) -> None:
        """kid values with paths, SQL or NUL are only looked up, never followed: refused."""
        attacker = SigningKey.ec("attacker")
        for kid in ("../../../../dev/null", "/etc/passwd", "' OR '1'='1", "ec-1\u0000",
                    "x" * 5000, "file:///jwks.json", 123):
            self.assertRefused(attacker.sign(self.claims, kid=kid))
        self.assertEqual([p for p in self.h.server.requests if p != "/jwks"
                          and not p.startswith("/.well-known")], [])

    def test_jku_x5u_and_embedded_jwk_are_never_followed(self) -> None:
        """A token signed by the attacker naming its key via jku, x5u, x5c or jwk is refused."""
        attacker = SigningKey.ec(EC_KEY.kid)
        for name, value in (("jku", "https://evil.test/jwks"), ("x5u", "https://evil.test/c"),
                            ("jwk", attacker.public), ("x5c", ["MIIB"])):
            self.assertRefused(attacker.sign(self.claims, **{name: value}))
        self.assertFalse(any("evil" in p for p in self.h.server.requests))

    def test_wrong_typ(self) -> None:
        """typ JWT, an ID token's missing typ, or dpop+jwt are refused; typ is case-insensitive."""
        for typ in ("JWT", None, "dpop+jwt", "at+jwt2"):
            self.assertRefused(EC_KEY.sign(self.claims, typ=typ))
        ok = EC_KEY.sign(claims_for(self.h.now, jti="t"), typ="Application/AT+JWT")
        self.assertIsNone(self.h.run(request(authorization=bearer(ok))))

    def test_id_token_is_refused(self) -> None:
        """An OpenID Connect ID token (typ JWT, nonce, aud = client) is not an access token."""
        id_token = dict(self.claims, nonce="n", aud="agent-1", azp="agent-1")
        self.assertRefused(EC_KEY.sign(id_token, typ="JWT"))

    def test_missing_required_claims(self) -> None:
        """Each of iss exp aud sub client_id iat jti missing makes the token invalid."""
        for name in ("iss", "exp", "aud", "sub", "client_id", "iat", "jti"):
            self.assertRefused(EC_KEY.sign(claims_for(self.h.now, **{name: None})))

    def test_aud_list_without_ours(self) -> None:
        """An aud list that does not name this route is refused."""
        self.assertRefused(EC_KEY.sign(claims_for(self.h.now, aud=["https://a", "https://b"])))
        self.assertRefused(EC_KEY.sign(claims_for(self.h.now, aud=[])))

    def test_wrong_issuer(self) -> None:
        """iss must match exactly: trailing slash or other case is refused."""
        for iss in ("https://as.test/", "https://AS.test", "https://evil.test"):
            self.assertRefused(EC_KEY.sign(claims_for(self.h.now, iss=iss)))

    def test_nbf_in_the_future(self) -> None:
        """nbf beyond the leeway is refused; within the leeway accepted."""
        self.assertRefused(EC_KEY.sign(claims_for(self.h.now, nbf=int(self.h.now) + 120)))
        ok = EC_KEY.sign(claims_for(self.h.now, nbf=int(self.h.now) + 10, jti="n"))
        self.assertIsNone(self.h.run(request(authorization=bearer(ok))))

    def test_expired_token(self) -> None:
        """exp in the past beyond the leeway is refused."""
        self.assertRefused(EC_KEY.sign(claims_for(self.h.now - 700, lifetime=600)))

    def test_exp_far_in_the_future(self) -> None:
        """A long-lived token (exp - iat over max_token_lifetime) is refused, as is a lying iat."""
        self.assertRefused(EC_KEY.sign(claims_for(self.h.now, lifetime=86400 * 365)))
        lying = claims_for(self.h.now, lifetime=86400)
        lying["iat"] = lying["exp"] - 60
        self.assertRefused(EC_KEY.sign(lying))

    def test_iat_in_the_future(self) -> None:
        """A token issued in the future is refused."""
        self.assertRefused(EC_KEY.sign(claims_for(self.h.now + 3600)))

    def test_crit_header(self) -> None:
        """Any crit header is refused, even naming a parameter that is present."""
        self.assertRefused(EC_KEY.sign(self.claims, crit=["exp"], exp=1))
        self.assertRefused(EC_KEY.sign(self.claims, crit=[]))

    def test_huge_token(self) -> None:
        """A megabyte token is refused with 401 (size cap), no crash and no fetch."""
        self.assertRefused(EC_KEY.sign(dict(self.claims, pad="A" * 1_000_000)))

    def test_broken_base64(self) -> None:
        """Padding, non-url alphabet and truncated segments are refused (400 or 401)."""
        good = EC_KEY.sign(self.claims)
        h, p, s = good.split(".")
        for token in (f"{h}=.{p}.{s}", f"{h}.{p}.{s[:-1]}", f"{h}.{p}.{s}.", f"{h}..{s}",
                      f"{h.replace('e', '+', 1)}.{p}.{s}", f"{h}.{p}", "a.b.c"):
            deny = self.h.run(request(authorization=bearer(token)))
            self.assertIsNotNone(deny, token)
            self.assertIn(deny.status, (400, 401))

    def test_non_json_header(self) -> None:
        """Headers that are not a JSON object (garbage, array, NaN, non-UTF-8) are refused."""
        for header in (b"not json", b"[1,2]", b'{"alg": NaN}', b"\xff\xfe{}", b'"ES256"'):
            self.assertRefused(_raw(header, self.claims, b"sig"))

    def test_duplicate_claims_and_header_members(self) -> None:
        """Duplicate claim names or header members are refused even when correctly signed."""
        claims = json.dumps(self.claims)[:-1] + ', "aud": "https://evil.test"}'
        header = json.dumps({"alg": "ES256", "typ": "at+jwt", "kid": EC_KEY.kid})
        self.assertRefused(EC_KEY.sign_raw(header.encode(), claims.encode()))
        dup_header = header[:-1] + ', "alg": "none"}'
        self.assertRefused(EC_KEY.sign_raw(dup_header.encode(), json.dumps(self.claims).encode()))

    def test_claims_of_wrong_types(self) -> None:
        """exp as a string or bool, scope as a list, cnf as a string: refused."""
        for extra in ({"exp": str(int(self.h.now) + 60)}, {"exp": True}, {"scope": ["stoa:read"]},
                      {"cnf": "x"}, {"client_id": 7}):
            self.assertRefused(EC_KEY.sign(dict(self.claims, **extra)))

    def test_signature_from_unknown_key_with_known_kid(self) -> None:
        """An attacker key that reuses our kid fails signature verification."""
        self.assertRefused(SigningKey.ec(EC_KEY.kid).sign(self.claims))

    def test_token_for_other_audience_on_other_gateway(self) -> None:
        """A token for the same path on another host is not our resource."""
        self.assertRefused(EC_KEY.sign(claims_for(self.h.now,
                                                  aud=GATEWAY.replace("gw", "gw2") + "/api")))
