"""The mcp layer's request and response rules, with an in-memory route, identity and alert bus."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from prometheus_client import CollectorRegistry
from twisted.trial.unittest import SynchronousTestCase

from stoad.config._model import Route
from stoad.mcp import McpLayer, McpRouteOptions, McpSettings
from stoad.runtime.chain import ResponseHead
from stoad.runtime.context import Identity, PeerCertificate, RequestContext
from stoad.runtime.deny import Deny
from stoad.runtime.layers import AlertBus, Services

ECHO_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string", "maxLength": 64}},
    "required": ["text"],
    "additionalProperties": False,
}
TOOLS = [
    {"name": "echo", "description": "Echo text", "inputSchema": ECHO_SCHEMA},
    {"name": "delete_all", "description": "Delete everything",
     "inputSchema": {"type": "object", "properties": {}}},
    {"name": "secret", "description": "Not configured", "inputSchema": {"type": "object"}},
]


class FakeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()


def route(**options: Any) -> Route:
    defaults: dict[str, Any] = dict(
        enabled=True,
        tool_scopes={"echo": frozenset({"stoa:read"}), "delete_all": frozenset({"stoa:admin"})},
        on_tool_change="block",
    )
    defaults.update(options)
    return Route(
        name="tools", prefix="/mcp", upstream="http://127.0.0.1:9/mcp", upstream_scheme="http",
        upstream_host="127.0.0.1", upstream_port=9, upstream_base_path="/mcp",
        connect_timeout=1.0, timeout=1.0, upstream_ca=None, upstream_client_certificate=None,
        upstream_client_key=None, public_url="https://localhost:8443/mcp",
        layer_options={"mcp": McpRouteOptions(**defaults)},
    )


def identity(consumer: str = "agent-a", scopes: str = "stoa:read") -> Identity:
    return Identity(client_id=consumer, subject=consumer, consumer_id=consumer, agent_id=consumer,
                    tier="standard", scopes=frozenset(scopes.split()), claims={},
                    token_kind="jwt", token_hash="0" * 64)


def context(body: Any = None, *, method: str = "POST", raw: bytes | None = None,
            headers: dict[str, str] | None = None, who: Identity | None = None,
            the_route: Route | None = None, content_type: str = "application/json",
            peer: PeerCertificate | None = None) -> RequestContext:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return RequestContext(
        request_id="r1", started=0.0, client_ip="127.0.0.1", peer=peer, method=method,
        raw_path="/mcp", path="/mcp", query="",
        headers={k.lower(): [v] for k, v in (headers or {}).items()},
        body=data, body_size=len(data), content_type=content_type,
        route=the_route or route(), identity=who,
    )


def call(tool: str, arguments: Any = None, request_id: Any = 7) -> dict[str, Any]:
    params: dict[str, Any] = {"name": tool}
    if arguments is not None:
        params["arguments"] = arguments
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def tools_list_response(tools: list[dict[str, Any]], request_id: Any = 2) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": {"tools": tools}}


class LayerFixture:
    """A layer on a temporary state directory, recording the alerts it raises."""

    def setUp(self) -> None:  # noqa: D401 - trial hook
        self.state_dir = tempfile.mkdtemp()
        self.addCleanup(lambda: __import__("shutil").rmtree(self.state_dir, ignore_errors=True))
        self.alerts: list[tuple[str, str, dict[str, Any]]] = []
        bus = AlertBus()
        bus.subscribers.append(lambda kind, severity, ctx, **d: self.alerts.append((kind, severity, d)))
        self.metrics = FakeMetrics()
        self.services = Services(reactor=None, metrics=self.metrics, alerts=bus,
                                 state_dir=self.state_dir)
        self.layer = McpLayer(McpSettings(max_sessions=16), self.services)

    def deny(self, ctx: RequestContext) -> Deny:
        try:
            self.layer.on_request(ctx)
        except Deny as deny:
            return deny
        raise AssertionError("request was not refused")

    def list_tools(self, tools: list[dict[str, Any]], who: Identity | None = None,
                   sse: bool = False, the_route: Route | None = None) -> dict[str, Any]:
        """Run a tools/list through the layer against an upstream advertising C{tools}."""
        ctx = context({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, who=who,
                      the_route=the_route)
        self.layer.on_request(ctx)
        payload = json.dumps(tools_list_response(tools)).encode()
        if sse:
            head = ResponseHead(200, {"content-type": ["text/event-stream"]})
            body = b"event: message\ndata: " + payload + b"\n\n"
        else:
            head = ResponseHead(200, {"content-type": ["application/json"],
                                      "content-length": [str(len(payload))]})
            body = payload
        body_filter = self.layer.on_response(ctx, head)
        assert body_filter is not None
        out = body_filter.feed(body) + body_filter.finish()
        if sse:
            data = [line[5:].strip() for line in out.decode().splitlines() if line.startswith("data:")]
            return json.loads("\n".join(data))
        return json.loads(out)

    def counter(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return value or 0.0


class RequestParsingTests(LayerFixture, SynchronousTestCase):
    def test_tools_call_fills_mcp_call(self) -> None:
        """A tools/call fills ctx.mcp with method, id, tool name, arguments and session id."""
        self.list_tools(TOOLS, who=identity())
        ctx = context(call("echo", {"text": "hi"}), who=identity(),
                      headers={"Mcp-Session-Id": "s-1"})
        self.layer.on_request(ctx)
        assert ctx.mcp is not None
        self.assertEqual((ctx.mcp.method, ctx.mcp.request_id, ctx.mcp.tool_name,
                          ctx.mcp.arguments, ctx.mcp.session_id),
                         ("tools/call", 7, "echo", {"text": "hi"}, "s-1"))

    def test_resources_read_and_prompts_get_are_named(self) -> None:
        """resources/read records the URI and prompts/get the prompt name."""
        ctx = context({"jsonrpc": "2.0", "id": "a", "method": "resources/read",
                       "params": {"uri": "file:///etc/passwd"}})
        self.layer.on_request(ctx)
        assert ctx.mcp is not None
        self.assertEqual(ctx.mcp.resource_uri, "file:///etc/passwd")
        ctx = context({"jsonrpc": "2.0", "id": 3, "method": "prompts/get",
                       "params": {"name": "summarise"}})
        self.layer.on_request(ctx)
        assert ctx.mcp is not None
        self.assertEqual(ctx.mcp.prompt_name, "summarise")

    def test_non_mcp_route_is_untouched(self) -> None:
        """On a route without mcp = yes the layer reads nothing, even a body that is not JSON."""
        ctx = context(raw=b"not json", the_route=route(enabled=False))
        self.layer.on_request(ctx)
        self.assertIsNone(ctx.mcp)

    def test_malformed_json_is_a_jsonrpc_parse_error(self) -> None:
        """A body that is not JSON is refused 400 with a JSON-RPC parse error, id null."""
        deny = self.deny(context(raw=b'{"jsonrpc": "2.0", "id": 1, "method": '))
        self.assertEqual(deny.status, 400)
        self.assertEqual(deny.body, {"jsonrpc": "2.0", "id": None,
                                     "error": {"code": -32700, "message": "Parse error"}})

    def test_not_jsonrpc_shapes_are_invalid_requests(self) -> None:
        """Wrong version, a non-object, positional params, null request ids and the like are 400."""
        bad = [
            {"jsonrpc": "1.0", "id": 1, "method": "ping"},
            "ping",
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": ["echo", {}]},
            {"jsonrpc": "2.0", "id": 1.5, "method": "ping"},
            {"jsonrpc": "2.0", "id": True, "method": "ping"},
            {"jsonrpc": "2.0", "id": None, "method": "ping"},
            {"jsonrpc": "2.0", "id": 1, "method": ""},
            {"jsonrpc": "2.0", "id": 1, "result": {}, "error": {}},
            {"jsonrpc": "2.0", "id": 1, "method": "ping", "result": {}},
            [],
        ]
        for body in bad:
            deny = self.deny(context(body))
            self.assertEqual((deny.status, deny.body["error"]["code"]), (400, -32600), body)  # type: ignore[index]

    def test_tools_call_without_a_string_name_is_invalid_params(self) -> None:
        """A tools/call whose name is missing or not a string is refused before any rule."""
        for params in ({}, {"name": 5}, {"name": ""}):
            deny = self.deny(context({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                      "params": params}))
            self.assertEqual((deny.status, deny.error), (400, "invalid_params"))

    def test_arguments_must_be_an_object(self) -> None:
        """tools/call arguments that are not an object are refused 400."""
        deny = self.deny(context(call("echo", ["x"]), who=identity()))
        self.assertEqual((deny.status, deny.error), (400, "invalid_params"))

    def test_oversized_message_is_refused(self) -> None:
        """A message larger than mcp.max_message_size is refused 400 and never parsed."""
        small = route(max_message_bytes=1024)
        deny = self.deny(context(call("echo", {"text": "x" * 2000}), the_route=small,
                                 who=identity()))
        self.assertEqual((deny.status, deny.error), (400, "message_too_large"))

    def test_streamed_body_is_refused(self) -> None:
        """A body the daemon streamed instead of buffering (ctx.body None) is refused."""
        ctx = context(call("echo", {"text": "x"}))
        ctx.body = None
        self.assertEqual(self.deny(ctx).error, "message_too_large")

    def test_wrong_content_type_is_refused(self) -> None:
        """A POST that is not application/json is refused 415."""
        deny = self.deny(context(call("echo", {"text": "x"}), content_type="text/plain"))
        self.assertEqual(deny.status, 415)

    def test_other_http_methods_are_refused(self) -> None:
        """PUT on an MCP route is 405 with an Allow header; GET and DELETE pass to the upstream."""
        deny = self.deny(context(method="PUT"))
        self.assertEqual(deny.status, 405)
        self.assertIn(("Allow", "GET, POST, DELETE"), deny.headers)
        for method in ("GET", "DELETE"):
            ctx = context(method=method, content_type="")
            self.layer.on_request(ctx)
            assert ctx.mcp is not None
            self.assertTrue(ctx.mcp.method.startswith("rpc."))

    def test_batch_with_a_request_is_refused(self) -> None:
        """A batch carrying any request (here a tools/call hidden second) is refused 400."""
        batch = [{"jsonrpc": "2.0", "method": "notifications/initialized"},
                 call("delete_all", {})]
        deny = self.deny(context(batch, who=identity(scopes="stoa:read")))
        self.assertEqual((deny.status, deny.error), (400, "batch_with_request"))

    def test_batch_of_notifications_and_responses_passes(self) -> None:
        """A batch of only notifications and responses is accepted and recorded as rpc.batch."""
        batch = [{"jsonrpc": "2.0", "method": "notifications/initialized"},
                 {"jsonrpc": "2.0", "id": 4, "result": {}}]
        ctx = context(batch)
        self.layer.on_request(ctx)
        assert ctx.mcp is not None
        self.assertEqual(ctx.mcp.method, "rpc.batch")

    def test_response_message_passes(self) -> None:
        """A client's JSON-RPC response (to a server request) is recorded as rpc.response."""
        ctx = context({"jsonrpc": "2.0", "id": 4, "result": {"roots": []}})
        self.layer.on_request(ctx)
        assert ctx.mcp is not None
        self.assertEqual((ctx.mcp.method, ctx.mcp.request_id), ("rpc.response", 4))


class HeaderTests(LayerFixture, SynchronousTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.list_tools(TOOLS, who=identity(scopes="stoa:read stoa:admin"))

    def test_matching_headers_pass(self) -> None:
        """Mcp-Method and Mcp-Name equal to the body pass, including the base64 form."""
        ctx = context(call("echo", {"text": "x"}), who=identity(),
                      headers={"Mcp-Method": "tools/call", "Mcp-Name": "=?base64?ZWNobw==?="})
        self.layer.on_request(ctx)

    def test_method_header_mismatch_is_400(self) -> None:
        """An Mcp-Method header that names another method than the body is refused 400."""
        deny = self.deny(context(call("delete_all", {}), who=identity(scopes="stoa:admin"),
                                 headers={"Mcp-Method": "tools/list"}))
        self.assertEqual((deny.status, deny.body["error"]["code"]), (400, -32020))  # type: ignore[index]

    def test_name_header_mismatch_is_400(self) -> None:
        """An Mcp-Name naming a harmless tool while the body calls another is refused 400."""
        deny = self.deny(context(call("delete_all", {}), who=identity(scopes="stoa:admin"),
                                 headers={"Mcp-Method": "tools/call", "Mcp-Name": "echo"}))
        self.assertEqual((deny.status, deny.error), (400, "header_mismatch"))
        self.assertEqual(deny.reason, "Mcp-Name header differs from the body")

    def test_corrupt_base64_name_header_is_400(self) -> None:
        """A malformed =?base64?...?= Mcp-Name never matches."""
        deny = self.deny(context(call("echo", {"text": "x"}), who=identity(),
                                 headers={"Mcp-Name": "=?base64?!!!?="}))
        self.assertEqual(deny.error, "header_mismatch")

    def test_name_header_on_an_unnamed_method_is_400(self) -> None:
        """Mcp-Name sent with a method that names nothing (or a batch) is refused."""
        deny = self.deny(context({"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                 headers={"Mcp-Name": "echo"}))
        self.assertEqual(deny.error, "header_mismatch")
        deny = self.deny(context([{"jsonrpc": "2.0", "method": "notifications/initialized"}],
                                 headers={"Mcp-Method": "notifications/initialized"}))
        self.assertEqual(deny.error, "header_mismatch")

    def test_origin_not_allowed_is_403(self) -> None:
        """A request with an Origin not in mcp.allowed_origins is refused 403 (DNS rebinding)."""
        deny = self.deny(context(call("echo", {"text": "x"}), who=identity(),
                                 headers={"Origin": "https://evil.example"}))
        self.assertEqual((deny.status, deny.error), (403, "origin_not_allowed"))

    def test_allowed_origin_passes(self) -> None:
        """An Origin listed in mcp.allowed_origins passes; no Origin at all passes too."""
        allowed = route(allowed_origins=frozenset({"https://app.example"}))
        self.list_tools(TOOLS, who=identity(), the_route=allowed)
        self.layer.on_request(context(call("echo", {"text": "x"}), who=identity(),
                                      headers={"Origin": "https://app.example"}, the_route=allowed))
        self.layer.on_request(context(call("echo", {"text": "x"}), who=identity(),
                                      the_route=allowed))


class ToolScopeTests(LayerFixture, SynchronousTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.list_tools(TOOLS, who=identity(scopes="stoa:read stoa:admin"))

    def test_call_with_the_scope_passes(self) -> None:
        """A caller holding the tool's scope may call it."""
        self.layer.on_request(context(call("echo", {"text": "x"}), who=identity()))

    def test_call_without_the_scope_is_403_with_challenge(self) -> None:
        """A call lacking the tool's scope is 403 with an insufficient_scope challenge naming it."""
        deny = self.deny(context(call("delete_all", {}), who=identity(scopes="stoa:read")))
        self.assertEqual((deny.status, deny.error), (403, "insufficient_scope"))
        challenge = dict(deny.headers)["WWW-Authenticate"]
        self.assertTrue(challenge.startswith('Bearer error="insufficient_scope", scope="stoa:admin"'))
        self.assertEqual(self.counter("stoad_mcp_denials_total", route="tools",
                                      error="insufficient_scope"), 1.0)

    def test_unconfigured_tool_is_refused(self) -> None:
        """A tool named in no mcp.tool_scopes entry (and no '*' entry) cannot be called."""
        deny = self.deny(context(call("secret", {}), who=identity(scopes="stoa:read stoa:admin")))
        self.assertEqual((deny.status, deny.error), (403, "tool_not_allowed"))

    def test_default_entry_covers_unlisted_tools(self) -> None:
        """With a '*' entry, an unlisted tool needs exactly the default scopes."""
        lenient = route(default_scopes=frozenset({"stoa:write"}))
        self.list_tools(TOOLS, who=identity(scopes="stoa:write"), the_route=lenient)
        self.layer.on_request(context(call("secret", {}), who=identity(scopes="stoa:write"),
                                      the_route=lenient))
        deny = self.deny(context(call("secret", {}), who=identity(scopes="stoa:read"),
                                 the_route=lenient))
        self.assertEqual(deny.error, "insufficient_scope")

    def test_without_identity_scoped_tools_are_refused(self) -> None:
        """With auth disabled (no identity), a tool needing scopes is refused; one needing none passes."""
        self.assertEqual(self.deny(context(call("echo", {"text": "x"}))).error,
                         "insufficient_scope")
        open_route = route(tool_scopes={"echo": frozenset()})
        self.list_tools(TOOLS, the_route=open_route)
        self.layer.on_request(context(call("echo", {"text": "x"}), the_route=open_route))

    def test_list_is_filtered_to_callable_tools(self) -> None:
        """tools/list keeps only the tools this caller may call (JSON response)."""
        result = self.list_tools(TOOLS, who=identity(scopes="stoa:read"))
        self.assertEqual([t["name"] for t in result["result"]["tools"]], ["echo"])
        self.assertEqual(self.counter("stoad_mcp_tools_hidden_total", route="tools"), 2.0 + 1.0)

    def test_sse_list_is_filtered(self) -> None:
        """tools/list answered as an event stream is filtered the same way."""
        result = self.list_tools(TOOLS, who=identity(scopes="stoa:admin"), sse=True)
        self.assertEqual([t["name"] for t in result["result"]["tools"]], ["delete_all"])

    def test_unfiltered_list_is_passed_byte_for_byte(self) -> None:
        """When nothing is removed, the upstream's bytes go out unchanged."""
        ctx = context({"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                      who=identity(scopes="stoa:read stoa:admin"))
        self.layer.on_request(ctx)
        payload = json.dumps(tools_list_response(TOOLS[:2]), indent=3).encode()
        body_filter = self.layer.on_response(
            ctx, ResponseHead(200, {"content-type": ["application/json"]}))
        self.assertEqual(body_filter.feed(payload) + body_filter.finish(), payload)

    def test_escaped_tools_key_is_still_filtered(self) -> None:
        """A result key spelled with JSON escapes ('\\u0074ools') does not slip past the filter."""
        ctx = context({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, who=identity())
        self.layer.on_request(ctx)
        payload = json.dumps(tools_list_response(TOOLS)).replace('"tools"', '"\\u0074ools"')
        body_filter = self.layer.on_response(
            ctx, ResponseHead(200, {"content-type": ["text/event-stream"]}))
        out = body_filter.feed(b"data: " + payload.encode() + b"\n\n") + body_filter.finish()
        data = json.loads(out.decode().split("data: ", 1)[1])
        self.assertEqual([t["name"] for t in data["result"]["tools"]], ["echo"])

    def test_malformed_tools_list_result_is_502(self) -> None:
        """An upstream tools/list whose tools are not objects with names is refused, not passed."""
        ctx = context({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, who=identity())
        self.layer.on_request(ctx)
        body_filter = self.layer.on_response(
            ctx, ResponseHead(200, {"content-type": ["application/json"]}))
        body_filter.feed(json.dumps(tools_list_response([{"nom": "x"}])).encode())
        self.assertRaises(Deny, body_filter.finish)

    def test_error_responses_get_no_filter(self) -> None:
        """A 4xx from the upstream is passed through without a body filter."""
        ctx = context({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, who=identity())
        self.layer.on_request(ctx)
        self.assertIsNone(self.layer.on_response(
            ctx, ResponseHead(404, {"content-type": ["application/json"]})))


class SchemaTests(LayerFixture, SynchronousTestCase):
    def test_unknown_tool_schema_fails_closed(self) -> None:
        """Before the route's tools/list was seen, a call is refused 422 (no schema to check)."""
        deny = self.deny(context(call("echo", {"text": "x"}), who=identity()))
        self.assertEqual((deny.status, deny.error), (422, "tool_not_advertised"))

    def test_arguments_violating_the_schema_are_422(self) -> None:
        """Arguments that break the advertised inputSchema are refused 422 with invalid params."""
        self.list_tools(TOOLS, who=identity())
        for arguments in ({"text": 5}, {}, {"text": "x", "extra": 1}, {"text": "y" * 65}):
            deny = self.deny(context(call("echo", arguments), who=identity()))
            self.assertEqual((deny.status, deny.error, deny.body["error"]["code"]),  # type: ignore[index]
                             (422, "invalid_arguments", -32602), arguments)

    def test_missing_arguments_are_checked_as_empty(self) -> None:
        """A call with no arguments at all is validated as {} (here: a required key is missing)."""
        self.list_tools(TOOLS, who=identity())
        self.assertEqual(self.deny(context(call("echo"), who=identity())).error, "invalid_arguments")

    def test_unresolvable_ref_fails_closed(self) -> None:
        """A schema with a $ref stoad cannot resolve (no network fetch) refuses the call."""
        tools = [{"name": "echo", "inputSchema": {"$ref": "https://schemas.invalid/x.json"}}]
        self.list_tools(tools, who=identity())
        self.assertEqual(self.deny(context(call("echo", {}), who=identity())).error,
                         "invalid_tool_schema")

    def test_invalid_schema_fails_closed(self) -> None:
        """An advertised inputSchema that is not a valid JSON Schema refuses every call."""
        self.list_tools([{"name": "echo", "inputSchema": {"type": 12}}], who=identity())
        self.assertEqual(self.deny(context(call("echo", {}), who=identity())).error,
                         "invalid_tool_schema")

    def test_schema_is_per_route(self) -> None:
        """What one route's upstream advertised never validates calls on another route."""
        self.list_tools(TOOLS, who=identity())
        other = route()
        other = Route(**{**other.__dict__, "name": "other"})
        deny = self.deny(context(call("echo", {"text": "x"}), who=identity(), the_route=other))
        self.assertEqual(deny.error, "tool_not_advertised")


class DriftTests(LayerFixture, SynchronousTestCase):
    def changed(self) -> list[dict[str, Any]]:
        tools = [dict(t) for t in TOOLS]
        tools[0]["description"] = "Echo text, trimmed to 64 characters."
        return tools

    def test_changed_definition_alerts_and_blocks(self) -> None:
        """A changed definition raises mcp_tool_changed once, hides the tool and blocks calls."""
        self.list_tools(TOOLS, who=identity())
        result = self.list_tools(self.changed(), who=identity())
        self.list_tools(self.changed(), who=identity())
        self.assertEqual(result["result"]["tools"], [])
        changes = [a for a in self.alerts if a[0] == "mcp_tool_changed"]
        self.assertEqual(len(changes), 1)
        self.assertEqual((changes[0][1], changes[0][2]["tool"], changes[0][2]["action"]),
                         ("high", "echo", "block"))
        deny = self.deny(context(call("echo", {"text": "x"}), who=identity()))
        self.assertEqual((deny.status, deny.error), (403, "tool_definition_changed"))

    def test_key_order_is_not_a_change(self) -> None:
        """The same definition with keys in another order is not a change."""
        self.list_tools(TOOLS, who=identity())
        reordered = [dict(reversed(list(t.items()))) for t in TOOLS]
        self.list_tools(reordered, who=identity())
        self.assertEqual([a for a in self.alerts if a[0] == "mcp_tool_changed"], [])

    def test_accepting_unblocks(self) -> None:
        """After the operator accepts the change, calls pass and are checked against it."""
        self.list_tools(TOOLS, who=identity())
        self.list_tools(self.changed(), who=identity())
        self.layer.tools.accept("tools", "echo")
        self.layer.on_request(context(call("echo", {"text": "x"}), who=identity()))
        self.assertEqual(self.deny(context(call("echo", {"text": 1}), who=identity())).error,
                         "invalid_arguments")

    def test_acceptance_by_another_process_is_seen(self) -> None:
        """An acceptance written to the state file by the CLI's own store unblocks this layer."""
        from stoad.mcp import ToolDefinitionStore

        self.list_tools(TOOLS, who=identity())
        self.list_tools(self.changed(), who=identity())
        ToolDefinitionStore(os.path.join(self.state_dir, "mcp-tools.json")).accept("tools", "echo")
        self.layer.on_request(context(call("echo", {"text": "x"}), who=identity()))

    def test_alert_mode_passes_and_validates_new_schema(self) -> None:
        """With on_tool_change = alert, the change is alerted but calls use the new schema."""
        lenient = route(on_tool_change="alert")
        self.list_tools(TOOLS, who=identity(), the_route=lenient)
        tools = self.changed()
        tools[0]["inputSchema"] = {"type": "object", "properties": {"n": {"type": "integer"}},
                                   "required": ["n"]}
        result = self.list_tools(tools, who=identity(), the_route=lenient)
        self.assertEqual([t["name"] for t in result["result"]["tools"]], ["echo"])
        self.assertEqual(len([a for a in self.alerts if a[0] == "mcp_tool_changed"]), 1)
        self.layer.on_request(context(call("echo", {"n": 3}), who=identity(), the_route=lenient))
        self.assertEqual(self.deny(context(call("echo", {"text": "x"}), who=identity(),
                                           the_route=lenient)).error, "invalid_arguments")

    def test_new_tool_on_known_route_is_alerted(self) -> None:
        """A tool name that appears after the first listing raises mcp_tool_added."""
        self.list_tools(TOOLS[:1], who=identity())
        self.assertEqual(self.alerts, [])
        self.list_tools(TOOLS, who=identity())
        self.assertEqual(sorted(a[2]["tool"] for a in self.alerts if a[0] == "mcp_tool_added"),
                         ["delete_all", "secret"])

    def test_state_survives_a_new_layer(self) -> None:
        """A restarted layer (same state dir) still knows the schemas and the pending change."""
        self.list_tools(TOOLS, who=identity())
        self.list_tools(self.changed(), who=identity())
        fresh = McpLayer(McpSettings(), self.services)
        try:
            fresh.on_request(context(call("echo", {"text": "x"}), who=identity()))
        except Deny as deny:
            self.assertEqual(deny.error, "tool_definition_changed")
        else:
            self.fail("the pending change was forgotten")


class SessionTests(LayerFixture, SynchronousTestCase):
    def initialize(self, who: Identity, session_id: str = "sess-A") -> RequestContext:
        ctx = context({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}, who=who)
        self.layer.on_request(ctx)
        self.layer.on_response(ctx, ResponseHead(200, {"content-type": ["application/json"],
                                                       "mcp-session-id": [session_id]}))
        return ctx

    def test_issued_session_id_is_recorded(self) -> None:
        """The session id the upstream issues on initialize is put in ctx.mcp.session_id."""
        ctx = self.initialize(identity("agent-a"))
        assert ctx.mcp is not None
        self.assertEqual(ctx.mcp.session_id, "sess-A")

    def test_owner_may_use_its_session(self) -> None:
        """The consumer the session was issued to may keep presenting it."""
        self.initialize(identity("agent-a"))
        self.layer.on_request(context({"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                      who=identity("agent-a"), headers={"Mcp-Session-Id": "sess-A"}))

    def test_other_consumer_presenting_it_is_403_and_alerted(self) -> None:
        """A session issued to A and presented by B is refused 403 with an mcp_session_hijack alert."""
        self.initialize(identity("agent-a"))
        deny = self.deny(context({"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                 who=identity("agent-b"), headers={"Mcp-Session-Id": "sess-A"}))
        self.assertEqual((deny.status, deny.error), (403, "session_not_owned"))
        [(kind, severity, details)] = self.alerts
        self.assertEqual((kind, severity, details["owner"], details["presented_by"]),
                         ("mcp_session_hijack", "high", "consumer:agent-a agent:agent-a cert:-",
                          "consumer:agent-b agent:agent-b cert:-"))
        self.assertNotIn("sess-A", repr(details))
        self.assertEqual(self.counter("stoad_mcp_session_hijack_attempts_total", route="tools"), 1.0)

    def test_hijack_on_the_get_stream_is_refused(self) -> None:
        """The GET event stream of another consumer's session is refused the same way."""
        self.initialize(identity("agent-a"))
        deny = self.deny(context(method="GET", who=identity("agent-b"), content_type="",
                                 headers={"Mcp-Session-Id": "sess-A"}))
        self.assertEqual(deny.status, 403)

    def test_without_identity_the_certificate_owns_the_session(self) -> None:
        """With auth disabled, sessions are bound to the client certificate thumbprint."""
        def peer(thumb: str) -> PeerCertificate:
            return PeerCertificate(b"", thumb, "CN=x", "CN=ca", "x", (), (), "1", "")

        ctx = context({"jsonrpc": "2.0", "id": 0, "method": "initialize"}, peer=peer("T1"))
        self.layer.on_request(ctx)
        self.layer.on_response(ctx, ResponseHead(200, {"mcp-session-id": ["s"]}))
        deny = self.deny(context({"jsonrpc": "2.0", "id": 1, "method": "ping"}, peer=peer("T2"),
                                 headers={"Mcp-Session-Id": "s"}))
        self.assertEqual(deny.error, "session_not_owned")

    def test_presented_unknown_session_is_bound_when_upstream_accepts(self) -> None:
        """A session known only upstream is bound to the first consumer the upstream accepts it from."""
        ctx = context({"jsonrpc": "2.0", "id": 1, "method": "ping"}, who=identity("agent-a"),
                      headers={"Mcp-Session-Id": "old"})
        self.layer.on_request(ctx)
        self.layer.on_response(ctx, ResponseHead(200, {}))
        self.assertEqual(self.deny(context({"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                           who=identity("agent-b"),
                                           headers={"Mcp-Session-Id": "old"})).status, 403)

    def test_rejected_made_up_session_binds_nobody(self) -> None:
        """A made-up session id the upstream answers 404 to is not bound to the one who made it up."""
        ctx = context({"jsonrpc": "2.0", "id": 1, "method": "ping"}, who=identity("mallory"),
                      headers={"Mcp-Session-Id": "future"})
        self.layer.on_request(ctx)
        self.layer.on_response(ctx, ResponseHead(404, {}))
        self.initialize(identity("agent-a"), session_id="future")
        self.layer.on_request(context({"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                      who=identity("agent-a"), headers={"Mcp-Session-Id": "future"}))

    def test_terminated_session_is_forgotten(self) -> None:
        """After the owner's DELETE succeeds, the binding is gone."""
        self.initialize(identity("agent-a"))
        ctx = context(method="DELETE", who=identity("agent-a"), content_type="",
                      headers={"Mcp-Session-Id": "sess-A"})
        self.layer.on_request(ctx)
        self.layer.on_response(ctx, ResponseHead(200, {}))
        self.assertEqual(len(self.layer.sessions), 0)

    def test_bindings_are_bounded(self) -> None:
        """No more than max_sessions bindings are kept; the oldest go first."""
        for n in range(40):
            self.initialize(identity("agent-a"), session_id=f"s{n}")
        self.assertEqual(len(self.layer.sessions), 16)
