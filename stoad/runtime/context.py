"""The per-request context and the per-connection peer identity.

Built once per request by the gateway. Each layer owns one typed value on it (the facts it
establishes); other layers and the audit record read those values, never write them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# ctx.extras key of the exchange's stoad.tracing.ExchangeTrace (present only with tracing on).
# Not a field: on Python 3.11 a 30th attribute no longer fits the shared-key instance dict, and
# cost every request ~0.7% more instructions (docs/performance.md), tracing on or off.
TRACE = "tracing"


@dataclass(frozen=True)
class PeerCertificate:
    """
    The verified client certificate of one TLS connection, computed once per connection.

    @ivar x5t_s256: the RFC 8705 thumbprint: base64url (no padding) of SHA-256 over the DER.
    """

    der: bytes
    x5t_s256: str
    subject: str
    issuer: str
    common_name: str | None
    san_dns: tuple[str, ...]
    san_uri: tuple[str, ...]
    serial: str
    not_after: str


@dataclass
class Identity:
    """Who is calling, as established by the token layer (filled in by stoad.auth)."""

    client_id: str
    subject: str
    consumer_id: str
    agent_id: str
    tier: str
    scopes: frozenset[str]
    claims: dict[str, Any]
    token_kind: str  # "jwt" or "opaque"
    token_hash: str  # sha256 of the token; never the token itself


@dataclass
class McpCall:
    """The MCP facts of one JSON-RPC request (filled in by stoad.mcp)."""

    method: str
    request_id: Any
    tool_name: str | None = None
    arguments: Any = None
    resource_uri: str | None = None
    prompt_name: str | None = None
    session_id: str | None = None
    traceparent: str | None = None  # W3C trace context from params._meta (MCP SEP-414)
    tracestate: str | None = None


@dataclass(frozen=True)
class GuardrailTrigger:
    """One guardrail hit: which detector, in which direction, what was done and how often."""

    detector: str
    direction: str  # "request" or "response"
    action: str
    count: int


@dataclass
class GuardrailFindings:
    """What the guardrails layer found in the request and the response (filled in by it)."""

    triggers: list[GuardrailTrigger] = field(default_factory=list)

    def add(self, trigger: GuardrailTrigger) -> None:
        self.triggers.append(trigger)


@dataclass(frozen=True)
class PolicyDecision:
    """The policy layer's decision on the request: result, policy version and reason."""

    result: str  # "policy:allow", "policy:deny" or "policy:error"
    version: str
    reason: str


@dataclass(frozen=True)
class LayerDecision:
    layer: str
    outcome: str  # "allow" or "deny"
    reason: str = ""


@dataclass
class RequestContext:
    """
    Everything known about one request. The gateway fills in the request itself; each layer
    owns one typed value (C{identity}: auth, C{mcp}: mcp, C{policy}: policy, C{guardrails}:
    guardrails) and the chain owns C{decisions} and C{timings}. The request bytes (body,
    headers) may be rewritten by layers before forwarding, and C{upstream_headers} collects the
    headers layers set for the upstream.
    """

    request_id: str
    started: float
    client_ip: str
    peer: PeerCertificate | None
    method: str
    raw_path: str
    path: str  # normalised path, what routing and policy see
    query: str
    headers: dict[str, list[str]]  # lower-cased names, as received (identity headers stripped)
    body: bytes | None  # None when the body is streamed rather than buffered
    body_size: int
    content_type: str | None
    route: Any = None  # stoad.config.Route
    identity: Identity | None = None
    mcp: McpCall | None = None
    policy: PolicyDecision | None = None
    guardrails: GuardrailFindings = field(default_factory=GuardrailFindings)
    decisions: list[LayerDecision] = field(default_factory=list)
    upstream_headers: dict[str, str] = field(default_factory=dict)  # added by layers for upstream
    status: int | None = None
    backend_status: int | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    outcome: str | None = None  # "allowed", "denied", "error"
    denied_by: str | None = None
    reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # Per-request state a layer keeps for its own later steps (the audit layer's decision event
    # id, the shared-store round the mcp and policy layers share), keyed by its owner. Facts
    # other layers act on belong in the typed values above.
    extras: dict[str, Any] = field(default_factory=dict)

    # Read-only views of the layers' values, under the names the audit record uses.
    @property
    def policy_result(self) -> str | None:
        return self.policy.result if self.policy is not None else None

    @property
    def policy_version(self) -> str | None:
        return self.policy.version if self.policy is not None else None

    @property
    def guardrail_triggers(self) -> list[GuardrailTrigger]:
        return self.guardrails.triggers

    def header(self, name: str) -> str | None:
        """The first value of a request header (name case-insensitive), or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None
