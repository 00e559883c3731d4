"""The identity layer's request step: token extraction, RFC 6750 errors, certificate binding,
audience per route, scopes, consumers, the verified-token cache and RFC 9728 metadata.
"""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

from stoad.auth._settings import RouteAuth
from stoad.runtime.deny import Deny
from tests.test_auth_helpers import (
    AGENT_1,
    AGENT_2,
    EC_KEY,
    GATEWAY,
    RSA_KEY,
    Harness,
    bearer,
    challenge,
    claims_for,
    request,
    route,
)

API_METADATA = f'resource_metadata="{GATEWAY}/.well-known/oauth-protected-resource/api"'


class ExtractionTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.h = Harness(self.mktemp())
        self.token = EC_KEY.sign(claims_for(self.h.now))

    def test_no_token_gets_bare_challenge(self) -> None:
        """No Authorization header: 401 with a Bearer challenge that has no error code."""
        deny = self.h.run(request())
        self.assertEqual(deny.status, 401)
        self.assertEqual(challenge(deny), f"Bearer {API_METADATA}")
        self.assertNotIn("error=", challenge(deny))

    def test_token_in_query_alone_is_ignored(self) -> None:
        """access_token in the query string alone counts as no token (401, no error code)."""
        deny = self.h.run(request(query=f"access_token={self.token}"))
        self.assertEqual((deny.status, challenge(deny)), (401, f"Bearer {API_METADATA}"))

    def test_token_in_query_and_header_is_invalid_request(self) -> None:
        """A token sent both in the query string and the header: 400 invalid_request."""
        deny = self.h.run(request(authorization=bearer(self.token),
                                  query=f"a=1&access_token={self.token}"))
        self.assertEqual((deny.status, deny.error), (400, "invalid_request"))
        self.assertIn('error="invalid_request"', challenge(deny))

    def test_token_in_form_body_and_header_is_invalid_request(self) -> None:
        """A token in a form body as well as the header: 400 invalid_request."""
        deny = self.h.run(request(method="POST", authorization=bearer(self.token),
                                  body=f"access_token={self.token}".encode(),
                                  content_type="application/x-www-form-urlencoded"))
        self.assertEqual((deny.status, deny.error), (400, "invalid_request"))

    def test_two_authorization_headers_is_invalid_request(self) -> None:
        """Two Authorization headers: 400 invalid_request, even if both carry the same token."""
        deny = self.h.run(request(authorization=[bearer(self.token), bearer(self.token)]))
        self.assertEqual((deny.status, deny.error), (400, "invalid_request"))

    def test_scheme_is_case_insensitive(self) -> None:
        """'bEaReR' is accepted as the Bearer scheme."""
        self.assertIsNone(self.h.run(request(authorization=f"bEaReR {self.token}")))

    def test_other_scheme_is_no_token(self) -> None:
        """Basic credentials are not a bearer token: 401 bare challenge."""
        deny = self.h.run(request(authorization="Basic YWxhZGRpbjpvcGVuc2VzYW1l"))
        self.assertEqual((deny.status, challenge(deny)), (401, f"Bearer {API_METADATA}"))

    def test_malformed_credentials_are_invalid_request(self) -> None:
        """A bearer value with characters outside b64token (or empty) is 400 invalid_request."""
        for value in ("Bearer ", "Bearer a b", 'Bearer x"y', "Bearer tok\u00e9n"):
            deny = self.h.run(request(authorization=value))
            self.assertEqual((deny.status, deny.error), (400, "invalid_request"), value)

    def test_huge_token_is_refused_without_work(self) -> None:
        """A token over max_token_bytes is refused with 401 before any parsing or fetching."""
        deny = self.h.run(request(authorization=bearer("a" * 100_000)))
        self.assertEqual((deny.status, deny.error), (401, "invalid_token"))
        self.assertEqual(self.h.server.requests, [])

    def test_error_description_is_sanitised(self) -> None:
        """Challenge parameters never carry quotes, backslashes or token content."""
        deny = self.h.run(request(authorization=bearer("abc.def.ghi")))
        value = challenge(deny)
        self.assertIn('error="invalid_token"', value)
        self.assertNotIn("abc", value)
        self.assertEqual(value.count('"') % 2, 0)


class BindingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.h = Harness(self.mktemp())

    def test_bound_token_with_its_certificate_is_allowed(self) -> None:
        """A token whose cnf.x5t#S256 is the presented certificate's thumbprint passes."""
        ctx = request(authorization=bearer(EC_KEY.sign(claims_for(self.h.now))))
        self.assertIsNone(self.h.run(ctx))
        self.assertEqual(ctx.identity.client_id, "agent-1")

    def test_stolen_token_over_other_certificate_is_refused_and_alerted(self) -> None:
        """The same token over agent-2's certificate: 401 invalid_token, alert and counter."""
        token = EC_KEY.sign(claims_for(self.h.now))
        self.assertIsNone(self.h.run(request(authorization=bearer(token))))
        deny = self.h.run(request(authorization=bearer(token), peer=AGENT_2))
        self.assertEqual((deny.status, deny.error), (401, "invalid_token"))
        kinds = [alert[0] for alert in self.h.alerts]
        self.assertEqual(kinds, ["token_reused_with_other_certificate",
                                 "certificate_binding_mismatch"])
        self.assertEqual(self.h.alerts[1][1], "high")
        self.assertEqual(self.h.alerts[1][3]["thumbprint"], AGENT_2.x5t_s256)
        self.assertNotIn(token, repr([alert[3] for alert in self.h.alerts]))
        self.assertEqual(self.h.metric("stoad_auth_certificate_binding_mismatch_total"), 1)
        self.assertEqual(
            self.h.metric("stoad_auth_token_reused_with_other_certificate_total"), 1)

    def test_cached_token_is_not_reused_across_certificates(self) -> None:
        """A verified-token cache entry for agent-1 never admits agent-2's connection."""
        token = EC_KEY.sign(claims_for(self.h.now))
        for _ in range(3):
            self.assertIsNone(self.h.run(request(authorization=bearer(token))))
        deny = self.h.run(request(authorization=bearer(token), peer=AGENT_2))
        self.assertEqual(deny.status, 401)

    def test_token_without_cnf_refused_by_default(self) -> None:
        """require_binding defaults to yes: a token without cnf is 401."""
        token = EC_KEY.sign(claims_for(self.h.now, peer=None))
        deny = self.h.run(request(authorization=bearer(token)))
        self.assertEqual((deny.status, deny.error), (401, "invalid_token"))

    def test_no_client_certificate_is_refused(self) -> None:
        """A bound token on a connection without a client certificate: 401."""
        token = EC_KEY.sign(claims_for(self.h.now))
        deny = self.h.run(request(authorization=bearer(token), peer=None))
        self.assertEqual((deny.status, deny.error), (401, "invalid_token"))

    def test_unbound_token_allowed_when_binding_not_required(self) -> None:
        """With require_binding = no, a token without cnf passes; reuse is still alerted."""
        h = Harness(self.mktemp(), "require_binding = no")
        token = EC_KEY.sign(claims_for(h.now, peer=None))
        self.assertIsNone(h.run(request(authorization=bearer(token))))
        self.assertIsNone(h.run(request(authorization=bearer(token), peer=AGENT_2)))
        self.assertEqual([a[0] for a in h.alerts], ["token_reused_with_other_certificate"])

    def test_binding_applies_to_every_route(self) -> None:
        """No route is exempt: the admin route refuses the token over another certificate."""
        token = EC_KEY.sign(claims_for(self.h.now, aud=GATEWAY + "/admin"))
        ctx = request(path="/admin/x", authorization=bearer(token), peer=AGENT_2,
                      route_obj=route("admin", "/admin"))
        self.assertEqual(self.h.run(ctx).status, 401)


class AudienceAndScopeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.h = Harness(self.mktemp())

    def test_token_for_other_route_is_refused(self) -> None:
        """A token minted for /admin cannot be replayed against /api (lateral movement)."""
        token = EC_KEY.sign(claims_for(self.h.now, aud=GATEWAY + "/admin"))
        deny = self.h.run(request(authorization=bearer(token)))
        self.assertEqual((deny.status, deny.error), (401, "invalid_token"))

    def test_token_for_unknown_audience_is_refused(self) -> None:
        """A token for an audience no route accepts is 401."""
        token = EC_KEY.sign(claims_for(self.h.now, aud="https://elsewhere.test/api"))
        self.assertEqual(self.h.run(request(authorization=bearer(token))).status, 401)

    def test_aud_list_containing_ours_is_accepted(self) -> None:
        """aud may be a list; one of its entries being the route's audience suffices."""
        token = EC_KEY.sign(claims_for(self.h.now, aud=["https://x.test", GATEWAY + "/api"]))
        self.assertIsNone(self.h.run(request(authorization=bearer(token))))

    def test_configured_audiences_replace_public_url(self) -> None:
        """A route with audiences = urn:x accepts urn:x and no longer its public URL."""
        custom = route("api", "/api", RouteAuth(audiences=("urn:stoad:api",)))
        h = Harness(self.mktemp(), routes=(custom,))
        good = EC_KEY.sign(claims_for(h.now, aud="urn:stoad:api"))
        self.assertIsNone(h.run(request(authorization=bearer(good), route_obj=custom)))
        old = EC_KEY.sign(claims_for(h.now, aud=GATEWAY + "/api"))
        self.assertEqual(h.run(request(authorization=bearer(old), route_obj=custom)).status, 401)

    def test_write_needs_write_scope(self) -> None:
        """POST with only stoa:read: 403 insufficient_scope naming stoa:write."""
        token = EC_KEY.sign(claims_for(self.h.now, scope="stoa:read"))
        deny = self.h.run(request(method="POST", authorization=bearer(token)))
        self.assertEqual((deny.status, deny.error), (403, "insufficient_scope"))
        self.assertIn('scope="stoa:write"', challenge(deny))
        self.assertIn(API_METADATA, challenge(deny))

    def test_read_methods_need_read_scope(self) -> None:
        """GET, HEAD and OPTIONS need stoa:read; a write-only token is refused."""
        token = EC_KEY.sign(claims_for(self.h.now, scope="stoa:write"))
        for method in ("GET", "HEAD", "OPTIONS"):
            deny = self.h.run(request(method=method, authorization=bearer(token)))
            self.assertEqual(deny.status, 403, method)

    def test_admin_implies_read_and_write(self) -> None:
        """stoa:admin alone allows GET and DELETE, and the identity lists all three scopes."""
        token = EC_KEY.sign(claims_for(self.h.now, scope="stoa:admin"))
        ctx = request(method="DELETE", authorization=bearer(token))
        self.assertIsNone(self.h.run(ctx))
        self.assertEqual(ctx.upstream_headers["x-stoad-scopes"], "stoa:admin stoa:read stoa:write")

    def test_route_method_scopes(self) -> None:
        """scopes.GET = stoa:admin on a route makes GET need stoa:admin there."""
        strict = route("api", "/api", RouteAuth(method_scopes={"GET": frozenset({"stoa:admin"})}))
        h = Harness(self.mktemp(), routes=(strict,))
        token = EC_KEY.sign(claims_for(h.now, scope="stoa:read stoa:write"))
        deny = h.run(request(authorization=bearer(token), route_obj=strict))
        self.assertIn('scope="stoa:admin"', challenge(deny))


class ConsumerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.h = Harness(self.mktemp())

    def test_identity_and_upstream_headers(self) -> None:
        """An allowed request carries the consumer's identity in ctx and upstream headers."""
        token = RSA_KEY.sign(claims_for(self.h.now))
        ctx = request(authorization=bearer(token))
        self.assertIsNone(self.h.run(ctx))
        identity = ctx.identity
        self.assertEqual((identity.consumer_id, identity.agent_id, identity.tier,
                          identity.subject, identity.token_kind),
                         ("acme", "acme-agent-1", "gold", "user-7", "jwt"))
        self.assertNotIn(token, repr(identity))
        self.assertEqual(ctx.upstream_headers, {"x-stoad-consumer": "acme",
                                                "x-stoad-agent": "acme-agent-1",
                                                "x-stoad-scopes": "stoa:read stoa:write"})
        self.assertNotIn("authorization", ctx.upstream_headers)

    def test_unknown_client_is_403(self) -> None:
        """A valid token for a client_id missing from the consumer registry: 403."""
        token = EC_KEY.sign(claims_for(self.h.now, client_id="intruder"))
        deny = self.h.run(request(authorization=bearer(token)))
        self.assertEqual((deny.status, deny.error), (403, "access_denied"))
        self.assertIn(API_METADATA, challenge(deny))

    def test_consumer_route_allow_list(self) -> None:
        """agent-2 may use api but not admin: 403 on admin."""
        token = EC_KEY.sign(claims_for(self.h.now, peer=AGENT_2, client_id="agent-2",
                                       aud=GATEWAY + "/admin"))
        ctx = request(path="/admin", authorization=bearer(token), peer=AGENT_2,
                      route_obj=route("admin", "/admin"))
        self.assertEqual(self.h.run(ctx).status, 403)

    def test_certificate_cn_must_match_consumer(self) -> None:
        """certificate_cn = agent-1 refuses agent-1's client_id bound to agent-2's certificate."""
        consumers = ("[consumer:a]\nclient_id = agent-1\nconsumer_id = acme\ntier = gold\n"
                     "routes = *\ncertificate_cn = agent-1\n")
        h = Harness(self.mktemp(), consumers=consumers)
        token = EC_KEY.sign(claims_for(h.now, peer=AGENT_2))
        deny = h.run(request(authorization=bearer(token), peer=AGENT_2))
        self.assertEqual((deny.status, deny.error), (403, "access_denied"))
        token = EC_KEY.sign(claims_for(h.now))
        self.assertIsNone(h.run(request(authorization=bearer(token))))


class CacheTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.h = Harness(self.mktemp())

    def test_repeat_is_a_cache_hit(self) -> None:
        """The second identical request is answered synchronously from the cache."""
        token = EC_KEY.sign(claims_for(self.h.now))
        self.assertIsNone(self.h.run(request(authorization=bearer(token))))
        self.assertIsNone(self.h.layer.on_request(request(authorization=bearer(token))))
        self.assertEqual(self.h.metric("stoad_auth_token_cache_total", result="hit"), 1)

    def test_cache_never_outlives_exp(self) -> None:
        """After exp (plus leeway), a cached token is refused."""
        token = EC_KEY.sign(claims_for(self.h.now, lifetime=60))
        self.assertIsNone(self.h.run(request(authorization=bearer(token))))
        self.h.clock.advance(61)
        self.assertIsNone(self.h.layer._cache.get("x", self.h.now))
        self.h.clock.advance(30)
        deny = self.h.run(request(authorization=bearer(token)))
        self.assertEqual((deny.status, deny.error), (401, "invalid_token"))

    def test_cache_is_bounded(self) -> None:
        """The verified-token cache holds at most token_cache_size entries."""
        h = Harness(self.mktemp(), "token_cache_size = 3")
        for i in range(6):
            token = EC_KEY.sign(claims_for(h.now, jti=f"j{i}"))
            self.assertIsNone(h.run(request(authorization=bearer(token))))
        self.assertEqual(len(h.layer._cache), 3)

    def test_route_checks_apply_on_cache_hit(self) -> None:
        """A cached token is still refused on a route its audience does not cover."""
        token = EC_KEY.sign(claims_for(self.h.now))
        self.assertIsNone(self.h.run(request(authorization=bearer(token))))
        other = request(path="/other", authorization=bearer(token),
                        route_obj=route("other", "/other"))
        self.assertEqual(self.h.run(other).status, 401)


class MetadataTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.h = Harness(self.mktemp(), routes=(route("api", "/api"), route("root", "/")))

    def test_route_metadata_document(self) -> None:
        """RFC 9728 metadata for /api: resource equals the route's public URL, header only."""
        status, headers, body = self.h.layer.serve_local(
            "GET", "/.well-known/oauth-protected-resource/api")
        document = json.loads(body)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(document["resource"], GATEWAY + "/api")
        self.assertEqual(document["authorization_servers"], ["https://as.test"])
        self.assertEqual(document["bearer_methods_supported"], ["header"])
        self.assertIs(document["tls_client_certificate_bound_access_tokens"], True)
        self.assertEqual(document["scopes_supported"], ["stoa:admin", "stoa:read", "stoa:write"])

    def test_root_route_metadata_at_bare_path(self) -> None:
        """A route at / is described at the bare well-known path."""
        status, _, body = self.h.layer.serve_local("GET", "/.well-known/oauth-protected-resource")
        self.assertEqual((status, json.loads(body)["resource"]), (200, GATEWAY))

    def test_unknown_paths_are_not_served(self) -> None:
        """Other well-known paths fall through (None); other methods get 405."""
        self.assertIsNone(self.h.layer.serve_local("GET", "/.well-known/other"))
        self.assertIsNone(self.h.layer.serve_local(
            "GET", "/.well-known/oauth-protected-resource/nope"))
        self.assertEqual(self.h.layer.serve_local(
            "POST", "/.well-known/oauth-protected-resource/api")[0], 405)

    def test_challenge_points_at_served_metadata(self) -> None:
        """The resource_metadata URL in challenges is one serve_local answers."""
        deny = self.h.run(request())
        url = challenge(deny).split('resource_metadata="')[1].rstrip('"')
        path = url[len(GATEWAY):]
        self.assertEqual(self.h.layer.serve_local("GET", path)[0], 200)


class ChainTests(SynchronousTestCase):
    def test_deny_passes_through_filter_chain(self) -> None:
        """Run inside the real FilterChain, a refusal keeps its status and names the layer."""
        from twisted.internet.defer import ensureDeferred

        from stoad.runtime.chain import FilterChain

        h = Harness(self.mktemp())
        chain = FilterChain([h.layer], h.clock)
        ctx = request(authorization=bearer(EC_KEY.sign(claims_for(h.now, peer=AGENT_2))))
        d = ensureDeferred(chain.run_request(ctx))
        h.stub.flush()
        failure = self.failureResultOf(d, Deny)
        self.assertEqual((failure.value.status, failure.value.layer), (401, "auth"))
        ok = request(authorization=bearer(EC_KEY.sign(claims_for(h.now, jti="b"))), peer=AGENT_1)
        d = ensureDeferred(chain.run_request(ok))
        h.stub.flush()
        self.successResultOf(d)
        self.assertEqual(ok.decisions[-1].outcome, "allow")



class LockFreeCounterTests(SynchronousTestCase):
    def test_exposition_matches_prometheus_clients_counter(self) -> None:
        """stoad_auth_decisions_total and stoad_auth_token_cache_total, kept without locks,
        expose the same samples as prometheus-client's Counter given the same increments
        (its _created timestamps aside, which the supervisor's merge drops anyway)."""
        from prometheus_client import CollectorRegistry, Counter, generate_latest

        from stoad.auth._layer import metrics_for

        mine = CollectorRegistry()
        ours = metrics_for(mine)
        registry = CollectorRegistry()
        decisions = Counter("stoad_auth_decisions", "Identity layer outcomes by result",
                            ["result"], registry=registry)
        cache = Counter("stoad_auth_token_cache", "Verified-token cache lookups", ["result"],
                        registry=registry)
        for name, theirs, result in [("cache", cache, "hit"), ("cache", cache, "miss"),
                                     ("cache", cache, "hit"), ("decisions", decisions, "allow"),
                                     ("decisions", decisions, "invalid_token")]:
            getattr(ours, name).labels(result).inc()
            theirs.labels(result).inc()

        def lines(text: bytes) -> list[str]:
            return sorted(line for line in text.decode().splitlines()
                          if ("stoad_auth_decisions" in line or "stoad_auth_token_cache" in line)
                          and "_created" not in line)

        expected = lines(generate_latest(registry))
        self.assertEqual(len([line for line in expected if not line.startswith("#")]), 4)
        self.assertEqual(lines(generate_latest(mine)), expected)
        self.assertEqual(mine.get_sample_value("stoad_auth_token_cache_total",
                                               {"result": "hit"}), 2.0)

    def test_a_counter_refuses_the_wrong_number_of_labels(self) -> None:
        """A lock-free counter, like prometheus-client's, refuses a label tuple of the wrong size."""
        from prometheus_client import CollectorRegistry

        from stoad.auth._layer import metrics_for

        with self.assertRaises(ValueError):
            metrics_for(CollectorRegistry()).decisions.labels("allow", "extra")
