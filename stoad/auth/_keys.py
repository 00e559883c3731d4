"""Where verification keys come from: a local JWKS file, or the issuer's metadata and jwks_uri.

Remote keys are cached for their Cache-Control lifetime (within bounds); an unknown kid may
force one rate-limited refetch; a failing server leaves the last good set usable for a bounded time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Coroutine, Iterable
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from stoad.auth._http import FetchFailed, HTTPClientLike, bounded_fetch
from stoad.auth._jws import KeySet

log = Logger()

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.IGNORECASE)


class KeysUnavailable(Exception):
    """No usable key set: the server failed and the last good set is too old (or never came)."""


def metadata_urls(issuer: str) -> tuple[str, ...]:
    """RFC 8414 location (well-known inserted before the path), then the OpenID Connect one."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    base = f"{parts.scheme}://{parts.netloc}"
    return (
        f"{base}/.well-known/oauth-authorization-server{path}",
        f"{base}{path}/.well-known/openid-configuration",
    )


def cache_lifetime(cache_control: str | None, default: float, minimum: float, maximum: float) -> float:
    """Seconds to keep a response: its C{max-age} (or C{default}) clamped to the bounds."""
    value = default
    if cache_control:
        low = cache_control.lower()
        if "no-store" in low or "no-cache" in low:
            value = minimum
        else:
            match = _MAX_AGE.search(cache_control)
            if match:
                value = float(match.group(1))
    return max(minimum, min(maximum, value))


@dataclass(frozen=True)
class FetchLimits:
    timeout: float
    max_bytes: int


class StaticKeys:
    """Keys from a local JWKS file, read once at start-up."""

    def __init__(self, keys: KeySet) -> None:
        self._keys = keys

    @classmethod
    def from_file(cls, path: str, allowed: Iterable[str], rsa_default_alg: str = "RS256") -> StaticKeys:
        with open(path, "rb") as f:
            document = json.loads(f.read().decode("utf-8"))
        if not isinstance(document, dict):
            raise ValueError(f"{path}: not a JWKS object")
        keys = KeySet.from_jwks(document, allowed, rsa_default_alg)
        if not len(keys):
            raise ValueError(f"{path}: no usable signing key for the allowed algorithms")
        return cls(keys)

    def current(self) -> Deferred[KeySet]:
        return succeed(self._keys)

    def refetch_for_unknown_kid(self) -> Deferred[KeySet | None]:
        return succeed(None)


class AuthorizationServerMetadata:
    """
    The issuer's metadata document, fetched from its well-known location; its C{issuer}
    must equal the configured issuer exactly, and its endpoints must be https.
    """

    def __init__(self, client: HTTPClientLike, clock: IReactorTime, issuer: str,
                 limits: FetchLimits, metadata_url: str | None = None, ttl: float = 3600.0) -> None:
        self._client = client
        self._clock = clock
        self.issuer = issuer
        self._limits = limits
        self._urls = (metadata_url,) if metadata_url else metadata_urls(issuer)
        self._ttl = ttl
        self._document: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._call = SharedCall()

    def get(self) -> Deferred[dict[str, Any]]:
        now = self._clock.seconds()
        if self._document is not None and now - self._fetched_at < self._ttl:
            return succeed(self._document)
        return self._call.join(self._fetch)

    async def _fetch(self) -> dict[str, Any]:
        problems = []
        for url in self._urls:
            try:
                result = await bounded_fetch(
                    self._client, self._clock, "GET", url, timeout=self._limits.timeout,
                    max_bytes=self._limits.max_bytes, headers={b"Accept": [b"application/json"]},
                )
                if result.status != 200:
                    raise FetchFailed(f"{url}: HTTP {result.status}")
                document = result.json_object()
            except FetchFailed as e:
                problems.append(str(e))
                continue
            if document.get("issuer") != self.issuer:
                problems.append(f"{url}: issuer does not match the configured issuer")
                continue
            for name in ("jwks_uri", "introspection_endpoint"):
                value = document.get(name)
                if value is not None and (not isinstance(value, str) or urlsplit(value).scheme != "https"):
                    problems.append(f"{url}: {name} is not an https URL")
                    break
            else:
                self._document = document
                self._fetched_at = self._clock.seconds()
                return document
        if self._document is not None:
            log.warn("issuer metadata refresh failed, keeping the previous document: {why}",
                     why="; ".join(problems))
            return self._document
        raise FetchFailed("; ".join(problems))


class SharedCall:
    """One call in flight at a time; everyone who asks meanwhile gets its result."""

    def __init__(self) -> None:
        self._waiters: list[Deferred[Any]] | None = None

    @property
    def running(self) -> bool:
        return self._waiters is not None

    def join(self, start: Callable[[], Coroutine[Any, Any, Any]]) -> Deferred[Any]:
        waiter: Deferred[Any] = Deferred()
        if self._waiters is not None:
            self._waiters.append(waiter)
            return waiter
        self._waiters = [waiter]
        ensureDeferred(start()).addBoth(self._deliver)
        return waiter

    def _deliver(self, result: Any) -> None:
        waiters, self._waiters = self._waiters or [], None
        for waiter in waiters:
            if waiter.called:  # cancelled by its caller's deadline
                continue
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(result)


class RemoteKeys:
    """
    Keys from the issuer's C{jwks_uri}. Cached for the response's Cache-Control lifetime
    (clamped to C{[min_ttl, max_ttl]}); while a refresh fails the last good set is kept for
    C{stale_limit} seconds after it expired, then every request fails closed.
    """

    def __init__(self, client: HTTPClientLike, clock: IReactorTime,
                 metadata: AuthorizationServerMetadata, allowed: Iterable[str], limits: FetchLimits,
                 *, default_ttl: float = 300.0, min_ttl: float = 60.0, max_ttl: float = 3600.0,
                 stale_limit: float = 3600.0, refetch_interval: float = 30.0,
                 rsa_default_alg: str = "RS256") -> None:
        self._client = client
        self._clock = clock
        self._metadata = metadata
        self._allowed = frozenset(allowed)
        self._limits = limits
        self._default_ttl = default_ttl
        self._min_ttl = min_ttl
        self._max_ttl = max_ttl
        self._stale_limit = stale_limit
        self._refetch_interval = refetch_interval
        self._rsa_default_alg = rsa_default_alg
        self._keys: KeySet | None = None
        self._expires_at = 0.0
        self._last_attempt = float("-inf")
        self._call = SharedCall()
        self.fetches = 0

    def current(self) -> Deferred[KeySet]:
        """The key set to verify with now, refreshing it first when its lifetime has passed."""
        now = self._clock.seconds()
        if self._keys is not None and now < self._expires_at:
            return succeed(self._keys)
        if self._keys is not None and now - self._last_attempt < self._refetch_interval:
            # a refresh failed a moment ago: do not hammer the server on every request
            return self._stale_or_fail(now)
        return self._refresh()

    def refetch_for_unknown_kid(self) -> Deferred[KeySet | None]:
        """One refetch for a kid not in the set (key rotation), at most once per interval."""
        now = self._clock.seconds()
        if now - self._last_attempt < self._refetch_interval:
            return succeed(None)
        d: Deferred[Any] = self._refresh()
        d.addErrback(lambda _: None)
        return d

    def _stale_or_fail(self, now: float) -> Deferred[KeySet]:
        if self._keys is not None and now < self._expires_at + self._stale_limit:
            return succeed(self._keys)
        return _failed(KeysUnavailable("no usable key set from the authorization server"))

    def _refresh(self) -> Deferred[KeySet]:
        if not self._call.running:
            self._last_attempt = self._clock.seconds()
        return self._call.join(self._fetch)

    async def _fetch(self) -> KeySet:
        self.fetches += 1
        try:
            document = await self._metadata.get()
            jwks_uri = document.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise FetchFailed("issuer metadata has no jwks_uri")
            result = await bounded_fetch(
                self._client, self._clock, "GET", jwks_uri, timeout=self._limits.timeout,
                max_bytes=self._limits.max_bytes,
                headers={b"Accept": [b"application/jwk-set+json, application/json"]},
            )
            if result.status != 200:
                raise FetchFailed(f"{jwks_uri}: HTTP {result.status}")
            keys = KeySet.from_jwks(result.json_object(), self._allowed, self._rsa_default_alg)
            if not len(keys):
                raise FetchFailed(f"{jwks_uri}: no usable signing key for the allowed algorithms")
        except (FetchFailed, ValueError) as e:
            log.warn("fetching signing keys failed: {why}", why=str(e))
            return await self._stale_or_fail(self._clock.seconds())
        ttl = cache_lifetime(result.headers.get("cache-control"), self._default_ttl,
                             self._min_ttl, self._max_ttl)
        self._keys = keys
        self._expires_at = self._clock.seconds() + ttl
        return keys


def _failed(exc: Exception) -> Deferred[Any]:
    d: Deferred[Any] = Deferred()
    d.errback(exc)
    return d
