"""The MCP layer: parses JSON-RPC on C{mcp = yes} routes and enforces tool-level rules.

Request side: message shape, header/body agreement, Origin, per-tool scopes, session ownership,
tool-definition drift and C{inputSchema}. Response side: C{tools/list} filtering, drift and
tool-poisoning records, elicitations that ask for secrets.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Callable
from urllib.parse import urlsplit

import orjson
from jsonschema.exceptions import SchemaError
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from stoad.guardrails import elicitation_secrets, tool_poisoning
from stoad.mcp import _jsonrpc as rpc
from stoad.mcp._config import DISABLED, STATE_FILE_NAME, McpRouteOptions, McpSettings
from stoad.mcp._metrics import metrics_for
from stoad.mcp._sse import EventTooLarge, SseEventSplitter, parse_event, render_event
from stoad.mcp._tools import SharedToolDefinitions, ToolDefinitionStore, ToolRecord
from stoad.proxy.responses import jsonrpc_deny_body
from stoad.runtime import safeschema
from stoad.runtime.chain import ResponseHead
from stoad.runtime.context import McpCall, RequestContext
from stoad.runtime.deny import Deny
from stoad.runtime.layer import LayerBase
from stoad.runtime.services import Services
from stoad.state import REDIS, MemoryState, RoundResult, StateUnavailable
from stoad.state._round import holder_of, now_of, run_round, unavailable

log = Logger()

_MAX_VALIDATORS = 4096


def consumer_of(ctx: RequestContext) -> str:
    """Who holds a session: consumer, agent and client certificate, else the certificate alone."""
    return holder_of(ctx)


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


class McpLayer(LayerBase):
    """
    The C{mcp} layer. Holds per-worker state: session owners (bounded LRU) and compiled
    C{inputSchema} validators; tool definitions live in the shared L{ToolDefinitionStore}.
    """

    name = "mcp"

    def __init__(self, settings: McpSettings, services: Services,
                 store: ToolDefinitionStore | SharedToolDefinitions | None = None) -> None:
        self.settings = settings
        self._services = services
        self._alerts = services.alerts
        self._metrics = metrics_for(services.metrics.registry)
        if services.state is None:
            services.state = MemoryState()
        self.state = services.state
        self.state.configure(max_sessions=settings.max_sessions)
        # With Redis, accepted tool definitions are shared by every instance (a local copy,
        # refreshed when the version each request's round returns has moved); else the file.
        self._shared_tools = store is None and self.state.backend == REDIS
        if store is not None:
            self.tools: ToolDefinitionStore | SharedToolDefinitions = store
        elif self._shared_tools:
            self.tools = SharedToolDefinitions(self.state)
        else:
            state_file = settings.state_file or os.path.join(services.state_dir, STATE_FILE_NAME)
            self.tools = ToolDefinitionStore(state_file)
        self._validators: dict[tuple[str, str], Any] = {}

    def successor(self, settings: McpSettings, routes: Any, services: Services) -> McpLayer:
        """The layer for new settings and routes; session bindings live in the shared store and
        carry over, as do the tool records (unless the state file moved)."""
        same_file = (settings.state_file or "") == (self.settings.state_file or "")
        keep = self.tools if same_file and not self._shared_tools else None
        return McpLayer(settings, services, keep)

    def render_denial(self, ctx: RequestContext, deny: Deny, body: bytes) -> bytes:
        """On an MCP route a refusal answers the JSON-RPC request it refuses."""
        mcp = ctx.mcp
        if (mcp is not None and isinstance(mcp.request_id, (str, int))
                and not isinstance(mcp.request_id, bool)):
            return jsonrpc_deny_body(mcp.request_id, deny.status, deny.error)
        return body

    @property
    def sessions(self) -> Any:
        """The memory store's session table (for tests and introspection)."""
        return getattr(self.state, "sessions", None)

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
    def on_request(self, ctx: RequestContext) -> Any:
        options = self._options(ctx)
        if not options.enabled:
            return None
        try:
            tool = self._check_request(ctx, options)
        except Deny as deny:
            raise self._deny(ctx, deny) from None
        assert ctx.mcp is not None
        # The request's one round to the shared store: session check-or-claim, the usage count
        # the policy layer reads, and the tool definitions' version.
        answer = run_round(ctx, self._services, session_id=ctx.mcp.session_id,
                           tools_version=self._shared_tools)
        if isinstance(answer, Deferred):
            return answer.addCallback(self._after_round, ctx, options, tool)
        return self._after_round(answer, ctx, options, tool)

    def _after_round(self, answer: RoundResult | StateUnavailable, ctx: RequestContext,
                     options: McpRouteOptions, tool: str | None) -> Any:
        assert ctx.mcp is not None
        session_id = ctx.mcp.session_id
        try:
            if isinstance(answer, StateUnavailable):
                if session_id is not None:
                    deny = unavailable(self._services, ctx, "sessions", answer)
                    if deny is not None:
                        raise deny
            elif answer.session_owner is not None and session_id is not None:
                route = ctx.route.name
                self._metrics.session_hijacks.labels(route).inc()
                self._alerts.emit("mcp_session_hijack", "high", ctx, route=route,
                                  session=_fingerprint(session_id), owner=answer.session_owner,
                                  presented_by=consumer_of(ctx))
                raise rpc.rpc_error(403, "session_not_owned",
                                    "Mcp-Session-Id belongs to another consumer",
                                    rpc.FORBIDDEN, "Session belongs to another client")
            if (isinstance(answer, RoundResult) and answer.tools_version is not None
                    and isinstance(self.tools, SharedToolDefinitions)
                    and answer.tools_version != self.tools.version):
                # Another gateway (or `stoad tools accept`) changed the definitions: reload
                # before this request's call is checked or its tools/list is filtered.
                refreshed = self.tools.refresh(answer.tools_version)
                return refreshed.addBoth(self._authorize_after_refresh, ctx, options, tool)
            if tool is not None:
                self._authorize_tool(ctx, options, tool, ctx.mcp.arguments)
        except Deny as deny:
            raise self._deny(ctx, deny) from None
        return None

    def _authorize_after_refresh(self, result: Any, ctx: RequestContext,
                                 options: McpRouteOptions, tool: str | None) -> None:
        if isinstance(result, Failure):
            # The copy we have is the last one Redis gave: a tool blocked there stays blocked.
            log.warn("tool definitions not refreshed from the shared store: {why}",
                     why=result.getErrorMessage())
        assert ctx.mcp is not None
        if tool is None:
            return
        try:
            self._authorize_tool(ctx, options, tool, ctx.mcp.arguments)
        except Deny as deny:
            raise self._deny(ctx, deny) from None

    def _check_request(self, ctx: RequestContext, options: McpRouteOptions) -> str | None:
        """The message's own checks; returns the tool a C{tools/call} names, to authorize."""
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
        if ctx.method in ("GET", "DELETE"):
            self._metrics.messages.labels(route, ctx.mcp.method).inc()
            return None
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
        modern = self._modern_era(ctx)
        if modern and parsed.batch:
            raise rpc.rpc_error(400, "invalid_request", "JSON-RPC batch in a per-request-envelope "
                                "(2026-07-28) request", rpc.INVALID_REQUEST, "Invalid Request")
        if parsed.batch:
            ctx.mcp.method = rpc.BATCH_METHOD
            self._metrics.messages.labels(route, rpc.BATCH_METHOD).inc()
            if any(m.kind == "request" for m in parsed.messages):
                # One request per POST: so the policy decision, the audit record and the
                # response filtering all concern exactly one call.
                raise rpc.rpc_error(400, "batch_with_request", "JSON-RPC batch contains a request",
                                    rpc.INVALID_REQUEST, "Batches may not contain requests")
            self._check_headers(ctx, None, None)
            return None
        message = parsed.messages[0]
        if message.kind == "response":
            ctx.mcp.method = rpc.RESPONSE_METHOD
            ctx.mcp.request_id = message.request_id
            self._metrics.messages.labels(route, rpc.RESPONSE_METHOD).inc()
            self._check_headers(ctx, None, None)
            return None
        method = message.method or ""
        ctx.mcp.method = method
        ctx.mcp.request_id = message.request_id
        self._metrics.messages.labels(route, self._metrics.method_label(method)).inc()
        name = rpc.target_name(message)
        params = message.params or {}
        meta = params.get("_meta")
        if isinstance(meta, dict) and isinstance(meta.get("traceparent"), str):
            ctx.mcp.traceparent = meta["traceparent"]
            state = meta.get("tracestate")
            ctx.mcp.tracestate = state if isinstance(state, str) else None
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
        if modern and message.kind == "request":
            self._check_envelope_headers(ctx, method, name, params)
        self._check_headers(ctx, method, name)
        return name if method == "tools/call" and name is not None else None

    @staticmethod
    def _modern_era(ctx: RequestContext) -> bool:
        """
        Whether the request is of the 2026-07-28 (per-request envelope) era: the SDK routes on
        MCP-Protocol-Version naming anything but a handshake revision. Routing headers sent
        twice are refused here whatever the era: first-copy and last-copy readers disagree.
        """
        for header in rpc.ROUTING_HEADERS:
            if len(ctx.headers.get(header, ())) > 1:
                raise rpc.rpc_error(400, "header_mismatch", f"{header} header sent twice",
                                    rpc.HEADER_MISMATCH, f"{header} header appears more than once")
        version = ctx.header("mcp-protocol-version")
        return version is not None and version not in rpc.HANDSHAKE_PROTOCOL_VERSIONS

    @staticmethod
    def _check_envelope_headers(ctx: RequestContext, method: str, name: str | None,
                                params: dict[str, Any]) -> None:
        """
        A 2026-07-28 request is refused as the SDK refuses it (its inbound ladder, rungs 1-2):
        params._meta must carry the protocol version and client capabilities, and
        MCP-Protocol-Version, Mcp-Method and (for tools/call, prompts/get, resources/read)
        Mcp-Name must be present and equal what the body says. The upstream routes on those
        headers, so a request without them must not be judged on its body alone.
        """
        meta = params.get("_meta")
        if not isinstance(meta, dict) or not all(
                key in meta for key in (rpc.PROTOCOL_VERSION_META_KEY,
                                        rpc.CLIENT_CAPABILITIES_META_KEY)):
            raise rpc.rpc_error(400, "invalid_params", "params._meta lacks the 2026-07-28 "
                                "envelope keys", rpc.INVALID_PARAMS, "Invalid params")
        if ctx.header("mcp-protocol-version") != meta[rpc.PROTOCOL_VERSION_META_KEY]:
            raise rpc.rpc_error(400, "header_mismatch", "MCP-Protocol-Version header differs from "
                                "params._meta", rpc.HEADER_MISMATCH,
                                "mcp-protocol-version header does not match the request envelope")
        if ctx.header("mcp-method") is None:
            raise rpc.rpc_error(400, "header_mismatch", "Mcp-Method header missing",
                                rpc.HEADER_MISMATCH, "mcp-method header does not match the "
                                "request body's method")
        if name is not None and ctx.header("mcp-name") is None:
            raise rpc.rpc_error(400, "header_mismatch", f"Mcp-Name header missing on {method}",
                                rpc.HEADER_MISMATCH, "mcp-name header does not match the "
                                "request body's name")

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
        if record.poisoned:
            raise rpc.rpc_error(403, "tool_description_flagged", f"description of {tool!r} carries "
                                "instructions to the model and awaits `stoad tools accept`",
                                rpc.FORBIDDEN, "Tool description flagged; awaiting operator approval")
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
            try:
                validator = safeschema.safe_validator(schema)
            except SchemaError:
                raise rpc.rpc_error(422, "invalid_tool_schema", "advertised inputSchema is not a "
                                    "valid JSON Schema", rpc.INVALID_PARAMS,
                                    "Invalid params") from None
            except safeschema.UnsafeSchema as e:
                # Refused rather than run on a backtracking engine against caller data.
                raise rpc.rpc_error(422, "invalid_tool_schema", f"advertised inputSchema: {e}",
                                    rpc.INVALID_PARAMS, "Invalid params") from None
            if len(self._validators) >= _MAX_VALIDATORS:
                self._validators.clear()
            self._validators[key] = validator
        return validator

    def _validate_arguments(self, route: str, record: ToolRecord,
                            arguments: dict[str, Any] | None) -> None:
        validator = self._validator(route, record)
        try:
            errors = safeschema.iter_errors(validator, arguments if arguments is not None else {},
                                            limit=1)
        except safeschema.TooComplex as e:
            raise rpc.rpc_error(400, "invalid_params", f"arguments of {record.name!r}: {e}",
                                rpc.INVALID_PARAMS, "Invalid params") from None
        except Exception as exc:  # e.g. an unresolvable $ref: no proof the arguments conform
            raise rpc.rpc_error(422, "invalid_tool_schema", "inputSchema could not be applied: "
                                f"{type(exc).__name__}", rpc.INVALID_PARAMS,
                                "Invalid params") from None
        error = errors[0] if errors else None
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
                                      options.max_message_bytes, self._elicitation_check(ctx))
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
        # A presented session was checked (and claimed if unknown) in the request's round;
        # only a new or ended session is written here.
        try:
            if ctx.mcp.method == rpc.TERMINATE_METHOD and presented is not None:
                written = self.state.forget_session(presented)
            elif issued is not None and issued != presented:
                written = self.state.bind_session(issued, consumer_of(ctx),
                                                  now_of(self._services))
                ctx.mcp.session_id = issued
            else:
                return
        except StateUnavailable as e:
            log.warn("MCP session binding not written: {why}", why=str(e))
            return
        if isinstance(written, Deferred):
            written.addErrback(self._binding_not_written, ctx)

    def _binding_not_written(self, failure: Failure, ctx: RequestContext) -> None:
        # The next request then claims the session for whoever presents it first; alerted.
        log.warn("MCP session binding not written: {why}", why=failure.getErrorMessage())
        unavailable(self._services, ctx, "sessions",
                    failure.value or StateUnavailable("binding not written"))

    def _tools_list_rewriter(self, ctx: RequestContext,
                             options: McpRouteOptions) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
        route = ctx.route.name
        now = now_of(self._services)
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
            # Both stores flag tool poisoning and keep the tool pending (blocked) until accepted;
            # the shared (Redis) store records the flag with the pending definition in its script.
            store = self.tools
            if isinstance(store, ToolDefinitionStore):
                observed = store.observe(route, tools, tool_poisoning)
            else:
                observed = store.observe(route, tools, now, tool_poisoning)
            for definition, seen in zip(tools, observed, strict=True):
                record = seen.record
                if seen.newly_changed and record.poisoned:
                    self._alerts.emit("mcp_tool_poisoned", "high", ctx, route=route, tool=record.name,
                                      new_sha256=record.pending_hash, families=list(record.flagged),
                                      action="block")
                if seen.newly_changed and not seen.first_seen:
                    self._metrics.tool_changes.labels(route).inc()
                    self._alerts.emit("mcp_tool_changed", "high", ctx, route=route,
                                      tool=record.name, accepted_sha256=record.accepted_hash,
                                      new_sha256=record.pending_hash,
                                      action="block" if record.poisoned else options.on_tool_change)
                elif seen.first_seen and had_tools:
                    self._alerts.emit("mcp_tool_added", "medium", ctx, route=route,
                                      tool=record.name, sha256=record.accepted_hash)
                required = options.required_scopes(record.name)
                blocked = record.poisoned or (record.changed and options.on_tool_change == "block")
                if required is not None and required <= granted and not blocked:
                    kept.append(definition)
            if len(kept) == len(tools):
                return None
            self._metrics.tools_hidden.labels(route).inc(len(tools) - len(kept))
            return {**message, "result": {**result, "tools": kept}}

        return rewrite

    def _elicitation_check(self, ctx: RequestContext) -> Callable[[dict[str, Any]], None]:
        """Refuses an C{elicitation/create} request (server to user) that asks for a secret."""
        route = ctx.route.name

        def check(message: dict[str, Any]) -> None:
            if message.get("method") != "elicitation/create" or not elicitation_secrets(message.get("params")):
                return
            self._metrics.denials.labels(route, "elicitation_secret").inc()
            self._alerts.emit("mcp_elicitation_secret", "high", ctx, route=route, action="block")
            log.warn("elicitation asking for a secret blocked on route {route} request={request_id}",
                     route=route, request_id=ctx.request_id)
            raise Deny(502, "guardrail_blocked", "upstream elicitation asks the user for a secret",
                       body={"error": "guardrail_blocked", "detector": "elicitation"})

        return check


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
                 max_event_bytes: int, check: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._rewrite = rewrite
        self._check = check
        self._splitter = SseEventSplitter(max_event_bytes)

    def _event(self, raw: bytes) -> bytes:
        # Cheap test first: most events are not tool lists or elicitations. A key spelled with
        # escapes ("\u0074ools") still parses as "tools" in the client, so escapes mean a full parse.
        if b"tools" not in raw and b"\\u" not in raw and b"elicitation" not in raw:
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
        if self._check is not None:
            self._check(message)
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
