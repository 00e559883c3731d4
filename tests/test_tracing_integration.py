"""
The real daemon with [tracing] on, exporting over OTLP/HTTP to a real OpenTelemetry Collector
(mk/otelcol.mk): the spans of an allowed call, a policy denial and an MCP tool call arrive with
their parent/child links and attributes, the upstream is called in the client's trace, and the
audit record names the trace.
"""

from __future__ import annotations

import os
import time
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from stoad.audit._chain import ChainReader, chain_directories, load_public_key
from stoad.dev.devpki import write_dev_pki
from tests.support.audit import write_key, write_public_key
from tests.support.daemon import SharedProcessesCase, StoadDaemon, gateway_config
from tests.support.mcp_upstream import McpUpstream, run, sdk_client
from tests.support.otelcol import OtelCollector
from tests.support.upstream import Upstream

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
META_TRACE = "0af7651916cd43dd8448eb211c80319c"
META_SPAN = "b7ad6b7169203331"

POLICY = """\
package stoa.authz
import rego.v1

default decision := {"allow": true, "reason": "not forbidden"}

decision := {"allow": false, "reason": "forbidden path"} if {
    startswith(input.request.path, "/api/forbidden")
}
"""


def in_trace(spans: list[dict[str, Any]], trace_id: str) -> dict[str, dict[str, Any]]:
    return {span["name"]: span for span in spans if span["trace_id"] == trace_id}


class TracingThroughCollectorTests(SharedProcessesCase, SynchronousTestCase):
    """One collector, upstreams and daemon for the class (started on first use)."""

    TMP_PREFIX = "stoad-trace-"

    @classmethod
    def _start(cls) -> None:
        cls.collector = OtelCollector(cls.tmp).start()
        cls.started.append(cls.collector)
        cls.upstream = Upstream()
        cls.started.append(cls.upstream)
        cls.mcp_upstream = McpUpstream().start()
        cls.started.append(cls.mcp_upstream)
        cls.pki = write_dev_pki(os.path.join(cls.tmp, "pki"))
        policies = os.path.join(cls.tmp, "policies")
        os.makedirs(policies)
        with open(os.path.join(policies, "authz.rego"), "w", encoding="utf-8") as f:
            f.write(POLICY)
        key = write_key(os.path.join(cls.tmp, "keys"))
        cls.audit_public_key = write_public_key(key)
        cls.audit_dir = os.path.join(cls.tmp, "audit")
        text = gateway_config(
            cls.pki, state_dir=os.path.join(cls.tmp, "state"),
            admin_socket=os.path.join(cls.tmp, "admin.sock"),
            routes={"api": {"prefix": "/api", "upstream": cls.upstream.url},
                    "tools": {"prefix": "/mcp", "upstream": cls.mcp_upstream.origin,
                              "mcp": "yes", "mcp.tool_scopes": "* ="}},
            layers=("audit", "mcp", "policy"),
            sections={
                "audit": {"directory": cls.audit_dir, "signing_key": key,
                          "fsync_interval": "10ms", "checkpoint_interval": "1s"},
                "policy": {"directory": policies},
                "tracing": {"enabled": "yes", "endpoint": cls.collector.endpoint,
                            "service_name": "stoad-test", "schedule_delay": "50ms",
                            "export_timeout": "5s"},
            })
        workdir = os.path.join(cls.tmp, "daemon")
        os.makedirs(workdir)
        cls.daemon = StoadDaemon(workdir, text, admin_socket=os.path.join(cls.tmp, "admin.sock"),
                                 pki=cls.pki)
        cls.started.append(cls.daemon)
        cls.daemon.start()

    def audit_record(self, request_path: str) -> dict[str, Any]:
        key = load_public_key(self.audit_public_key)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for directory in chain_directories(self.audit_dir):
                for record in ChainReader(directory, key).records():
                    if record.get("path") == request_path:
                        return record
            time.sleep(0.05)
        raise AssertionError(f"no audit record for {request_path}")

    def test_allowed_call_is_one_trace_from_client_to_upstream(self) -> None:
        """An allowed call continues the client's trace: a server span with its layer steps and
        a client span as children, the upstream called with stoad's client span as parent,
        the query string nowhere, and the audit record naming the trace."""
        status, _, _ = self.daemon.request(
            "GET", "/api/items/allowed?api_key=hunter2",
            headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
                     "User-Agent": "trace-test/1"})
        self.assertEqual(status, 200)
        spans = self.collector.wait_for_spans(
            lambda all_spans: (lambda s: s if {"GET /api", "GET"} <= set(s) else None)(
                in_trace(all_spans, CLIENT_TRACE)), what="the allowed call's spans")
        server, client = spans["GET /api"], spans["GET"]
        self.assertEqual(server["kind"], "server")
        self.assertEqual(server["parent_span_id"], CLIENT_SPAN)
        self.assertEqual(server["resource"]["service.name"], "stoad-test")
        for step in ("audit request", "mcp request", "policy request", "audit before_forward",
                     "policy response"):
            self.assertEqual(spans[step]["parent_span_id"], server["span_id"], step)
            self.assertEqual(spans[step]["attributes"]["stoad.decision"], "allow", step)
        self.assertEqual(client["kind"], "client")
        self.assertEqual(client["parent_span_id"], server["span_id"])
        attributes = server["attributes"]
        self.assertEqual((attributes["http.request.method"], attributes["http.route"],
                          attributes["url.path"], attributes["http.response.status_code"],
                          attributes["stoad.outcome"], attributes["user_agent.original"]),
                         ("GET", "/api", "/api/items/allowed", 200, "allowed", "trace-test/1"))
        self.assertEqual(client["attributes"]["http.response.status_code"], 200)
        self.assertEqual(client["attributes"]["server.port"], self.upstream.port)
        self.assertNotIn("hunter2", repr(spans))
        forwarded = [r for r in self.upstream.requests if r["path"].startswith("/api/items/allowed")]
        traceparents = [v for k, v in forwarded[0]["headers"] if k == "traceparent"]
        self.assertEqual(traceparents, [f"00-{CLIENT_TRACE}-{client['span_id']}-01"])
        self.assertEqual(self.audit_record("/api/items/allowed")["trace_id"], CLIENT_TRACE)

    def test_policy_denial_is_traced_with_the_denying_step(self) -> None:
        """A policy refusal: the server span says denied by policy (403, no error status), the
        policy step span says deny, and there is no upstream span."""
        trace = "1" * 32
        status, _, _ = self.daemon.request(
            "GET", "/api/forbidden/thing", headers={"traceparent": f"00-{trace}-{'2' * 16}-01"})
        self.assertEqual(status, 403)
        spans = self.collector.wait_for_spans(
            lambda all_spans: (lambda s: s if "GET /api" in s else None)(
                in_trace(all_spans, trace)), what="the denial's spans")
        server = spans["GET /api"]
        self.assertEqual(server["attributes"]["stoad.outcome"], "denied")
        self.assertEqual(server["attributes"]["stoad.denied_by"], "policy")
        self.assertEqual(server["attributes"]["http.response.status_code"], 403)
        self.assertEqual(server["status"], 0)
        self.assertEqual(spans["policy request"]["attributes"]["stoad.decision"], "deny")
        self.assertEqual(spans["policy request"]["parent_span_id"], server["span_id"])
        self.assertNotIn("GET", spans)
        self.assertEqual(self.audit_record("/api/forbidden/thing")["trace_id"], trace)

    def test_mcp_tool_call_continues_the_trace_in_params_meta(self) -> None:
        """An MCP SDK client's tools/call with a traceparent in params._meta: the exchange joins
        that trace and carries the MCP/GenAI attributes, never the tool's arguments."""
        async def conversation() -> Any:
            async with sdk_client(self.daemon.url("/mcp"), self.daemon.ssl_context()) as client:
                await client.list_tools()  # stoad refuses a tool it has not seen listed
                return await client.call_tool(
                    "echo", {"text": "argument-never-exported"},
                    meta={"traceparent": f"00-{META_TRACE}-{META_SPAN}-01"})

        result = run(conversation)
        self.assertFalse(result.is_error)
        spans = self.collector.wait_for_spans(
            lambda all_spans: (lambda s: s if {"POST /mcp", "POST"} <= set(s) else None)(
                in_trace(all_spans, META_TRACE)), what="the tool call's spans")
        server = spans["POST /mcp"]
        self.assertEqual(server["parent_span_id"], META_SPAN)
        attributes = server["attributes"]
        self.assertEqual(attributes["mcp.method.name"], "tools/call")
        self.assertEqual(attributes["gen_ai.operation.name"], "execute_tool")
        self.assertEqual(attributes["gen_ai.tool.name"], "echo")
        self.assertIn("jsonrpc.request.id", attributes)
        self.assertEqual(len(attributes["mcp.session.id"]), 16)
        self.assertEqual(spans["mcp request"]["parent_span_id"], server["span_id"])
        self.assertEqual(spans["POST"]["parent_span_id"], server["span_id"])
        self.assertNotIn("argument-never-exported", repr(self.collector.spans()))
