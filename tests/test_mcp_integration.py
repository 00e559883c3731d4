"""
The real daemon with the mcp layer in front of a real MCP SDK server, driven by the SDK client
over mTLS: discovery is filtered, calls are checked, sessions stay with their owner, and a
changed tool definition is blocked until accepted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import tempfile
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from stoad.dev.devpki import write_dev_pki
from stoad.mcp import cli as tools_cli
from tests.support.daemon import StoadDaemon, gateway_config
from tests.support.mcp_upstream import McpUpstream, refused, run, sdk_client

TOOL_SCOPES = "delete_all = stoa:admin; * ="



def initialize_body() -> bytes:
    return json.dumps({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "1"}},
    }).encode()


MCP_HEADERS = {"Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}


class GatewayWithMcp:
    """An MCP SDK upstream and a daemon with only the mcp layer, fresh for each test."""

    upstream_options: tuple[str, ...] = ()
    on_tool_change = "block"

    def setUp(self) -> None:
        # Per test (trial has no class-level set-up): a fresh upstream, state dir and daemon.
        self.tmp = tempfile.mkdtemp(prefix="stoad-mcp-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.upstream = McpUpstream(*self.upstream_options).start()
        self.addCleanup(self.upstream.stop)
        self.pki = write_dev_pki(os.path.join(self.tmp, "pki"))
        text = gateway_config(
            self.pki, state_dir=os.path.join(self.tmp, "state"),
            admin_socket=os.path.join(self.tmp, "admin.sock"),
            routes={"tools": {"prefix": "/mcp", "upstream": self.upstream.origin, "mcp": "yes",
                              "mcp.tool_scopes": TOOL_SCOPES,
                              "mcp.on_tool_change": self.on_tool_change}},
            layers=("mcp",))
        self.daemon = StoadDaemon(self.tmp, text, pki=self.pki)
        self.addCleanup(self.daemon.kill)
        self.addCleanup(self.daemon.stop)
        self.daemon.start()

    def client(self, cert: str = "agent-1", mode: str = "legacy", **options: Any) -> Any:
        return sdk_client(self.daemon.url("/mcp"), self.daemon.ssl_context(cert), mode=mode,
                          **options)

    def post(self, body: bytes, cert: str = "agent-1",
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        return self.daemon.request("POST", "/mcp", body=body, cert=cert,
                                   headers={**MCP_HEADERS, **(headers or {})})


class McpThroughStoadTests(GatewayWithMcp, SynchronousTestCase):
    def test_list_is_filtered_and_allowed_call_works(self) -> None:
        """initialize + tools/list (delete_all hidden: needs a scope) + an allowed echo call."""
        async def conversation() -> tuple[list[str], Any]:
            async with self.client() as client:
                tools = await client.list_tools()
                result = await client.call_tool("echo", {"text": "hello through stoad"})
                return [t.name for t in tools.tools], result

        names, result = run(conversation)
        self.assertEqual(sorted(names), ["customer_record", "deploy_config", "echo", "long_task"])
        self.assertFalse(result.is_error)
        self.assertEqual(result.content[0].text, "hello through stoad")

    def test_modern_protocol_works_too(self) -> None:
        """The SDK's default negotiation (server/discover, no session) passes the layer."""
        async def conversation() -> list[str]:
            async with self.client(mode="auto") as client:
                tools = await client.list_tools()
                await client.call_tool("echo", {"text": "x"})
                return [t.name for t in tools.tools]

        self.assertNotIn("delete_all", run(conversation))

    def test_call_needing_a_missing_scope_is_refused(self) -> None:
        """Calling the hidden admin tool anyway is refused 403 with an insufficient_scope challenge."""
        async def conversation() -> Any:
            async with self.client() as client:
                await client.list_tools()
                return await refused(client.call_tool("delete_all", {"confirm": True}))

        error = run(conversation)
        self.assertEqual(error.error.code, -32001)
        status, headers, body = self.post(json.dumps({
            "jsonrpc": "2.0", "id": 9, "method": "tools/call",
            "params": {"name": "delete_all", "arguments": {"confirm": True}}}).encode())
        self.assertEqual(status, 403)
        self.assertIn('error="insufficient_scope"', headers["www-authenticate"])
        self.assertIn('scope="stoa:admin"', headers["www-authenticate"])

    def test_input_schema_violation_is_refused(self) -> None:
        """Arguments that break the tool's advertised inputSchema never reach the upstream."""
        async def conversation() -> Any:
            async with self.client() as client:
                await client.list_tools()
                return await refused(client.call_tool("customer_record",
                                                      {"customer_id": "1 OR 1=1"}))

        error = run(conversation)
        self.assertEqual(error.error.code, -32602)
        self.assertIn("stoad_mcp_denials_total{error=\"invalid_arguments\",route=\"tools\"}",
                      self.daemon.metrics())

    def test_progress_streams_through(self) -> None:
        """A tool reporting progress over SSE reaches the client event by event."""
        seen: list[float] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append(progress)

        async def conversation() -> Any:
            async with self.client() as client:
                await client.list_tools()
                return await client.call_tool("long_task", {"steps": 4},
                                              progress_callback=on_progress)

        result = run(conversation)
        self.assertEqual(result.content[0].text, "done after 4 steps")
        self.assertEqual(seen, [1.0, 2.0, 3.0, 4.0])

    def test_session_presented_by_another_consumer_is_refused(self) -> None:
        """A session issued to agent-1 and then presented by agent-2 is refused 403."""
        status, headers, _ = self.post(initialize_body(), cert="agent-1")
        self.assertEqual(status, 200)
        session = headers["mcp-session-id"]
        ping = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"}).encode()
        status, _, _ = self.post(ping, cert="agent-1", headers={"Mcp-Session-Id": session,
                                                                "Mcp-Protocol-Version": "2025-06-18"})
        self.assertEqual(status, 200)
        status, _, body = self.post(ping, cert="agent-2", headers={"Mcp-Session-Id": session,
                                                                   "Mcp-Protocol-Version": "2025-06-18"})
        self.assertEqual(status, 403)
        self.assertEqual(json.loads(body)["error"]["code"], -32001)
        self.assertIn("stoad_mcp_session_hijack_attempts_total{route=\"tools\"} 1.0",
                      self.daemon.metrics())

    def test_malformed_message_never_reaches_upstream(self) -> None:
        """A body that is not JSON-RPC is answered 400 with a JSON-RPC parse error by stoad."""
        status, _, body = self.post(b'{"jsonrpc": "2.0", "method": ')
        self.assertEqual((status, json.loads(body)["error"]["code"]), (400, -32700))

    def test_name_header_mismatch_is_refused(self) -> None:
        """An Mcp-Name header naming another tool than the body is refused 400."""
        status, _, body = self.post(json.dumps({
            "jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "deploy_config", "arguments": {}}}).encode(),
            headers={"Mcp-Method": "tools/call", "Mcp-Name": "echo"})
        self.assertEqual((status, json.loads(body)["error"]["code"]), (400, -32020))

    def test_foreign_origin_is_refused(self) -> None:
        """A browser-style request from an origin not allowed is refused 403."""
        status, _, _ = self.post(initialize_body(), headers={"Origin": "https://evil.example"})
        self.assertEqual(status, 403)


class JsonResponseUpstreamTests(GatewayWithMcp, SynchronousTestCase):
    upstream_options = ("--json-response",)

    def test_json_tools_list_is_filtered(self) -> None:
        """An upstream answering application/json gets its tools/list filtered the same way."""
        async def conversation() -> list[str]:
            async with self.client() as client:
                tools = await client.list_tools()
                await client.call_tool("echo", {"text": "x"})
                return [t.name for t in tools.tools]

        self.assertEqual(sorted(run(conversation)),
                         ["customer_record", "deploy_config", "echo", "long_task"])


class ToolDriftTests(GatewayWithMcp, SynchronousTestCase):
    def accept(self, *argv: str) -> tuple[int, str]:
        parser = argparse.ArgumentParser(prog="stoad")
        tools_cli.add_subcommands(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(["tools", *argv])
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = int(args.func(args))
        return code, out.getvalue()

    def test_rug_pull_is_blocked_until_accepted(self) -> None:
        """A changed echo definition hides and blocks echo until `stoad tools accept`."""
        async def list_names() -> list[str]:
            async with self.client() as client:
                return [t.name for t in (await client.list_tools()).tools]

        async def call_echo() -> Any:
            async with self.client() as client:
                return await client.call_tool("echo", {"text": "x"})

        async def refused_echo() -> Any:
            async with self.client() as client:
                return await refused(client.call_tool("echo", {"text": "x"}))

        self.assertIn("echo", run(list_names))
        self.assertEqual(run(call_echo).content[0].text, "x")
        # The rug pull goes straight to the upstream, not through stoad.
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(
            self.upstream.origin + "/fixture/rug-pull", method="POST"), timeout=10).read()
        self.assertNotIn("echo", run(list_names))
        error = run(refused_echo)
        self.assertEqual(error.error.code, -32001)
        self.assertIn("stoad_mcp_tool_definition_changes_total{route=\"tools\"} 1.0",
                      self.daemon.metrics())
        code, out = self.accept("accept", "--config", self.daemon.config_path, "tools", "echo")
        self.assertEqual(code, 0, out)
        self.assertIn("echo", run(list_names))
        self.assertEqual(run(call_echo).content[0].text, "x")


class PoisonedToolInAlertModeTests(ToolDriftTests):
    """
    The same rug pull with C{mcp.on_tool_change = alert}: a plain change would pass with an alert,
    but this one tells the model to read ~/.ssh/id_rsa (tool poisoning), so it is hidden and
    blocked until accepted all the same.
    """

    on_tool_change = "alert"


class McpWithTokensTests(SynchronousTestCase):
    """
    The auth layer with the real authorization server in front of the mcp layer: the SDK
    client presents a certificate-bound ES256 token, and tool access follows its scopes.
    """

    audience = "https://stoad.test/mcp"

    def setUp(self) -> None:
        from tests.support import oidc

        self.tmp = tempfile.mkdtemp(prefix="stoad-mcp-auth-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.pki = write_dev_pki(os.path.join(self.tmp, "pki"))
        self.upstream = McpUpstream().start()
        self.addCleanup(self.upstream.stop)
        self.authz = oidc.AuthorizationServer.from_dev_pki(
            os.path.join(self.tmp, "oidc"), self.pki,
            resources=[oidc.Resource(self.audience, format="jwt", alg="ES256")])
        self.addCleanup(self.authz.stop)
        self.authz.start()
        consumers = os.path.join(self.tmp, "consumers.ini")
        with open(consumers, "w") as f:
            for agent in ("agent-1", "agent-2"):
                f.write(f"[consumer:{agent}]\nclient_id = {agent}\ntier = standard\n"
                        "routes = tools\n\n")
        text = gateway_config(
            self.pki, state_dir=os.path.join(self.tmp, "state"),
            admin_socket=os.path.join(self.tmp, "admin.sock"),
            routes={"tools": {"prefix": "/mcp", "upstream": self.upstream.origin,
                              "audiences": self.audience, "scopes.POST": "stoa:read",
                              "scopes.GET": "stoa:read", "scopes.DELETE": "stoa:read",
                              "mcp": "yes", "mcp.tool_scopes": TOOL_SCOPES}},
            layers=("auth", "mcp"),
            sections={"auth": {"issuer": self.authz.issuer, "algorithms": "ES256",
                               "consumers": consumers,
                               "authorization_server_ca": self.pki["ca"]}})
        self.daemon = StoadDaemon(self.tmp, text, pki=self.pki)
        self.addCleanup(self.daemon.kill)
        self.addCleanup(self.daemon.stop)
        self.daemon.start()

    def client(self, agent: str, scope: str) -> Any:
        token = self.authz.client_credentials(agent, resource=self.audience, scope=scope)
        return sdk_client(self.daemon.url("/mcp"), self.daemon.ssl_context(agent),
                          headers={"Authorization": f"Bearer {token.access_token}"})

    def test_scopes_decide_discovery_and_calls(self) -> None:
        """stoa:read sees no admin tool and is refused it; stoa:admin sees and calls it."""
        async def reader() -> tuple[list[str], Any, Any]:
            async with self.client("agent-1", "stoa:read") as client:
                names = [t.name for t in (await client.list_tools()).tools]
                echoed = await client.call_tool("echo", {"text": "bound token"})
                error = await refused(client.call_tool("delete_all", {"confirm": True}))
                return names, echoed, error

        names, echoed, error = run(reader)
        self.assertNotIn("delete_all", names)
        self.assertEqual(echoed.content[0].text, "bound token")
        self.assertEqual(error.error.code, -32001)

        async def admin() -> tuple[list[str], Any]:
            async with self.client("agent-2", "stoa:read stoa:admin") as client:
                names = [t.name for t in (await client.list_tools()).tools]
                return names, await client.call_tool("delete_all", {"confirm": False})

        names, result = run(admin)
        self.assertIn("delete_all", names)
        self.assertEqual(result.content[0].text, "not confirmed")

    def test_session_of_one_consumer_is_refused_to_another(self) -> None:
        """agent-2 with its own valid token cannot ride agent-1's MCP session."""
        token1 = self.authz.client_credentials("agent-1", resource=self.audience).access_token
        token2 = self.authz.client_credentials("agent-2", resource=self.audience).access_token
        status, headers, _ = self.daemon.request(
            "POST", "/mcp", body=initialize_body(), cert="agent-1",
            headers={**MCP_HEADERS, "Authorization": f"Bearer {token1}"})
        self.assertEqual(status, 200)
        ping = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"}).encode()
        status, _, _ = self.daemon.request(
            "POST", "/mcp", body=ping, cert="agent-2",
            headers={**MCP_HEADERS, "Authorization": f"Bearer {token2}",
                     "Mcp-Session-Id": headers["mcp-session-id"],
                     "Mcp-Protocol-Version": "2025-06-18"})
        self.assertEqual(status, 403)
