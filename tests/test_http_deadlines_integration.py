"""The HTTP layer's deadlines, Expect handling, framing refusals and connection slots through the
real daemon, with raw mTLS sockets where the split of the bytes matters; every refusal and
every expiry shows up as exactly one audit event."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from stoad.audit._chain import ChainReader, chain_directories, load_public_key
from stoad.dev.devpki import write_dev_pki
from tests.support.audit import write_key
from tests.support.daemon import StoadDaemon, gateway_config
from tests.support.desync import RawConnection
from tests.support.mcp_upstream import McpUpstream
from tests.test_daemon_integration import DaemonTestCase

JSON_RPC_CALL = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                            "params": {"name": "slow_tool", "arguments": {}}}).encode()


class _AuditedDaemonTestCase(DaemonTestCase):
    """A daemon with the audit layer only, and helpers to talk raw HTTP and read its events."""

    limits = {"read_timeout": "1s", "idle_timeout": "3s", "body_window": "1s",
              "body_min_rate": "1"}

    def config(self, **overrides: object) -> str:
        self.audit_dir = os.path.join(self.tmp, "audit")
        self.audit_key = write_key(os.path.join(self.tmp, "keys"))
        return super().config(layers=("audit",), sections={"audit": {
            "directory": self.audit_dir, "signing_key": self.audit_key,
            "fsync_interval": "10ms"}}, **overrides)

    def raw(self, timeout: float = 20.0) -> RawConnection:
        assert self.daemon.port is not None
        conn = RawConnection(self.daemon.port, self.daemon.ssl_context("agent-1"), timeout)
        self.addCleanup(conn.close)
        return conn

    def audit_events(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        if not os.path.isdir(self.audit_dir):
            return records
        key = load_public_key(self.audit_key)
        for directory in chain_directories(self.audit_dir):
            # One outcome per exchange: a request's single record, or the completion of one
            # that reached the upstream (its decision record, written before forwarding, has
            # no outcome yet).
            records.extend(r for r in ChainReader(directory, key).records()
                           if r.get("event_type") in ("http_request", "tool_call")
                           and r.get("record_type") != "decision")
        return records

    def wait_for_events(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The audit events once at least C{n} are written (bounded wait, polled)."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.audit_events()
            if len(events) >= n or time.monotonic() > deadline:
                return events
            time.sleep(0.05)

    def assertOneEvent(self, outcome: str, denied_by: str | None, status: int) -> dict[str, Any]:
        events = self.wait_for_events(1)
        self.assertEqual([(e["outcome"], e["denied_by"], e["status"]) for e in events],
                         [(outcome, denied_by, status)])
        return events[0]


class BodyAfterHeadTests(_AuditedDaemonTestCase):
    def test_body_in_a_second_write_is_answered_once_without_a_later_408(self) -> None:
        """A POST whose body comes in a second write gets its 200; the connection then stays
        silent past the head deadline and is closed at idle_timeout without an unsolicited
        408, and the audit log has exactly one event for the exchange."""
        conn = self.raw()
        conn.send(b"POST /api/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
                  b"\r\nContent-Length: 2\r\n\r\n")
        conn.send(b"{}")
        reply = conn.response(b"POST")
        self.assertEqual(reply.status, 200)
        self.assertEqual(json.loads(reply.body)["body_size"], 2)
        # Waits on the gateway's idle close (3 s, three head deadlines): nothing may come first.
        self.assertTrue(conn.wait_closed())
        self.assertEqual(conn.buffer, b"")
        self.assertOneEvent("allowed", None, 200)

    def test_slow_tool_call_with_head_and_body_in_separate_writes_is_answered(self) -> None:
        """A JSON-RPC tools/call sent as head, then body, to an upstream that takes twice the
        head deadline to answer gets the upstream's answer, once."""
        conn = self.raw()
        conn.send(b"POST /api/slow?seconds=2 HTTP/1.1\r\nHost: localhost\r\n"
                  b"Content-Type: application/json\r\nContent-Length: "
                  + str(len(JSON_RPC_CALL)).encode() + b"\r\n\r\n")
        conn.send(JSON_RPC_CALL)
        reply = conn.response(b"POST")
        self.assertEqual((reply.status, json.loads(reply.body)), (200, {"slow": True}))
        self.assertOneEvent("allowed", None, 200)


class SlowClientTests(_AuditedDaemonTestCase):
    def test_head_that_stops_arriving_gets_408_and_one_event(self) -> None:
        """A head that stops half-way gets 408 at read_timeout, the connection closes, and the
        refusal is audited once as denied by the HTTP layer."""
        conn = self.raw()
        conn.send(b"GET /api/echo HTTP/1.1\r\nHost: localhost\r\n")
        reply = conn.response(b"GET")
        self.assertEqual((reply.status, reply.closed or conn.wait_closed()), (408, True))
        self.assertOneEvent("denied", "http", 408)
        self.assertEqual(self.upstream.requests, [])

    def test_body_that_stops_arriving_gets_408_and_one_event(self) -> None:
        """A body that stops arriving fails the progress rule: 408, closed, one audit event,
        and the upstream never sees the request."""
        conn = self.raw()
        conn.send(b"POST /api/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n"
                  b"0123456789")
        reply = conn.response(b"POST")
        self.assertEqual((reply.status, reply.closed or conn.wait_closed()), (408, True))
        self.assertOneEvent("denied", "http", 408)
        self.assertEqual(self.upstream.requests, [])


class ExpectContinueTests(_AuditedDaemonTestCase):
    def read_head(self, conn: RawConnection) -> bytes:
        while b"\r\n\r\n" not in conn.buffer:
            if not conn._fill():
                break
        return conn.buffer

    def test_refused_request_gets_only_its_final_response(self) -> None:
        """Expect: 100-continue on a path with no route: the final 404 comes without a 100
        before it, the connection closes, and the body never reaches the upstream."""
        conn = self.raw()
        conn.send(b"POST /nowhere HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
                  b"Content-Length: 5\r\n\r\n")
        self.assertTrue(self.read_head(conn).startswith(b"HTTP/1.1 404"), conn.buffer)
        conn.send(b"hello")
        self.assertTrue(conn.wait_closed())
        self.assertNotIn(b"100 Continue", conn.buffer)
        self.assertOneEvent("denied", "routing", 404)
        self.assertEqual(self.upstream.requests, [])

    def test_allowed_request_gets_100_then_its_answer(self) -> None:
        """Expect: 100-continue on a routed path: 100 Continue, then the body is forwarded and
        the upstream's answer comes back."""
        conn = self.raw()
        conn.send(b"POST /api/echo HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
                  b"Content-Length: 5\r\n\r\n")
        self.assertEqual(self.read_head(conn), b"HTTP/1.1 100 Continue\r\n\r\n")
        conn.buffer = b""
        conn.send(b"hello")
        reply = conn.response(b"POST")
        self.assertEqual((reply.status, json.loads(reply.body)["body_size"]), (200, 5))
        self.assertOneEvent("allowed", None, 200)


class FramingRefusalTests(_AuditedDaemonTestCase):
    CASES = [
        b"POST /api/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /api/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n"
        b"Content-Length: 3\r\n\r\n{}",
        b"POST /api/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: identity\r\n\r\n",
        b"POST /api/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        b"POST /api/echo HTTP/1.0\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
    ]

    def test_ambiguous_framing_is_refused_with_400_and_audited_once_each(self) -> None:
        """Duplicate Content-Type, differing Content-Lengths, identity or repeated
        Transfer-Encoding and chunked on HTTP/1.0 each get 400 and a closed connection, one
        audit event each, and nothing reaches the upstream."""
        for case in self.CASES:
            conn = self.raw()
            conn.send(case)
            reply = conn.response(b"POST")
            self.assertEqual((reply.status, reply.closed or conn.wait_closed()), (400, True), case)
        events = self.wait_for_events(len(self.CASES))
        self.assertEqual([(e["outcome"], e["denied_by"], e["status"]) for e in events],
                         [("denied", "http", 400)] * len(self.CASES))
        self.assertEqual(self.upstream.requests, [])


class ExchangeDeadlineTests(_AuditedDaemonTestCase):
    limits = {**_AuditedDaemonTestCase.limits, "exchange_timeout": "1s"}

    def test_exchange_longer_than_its_bound_gets_504_once(self) -> None:
        """An upstream slower than exchange_timeout: 504 with a fixed body, one audit event as
        a gateway error."""
        status, _, body = self.daemon.request("GET", "/api/slow?seconds=10")
        self.assertEqual((status, json.loads(body)), (504, {"error": "gateway_timeout"}))
        self.assertOneEvent("error", "gateway", 504)



class UpstreamBodyDeadlineTests(_AuditedDaemonTestCase):
    routes_extra = {"body_timeout": "1s"}

    def test_upstream_body_pausing_past_body_timeout_is_cut(self) -> None:
        """An event stream whose next event is later than the route's body_timeout is cut after
        the first event; the exchange is audited once as an upstream error."""
        conn = self.raw()
        conn.send(b"GET /api/sse?events=2&gap=3 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertTrue(conn.wait_closed())
        self.assertIn(b"HTTP/1.1 200", conn.buffer)
        self.assertIn(b'"n": 0', conn.buffer)
        self.assertNotIn(b'"n": 1', conn.buffer)
        self.assertOneEvent("error", "upstream", 200)


class StalledReaderTests(_AuditedDaemonTestCase):
    limits = {**_AuditedDaemonTestCase.limits, "write_timeout": "1s"}

    def test_client_that_stops_reading_is_cut_and_audited_as_client(self) -> None:
        """A client that reads nothing of a large response is cut after write_timeout (the
        upstream is paused meanwhile) and the exchange is audited once as a client error."""
        self.upstream.respond_with(b"x" * (48 * 1024 * 1024), "application/octet-stream")
        conn = self.raw()
        conn.tls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn.send(b"GET /api/body HTTP/1.1\r\nHost: localhost\r\n\r\n")
        event = self.assertOneEvent("error", "client", 499)
        self.assertIn("write_timeout", event["reason"])


class BufferBudgetTests(_AuditedDaemonTestCase):
    limits = {**_AuditedDaemonTestCase.limits, "max_buffered_bytes": "1m"}

    def test_body_beyond_the_workers_budget_gets_503(self) -> None:
        """A buffered body larger than the worker's whole budget gets 503 on its head alone; the
        upstream never sees it and the refusal is audited once."""
        conn = self.raw()
        conn.send(b"POST /api/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2097152\r\n\r\n")
        reply = conn.response(b"POST")
        self.assertEqual(reply.status, 503)
        self.assertOneEvent("denied", "http", 503)
        self.assertEqual(self.upstream.requests, [])


class ConnectionSlotTests(_AuditedDaemonTestCase):
    limits = {"max_connections_per_source": "3", "handshake_timeout": "1s"}

    def test_idle_tcp_connections_from_one_address_cannot_hold_the_worker(self) -> None:
        """Connections that never start TLS take at most max_connections_per_source slots:
        the next one from the same address is closed at once, the idle ones are closed at
        handshake_timeout, and a real client is served afterwards."""
        assert self.daemon.port is not None
        idle = [socket.create_connection(("127.0.0.1", self.daemon.port), timeout=20)
                for _ in range(3)]
        for sock in idle:
            self.addCleanup(sock.close)
        extra = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=20)
        self.addCleanup(extra.close)
        for sock in [extra, *idle]:
            # The extra one is refused at once, the others closed by the handshake deadline.
            try:
                self.assertEqual(sock.recv(1), b"")
            except ConnectionResetError:
                pass  # aborted: as closed
        status, _, _ = self.daemon.request("GET", "/api/echo")
        self.assertEqual(status, 200)
        metrics = self.daemon.metrics()
        self.assertIn('stoad_tls_handshake_failures_total{reason="source connection limit"} 1.0',
                      metrics)
        self.assertIn('stoad_tls_handshake_failures_total{reason="handshake timeout"} 3.0',
                      metrics)


class SlowMcpCallTests(SynchronousTestCase):
    """The mcp layer in front of the MCP SDK server (stateless, JSON responses), with a head
    deadline shorter than the tool call takes."""

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="stoad-slow-mcp-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.upstream = McpUpstream("--json-response", "--stateless").start()
        self.addCleanup(self.upstream.stop)
        pki = write_dev_pki(os.path.join(self.tmp, "pki"))
        self.daemon = StoadDaemon(self.tmp, gateway_config(
            pki, state_dir=os.path.join(self.tmp, "state"),
            admin_socket=os.path.join(self.tmp, "admin.sock"),
            routes={"tools": {"prefix": "/mcp", "upstream": self.upstream.origin, "mcp": "yes",
                              "mcp.tool_scopes": "* ="}},
            layers=("mcp",), limits={"read_timeout": "1s", "body_window": "1s"}), pki=pki)
        self.addCleanup(self.daemon.kill)
        self.daemon.start()

    def test_slow_tool_call_sent_as_head_then_body_gets_its_result(self) -> None:
        """A tools/call whose head and body come in separate writes, to a tool that runs for
        longer than the head deadline, gets the tool's result, not a 408."""
        body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                           "params": {"name": "long_task", "arguments": {"steps": 200}}}).encode()
        assert self.daemon.port is not None
        conn = RawConnection(self.daemon.port, self.daemon.ssl_context("agent-1"), 30)
        self.addCleanup(conn.close)
        listing = json.dumps({"jsonrpc": "2.0", "id": 6, "method": "tools/list"}).encode()
        conn.send(b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                  b"Accept: application/json, text/event-stream\r\nMcp-Method: tools/list\r\n"
                  b"Content-Length: " + str(len(listing)).encode() + b"\r\n\r\n" + listing)
        self.assertEqual(conn.response(b"POST").status, 200)  # the layer learns the tools
        conn.send(b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                  b"Accept: application/json, text/event-stream\r\n"
                  b"Mcp-Method: tools/call\r\nMcp-Name: long_task\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        conn.send(body)
        reply = conn.response(b"POST")
        self.assertEqual(reply.status, 200, reply.body[:200])
        answer = json.loads(reply.body)
        self.assertEqual(answer["id"], 7)
        self.assertIn("done after 200 steps", json.dumps(answer["result"]))
