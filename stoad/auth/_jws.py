"""Compact JWS parsing and signature checks with one algorithm per key (python-jose underneath).

Headers are parsed strictly before python-jose sees a token; keys are python-jose JWK objects.
"""

from __future__ import annotations

import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from jose import jwk, jws
from jose.backends import ECKey, RSAKey
from jose.backends.base import Key
from jose.exceptions import JOSEError
from twisted.logger import Logger

log = Logger()

# Asymmetric signature algorithms python-jose implements; anything else is unsupported here.
SUPPORTED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"})
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_CURVE_ALGORITHMS = {curve: alg for alg, curve in _EC_CURVES.items()}
_MIN_RSA_BITS = 2048
_MAX_KEYS = 64
_MAX_KID = 256
_B64URL = re.compile(r"[A-Za-z0-9_-]*\Z")
_B64URL_VALUE = {c: i for i, c in enumerate(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}
_UNUSED_BITS = (0, 0, 0x0F, 0x03)
_PADDING = ("", "", "==", "=")
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PUBLIC_MEMBERS = {"RSA": ("kty", "n", "e"), "EC": ("kty", "crv", "x", "y")}


class TokenRejected(Exception):
    """A token that must not be accepted; C{description} is a fixed text safe to send."""

    def __init__(self, reason: str, description: str = "the access token is invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.description = description


class UnknownKey(TokenRejected):
    """No key in the current set matches the token's C{kid} and algorithm."""


def assert_cryptography_backend() -> None:
    """Refuse to start unless python-jose verifies RSA and EC with the cryptography backend."""
    from jose.backends.cryptography_backend import CryptographyECKey, CryptographyRSAKey

    if RSAKey is not CryptographyRSAKey or ECKey is not CryptographyECKey:
        raise RuntimeError(
            "python-jose is not using its cryptography backend "
            f"(RSA: {getattr(RSAKey, '__module__', RSAKey)}, EC: {getattr(ECKey, '__module__', ECKey)})"
        )


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate member {name!r}")
        result[name] = value
    return result


def strict_json_object(data: bytes) -> dict[str, Any]:
    """Parse a JSON object, refusing duplicate members, non-UTF-8 and anything not an object."""
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_reject_duplicates,
                           parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise TokenRejected(f"not a JSON object: {type(e).__name__}") from None
    if not isinstance(value, dict):
        raise TokenRejected("JSON value is not an object")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def b64url_decode_strict(segment: str) -> bytes:
    """Decode unpadded base64url, refusing padding, other alphabets and non-canonical encodings."""
    tail = len(segment) % 4
    if tail == 1 or not _B64URL.match(segment):
        raise TokenRejected("segment is not canonical base64url")
    # The alphabet is checked, so the only other encoding of the same bytes sets the unused
    # low bits of the last character: 4 of them after 2 characters, 2 after 3.
    if tail and _B64URL_VALUE[segment[-1]] & _UNUSED_BITS[tail]:
        raise TokenRejected("segment is not canonical base64url")
    try:
        return binascii.a2b_base64((segment + _PADDING[tail]).encode("ascii").translate(_TO_STANDARD))
    except binascii.Error:
        raise TokenRejected("segment is not base64url") from None


@dataclass(frozen=True)
class CompactJWS:
    """A compact JWS split and decoded, before its signature is checked."""

    token: str
    header: dict[str, Any]
    payload: bytes

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None


def parse_compact(token: str) -> CompactJWS:
    """Split a compact JWS and decode its header strictly; no key or URL in it is ever used."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejected("not a compact JWS (need three segments)")
    header = strict_json_object(b64url_decode_strict(parts[0]))
    payload = b64url_decode_strict(parts[1])
    b64url_decode_strict(parts[2])
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise TokenRejected("header has no algorithm")
    if "crit" in header:
        raise TokenRejected("header has crit parameters")
    if "b64" in header:
        raise TokenRejected("header changes the payload encoding (b64)")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > _MAX_KID):
        raise TokenRejected("header kid is not a short string")
    return CompactJWS(token, header, payload)


@dataclass(frozen=True)
class VerificationKey:
    """One public key and the single algorithm it may be used with."""

    kid: str | None
    alg: str
    key: Key


class KeySet:
    """
    Public verification keys from a JWKS. Each key is bound to exactly one algorithm (its
    C{alg}, or the one its curve implies); symmetric keys, encryption keys, weak RSA keys and
    algorithms outside C{allowed} are dropped when the set is built.
    """

    def __init__(self, keys: Iterable[VerificationKey]) -> None:
        self.keys = tuple(keys)
        self._by_kid: dict[tuple[str, str], list[VerificationKey]] = {}
        self._by_alg: dict[str, list[VerificationKey]] = {}
        for key in self.keys:
            if key.kid is not None:
                self._by_kid.setdefault((key.alg, key.kid), []).append(key)
            self._by_alg.setdefault(key.alg, []).append(key)

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def from_jwks(cls, document: Mapping[str, Any], allowed: Iterable[str],
                  rsa_default_alg: str = "RS256") -> KeySet:
        allowed_set = frozenset(allowed)
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise ValueError("JWKS has no 'keys' list")
        keys: list[VerificationKey] = []
        for index, entry in enumerate(entries[:_MAX_KEYS]):
            try:
                key = _verification_key(entry, allowed_set, rsa_default_alg)
            except ValueError as e:
                log.info("JWKS key {index} not used: {why}", index=index, why=str(e))
                continue
            keys.append(key)
        return cls(keys)

    def candidates(self, parsed: CompactJWS, allowed: frozenset[str]) -> list[VerificationKey]:
        """The keys that may verify C{parsed}: same algorithm, and the same kid when it names one."""
        alg = parsed.alg
        if alg not in allowed:
            raise TokenRejected(f"algorithm {alg[:16]!r} is not allowed")
        kid = parsed.kid
        if kid is not None:
            found = self._by_kid.get((alg, kid), [])
        else:
            found = self._by_alg.get(alg, [])
        if not found:
            raise UnknownKey("no key for the token's kid and algorithm")
        return found


def _verification_key(entry: Any, allowed: frozenset[str], rsa_default_alg: str) -> VerificationKey:
    if not isinstance(entry, dict):
        raise ValueError("not an object")
    kty = entry.get("kty")
    if kty not in _PUBLIC_MEMBERS:
        raise ValueError(f"key type {str(kty)[:16]!r} is not used for signatures here")
    use = entry.get("use")
    if use is not None and use != "sig":
        raise ValueError(f"use is {str(use)[:16]!r}, not 'sig'")
    key_ops = entry.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise ValueError("key_ops does not include 'verify'")
    alg = entry.get("alg")
    if alg is None:
        alg = _CURVE_ALGORITHMS.get(str(entry.get("crv"))) if kty == "EC" else rsa_default_alg
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:
        raise ValueError(f"algorithm {str(alg)[:16]!r} is not supported")
    if alg not in allowed:
        raise ValueError(f"algorithm {alg} is not allowed")
    if (kty == "EC") != alg.startswith("ES"):
        raise ValueError(f"algorithm {alg} does not fit key type {kty}")
    if kty == "EC" and entry.get("crv") != _EC_CURVES[alg]:
        raise ValueError(f"curve {str(entry.get('crv'))[:16]!r} does not fit {alg}")
    kid = entry.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise ValueError("kid is not a string")
    public = {name: entry[name] for name in _PUBLIC_MEMBERS[kty] if name in entry}
    if len(public) != len(_PUBLIC_MEMBERS[kty]):
        raise ValueError("public key members are missing")
    if kty == "RSA":
        try:
            bits = len(b64url_decode_strict(str(public["n"])).lstrip(b"\x00")) * 8
        except TokenRejected:
            raise ValueError("modulus is not base64url") from None
        if bits < _MIN_RSA_BITS:
            raise ValueError(f"RSA key shorter than {_MIN_RSA_BITS} bits")
    try:
        key = jwk.construct(public, algorithm=alg)
    except (JOSEError, ValueError, TypeError) as e:
        raise ValueError(f"not a usable key: {type(e).__name__}") from None
    return VerificationKey(kid, alg, key)


def verify_with_candidates(parsed: CompactJWS,
                           candidates: Iterable[VerificationKey]) -> VerificationKey:
    """
    Check C{parsed}'s signature with each candidate in turn; returns the key that verified.
    python-jose gets one JWK object and a one-algorithm list per attempt, and the payload it
    verified must be the very bytes stoad decoded (and checks claims on).
    """
    for candidate in candidates:
        try:
            signed = jws.verify(parsed.token, candidate.key, [candidate.alg])
        except JOSEError:
            continue
        if signed != parsed.payload:
            raise TokenRejected("verified payload differs from the parsed payload")
        return candidate
    raise TokenRejected("signature does not verify")


def verify_signature(parsed: CompactJWS, keys: KeySet, allowed: frozenset[str]) -> VerificationKey:
    """Check C{parsed}'s signature with a key of its own algorithm; returns the key that verified."""
    return verify_with_candidates(parsed, keys.candidates(parsed, allowed))


def verify_jws(token: str, keys: KeySet, allowed: Iterable[str]) -> bytes:
    """Verify a compact JWS of any payload; returns the payload. Raises L{TokenRejected}."""
    parsed = parse_compact(token)
    verify_signature(parsed, keys, frozenset(allowed))
    return parsed.payload
