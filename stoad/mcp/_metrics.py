"""Prometheus counters of the MCP layer, registered once per registry (a reload reuses them)."""

from __future__ import annotations

import weakref
from typing import Any

from prometheus_client import CollectorRegistry, Counter

# Methods counted by name; anything else a client sends is "other", so a client cannot
# create unbounded label values.
KNOWN_METHODS = frozenset({
    "initialize", "ping", "server/discover", "tools/list", "tools/call", "resources/list",
    "resources/read", "resources/templates/list", "resources/subscribe", "prompts/list",
    "prompts/get", "completion/complete", "logging/setLevel", "notifications/initialized",
    "notifications/cancelled", "notifications/progress", "notifications/roots/list_changed",
    "rpc.response", "rpc.batch", "rpc.stream", "rpc.terminate",
})


class McpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "stoad_mcp_messages", "JSON-RPC messages seen on MCP routes",
            ("route", "method"), registry=registry)
        self.denials = Counter(
            "stoad_mcp_denials", "MCP requests refused by the mcp layer",
            ("route", "error"), registry=registry)
        self.tools_hidden = Counter(
            "stoad_mcp_tools_hidden", "tools removed from tools/list results",
            ("route",), registry=registry)
        self.tool_changes = Counter(
            "stoad_mcp_tool_definition_changes", "changed upstream tool definitions seen",
            ("route",), registry=registry)
        self.session_hijacks = Counter(
            "stoad_mcp_session_hijack_attempts",
            "session ids presented by a consumer other than their owner", ("route",),
            registry=registry)

    def method_label(self, method: str) -> str:
        return method if method in KNOWN_METHODS else "other"


_BY_REGISTRY: weakref.WeakKeyDictionary[Any, McpMetrics] = weakref.WeakKeyDictionary()


def metrics_for(registry: CollectorRegistry) -> McpMetrics:
    metrics = _BY_REGISTRY.get(registry)
    if metrics is None:
        metrics = _BY_REGISTRY[registry] = McpMetrics(registry)
    return metrics
