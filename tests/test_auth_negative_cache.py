"""
The introspection negative cache on the shared store: an opaque token found inactive by one
verifier is refused by another without introspecting it, by hash only; a store that cannot
answer means introspecting (the cache fails open, introspection still decides).
"""

from __future__ import annotations

import hashlib
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred, fail
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from stoad.auth._jws import TokenRejected
from stoad.auth._verify import ClaimRules, OpaqueVerifier, VerifiedToken
from stoad.state import MemoryState, StateUnavailable
from tests.support.policy import services
from tests.test_auth_helpers import AGENT_1, GATEWAY, Harness, bearer, request, write
from tests.test_auth_helpers import ISSUER as AS_ISSUER

ISSUER = "https://as.example"
AUDIENCE = "https://gw.example/mcp"
RULES = ClaimRules(ISSUER, frozenset({AUDIENCE}), leeway=30.0, max_lifetime=3600.0)
ACTIVE_TOKEN = "opaque-token-active"
INACTIVE_TOKEN = "opaque-token-revoked"


class CountingIntrospector:
    """An authorization server that knows one active token and counts every question."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: list[str] = []

    async def introspect(self, token: str) -> dict[str, Any]:
        self.calls.append(token)
        if token != ACTIVE_TOKEN:
            return {"active": False}
        now = self.clock.seconds()
        return {"active": True, "iss": ISSUER, "aud": AUDIENCE, "client_id": "agent-1",
                "exp": now + 300, "iat": now, "scope": "mcp:read"}


class UnreachableStore(MemoryState):
    """A store whose negative-cache calls fail as RedisState's do while Redis is down."""

    def __init__(self, synchronous: bool) -> None:
        super().__init__()
        self.synchronous = synchronous
        self.writes = 0

    def token_known_inactive(self, token_hash: str, now: float) -> Any:
        if self.synchronous:
            raise StateUnavailable("not connected to redis")
        return fail(StateUnavailable("no answer from redis within 0.5s"))

    def note_token_inactive(self, token_hash: str, ttl: float, now: float) -> Any:
        self.writes += 1
        return fail(StateUnavailable("no answer from redis within 0.5s"))


class SlowStore(MemoryState):
    """A store whose lookup answers only when the test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[Deferred[bool]] = []

    def token_known_inactive(self, token_hash: str, now: float) -> Deferred[bool]:
        d: Deferred[bool] = Deferred()
        self.pending.append(d)
        return d


def token_hash(token: str) -> str:
    """The token-reuse signal's hash of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SharedNegativeCacheTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.store = MemoryState(clock=self.clock.seconds)
        self.first_as = CountingIntrospector(self.clock)
        self.second_as = CountingIntrospector(self.clock)
        self.first = OpaqueVerifier(self.first_as, self.clock, RULES, 5.0, self.store)
        self.second = OpaqueVerifier(self.second_as, self.clock, RULES, 5.0, self.store)

    def verify(self, verifier: OpaqueVerifier, token: str) -> Deferred[VerifiedToken]:
        return ensureDeferred(verifier.verify(token))

    def test_token_found_inactive_by_one_verifier_is_refused_by_another_without_introspection(
            self) -> None:
        """The second verifier refuses the token from the store; its introspector is never asked."""
        self.failureResultOf(self.verify(self.first, INACTIVE_TOKEN), TokenRejected)
        failure = self.failureResultOf(self.verify(self.second, INACTIVE_TOKEN), TokenRejected)
        self.assertEqual(self.first_as.calls, [INACTIVE_TOKEN])
        self.assertEqual(self.second_as.calls, [])
        self.assertIn("inactive", failure.value.reason)

    def test_store_holds_the_token_hash_never_the_token(self) -> None:
        """What the store keeps is the same hash the token-reuse signal uses."""
        self.failureResultOf(self.verify(self.first, INACTIVE_TOKEN), TokenRejected)
        self.assertEqual(list(self.store.inactive), [token_hash(INACTIVE_TOKEN)])
        self.assertNotIn(INACTIVE_TOKEN, repr(self.store.inactive))

    def test_second_refusal_comes_from_local_memory_not_the_store(self) -> None:
        """After one store hit the verifier's own memory answers: the store is asked once."""
        self.failureResultOf(self.verify(self.first, INACTIVE_TOKEN), TokenRejected)
        asked: list[str] = []
        lookup = self.store.token_known_inactive

        def counting(token_hash: str, now: float) -> bool:
            asked.append(token_hash)
            return lookup(token_hash, now)

        self.store.token_known_inactive = counting  # type: ignore[method-assign]
        for _ in range(3):
            self.failureResultOf(self.verify(self.second, INACTIVE_TOKEN), TokenRejected)
        self.assertEqual(len(asked), 1)

    def test_shared_refusal_ends_after_the_negative_ttl(self) -> None:
        """Once the TTL has passed, another verifier introspects the token again."""
        self.failureResultOf(self.verify(self.first, INACTIVE_TOKEN), TokenRejected)
        self.clock.advance(5.0)
        self.failureResultOf(self.verify(self.second, INACTIVE_TOKEN), TokenRejected)
        self.assertEqual(self.second_as.calls, [INACTIVE_TOKEN])

    def test_active_token_is_introspected_and_not_recorded(self) -> None:
        """An active token is verified by introspection and leaves nothing in the store."""
        verified = self.successResultOf(self.verify(self.second, ACTIVE_TOKEN))
        self.assertEqual(verified.client_id, "agent-1")
        self.assertEqual(self.second_as.calls, [ACTIVE_TOKEN])
        self.assertEqual(len(self.store.inactive), 0)

    def test_zero_ttl_turns_the_shared_cache_off(self) -> None:
        """introspection_negative_ttl = 0 neither reads nor writes the store."""
        first = OpaqueVerifier(self.first_as, self.clock, RULES, 0.0, self.store)
        second = OpaqueVerifier(self.second_as, self.clock, RULES, 0.0, self.store)
        self.failureResultOf(self.verify(first, INACTIVE_TOKEN), TokenRejected)
        self.failureResultOf(self.verify(second, INACTIVE_TOKEN), TokenRejected)
        self.assertEqual(len(self.store.inactive), 0)
        self.assertEqual(self.second_as.calls, [INACTIVE_TOKEN])


class UnreachableStoreTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.introspector = CountingIntrospector(self.clock)

    def test_store_failing_at_once_means_introspecting(self) -> None:
        """A store that raises (not connected) is a miss: introspection decides, both ways."""
        for synchronous in (True, False):
            store = UnreachableStore(synchronous)
            verifier = OpaqueVerifier(self.introspector, self.clock, RULES, 5.0, store)
            verified = self.successResultOf(ensureDeferred(verifier.verify(ACTIVE_TOKEN)))
            self.assertEqual(verified.client_id, "agent-1")
            self.failureResultOf(ensureDeferred(verifier.verify(INACTIVE_TOKEN)), TokenRejected)
            self.assertEqual(store.writes, 1)
        self.assertEqual(self.introspector.calls, [ACTIVE_TOKEN, INACTIVE_TOKEN] * 2)

    def test_introspection_waits_for_the_store_lookup(self) -> None:
        """The one lookup comes before introspection; its answer decides whether to call it."""
        store = SlowStore()
        verifier = OpaqueVerifier(self.introspector, self.clock, RULES, 5.0, store)
        verified = self.verify_pending(verifier, store, ACTIVE_TOKEN, answer=False)
        self.assertEqual(self.successResultOf(verified).client_id, "agent-1")
        refused = self.verify_pending(verifier, store, INACTIVE_TOKEN, answer=True)
        self.failureResultOf(refused, TokenRejected)
        self.assertEqual(self.introspector.calls, [ACTIVE_TOKEN])

    def verify_pending(self, verifier: OpaqueVerifier, store: SlowStore, token: str,
                       answer: bool) -> Deferred[VerifiedToken]:
        d = ensureDeferred(verifier.verify(token))
        self.assertNoResult(d)
        self.assertNotIn(token, self.introspector.calls)
        store.pending.pop().callback(answer)
        return d


class MemoryStoreTests(SynchronousTestCase):
    def test_memory_store_records_inactive_hashes_with_a_ttl_and_a_bound(self) -> None:
        """The memory store answers from a bounded table whose entries expire."""
        store = MemoryState(clock=lambda: 0.0)
        store.max_inactive = 2
        for n in range(3):
            store.note_token_inactive(f"h{n}", 5.0, 100.0)
        self.assertFalse(store.token_known_inactive("h0", 100.0))
        self.assertTrue(store.token_known_inactive("h2", 104.9))
        self.assertFalse(store.token_known_inactive("h2", 105.0))
        store.note_token_inactive("h9", 0.0, 100.0)
        self.assertFalse(store.token_known_inactive("h9", 100.0))


class IdentityLayerWiringTests(SynchronousTestCase):
    """The auth plugin hands the verifier the store it finds in C{Services.state}."""

    def setUp(self) -> None:
        self.store = MemoryState()
        self.workers: list[Harness] = []
        for _ in range(2):
            tmp = self.mktemp()
            secret = write(tmp, "secret", "s3cret\n")
            shared, _ = services()
            shared.state = self.store
            self.workers.append(Harness(tmp, f"introspection = client_secret_basic\n"
                                             f"client_id = stoad\nclient_secret_file = {secret}",
                                        services=shared))
        self.active = "opaque-token-active_1"
        for h in self.workers:
            h.server.introspection[self.active] = {
                "active": True, "iss": AS_ISSUER, "client_id": "agent-1", "sub": "user-7",
                "aud": GATEWAY + "/api", "scope": "stoa:read", "exp": int(h.now) + 600,
                "iat": int(h.now), "cnf": {"x5t#S256": AGENT_1.x5t_s256}}

    def asked(self, worker: int) -> list[str]:
        return [form["token"][0] for form, _ in self.workers[worker].server.introspection_requests]

    def test_token_refused_on_one_worker_is_refused_on_another_without_introspection(
            self) -> None:
        """Two identity layers (two workers) on one store: the second refuses the token the
        first found inactive, 401, and never asks its authorization server."""
        for h in self.workers:
            self.assertEqual(h.run(request(authorization=bearer("revoked-token"))).status, 401)
        self.assertEqual(self.asked(0).count("revoked-token"), 1)
        self.assertNotIn("revoked-token", self.asked(1))

    def test_cached_token_does_not_touch_the_store(self) -> None:
        """A verified token served from the token cache makes no negative-cache lookup."""
        lookups: list[str] = []
        lookup = self.store.token_known_inactive

        def counting(token_hash: str, now: float) -> bool:
            lookups.append(token_hash)
            return lookup(token_hash, now)

        self.store.token_known_inactive = counting  # type: ignore[method-assign]
        h = self.workers[0]
        for _ in range(3):
            self.assertIsNone(h.run(request(authorization=bearer(self.active))))
        self.assertEqual(lookups, [token_hash(self.active)])
        self.assertEqual(self.asked(0), [self.active])


class SingleFlightTests(SynchronousTestCase):
    def test_concurrent_verifications_share_one_lookup_and_one_refusal(self) -> None:
        """Ten concurrent verifications of one token make one store lookup; when it says
        inactive, all ten are refused and nobody introspects."""
        clock = Clock()
        introspector = CountingIntrospector(clock)
        store = SlowStore()
        verifier = OpaqueVerifier(introspector, clock, RULES, 5.0, store)
        pending = [ensureDeferred(verifier.verify(INACTIVE_TOKEN)) for _ in range(10)]
        self.assertEqual(len(store.pending), 1)
        store.pending.pop().callback(True)
        for d in pending:
            self.failureResultOf(d, TokenRejected)
        self.assertEqual(introspector.calls, [])
