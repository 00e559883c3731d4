"""The mcp layer's parts: route configuration, SSE splitting, the tool state file and its CLI."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import tempfile

from twisted.trial.unittest import SynchronousTestCase

import stoad.mcp
from stoad.config._reader import Problems, SectionReader
from stoad.mcp import ToolDefinitionStore, definition_hash, parse_route, parse_settings
from stoad.mcp import cli as tools_cli
from stoad.mcp._sse import EventTooLarge, SseEventSplitter, parse_event, render_event
from stoad.runtime.layers import SectionSource


def read_route(values: dict[str, str]) -> tuple[object, list[str]]:
    problems = Problems()
    reader = SectionReader("route:tools", values, problems)
    options = parse_route(reader)
    reader.finish()
    return options, problems.items


class RouteConfigTests(SynchronousTestCase):
    def test_full_route(self) -> None:
        """Every mcp.* key is read: scopes per tool (multi-line), '*', origins, drift mode, size."""
        options, problems = read_route({
            "mcp": "yes",
            "mcp.tool_scopes": "\necho = stoa:read\nDelete.All = stoa:admin, stoa:write\n* =",
            "mcp.allowed_origins": "https://app.example http://localhost:3000",
            "mcp.on_tool_change": "alert",
            "mcp.max_message_size": "64k",
        })
        self.assertEqual(problems, [])
        self.assertEqual(options.tool_scopes, {"echo": frozenset({"stoa:read"}),  # type: ignore[attr-defined]
                                               "Delete.All": frozenset({"stoa:admin", "stoa:write"})})
        self.assertEqual(options.required_scopes("other"), frozenset())  # type: ignore[attr-defined]
        self.assertEqual(options.allowed_origins,  # type: ignore[attr-defined]
                         frozenset({"https://app.example", "http://localhost:3000"}))
        self.assertEqual((options.on_tool_change, options.max_message_bytes),  # type: ignore[attr-defined]
                         ("alert", 65536))

    def test_defaults_fail_closed(self) -> None:
        """By default unlisted tools are refused, no Origin is allowed and changes block."""
        options, problems = read_route({"mcp": "yes", "mcp.tool_scopes": "echo = stoa:read"})
        self.assertEqual(problems, [])
        self.assertIsNone(options.required_scopes("other"))  # type: ignore[attr-defined]
        self.assertEqual(options.allowed_origins, frozenset())  # type: ignore[attr-defined]
        self.assertEqual(options.on_tool_change, "block")  # type: ignore[attr-defined]

    def test_every_problem_is_reported(self) -> None:
        """Bad entries, bad origins, a bad mode and a bad size are all reported at once."""
        _, problems = read_route({
            "mcp": "yes",
            "mcp.tool_scopes": "echo stoa:read; bad name! = x; a = x; a = y",
            "mcp.allowed_origins": "https://app.example/path ftp://x",
            "mcp.on_tool_change": "ignore",
            "mcp.max_message_size": "12",
        })
        self.assertEqual(len(problems), 7, problems)
        self.assertTrue(all(p.startswith("[route:tools] mcp.") for p in problems))

    def test_mcp_keys_need_mcp_yes(self) -> None:
        """mcp.* keys on a route without mcp = yes are a configuration error."""
        options, problems = read_route({"mcp.tool_scopes": "echo = x"})
        self.assertFalse(options.enabled)  # type: ignore[attr-defined]
        self.assertEqual(problems, ["[route:tools] mcp.tool_scopes: only meaningful with mcp = yes"])

    def test_settings_section(self) -> None:
        """[mcp] is optional; its keys are checked."""
        problems = Problems()
        self.assertEqual(parse_settings(SectionSource({}, problems, ".")).max_sessions, 100_000)
        source = SectionSource({"mcp": {"max_sessions": "5", "color": "red"}}, problems, ".")
        parse_settings(source)
        self.assertEqual(len(problems.items), 2, problems.items)

    def test_public_surface(self) -> None:
        """stoad.mcp re-exports exactly its public names."""
        self.assertEqual(sorted(stoad.mcp.__all__), sorted(n for n in stoad.mcp.__all__
                                                           if hasattr(stoad.mcp, n)))
        self.assertIn("McpLayer", stoad.mcp.__all__)


class SseTests(SynchronousTestCase):
    def test_events_come_out_as_they_complete(self) -> None:
        """Each event is released as soon as its blank line arrives, bytes unchanged."""
        splitter = SseEventSplitter(1024)
        self.assertEqual(splitter.feed(b"event: message\ndata: {\"a\""), [])
        self.assertEqual(splitter.feed(b": 1}\n\ndata: 2\n"), [b"event: message\ndata: {\"a\": 1}\n\n"])
        self.assertEqual(splitter.feed(b"\n"), [b"data: 2\n\n"])

    def test_all_line_endings(self) -> None:
        """CRLF, LF and lone CR all end lines; a CRLF split across chunks is one terminator."""
        splitter = SseEventSplitter(1024)
        out = splitter.feed(b"data: a\r\n\r")
        out += splitter.feed(b"\ndata: b\r\rdata: c\n\n")
        self.assertEqual(out, [b"data: a\r\n\r\n", b"data: b\r\r", b"data: c\n\n"])

    def test_one_byte_at_a_time(self) -> None:
        """Feeding byte by byte gives the same events."""
        stream = b"id: 1\r\ndata: x\r\n\r\n: comment\ndata: y\n\n"
        splitter = SseEventSplitter(1024)
        events = [e for i in range(len(stream)) for e in splitter.feed(stream[i:i + 1])]
        self.assertEqual(b"".join(events), stream)
        self.assertEqual(len(events), 2)

    def test_event_too_large(self) -> None:
        """An event that grows past the limit without ending raises."""
        splitter = SseEventSplitter(64)
        self.assertRaises(EventTooLarge, splitter.feed, b"data: " + b"x" * 100)

    def test_parse_and_render(self) -> None:
        """Data lines join with LF; other lines are kept when an event is rendered again."""
        event = parse_event(b"event: message\nid: 9\ndata: {\"a\":\ndata:1}\n\n")
        self.assertEqual((event.data, event.other_lines), ('{"a":\n1}', ("event: message", "id: 9")))
        self.assertEqual(render_event(event.other_lines, '{"b":2}'),
                         b'event: message\nid: 9\ndata: {"b":2}\n\n')


class StoreTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "state", "mcp-tools.json")
        self.store = ToolDefinitionStore(self.path, clock=lambda: 1700000000.0)

    def test_first_sight_is_accepted_then_change_is_pending(self) -> None:
        """Trust on first use; a different definition later is pending until accepted."""
        [first] = self.store.observe("r", [{"name": "t", "description": "a"}])
        self.assertTrue(first.first_seen)
        [change] = self.store.observe("r", [{"name": "t", "description": "b"}])
        self.assertTrue(change.newly_changed)
        self.assertEqual(change.record.pending_hash, definition_hash({"name": "t", "description": "b"}))
        [again] = self.store.observe("r", [{"name": "t", "description": "b"}])
        self.assertFalse(again.newly_changed)
        self.store.accept("r", "t")
        record = self.store.get("r", "t")
        assert record is not None
        self.assertEqual((record.changed, record.accepted["description"]), (False, "b"))

    def test_revert_clears_pending(self) -> None:
        """If the upstream goes back to the accepted definition, nothing stays pending."""
        self.store.observe("r", [{"name": "t", "description": "a"}])
        self.store.observe("r", [{"name": "t", "description": "b"}])
        self.store.observe("r", [{"name": "t", "description": "a"}])
        record = self.store.get("r", "t")
        assert record is not None
        self.assertFalse(record.changed)

    def test_accept_without_change_raises(self) -> None:
        """Accepting a tool with nothing pending is an error, and the file is not touched."""
        self.store.observe("r", [{"name": "t"}])
        before = os.stat(self.path).st_mtime_ns
        self.assertRaises(KeyError, self.store.accept, "r", "t")
        self.assertRaises(KeyError, self.store.accept, "r", "nope")
        self.assertEqual(os.stat(self.path).st_mtime_ns, before)

    def test_not_a_state_file_is_refused(self) -> None:
        """A file in another format is not silently replaced."""
        os.makedirs(os.path.dirname(self.path))
        with open(self.path, "w") as f:
            json.dump({"something": "else"}, f)
        self.assertRaises(ValueError, self.store.get, "r", "t")

    def test_forget(self) -> None:
        """A forgotten tool is trusted afresh at its next advertisement."""
        self.store.observe("r", [{"name": "t", "description": "a"}])
        self.store.forget("r", "t")
        [seen] = self.store.observe("r", [{"name": "t", "description": "b"}])
        self.assertTrue(seen.first_seen)


class ToolsCliTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "mcp-tools.json")
        store = ToolDefinitionStore(self.path)
        store.observe("tools", [{"name": "echo", "description": "a"}, {"name": "other"}])
        store.observe("tools", [{"name": "echo", "description": "b"}])
        self.pending = definition_hash({"name": "echo", "description": "b"})

    def run_cli(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            # Only this module's subcommands: the test must not depend on the others existing.
            parser = argparse.ArgumentParser(prog="stoad")
            tools_cli.add_subcommands(parser.add_subparsers(dest="command", required=True))
            args = parser.parse_args(["tools", *argv])
            code = int(args.func(args))
        return code, out.getvalue(), err.getvalue()

    def test_list_shows_changes(self) -> None:
        """`stoad tools list` marks the changed tool and shows both hashes."""
        code, out, _ = self.run_cli("list", "--state-file", self.path)
        self.assertEqual(code, 0)
        [echo] = [line for line in out.splitlines() if " echo " in line]
        self.assertIn("CHANGED", echo)
        self.assertIn(self.pending[:12], echo)
        code, out, _ = self.run_cli("list", "--state-file", self.path, "--json")
        self.assertEqual({row["tool"]: row["status"] for row in json.loads(out)},
                         {"echo": "changed", "other": "accepted"})

    def test_accept(self) -> None:
        """`stoad tools accept ROUTE TOOL` makes the pending definition the accepted one."""
        code, out, _ = self.run_cli("accept", "--state-file", self.path, "tools", "echo")
        self.assertEqual((code, out.strip()), (0, f"accepted echo on route tools: {self.pending}"))
        record = ToolDefinitionStore(self.path).get("tools", "echo")
        assert record is not None
        self.assertFalse(record.changed)

    def test_accept_checks_the_reviewed_hash(self) -> None:
        """With --sha256, a definition other than the reviewed one is not accepted."""
        code, _, err = self.run_cli("accept", "--state-file", self.path, "--sha256", "00ff",
                                    "tools", "echo")
        self.assertEqual(code, 1)
        self.assertIn("not 00ff", err)
        code, _, _ = self.run_cli("accept", "--state-file", self.path, "--sha256",
                                  self.pending[:10], "tools", "echo")
        self.assertEqual(code, 0)

    def test_accept_nothing_pending_fails(self) -> None:
        """Accepting a tool that has not changed exits 1 with a reason."""
        code, _, err = self.run_cli("accept", "--state-file", self.path, "tools", "other")
        self.assertEqual(code, 1)
        self.assertIn("no changed definition", err)
