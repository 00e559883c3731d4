"""Evaluates the decision query and holds its result to the documented shape; all else denies.

A decision is C{true}/C{false} or C{{"allow": bool, "reason": str, "status"?: 403|429,
"obligations"?: {...}}}; any other value, an undefined result or an error is a deny.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import orjson

from stoad.policy._compile import CompiledPolicies, one_line
from stoad.policy._reads import CACHE_ENTRIES, CACHE_KEY_BYTES, cache_key, project

ALLOW = "opa:allow"
DENY = "opa:deny"
ERROR = "opa:error"
DENY_STATUSES = (403, 429)
_KEYS = frozenset({"allow", "reason", "status", "obligations"})
_OBLIGATIONS = frozenset({"upstream_headers"})
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Headers a policy may not set upstream: framing, hop-by-hop and those the gateway owns.
_RESERVED_HEADERS = frozenset({
    "connection", "content-length", "host", "keep-alive", "proxy-authenticate",
    "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    "authorization", "cookie", "forwarded",
})
_RESERVED_PREFIXES = ("x-forwarded-", "x-stoad-", "x-client-cert", "ssl-client")
MAX_REASON = 512


@dataclass(frozen=True)
class Decision:
    """
    One evaluated decision.

    @ivar result: L{ALLOW}, L{DENY} or L{ERROR} (C{ctx.policy_result}).
    @ivar status: the HTTP status of a refusal (403 or 429); 0 when allowed.
    @ivar reason: what the policy said, or what went wrong (logged and audited, never sent).
    @ivar upstream_headers: headers the policy asked to add to the upstream request.
    """

    result: str
    status: int
    reason: str
    upstream_headers: Mapping[str, str] = field(default_factory=dict)
    value: Any = None

    @property
    def allowed(self) -> bool:
        return self.result == ALLOW


def error(reason: str, value: Any = None) -> Decision:
    return Decision(ERROR, 403, reason, value=value)


def evaluation_query(query: str) -> str:
    """
    The query actually run: C{time.now_ns()} inside Rego is replaced by C{input.time.now_ns},
    which the layer fills from the injected clock, so a policy and its audit record agree on
    the time and tests can set it.
    """
    return f"{query} with time.now_ns as input.time.now_ns"


def decide(policies: CompiledPolicies, query: str, document: Mapping[str, Any]) -> Decision:
    """
    The decision of C{query} for one input document. When the compiled policies' input reads
    are known, it is evaluated on the document's projection on them, once per distinct
    projection (a decision depends on nothing else: the data is fixed per compiled engine).
    """
    reads = policies.reads
    if reads is not None and policies.decision_rule is not None and policies.query == query:
        try:
            key = cache_key(project(document, reads))
        except (TypeError, orjson.JSONEncodeError):
            return decide_uncached(policies, query, document)  # says why it cannot be encoded
        cache = policies.decisions
        found: Decision | None = cache.get(key)
        if found is None:
            found = _evaluate(policies, query, key.decode())
            # An error is decided again (and logged) every time; a large projection (MCP tool
            # arguments) is decided on it but not kept, so the cache's memory stays bounded.
            if found.result != ERROR and len(key) <= CACHE_KEY_BYTES:
                if len(cache) >= CACHE_ENTRIES:
                    cache.clear()
                cache[key] = found
        return found
    return decide_uncached(policies, query, document)


def decide_uncached(policies: CompiledPolicies, query: str, document: Mapping[str, Any]) -> Decision:
    """Evaluate C{query} for the whole input document on a clone of the compiled engine."""
    try:
        payload = orjson.dumps(document).decode()
    except (TypeError, orjson.JSONEncodeError) as e:
        return error(f"input document cannot be encoded: {e}")
    return _evaluate(policies, query, payload)


def _evaluate(policies: CompiledPolicies, query: str, payload: str) -> Decision:
    # A fresh clone per request: nothing (input, rule caches) carries over between requests.
    engine = policies.engine.clone()
    if policies.decision_rule is not None and policies.query == query:
        try:
            engine.set_input_json(payload)
            wrapped = engine.eval_rule(policies.decision_rule)
        except Exception as e:
            return error(f"evaluation failed: {one_line(e)}")
        if wrapped is None:
            return error("decision is undefined")
        if not isinstance(wrapped, dict) or set(wrapped) != {"value"}:
            return error("decision rule produced an unexpected value")
        return interpret(wrapped["value"])
    try:
        engine.set_input_json(payload)
        outcome = engine.eval_query(evaluation_query(query))
    except Exception as e:
        return error(f"evaluation failed: {one_line(e)}")
    results = outcome.get("result") if isinstance(outcome, dict) else None
    if not results:
        return error("decision is undefined")
    if len(results) != 1 or len(results[0].get("expressions", ())) != 1:
        return error("decision query produced more than one result")
    return interpret(results[0]["expressions"][0].get("value"))


def _status(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != int(value) or int(value) not in DENY_STATUSES:
        return None
    return int(value)


def interpret(value: Any) -> Decision:
    """Hold a decision value to the documented shape."""
    if value is True:
        return Decision(ALLOW, 0, "policy allowed", value=value)
    if value is False:
        return Decision(DENY, 403, "policy denied", value=value)
    if not isinstance(value, dict):
        return error(f"decision is a {type(value).__name__}, not a boolean or an object", value)
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        return error(f"decision has unknown keys: {', '.join(map(str, unknown))}", value)
    allow = value.get("allow")
    reason = value.get("reason")
    if not isinstance(allow, bool):
        return error("decision.allow is missing or not a boolean", value)
    if not isinstance(reason, str):
        return error("decision.reason is missing or not a string", value)
    reason = reason[:MAX_REASON]
    if "status" in value:
        status = _status(value["status"])
        if status is None:
            return error("decision.status must be 403 or 429", value)
        if allow:
            return error("decision.status given with allow true", value)
    else:
        status = 403
    headers: dict[str, str] = {}
    if "obligations" in value:
        obligations = value["obligations"]
        if not isinstance(obligations, dict):
            return error("decision.obligations is not an object", value)
        unsupported = sorted(set(obligations) - _OBLIGATIONS)
        if unsupported:
            # A gateway that cannot carry out an obligation must not let the request through.
            return error(f"unsupported obligations: {', '.join(map(str, unsupported))}", value)
        problem = _upstream_headers(obligations.get("upstream_headers", {}), headers)
        if problem:
            return error(problem, value)
    if not allow:
        return Decision(DENY, status, reason or "policy denied", value=value)
    return Decision(ALLOW, 0, reason, headers, value=value)


def _upstream_headers(raw: Any, out: dict[str, str]) -> str | None:
    if not isinstance(raw, dict):
        return "obligations.upstream_headers is not an object"
    for name, val in raw.items():
        low = name.lower()
        if not _HEADER_NAME.fullmatch(low):
            return f"obligations.upstream_headers: bad header name {name!r}"
        if low in _RESERVED_HEADERS or low.startswith(_RESERVED_PREFIXES):
            return f"obligations.upstream_headers: {low} may not be set by a policy"
        if not isinstance(val, str) or not _HEADER_VALUE.fullmatch(val):
            return f"obligations.upstream_headers: bad value for {low}"
        out[low] = val
    return None
