"""Signing keys: issuer metadata discovery, JWKS caching and rotation, fail-closed fetching,
and RFC 7662 introspection for opaque tokens.
"""

from __future__ import annotations

import base64
import json

from twisted.trial.unittest import SynchronousTestCase

from stoad.auth._keys import cache_lifetime, metadata_urls
from tests.test_auth_helpers import (
    AGENT_1,
    EC_KEY,
    GATEWAY,
    ISSUER,
    RSA_KEY,
    Harness,
    SigningKey,
    bearer,
    claims_for,
    request,
    write,
)


class DiscoveryTests(SynchronousTestCase):
    def test_metadata_locations(self) -> None:
        """RFC 8414 inserts the well-known path before the issuer's path; OIDC appends it."""
        self.assertEqual(metadata_urls("https://as.test/tenant"), (
            "https://as.test/.well-known/oauth-authorization-server/tenant",
            "https://as.test/tenant/.well-known/openid-configuration"))

    def test_keys_come_from_metadata_jwks_uri(self) -> None:
        """The first token makes stoad fetch metadata, then jwks_uri, then verify."""
        h = Harness(self.mktemp())
        self.assertIsNone(h.run(request(authorization=bearer(EC_KEY.sign(claims_for(h.now))))))
        self.assertEqual(h.server.requests, ["/.well-known/oauth-authorization-server", "/jwks"])

    def test_issuer_mismatch_in_metadata_fails_closed(self) -> None:
        """Metadata whose issuer differs from the configured one is not used: 503, never allow."""
        h = Harness(self.mktemp())
        h.server.metadata_issuer = "https://evil.test"
        deny = h.run(request(authorization=bearer(EC_KEY.sign(claims_for(h.now)))))
        self.assertEqual((deny.status, deny.body), (503, {"error": "temporarily_unavailable"}))

    def test_cache_control_bounds(self) -> None:
        """max-age is honoured within [min, max]; no-store drops to the minimum."""
        self.assertEqual(cache_lifetime("public, max-age=600", 300, 60, 3600), 600)
        self.assertEqual(cache_lifetime("max-age=5", 300, 60, 3600), 60)
        self.assertEqual(cache_lifetime("max-age=999999", 300, 60, 3600), 3600)
        self.assertEqual(cache_lifetime("no-store", 300, 60, 3600), 60)
        self.assertEqual(cache_lifetime(None, 300, 60, 3600), 300)
        self.assertEqual(cache_lifetime("max-age=abc", 300, 60, 3600), 300)

    def test_keys_are_cached_for_their_lifetime(self) -> None:
        """Within max-age no refetch happens; after it, the next token refetches the JWKS."""
        h = Harness(self.mktemp())
        for i in range(3):
            token = EC_KEY.sign(claims_for(h.now, jti=f"a{i}"))
            self.assertIsNone(h.run(request(authorization=bearer(token))))
        self.assertEqual(h.server.requests.count("/jwks"), 1)
        h.clock.advance(301)
        token = EC_KEY.sign(claims_for(h.now, jti="b"))
        self.assertIsNone(h.run(request(authorization=bearer(token))))
        self.assertEqual(h.server.requests.count("/jwks"), 2)

    def test_rotation_unknown_kid_refetches_once(self) -> None:
        """A new kid triggers one refetch: rotated keys work without a restart."""
        h = Harness(self.mktemp())
        self.assertIsNone(h.run(request(authorization=bearer(EC_KEY.sign(claims_for(h.now))))))
        h.clock.advance(31)
        rotated = SigningKey.ec("ec-2")
        h.server.keys = [rotated.public]
        token = rotated.sign(claims_for(h.now, jti="rot"))
        self.assertIsNone(h.run(request(authorization=bearer(token))))
        self.assertEqual(h.server.requests.count("/jwks"), 2)

    def test_unknown_kid_refetch_is_rate_limited(self) -> None:
        """A flood of unknown kids causes at most one refetch per interval."""
        h = Harness(self.mktemp())
        self.assertIsNone(h.run(request(authorization=bearer(EC_KEY.sign(claims_for(h.now))))))
        h.clock.advance(31)
        for i in range(20):
            token = SigningKey.ec(f"junk-{i}").sign(claims_for(h.now, jti=f"j{i}"))
            self.assertEqual(h.run(request(authorization=bearer(token))).status, 401)
        self.assertEqual(h.server.requests.count("/jwks"), 2)

    def test_server_down_keeps_last_good_keys_for_a_bounded_time(self) -> None:
        """After the TTL, a failing server leaves the old keys usable until the stale limit."""
        h = Harness(self.mktemp(), "jwks_stale_limit = 600")
        self.assertIsNone(h.run(request(authorization=bearer(EC_KEY.sign(claims_for(h.now))))))
        h.server.down = True
        h.clock.advance(301)
        token = EC_KEY.sign(claims_for(h.now, jti="s1"))
        self.assertIsNone(h.run(request(authorization=bearer(token))))
        h.clock.advance(601)
        token = EC_KEY.sign(claims_for(h.now, jti="s2"))
        deny = h.run(request(authorization=bearer(token)))
        self.assertEqual((deny.status, deny.error), (503, "temporarily_unavailable"))

    def test_server_down_from_the_start_fails_closed(self) -> None:
        """With no key set ever fetched, a failing server means 503 for every JWT."""
        h = Harness(self.mktemp())
        h.server.down = True
        deny = h.run(request(authorization=bearer(EC_KEY.sign(claims_for(h.now)))))
        self.assertEqual(deny.status, 503)

    def test_fetch_timeout_fails_closed(self) -> None:
        """A server that never answers: after fetch_timeout the request is denied with 503."""
        h = Harness(self.mktemp(), "fetch_timeout = 2s")
        h.server.hang = True
        d = h.run(request(authorization=bearer(EC_KEY.sign(claims_for(h.now)))))
        self.assertNoResult(d)
        h.clock.advance(2.1)
        h.stub.flush()
        h.clock.advance(2.1)
        h.stub.flush()
        failure = self.failureResultOf(d)
        self.assertEqual(failure.value.status, 503)

    def test_oversized_jwks_is_refused(self) -> None:
        """A JWKS larger than fetch_max_bytes is not read: 503."""
        h = Harness(self.mktemp(), "fetch_max_bytes = 2k")
        h.server.keys = [EC_KEY.public] * 40
        deny = h.run(request(authorization=bearer(EC_KEY.sign(claims_for(h.now)))))
        self.assertEqual(deny.status, 503)

    def test_symmetric_and_encryption_keys_in_jwks_are_ignored(self) -> None:
        """oct keys, use=enc keys and short RSA keys in the JWKS never verify anything."""
        secret = base64.urlsafe_b64encode(b"k" * 32).rstrip(b"=").decode()
        enc = dict(EC_KEY.public, use="enc")
        h = Harness(self.mktemp(), keys=[{"kty": "oct", "k": secret, "kid": "hs", "alg": "HS256"},
                                         enc])
        deny = h.run(request(authorization=bearer(EC_KEY.sign(claims_for(h.now)))))
        self.assertEqual(deny.status, 503)

    def test_local_jwks_file(self) -> None:
        """jwks_file: keys from disk, no HTTP at all."""
        tmp = self.mktemp()
        path = write(tmp, "jwks.json", json.dumps({"keys": [RSA_KEY.public]}))
        h = Harness(tmp, f"jwks_file = {path}")
        self.assertIsNone(h.run(request(authorization=bearer(RSA_KEY.sign(claims_for(h.now))))))
        self.assertEqual(h.server.requests, [])
        self.assertEqual(h.run(request(authorization=bearer(
            EC_KEY.sign(claims_for(h.now, jti="e"))))).status, 401)


class IntrospectionTests(SynchronousTestCase):
    def setUp(self) -> None:
        tmp = self.mktemp()
        secret = write(tmp, "secret", "s3cret:+/\n")
        self.h = Harness(tmp, f"introspection = client_secret_basic\nclient_id = stoad\n"
                              f"client_secret_file = {secret}")
        self.token = "opaque-token-abc_DEF~123"
        self.h.server.introspection[self.token] = self.response()

    def response(self, **extra: object) -> dict[str, object]:
        body: dict[str, object] = {
            "active": True, "iss": ISSUER, "client_id": "agent-1", "sub": "user-7",
            "aud": GATEWAY + "/api", "scope": "stoa:read", "exp": int(self.h.now) + 600,
            "iat": int(self.h.now), "token_type": "Bearer",
            "cnf": {"x5t#S256": AGENT_1.x5t_s256},
        }
        body.update(extra)
        return {k: v for k, v in body.items() if v is not None}

    def test_active_token_is_accepted_with_basic_auth(self) -> None:
        """An active bound token is accepted; stoad authenticated with form-encoded Basic."""
        ctx = request(authorization=bearer(self.token))
        self.assertIsNone(self.h.run(ctx))
        self.assertEqual(ctx.identity.token_kind, "opaque")
        form, authorization = self.h.server.introspection_requests[0]
        self.assertEqual(form["token"], [self.token])
        expected = b"Basic " + base64.b64encode(b"stoad:s3cret%3A%2B%2F")
        self.assertEqual(authorization, expected)

    def test_inactive_or_missing_active_is_401(self) -> None:
        """active false, missing, or the string "true" are all refused."""
        for active in (False, None, "true"):
            token = f"tok-{active}"
            self.h.server.introspection[token] = self.response(active=active)
            deny = self.h.run(request(authorization=bearer(token)))
            self.assertEqual((deny.status, deny.error), (401, "invalid_token"), active)

    def test_claims_are_checked_as_for_jwts(self) -> None:
        """Wrong iss, other aud, expired, unbound, or a DPoP token type are refused."""
        cases = [{"iss": "https://evil.test"}, {"aud": "https://other.test"},
                 {"exp": int(self.h.now) - 100}, {"cnf": None}, {"token_type": "DPoP"}]
        for i, change in enumerate(cases):
            token = f"tok{i}"
            self.h.server.introspection[token] = self.response(**change)
            self.assertEqual(self.h.run(request(authorization=bearer(token))).status, 401, change)

    def test_insufficient_scope_from_introspection(self) -> None:
        """A read-only introspected token cannot POST."""
        deny = self.h.run(request(method="POST", authorization=bearer(self.token)))
        self.assertEqual((deny.status, deny.error), (403, "insufficient_scope"))

    def test_binding_checked_for_opaque_tokens(self) -> None:
        """An introspected token bound to agent-1 is refused over another certificate."""
        from tests.test_auth_helpers import AGENT_2

        deny = self.h.run(request(authorization=bearer(self.token), peer=AGENT_2))
        self.assertEqual(deny.status, 401)
        self.assertIn("certificate_binding_mismatch", [a[0] for a in self.h.alerts])

    def test_server_error_is_503_with_fixed_body(self) -> None:
        """Introspection answering 500 or garbage: 503 with a fixed body, never allow."""
        self.h.server.extra["/introspect"] = (500, b"boom")
        deny = self.h.run(request(authorization=bearer(self.token)))
        self.assertEqual((deny.status, deny.body), (503, {"error": "temporarily_unavailable"}))
        self.h.server.extra["/introspect"] = (200, b"<html>")
        self.assertEqual(self.h.run(request(authorization=bearer(self.token))).status, 503)

    def test_timeout_is_503(self) -> None:
        """An introspection endpoint that hangs is cut off at fetch_timeout: 503."""
        self.h.run(request(authorization=bearer("warm-up")))  # fetch metadata first
        self.h.server.hang = True
        d = self.h.run(request(authorization=bearer(self.token)))
        self.assertNoResult(d)
        self.h.clock.advance(3.1)
        self.h.stub.flush()
        self.assertEqual(self.failureResultOf(d).value.status, 503)

    def test_inactive_token_is_remembered_briefly(self) -> None:
        """A token the server called inactive is refused from memory (no second introspection)
        for introspection_negative_ttl (5s by default), then asked about again."""
        for _ in range(5):
            self.assertEqual(self.h.run(request(authorization=bearer("unknown-token"))).status, 401)
        asked = [form["token"][0] for form, _ in self.h.server.introspection_requests]
        self.assertEqual(asked.count("unknown-token"), 1)
        self.h.clock.advance(5.1)
        self.assertEqual(self.h.run(request(authorization=bearer("unknown-token"))).status, 401)
        asked = [form["token"][0] for form, _ in self.h.server.introspection_requests]
        self.assertEqual(asked.count("unknown-token"), 2)

    def test_concurrent_requests_share_one_introspection(self) -> None:
        """Ten requests with the same unseen token while the server is slow cause one
        introspection call; when it times out, all ten get 503."""
        self.h.run(request(authorization=bearer("warm-up")))  # fetch metadata first
        self.h.server.hang = True
        pending = [self.h.run(request(authorization=bearer(self.token))) for _ in range(10)]
        for d in pending:
            self.assertNoResult(d)
        self.assertEqual(len(self.h.server.pending), 1)
        self.h.clock.advance(3.1)
        self.h.stub.flush()
        self.assertEqual([self.failureResultOf(d).value.status for d in pending], [503] * 10)
        self.assertEqual(len(self.h.server.pending), 1)

    def test_result_cached_within_bound_then_revocation_seen(self) -> None:
        """Results are reused up to introspection_cache_ttl; revocation shows after that."""
        self.assertIsNone(self.h.run(request(authorization=bearer(self.token))))
        self.h.server.introspection[self.token] = {"active": False}
        self.assertIsNone(self.h.run(request(authorization=bearer(self.token))))
        self.assertEqual(len(self.h.server.introspection_requests), 1)
        self.h.clock.advance(31)
        self.assertEqual(self.h.run(request(authorization=bearer(self.token))).status, 401)

    def test_cache_never_past_exp(self) -> None:
        """A token expiring in 5 s is not served from cache after 5 s."""
        self.h.server.introspection["short"] = self.response(exp=int(self.h.now) + 5)
        self.assertIsNone(self.h.run(request(authorization=bearer("short"))))
        self.h.server.introspection["short"] = {"active": False}
        self.h.clock.advance(6)
        self.assertEqual(self.h.run(request(authorization=bearer("short"))).status, 401)

    def test_opaque_token_without_introspection_is_401(self) -> None:
        """With introspection off, an opaque token is simply invalid."""
        h = Harness(self.mktemp())
        self.assertEqual(h.run(request(authorization=bearer(self.token))).status, 401)

    def test_tls_client_auth_sends_client_id_not_secret(self) -> None:
        """introspection = tls_client_auth posts client_id in the form and no Basic header."""
        tmp = self.mktemp()
        cert = write(tmp, "c.pem", "x")
        h = Harness(tmp, f"introspection = tls_client_auth\nclient_id = stoad\n"
                         f"client_certificate = {cert}\nclient_key = {cert}")
        h.server.introspection[self.token] = self.response()
        self.assertIsNone(h.run(request(authorization=bearer(self.token))))
        form, authorization = h.server.introspection_requests[0]
        self.assertEqual((form["client_id"], authorization), (["stoad"], None))
