"""MCP 2026-07-28 requests are held to their routing headers exactly as the SDK's server holds
them (mcp.shared.inbound.classify_inbound_request, rungs 1 and 2)."""

from __future__ import annotations

import itertools
from typing import Any

from mcp.shared.inbound import InboundLadderRejection, classify_inbound_request
from twisted.trial.unittest import SynchronousTestCase

from stoad.runtime.deny import Deny
from tests.test_mcp_layer import LayerFixture, call, context

MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {}}


def envelope(message: dict[str, Any], meta: dict[str, Any] | None = META) -> dict[str, Any]:
    params = dict(message.get("params") or {})
    if meta is not None:
        params["_meta"] = meta
    return {**message, "params": params}


class EnvelopeHeaderTests(LayerFixture, SynchronousTestCase):
    def refusal(self, body: dict[str, Any], headers: dict[str, str]) -> Deny | None:
        try:
            self.layer.on_request(context(body, headers=headers))
        except Deny as deny:
            return deny
        return None

    def test_tools_call_without_mcp_name_is_refused(self) -> None:
        """A 2026-07-28 tools/call without Mcp-Name is 400 with JSON-RPC code -32020."""
        deny = self.refusal(envelope(call("echo")), {"MCP-Protocol-Version": MODERN,
                                                     "Mcp-Method": "tools/call"})
        assert deny is not None
        self.assertEqual((deny.status, deny.error), (400, "header_mismatch"))
        self.assertEqual(deny.body["error"]["code"], -32020)  # type: ignore[index]

    def test_missing_mcp_method_or_envelope_is_refused(self) -> None:
        """Without Mcp-Method, or without params._meta, the request is refused."""
        self.assertEqual(self.refusal(envelope({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
                                      {"MCP-Protocol-Version": MODERN}).status, 400)
        self.assertEqual(self.refusal(envelope(call("echo"), meta=None),
                                      {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call",
                                       "Mcp-Name": "echo"}).status, 400)

    def test_repeated_routing_header_is_refused(self) -> None:
        """Mcp-Method sent twice is refused whatever the values (first and last readers differ)."""
        ctx = context(envelope({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
                      headers={"MCP-Protocol-Version": MODERN})
        ctx.headers["mcp-method"] = ["tools/list", "tools/call"]
        self.assertRaises(Deny, self.layer.on_request, ctx)

    def test_handshake_era_requests_need_no_routing_headers(self) -> None:
        """A 2025-06-18 tools/list without Mcp-Method passes (that revision has no such rule)."""
        self.assertIsNone(self.refusal({"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                       {"MCP-Protocol-Version": "2025-06-18"}))

    def test_refusals_match_the_sdk_ladder(self) -> None:
        """Over every combination of present/absent/wrong routing headers and envelope, for
        tools/call, prompts/get, resources/read and tools/list: stoad refuses at the header
        stage exactly when the SDK's inbound ladder rejects (an Mcp-Name on tools/list, which
        stoad refuses and the SDK ignores, is left out)."""
        messages = [call("echo"),
                    {"jsonrpc": "2.0", "id": 3, "method": "prompts/get", "params": {"name": "p"}},
                    {"jsonrpc": "2.0", "id": 4, "method": "resources/read",
                     "params": {"uri": "file:///a"}},
                    {"jsonrpc": "2.0", "id": 5, "method": "tools/list"}]
        checked = 0
        for message, meta, method_h, name_h, version_h in itertools.product(
                messages, (META, None, {**META, "io.modelcontextprotocol/protocolVersion": "x"}),
                ("right", "wrong", None), ("right", "wrong", None), (MODERN,)):
            body = envelope(message, meta)
            params = body["params"]
            if message["method"] == "tools/list" and name_h is not None:
                # Stricter than the SDK, by design: an Mcp-Name on a method that names nothing
                # is refused (the existing rule), so these pairs are not compared.
                continue
            name = params.get("name") or params.get("uri")
            headers = {"mcp-protocol-version": version_h}
            if method_h is not None:
                headers["mcp-method"] = message["method"] if method_h == "right" else "other/x"
            if name_h is not None:
                headers["mcp-name"] = (name or "n") if name_h == "right" else "other"
            sdk = classify_inbound_request(body, headers=headers)
            deny = self.refusal(body, headers)
            stoad_refused_routing = deny is not None and deny.error in (
                "header_mismatch", "invalid_params")
            self.assertEqual(stoad_refused_routing, isinstance(sdk, InboundLadderRejection),
                             (message["method"], meta is not None, method_h, name_h, deny))
            checked += 1
        self.assertEqual(checked, 3 * 3 * 3 * 3 + 3 * 3)
