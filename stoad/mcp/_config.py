"""The MCP layer's settings: the C{[mcp]} section and the C{mcp.*} keys of each route.

Parsed once into frozen objects; the layer never sees INI strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

from stoad.config._reader import SectionReader
from stoad.runtime.layers import SectionSource

# MCP tool names (SEP-986): 1-128 of letters, digits, '_', '-', '.'; '*' names the default entry.
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
DEFAULT_ENTRY = "*"
STATE_FILE_NAME = "mcp-tools.json"


@dataclass(frozen=True)
class McpRouteOptions:
    """
    One route's MCP settings.

    @ivar tool_scopes: tool name -> scopes a caller needs (all of them) to call or see it.
    @ivar default_scopes: scopes for tools not named in C{tool_scopes}; None means such tools
        are refused and hidden (the default: a tool nobody configured is not callable).
    @ivar allowed_origins: exact C{Origin} values accepted; a request carrying any other
        C{Origin} (and any C{Origin} at all when this is empty) is refused.
    @ivar on_tool_change: C{"block"} or C{"alert"} when an upstream changes a tool definition.
    @ivar max_message_bytes: the largest JSON-RPC message (request body, JSON response to a
        C{tools/list}, one SSE event of one) that the layer parses.
    """

    enabled: bool
    tool_scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    default_scopes: frozenset[str] | None = None
    allowed_origins: frozenset[str] = frozenset()
    on_tool_change: str = "block"
    max_message_bytes: int = 1024 * 1024

    def required_scopes(self, tool: str) -> frozenset[str] | None:
        """The scopes C{tool} needs, or None when the tool is not callable on this route."""
        scopes = self.tool_scopes.get(tool)
        return scopes if scopes is not None else self.default_scopes


DISABLED = McpRouteOptions(enabled=False)


@dataclass(frozen=True)
class McpSettings:
    """
    The optional C{[mcp]} section.

    @ivar max_sessions: how many session-to-consumer bindings each worker remembers (LRU).
    @ivar state_file: where tool definitions and operator acceptances are kept; default
        C{mcp-tools.json} in C{[server] state_dir}.
    """

    max_sessions: int = 100_000
    state_file: str | None = None


def parse_settings(source: SectionSource) -> McpSettings:
    reader = source.reader("mcp")
    if reader is None:
        return McpSettings()
    settings = McpSettings(
        max_sessions=reader.integer("max_sessions", 100_000, minimum=16),
        state_file=reader.optional_path("state_file", must_exist=False),
    )
    reader.finish()
    return settings


def parse_tool_scopes(text: str) -> tuple[dict[str, frozenset[str]], list[str]]:
    """
    Parse C{TOOL = SCOPE SCOPE ...} entries, one per line or separated by C{;}. Returns the
    mapping and a list of problems. C{*} names the entry for every tool not listed.
    """
    entries: dict[str, frozenset[str]] = {}
    problems: list[str] = []
    for raw in re.split(r"[;\n]", text):
        entry = raw.strip()
        if not entry:
            continue
        name, sep, scopes = entry.partition("=")
        name = name.strip()
        if not sep:
            problems.append(f"expected TOOL = SCOPE ..., got {entry!r}")
            continue
        if name != DEFAULT_ENTRY and not _TOOL_NAME.match(name):
            problems.append(f"not a valid MCP tool name: {name!r}")
            continue
        if name in entries:
            problems.append(f"tool {name!r} is listed twice")
            continue
        entries[name] = frozenset(s for s in scopes.replace(",", " ").split() if s)
    return entries, problems


def _origin(raw: str) -> str | None:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        return None
    return raw.rstrip("/")


def parse_route(reader: SectionReader) -> McpRouteOptions:
    """Read the C{mcp.*} keys of one C{[route:NAME]}; routes without C{mcp = yes} get none."""
    enabled = reader.boolean("mcp", False)
    keys = ("mcp.tool_scopes", "mcp.allowed_origins", "mcp.on_tool_change", "mcp.max_message_size")
    if not enabled:
        for key in keys:
            if reader.has(key):
                reader.problem(key, "only meaningful with mcp = yes")
                reader._used.add(key)
        return DISABLED
    scopes: dict[str, frozenset[str]] = {}
    raw_scopes = reader.string("mcp.tool_scopes", None)
    if raw_scopes:
        scopes, problems = parse_tool_scopes(raw_scopes)
        for problem in problems:
            reader.problem("mcp.tool_scopes", problem)
    default = scopes.pop(DEFAULT_ENTRY, None)
    origins = []
    for raw in reader.words("mcp.allowed_origins", ()):
        origin = _origin(raw)
        if origin is None:
            reader.problem("mcp.allowed_origins", f"expected an origin like https://app.example, got {raw!r}")
        else:
            origins.append(origin)
    return McpRouteOptions(
        enabled=True,
        tool_scopes=scopes,
        default_scopes=default,
        allowed_origins=frozenset(origins),
        on_tool_change=reader.choice("mcp.on_tool_change", ("block", "alert"), "block"),
        max_message_bytes=reader.size("mcp.max_message_size", 1024 * 1024, minimum=1024),
    )
