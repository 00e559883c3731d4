"""Turns an access token into a L{VerifiedToken}: RFC 9068 JWTs locally, opaque ones by introspection.

Route-independent checks live here (and are cached); audience-per-route and scopes are the layer's.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from stoad.auth._cache import ExpiringCache
from stoad.auth._introspection import IntrospectionUnavailable, TokenIntrospector
from stoad.auth._jws import (
    KeySet,
    TokenRejected,
    UnknownKey,
    parse_compact,
    strict_json_object,
    verify_with_candidates,
)

if TYPE_CHECKING:
    from stoad.state import SharedState

log = Logger()

ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")


class KeySource(Protocol):
    def current(self) -> Deferred[KeySet]: ...

    def refetch_for_unknown_kid(self) -> Deferred[KeySet | None]: ...


@dataclass(frozen=True)
class VerifiedToken:
    """What a valid token says, independent of the route it is used on."""

    kind: str  # "jwt" or "opaque"
    claims: dict[str, Any]
    client_id: str
    subject: str
    scopes: frozenset[str]
    audiences: frozenset[str]
    thumbprint: str | None  # cnf.x5t#S256, when the token is certificate-bound
    expires_at: float


@dataclass(frozen=True)
class ClaimRules:
    issuer: str
    audiences: frozenset[str]  # every audience any route accepts
    leeway: float
    max_lifetime: float


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TokenRejected(f"claim {name} is not a number")
    return float(value)


def _text(claims: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise TokenRejected(f"claim {name} is missing or not a string")
    return value


def audiences_of(claims: dict[str, Any]) -> frozenset[str]:
    aud = claims.get("aud")
    values = [aud] if isinstance(aud, str) else aud
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise TokenRejected("claim aud is missing or malformed")
    return frozenset(values)


def scopes_of(claims: dict[str, Any]) -> frozenset[str]:
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise TokenRejected("claim scope is not a string")
    return frozenset(scope.split())


def thumbprint_of(claims: dict[str, Any]) -> str | None:
    cnf = claims.get("cnf")
    if cnf is None:
        return None
    if not isinstance(cnf, dict):
        raise TokenRejected("claim cnf is not an object")
    value = cnf.get("x5t#S256")
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise TokenRejected("cnf x5t#S256 is not a string")
    return value


def check_times(claims: dict[str, Any], now: float, rules: ClaimRules,
                require_iat: bool) -> float:
    """Check exp, nbf, iat and the maximum lifetime; returns exp."""
    exp = _number(claims, "exp")
    if exp is None:
        raise TokenRejected("claim exp is missing")
    if now >= exp + rules.leeway:
        raise TokenRejected("token has expired", "the access token has expired")
    nbf = _number(claims, "nbf")
    if nbf is not None and nbf > now + rules.leeway:
        raise TokenRejected("token is not valid yet (nbf)")
    iat = _number(claims, "iat")
    if iat is None:
        if require_iat:
            raise TokenRejected("claim iat is missing")
    else:
        if iat > now + rules.leeway:
            raise TokenRejected("token was issued in the future (iat)")
        if exp - iat > rules.max_lifetime:
            raise TokenRejected("token lifetime exceeds the maximum")
    return exp


def _check_like_jose(claims: dict[str, Any], now: float, leeway: float) -> None:
    """
    The claim rules python-jose's C{jwt.decode} adds to stoad's own, on the injected clock:
    it compares C{exp} and C{nbf} in whole seconds (truncated), and refuses an C{at_hash}
    it has no access token to compare with. Presence, types, C{iss}, C{aud}, C{sub} and
    C{jti} are already checked (more strictly) by the caller.
    """
    whole_now = math.floor(now)
    # _number() already refused anything that is not a finite int or float
    if int(claims["exp"]) < whole_now - leeway:
        raise TokenRejected("token has expired", "the access token has expired")
    nbf = claims.get("nbf")
    if nbf is not None and int(nbf) > whole_now + leeway:
        raise TokenRejected("token is not valid yet (nbf)")
    if "at_hash" in claims:
        raise TokenRejected("claim at_hash cannot be checked for an access token")


class JwtVerifier:
    """
    RFC 9068 access tokens: strict header and payload parsing, C{typ} at+jwt, no C{crit},
    claims checked with the injected clock (a superset of python-jose's C{jwt.decode} checks
    with every C{require_*} option on), then the signature with python-jose's C{jws.verify},
    one key object and a one-algorithm list. The token is decoded once.
    """

    def __init__(self, keys: KeySource, clock: IReactorTime, rules: ClaimRules,
                 algorithms: frozenset[str]) -> None:
        self._keys = keys
        self._clock = clock
        self._rules = rules
        self._algorithms = algorithms

    async def verify(self, token: str) -> VerifiedToken:
        parsed = parse_compact(token)
        typ = parsed.header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise TokenRejected("typ is not at+jwt", "the token is not an access token")
        claims = strict_json_object(parsed.payload)
        for name in REQUIRED_CLAIMS:
            if name not in claims:
                raise TokenRejected(f"claim {name} is missing")
        if _text(claims, "iss") != self._rules.issuer:
            raise TokenRejected("issuer does not match")
        now = self._clock.seconds()
        exp = check_times(claims, now, self._rules, require_iat=True)
        if exp - now > self._rules.max_lifetime + self._rules.leeway:
            raise TokenRejected("token lifetime exceeds the maximum")
        audiences = audiences_of(claims)
        known = sorted(audiences & self._rules.audiences)
        if not known:
            raise TokenRejected("audience is not one of this gateway's resources")
        subject = _text(claims, "sub")
        client_id = _text(claims, "client_id")
        _text(claims, "jti")
        _check_like_jose(claims, now, self._rules.leeway)
        scopes = scopes_of(claims)
        thumbprint = thumbprint_of(claims)

        keys = await self._keys.current()
        try:
            candidates = keys.candidates(parsed, self._algorithms)
        except UnknownKey:
            fresh = await self._keys.refetch_for_unknown_kid()
            if fresh is None:
                raise
            candidates = fresh.candidates(parsed, self._algorithms)
        verify_with_candidates(parsed, candidates)
        return VerifiedToken("jwt", claims, client_id or "", subject or "", scopes, audiences,
                             thumbprint, exp)


NEGATIVE_CACHE_SIZE = 10_000


# What the shared negative cache answers in place of introspection (compared by identity).
_KNOWN_INACTIVE: dict[str, Any] = {"active": False}
_KNOWN_INACTIVE_REASON = "the shared store records the token as inactive or invalid"


class OpaqueVerifier:
    """
    Opaque tokens: RFC 7662 introspection, then the same claim rules as for JWTs. So that a
    client cannot turn stoad into an amplifier against the authorization server, one token is
    introspected at most once at a time (concurrent requests share the answer) and a token found
    inactive or invalid is refused from memory for C{negative_ttl} seconds.

    With a shared C{state}, that refusal holds on every worker and gateway: on a local miss the
    store is asked once before introspecting, and every inactive answer is recorded there, by
    the token's hash. A store that does not answer (its own bounded wait) means introspecting:
    the cache only saves calls, the authorization server still decides.
    """

    def __init__(self, introspector: TokenIntrospector, clock: IReactorTime,
                 rules: ClaimRules, negative_ttl: float = 5.0,
                 state: SharedState | None = None) -> None:
        self._introspector = introspector
        self._clock = clock
        self._rules = rules
        self._negative_ttl = negative_ttl
        # A bounded, short-lived memory of tokens the authorization server called inactive.
        self._rejections: ExpiringCache[bytes, str] = ExpiringCache(NEGATIVE_CACHE_SIZE)
        self._in_flight: dict[bytes, list[Deferred[dict[str, Any]]]] = {}
        self._state = state if negative_ttl > 0 else None

    async def verify(self, token: str) -> VerifiedToken:
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        known = self._rejections.get(key, self._clock.seconds())
        if known is not None:
            raise TokenRejected(known)
        claims = await self._introspect_once(key, token)
        if claims is _KNOWN_INACTIVE:
            self._remember_rejection(key, _KNOWN_INACTIVE_REASON)
            raise TokenRejected(_KNOWN_INACTIVE_REASON)
        try:
            return self._check(claims)
        except TokenRejected as e:
            self._remember_rejection(key, e.reason)
            if self._state is not None:
                self._record_inactive(self._state, key.hex())
            raise

    def _remember_rejection(self, key: bytes, reason: str) -> None:
        now = self._clock.seconds()
        self._rejections.put(key, reason, now + self._negative_ttl, now)

    async def _ask(self, key: bytes, token: str) -> dict[str, Any]:
        """The shared negative cache, then the authorization server: concurrent requests with
        one token share both (one lookup, at most one introspection)."""
        if self._state is not None and await self._known_inactive(self._state, key.hex()):
            return _KNOWN_INACTIVE
        return await self._introspector.introspect(token)

    async def _known_inactive(self, state: SharedState, token_hash: str) -> bool:
        """The shared negative cache; any failure of the store is a miss (fail open, see above)."""
        try:
            answer = state.token_known_inactive(token_hash, self._clock.seconds())
            if isinstance(answer, Deferred):
                answer = await answer
        except Exception as e:
            log.warn("introspection negative cache not read: {why}", why=str(e))
            return False
        return bool(answer)

    def _record_inactive(self, state: SharedState, token_hash: str) -> None:
        """Record in the shared store without holding up the refusal."""
        try:
            noted = state.note_token_inactive(token_hash, self._negative_ttl,
                                                    self._clock.seconds())
        except Exception as e:
            log.warn("introspection negative cache not written: {why}", why=str(e))
            return
        if isinstance(noted, Deferred):
            noted.addErrback(lambda f: log.warn("introspection negative cache not written: "
                                                "{why}", why=str(f.value)))

    async def _introspect_once(self, key: bytes, token: str) -> dict[str, Any]:
        waiters = self._in_flight.get(key)
        if waiters is not None:
            mine: Deferred[dict[str, Any]] = Deferred()
            waiters.append(mine)
            return await mine
        waiters = self._in_flight[key] = []
        try:
            claims = await self._ask(key, token)
        except BaseException as e:
            shared = e if isinstance(e, IntrospectionUnavailable) else IntrospectionUnavailable(
                f"shared introspection ended: {type(e).__name__}")
            for waiter in waiters:
                if not waiter.called:
                    waiter.errback(shared)
            raise
        finally:
            del self._in_flight[key]
        for waiter in waiters:
            if not waiter.called:
                waiter.callback(claims)
        return claims

    def _check(self, claims: dict[str, Any]) -> VerifiedToken:
        if claims.get("active") is not True:
            raise TokenRejected("introspection says the token is not active")
        token_type = claims.get("token_type")
        if token_type is not None and (not isinstance(token_type, str)
                                       or token_type.lower() != "bearer"):
            raise TokenRejected("introspected token is not a bearer access token")
        if _text(claims, "iss") != self._rules.issuer:
            raise TokenRejected("issuer does not match")
        exp = check_times(claims, self._clock.seconds(), self._rules, require_iat=False)
        audiences = audiences_of(claims)
        if not audiences & self._rules.audiences:
            raise TokenRejected("audience is not one of this gateway's resources")
        client_id = _text(claims, "client_id") or ""
        subject = _text(claims, "sub", required=False) or client_id
        return VerifiedToken("opaque", claims, client_id, subject, scopes_of(claims), audiences,
                             thumbprint_of(claims), exp)
