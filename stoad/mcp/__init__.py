"""MCP-aware gatekeeping: JSON-RPC parsing, per-tool scopes, tools/list filtering, tool drift.

The daemon loads the layer through C{stoad.mcp.plugin.PLUGIN}; operators use C{stoad tools}.
"""

from stoad.mcp._config import McpRouteOptions, McpSettings, parse_route, parse_settings
from stoad.mcp._layer import JsonToolsListFilter, McpLayer, SseToolsListFilter, consumer_of
from stoad.mcp._tools import ToolDefinitionStore, ToolRecord, definition_hash
from stoad.state._sessions import SessionBindings

__all__ = [
    "JsonToolsListFilter",
    "McpLayer",
    "McpRouteOptions",
    "McpSettings",
    "SessionBindings",
    "SseToolsListFilter",
    "ToolDefinitionStore",
    "ToolRecord",
    "consumer_of",
    "definition_hash",
    "parse_route",
    "parse_settings",
]
