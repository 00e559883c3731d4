"""Carrying a bounded window of text across SSE events, so a value split over events is found whole.

Each JSON path (or the plain data) is one text stream; held events are released once a window
of later text follows them, so a finding no longer than the window is never partly sent.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
import re2

from stoad.guardrails._content import ContentScanner, Tally
from stoad.guardrails._detectors import PII, SECRETS, Finding, Scanner

# A PEM private key has no useful length bound: once its BEGIN line is seen on a stream, what
# follows on that stream is key material until the END line.
_PEM_BEGIN = re2.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re2.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")


@dataclass
class Leaf:
    """One string of an event's data: where it sits (to rewrite it) and its text."""

    container: Any  # dict or list holding the string; None for plain-text data
    key: Any
    text: str


@dataclass
class HeldEvent:
    """An event scanned on its own but not sent yet. C{data} is its data after that scan."""

    lines: list[str | None]  # the event's lines, its data lines replaced by one None
    data: str | None
    raw: bytes  # the event as scanned alone, sent as it is unless a crossing finding changed it
    document: Any = None  # the parsed data when it is JSON
    leaves: dict[str, Leaf] = field(default_factory=dict)
    size: int = 0
    dirty: bool = False

    def encode(self) -> bytes:
        if not self.dirty:
            return self.raw
        data = orjson.dumps(self.document).decode("utf-8") if self.document is not None else \
            self.leaves[""].text
        out: list[str] = []
        for line in self.lines:
            if line is None:
                out.extend("data: " + d for d in (data or "").split("\n"))
            else:
                out.append(line)
        return "\n".join(out).encode("utf-8") + b"\n\n"


def _leaves(data: str) -> tuple[Any, dict[str, Leaf]]:
    """The data's strings by path: JSON leaves (C{a.0.b}), or the whole text under C{""}."""
    stripped = data.lstrip()[:1]
    if stripped in ("{", "["):
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None, {"": Leaf(None, None, data)}
        out: dict[str, Leaf] = {}
        stack: list[tuple[str, Any]] = [("", document)]
        while stack:
            path, node = stack.pop()
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in items:
                child = f"{path}.{key}" if path else str(key)
                if isinstance(value, str):
                    out[child] = Leaf(node, key, value)
                elif isinstance(value, (dict, list)):
                    stack.append((child, value))
        return document, out
    return None, {"": Leaf(None, None, data)}


class StreamCarry:
    """
    Holds scanned events until C{window} characters of later text follow them, and scans each
    new event's strings joined to the held text on the same path. A PII or secret finding that
    crosses from held events into the new one is counted, and when redacted its first part
    becomes the marker and the rest is removed, wherever it lies.
    """

    def __init__(self, content: ContentScanner, scanner: Scanner, window: int) -> None:
        self._content = content
        self._scanner = scanner
        self._window = window
        self._detectors = frozenset(d for d in (PII, SECRETS) if d in content.active)
        self._held: deque[HeldEvent] = deque()
        self._held_size = 0
        self._pem_open: dict[str, str] = {}  # path -> the tail of what was cut there

    def cut_raw(self, data: str) -> str:
        """
        Before the event is scanned on its own: drop what continues a PEM key opened on the
        same stream by an earlier event (the key's body and END line are key material too).
        Returns the data to scan; the count is made by the caller's own scan of the BEGIN line.
        """
        if not self._pem_open or SECRETS not in self._content.redacting:
            return data
        document, leaves = _leaves(data)
        changed = False
        for path, leaf in leaves.items():
            if path not in self._pem_open:
                continue
            # the END line may be split over events too: search it in the cut text's tail
            tail = self._pem_open[path]
            end = _PEM_END.search(tail + leaf.text)
            if end is not None:
                del self._pem_open[path]
                rest = leaf.text[max(end.end() - len(tail), 0):]
            else:
                self._pem_open[path] = (tail + leaf.text)[-60:]
                rest = ""
            if leaf.container is None:
                return rest
            leaf.container[leaf.key] = rest
            changed = True
        if changed:
            return orjson.dumps(document).decode("utf-8")
        return data

    def note_raw(self, data: str) -> None:
        """Remember the streams on which this event's raw data leaves a PEM key open."""
        if SECRETS not in self._content.redacting:
            return
        for path, leaf in _leaves(data)[1].items():
            # the BEGIN line itself may have been split over the previous events
            text = self._held_text(path)[-80:] + leaf.text
            begins = list(_PEM_BEGIN.finditer(text))
            if begins and _PEM_END.search(text, begins[-1].end()) is None:
                self._pem_open.setdefault(path, "")

    def _held_text(self, path: str) -> str:
        return "".join(held.leaves[path].text for held in self._held if path in held.leaves)

    def add(self, lines: list[str | None], data: str | None, raw: bytes, tally: Tally) -> tuple[HeldEvent, bool]:
        """
        Join the event (already scanned alone) to the held text and count what crosses into it;
        returns the event to L{hold} and whether anything crossed.
        """
        event = HeldEvent(lines, data, raw)
        before = sum(tally.counts.values())
        if data is not None and self._detectors:
            event.document, event.leaves = _leaves(data)
            event.size = sum(len(leaf.text) for leaf in event.leaves.values())
            for path, leaf in event.leaves.items():
                self._cross(path, leaf, event, tally)
        return event, sum(tally.counts.values()) != before

    def hold(self, event: HeldEvent) -> None:
        self._held.append(event)
        self._held_size += event.size

    def release(self) -> list[bytes]:
        """The held events that a whole window of later text now follows."""
        out: list[bytes] = []
        while self._held and self._held_size - self._held[0].size >= self._window:
            event = self._held.popleft()
            self._held_size -= event.size
            out.append(event.encode())
        return out

    def flush(self) -> list[bytes]:
        """Every held event (the stream ended)."""
        out = [event.encode() for event in self._held]
        self._held.clear()
        self._held_size = 0
        return out

    def drop(self) -> None:
        """Forget the held events (the stream is being ended by a block)."""
        self._held.clear()
        self._held_size = 0

    def _cross(self, path: str, leaf: Leaf, event: HeldEvent, tally: Tally) -> None:
        parts: list[tuple[HeldEvent, Leaf]] = []
        for held in self._held:
            earlier = held.leaves.get(path)
            if earlier is not None:
                parts.append((held, earlier))
        if not parts:
            return
        prefix = "".join(p.text for _, p in parts)
        combined = prefix + leaf.text
        boundary = len(prefix)
        findings = [f for f in self._scanner.find(combined, self._detectors, self._content.allow)
                    if f.start < boundary < f.end]
        if not findings:
            return
        tally.counts.update(f.detector for f in findings)
        redacted = [f for f in findings if f.detector in self._content.redacting]
        if not redacted:
            return
        tally.changed = True
        parts.append((event, leaf))
        self._rewrite(parts, redacted)

    @staticmethod
    def _rewrite(parts: list[tuple[HeldEvent, Leaf]], findings: list[Finding]) -> None:
        """Replace each finding across the parts: the marker where it starts, nothing elsewhere."""
        offset = 0
        for held, leaf in parts:
            text = leaf.text
            start_of_part = offset
            end_of_part = offset + len(text)
            pieces: list[str] = []
            last = 0
            for f in findings:
                a, b = max(f.start, start_of_part), min(f.end, end_of_part)
                if a >= b:
                    continue
                pieces.append(text[last:a - start_of_part])
                if f.start >= start_of_part:
                    pieces.append(f"[REDACTED:{f.kind}]")
                last = b - start_of_part
            offset = end_of_part
            if not pieces:
                continue
            pieces.append(text[last:])
            new = "".join(pieces)
            leaf.text = new
            if leaf.container is not None:
                leaf.container[leaf.key] = new
            held.dirty = True
