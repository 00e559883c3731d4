"""C{stoad tools}: show the upstream tool definitions stoad recorded, and accept changed ones.

Acceptance unblocks a tool whose definition changed (C{on_tool_change = block}); with C{[state]
backend = redis} it is written to Redis, so every gateway instance sees it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import Any, Awaitable, Callable

from stoad.mcp._config import STATE_FILE_NAME, McpSettings
from stoad.mcp._tools import SharedToolDefinitions, ToolDefinitionStore, ToolRecord


def _shared_settings(args: argparse.Namespace) -> Any:
    """The [state] settings when the config keeps tool definitions in Redis, else None."""
    if not args.config:
        return None
    from stoad.config import _load
    from stoad.state import REDIS

    state = _load.config_from_file(args.config).state
    return state if state is not None and state.backend == REDIS else None


def _with_shared_tools(settings: Any,
                       work: Callable[[SharedToolDefinitions], Awaitable[int]]) -> int:
    """Run C{work} against the tool definitions in Redis (every instance sees the change)."""
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    from stoad.state import RedisState, StateUnavailable

    outcome: list[int] = []

    async def main() -> None:
        state = RedisState(settings, reactor)
        try:
            await state.wait_connected()
            tools = SharedToolDefinitions(state)
            await tools.refresh()
            outcome.append(await work(tools))
        except StateUnavailable as e:
            print(f"stoad tools: shared state unavailable: {e}", file=sys.stderr)
            outcome.append(1)
        finally:
            await state.close()

    def failed(failure: Any) -> None:
        print(f"stoad tools: {failure.getErrorMessage()}", file=sys.stderr)
        outcome.append(1)

    def run() -> None:
        d = Deferred.fromCoroutine(main())
        d.addErrback(failed)
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(run)
    reactor.run()
    return outcome[0] if outcome else 1


def _state_file(args: argparse.Namespace) -> str:
    if args.state_file:
        return str(args.state_file)
    from stoad.config import _load

    config = _load.config_from_file(args.config)
    settings = config.layer_settings.get("mcp")
    if isinstance(settings, McpSettings) and settings.state_file:
        return settings.state_file
    return os.path.join(config.server.state_dir, STATE_FILE_NAME)


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _list(args: argparse.Namespace) -> int:
    shared = _shared_settings(args)
    if shared is not None:
        async def listed(tools: SharedToolDefinitions) -> int:
            return _print_rows(args, tools.tools(args.route))

        return _with_shared_tools(shared, listed)
    return _print_rows(args, ToolDefinitionStore(_state_file(args)).tools(args.route))


def _print_rows(args: argparse.Namespace, rows: list[tuple[str, ToolRecord]]) -> int:
    if args.json:
        out: list[dict[str, Any]] = [
            {"route": route, "tool": rec.name, "status": _status(rec).lower(),
             "accepted_sha256": rec.accepted_hash, "pending_sha256": rec.pending_hash,
             "changed_at": rec.changed_at, "flagged": list(rec.flagged)}
            for route, rec in rows
        ]
        print(json.dumps(out, indent=1))
        return 0
    if not rows:
        print("no tool definitions recorded yet")
        return 0
    print(f"{'ROUTE':<16} {'TOOL':<32} {'STATUS':<9} {'ACCEPTED':<12} {'CHANGED TO':<12} CHANGED AT")
    for route, rec in rows:
        flagged = f"  flagged: {', '.join(rec.flagged)}" if rec.poisoned else ""
        print(f"{route:<16} {rec.name:<32} {_status(rec):<9} "
              f"{(rec.accepted_hash or '-')[:12]:<12} {(rec.pending_hash or '-')[:12]:<12} "
              f"{_when(rec.changed_at)}{flagged}")
    return 0


def _status(rec: ToolRecord) -> str:
    """CHANGED for a pending change, FLAGGED when it carries instructions to the model (tool poisoning)."""
    if rec.poisoned:
        return "FLAGGED"
    return "CHANGED" if rec.changed else "accepted"


def _check_pending(args: argparse.Namespace, record: ToolRecord | None) -> bool:
    if record is None or not record.changed:
        print(f"stoad tools accept: no changed definition of {args.tool!r} on route "
              f"{args.route!r}", file=sys.stderr)
        return False
    if args.sha256 and not (record.pending_hash or "").startswith(args.sha256.lower()):
        print(f"stoad tools accept: the pending definition of {args.tool!r} is "
              f"{record.pending_hash}, not {args.sha256}", file=sys.stderr)
        return False
    if args.show:
        print(json.dumps({"accepted": record.accepted, "pending": record.pending}, indent=1))
    return True


def _accept(args: argparse.Namespace) -> int:
    shared = _shared_settings(args)
    if shared is not None:
        async def accept(tools: SharedToolDefinitions) -> int:
            record = tools.get(args.route, args.tool)
            if not _check_pending(args, record):
                return 1
            assert record is not None
            try:
                accepted = await tools.accept(args.route, args.tool, record.pending_hash)
            except KeyError as e:
                print(f"stoad tools accept: {e.args[0]}", file=sys.stderr)
                return 1
            print(f"accepted {args.tool} on route {args.route} for every instance: "
                  f"{accepted.accepted_hash}")
            return 0

        return _with_shared_tools(shared, accept)
    store = ToolDefinitionStore(_state_file(args))
    if not _check_pending(args, store.get(args.route, args.tool)):
        return 1
    accepted = store.accept(args.route, args.tool)
    print(f"accepted {args.tool} on route {args.route}: {accepted.accepted_hash}")
    return 0


def add_subcommands(subparsers: Any) -> None:
    tools = subparsers.add_parser("tools", help="MCP tool definitions seen upstream (drift control)")
    where = argparse.ArgumentParser(add_help=False)
    group = where.add_mutually_exclusive_group(required=True)
    group.add_argument("--config", help="the stoad INI file (finds the state file from it)")
    group.add_argument("--state-file", help="the MCP tool state file itself")
    actions = tools.add_subparsers(dest="tools_command", required=True)

    show = actions.add_parser("list", parents=[where], help="list recorded tools and changes")
    show.add_argument("--route", help="only this route")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=_list)

    accept = actions.add_parser("accept", parents=[where],
                                help="accept a tool's changed definition (unblocks its calls)")
    accept.add_argument("route", help="route name, as in [route:NAME]")
    accept.add_argument("tool", help="tool name")
    accept.add_argument("--sha256", help="accept only if the pending definition has this hash "
                        "(prefix), so what you reviewed is what you accept")
    accept.add_argument("--show", action="store_true", help="print old and new definitions")
    accept.set_defaults(func=_accept)
