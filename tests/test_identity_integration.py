"""
End to end: the real daemon (C{twist stoad}, layer C{auth}) in front of a recording upstream,
with tokens minted by a real authorization server (oidc-provider, tests/support/oidc.py).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable

from jose import jwt

from tests.support.daemon import StoadDaemon, gateway_config
from tests.support.oidc import Resource, SharedAuthorizationServerCase
from tests.support.upstream import Upstream

PUBLIC_URL = "https://gateway.stoad.test"
API = PUBLIC_URL + "/api"
OTHER = PUBLIC_URL + "/other"
OPAQUE = PUBLIC_URL + "/opaque"
METADATA_PREFIX = "/.well-known/oauth-protected-resource"
UNAVAILABLE = {"error": "temporarily_unavailable"}

# No certificate_cn rules: only the RFC 8705 binding ties a token to its certificate here.
CONSUMERS = """\
[consumer:agent-1]
client_id = agent-1
consumer_id = demo-team
agent_id = agent-1
tier = gold
routes = *

[consumer:agent-2]
client_id = agent-2
consumer_id = demo-team
agent_id = agent-2
tier = free
routes = *

[consumer:cli]
client_id = stoa-cli
consumer_id = alice-desktop
agent_id = stoa-cli
tier = free
routes = api
"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def seen_upstream(body: bytes) -> dict[str, str]:
    """The headers the upstream's C{/echo} says it received (names lower-cased)."""
    return dict(json.loads(body)["headers"])


def challenge_error(headers: dict[str, str]) -> str | None:
    """The C{error} parameter of a Bearer challenge, or None."""
    challenge = headers["www-authenticate"]
    for part in challenge.partition(" ")[2].split(","):
        name, _, value = part.strip().partition("=")
        if name == "error":
            return value.strip('"')
    return None


def metric_value(text: str, name: str) -> float:
    """Sum of every sample of C{name} (any labels) in Prometheus text."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def poll(what: str, attempt: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """Call C{attempt} until it returns something truthy; bounded by C{timeout} seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = attempt()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(interval)


class IdentityGatewayCase(SharedAuthorizationServerCase):
    """
    One authorization server per class (it is the slow part) and a fresh daemon per test,
    so no test sees another's verified-token or key cache.
    """

    TMP_PREFIX = "stoad-id-"
    RESOURCES = (Resource(API, ttl=300), Resource(OTHER, alg="RS256", ttl=300),
                 Resource(OPAQUE, format="opaque", ttl=300))
    auth_overrides: dict[str, str] = {}

    def setUp(self) -> None:
        super().setUp()
        self.upstream = Upstream()
        self.addCleanup(self.upstream.stop)
        consumers = os.path.join(self.workdir, "consumers.ini")
        with open(consumers, "w", encoding="utf-8") as f:
            f.write(CONSUMERS)
        secret = os.path.join(self.workdir, "introspection-secret")
        with open(secret, "w", encoding="utf-8") as f:
            f.write(self.server.introspection_client_secret)
        auth = {
            "issuer": self.server.issuer,
            "consumers": consumers,
            "authorization_server_ca": self.pki["ca"],
            "introspection": "client_secret_basic",
            "client_id": self.server.introspection_client_id,
            "client_secret_file": secret,
            "introspection_cache_ttl": "2s",
            "jwks_refetch_interval": "1s",
            **self.auth_overrides,
        }
        text = gateway_config(
            self.pki,
            state_dir=os.path.join(self.workdir, "state"),
            admin_socket=os.path.join(self.workdir, "admin.sock"),
            routes={name: {"prefix": f"/{name}", "upstream": self.upstream.url}
                    for name in ("api", "other", "opaque")},
            layers=("auth",),
            server={"public_url": PUBLIC_URL},
            sections={"auth": auth},
        )
        self.daemon = StoadDaemon(self.workdir, text, pki=self.pki)
        self.addCleanup(self.daemon.kill)
        self.daemon.start()

    def token(self, client_id: str = "agent-1", resource: str = API,
              scope: str = "stoa:read") -> str:
        return self.server.client_credentials(client_id, resource, scope).access_token

    def denial_reasons(self) -> list[str]:
        return [m for m in self.daemon.log_messages() if m.startswith("denied ")]


class CertificateBoundTokenTests(IdentityGatewayCase):
    def test_bound_jwt_is_forwarded_with_identity_headers_and_without_the_token(self) -> None:
        """A client-credentials JWT (tls_client_auth, cnf.x5t#S256 of agent-1's certificate)
        presented over that certificate is forwarded: the upstream gets stoad's identity
        headers and never the client's Authorization header."""
        token = self.token(scope="stoa:read stoa:write")
        claims = jwt.get_unverified_claims(token)
        self.assertEqual(claims["cnf"], {"x5t#S256": self.server.agents["agent-1"].thumbprint()})
        status, _, body = self.daemon.request("GET", "/api/echo", headers=bearer(token))
        self.assertEqual(status, 200, body)
        seen = seen_upstream(body)
        self.assertNotIn("authorization", seen)
        self.assertEqual(seen["x-stoad-consumer"], "demo-team")
        self.assertEqual(seen["x-stoad-agent"], "agent-1")
        self.assertEqual(seen["x-stoad-scopes"], "stoa:read stoa:write")
        self.assertEqual(len(self.upstream.requests), 1)

    def test_forged_identity_headers_are_replaced_by_the_verified_ones(self) -> None:
        """An agent sending its own x-stoad-consumer/agent/scopes headers cannot claim another
        identity: the upstream sees only what the verified token says."""
        status, _, body = self.daemon.request("GET", "/api/echo", headers={
            **bearer(self.token()), "X-Stoad-Consumer": "admin-team",
            "X-Stoad-Agent": "root", "X-Stoad-Scopes": "stoa:admin"})
        self.assertEqual(status, 200, body)
        seen = json.loads(body)["headers"]
        self.assertEqual([v for k, v in seen if k == "x-stoad-consumer"], ["demo-team"])
        self.assertEqual([v for k, v in seen if k == "x-stoad-agent"], ["agent-1"])
        self.assertEqual([v for k, v in seen if k == "x-stoad-scopes"], ["stoa:read"])

    def test_token_replayed_over_another_agents_certificate_is_refused_and_counted(self) -> None:
        """agent-1's bound token presented over agent-2's (equally valid) certificate is a
        stolen token: 401 invalid_token, never forwarded, logged and counted as a binding
        mismatch and as reuse with another certificate."""
        token = self.token()
        status, _, _ = self.daemon.request("GET", "/api/echo", headers=bearer(token))
        self.assertEqual(status, 200)
        status, headers, body = self.daemon.request("GET", "/api/echo", headers=bearer(token),
                                                    cert="agent-2")
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body), {"error": "invalid_token"})
        self.assertEqual(challenge_error(headers), "invalid_token")
        self.assertEqual(len(self.upstream.requests), 1)
        self.assertIn("denied 401 by auth: certificate binding mismatch", self.denial_reasons())
        metrics = self.daemon.metrics()
        self.assertEqual(metric_value(metrics, "stoad_auth_certificate_binding_mismatch_total"), 1)
        self.assertEqual(
            metric_value(metrics, "stoad_auth_token_reused_with_other_certificate_total"), 1)

    def test_token_for_another_route_audience_is_refused(self) -> None:
        """A valid bound token minted for the /other resource is refused on /api (401): a
        token for one upstream cannot be replayed against another. It works where it belongs."""
        token = self.token(resource=OTHER)
        self.assertEqual(jwt.get_unverified_claims(token)["aud"], OTHER)
        status, headers, _ = self.daemon.request("GET", "/api/echo", headers=bearer(token))
        self.assertEqual(status, 401)
        self.assertEqual(challenge_error(headers), "invalid_token")
        self.assertEqual(self.upstream.requests, [])
        status, _, _ = self.daemon.request("GET", "/other/echo", headers=bearer(token))
        self.assertEqual(status, 200)

    def test_expired_token_is_refused(self) -> None:
        """A correctly signed, bound token whose exp has passed (minted with the provider's
        clock an hour back) is refused with 401 invalid_token."""
        self.server.shift_token_time(-3600)
        try:
            token = self.token()
        finally:
            self.server.shift_token_time(0)
        self.assertLess(jwt.get_unverified_claims(token)["exp"], time.time())
        status, headers, _ = self.daemon.request("GET", "/api/echo", headers=bearer(token))
        self.assertEqual(status, 401)
        self.assertEqual(challenge_error(headers), "invalid_token")
        self.assertEqual(self.upstream.requests, [])
        self.assertTrue(any("expired" in m.lower() for m in self.denial_reasons()),
                        self.denial_reasons())

    def test_authorization_code_with_pkce_bound_to_the_client_certificate_is_forwarded(self) -> None:
        """The public client's authorization-code + PKCE S256 token, redeemed presenting
        agent-1's certificate, is accepted over that certificate for the user it names."""
        token = self.server.authorization_code(API, self.server.agents["agent-1"]).access_token
        claims = jwt.get_unverified_claims(token)
        self.assertEqual((claims["client_id"], claims["sub"]),
                         (self.server.public_client_id, self.server.user))
        status, _, body = self.daemon.request("GET", "/api/echo", headers=bearer(token))
        self.assertEqual(status, 200, body)
        seen = seen_upstream(body)
        self.assertEqual((seen["x-stoad-consumer"], seen["x-stoad-agent"]),
                         ("alice-desktop", "stoa-cli"))
        self.assertNotIn("authorization", seen)

    def test_rotated_signing_keys_are_accepted_without_restart(self) -> None:
        """After the provider replaces its signing keys (old ones dropped), a token signed with
        the new key is accepted by the running daemon: the unknown kid triggers a refetch."""
        old = self.token()
        status, _, _ = self.daemon.request("GET", "/api/echo", headers=bearer(old))
        self.assertEqual(status, 200)
        workers = self.daemon.worker_pids()
        self.server.rotate_keys(keep_old=False)
        new = self.token()
        self.assertNotEqual(jwt.get_unverified_header(new)["kid"],
                            jwt.get_unverified_header(old)["kid"])

        def accepted() -> bool:
            return self.daemon.request("GET", "/api/echo", headers=bearer(new))[0] == 200

        # jwks_refetch_interval is 1s: at most that long after the first fetch
        poll("token signed with the rotated key accepted", accepted, timeout=10)
        self.assertEqual(self.daemon.worker_pids(), workers)


class OpaqueTokenTests(IdentityGatewayCase):
    def test_opaque_token_is_accepted_through_introspection(self) -> None:
        """An opaque (non-JWT) token is introspected with stoad's own client credentials and
        forwarded with the identity it names, without the Authorization header."""
        token = self.token(resource=OPAQUE)
        self.assertEqual(token.count("."), 0)
        status, _, body = self.daemon.request("GET", "/opaque/echo", headers=bearer(token))
        self.assertEqual(status, 200, body)
        seen = seen_upstream(body)
        self.assertNotIn("authorization", seen)
        self.assertEqual((seen["x-stoad-consumer"], seen["x-stoad-agent"]), ("demo-team", "agent-1"))

    def test_opaque_token_over_another_certificate_is_refused(self) -> None:
        """The introspection response's cnf binds the opaque token too: over agent-2's
        certificate it is refused with 401."""
        token = self.token(resource=OPAQUE)
        status, headers, _ = self.daemon.request("GET", "/opaque/echo", headers=bearer(token),
                                                 cert="agent-2")
        self.assertEqual(status, 401)
        self.assertEqual(challenge_error(headers), "invalid_token")
        self.assertEqual(self.upstream.requests, [])

    def test_revoked_opaque_token_is_refused_once_the_cache_bound_has_passed(self) -> None:
        """After revocation at the provider, a cached introspection result may serve the token
        until introspection_cache_ttl (2s) is over, never longer: then it gets 401."""
        token = self.token(resource=OPAQUE)
        first_sent = time.monotonic()
        status, _, _ = self.daemon.request("GET", "/opaque/echo", headers=bearer(token))
        self.assertEqual(status, 200)
        self.server.revoke(token)
        self.assertEqual(self.server.introspect(token), {"active": False})
        refused_at: list[float] = []

        def refused() -> bool:
            status = self.daemon.request("GET", "/opaque/echo", headers=bearer(token))[0]
            if status == 200:
                return False
            self.assertEqual(status, 401)
            refused_at.append(time.monotonic())
            return True

        poll("revoked token refused", refused, timeout=2 + 10)
        # the cache entry was made after first_sent, so it cannot have expired earlier
        self.assertGreaterEqual(refused_at[0] - first_sent, 2.0)
        self.assertIn("denied 401 by auth: introspection says the token is not active",
                      self.denial_reasons())


class ProtectedResourceMetadataTests(IdentityGatewayCase):
    def test_metadata_is_served_without_a_token(self) -> None:
        """/.well-known/oauth-protected-resource/api answers without a token (RFC 9728) with
        the route's resource URL, the issuer and certificate-bound tokens."""
        status, headers, body = self.daemon.request("GET", METADATA_PREFIX + "/api")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        document = json.loads(body)
        self.assertEqual(document["resource"], API)
        self.assertEqual(document["authorization_servers"], [self.server.issuer])
        self.assertEqual(document["bearer_methods_supported"], ["header"])
        self.assertIs(document["tls_client_certificate_bound_access_tokens"], True)
        self.assertLessEqual({"stoa:read", "stoa:write", "stoa:admin"},
                             set(document["scopes_supported"]))
        self.assertEqual(json.loads(self.daemon.request(
            "GET", METADATA_PREFIX + "/opaque")[2])["resource"], OPAQUE)
        self.assertEqual(self.upstream.requests, [])

    def test_401_challenge_points_at_the_routes_metadata(self) -> None:
        """A request without a token gets 401 with a bare Bearer challenge whose
        resource_metadata is the route's metadata URL, which is served at that path."""
        status, headers, _ = self.daemon.request("GET", "/api/echo")
        self.assertEqual(status, 401)
        expected = PUBLIC_URL + METADATA_PREFIX + "/api"
        self.assertEqual(headers["www-authenticate"], f'Bearer resource_metadata="{expected}"')
        status, _, body = self.daemon.request("GET", expected[len(PUBLIC_URL):])
        self.assertEqual((status, json.loads(body)["resource"]), (200, API))

    def test_invalid_token_challenge_carries_resource_metadata(self) -> None:
        """A refused token's challenge carries both error=invalid_token and resource_metadata."""
        token = self.token(resource=OTHER)
        status, headers, _ = self.daemon.request("GET", "/api/echo", headers=bearer(token))
        self.assertEqual(status, 401)
        self.assertIn(f'resource_metadata="{PUBLIC_URL}{METADATA_PREFIX}/api"',
                      headers["www-authenticate"])


class ProviderDownTests(IdentityGatewayCase):
    # Keys live 1s, then may be used stale for 3s while refreshing fails; no token cache, so
    # every request really needs the keys (or the introspection endpoint).
    auth_overrides = {"jwks_min_ttl": "1s", "jwks_max_ttl": "1s", "jwks_default_ttl": "1s",
                      "jwks_stale_limit": "3s", "token_cache_size": "0"}

    def setUp(self) -> None:
        super().setUp()
        self.addCleanup(self.server.resume_serving)

    def test_cached_keys_keep_jwts_working_within_the_stale_bound_then_fail_closed(self) -> None:
        """With the provider down, the last good key set keeps verifying JWTs after it expired
        (1s), up to jwks_stale_limit (3s) more; then JWTs get 503 with a fixed body."""
        token = self.token()
        sent = time.monotonic()
        status, _, _ = self.daemon.request("GET", "/api/echo", headers=bearer(token))
        answered = time.monotonic()
        self.assertEqual(status, 200)
        self.server.stop_serving()
        served_stale = []

        def unavailable() -> tuple[int, bytes] | None:
            status, _, body = self.daemon.request("GET", "/api/echo", headers=bearer(token))
            now = time.monotonic()
            if status == 200:
                if now - answered > 1.0:
                    served_stale.append(now)
                return None
            return status, body

        status, body = poll("JWTs refused once the stale bound passed", unavailable, timeout=15)
        refused = time.monotonic()
        self.assertEqual((status, json.loads(body)), (503, UNAVAILABLE))
        self.assertTrue(served_stale, "the expired key set was never used while the server was down")
        self.assertGreaterEqual(refused - sent, 1.0 + 3.0)
        self.assertLess(refused - answered, 1.0 + 3.0 + 5.0)
        self.assertTrue(any("fetching signing keys failed" in m for m in self.daemon.log_messages()))

    def test_introspection_fails_closed_while_the_provider_is_down(self) -> None:
        """With the provider down an opaque token cannot be introspected: 503 with a fixed
        body, never forwarded; it works again once the provider is back."""
        token = self.token(resource=OPAQUE)
        status, _, _ = self.daemon.request("GET", "/opaque/echo", headers=bearer(token))
        self.assertEqual(status, 200)
        self.server.stop_serving()
        status, headers, body = self.daemon.request("GET", "/opaque/echo", headers=bearer(token))
        self.assertEqual((status, json.loads(body)), (503, UNAVAILABLE))
        self.assertNotIn("www-authenticate", headers)
        self.assertEqual(len(self.upstream.requests), 1)
        self.server.resume_serving()
        status, _, _ = self.daemon.request("GET", "/opaque/echo", headers=bearer(token))
        self.assertEqual(status, 200)
