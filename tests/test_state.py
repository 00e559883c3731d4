"""
The shared-state interface without Redis: the [state] section and its refusal of a per-process
store that would divide shared signals, the memory store, and what the layers do with a store
that cannot answer (fail closed with a fixed 503, or open; alerted either way).
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

import stoad.state
from stoad.mcp import McpLayer, McpSettings
from stoad.policy import PolicyLayer, PolicySettings
from stoad.runtime.context import McpCall
from stoad.runtime.deny import Deny
from stoad.runtime.layers import AlertBus, Services
from stoad.state import (
    MemoryState,
    RoundRequest,
    StateSettings,
    StateUnavailable,
    parse_redis_url,
)
from tests.support.policy import PolicyDirectory, identity, request, services
from tests.test_config import ConfigTestCase
from tests.test_mcp_layer import FakeMetrics, context

LIMIT_TWO = """package stoa.authz
import rego.v1
decision := {"allow": true, "reason": "under"} if {
	input.usage.calls_60s < 2
} else := {"allow": false, "status": 429, "reason": "over"}
"""


class StateConfigTests(ConfigTestCase):
    def config(self, state: str, workers: int = 1, layers: str = "auth") -> str:
        consumers = f"{self.tmp}/consumers.ini"
        with open(consumers, "w") as f:
            f.write("[consumer:a]\nclient_id = a\ntier = free\nroutes = *\n")
        text = self.text(extra=f"[state]\n{state}\n[auth]\nissuer = https://as.example\n"
                         f"consumers = {consumers}\n")
        text = text.replace("layers =\nno_security_layers_do_not_use = yes", f"layers = {layers}")
        return text.replace("[server]\n", f"[server]\nworkers = {workers}\n")

    def test_defaults_to_memory_failing_closed_for_limits_and_sessions(self) -> None:
        """No [state]: the memory store; rate limits and sessions fail closed, token-reuse
        alerts open."""
        config: Any = self.parse(self.config(""))
        self.assertEqual(config.state.backend, "memory")
        self.assertEqual(dict(config.state.failure_modes),
                         {"rate_limits": "closed", "sessions": "closed", "token_reuse": "open"})

    def test_memory_with_several_workers_and_token_reuse_is_an_error_saying_why(self) -> None:
        """workers = 2 with the auth layer (token-reuse alerts) and the memory store is refused
        with the reason: state would be divided between the processes."""
        [problem] = self.problems(self.config("backend = memory", workers=2))
        self.assertIn("[state] backend: memory keeps state in each worker process", problem)
        self.assertIn("[server] workers = 2", problem)
        self.assertIn("token-reuse alerts", problem)
        self.assertIn("backend = redis", problem)

    def test_declared_instances_count_too(self) -> None:
        """instances = 3 with one worker is refused the same way."""
        [problem] = self.problems(self.config("instances = 3"))
        self.assertIn("[state] instances = 3", problem)

    def test_redis_or_an_explicit_per_worker_opt_out_is_accepted(self) -> None:
        """Several workers are fine with Redis, or with the alarming opt-out."""
        config: Any = self.parse(self.config("backend = redis\nurl = redis://127.0.0.1:6390/2\n"
                                             "key_prefix = gw1:", workers=2))
        self.assertEqual((config.state.redis.host, config.state.redis.port, config.state.redis.db,
                          config.state.key_prefix), ("127.0.0.1", 6390, 2, "gw1:"))
        self.parse(self.config("per_worker_state_do_not_use = yes", workers=2))

    def test_memory_with_workers_but_no_shared_feature_is_fine(self) -> None:
        """No layer relying on shared state: several workers keep the memory store."""
        config: Any = self.parse(self.text().replace("[server]\n", "[server]\nworkers = 2\n"))
        self.assertEqual((config.server.workers, config.state.backend), (2, "memory"))

    def test_bad_redis_settings_are_each_reported(self) -> None:
        """A bad URL, TLS files with redis://, a certificate without its key, an unknown
        failure mode: every problem at once."""
        problems = self.problems(self.config(
            "backend = redis\nurl = http://x\nrate_limits_on_failure = maybe\n"))
        self.assertIn("[state] url: must start with redis:// or rediss://", problems)
        self.assertTrue(any(p.startswith("[state] rate_limits_on_failure") for p in problems))
        problems = self.problems(self.config(
            f"backend = redis\nurl = redis://h\nca = {self.pki['ca']}\n"
            f"client_certificate = {self.pki['agent-1']}\n"))
        self.assertIn("[state] client_certificate: client_certificate and client_key go together",
                      problems)
        self.assertIn("[state] url: ca and client_certificate need a rediss:// URL", problems)

    def test_url_for_memory_is_refused(self) -> None:
        """Redis keys with the memory backend are a mistake, not silently ignored."""
        self.assertIn("[state] url: only used with backend = redis",
                      self.problems(self.config("url = redis://h")))


class RedisUrlTests(SynchronousTestCase):
    def test_rediss_with_credentials_and_database(self) -> None:
        """rediss://user:pass@host:port/db is TLS with those credentials."""
        address = parse_redis_url("rediss://u:p%40ss@cache.internal:6380/3")
        self.assertEqual((address.tls, address.username, address.password, address.host,
                          address.port, address.db), (True, "u", "p@ss", "cache.internal", 6380, 3))

    def test_bad_database_is_refused(self) -> None:
        """A database that is not a number is an error."""
        self.assertRaises(ValueError, parse_redis_url, "redis://h/zero")


class MemoryStoreTests(SynchronousTestCase):
    def test_round_counts_and_release_uncounts(self) -> None:
        """Each round returns the calls before it and counts this one; releasing a call
        un-counts it."""
        store = MemoryState(clock=lambda: 10.0)
        first = store.request_round(RoundRequest(now=10.0, usage_consumer="c", usage_tool="t"))
        second = store.request_round(RoundRequest(now=10.0, usage_consumer="c", usage_tool="t"))
        self.assertEqual((first.usage.calls_60s, second.usage.calls_60s), (0, 1))
        self.assertEqual(second.usage.as_input()["tool"],
                         {"name": "t", "calls_60s": 1, "calls_3600s": 1})
        store.release_usage(second.reservation)
        third = store.request_round(RoundRequest(now=10.0, usage_consumer="c"))
        self.assertEqual(third.usage.calls_60s, 1)

    def test_session_is_claimed_then_refused_to_another_holder_until_it_expires(self) -> None:
        """An unknown session is claimed by its presenter; another holder is told the owner;
        after the TTL without use the binding is gone."""
        store = MemoryState(StateSettings(session_ttl=60.0))
        self.assertIsNone(store.request_round(RoundRequest(0, "s", "A")).session_owner)
        refused = store.request_round(RoundRequest(30, "s", "B", usage_consumer="b"))
        self.assertEqual((refused.session_owner, refused.usage), ("A", None))
        self.assertIsNone(store.request_round(RoundRequest(100, "s", "B")).session_owner)

    def test_token_with_second_certificate_reports_the_first(self) -> None:
        """The token tracker returns the earlier, different thumbprint."""
        store = MemoryState()
        self.assertIsNone(store.note_token_use("h", "T1", 1.0))
        self.assertEqual(store.note_token_use("h", "T2", 2.0), "T1")

    def test_public_surface(self) -> None:
        """stoad.state re-exports exactly its public names, and each exists."""
        for name in stoad.state.__all__:
            self.assertTrue(hasattr(stoad.state, name), name)
        self.assertIn("SharedState", stoad.state.__all__)


class DownStore(MemoryState):
    """A store whose every round fails as an unreachable Redis would (asynchronously)."""

    def __init__(self, **modes: str) -> None:
        defaults = {"rate_limits": "closed", "sessions": "closed", "token_reuse": "open"}
        super().__init__(StateSettings(failure_modes={**defaults, **modes}))

    def request_round(self, request: RoundRequest) -> Any:
        return fail(StateUnavailable("no answer from redis within 0.5s"))


class FailureModeTests(SynchronousTestCase):
    def policy(self, store: MemoryState) -> tuple[Any, Any, list[Any]]:
        directory = PolicyDirectory({"p.rego": LIMIT_TWO})
        self.addCleanup(directory.cleanup)
        svc, alerts = services(Clock())
        svc.state = store
        return PolicyLayer(PolicySettings(directory=directory.path), svc), svc, alerts

    def test_policy_denials_do_not_count(self) -> None:
        """Calls the policy refuses are released: after two allowed and several refused calls
        the consumer still has exactly two counted."""
        store = MemoryState(clock=lambda: 0.0)
        built, _, _ = self.policy(store)
        outcomes = []
        for _ in range(5):
            ctx = request(who=identity())
            try:
                built.on_request(ctx)
                outcomes.append("allowed")
            except Deny as deny:
                outcomes.append(deny.status)
            built.on_complete(ctx)
        self.assertEqual(outcomes, ["allowed", "allowed", 429, 429, 429])
        self.assertEqual(store.usage.view("acme-support", None, 0.0)["calls_60s"], 2)

    def test_rate_limits_fail_closed_with_fixed_503_and_alert(self) -> None:
        """The store down and rate_limits closed: 503 with the fixed body, reason logged for the
        audit record, a state_backend_unavailable alert."""
        built, _, alerts = self.policy(DownStore())
        result: Deferred[Any] = built.on_request(request(who=identity()))
        deny = self.failureResultOf(result, Deny).value
        self.assertEqual((deny.status, deny.error, deny.body),
                         (503, "state_unavailable", {"error": "temporarily_unavailable"}))
        self.assertIn("shared state unavailable for rate_limits", deny.reason)
        self.assertEqual([(a[0], a[3]["feature"], a[3]["failure_mode"]) for a in alerts],
                         [("state_backend_unavailable", "rate_limits", "closed")])

    def test_rate_limits_fail_open_when_configured(self) -> None:
        """rate_limits open: the policy decides with zero counts, alerted all the same."""
        built, _, alerts = self.policy(DownStore(rate_limits="open"))
        result = built.on_request(request(who=identity()))
        self.successResultOf(result)
        self.assertEqual(alerts[0][3]["failure_mode"], "open")

    def test_mcp_session_check_fails_closed(self) -> None:
        """A presented session with the store down and sessions closed: 503, fixed body."""
        alerts: list[str] = []
        bus = AlertBus()
        bus.subscribers.append(lambda kind, severity, ctx, **details: alerts.append(kind))
        services = Services(reactor=Clock(), metrics=FakeMetrics(), alerts=bus,
                            state_dir=self.mktemp(), state=DownStore())
        built = McpLayer(McpSettings(), services)
        ctx = context({"jsonrpc": "2.0", "id": 1, "method": "ping"}, who=identity("a"),
                      headers={"Mcp-Session-Id": "s"})
        deny = self.failureResultOf(built.on_request(ctx), Deny).value
        self.assertEqual((deny.status, json.dumps(deny.body)),
                         (503, '{"error": "temporarily_unavailable"}'))
        self.assertEqual(alerts, ["state_backend_unavailable"])
        self.assertIsInstance(ctx.mcp, McpCall)
