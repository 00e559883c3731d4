"""Shared test helpers for the identity layer (token minting, an in-memory authorization server),
and the tests that pin stoad.auth's public surface.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from typing import Any, Callable
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk
from prometheus_client import CollectorRegistry
from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

import stoad.auth
from stoad.auth._settings import AuthSettings, parse_settings
from stoad.config import Problems, Route
from stoad.dev.devpki import make_ca, make_leaf
from stoad.runtime.context import PeerCertificate, RequestContext
from stoad.runtime.layers import AlertBus, SectionSource

ISSUER = "https://as.test"
GATEWAY = "https://gw.test:8443"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WYCHEPROOF_JWS = os.path.join(REPO_ROOT, "tests", "data", "wycheproof", "json_web_signature_test.json")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def peer_for(common_name: str) -> PeerCertificate:
    """A real client certificate from the dev PKI, as the TLS front describes it."""
    issued = make_leaf(_CA, common_name)
    der = issued.der
    return PeerCertificate(
        der=der, x5t_s256=b64url(hashlib.sha256(der).digest()),
        subject=issued.certificate.subject.rfc4514_string(),
        issuer=_CA.certificate.subject.rfc4514_string(), common_name=common_name,
        san_dns=(), san_uri=(), serial=str(issued.certificate.serial_number), not_after="",
    )


_CA = make_ca("stoad auth test CA")
AGENT_1 = peer_for("agent-1")
AGENT_2 = peer_for("agent-2")


def _ec_private_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.private_numbers()
    size = (key.curve.key_size + 7) // 8
    return {
        "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
        "x": b64url(numbers.public_numbers.x.to_bytes(size, "big")),
        "y": b64url(numbers.public_numbers.y.to_bytes(size, "big")),
        "d": b64url(numbers.private_value.to_bytes(size, "big")),
    }


def _int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _rsa_private_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    n = key.private_numbers()
    return {
        "kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
        "n": _int(n.public_numbers.n), "e": _int(n.public_numbers.e), "d": _int(n.d),
        "p": _int(n.p), "q": _int(n.q), "dp": _int(n.dmp1), "dq": _int(n.dmq1), "qi": _int(n.iqmp),
    }


def public_jwk(private: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in private.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}


class SigningKey:
    """A private key that signs arbitrary header/payload bytes (so tests can forge anything)."""

    def __init__(self, private_jwk: dict[str, Any], pem_public: bytes) -> None:
        self.private_jwk = private_jwk
        self.alg = private_jwk["alg"]
        self.kid = private_jwk["kid"]
        self.pem_public = pem_public
        self._key = jwk.construct(private_jwk, self.alg)

    @classmethod
    def ec(cls, kid: str = "ec-1") -> SigningKey:
        key = ec.generate_private_key(ec.SECP256R1())
        return cls(_ec_private_jwk(key, kid), _pem(key.public_key()))

    @classmethod
    def rsa(cls, kid: str = "rsa-1") -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(_rsa_private_jwk(key, kid), _pem(key.public_key()))

    @property
    def public(self) -> dict[str, Any]:
        return public_jwk(self.private_jwk)

    def sign_raw(self, header: bytes, payload: bytes) -> str:
        signing_input = f"{b64url(header)}.{b64url(payload)}".encode("ascii")
        return f"{signing_input.decode()}.{b64url(self._key.sign(signing_input))}"

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        head: dict[str, Any] = {"alg": self.alg, "typ": "at+jwt", "kid": self.kid}
        for name, value in header.items():
            if value is None:
                head.pop(name, None)
            else:
                head[name] = value
        return self.sign_raw(json.dumps(head).encode(), json.dumps(claims).encode())


def _pem(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


EC_KEY = SigningKey.ec()
RSA_KEY = SigningKey.rsa()


def claims_for(now: float, peer: PeerCertificate | None = AGENT_1, client_id: str = "agent-1",
               aud: Any = GATEWAY + "/api", scope: str = "stoa:read stoa:write",
               lifetime: float = 600, **extra: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER, "sub": "user-7", "aud": aud, "client_id": client_id,
        "iat": int(now), "exp": int(now + lifetime), "jti": f"jti-{now}-{client_id}",
        "scope": scope,
    }
    if peer is not None:
        claims["cnf"] = {"x5t#S256": peer.x5t_s256}
    for name, value in extra.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


class InMemoryAuthorizationServer(Resource):
    """
    A twisted.web resource standing in for the authorization server's HTTP side, served to
    the layer through C{treq.testing.StubTreq}: metadata, JWKS and introspection.
    """

    isLeaf = True

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        super().__init__()
        self.keys = keys
        self.jwks_cache_control: str | None = "max-age=300"
        self.metadata_issuer = ISSUER
        self.down = False
        self.hang = False
        self.introspection: dict[str, dict[str, Any]] = {}
        self.introspection_requests: list[tuple[dict[str, list[str]], bytes | None]] = []
        self.requests: list[str] = []
        self.pending: list[Request] = []
        self.extra: dict[str, tuple[int, bytes]] = {}

    def render(self, request: Request) -> Any:
        path = request.path.decode()
        self.requests.append(path)
        if self.hang:
            self.pending.append(request)
            return NOT_DONE_YET
        if self.down:
            request.setResponseCode(502)
            return b"bad gateway"
        if path in self.extra:
            code, body = self.extra[path]
            request.setResponseCode(code)
            return body
        request.setHeader(b"content-type", b"application/json")
        if path == "/.well-known/oauth-authorization-server":
            return json.dumps({
                "issuer": self.metadata_issuer, "jwks_uri": ISSUER + "/jwks",
                "introspection_endpoint": ISSUER + "/introspect",
            }).encode()
        if path == "/jwks":
            if self.jwks_cache_control:
                request.setHeader(b"cache-control", self.jwks_cache_control.encode())
            return json.dumps({"keys": self.keys}).encode()
        if path == "/introspect" and request.method == b"POST":
            form = parse_qs(request.content.read().decode())
            self.introspection_requests.append((form, request.getHeader(b"authorization")))
            token = form.get("token", [""])[0]
            return json.dumps(self.introspection.get(token, {"active": False})).encode()
        request.setResponseCode(404)
        return b"{}"


def write(tmp: str, name: str, text: str) -> str:
    tmp = os.path.abspath(tmp)
    os.makedirs(tmp, exist_ok=True)
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


CONSUMERS = """
[consumer:agent-1]
client_id = agent-1
consumer_id = acme
agent_id = acme-agent-1
tier = gold
routes = api admin

[consumer:agent-2]
client_id = agent-2
consumer_id = globex
tier = free
routes = api
"""


def settings_from(tmp: str, extra: str = "", consumers: str = CONSUMERS) -> AuthSettings:
    tmp = os.path.abspath(tmp)
    path = write(tmp, "consumers.ini", consumers)
    text = f"issuer = {ISSUER}\nconsumers = {path}\n" + extra
    values = {}
    for line in text.strip().splitlines():
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip()
    problems = Problems()
    settings = parse_settings(SectionSource({"auth": values}, problems, tmp))
    problems.raise_if_any()
    return settings


def route(name: str, prefix: str, options: Any = None) -> Route:
    from stoad.auth._settings import RouteAuth

    return Route(
        name=name, prefix=prefix, upstream="http://127.0.0.1:9000", upstream_scheme="http",
        upstream_host="127.0.0.1", upstream_port=9000, upstream_base_path="",
        connect_timeout=5.0, timeout=30.0, upstream_ca=None, upstream_client_certificate=None,
        upstream_client_key=None, public_url=GATEWAY + prefix.rstrip("/"),
        layer_options={"auth": options or RouteAuth()},
    )


ROUTES = (route("api", "/api"), route("admin", "/admin"), route("other", "/other"))


def request(method: str = "GET", path: str = "/api/items", authorization: Any = None,
            peer: PeerCertificate | None = AGENT_1, query: str = "", route_obj: Route | None = None,
            headers: dict[str, list[str]] | None = None, body: bytes | None = None,
            content_type: str | None = None) -> RequestContext:
    all_headers = dict(headers or {})
    if authorization is not None:
        values = authorization if isinstance(authorization, list) else [authorization]
        all_headers["authorization"] = values
    return RequestContext(
        request_id="r1", started=0.0, client_ip="127.0.0.1", peer=peer, method=method,
        raw_path=path, path=path, query=query, headers=all_headers, body=body,
        body_size=len(body or b""), content_type=content_type,
        route=route_obj or ROUTES[0],
    )


class Harness:
    """An identity layer wired to a fake clock, an in-memory AS and a fresh metrics registry."""

    def __init__(self, tmp: str, extra: str = "", keys: list[dict[str, Any]] | None = None,
                 routes: tuple[Route, ...] = ROUTES, consumers: str = CONSUMERS,
                 services: Any = None) -> None:
        self.clock = Clock()
        self.clock.advance(time.time())
        self.server = InMemoryAuthorizationServer(keys if keys is not None else
                                                  [EC_KEY.public, RSA_KEY.public])
        self.stub = StubTreq(self.server)
        if routes is not ROUTES and consumers is CONSUMERS:
            consumers = CONSUMERS.replace("routes = api admin", "routes = *")
        self.settings = settings_from(tmp, extra, consumers)
        self.registry = CollectorRegistry()
        self.alerts: list[tuple[str, str, Any, dict[str, Any]]] = []
        bus = AlertBus([lambda kind, severity, ctx, **d: self.alerts.append((kind, severity, ctx, d))])
        from stoad.auth.plugin import build_layer

        self.layer = build_layer(self.settings, routes, self.clock, self.stub, bus, self.registry,
                                 services)

    @property
    def now(self) -> float:
        return self.clock.seconds()

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def run(self, ctx: RequestContext) -> Any:
        """Run on_request to completion; returns None on allow, the Deny on refusal."""
        from twisted.internet.defer import Deferred

        from stoad.runtime.deny import Deny

        try:
            result = self.layer.on_request(ctx)
        except Deny as deny:
            return deny
        if isinstance(result, Deferred):
            self.stub.flush()
            outcome: list[Any] = []

            def record(value: Any) -> Any:
                outcome.append(value)
                return value

            result.addBoth(record)
            self.stub.flush()
            if not outcome:
                return result  # still waiting (a hanging server): the caller drives the clock
            result.addErrback(lambda _: None)
            value = outcome[0]
            if hasattr(value, "check"):
                if value.check(Deny):
                    return value.value
                value.raiseException()
            return value
        return result


def bearer(token: str) -> str:
    return f"Bearer {token}"


def challenge(deny: Any) -> str:
    return dict((k.lower(), v) for k, v in deny.headers)["www-authenticate"]


class PublicSurfaceTests(SynchronousTestCase):
    def test_public_names_pinned(self) -> None:
        """stoad.auth re-exports exactly its documented public names."""
        self.assertEqual(sorted(stoad.auth.__all__), sorted([
            "AuthSettings", "AuthorizationServerMetadata", "ClaimRules", "Consumer",
            "ConsumerRegistry", "FetchFailed", "IdentityLayer", "IntrospectionUnavailable",
            "JwtVerifier", "KeySet", "KeysUnavailable", "OpaqueVerifier", "RemoteKeys",
            "RouteAuth", "StaticKeys", "TokenIntrospector", "TokenRejected", "UnknownKey",
            "VerifiedToken", "assert_cryptography_backend", "bounded_fetch", "load_consumers",
            "metadata_url", "parse_compact", "parse_route", "parse_settings", "verify_jws",
        ]))
        for name in stoad.auth.__all__:
            self.assertTrue(hasattr(stoad.auth, name), name)

    def test_plugin_is_registered_under_auth(self) -> None:
        """The chain finds the layer's PLUGIN at the module path stoad.runtime.layers lists for auth."""
        from stoad.runtime.layers import load_plugin

        plugin = load_plugin("auth")
        self.assertEqual(plugin.name, "auth")
        self.assertIsNotNone(plugin.parse_route)

    def test_cryptography_backend_asserted(self) -> None:
        """python-jose runs on its cryptography backend, and the start-up check says so."""
        stoad.auth.assert_cryptography_backend()
        from jose.backends import ECKey, RSAKey

        self.assertEqual(RSAKey.__module__, "jose.backends.cryptography_backend")
        self.assertEqual(ECKey.__module__, "jose.backends.cryptography_backend")

    def test_cryptography_backend_missing_refuses_start(self) -> None:
        """If python-jose fell back to another backend, the start-up check raises."""
        from jose.backends.rsa_backend import RSAKey as PurePythonRSAKey

        from stoad.auth import _jws

        self.patch(_jws, "RSAKey", PurePythonRSAKey)
        self.assertRaises(RuntimeError, stoad.auth.assert_cryptography_backend)


def run_sync(d: Any, flush: Callable[[], None] | None = None) -> Any:
    results: list[Any] = []
    d.addBoth(results.append)
    if flush is not None:
        flush()
    return results[0] if results else None
