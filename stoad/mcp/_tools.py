"""What each upstream advertised for its tools, kept on disk: the accepted definition, any change.

Trust on first use: the first definition seen for a tool name is accepted; a later, different
one is pending until an operator runs C{stoad tools accept}. Workers and the CLI share one file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import rfc8785
from twisted.internet.defer import Deferred
from twisted.logger import Logger

log = Logger()

_FORMAT = 1


def definition_hash(definition: dict[str, Any]) -> str:
    """SHA-256 over the RFC 8785 canonical JSON of a tool definition (key order never matters)."""
    return hashlib.sha256(rfc8785.dumps(definition)).hexdigest()


@dataclass(frozen=True)
class ToolRecord:
    """One tool of one route: the accepted definition and the changed one awaiting acceptance."""

    name: str
    accepted_hash: str
    accepted: dict[str, Any]
    pending_hash: str | None
    pending: dict[str, Any] | None
    changed_at: float | None
    # instruction families found in the pending definition's descriptions (tool poisoning): the
    # tool stays blocked until `stoad tools accept`, whatever on_tool_change says
    flagged: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.pending_hash is not None

    @property
    def poisoned(self) -> bool:
        return self.pending_hash is not None and bool(self.flagged)


@dataclass(frozen=True)
class Observation:
    """What recording one advertised definition found: new, unchanged, or a (new) change."""

    record: ToolRecord
    first_seen: bool
    newly_changed: bool


def _unchanged(record: ToolRecord, digest: str) -> bool:
    if digest == record.pending_hash:
        return True
    return digest == record.accepted_hash and record.pending_hash is None


def _observe_one(old: ToolRecord | None, name: str, digest: str, definition: dict[str, Any],
                 now: float, inspect: Callable[[dict[str, Any]], list[str]] | None,
                 ) -> tuple[Observation, tuple[str, ...]]:
    """
    What one advertised definition does to its tool's record, and what C{inspect} found in it
    (looked at only when the definition is new or changed). A flagged new tool is pending, never
    trusted on first use; a definition back to the accepted one clears what was pending.
    """
    flagged = tuple(inspect(definition)) if inspect is not None and (
        old is None or digest not in (old.accepted_hash, old.pending_hash)) else ()
    if old is None and flagged:
        return Observation(ToolRecord(name, "", {}, digest, definition, now, flagged), True, True), flagged
    if old is None:
        return Observation(ToolRecord(name, digest, definition, None, None, None), True, False), flagged
    if digest == old.accepted_hash:
        return Observation(ToolRecord(name, digest, definition, None, None, None), False, False), flagged
    if digest == old.pending_hash:
        return Observation(old, False, False), flagged
    changed = ToolRecord(name, old.accepted_hash, old.accepted, digest, definition, now, flagged)
    return Observation(changed, False, True), flagged


def _record(name: str, raw: dict[str, Any]) -> ToolRecord:
    return ToolRecord(name, raw["accepted_hash"], raw["accepted"], raw.get("pending_hash"),
                      raw.get("pending"), raw.get("changed_at"), tuple(raw.get("flagged", ())))


def _raw(record: ToolRecord) -> dict[str, Any]:
    raw: dict[str, Any] = {"accepted_hash": record.accepted_hash, "accepted": record.accepted}
    if record.pending_hash is not None:
        raw.update(pending_hash=record.pending_hash, pending=record.pending,
                   changed_at=record.changed_at)
        if record.flagged:
            raw["flagged"] = list(record.flagged)
    return raw


class ToolDefinitionStore:
    """
    The tool definitions of every MCP route, in one JSON file. Reads are served from memory and
    refreshed when the file changes (another worker, or the operator's C{stoad tools accept});
    writes take an exclusive lock and replace the file atomically.
    """

    def __init__(self, path: str, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._routes: dict[str, dict[str, ToolRecord]] = {}
        self._stamp: tuple[int, int, int] | None = None

    # -- reading -------------------------------------------------------------------------
    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self) -> dict[str, dict[str, ToolRecord]]:
        try:
            with open(self.path, encoding="utf-8") as f:
                document = json.load(f)
        except FileNotFoundError:
            return {}
        if not isinstance(document, dict) or document.get("format") != _FORMAT:
            raise ValueError(f"{self.path}: not an stoad MCP tool state file")
        return {
            route: {name: _record(name, raw) for name, raw in tools.items()}
            for route, tools in document.get("routes", {}).items()
        }

    def refresh(self) -> None:
        """Re-read the file if it changed since it was last read (one stat when it did not)."""
        stamp = self._file_stamp()
        if stamp != self._stamp:
            self._routes = self._load()
            self._stamp = stamp

    def get(self, route: str, tool: str) -> ToolRecord | None:
        self.refresh()
        return self._routes.get(route, {}).get(tool)

    def count(self, route: str) -> int:
        self.refresh()
        return len(self._routes.get(route, {}))

    def tools(self, route: str | None = None) -> list[tuple[str, ToolRecord]]:
        self.refresh()
        return [(r, rec) for r, tools in sorted(self._routes.items()) if route in (None, r)
                for _, rec in sorted(tools.items())]

    # -- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, ToolRecord]]]:
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        with open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                routes = self._load()
                yield routes
                document = {
                    "format": _FORMAT,
                    "routes": {route: {name: _raw(rec) for name, rec in sorted(tools.items())}
                               for route, tools in sorted(routes.items())},
                }
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=".mcp-tools.")
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as f:
                        json.dump(document, f, indent=1, sort_keys=True)
                        f.flush()
                        os.fsync(f.fileno())
                    os.replace(tmp, self.path)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
                    raise
                self._routes = routes
                self._stamp = self._file_stamp()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def observe(self, route: str, definitions: list[dict[str, Any]],
                inspect: Callable[[dict[str, Any]], list[str]] | None = None) -> list[Observation]:
        """
        Record the definitions one C{tools/list} result advertised. Only touches the file when
        something is new or changed, so steady-state listing costs a stat and hashing.
        C{inspect} names what is wrong with a new or changed definition (tool poisoning): such a
        definition is never trusted on first use, it waits for C{accept} like a change.
        """
        self.refresh()
        known = self._routes.get(route, {})
        hashed = [(d["name"], definition_hash(d), d) for d in definitions]
        if all(name in known and _unchanged(known[name], digest) for name, digest, _ in hashed):
            return [Observation(known[name], False, False) for name, _, _ in hashed]
        observations = []
        with self._locked() as routes:
            tools = routes.setdefault(route, {})
            for name, digest, definition in hashed:
                observation, _ = _observe_one(tools.get(name), name, digest, definition,
                                              self._clock(), inspect)
                observations.append(observation)
                tools[name] = observation.record
        return observations

    def accept(self, route: str, tool: str) -> ToolRecord:
        """Make a tool's pending definition the accepted one. Raises L{KeyError} if none is."""
        with self._locked() as routes:
            old = routes.get(route, {}).get(tool)
            if old is None or old.pending_hash is None or old.pending is None:
                raise KeyError(f"no changed definition of {tool!r} on route {route!r}")
            rec = ToolRecord(tool, old.pending_hash, old.pending, None, None, None)
            routes[route][tool] = rec
        return rec

    def forget(self, route: str, tool: str) -> None:
        """Drop everything known about a tool (its next advertisement is trusted afresh)."""
        with self._locked() as routes:
            if tool not in routes.get(route, {}):
                raise KeyError(f"no tool {tool!r} on route {route!r}")
            del routes[route][tool]


def _records_from_fields(fields: dict[str, str]) -> dict[str, ToolRecord]:
    """Tool records from a route's Redis hash (C{NAME\\0ah}, C{NAME\\0a}, C{NAME\\0ph}, ...)."""
    by_tool: dict[str, dict[str, str]] = {}
    for field, value in fields.items():
        name, _, part = field.rpartition("\0")
        by_tool.setdefault(name, {})[part] = value
    records = {}
    for name, parts in by_tool.items():
        if "ah" not in parts or "a" not in parts:
            continue
        pending = parts.get("p")
        changed_at = parts.get("t")
        flagged = tuple(f for f in parts.get("f", "").split(",") if f)
        records[name] = ToolRecord(name, parts["ah"], json.loads(parts["a"]), parts.get("ph"),
                                   json.loads(pending) if pending is not None else None,
                                   float(changed_at) if changed_at is not None else None, flagged)
    return records


class SharedToolDefinitions:
    """
    The tool definitions of every MCP route in the shared store (Redis), so that a change seen
    or accepted through one gateway holds on all. Reads come from a local copy, refreshed when
    the store's version moves (each request's round returns it); writes go to the store in one
    script that makes the same trust-on-first-use decision atomically.
    """

    def __init__(self, state: Any) -> None:
        self._state = state
        self._routes: dict[str, dict[str, ToolRecord]] = {}
        self.version = -1  # nothing loaded yet: the first round's version differs

    def get(self, route: str, tool: str) -> ToolRecord | None:
        return self._routes.get(route, {}).get(tool)

    def count(self, route: str) -> int:
        return len(self._routes.get(route, {}))

    def tools(self, route: str | None = None) -> list[tuple[str, ToolRecord]]:
        return [(r, rec) for r, tools in sorted(self._routes.items()) if route in (None, r)
                for _, rec in sorted(tools.items())]

    async def _load(self, version: int | None) -> None:
        if version is None:
            version = await self._state.tools_version()
        routes = {}
        for route in await self._state.tools_routes():
            routes[route] = _records_from_fields(await self._state.tools_load(route))
        self._routes = routes
        self.version = version

    def refresh(self, version: int | None = None) -> Deferred[None]:
        """Load every route's records (at C{version}, as a round reported it)."""
        return Deferred.fromCoroutine(self._load(version))

    def observe(self, route: str, definitions: list[dict[str, Any]], now: float,
                inspect: Callable[[dict[str, Any]], list[str]] | None = None) -> list[Observation]:
        """
        What the local copy says of each advertised definition (it decides the alerts and the
        filtering of this response); anything new or changed is also written to the store,
        where the same decision is made atomically against what every gateway has seen.
        C{inspect} names what is wrong with a new or changed definition (tool poisoning), as for
        L{ToolDefinitionStore.observe}: such a definition is pending, so blocked, until accepted;
        the store records the families with it, so every gateway blocks it.
        """
        known = self._routes.setdefault(route, {})
        hashed = [(d["name"], definition_hash(d), d) for d in definitions]
        # what the copy held before: a definition back to the accepted one clears a pending
        # change, which must reach the store too
        before = [(name, digest, known.get(name)) for name, digest, _ in hashed]
        observations = []
        flags: dict[str, tuple[str, ...]] = {}
        for name, digest, definition in hashed:
            observation, flags[name] = _observe_one(known.get(name), name, digest, definition,
                                                    now, inspect)
            observations.append(observation)
            known[name] = observation.record
        if any(o.first_seen or o.newly_changed or (old is not None and not _unchanged(old, digest))
               for o, (_, digest, old) in zip(observations, before, strict=True)):
            self._write(route, now, hashed, flags)
        return observations

    def _write(self, route: str, now: float, hashed: list[tuple[str, str, dict[str, Any]]],
               flags: dict[str, tuple[str, ...]]) -> None:
        seen = [(name, digest, json.dumps(d, sort_keys=True, separators=(",", ":")), flags.get(name, ()))
                for name, digest, d in hashed]
        d = self._state.tools_observe(route, now, seen)

        def written(_: Any) -> None:
            self.version = -1  # reload on the next round: another gateway may have raced us

        d.addCallbacks(written, lambda f: log.warn(
            "tool definitions of route {route} not written to the shared store: {why}",
            route=route, why=f.getErrorMessage()))

    async def accept(self, route: str, tool: str, pending_hash: str | None = None) -> ToolRecord:
        """
        Make a tool's pending definition (the one hashing to C{pending_hash}, if given) the
        accepted one everywhere; L{KeyError} if there is none (or it is another one by now).
        """
        await self._load(None)
        old = self.get(route, tool)
        if old is None or old.pending_hash is None:
            raise KeyError(f"no changed definition of {tool!r} on route {route!r}")
        accepted = await self._state.tools_accept(route, tool, pending_hash or old.pending_hash)
        if accepted is None:
            raise KeyError(f"the changed definition of {tool!r} on route {route!r} changed again")
        await self._load(None)
        record = self.get(route, tool)
        assert record is not None
        return record
