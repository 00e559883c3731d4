"""Builders the policy tests share: contexts, identities, services with a fresh registry."""

from __future__ import annotations

import calendar
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from twisted.internet.task import Clock

from stoad.config import Route
from stoad.policy import PolicyLayer, PolicyRouteOptions, PolicySettings
from stoad.proxy.pathnorm import normalise_path
from stoad.runtime.context import Identity, McpCall, PeerCertificate, RequestContext
from stoad.runtime.layers import AlertBus, Services

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED_POLICIES = os.path.join(REPO, "etc", "stoad", "policies")


@dataclass
class RegistryOnly:
    """What the layer needs of stoad.daemon.metrics.Metrics: a registry of its own."""

    registry: CollectorRegistry


def utc(text: str) -> float:
    """Seconds since the epoch for C{YYYY-MM-DDTHH:MM:SS} in UTC."""
    import time

    return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S")))


def services(clock: Clock | None = None) -> tuple[Services, list[tuple[Any, ...]]]:
    """Services on a fresh clock and registry, and the list every alert lands in."""
    alerts: list[tuple[Any, ...]] = []
    bus = AlertBus()
    bus.subscribers.append(lambda kind, severity, ctx, **details: alerts.append(
        (kind, severity, ctx, details)))
    return Services(reactor=clock or Clock(), metrics=RegistryOnly(CollectorRegistry()),
                    alerts=bus), alerts


def route(name: str = "api", prefix: str = "/api", case_insensitive: bool = False) -> Route:
    return Route(
        name=name, prefix=prefix, upstream="http://127.0.0.1:9", upstream_scheme="http",
        upstream_host="127.0.0.1", upstream_port=9, upstream_base_path="", connect_timeout=1.0,
        timeout=1.0, upstream_ca=None, upstream_client_certificate=None,
        upstream_client_key=None, public_url="https://localhost:8443" + prefix,
        layer_options={"policy": PolicyRouteOptions(case_insensitive_paths=case_insensitive)},
    )


def identity(consumer: str = "acme-support", tier: str = "enterprise",
             scopes: tuple[str, ...] = ("stoa:read", "stoa:write"), **claims: Any) -> Identity:
    return Identity(
        client_id=f"{consumer}-client", subject=f"agent-of-{consumer}", consumer_id=consumer,
        agent_id=f"agent-of-{consumer}", tier=tier, scopes=frozenset(scopes),
        claims={"sub": f"agent-of-{consumer}", "scope": " ".join(scopes), **claims},
        token_kind="jwt", token_hash="0" * 64,
    )


def peer() -> PeerCertificate:
    return PeerCertificate(
        der=b"\x30\x00", x5t_s256="x5tThumbprint", subject="CN=agent-1,O=Acme",
        issuer="CN=Stoad Test CA", common_name="agent-1", san_dns=("agent-1.example",),
        san_uri=("spiffe://acme/agent-1",), serial="0a1b", not_after="2030-01-01T00:00:00Z",
    )


def request(raw_path: str = "/api/items", method: str = "GET", query: str = "",
            headers: dict[str, list[str]] | None = None, who: Identity | None = None,
            on: Route | None = None, mcp: McpCall | None = None,
            cert: PeerCertificate | None = None) -> RequestContext:
    """A context as the HTTP front leaves it: the path normalised, the route chosen."""
    return RequestContext(
        request_id="req-1", started=0.0, client_ip="127.0.0.1", peer=cert, method=method,
        raw_path=raw_path, path=normalise_path(raw_path), query=query,
        headers=headers if headers is not None else {"user-agent": ["agent/1.0"]},
        body=b"", body_size=0, content_type=None, route=on or route(), identity=who, mcp=mcp,
    )


def layer(directory: str = SHIPPED_POLICIES, query: str = "data.stoa.authz.decision",
          clock: Clock | None = None, **settings: Any) -> tuple[PolicyLayer, Services,
                                                             list[tuple[Any, ...]]]:
    svc, alerts = services(clock)
    built = PolicyLayer(PolicySettings(directory=directory, query=query, **settings), svc)
    return built, svc, alerts


class PolicyDirectory:
    """A temporary policy directory a test writes files into."""

    def __init__(self, files: dict[str, str] | None = None, copy_shipped: bool = False) -> None:
        self.path = tempfile.mkdtemp(prefix="stoad-policy-")
        if copy_shipped:
            shutil.rmtree(self.path)
            shutil.copytree(SHIPPED_POLICIES, self.path)
        for name, text in (files or {}).items():
            self.write(name, text)

    def write(self, name: str, text: str) -> None:
        full = os.path.join(self.path, name)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)

    def remove(self, name: str) -> None:
        os.unlink(os.path.join(self.path, name))

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


ALLOW_ALL = """package stoa.authz
import rego.v1
decision := {"allow": true, "reason": "allow-all"}
"""

DENY_ALL = """package stoa.authz
import rego.v1
decision := {"allow": false, "reason": "deny-all"}
"""
