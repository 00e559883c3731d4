"""A real daemon with the audit and identity layers on local keys (no authorization server), for
black-box tests that need tokens: dev PKI, a dev issuer, a consumers file, an upstream.

    class MyTests(AuthGatewayCase):
        workers = 1
        def test_x(self): self.assertEqual(self.call("agent-1"), 200)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from stoad.audit import ChainReader, load_public_key
from stoad.dev.devpki import write_dev_pki
from stoad.dev.devtoken import DEV_ISSUER, mint_dev_token, write_dev_issuer
from tests.support.daemon import StoadDaemon, gateway_config
from tests.support.upstream import Upstream

STOAD = os.path.join(os.path.dirname(sys.executable), "stoad")
PUBLIC_URL = "https://gateway.test"
AUDIENCE = PUBLIC_URL + "/api"

CONSUMER = """
[consumer:{name}]
client_id = {name}
consumer_id = team-{name}
agent_id = {name}
tier = gold
routes = *
certificate_cn = {name}
"""


class AuthGatewayCase(SynchronousTestCase):
    """The audit and identity layers on local keys; one daemon per test (two workers unless a
    subclass says otherwise)."""

    workers = 2
    route_extra: dict[str, str] = {}

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="stoad-reload-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.pki = write_dev_pki(os.path.join(self.tmp, "pki"))
        self.issuer = write_dev_issuer(os.path.join(self.tmp, "pki"))
        self.upstream = Upstream()
        self.addCleanup(self.upstream.stop)
        self.consumers_path = os.path.join(self.tmp, "consumers.ini")
        self.write_consumers("agent-1", "agent-2")
        self.daemon = StoadDaemon(self.tmp, self.config(), pki=self.pki)
        self.addCleanup(self.daemon.kill)
        self.daemon.start()

    def write_consumers(self, *names: str) -> None:
        with open(self.consumers_path, "w", encoding="utf-8") as f:
            f.write("".join(CONSUMER.format(name=name) for name in names))

    def config(self, get_scope: str = "stoa:read", workers: int | None = None) -> str:
        return gateway_config(
            self.pki,
            state_dir=os.path.join(self.tmp, "state"),
            admin_socket=os.path.join(self.tmp, "admin.sock"),
            routes={"api": {"prefix": "/api", "upstream": self.upstream.url,
                            "scopes.GET": get_scope, **self.route_extra}},
            layers=("audit", "auth"),
            server={"workers": str(workers or self.workers), "public_url": PUBLIC_URL},
            sections={
                "auth": {"issuer": DEV_ISSUER, "jwks_file": self.issuer["issuer-jwks"],
                         "consumers": self.consumers_path, "algorithms": "ES256",
                         "extra_scopes": "stoa:audit"},
                "audit": {"signing_key": self.issuer["audit-key"],
                          "directory": os.path.join(self.tmp, "audit")},
                # Token-reuse alerts per worker are fine here; these tests are not about them.
                "state": {"per_worker_state_do_not_use": "yes"},
            },
        )

    def token(self, agent: str, scopes: tuple[str, ...] = ("stoa:read",)) -> str:
        return mint_dev_token(self.issuer["issuer-key"], self.pki[agent], agent, AUDIENCE, scopes)

    def call(self, agent: str, token: str | None = None) -> int:
        """One GET on a fresh connection (so successive calls spread over the workers)."""
        return self.send("GET", "/api/echo", agent, token)[0]

    def send(self, method: str, path: str, agent: str = "agent-1", token: str | None = None,
             headers: dict[str, str] | None = None, body: bytes | None = None,
             timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        """One request with a fresh token for C{agent} (or C{token}) on a fresh connection."""
        all_headers = {"Authorization": f"Bearer {token or self.token(agent)}", **(headers or {})}
        return self.daemon.request(method, path, body=body, headers=all_headers, cert=agent,
                                   timeout=timeout)

    def stoad_reload(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run([STOAD, "reload", "--config", self.daemon.config_path],
                              capture_output=True, text=True, timeout=120)

    def hashes(self) -> tuple[str, list[str]]:
        status = self.daemon.status()
        assert status is not None
        return status["config"], [w["config"] for w in status["workers"]]

    def audit_events(self, event_type: str) -> list[dict[str, Any]]:
        key = load_public_key(self.issuer["audit-key-pub"])
        found = []
        for index in range(self.workers):
            directory = os.path.join(self.tmp, "audit", f"worker-{index}")
            found += [r for r in ChainReader(directory, key).records()
                      if r.get("event_type") == event_type]
        return found

    def wait_for_audit(self, event_type: str, count: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.daemon.wait_until(
            lambda: (lambda found: found if len(found) >= count else None)(
                self.audit_events(event_type)), 30, f"{count} {event_type} audit events")
        return result


