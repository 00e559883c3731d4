"""A real, signed audit trail with known contents, for the audit report's tests.

C{write_trail(directory)} writes it with the daemon's own chain writer and event builders (a
decision and a completion for a forwarded call, one record for a refused one, an incomplete
completion for a call whose worker died) and returns what it holds, so a test can compare the
report's charts against the numbers that went in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from stoad.audit._chain import load_private_key
from stoad.audit._event import (
    build_alert_event,
    build_completion_event,
    build_decision_event,
    build_request_event,
    incomplete_completion,
)
from stoad.audit._writer import AuditChainWriter
from stoad.runtime.context import TRACE, GuardrailFindings, GuardrailTrigger, Identity, LayerDecision
from tests.support.audit import context, write_key, write_public_key

NOW = 1_800_000_000.0  # the report's "now" in these tests
HOSTILE_TOOL = "<script>alert(1)</script><img src=http://attacker.invalid/x>"
RESPONSE_DENIAL_TRACE = "ab" * 16  # the trace of the call refused on its response


@dataclass
class Trail:
    directory: str  # the [audit] directory (worker-0 inside)
    key: str  # private key path; key + ".pub" is the public key
    consumers: dict[str, int] = field(default_factory=dict)  # consumer -> calls
    agents: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    denials_by_layer: dict[str, int] = field(default_factory=dict)
    denied_tools: dict[str, int] = field(default_factory=dict)
    guardrails: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)


# (hours before now, consumer, agent, tool, outcome, denied_by, guardrail detector or None,
#  forwarded: a decision and a completion rather than one record)
CALLS: list[tuple[float, str, str, str | None, str, str | None, str | None, bool]] = [
    (50.0, "acme-support", "agent-1", "search", "allowed", None, None, True),
    (49.0, "acme-support", "agent-1", "search", "allowed", None, "email", True),
    (30.0, "acme-support", "agent-2", "delete_all", "denied", "policy", None, False),
    (29.5, "acme-support", "agent-2", "delete_all", "denied", "policy", None, False),
    (20.0, "globex", "agent-3", "echo", "allowed", None, "secret", True),
    (12.0, "globex", "agent-3", None, "denied", "auth", None, False),
    (8.0, "globex", "agent-3", "echo", "denied", "guardrails", "secret", True),  # on the response
    (6.0, "acme-support", "agent-1", "search", "allowed", None, "email", True),
    (5.0, "initech", "agent-4", "export", "denied", "guardrails", "injection", False),
    (3.0, "acme-support", "agent-1", HOSTILE_TOOL, "denied", "mcp", None, False),
    (2.5, "initech", "agent-4", "export", "incomplete", None, None, True),
    (2.0, "globex", "agent-3", "echo", "error", None, None, True),
    (1.0, "acme-support", "agent-1", "search", "allowed", None, None, True),
    (200.0, "old-consumer", "agent-9", "search", "denied", "policy", None, False),  # outside 7d
]
ALERTS = [(4.0, "guardrail_triggered", "medium"), (3.5, "mcp_session_hijack", "high"),
          (1.5, "guardrail_triggered", "medium")]


def write_trail(base: str, now: float = NOW) -> Trail:
    """Write CALLS and ALERTS, timed back from C{now}, as one worker's signed chain under
    C{base}/audit."""
    key_path = write_key(os.path.join(base, "keys"))
    directory = os.path.join(base, "audit")
    writer = AuditChainWriter(os.path.join(directory, "worker-0"), load_private_key(key_path),
                              fsync_interval=0.005)
    writer.open()
    writer.start()
    trail = Trail(directory, key_path)
    events: list[tuple[float, dict[str, Any], Any]] = []
    for n, (hours, consumer, agent, tool, outcome, denied_by, detector, forwarded) in \
            enumerate(CALLS):
        started = now - hours * 3600
        # Forwarded calls meet the guardrails on the response, refused ones on the request.
        trigger = GuardrailTrigger(detector, "response" if forwarded else "request", "redact", 2)
        ctx = context(n, tool=tool, consumer=consumer, started=started, outcome=outcome,
                      denied_by=denied_by, status={"allowed": 200, "denied": 403}.get(outcome, 502),
                      reason=f"refused by {denied_by}" if denied_by else None,
                      guardrails=GuardrailFindings([trigger] if detector else []),
                      decisions=[LayerDecision("audit", "allow")])
        assert ctx.identity is not None
        ctx.identity = Identity(ctx.identity.client_id, "subject", consumer, agent, "gold",
                                frozenset(), {}, "jwt", "hash")
        if forwarded and outcome == "denied":
            ctx.extras[TRACE] = SimpleNamespace(trace_id=RESPONSE_DENIAL_TRACE)
        if not forwarded:
            event, source = build_request_event(ctx, started + 0.01, 0)
            events.append((started, event, source))
        else:
            # As in the daemon: the decision is made before the response (and its triggers).
            ctx.guardrails = GuardrailFindings()
            decision, source = build_decision_event(ctx, 0)
            events.append((started, decision, source))
            ctx.guardrails = GuardrailFindings([trigger] if detector else [])
            end = started + 0.01
            completion = (incomplete_completion(decision, end, 0, "worker died")
                          if outcome == "incomplete" else
                          build_completion_event(ctx, end, 0, decision["event_id"]))
            events.append((end, completion, None))
        if hours > 7 * 24:
            continue
        trail.consumers[consumer] = trail.consumers.get(consumer, 0) + 1
        trail.agents[agent] = trail.agents.get(agent, 0) + 1
        trail.outcomes[outcome] = trail.outcomes.get(outcome, 0) + 1
        if denied_by:
            trail.denials_by_layer[denied_by] = trail.denials_by_layer.get(denied_by, 0) + 1
            if tool:
                trail.denied_tools[tool] = trail.denied_tools.get(tool, 0) + 1
        if detector:
            trail.guardrails[detector] = trail.guardrails.get(detector, 0) + 2
    for hours, kind, severity in ALERTS:
        event = build_alert_event(kind, severity, None, {"route": "tools", "count": 1},
                                  now - hours * 3600, 0)
        events.append((now - hours * 3600, event, None))
        trail.alerts[kind] = trail.alerts.get(kind, 0) + 1
    for _, event, source in sorted(events, key=lambda item: item[0]):
        writer.append(event, source)
    if not writer.wait_durable(10.0):
        raise RuntimeError("the audit writer did not make the trail durable")
    writer.close(5.0)
    write_public_key(key_path)
    return trail
