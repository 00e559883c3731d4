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

    @property
    def changed(self) -> bool:
        return self.pending_hash is not None


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


def _record(name: str, raw: dict[str, Any]) -> ToolRecord:
    return ToolRecord(name, raw["accepted_hash"], raw["accepted"], raw.get("pending_hash"),
                      raw.get("pending"), raw.get("changed_at"))


def _raw(record: ToolRecord) -> dict[str, Any]:
    raw: dict[str, Any] = {"accepted_hash": record.accepted_hash, "accepted": record.accepted}
    if record.pending_hash is not None:
        raw.update(pending_hash=record.pending_hash, pending=record.pending,
                   changed_at=record.changed_at)
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

    def observe(self, route: str, definitions: list[dict[str, Any]]) -> list[Observation]:
        """
        Record the definitions one C{tools/list} result advertised. Only touches the file when
        something is new or changed, so steady-state listing costs a stat and hashing.
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
                old = tools.get(name)
                if old is None:
                    rec = ToolRecord(name, digest, definition, None, None, None)
                    observations.append(Observation(rec, True, False))
                elif digest == old.accepted_hash:
                    # The upstream went back to the accepted definition: nothing is pending.
                    rec = ToolRecord(name, digest, definition, None, None, None)
                    observations.append(Observation(rec, False, False))
                elif digest == old.pending_hash:
                    rec = old
                    observations.append(Observation(rec, False, False))
                else:
                    rec = ToolRecord(name, old.accepted_hash, old.accepted, digest, definition,
                                     self._clock())
                    observations.append(Observation(rec, False, True))
                tools[name] = rec
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
