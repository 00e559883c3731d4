"""Audit events: what one request (or one alert) leaves in the log, built from the RequestContext.

Only facts about the request go in: identifiers, decisions, sizes and a hash of the parameters.
Never a token, a header value, a body or a matched text.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import os
import re
import time
from typing import Any

import orjson

from stoad.audit._canonical import canonical
from stoad.runtime.context import TRACE, RequestContext

EVENT_TYPES = ("tool_call", "http_request", "alert", "key_rotation", "retention")
# A request leaves either one "request" record (it never reached an upstream: denied, not routed,
# failed before the forward) or a "decision" record, durable before the forward, and later a
# "completion" record naming the decision's event_id.
RECORD_TYPES = ("request", "decision", "completion")
INCOMPLETE = "incomplete"
_MAX_REASON = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Alert details are copied only as plain scalars with names and values from a narrow alphabet:
# a detector name, a count, a thumbprint pass; free text (which might be what was matched) does not.
_DETAIL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DETAIL_TEXT = re.compile(r"^[A-Za-z0-9_.:/+=\-]{0,128}$")
_CONTENT_WORDS = ("text", "match", "value", "body", "token", "secret", "password", "content",
                  "snippet", "excerpt", "sample", "payload", "header", "cookie", "email", "phone")
REDACTED = "[redacted]"

# A hash source is resolved on the writer thread, off the request path:
#   ("json", value): the MCP tool arguments (already parsed);
#   ("body", bytes, content_type): the buffered request body.
HashSource = tuple[Any, ...] | None


_RANDOM_POOL: list[bytes] = []


def _random16() -> bytes:
    # One getrandom() call per 256 ids: a syscall releases the GIL, and on a busy worker the
    # writer thread then holds the reactor thread up for far longer than the call itself.
    if not _RANDOM_POOL:
        block = os.urandom(16 * 256)
        _RANDOM_POOL.extend(block[i:i + 16] for i in range(0, len(block), 16))
    return _RANDOM_POOL.pop()


def new_event_id() -> str:
    """A random UUID (version 4) as text: unique across workers and restarts."""
    raw = bytearray(_random16())
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def rfc3339_ms(epoch: float) -> str:
    """C{2026-05-04T12:34:56.789Z} for a POSIX time (milliseconds truncated)."""
    millis = int(epoch * 1000)
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def parse_rfc3339_ms(text: str) -> float:
    """The POSIX time of a timestamp written by L{rfc3339_ms}."""
    base, _, frac = text.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return seconds + (int(frac) / 1000.0 if frac else 0.0)


def _ms(seconds: float) -> float | int:
    value = round(seconds * 1000.0, 3)
    return int(value) if value == int(value) else value


def _reason(text: str | None) -> str | None:
    if not text:
        return None
    text = _CONTROL.sub(" ", text)
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


def _outcome(ctx: RequestContext) -> str:
    if ctx.outcome in ("allowed", "denied", "error"):
        return ctx.outcome
    if ctx.denied_by:
        return "denied"
    if ctx.status is None or ctx.status >= 500:
        return "error"
    return "allowed"


def build_request_event(ctx: RequestContext, now: float, worker: int) -> tuple[dict[str, Any], HashSource]:
    """
    The event of one finished request, and the source of its C{parameters_hash} (resolved
    later by L{finish_event}). This runs on the request path, so it only copies references.
    """
    identity = ctx.identity
    mcp = ctx.mcp
    tool_name = mcp.tool_name if mcp is not None else None
    if mcp is not None and mcp.arguments is not None:
        source: HashSource = ("json", mcp.arguments)
    elif ctx.body:
        source = ("body", ctx.body, ctx.content_type)
    else:
        source = None
    route = ctx.route
    peer = ctx.peer
    event = {
        "event_id": new_event_id(),
        "event_type": "tool_call" if tool_name is not None else "http_request",
        "record_type": "request",
        "timestamp": ctx.started,
        "worker": worker,
        "request_id": ctx.request_id,
        "session_id": mcp.session_id if mcp is not None else None,
        "agent_id": identity.agent_id if identity is not None else None,
        "consumer_id": identity.consumer_id if identity is not None else None,
        "client_id": identity.client_id if identity is not None else None,
        "mcp_method": mcp.method if mcp is not None else None,
        "tool_name": tool_name,
        "route": route.name if route is not None else None,
        "method": ctx.method,
        "path": ctx.path,
        "parameters_hash": None,
        "outcome": _outcome(ctx),
        "denied_by": ctx.denied_by,
        "reason": ctx.reason,
        "decisions": [(d.layer, d.outcome) for d in ctx.decisions],
        "policy_result": ctx.policy_result,
        "policy_version": ctx.policy_version,
        "status": ctx.status,
        "backend_status": ctx.backend_status,
        "duration_ms": now - ctx.started,
        "guardrail_triggers": [(t.detector, t.direction, t.action, t.count)
                               for t in ctx.guardrail_triggers],
        "client_cert_x5t": peer.x5t_s256 if peer is not None else None,
        "client_ip": ctx.client_ip,
        "bytes_in": ctx.bytes_in,
        "bytes_out": ctx.bytes_out,
        "layer_ms": ctx.timings.copy() if ctx.timings else {},
        "trace_id": ctx.extras[TRACE].trace_id if TRACE in ctx.extras else None,
    }
    return event, source


def build_decision_event(ctx: RequestContext, worker: int) -> tuple[dict[str, Any], HashSource]:
    """
    The record made durable before a request is forwarded: who, what, which layers allowed it,
    the parameters hash and the policy result. What happens next is in its completion.
    """
    event, source = build_request_event(ctx, ctx.started, worker)
    event["record_type"] = "decision"
    event["outcome"] = "allowed"
    for late in ("denied_by", "reason", "status", "backend_status", "duration_ms", "bytes_out"):
        del event[late]
    return event, source


def build_completion_event(ctx: RequestContext, now: float, worker: int,
                           decision_id: str) -> dict[str, Any]:
    """The record of how a forwarded request ended, naming its decision by C{decision_event_id}."""
    identity = ctx.identity
    mcp = ctx.mcp
    tool_name = mcp.tool_name if mcp is not None else None
    return {
        "event_id": new_event_id(),
        "event_type": "tool_call" if tool_name is not None else "http_request",
        "record_type": "completion",
        "decision_event_id": decision_id,
        "timestamp": now,
        "worker": worker,
        "request_id": ctx.request_id,
        "session_id": mcp.session_id if mcp is not None else None,
        "agent_id": identity.agent_id if identity is not None else None,
        "consumer_id": identity.consumer_id if identity is not None else None,
        "tool_name": tool_name,
        "outcome": _outcome(ctx),
        "denied_by": ctx.denied_by,
        "reason": ctx.reason,
        "status": ctx.status,
        "backend_status": ctx.backend_status,
        "duration_ms": now - ctx.started,
        "guardrail_triggers": [(t.detector, t.direction, t.action, t.count)
                               for t in ctx.guardrail_triggers if t.direction != "request"],
        "bytes_in": ctx.bytes_in,
        "bytes_out": ctx.bytes_out,
    }


def incomplete_completion(decision: dict[str, Any], now: float, worker: int,
                          reason: str) -> dict[str, Any]:
    """
    The completion start-up appends for a decision whose completion never came (the worker died
    with the request in flight): outcome C{incomplete}, nothing claimed about how it ended.
    """
    return {
        "event_id": new_event_id(),
        "event_type": decision.get("event_type", "http_request"),
        "record_type": "completion",
        "decision_event_id": decision.get("event_id"),
        "timestamp": now,
        "worker": worker,
        "request_id": decision.get("request_id"),
        "session_id": decision.get("session_id"),
        "agent_id": decision.get("agent_id"),
        "consumer_id": decision.get("consumer_id"),
        "tool_name": decision.get("tool_name"),
        "outcome": INCOMPLETE,
        "denied_by": None,
        "reason": reason,
        "status": None,
        "backend_status": None,
        "duration_ms": None,
        "guardrail_triggers": [],
        "bytes_in": None,
        "bytes_out": None,
    }


class ParametersKey:
    """
    The secret that keys C{parameters_hash} (HMAC-SHA-256), so that equal arguments correlate
    within a deployment while a low-entropy value (an SSN, a yes/no flag) cannot be recovered
    from the log or from Kafka by hashing guesses. C{key_id} names it in every event.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the parameters key must hold at least 32 bytes")
        self._secret = secret
        self.key_id = hmac.new(secret, b"stoad parameters key id", hashlib.sha256).hexdigest()[:16]

    def digest(self, data: bytes) -> str:
        return "hmac-sha256:" + hmac.new(self._secret, data, hashlib.sha256).hexdigest()


def _canonical_bytes(source: tuple[Any, ...]) -> bytes:
    if source[0] == "json":
        try:
            return canonical(source[1])
        except ValueError:
            return orjson.dumps(source[1], default=str)
    body: bytes = source[1]
    content_type = (source[2] or "").split(";", 1)[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return canonical(orjson.loads(body))
        except (orjson.JSONDecodeError, ValueError):
            pass
    return body


CONFIG_EVENTS = ("config_reloaded", "config_reload_failed")


def build_config_event(kind: str, config_hash: str, previous_hash: str | None,
                       problems: list[str], now: float, worker: int) -> dict[str, Any]:
    """
    A C{config_reloaded} or C{config_reload_failed} event: which configuration (by hash) the
    worker serves after the attempt, which it served before, and why a reload was refused.
    """
    if kind not in CONFIG_EVENTS:
        raise ValueError(f"not a configuration event: {kind!r}")
    return {
        "event_id": new_event_id(),
        "event_type": kind,
        "timestamp": now,
        "worker": worker,
        "config_hash": config_hash,
        "previous_config_hash": previous_hash,
        # Operator-written problem lines (they name keys and files, never request data).
        "problems": [problem[:300] for problem in problems[:20]],
    }


def parameters_hash(source: HashSource, key: ParametersKey | None = None) -> str | None:
    """
    C{hmac-sha256:} + hex of HMAC(key, bytes), the bytes being: the RFC 8785 canonical JSON of
    the MCP tool arguments; else of the request body when it is JSON; else the raw body bytes.
    None without a buffered body. Without a key (tests, old tools) a plain C{sha256:} digest.
    """
    if source is None:
        return None
    data = _canonical_bytes(source)
    if key is None:
        return "sha256:" + hashlib.sha256(data).hexdigest()
    return key.digest(data)


def finish_event(event: dict[str, Any], source: HashSource,
                 key: ParametersKey | None = None) -> dict[str, Any]:
    """Turn a captured event into its final JSON shape (on the writer thread)."""
    event["timestamp"] = rfc3339_ms(event["timestamp"])
    if event["event_type"] not in ("tool_call", "http_request"):
        return event
    if "parameters_hash" in event:
        event["parameters_hash"] = parameters_hash(source, key)
        if key is not None:
            event["parameters_key_id"] = key.key_id
    if "duration_ms" in event and event["duration_ms"] is not None:
        event["duration_ms"] = _ms(event["duration_ms"])
    if "reason" in event:
        event["reason"] = _reason(event["reason"])
    if "decisions" in event:
        event["decisions"] = [{"layer": layer, "outcome": outcome}
                              for layer, outcome in event["decisions"]]
    event["guardrail_triggers"] = [
        {"detector": d, "direction": direction, "action": a, "count": c}
        for d, direction, a, c in event["guardrail_triggers"]
    ]
    if "layer_ms" in event:
        event["layer_ms"] = {name: _ms(seconds) for name, seconds in event["layer_ms"].items()}
    return event


def sanitize_details(details: dict[str, Any]) -> dict[str, Any]:
    """
    Alert details reduced to plain scalars: a key must look like an identifier and must not
    name content (C{matched_text}, C{token}, ...); a string value must be short and from a
    narrow alphabet. Anything else is replaced by C{"[redacted]"}, so a detail that might be
    what a guardrail matched never reaches the log.
    """
    clean: dict[str, Any] = {}
    for key, value in details.items():
        if not isinstance(key, str) or not _DETAIL_KEY.match(key):
            continue
        if any(word in key for word in _CONTENT_WORDS):
            clean[key] = REDACTED
            continue
        clean[key] = _scalar(value)
    return clean


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**53 - 1 else REDACTED
    if isinstance(value, float):
        if value != value or abs(value) >= 1e15:
            return REDACTED
        value = round(value, 3)
        return int(value) if value == int(value) else value
    if isinstance(value, str):
        return value if _DETAIL_TEXT.match(value) else REDACTED
    if isinstance(value, (list, tuple, frozenset, set)) and len(value) <= 16:
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
        return [_scalar(item) for item in items if not isinstance(item, (list, tuple, dict, set))]
    return REDACTED


def build_alert_event(kind: str, severity: str, ctx: RequestContext | None, details: dict[str, Any],
                      now: float, worker: int) -> dict[str, Any]:
    """An C{alert} event: what was signalled, how severe, and who was involved."""
    identity = ctx.identity if ctx is not None else None
    mcp = ctx.mcp if ctx is not None else None
    peer = ctx.peer if ctx is not None else None
    return {
        "event_id": new_event_id(),
        "event_type": "alert",
        "timestamp": now,
        "worker": worker,
        "alert": kind if _DETAIL_KEY.match(kind) else REDACTED,
        "severity": severity if _DETAIL_KEY.match(severity) else "warning",
        "details": sanitize_details(details),
        "request_id": ctx.request_id if ctx is not None else None,
        "session_id": mcp.session_id if mcp is not None else None,
        "agent_id": identity.agent_id if identity is not None else None,
        "consumer_id": identity.consumer_id if identity is not None else None,
        "client_id": identity.client_id if identity is not None else None,
        "tool_name": mcp.tool_name if mcp is not None else None,
        "route": ctx.route.name if ctx is not None and ctx.route is not None else None,
        "client_cert_x5t": peer.x5t_s256 if peer is not None else None,
        "client_ip": ctx.client_ip if ctx is not None else None,
    }
