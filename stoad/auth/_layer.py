"""The identity layer (chain layers 1 and 2): the bearer token and its client-certificate binding.

Sets C{ctx.identity} and stoad's identity headers for the upstream, or raises an RFC 6750 L{Deny}.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import weakref
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlsplit

from prometheus_client import CollectorRegistry, Counter
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from stoad.auth._cache import ExpiringCache
from stoad.auth._introspection import IntrospectionUnavailable
from stoad.auth._jws import TokenRejected
from stoad.auth._keys import KeysUnavailable
from stoad.auth._settings import AuthSettings, RouteAuth
from stoad.auth._verify import VerifiedToken
from stoad.daemon.metrics import ReactorCounts
from stoad.runtime.alerts import AlertBus
from stoad.runtime.context import Identity, RequestContext
from stoad.runtime.deny import Deny
from stoad.runtime.layer import LayerBase
from stoad.state import MemoryState, StateUnavailable
from stoad.state._round import unavailable

log = Logger()

WELL_KNOWN = "/.well-known/oauth-protected-resource"
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*\Z")
_DESCRIPTION_SAFE = re.compile(r"[^A-Za-z0-9 .,:;()_\-]")
UNAVAILABLE_BODY: dict[str, object] = {"error": "temporarily_unavailable"}

@dataclass
class AuthMetrics:
    decisions: ReactorCounts
    cache: ReactorCounts
    binding_mismatch: Counter
    token_reuse: Counter


_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, AuthMetrics] = weakref.WeakKeyDictionary()


def metrics_for(registry: CollectorRegistry) -> AuthMetrics:
    """This layer's counters on C{registry}, created once per registry (rebuilds reuse them)."""
    found = _METRICS.get(registry)
    if found is None:
        found = AuthMetrics(
            # Counted on the reactor thread at least once per request: without a lock.
            decisions=ReactorCounts(registry, "stoad_auth_decisions",
                                    "Identity layer outcomes by result", ("result",)),
            cache=ReactorCounts(registry, "stoad_auth_token_cache",
                                "Verified-token cache lookups", ("result",)),
            binding_mismatch=Counter(
                "stoad_auth_certificate_binding_mismatch",
                "Tokens presented with a client certificate other than the one they are bound to",
                registry=registry),
            token_reuse=Counter(
                "stoad_auth_token_reused_with_other_certificate",
                "Tokens seen with two different client certificates", registry=registry),
        )
        _METRICS[registry] = found
    return found


def metadata_url(public_url: str) -> str:
    """RFC 9728: the well-known path goes between the host and the resource's path."""
    parts = urlsplit(public_url)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}{path}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "").replace('"', "") + '"'


def _sanitise(text: str) -> str:
    return _DESCRIPTION_SAFE.sub("", text)[:120]


@dataclass(frozen=True)
class _Entry:
    """A verified token as cached: with its effective scopes (admin implies read and write)."""

    verified: VerifiedToken
    scopes: frozenset[str]
    scopes_header: str


@dataclass(frozen=True)
class _RoutePlan:
    """A route's precomputed rules: audiences, scopes by method, challenge and metadata."""

    name: str
    audiences: frozenset[str]
    rules: RouteAuth
    resource_metadata: str
    metadata_body: bytes


class IdentityLayer(LayerBase):
    """
    Layers 1 and 2 as one chain layer named C{auth}: extracts the bearer token, verifies it
    (cached by token hash and client-certificate thumbprint), checks its binding to the
    presented certificate, its audience and scopes for the route, and the consumer registry.
    """

    name = "auth"

    def __init__(self, settings: AuthSettings, routes: Iterable[Any], clock: IReactorTime,
                 jwt_verifier: Any, opaque_verifier: Any | None, alerts: AlertBus,
                 registry: CollectorRegistry, services: Any = None) -> None:
        self._settings = settings
        self._clock = clock
        self._jwt = jwt_verifier
        self._opaque = opaque_verifier
        self._alerts = alerts
        self._metrics = metrics_for(registry)
        self._hits = self._metrics.cache.labels("hit")
        self._misses = self._metrics.cache.labels("miss")
        self._allowed = self._metrics.decisions.labels("allow")
        self._cache: ExpiringCache[str, _Entry] = ExpiringCache(settings.token_cache_size)
        # Which certificate each token came with: in the shared store, so a token replayed
        # from another certificate is noticed whichever worker or gateway it reaches.
        self._services = services
        if services is not None and services.state is not None:
            self._state = services.state
        else:
            self._state = MemoryState(clock=clock.seconds)
            if services is not None:
                services.state = self._state
        self._state.configure(max_tokens=settings.reuse_tracker_size)
        self._plans: dict[str, _RoutePlan] = {}
        self._metadata: dict[str, bytes] = {}
        for route in routes:
            plan = self._plan(route)
            self._plans[route.name] = plan
            self._metadata[urlsplit(plan.resource_metadata).path] = plan.metadata_body
            self._metadata.setdefault(WELL_KNOWN + route.prefix.rstrip("/"), plan.metadata_body)

    @staticmethod
    def route_audiences(route: Any) -> frozenset[str]:
        rules = route.layer_options.get("auth") or RouteAuth()
        return frozenset(rules.audiences or (route.public_url,))

    def _plan(self, route: Any) -> _RoutePlan:
        rules: RouteAuth = route.layer_options.get("auth") or RouteAuth()
        scopes = set(self._settings.known_scopes)
        for required in rules.method_scopes.values():
            scopes |= required
        document = {
            "resource": route.public_url,
            "authorization_servers": list(self._settings.authorization_servers),
            "scopes_supported": sorted(scopes),
            "bearer_methods_supported": ["header"],
            "tls_client_certificate_bound_access_tokens": self._settings.require_binding,
        }
        return _RoutePlan(
            name=route.name,
            audiences=self.route_audiences(route),
            rules=rules,
            resource_metadata=metadata_url(route.public_url),
            metadata_body=json.dumps(document, sort_keys=True).encode("utf-8"),
        )

    # -- RFC 9728 metadata, served by the HTTP front before routing ---------------------------

    def serve_local(self, method: str, path: str) -> tuple[int, dict[str, str], bytes] | None:
        body = self._metadata.get(path)
        if body is None:
            return None
        if method not in ("GET", "HEAD"):
            return 405, {"allow": "GET, HEAD", "content-type": "application/json"}, \
                b'{"error":"method_not_allowed"}'
        headers = {"content-type": "application/json", "cache-control": "max-age=300"}
        return 200, headers, b"" if method == "HEAD" else body

    # -- the chain steps ------------------------------------------------------------------------

    def on_request(self, ctx: RequestContext) -> Deferred[None] | None:
        plan = self._plans.get(getattr(ctx.route, "name", None) or "")
        if plan is None:
            raise self._deny(None, 403, "access_denied", "request has no configured route")
        token = self._extract(ctx, plan)
        token_bytes = token.encode("utf-8", "surrogatepass")
        token_hash = hashlib.sha256(token_bytes).hexdigest()
        thumbprint = ctx.peer.x5t_s256 if ctx.peer is not None else ""
        key = f"{token_hash}:{thumbprint}"
        entry = self._cache.get(key, self._clock.seconds())
        if entry is not None:
            # the same bytes were fully checked (syntax included) when the entry was made
            self._hits.inc()
            self._authorize(ctx, plan, entry, token_hash)
            return None
        self._misses.inc()
        if not _B64TOKEN.match(token):
            raise self._deny(plan, 400, "invalid_request", "malformed bearer credentials",
                             "malformed Authorization header")
        return ensureDeferred(self._verify_and_authorize(ctx, plan, token, token_hash, key))

    def on_response(self, ctx: RequestContext, head: Any) -> None:
        return None

    def on_complete(self, ctx: RequestContext) -> None:
        return None

    # -- steps ------------------------------------------------------------------------------------

    def _extract(self, ctx: RequestContext, plan: _RoutePlan) -> str:
        values = ctx.headers.get("authorization", ())
        in_query = ctx.query and any(
            name == "access_token" for name, _ in parse_qsl(ctx.query, keep_blank_values=True))
        in_body = (ctx.body is not None and (ctx.content_type or "").lower().startswith(
            "application/x-www-form-urlencoded") and b"access_token" in ctx.body and any(
            name == "access_token" for name, _ in parse_qsl(ctx.body.decode("latin-1"),
                                                            keep_blank_values=True)))
        if len(values) > 1:
            raise self._deny(plan, 400, "invalid_request", "more than one Authorization header",
                             "send exactly one Authorization header")
        if not values:
            # a token in the query string or form body alone is ignored: there is no token
            raise self._deny(plan, 401, None, "no access token")
        if in_query or in_body:
            raise self._deny(plan, 400, "invalid_request", "token sent by two methods",
                             "send the token in the Authorization header only")
        scheme, _, credentials = values[0].strip().partition(" ")
        if scheme.lower() != "bearer":
            raise self._deny(plan, 401, None, "authorization scheme is not Bearer")
        token = credentials.strip(" ")
        if len(token) > self._settings.max_token_bytes:
            raise self._deny(plan, 401, "invalid_token", "token exceeds the size limit",
                             "the access token is too large")
        if not token:
            raise self._deny(plan, 400, "invalid_request", "empty bearer credentials",
                             "malformed Authorization header")
        return token

    async def _verify_and_authorize(self, ctx: RequestContext, plan: _RoutePlan, token: str,
                                    token_hash: str, key: str) -> None:
        try:
            if token.count(".") == 2:
                verified = await self._jwt.verify(token)
            elif self._opaque is not None:
                verified = await self._opaque.verify(token)
            else:
                raise TokenRejected("opaque token and introspection is off")
        except TokenRejected as e:
            raise self._deny(plan, 401, "invalid_token", e.reason, e.description) from None
        except (IntrospectionUnavailable, KeysUnavailable) as e:
            log.warn("authorization server unavailable: {why}", why=str(e))
            self._metrics.decisions.labels("unavailable").inc()
            raise Deny(503, "temporarily_unavailable", f"authorization server: {e}",
                       body=UNAVAILABLE_BODY) from None
        if ctx.peer is not None:
            await self._note_token(ctx, verified, token_hash, ctx.peer.x5t_s256)
        self._check_binding(ctx, plan, verified, token_hash)
        now = self._clock.seconds()
        ttl = self._settings.token_cache_ttl if verified.kind == "jwt" else \
            self._settings.introspection_cache_ttl
        scopes = verified.scopes
        if "stoa:admin" in scopes:
            scopes = scopes | {"stoa:read", "stoa:write"}
        entry = _Entry(verified, scopes, " ".join(sorted(scopes)))
        self._cache.put(key, entry, min(verified.expires_at, now + ttl), now)
        self._authorize(ctx, plan, entry, token_hash)

    def _check_binding(self, ctx: RequestContext, plan: _RoutePlan, verified: VerifiedToken,
                       token_hash: str) -> None:
        peer = ctx.peer
        if verified.thumbprint is None:
            if self._settings.require_binding:
                raise self._deny(plan, 401, "invalid_token", "token is not certificate-bound",
                                 "the access token is not bound to a client certificate")
            return
        if peer is None:
            raise self._deny(plan, 401, "invalid_token", "certificate-bound token without a "
                             "client certificate", "the access token is bound to a certificate")
        if not hmac.compare_digest(verified.thumbprint.encode("utf-8"),
                                   peer.x5t_s256.encode("utf-8")):
            self._metrics.binding_mismatch.inc()
            self._alerts.emit("certificate_binding_mismatch", "high", ctx,
                              token_hash=token_hash, client_id=verified.client_id,
                              bound_thumbprint=verified.thumbprint, thumbprint=peer.x5t_s256)
            raise self._deny(plan, 401, "invalid_token", "certificate binding mismatch",
                             "the access token is bound to another certificate")

    async def _note_token(self, ctx: RequestContext, verified: VerifiedToken, token_hash: str,
                          thumbprint: str) -> None:
        """
        Record the certificate this token came with (once per verification, not per cached
        request); a different earlier one raises the stolen-token alert. With the store down the
        request waits for it only when C{token_reuse_on_failure = closed}.
        """
        def seen(previous: str | None) -> None:
            if previous is not None:
                self._metrics.token_reuse.inc()
                self._alerts.emit("token_reused_with_other_certificate", "high", ctx,
                                  token_hash=token_hash, client_id=verified.client_id,
                                  previous_thumbprint=previous, thumbprint=thumbprint)

        def failed(error: BaseException) -> None:
            if self._services is None:
                log.warn("token reuse not checked: {why}", why=str(error))
                return
            deny = unavailable(self._services, ctx, "token_reuse", error)
            if deny is not None:
                raise deny

        try:
            noted = self._state.note_token_use(token_hash, thumbprint, self._clock.seconds())
        except StateUnavailable as e:
            failed(e)
            return
        if not isinstance(noted, Deferred):
            seen(noted)
            return
        settings = getattr(self._state, "settings", None)
        if settings is not None and settings.fails_closed("token_reuse"):
            try:
                seen(await noted)
            except StateUnavailable as e:
                failed(e)
            return
        # Fails open: an alert-only signal does not hold the request up.
        noted.addCallbacks(seen, lambda f: failed(f.value or StateUnavailable("no answer")))
        noted.addErrback(lambda f: None)

    def _authorize(self, ctx: RequestContext, plan: _RoutePlan, entry: _Entry,
                   token_hash: str) -> None:
        verified = entry.verified
        if not verified.audiences & plan.audiences:
            raise self._deny(plan, 401, "invalid_token", f"audience not accepted by route "
                             f"{plan.name}", "the access token is not meant for this resource")
        consumer = self._settings.consumers.find(verified.client_id)
        if consumer is None:
            raise self._deny(plan, 403, "access_denied", "unknown client",
                             "the client is not registered")
        if not consumer.may_use(plan.name):
            raise self._deny(plan, 403, "access_denied", f"consumer {consumer.consumer_id} may "
                             f"not use route {plan.name}", "the client may not use this resource")
        peer = ctx.peer
        if consumer.certificate_cn is not None and (peer is None
                                                    or peer.common_name != consumer.certificate_cn):
            raise self._deny(plan, 403, "access_denied", "certificate CN does not match the "
                             "consumer", "the client certificate does not match the client")
        if consumer.certificate_subject is not None and (
                peer is None or peer.subject != consumer.certificate_subject):
            raise self._deny(plan, 403, "access_denied", "certificate subject does not match "
                             "the consumer", "the client certificate does not match the client")
        scopes = entry.scopes
        required = plan.rules.required_scopes(ctx.method)
        if not required <= scopes:
            raise self._deny(plan, 403, "insufficient_scope", f"{ctx.method} needs "
                             f"{' '.join(sorted(required))}", "the access token lacks a scope",
                             scope=" ".join(sorted(required)))
        ctx.identity = Identity(
            client_id=verified.client_id,
            subject=verified.subject,
            consumer_id=consumer.consumer_id,
            agent_id=consumer.agent_id,
            tier=consumer.tier,
            scopes=scopes,
            claims=dict(verified.claims),
            token_kind=verified.kind,
            token_hash=token_hash,
        )
        headers = ctx.upstream_headers
        headers["x-stoad-consumer"] = consumer.consumer_id
        headers["x-stoad-agent"] = consumer.agent_id
        headers["x-stoad-scopes"] = entry.scopes_header
        self._allowed.inc()

    def _deny(self, plan: _RoutePlan | None, status: int, error: str | None, reason: str,
              description: str | None = None, scope: str | None = None) -> Deny:
        params = []
        if error is not None:
            # RFC 6750 has no code for "known token, unknown or unwelcome client": the nearest
            # is insufficient_scope; the response body keeps the precise access_denied
            challenge_error = "insufficient_scope" if error == "access_denied" else error
            params.append(f"error={_quoted(challenge_error)}")
            if description:
                params.append(f"error_description={_quoted(_sanitise(description))}")
        if scope is not None:
            params.append(f"scope={_quoted(scope)}")
        if plan is not None:
            params.append(f"resource_metadata={_quoted(plan.resource_metadata)}")
        challenge = "Bearer " + ", ".join(params) if params else "Bearer"
        self._metrics.decisions.labels(error or "no_token").inc()
        code = error or "unauthorized"
        return Deny(status, code, reason, headers=(("WWW-Authenticate", challenge),))
