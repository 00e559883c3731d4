"""
Two gateway instances (two workers each) sharing one real Redis: rate limits, MCP session
binding, token-reuse alerts and accepted tool definitions hold across all four workers; Redis
stopped mid-load gives the configured failure mode (audited, alerted), and Redis back resumes
service without a restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from typing import Any

from stoad.audit._chain import ChainReader, chain_directories, load_public_key
from tests.support.audit import write_key
from tests.support.daemon import StoadDaemon, gateway_config, metric_value
from tests.support.mcp_upstream import McpUpstream
from tests.support.oidc import Resource, SharedAuthorizationServerCase
from tests.support.redis import RedisServer, available
from tests.support.upstream import Upstream

PUBLIC_URL = "https://gateway.stoad.test"
API = PUBLIC_URL + "/api"
MCP = PUBLIC_URL + "/mcp"
TRIAL_LIMIT = 7
STOAD = os.path.join(os.path.dirname(sys.executable), "stoad")

# acme (agent-1) is enterprise; trial-co (agent-2) may make TRIAL_LIMIT calls a minute.
CONSUMERS = """\
[consumer:agent-1]
client_id = agent-1
consumer_id = acme
agent_id = agent-1
tier = enterprise
routes = *

[consumer:agent-2]
client_id = agent-2
consumer_id = trial-co
agent_id = agent-2
tier = trial
routes = *
"""

POLICY = """\
package stoa.authz

import rego.v1

limits := {"enterprise": 100000, "trial": TRIAL_LIMIT}

decision := {"allow": true, "reason": "within the tier's limit"} if {
	input.usage.calls_60s < limits[input.consumer.tier]
} else := {"allow": false, "status": 429, "reason": sprintf("%d calls in the last 60 s, limit %d", [input.usage.calls_60s, limits[input.consumer.tier]])} if {
	limits[input.consumer.tier]
} else := {"allow": false, "reason": "unknown tier"}
""".replace("TRIAL_LIMIT", str(TRIAL_LIMIT))

MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "Mcp-Protocol-Version": "2025-06-18"}
INITIALIZE = json.dumps({
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "raw", "version": "1"}}}).encode()
PING = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"}).encode()
TOOLS_LIST = json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}).encode()
ECHO = json.dumps({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                   "params": {"name": "echo", "arguments": {"text": "x"}}}).encode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TwoGatewaysCase(SharedAuthorizationServerCase):
    """One authorization server per class; per test a fresh Redis, upstreams and two gateways."""

    TMP_PREFIX = "stoad-state-"
    RESOURCES = (Resource(API, ttl=600), Resource(MCP, ttl=600))
    state_extra: dict[str, str] = {}
    on_tool_change = "block"

    def setUp(self) -> None:
        if not available():
            self.skipTest("redis-server is not installed (make redis-server)")
        super().setUp()
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.cleanup)
        self.upstream = Upstream()
        self.addCleanup(self.upstream.stop)
        self.mcp_upstream = McpUpstream().start()
        self.addCleanup(self.mcp_upstream.stop)
        policies = os.path.join(self.workdir, "policies")
        os.makedirs(policies)
        with open(os.path.join(policies, "authz.rego"), "w", encoding="utf-8") as f:
            f.write(POLICY)
        consumers = os.path.join(self.workdir, "consumers.ini")
        with open(consumers, "w", encoding="utf-8") as f:
            f.write(CONSUMERS)
        self.audit_key = write_key(os.path.join(self.workdir, "keys"))
        self.a = self.gateway("a", policies, consumers)
        self.b = self.gateway("b", policies, consumers)

    def gateway(self, name: str, policies: str, consumers: str) -> StoadDaemon:
        workdir = os.path.join(self.workdir, name)
        os.makedirs(workdir)
        scopes = {"audiences": MCP, "scopes.POST": "stoa:read", "scopes.GET": "stoa:read",
                  "scopes.DELETE": "stoa:read"}
        text = gateway_config(
            self.pki, state_dir=os.path.join(workdir, "state"),
            admin_socket=os.path.join(workdir, "admin.sock"),
            routes={"api": {"prefix": "/api", "upstream": self.upstream.url, "audiences": API},
                    "mcp": {"prefix": "/mcp", "upstream": self.mcp_upstream.origin, "mcp": "yes",
                            "mcp.tool_scopes": "* =", "mcp.on_tool_change": self.on_tool_change,
                            **scopes}},
            layers=("audit", "auth", "mcp", "policy"),
            server={"public_url": PUBLIC_URL, "workers": "2"},
            sections={
                "audit": {"directory": os.path.join(workdir, "audit"),
                          "signing_key": self.audit_key},
                "auth": {"issuer": self.server.issuer, "consumers": consumers,
                         "authorization_server_ca": self.pki["ca"]},
                "policy": {"directory": policies},
                "state": {"backend": "redis", "url": self.redis.url, "instances": "2",
                          "command_timeout": "300ms", "connect_timeout": "1s",
                          **self.state_extra},
            })
        daemon = StoadDaemon(workdir, text, pki=self.pki)
        self.addCleanup(daemon.kill)
        self.addCleanup(daemon.stop)
        daemon.start()
        return daemon

    def token(self, agent: str, resource: str = API) -> str:
        return self.server.client_credentials(agent, resource, "stoa:read").access_token

    def mcp_post(self, daemon: StoadDaemon, body: bytes, agent: str, token: str,
                 session: str | None = None) -> tuple[int, dict[str, str], bytes]:
        headers = {**MCP_HEADERS, **bearer(token)}
        if session is not None:
            headers["Mcp-Session-Id"] = session
        return daemon.request("POST", "/mcp", body=body, headers=headers, cert=agent)

    def audit_events(self, daemon: StoadDaemon) -> list[dict[str, Any]]:
        key = load_public_key(self.audit_key)
        events: list[dict[str, Any]] = []
        for directory in chain_directories(os.path.join(daemon.workdir, "audit")):
            events.extend(ChainReader(directory, key).records())
        return events


class RateLimitTests(TwoGatewaysCase):
    def test_trial_limit_holds_exactly_across_four_workers(self) -> None:
        """Calls of the trial consumer spread over both gateways (new connection each, so over
        their four workers), some at once: exactly TRIAL_LIMIT are forwarded, the rest get 429;
        an enterprise consumer is not affected. One Redis round trip per allowed request."""
        token = self.token("agent-2")
        statuses: list[int] = []
        lock = threading.Lock()

        def call(daemon: StoadDaemon) -> None:
            status, _, _ = daemon.request("GET", "/api/echo", headers=bearer(token),
                                          cert="agent-2")
            with lock:
                statuses.append(status)

        threads = [threading.Thread(target=call, args=(self.a if n % 2 else self.b,))
                   for n in range(3 * TRIAL_LIMIT)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual(sorted(statuses), [200] * TRIAL_LIMIT + [429] * (2 * TRIAL_LIMIT))
        self.assertEqual(len(self.upstream.requests), TRIAL_LIMIT)
        status, _, body = self.b.request("GET", "/api/echo", headers=bearer(token), cert="agent-2")
        self.assertEqual((status, json.loads(body)), (429, {"error": "rate_limited"}))
        self.assertEqual(self.redis.cli("EXISTS", "stoad:usage:trial-co"), "1")
        # The hot path: an allowed request is one round trip; the only other commands are one
        # token-reuse note per worker that verifies the token (cache misses).
        enterprise = bearer(self.token("agent-1"))
        before = metric_value(self.a.metrics(), "stoad_state_commands_total")
        for _ in range(10):
            self.assertEqual(self.a.request("GET", "/api/echo", headers=enterprise,
                                            cert="agent-1")[0], 200)
        spent = metric_value(self.a.metrics(), "stoad_state_commands_total") - before
        self.assertGreaterEqual(spent, 10)
        self.assertLessEqual(spent, 10 + 2)


class SessionAndTokenTests(TwoGatewaysCase):
    def test_session_opened_through_a_is_refused_to_another_agent_through_b(self) -> None:
        """agent-1 opens an MCP session through A; agent-2, with its own valid token and
        certificate, presents it through B: refused 403 and alerted on B (an instance and
        workers that never saw the session issued); agent-1 itself may use it through B."""
        token1, token2 = self.token("agent-1", MCP), self.token("agent-2", MCP)
        status, headers, _ = self.mcp_post(self.a, INITIALIZE, "agent-1", token1)
        self.assertEqual(status, 200)
        session = headers["mcp-session-id"]
        status, _, body = self.mcp_post(self.b, PING, "agent-2", token2, session)
        self.assertEqual(status, 403)
        self.assertEqual(json.loads(body)["error"]["code"], -32001)
        self.assertEqual(metric_value(self.b.metrics(), "stoad_mcp_session_hijack_attempts_total"),
                         1)
        self.b.wait_until(lambda: any(e.get("alert") == "mcp_session_hijack" or
                                      "mcp_session_hijack" in json.dumps(e)
                                      for e in self.audit_events(self.b)), 20, "hijack alert")
        self.assertEqual(self.mcp_post(self.b, PING, "agent-1", token1, session)[0], 200)

    def test_token_seen_with_two_certificates_on_two_instances_raises_the_alert(self) -> None:
        """agent-1's token used through A with its certificate, then through B with agent-2's
        certificate: B refuses it (binding) and raises the token-reuse alert, which needs A's
        observation."""
        token = self.token("agent-1")
        self.assertEqual(self.a.request("GET", "/api/echo", headers=bearer(token),
                                        cert="agent-1")[0], 200)
        self.assertEqual(self.b.request("GET", "/api/echo", headers=bearer(token),
                                        cert="agent-2")[0], 401)

        def reuse_alerts() -> float:
            return metric_value(self.b.metrics(),
                                "stoad_auth_token_reused_with_other_certificate_total")

        self.b.wait_until(lambda: reuse_alerts() == 1, 20, "token reuse alert on B")
        self.assertEqual(metric_value(self.a.metrics(),
                                      "stoad_auth_token_reused_with_other_certificate_total"), 0)


class ToolAcceptanceTests(TwoGatewaysCase):
    def test_tools_accept_on_one_instance_unblocks_the_tool_on_the_other(self) -> None:
        """A changed echo definition seen through A blocks echo on B too; `stoad tools accept`
        run with A's configuration unblocks it on B."""
        token = self.token("agent-1", MCP)
        _, headers, _ = self.mcp_post(self.a, INITIALIZE, "agent-1", token)
        session_a = headers["mcp-session-id"]
        self.assertEqual(self.mcp_post(self.a, TOOLS_LIST, "agent-1", token, session_a)[0], 200)
        _, headers, _ = self.mcp_post(self.b, INITIALIZE, "agent-1", token)
        session_b = headers["mcp-session-id"]
        status, _, body = self.mcp_post(self.b, ECHO, "agent-1", token, session_b)
        self.assertEqual(status, 200, body)  # B knows echo from A's tools/list
        urllib.request.urlopen(urllib.request.Request(
            self.mcp_upstream.origin + "/fixture/rug-pull", method="POST"), timeout=10).read()
        self.mcp_post(self.a, TOOLS_LIST, "agent-1", token, session_a)
        self.b.wait_until(lambda: self.mcp_post(self.b, ECHO, "agent-1", token, session_b)[0]
                          == 403, 20, "echo blocked on B")
        done = subprocess.run([STOAD, "tools", "accept", "--config", self.a.config_path, "mcp",
                               "echo"], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("for every instance", done.stdout)
        listed = subprocess.run([STOAD, "tools", "list", "--config", self.b.config_path, "--json"],
                                capture_output=True, text=True, timeout=60)
        rows = {row["tool"]: row["status"] for row in json.loads(listed.stdout)}
        self.assertEqual(rows["echo"], "accepted")
        status, _, body = self.mcp_post(self.b, ECHO, "agent-1", token, session_b)
        self.assertEqual(status, 200, body)


class PoisonedToolTests(TwoGatewaysCase):
    on_tool_change = "alert"  # a change alone would not block: only the poisoning flag does

    def test_poisoned_tool_seen_through_one_instance_is_blocked_on_the_other_until_accepted(self) -> None:
        """A rug pull that puts instructions to the model in echo's description, listed through A, blocks
        echo on B too although on_tool_change is alert; `stoad tools list` on B shows it FLAGGED and
        `stoad tools accept` unblocks it."""
        token = self.token("agent-1", MCP)
        _, headers, _ = self.mcp_post(self.a, INITIALIZE, "agent-1", token)
        session_a = headers["mcp-session-id"]
        self.assertEqual(self.mcp_post(self.a, TOOLS_LIST, "agent-1", token, session_a)[0], 200)
        _, headers, _ = self.mcp_post(self.b, INITIALIZE, "agent-1", token)
        session_b = headers["mcp-session-id"]
        status, _, body = self.mcp_post(self.b, ECHO, "agent-1", token, session_b)
        self.assertEqual(status, 200, body)
        urllib.request.urlopen(urllib.request.Request(
            self.mcp_upstream.origin + "/fixture/rug-pull", method="POST"), timeout=10).read()
        self.mcp_post(self.a, TOOLS_LIST, "agent-1", token, session_a)
        self.b.wait_until(lambda: self.mcp_post(self.b, ECHO, "agent-1", token, session_b)[0]
                          == 403, 20, "echo blocked on B")
        listed = subprocess.run([STOAD, "tools", "list", "--config", self.b.config_path, "--json"],
                                capture_output=True, text=True, timeout=60)
        rows = {row["tool"]: row for row in json.loads(listed.stdout)}
        self.assertEqual(rows["echo"]["status"], "flagged")
        self.assertTrue(rows["echo"]["flagged"])
        done = subprocess.run([STOAD, "tools", "accept", "--config", self.a.config_path, "mcp",
                               "echo"], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.b.wait_until(lambda: self.mcp_post(self.b, ECHO, "agent-1", token, session_b)[0]
                          == 200, 20, "echo allowed on B after accept")


class OutageTests(TwoGatewaysCase):
    def test_redis_stopped_fails_closed_audited_and_recovers_without_restart(self) -> None:
        """Redis stopped mid-load: rate-limited requests get 503 with the fixed body within the
        bounded wait, audited with the reason and alerted, /_status and /metrics show the
        backend down; Redis back: requests pass again on the same daemons."""
        token = self.token("agent-1")

        def call() -> tuple[int, bytes]:
            status, _, body = self.a.request("GET", "/api/echo", headers=bearer(token),
                                             cert="agent-1")
            return status, body

        self.assertEqual(call()[0], 200)
        self.redis.stop()
        status, body = self.a.wait_until(lambda: (lambda r: r if r[0] == 503 else None)(call()),
                                         20, "503 while Redis is down")
        self.assertEqual(json.loads(body), {"error": "temporarily_unavailable"})
        self.a.wait_until(lambda: not (self.a.status() or {}).get("state_backend", {}).get("up"),
                          20, "/_status shows the backend down")
        self.a.wait_until(lambda: metric_value(self.a.metrics(), "stoad_state_backend_up") == 0,
                          20, "metrics show the backend down")
        self.assertGreaterEqual(metric_value(self.a.metrics(), "stoad_state_failures_total",
                                             'feature="rate_limits",mode="closed"'), 1)

        def audited() -> list[dict[str, Any]]:
            return [e for e in self.audit_events(self.a)
                    if e.get("status") == 503 and "shared state unavailable" in
                    (e.get("reason") or "")]

        self.a.wait_until(audited, 20, "the 503 in the audit log with its reason")
        self.assertTrue(any("state_backend_unavailable" in json.dumps(e)
                            for e in self.audit_events(self.a)))
        self.redis.start()
        self.a.wait_until(lambda: call()[0] == 200, 30, "service back without a restart")
        self.a.wait_until(lambda: (self.a.status() or {}).get("state_backend", {}).get("up"),
                          20, "/_status shows the backend up")


class FailOpenTests(TwoGatewaysCase):
    state_extra = {"rate_limits_on_failure": "open"}

    def test_rate_limits_configured_open_serve_while_redis_is_down(self) -> None:
        """With rate_limits_on_failure = open, Redis down means requests are still forwarded
        (without usage counts) and the failure is counted as open."""
        token = self.token("agent-1")
        self.redis.stop()
        self.a.wait_until(lambda: self.a.request("GET", "/api/echo", headers=bearer(token),
                                                 cert="agent-1")[0] == 200, 20, "served")
        self.a.wait_until(lambda: metric_value(self.a.metrics(), "stoad_state_failures_total",
                                               'mode="open"') >= 1, 20, "open failure counted")
