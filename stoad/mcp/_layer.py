"""The MCP layer: parses JSON-RPC on C{mcp = yes} routes and enforces tool-level rules.

Request side: message shape, header/body agreement, Origin, per-tool scopes, session ownership,
tool-definition drift and C{inputSchema}. Response side: C{tools/list} filtering, drift records.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Callable
from urllib.parse import urlsplit

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from twisted.logger import Logger

from stoad.mcp import _jsonrpc as rpc
from stoad.mcp._config import DISABLED, STATE_FILE_NAME, McpRouteOptions, McpSettings
from stoad.mcp._metrics import metrics_for
from stoad.mcp._sessions import SessionBindings
from stoad.mcp._sse import EventTooLarge, SseEventSplitter, parse_event, render_event
from stoad.mcp._tools import ToolDefinitionStore, ToolRecord
from stoad.runtime.chain import ResponseHead
from stoad.runtime.context import McpCall, RequestContext
from stoad.runtime.deny import Deny
from stoad.runtime.layers import Services

log = Logger()

_MAX_VALIDATORS = 4096


def consumer_of(ctx: RequestContext) -> str:
    """Who holds a session: the authenticated consumer, else the client certificate."""
    if ctx.identity is not None:
        return f"consumer:{ctx.identity.consumer_id}"
    if ctx.peer is not None:
        return f"cert:{ctx.peer.x5t_s256}"
    return "anonymous"


def _fingerprint(value: str) -> str:
    """A short, non-reversible label for a session id in logs and alerts."""
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _resource_metadata(public_url: str) -> str:
    """RFC 9728: the protected-resource metadata URL of a route (well-known before the path)."""
    parts = urlsplit(public_url)
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{parts.path}"


def _first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


class McpLayer:
    """
    The C{mcp} layer. Holds per-worker state: session owners (bounded LRU) and compiled
    C{inputSchema} validators; tool definitions live in the shared L{ToolDefinitionStore}.
    """

    name = "mcp"

    def __init__(self, settings: McpSettings, services: Services,
                 store: ToolDefinitionStore | None = None) -> None:
        self._alerts = services.alerts
        self._metrics = metrics_for(services.metrics.registry)
        state_file = settings.state_file or os.path.join(services.state_dir, STATE_FILE_NAME)
        self.tools = store if store is not None else ToolDefinitionStore(state_file)
        self.sessions = SessionBindings(settings.max_sessions)
        self._validators: dict[tuple[str, str], Any] = {}

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _options(ctx: RequestContext) -> McpRouteOptions:
        route = ctx.route
        if route is None:
            return DISABLED
        options = route.layer_options.get("mcp")
        return options if isinstance(options, McpRouteOptions) else DISABLED

    def _deny(self, ctx: RequestContext, deny: Deny) -> Deny:
        self._metrics.denials.labels(ctx.route.name, deny.error).inc()
        return deny

    @staticmethod
    def _granted(ctx: RequestContext) -> frozenset[str]:
        return ctx.identity.scopes if ctx.identity is not None else frozenset()

    # -- request ---------------------------------------------------------------------------
    def on_request(self, ctx: RequestContext) -> None:
        options = self._options(ctx)
        if not options.enabled:
            return
        try:
            self._check_request(ctx, options)
        except Deny as deny:
            raise self._deny(ctx, deny) from None

    def _check_request(self, ctx: RequestContext, options: McpRouteOptions) -> None:
        route = ctx.route.name
        session_id = ctx.header("mcp-session-id")
        # Record what the request is before any check, so a refusal is audited with its facts.
        ctx.mcp = McpCall(method=rpc.STREAM_METHOD if ctx.method == "GET" else
                          rpc.TERMINATE_METHOD if ctx.method == "DELETE" else "",
                          request_id=None, session_id=session_id)
        origin = ctx.header("origin")
        if origin is not None and origin.rstrip("/") not in options.allowed_origins:
            raise rpc.rpc_error(403, "origin_not_allowed", "Origin header not in mcp.allowed_origins",
                                rpc.FORBIDDEN, "Origin not allowed")
        if session_id is not None:
            owner = self.sessions.check(session_id, consumer_of(ctx))
            if owner is not None:
                self._metrics.session_hijacks.labels(route).inc()
                self._alerts.emit("mcp_session_hijack", "high", ctx, route=route,
                                  session=_fingerprint(session_id), owner=owner,
                                  presented_by=consumer_of(ctx))
                raise rpc.rpc_error(403, "session_not_owned",
                                    "Mcp-Session-Id belongs to another consumer",
                                    rpc.FORBIDDEN, "Session belongs to another client")
        if ctx.method in ("GET", "DELETE"):
            self._metrics.messages.labels(route, ctx.mcp.method).inc()
            return
        if ctx.method != "POST":
            raise rpc.rpc_error(405, "method_not_allowed", f"HTTP {ctx.method} on an MCP route",
                                rpc.INVALID_REQUEST, "Method not allowed",
                                headers=(("Allow", "GET, POST, DELETE"),))
        if ctx.body is None:
            raise rpc.rpc_error(400, "message_too_large", "MCP request body was streamed, "
                                "not buffered: larger than the daemon buffers",
                                rpc.INVALID_REQUEST, "Message too large")
        content_type = (ctx.content_type or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise rpc.rpc_error(415, "unsupported_media_type", "MCP POST body is not application/json",
                                rpc.INVALID_REQUEST, "Content-Type must be application/json")
        parsed = rpc.parse_body(ctx.body, options.max_message_bytes)
        if parsed.batch:
            ctx.mcp.method = rpc.BATCH_METHOD
            self._metrics.messages.labels(route, rpc.BATCH_METHOD).inc()
            if any(m.kind == "request" for m in parsed.messages):
                # One request per POST: so the policy decision, the audit record and the
                # response filtering all concern exactly one call.
                raise rpc.rpc_error(400, "batch_with_request", "JSON-RPC batch contains a request",
                                    rpc.INVALID_REQUEST, "Batches may not contain requests")
            self._check_headers(ctx, None, None)
            return
        message = parsed.messages[0]
        if message.kind == "response":
            ctx.mcp.method = rpc.RESPONSE_METHOD
            ctx.mcp.request_id = message.request_id
            self._metrics.messages.labels(route, rpc.RESPONSE_METHOD).inc()
            self._check_headers(ctx, None, None)
            return
        method = message.method or ""
        ctx.mcp.method = method
        ctx.mcp.request_id = message.request_id
        self._metrics.messages.labels(route, self._metrics.method_label(method)).inc()
        name = rpc.target_name(message)
        params = message.params or {}
        if method == "tools/call":
            ctx.mcp.tool_name = name
            arguments = params.get("arguments")
            if arguments is not None and not isinstance(arguments, dict):
                raise rpc.rpc_error(400, "invalid_params", "tools/call arguments is not an object",
                                    rpc.INVALID_PARAMS, "Invalid params")
            ctx.mcp.arguments = arguments
        elif method == "resources/read":
            ctx.mcp.resource_uri = name
        elif method == "prompts/get":
            ctx.mcp.prompt_name = name
        self._check_headers(ctx, method, name)
        if method == "tools/call" and name is not None:
            self._authorize_tool(ctx, options, name, ctx.mcp.arguments)

    @staticmethod
    def _check_headers(ctx: RequestContext, method: str | None, name: str | None) -> None:
        """Mcp-Method / Mcp-Name, where sent, must say what the body says."""
        header_method = ctx.header("mcp-method")
        if header_method is not None and header_method != method:
            raise rpc.rpc_error(400, "header_mismatch", "Mcp-Method header differs from the body",
                                rpc.HEADER_MISMATCH, "Mcp-Method header does not match body")
        header_name = ctx.header("mcp-name")
        if header_name is not None and (name is None or rpc.decode_name_header(header_name) != name):
            raise rpc.rpc_error(400, "header_mismatch", "Mcp-Name header differs from the body",
                                rpc.HEADER_MISMATCH, "Mcp-Name header does not match body")

    def _authorize_tool(self, ctx: RequestContext, options: McpRouteOptions, tool: str,
                        arguments: dict[str, Any] | None) -> None:
        required = options.required_scopes(tool)
        if required is None:
            raise rpc.rpc_error(403, "tool_not_allowed", f"tool {tool!r} is not configured on "
                                "this route", rpc.FORBIDDEN, "Tool not allowed")
        missing = required - self._granted(ctx)
        if missing:
            scope = " ".join(sorted(required))
            raise rpc.rpc_error(
                403, "insufficient_scope", f"tool {tool!r} needs scopes {sorted(missing)}",
                rpc.FORBIDDEN, "Insufficient scope",
                headers=(("WWW-Authenticate",
                          f'Bearer error="insufficient_scope", scope="{scope}", '
                          f'resource_metadata="{_resource_metadata(ctx.route.public_url)}", '
                          'error_description="the token lacks a scope this tool requires"'),))
        record = self.tools.get(ctx.route.name, tool)
        if record is None:
            # Fail closed: stoad cannot ask the upstream itself (it holds no credentials for
            # it), and an unchecked call is exactly what the schema check exists to stop.
            raise rpc.rpc_error(422, "tool_not_advertised", f"tool {tool!r} not yet seen in a "
                                "tools/list result of this route", rpc.INVALID_PARAMS,
                                "Unknown tool: list tools first")
        if record.changed and options.on_tool_change == "block":
            raise rpc.rpc_error(403, "tool_definition_changed", f"definition of {tool!r} changed "
                                "and awaits `stoad tools accept`", rpc.FORBIDDEN,
                                "Tool definition changed; awaiting operator approval")
        self._validate_arguments(ctx.route.name, record, arguments)

    def _validator(self, route: str, record: ToolRecord) -> Any:
        definition, digest = ((record.pending, record.pending_hash) if record.changed
                              else (record.accepted, record.accepted_hash))
        key = (route, digest or "")
        validator = self._validators.get(key)
        if validator is None:
            schema = (definition or {}).get("inputSchema")
            if not isinstance(schema, dict):
                raise rpc.rpc_error(422, "invalid_tool_schema", "advertised inputSchema is not "
                                    "an object", rpc.INVALID_PARAMS, "Invalid params")
            cls = validator_for(schema, default=Draft202012Validator)
            try:
                cls.check_schema(schema)
            except SchemaError:
                raise rpc.rpc_error(422, "invalid_tool_schema", "advertised inputSchema is not a "
                                    "valid JSON Schema", rpc.INVALID_PARAMS,
                                    "Invalid params") from None
            validator = cls(schema)
            if len(self._validators) >= _MAX_VALIDATORS:
                self._validators.clear()
            self._validators[key] = validator
        return validator

    def _validate_arguments(self, route: str, record: ToolRecord,
                            arguments: dict[str, Any] | None) -> None:
        validator = self._validator(route, record)
        try:
            error = next(iter(validator.iter_errors(arguments if arguments is not None else {})),
                         None)
        except Exception as exc:  # e.g. an unresolvable $ref: no proof the arguments conform
            raise rpc.rpc_error(422, "invalid_tool_schema", "inputSchema could not be applied: "
                                f"{type(exc).__name__}", rpc.INVALID_PARAMS,
                                "Invalid params") from None
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            raise rpc.rpc_error(422, "invalid_arguments", f"arguments of {record.name!r} violate "
                                f"inputSchema at {where} ({error.validator})", rpc.INVALID_PARAMS,
                                "Invalid params")

    # -- response --------------------------------------------------------------------------
    def on_response(self, ctx: RequestContext, head: ResponseHead) -> Any:
        options = self._options(ctx)
        if not options.enabled or ctx.mcp is None:
            return None
        self._record_session(ctx, head)
        if not 200 <= head.status < 300:
            return None
        # Prefix tests, as the MCP SDK client itself does: whatever it would parse, we filter.
        content_type = (head.content_type or "").strip().lower()
        if content_type.startswith("text/event-stream"):
            # Any event stream may carry a tools/list result (a resumed stream replays them).
            head.headers.pop("content-length", None)
            return SseToolsListFilter(self._tools_list_rewriter(ctx, options),
                                      options.max_message_bytes)
        if content_type.startswith("application/json") and ctx.mcp.method == "tools/list":
            head.headers.pop("content-length", None)
            return JsonToolsListFilter(self._tools_list_rewriter(ctx, options),
                                       options.max_message_bytes)
        return None

    def _record_session(self, ctx: RequestContext, head: ResponseHead) -> None:
        assert ctx.mcp is not None
        presented = ctx.mcp.session_id
        if not 200 <= head.status < 300:
            return
        issued = _first(head.headers, "mcp-session-id")
        consumer = consumer_of(ctx)
        if ctx.mcp.method == rpc.TERMINATE_METHOD and presented is not None:
            self.sessions.forget(presented)
        elif issued is not None and issued != presented:
            self.sessions.bind(issued, consumer, issued=True)
            ctx.mcp.session_id = issued
        elif presented is not None:
            self.sessions.bind(presented, consumer, issued=False)

    def _tools_list_rewriter(self, ctx: RequestContext,
                             options: McpRouteOptions) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
        route = ctx.route.name
        granted = self._granted(ctx)

        def rewrite(message: dict[str, Any]) -> dict[str, Any] | None:
            result = message.get("result")
            if not isinstance(result, dict) or "tools" not in result:
                return None
            tools = result["tools"]
            if not isinstance(tools, list) or not all(
                    isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools):
                raise Deny(502, "bad_gateway", "upstream tools/list result is malformed")
            had_tools = self.tools.count(route) > 0
            kept = []
            for definition, seen in zip(tools, self.tools.observe(route, tools), strict=True):
                record = seen.record
                if seen.newly_changed:
                    self._metrics.tool_changes.labels(route).inc()
                    self._alerts.emit("mcp_tool_changed", "high", ctx, route=route,
                                      tool=record.name, accepted_sha256=record.accepted_hash,
                                      new_sha256=record.pending_hash,
                                      action=options.on_tool_change)
                elif seen.first_seen and had_tools:
                    self._alerts.emit("mcp_tool_added", "medium", ctx, route=route,
                                      tool=record.name, sha256=record.accepted_hash)
                required = options.required_scopes(record.name)
                blocked = record.changed and options.on_tool_change == "block"
                if required is not None and required <= granted and not blocked:
                    kept.append(definition)
            if len(kept) == len(tools):
                return None
            self._metrics.tools_hidden.labels(route).inc(len(tools) - len(kept))
            return {**message, "result": {**result, "tools": kept}}

        return rewrite

    def on_complete(self, ctx: RequestContext) -> None:
        return None


class JsonToolsListFilter:
    """Buffers one JSON C{tools/list} response (bounded) and rewrites it at the end."""

    def __init__(self, rewrite: Callable[[dict[str, Any]], dict[str, Any] | None],
                 max_bytes: int) -> None:
        self._rewrite = rewrite
        self._max = max_bytes
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> bytes:
        self._size += len(chunk)
        if self._size > self._max:
            raise Deny(502, "bad_gateway", f"upstream tools/list response exceeds {self._max} bytes")
        self._parts.append(chunk)
        return b""

    def finish(self) -> bytes:
        body = b"".join(self._parts)
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Deny(502, "bad_gateway", "upstream tools/list response is not JSON") from None
        if not isinstance(message, dict):
            raise Deny(502, "bad_gateway", "upstream tools/list response is not one JSON-RPC object")
        rewritten = self._rewrite(message)
        return body if rewritten is None else orjson.dumps(rewritten)


class SseToolsListFilter:
    """
    Passes an event stream on event by event; an event whose data is a JSON-RPC result
    carrying C{tools} is rewritten (filtered, recorded) before it is passed on.
    """

    def __init__(self, rewrite: Callable[[dict[str, Any]], dict[str, Any] | None],
                 max_event_bytes: int) -> None:
        self._rewrite = rewrite
        self._splitter = SseEventSplitter(max_event_bytes)

    def _event(self, raw: bytes) -> bytes:
        # Cheap test first: most events are not tool lists. A key spelled with escapes
        # ("\u0074ools") still parses as "tools" in the client, so escapes mean a full parse.
        if b"tools" not in raw and b"\\u" not in raw:
            return raw
        event = parse_event(raw)
        if event.data is None:
            return raw
        try:
            message = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return raw
        if not isinstance(message, dict):
            return raw
        rewritten = self._rewrite(message)
        if rewritten is None:
            return raw
        return render_event(event.other_lines, orjson.dumps(rewritten).decode("utf-8"))

    def feed(self, chunk: bytes) -> bytes:
        try:
            events = self._splitter.feed(chunk)
        except EventTooLarge as exc:
            raise Deny(502, "bad_gateway", str(exc)) from None
        return b"".join(self._event(raw) for raw in events)

    def finish(self) -> bytes:
        rest = self._splitter.finish()
        return self._event(rest) if rest else b""
