"""The shipped example policies through the real layer: clock control, tier limits, consent,
and the path tricks that must not get past a /pii/ rule."""

from __future__ import annotations

import json
import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from stoad.auth._settings import BUILTIN_SCOPES
from stoad.policy import ALLOW
from stoad.policy._regotest import run_rego_tests
from stoad.proxy.pathnorm import normalise_path
from stoad.runtime.deny import Deny
from tests.support.policy import SHIPPED_POLICIES, identity, layer, request, route, utc

BUSINESS_HOURS = "data.stoa.examples.business_hours.decision"
TIER_LIMITS = "data.stoa.examples.tier_limits.decision"
PII_CONSENT = "data.stoa.examples.pii_consent.decision"


class ShippedRegoTests(SynchronousTestCase):
    def test_shipped_rego_tests_pass(self) -> None:
        """Every test_* rule shipped in etc/stoad/policies passes (there are some)."""
        results = run_rego_tests(SHIPPED_POLICIES)
        self.assertGreaterEqual(len(results), 20)
        self.assertEqual([r.name for r in results if r.outcome != "pass"], [])


class DefaultPolicyScopeNameTests(SynchronousTestCase):
    def test_method_scopes_are_scopes_the_auth_layer_issues(self) -> None:
        """Every scope the shipped default policy requires for an HTTP method is one of the
        auth layer's own scope names (stoa:read/write/admin), so a real token can hold it."""
        with open(os.path.join(SHIPPED_POLICIES, "consumers.json"), encoding="utf-8") as f:
            method_scopes = json.load(f)["stoa"]["method_scopes"]
        self.assertLessEqual(set(method_scopes.values()), set(BUILTIN_SCOPES))

    def test_get_with_the_auth_layers_read_scope_is_allowed(self) -> None:
        """A registered consumer whose token holds stoa:read, as the auth layer reports it,
        may GET a route on its allow-list; without it the GET is refused."""
        built, _, _ = layer()
        ctx = request(who=identity(scopes=("stoa:read",)))
        built.on_request(ctx)
        self.assertEqual(ctx.policy_result, ALLOW)
        with self.assertRaises(Deny) as caught:
            built.on_request(request(who=identity(scopes=("read",))))
        self.assertEqual(caught.exception.reason, "token lacks scope stoa:read")


class BusinessHoursTests(SynchronousTestCase):
    def outcome(self, when: str, method: str = "GET") -> str:
        clock = Clock()
        clock.advance(utc(when))
        built, _, _ = layer(query=BUSINESS_HOURS, clock=clock)
        ctx = request(method=method, who=identity())
        try:
            built.on_request(ctx)
        except Deny as deny:
            return f"{deny.status} {deny.reason}"
        return "allowed"

    def test_get_at_0759_utc_is_denied(self) -> None:
        """GET one minute before opening is refused."""
        self.assertEqual(self.outcome("2026-03-02T07:59:00"),
                         "403 GET outside business hours (hour 7 UTC)")

    def test_get_at_0759_59_utc_is_denied(self) -> None:
        """GET in the last second before opening is refused."""
        self.assertTrue(self.outcome("2026-03-02T07:59:59").startswith("403"))

    def test_get_at_0800_utc_is_allowed(self) -> None:
        """GET at opening time is allowed."""
        self.assertEqual(self.outcome("2026-03-02T08:00:00"), "allowed")

    def test_get_at_1759_utc_is_allowed(self) -> None:
        """GET one minute before closing is allowed."""
        self.assertEqual(self.outcome("2026-03-02T17:59:00"), "allowed")

    def test_get_at_1800_utc_is_denied(self) -> None:
        """GET at closing time is refused: the interval is 08:00 to 18:00, 18:00 excluded."""
        self.assertEqual(self.outcome("2026-03-02T18:00:00"),
                         "403 GET outside business hours (hour 18 UTC)")

    def test_post_outside_hours_follows_default_policy(self) -> None:
        """The example restricts GET only; a POST at night is decided by the default policy."""
        self.assertEqual(self.outcome("2026-03-02T03:00:00", method="POST"), "allowed")


class TierLimitTests(SynchronousTestCase):
    def test_enterprise_limit_boundary(self) -> None:
        """An enterprise consumer gets 10,000 calls per 60 s; the 10,001st is a 429."""
        clock = Clock()
        clock.advance(utc("2026-03-02T10:00:00"))
        built, _, _ = layer(query=TIER_LIMITS, clock=clock)
        who = identity(tier="enterprise")
        for _ in range(10_000):
            built.on_request(request(who=who))
        self.assertEqual(built.store.usage.view("acme-support", None, clock.seconds())["calls_60s"],
                         10_000)
        with self.assertRaises(Deny) as caught:
            built.on_request(request(who=who))
        self.assertEqual((caught.exception.status, caught.exception.error), (429, "rate_limited"))
        self.assertIn("10000 calls in the last 60 s, limit 10000", caught.exception.reason)

    def test_window_slides(self) -> None:
        """Once 60 s have passed the old calls no longer count."""
        clock = Clock()
        clock.advance(utc("2026-03-02T10:00:00"))
        built, _, _ = layer(query=TIER_LIMITS, clock=clock)
        who = identity("globex-analytics", tier="free", scopes=("stoa:read",))
        for _ in range(60):
            built.on_request(request(who=who))
        self.assertRaises(Deny, built.on_request, request(who=who))
        clock.advance(59)
        self.assertRaises(Deny, built.on_request, request(who=who))
        clock.advance(1)
        ctx = request(who=who)
        built.on_request(ctx)
        self.assertEqual(ctx.policy_result, ALLOW)

    def test_denied_calls_do_not_count(self) -> None:
        """Refused calls are not counted: a throttled client recovers when the window slides."""
        clock = Clock()
        built, _, _ = layer(query=TIER_LIMITS, clock=clock)
        who = identity("globex-analytics", tier="free", scopes=("stoa:read",))
        for _ in range(60):
            built.on_request(request(who=who))
        for _ in range(100):
            self.assertRaises(Deny, built.on_request, request(who=who))
        self.assertEqual(built.store.usage.view("globex-analytics", None, clock.seconds())["calls_60s"],
                         60)

    def test_unknown_tier_is_denied(self) -> None:
        """A tier without a limit in data is refused with 403, not let through."""
        built, _, _ = layer(query=TIER_LIMITS)
        with self.assertRaises(Deny) as caught:
            built.on_request(request(who=identity(tier="platinum")))
        self.assertEqual(caught.exception.status, 403)


class PiiConsentTests(SynchronousTestCase):
    def outcome(self, raw_path: str, consumer: str = "globex-analytics",
                case_insensitive: bool = False) -> str:
        built, _, _ = layer(query=PII_CONSENT)
        ctx = request(raw_path, who=identity(consumer, scopes=("stoa:read",)),
                      on=route(case_insensitive=case_insensitive))
        try:
            built.on_request(ctx)
        except Deny as deny:
            return f"{deny.status}"
        return "allowed"

    def test_pii_without_consent_is_denied(self) -> None:
        """/api/pii/7 is refused for a consumer whose consent is not granted."""
        self.assertEqual(self.outcome("/api/pii/7"), "403")

    def test_pii_with_consent_is_allowed(self) -> None:
        """acme-support has consent recorded and may read /api/pii/7."""
        self.assertEqual(self.outcome("/api/pii/7", consumer="acme-support"), "allowed")

    def test_other_paths_are_allowed(self) -> None:
        """Paths without a /pii/ segment follow the default policy."""
        self.assertEqual(self.outcome("/api/items/7"), "allowed")

    def test_percent_encoded_letter_does_not_bypass(self) -> None:
        """/api/%70ii/7 is /api/pii/7 to the policy."""
        self.assertEqual(self.outcome("/api/%70ii/7"), "403")

    def test_double_slash_does_not_bypass(self) -> None:
        """/api//pii/7 is /api/pii/7 to the policy."""
        self.assertEqual(self.outcome("/api//pii/7"), "403")

    def test_dot_dot_does_not_bypass(self) -> None:
        """/api/a/../pii/7 and /api/a/%2e%2e/pii/7 are /api/pii/7 to the policy."""
        self.assertEqual(self.outcome("/api/a/../pii/7"), "403")
        self.assertEqual(self.outcome("/api/a/%2e%2e/pii/7"), "403")

    def test_upper_case_does_not_bypass_on_case_insensitive_route(self) -> None:
        """On a case-insensitive route /api/PII/7 and /api/%50Ii/7 are /api/pii/7."""
        self.assertEqual(self.outcome("/api/PII/7", case_insensitive=True), "403")
        self.assertEqual(self.outcome("/api/%50Ii/7", case_insensitive=True), "403")

    def test_path_parameter_is_refused_before_policy(self) -> None:
        """/api/pii;x/7 never reaches the policy: normalisation refuses it (the front says 400)."""
        with self.assertRaises(ValueError):
            normalise_path("/api/pii;x/7")

    def test_encoded_slash_is_refused_before_policy(self) -> None:
        """/api%2Fpii/7 never reaches the policy either."""
        with self.assertRaises(ValueError):
            normalise_path("/api%2Fpii/7")
