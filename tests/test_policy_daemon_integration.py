"""
End to end: the real daemon with layers C{auth, policy}, a copy of the shipped policy directory
(etc/stoad/policies), and tokens from a real authorization server (oidc-provider).
"""

from __future__ import annotations

import json
import os
import shutil

from tests.support.daemon import REPO, StoadDaemon, gateway_config, metric_value
from tests.support.oidc import Resource, SharedAuthorizationServerCase
from tests.support.upstream import Upstream

SHIPPED_POLICIES = os.path.join(REPO, "etc", "stoad", "policies")
PUBLIC_URL = "https://gateway.stoad.test"
API = PUBLIC_URL + "/api"
MCP = PUBLIC_URL + "/mcp"
FORBIDDEN = {"error": "forbidden"}

# consumer ids as in the shipped policy data (consumers.json, pii_consent.json): acme-support
# may use api and mcp and has consented to personal data; globex-analytics may use api only
# and has not consented.
CONSUMERS = """\
[consumer:agent-1]
client_id = agent-1
consumer_id = acme-support
agent_id = agent-1
tier = enterprise
routes = *

[consumer:agent-2]
client_id = agent-2
consumer_id = globex-analytics
agent_id = agent-2
tier = free
routes = *
"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class PolicyGatewayCase(SharedAuthorizationServerCase):
    """One authorization server per class; a fresh daemon and policy copy per test."""

    TMP_PREFIX = "stoad-pol-"
    RESOURCES = (Resource(API, ttl=300), Resource(MCP, ttl=300))
    query: str | None = None
    api_route_extra: dict[str, str] = {}

    def setUp(self) -> None:
        super().setUp()
        self.policies = os.path.join(self.workdir, "policies")
        shutil.copytree(SHIPPED_POLICIES, self.policies)
        self.upstream = Upstream()
        self.addCleanup(self.upstream.stop)
        consumers = os.path.join(self.workdir, "consumers.ini")
        with open(consumers, "w", encoding="utf-8") as f:
            f.write(CONSUMERS)
        policy = {"directory": self.policies}
        if self.query is not None:
            policy["query"] = self.query
        text = gateway_config(
            self.pki,
            state_dir=os.path.join(self.workdir, "state"),
            admin_socket=os.path.join(self.workdir, "admin.sock"),
            routes={
                "api": {"prefix": "/api", "upstream": self.upstream.url, **self.api_route_extra},
                "mcp": {"prefix": "/mcp", "upstream": self.upstream.url},
            },
            layers=("auth", "policy"),
            server={"public_url": PUBLIC_URL},
            sections={
                "auth": {"issuer": self.server.issuer, "consumers": consumers,
                         "authorization_server_ca": self.pki["ca"]},
                "policy": policy,
            },
        )
        self.daemon = StoadDaemon(self.workdir, text, pki=self.pki)
        self.addCleanup(self.daemon.kill)
        self.daemon.start()

    def call(self, method: str, path: str, agent: str = "agent-1", scope: str = "stoa:read",
             resource: str = API) -> tuple[int, dict[str, str], bytes]:
        token = self.server.client_credentials(agent, resource, scope).access_token
        return self.daemon.request(method, path, headers=bearer(token), cert=agent)

    def log_contains(self, text: str) -> bool:
        return any(text in message for message in self.daemon.log_messages())


class DefaultPolicyTests(PolicyGatewayCase):
    def test_allowed_get_is_forwarded(self) -> None:
        """A registered consumer's GET with a stoa:read token passes auth and the shipped
        default policy and reaches the upstream."""
        status, _, body = self.call("GET", "/api/echo")
        self.assertEqual(status, 200, body)
        self.assertEqual(len(self.upstream.requests), 1)
        self.assertEqual(metric_value(self.daemon.metrics(), "stoad_policy_decisions_total",
                                      'result="allow"'), 1)

    def test_call_the_policy_denies_is_403_with_a_fixed_body(self) -> None:
        """DELETE with a stoa:write token passes the auth layer (write suffices there) but the
        default policy wants stoa:admin: 403 with the fixed body, the reason only in the log;
        the same call with an admin token is forwarded."""
        status, headers, body = self.call("DELETE", "/api/echo", scope="stoa:write")
        self.assertEqual(status, 403)
        self.assertEqual(json.loads(body), FORBIDDEN)
        self.assertNotIn(b"scope", body)
        self.assertNotIn("www-authenticate", headers)
        self.assertEqual(self.upstream.requests, [])
        self.assertTrue(self.log_contains("denied 403 by policy: token lacks scope stoa:admin"),
                        self.daemon.output()[-3000:])
        self.assertEqual(metric_value(self.daemon.metrics(), "stoad_policy_decisions_total",
                                      'result="deny"'), 1)
        status, _, _ = self.call("DELETE", "/api/echo", scope="stoa:admin")
        self.assertEqual(status, 200)

    def test_route_outside_the_consumers_allow_list_is_denied(self) -> None:
        """globex-analytics may use api only (policy data): its valid token for mcp is refused
        there with 403, while acme-support's is forwarded."""
        status, _, body = self.call("GET", "/mcp/echo", agent="agent-2", resource=MCP)
        self.assertEqual((status, json.loads(body)), (403, FORBIDDEN))
        self.assertTrue(self.log_contains(
            "denied 403 by policy: route mcp is not allowed for consumer globex-analytics"))
        status, _, _ = self.call("GET", "/mcp/echo", agent="agent-1", resource=MCP)
        self.assertEqual(status, 200)

    def test_broken_policy_and_sighup_keep_serving_the_old_decisions(self) -> None:
        """A policy file broken on disk and a SIGHUP: the reload fails (logged, counted), and
        the daemon keeps deciding with the old policy: the GET still passes, the DELETE with
        a write token is still refused."""
        with open(os.path.join(self.policies, "authz.rego"), "a", encoding="utf-8") as f:
            f.write("\nthis is not rego {\n")
        self.daemon.reload(expect_failure=True)
        self.assertTrue(self.log_contains("policy reload from"), self.daemon.output()[-3000:])
        self.assertEqual(self.call("GET", "/api/echo")[0], 200)
        status, _, body = self.call("DELETE", "/api/echo", scope="stoa:write")
        self.assertEqual((status, json.loads(body)), (403, FORBIDDEN))
        self.assertGreaterEqual(metric_value(self.daemon.metrics(), "stoad_policy_reloads_total",
                                             'outcome="failed"'), 1)
        self.assertEqual(self.daemon.status()["state"], "ready")

    def test_changed_policy_and_sighup_take_effect(self) -> None:
        """A valid change on disk (acme-support dropped from the policy data) and a SIGHUP:
        the new decisions apply at once, without a restart."""
        self.assertEqual(self.call("GET", "/api/echo")[0], 200)
        path = os.path.join(self.policies, "consumers.json")
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        del data["stoa"]["consumers"]["acme-support"]
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f)
        workers = self.daemon.worker_pids()
        self.daemon.reload()
        status, _, body = self.call("GET", "/api/echo")
        self.assertEqual((status, json.loads(body)), (403, FORBIDDEN))
        self.assertTrue(self.log_contains(
            "denied 403 by policy: consumer acme-support is not registered"))
        self.assertEqual(self.daemon.worker_pids(), workers)


class PiiConsentPolicyTests(PolicyGatewayCase):
    query = "data.stoa.examples.pii_consent.decision"
    api_route_extra = {"policy.case_insensitive_paths": "yes"}

    def test_pii_path_without_consent_is_denied(self) -> None:
        """globex-analytics (no recorded consent) is refused /api/pii/x but may GET other paths."""
        status, _, body = self.call("GET", "/api/pii/x", agent="agent-2")
        self.assertEqual((status, json.loads(body)), (403, FORBIDDEN))
        self.assertEqual(self.call("GET", "/api/items/x", agent="agent-2")[0], 200)
        self.assertEqual(len(self.upstream.requests), 1)

    def test_path_tricks_are_decided_like_the_plain_pii_path(self) -> None:
        """Encoded letters, doubled slashes, dot segments (plain and encoded) and case tricks
        on a case-insensitive route all reach the policy as /api/pii/x and are refused."""
        for path in ("/api/%70ii/x", "/api/%70%69%69/x", "/api//pii/x", "/api/a/../pii/x",
                     "/api/a/%2e%2e/pii/x", "/api/./pii/x", "/api/PII/x", "/api/%50Ii/x",
                     "/api/x/pii"):
            status, _, body = self.call("GET", path, agent="agent-2")
            self.assertEqual((path, status, json.loads(body)), (path, 403, FORBIDDEN))
        self.assertEqual(self.upstream.requests, [])

    def test_ambiguous_paths_are_refused_before_the_policy(self) -> None:
        """Path parameters, encoded slashes and backslashes, NUL and double encoding never
        reach the policy or the upstream: 400."""
        for path in ("/api/pii;x/x", "/api%2Fpii/x", "/api/%2fpii/x", "/api%5Cpii/x",
                     "/api/pii%00/x", "/api/%2570ii/x"):
            status, _, _ = self.call("GET", path, agent="agent-2")
            self.assertEqual((path, status), (path, 400))
        self.assertEqual(self.upstream.requests, [])

    def test_consented_consumer_reaches_the_normalised_pii_path(self) -> None:
        """acme-support (consent recorded) may GET /api/%70ii/x; the upstream receives the
        normalised path the policy decided on."""
        status, _, body = self.call("GET", "/api/%70ii/x", agent="agent-1")
        self.assertEqual(status, 200, body)
        self.assertTrue(json.loads(body)["path"].endswith("/pii/x"), body)
