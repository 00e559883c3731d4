"""Builds the policy input document from a request context: once per request, stable keys.

The shape is pinned by C{input.schema.json} (also printed in docs/policy.md).
"""

from __future__ import annotations

from typing import Any, Iterable
from urllib.parse import parse_qsl

from stoad.runtime.context import RequestContext
from stoad.runtime.methods import method_class

MAX_QUERY_FIELDS = 256


def now_ns(seconds: float) -> int:
    """Seconds from a reactor clock as integer nanoseconds, exact for whole seconds."""
    whole = int(seconds)
    return whole * 1_000_000_000 + round((seconds - whole) * 1_000_000_000)


def parse_query(query: str) -> dict[str, list[str]]:
    """
    Query parameters as name -> values in order. Raises C{ValueError} for bytes that are not
    UTF-8 or more than L{MAX_QUERY_FIELDS} fields: a policy must not see a guessed reading.
    """
    if not query:
        return {}
    out: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, errors="strict",
                                 max_num_fields=MAX_QUERY_FIELDS):
        out.setdefault(name, []).append(value)
    return out


def build_input(ctx: RequestContext, path: str, headers: Iterable[str], now_seconds: float,
                usage: dict[str, object] | None) -> dict[str, Any]:
    """The input document for C{ctx}; C{path} is the path the policy must see."""
    request: dict[str, Any] = {
        "method": method_class(ctx.method),  # HEAD is decided as GET
        "path": path,
        "raw_path": ctx.raw_path,
        "query": parse_query(ctx.query),
        "headers": {name: list(ctx.headers[name]) for name in headers if name in ctx.headers},
        "body_size": ctx.body_size,
        "content_type": ctx.content_type,
    }
    document: dict[str, Any] = {
        "request": request,
        "time": {"now_ns": now_ns(now_seconds)},
    }
    if ctx.route is not None:
        document["route"] = {"name": ctx.route.name, "prefix": ctx.route.prefix}
    peer = ctx.peer
    if peer is not None:
        document["client_certificate"] = {
            "subject": peer.subject,
            "issuer": peer.issuer,
            "common_name": peer.common_name,
            "san_dns": list(peer.san_dns),
            "san_uri": list(peer.san_uri),
            "serial": peer.serial,
            "not_after": peer.not_after,
            "x5t#S256": peer.x5t_s256,
        }
    identity = ctx.identity
    if identity is not None:
        document["token"] = {
            "kind": identity.token_kind,
            "client_id": identity.client_id,
            "subject": identity.subject,
            "scopes": sorted(identity.scopes),
            "claims": identity.claims,
        }
        document["consumer"] = {
            "id": identity.consumer_id,
            "agent_id": identity.agent_id,
            "tier": identity.tier,
        }
        if usage is not None:
            document["usage"] = usage
    mcp = ctx.mcp
    if mcp is not None:
        call: dict[str, Any] = {"method": mcp.method}
        for key in ("tool_name", "resource_uri", "prompt_name", "session_id"):
            value = getattr(mcp, key)
            if value is not None:
                call[key] = value
        if mcp.arguments is not None:
            call["arguments"] = mcp.arguments
        document["mcp"] = call
    return document
