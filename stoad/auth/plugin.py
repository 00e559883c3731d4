"""The identity layer's plugin: reads C{[auth]} and route keys, builds the layer with its clients.

Start-up fails loudly if python-jose lacks its cryptography backend or the keys cannot be loaded.
"""

from __future__ import annotations

from http.cookiejar import DefaultCookiePolicy
from typing import Any, Iterable

from prometheus_client import CollectorRegistry
from twisted.internet import ssl
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from stoad.auth._http import HTTPClientLike
from stoad.auth._introspection import TokenIntrospector
from stoad.auth._jws import assert_cryptography_backend
from stoad.auth._keys import AuthorizationServerMetadata, FetchLimits, RemoteKeys, StaticKeys
from stoad.auth._layer import IdentityLayer
from stoad.auth._settings import AuthSettings, parse_route, parse_settings
from stoad.auth._verify import ClaimRules, JwtVerifier, OpaqueVerifier
from stoad.config._reader import ConfigError
from stoad.runtime.layers import LayerPlugin, Services


@implementer(IPolicyForHTTPS)
class AuthorizationServerTLS:
    """TLS to the authorization server: its CA (or the platform's) and stoad's client certificate."""

    def __init__(self, trust_root: Any, client_certificate: ssl.PrivateCertificate | None) -> None:
        self._trust_root = trust_root
        self._client_certificate = client_certificate

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        return ssl.optionsForClientTLS(hostname.decode("ascii"), trustRoot=self._trust_root,
                                       clientCertificate=self._client_certificate)


def make_http_client(reactor: Any, settings: AuthSettings) -> HTTPClientLike:
    """A treq client for metadata, JWKS and introspection: no cookies, no redirects, pooled."""
    import treq.client
    from treq.cookies import IndexableCookieJar

    if settings.authorization_server_ca:
        with open(settings.authorization_server_ca, "rb") as f:
            trust_root: Any = ssl.Certificate.loadPEM(f.read())
    else:
        trust_root = ssl.platformTrust()
    client_certificate = None
    if settings.client_certificate and settings.client_key:
        with open(settings.client_certificate, "rb") as f, open(settings.client_key, "rb") as g:
            client_certificate = ssl.PrivateCertificate.loadPEM(f.read() + b"\n" + g.read())
    pool = HTTPConnectionPool(reactor, persistent=True)
    pool.retryAutomatically = False
    pool.maxPersistentPerHost = 4
    agent = Agent(reactor, contextFactory=AuthorizationServerTLS(trust_root, client_certificate),
                  pool=pool, connectTimeout=settings.fetch_timeout)
    # treq's own CookieJar subclass (only adds indexing), with a policy that accepts no cookie.
    jar = IndexableCookieJar(DefaultCookiePolicy(allowed_domains=[]))
    return treq.client.HTTPClient(agent, cookiejar=jar)


def build_layer(settings: AuthSettings, routes: Iterable[Any], clock: Any, client: HTTPClientLike,
                alerts: Any, registry: CollectorRegistry, services: Any = None) -> IdentityLayer:
    """Assemble the layer from parsed settings with an injected clock and HTTP client."""
    assert_cryptography_backend()
    routes = tuple(routes)
    _check_against_routes(settings, routes)
    audiences = frozenset().union(*(IdentityLayer.route_audiences(r) for r in routes))
    rules = ClaimRules(settings.issuer, audiences, settings.leeway, settings.max_token_lifetime)
    limits = FetchLimits(settings.fetch_timeout, settings.fetch_max_bytes)
    metadata = AuthorizationServerMetadata(client, clock, settings.issuer, limits,
                                           settings.metadata_url, ttl=settings.jwks_max_ttl)
    keys: Any
    if settings.jwks_file:
        try:
            keys = StaticKeys.from_file(settings.jwks_file, settings.algorithms,
                                        settings.rsa_default_algorithm)
        except (OSError, ValueError) as e:
            raise ConfigError([f"[auth] jwks_file: {e}"]) from None
    else:
        keys = RemoteKeys(client, clock, metadata, settings.algorithms, limits,
                          default_ttl=settings.jwks_default_ttl, min_ttl=settings.jwks_min_ttl,
                          max_ttl=settings.jwks_max_ttl, stale_limit=settings.jwks_stale_limit,
                          refetch_interval=settings.jwks_refetch_interval,
                          rsa_default_alg=settings.rsa_default_algorithm)
    jwt_verifier = JwtVerifier(keys, clock, rules, frozenset(settings.algorithms))
    opaque = None
    if settings.introspection != "off":
        async def endpoint() -> str:
            if settings.introspection_endpoint:
                return settings.introspection_endpoint
            document = await metadata.get()
            url = document.get("introspection_endpoint")
            if not isinstance(url, str):
                from stoad.auth._http import FetchFailed

                raise FetchFailed("issuer metadata has no introspection_endpoint")
            return url

        secret = settings.client_secret if settings.introspection == "client_secret_basic" else None
        introspector = TokenIntrospector(client, clock, endpoint, settings.client_id or "", secret,
                                         settings.fetch_timeout, settings.fetch_max_bytes)
        # The negative cache on the shared store (None until the identity layer makes a memory one,
        # which would only repeat the verifier's own memory).
        state = getattr(services, "state", None)
        opaque = OpaqueVerifier(introspector, clock, rules, settings.introspection_negative_ttl,
                                state)
    return IdentityLayer(settings, routes, clock, jwt_verifier, opaque, alerts, registry, services)


def _check_against_routes(settings: AuthSettings, routes: tuple[Any, ...]) -> None:
    problems = []
    names = {route.name for route in routes}
    for consumer in settings.consumers.by_client_id.values():
        for name in sorted(consumer.routes - names - {"*"}):
            problems.append(f"[{consumer.name}] routes: no route named {name!r}")
    known = settings.known_scopes
    for route in routes:
        rules = route.layer_options.get("auth")
        for method, scopes in (rules.method_scopes.items() if rules else ()):
            for scope in sorted(scopes - known):
                problems.append(f"[route:{route.name}] scopes.{method}: unknown scope {scope!r} "
                                f"(add it to [auth] extra_scopes)")
    if problems:
        raise ConfigError(problems)


def build(settings: AuthSettings, routes: Iterable[Any], services: Services) -> IdentityLayer:
    registry = getattr(services.metrics, "registry", None)
    if registry is None:
        registry = CollectorRegistry()
    client = make_http_client(services.reactor, settings)
    return build_layer(settings, routes, services.reactor, client, services.alerts, registry,
                       services)


PLUGIN = LayerPlugin(name="auth", parse_settings=parse_settings, build=build,
                     parse_route=parse_route)
