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
from stoad.guardrails._detectors import PII, SECRETS, TRAILING_CONTEXT, Finding, Scanner

# A PEM private key has no useful length bound: once its BEGIN line is seen on a stream, what
# follows on that stream is key material until the END line.
_PEM_BEGIN = re2.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
# A PuTTY key file likewise, from its header line to its last line, "Private-MAC: " and the MAC's
# hex (40 digits in format 2, 64 in format 3); the END of either closes a key left open.
_PPK_HEADER = re2.compile(r"PuTTY-User-Key-File-\d: [^\n]{0,64}")
_KEY_END = re2.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
                       r"|Private-MAC: (?:[0-9a-fA-F]{64}|[0-9a-fA-F]{40}[^0-9a-fA-F])")
_ENCRYPTION_LINE = "Encryption: "


def _key_left_open(text: str) -> bool:
    """Whether C{text} ends inside a private key: a PEM BEGIN line, or a PuTTY key file's header
    line followed by its "Encryption:" line, with no END after it."""
    last = None
    if "KEY-----" in text:
        begins = list(_PEM_BEGIN.finditer(text))
        last = begins[-1].end() if begins else None
    if "PuTTY-User-Key-File-" in text:
        for header in _PPK_HEADER.finditer(text):
            after = text[header.end():]
            newline = after.find("\n")
            following = after[newline + 1:].lstrip(" \t") if newline >= 0 else ""
            # the next line is the Encryption line: a key file (the header alone is left to the
            # window, whose scan needs that line to count it)
            if newline >= 0 and following.startswith(_ENCRYPTION_LINE):
                last = max(last or 0, header.end())
    return last is not None and _KEY_END.search(text, last) is None


@dataclass
class Leaf:
    """One string of an event's data: where it sits (to rewrite it) and its text."""

    container: Any  # dict or list holding the string; None for plain-text data
    key: Any
    text: str  # as it will be sent
    raw: str = ""  # as it came, before any redaction: what is carried and scanned across events
    # spans of C{raw} redacted once a finding crossed into or out of this string:
    # (start, end, kind, whether the marker goes here)
    spans: list[tuple[int, int, str, bool]] = field(default_factory=list)


@dataclass
class HeldEvent:
    """An event scanned on its own but not sent yet. C{data} is its data after that scan."""

    lines: list[str | None]  # the event's lines, its data lines replaced by one None
    data: str | None
    raw: bytes  # the event as scanned alone, sent as it is unless a crossing finding changed it
    document: Any = None  # the parsed data when it is JSON
    leaves: dict[str, Leaf] = field(default_factory=dict)
    carried: list[str] = field(default_factory=list)  # the paths whose text is carried
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
    Holds scanned events until C{window} characters of later text follow them on each of their
    paths, and scans each new event's strings joined to the held text on the same path. A PII or secret finding that
    crosses from held events into the new one is counted, and when redacted its first part
    becomes the marker and the rest is removed, wherever it lies.
    """

    def __init__(self, content: ContentScanner, scanner: Scanner, window: int) -> None:
        self._content = content
        self._scanner = scanner
        self._window = window
        self._detectors = frozenset(d for d in (PII, SECRETS) if d in content.active)
        self._redacting = frozenset(d for d in self._detectors if d in content.redacting)
        self._held: deque[HeldEvent] = deque()
        self._pem_open: dict[str, str] = {}  # path -> the tail of what was cut there
        self._raw_tail: dict[str, str] = {}  # path -> the end of its raw text (a BEGIN line split over events)
        # path -> the held (event, leaf) parts on it, and their texts joined
        self._parts: dict[str, deque[tuple[HeldEvent, Leaf]]] = {}
        self._text: dict[str, str] = {}
        self._parsed: tuple[str, Any, dict[str, Leaf]] | None = None  # the last raw data parsed
        # path -> its value while it has been the same in every event (ids, model names): such a
        # path is no stream of text and is not carried; None once it has changed
        self._constant: dict[str, str | None] = {}
        self._repeated: set[str] = set()  # constant paths seen in two events or more

    def cut_raw(self, data: str) -> str:
        """
        Before the event is scanned on its own: drop what continues a private key (PEM or PuTTY) opened on the
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
            end = _KEY_END.search(tail + leaf.text)
            if end is not None:
                del self._pem_open[path]
                # what came before the END is the closed key: its BEGIN line must not open it again
                self._raw_tail.pop(path, None)
                rest = leaf.text[max(end.end() - len(tail), 0):]
            else:
                self._pem_open[path] = (tail + leaf.text)[-100:]  # the longest END: a format 3 MAC line
                rest = ""
            if leaf.container is None:
                return rest
            leaf.container[leaf.key] = rest
            changed = True
        if changed:
            return orjson.dumps(document).decode("utf-8")
        return data

    def note_raw(self, data: str) -> None:
        """Remember the streams on which this event's raw data leaves a private key open."""
        if not self._detectors:
            return
        document, leaves = _leaves(data)
        self._parsed = (data, document, leaves)
        if SECRETS not in self._content.redacting:
            return
        for path, leaf in leaves.items():
            # the BEGIN line itself may have been split over the previous events
            text = self._raw_tail.get(path, "") + leaf.text
            self._raw_tail[path] = text[-120:]
            if "KEY-----" not in text and "PuTTY-User-Key-File-" not in text:
                continue
            if _key_left_open(text):
                self._pem_open.setdefault(path, "")

    def add(self, lines: list[str | None], data: str | None, raw: bytes, tally: Tally) -> tuple[HeldEvent, bool]:
        """
        Join the event (already scanned alone) to the held text and count what crosses into it;
        returns the event to L{hold} and whether anything crossed.
        """
        event = HeldEvent(lines, data, raw)
        before = sum(tally.counts.values())
        if data is not None and self._detectors:
            parsed = self._parsed
            # unchanged by the scan: the parse made for note_raw serves (it is not written to)
            event.document, event.leaves = parsed[1:] if parsed is not None and parsed[0] == data else _leaves(data)
            # the strings as they came: a value the event's own scan redacted in part is carried whole
            raw_leaves = parsed[2] if parsed is not None else {}
            constant = self._constant
            for path, leaf in event.leaves.items():
                came = raw_leaves.get(path)
                leaf.raw = came.text if came is not None else leaf.text
                if path not in constant:
                    constant[path] = leaf.text
                elif constant[path] is not None:
                    if constant[path] == leaf.text:
                        self._repeated.add(path)
                        continue
                    constant[path] = None
                    self._repeated.discard(path)
                event.carried.append(path)
                self._cross(path, leaf, event, tally)
        self._parsed = None
        return event, sum(tally.counts.values()) != before

    def hold(self, event: HeldEvent) -> None:
        self._held.append(event)
        for path in event.carried:
            leaf = event.leaves[path]
            self._parts.setdefault(path, deque()).append((event, leaf))
            self._text[path] = self._text.get(path, "") + leaf.raw

    def release(self) -> list[bytes]:
        """The held events that a whole window of later text now follows."""
        out: list[bytes] = []
        while self._held and self._followed(self._held[0]):
            event = self._held.popleft()
            for path in event.carried:
                _, leaf = self._parts[path].popleft()
                self._text[path] = self._text[path][len(leaf.raw):]
            out.append(event.encode())
        return out

    def _followed(self, event: HeldEvent) -> bool:
        """Whether a whole window of later text follows the event on every stream it has text on."""
        text = self._text
        window = self._window
        leaves = event.leaves
        repeated = self._repeated
        return all(len(text[path]) - len(leaves[path].raw) >= window or path in repeated
                   for path in event.carried)

    def flush(self) -> list[bytes]:
        """Every held event (the stream ended)."""
        out = [event.encode() for event in self._held]
        self.drop()
        return out

    def drop(self) -> None:
        """Forget the held events (the stream is being ended by a block)."""
        self._held.clear()
        self._parts.clear()
        self._text.clear()

    def _cross(self, path: str, leaf: Leaf, event: HeldEvent, tally: Tally) -> None:
        prefix = self._text.get(path)
        if not prefix:
            return
        combined = prefix + leaf.raw
        boundary = len(prefix)
        found = [f for f in self._scanner.find(combined, self._detectors, self._content.allow, self._content.budget)
                 if f.end > boundary - TRAILING_CONTEXT]
        findings = [f for f in found if f.start < boundary < f.end]
        later = [f for f in found if f.start >= boundary]
        ending = [f for f in found if f.end <= boundary]
        if ending:
            # held text that is a value only with what follows it (a URL's password cut off
            # before "@host"): not found when the held text was scanned, and still held
            before = {(f.start, f.end, f.kind)
                      for f in self._scanner.find(prefix, self._detectors, self._content.allow, self._content.budget)}
            findings += [f for f in ending if (f.start, f.end, f.kind) not in before]
        if not findings and not later:
            return
        own = [Finding(f.detector, f.kind, f.start + boundary, f.end + boundary)
               for f in self._scanner.find(leaf.raw, self._detectors, self._content.allow, self._content.budget)]
        if later:
            # wholly in the new text but found only with the held text before it (the scheme and
            # user before a URL's password, the name before a value): what the event alone missed
            alone = {(f.start, f.end, f.kind) for f in own}
            findings += [f for f in later if (f.start, f.end, f.kind) not in alone]
        if not findings:
            return
        # What the event's own scan counted inside a value that now turns out to start earlier
        # ("pass@host" of "scheme://user:pass@host" taken alone for an e-mail address) was part of
        # that value: the value is counted, the piece is not.
        for piece in own:
            if any(f.start < piece.end and piece.start < f.end and (f.start, f.end, f.kind) !=
                   (piece.start, piece.end, piece.kind) for f in findings) and tally.counts[piece.detector] > 0:
                tally.counts[piece.detector] -= 1
                if not tally.counts[piece.detector]:
                    del tally.counts[piece.detector]
        tally.counts.update(f.detector for f in findings)
        redacted = [f for f in findings if f.detector in self._content.redacting]
        if not redacted:
            return
        tally.changed = True
        parts = list(self._parts[path])
        parts.append((event, leaf))
        self._rewrite(parts, redacted)

    def _rewrite(self, parts: list[tuple[HeldEvent, Leaf]], findings: list[Finding]) -> None:
        """
        Redact each finding across the parts: the marker where it starts, nothing elsewhere. A part
        is rebuilt from its raw text with its own redactions and the crossing ones merged, so a
        value its own scan redacted in part (a prefix that alone looks like a token) goes whole.
        """
        offset = 0
        for held, leaf in parts:
            raw = leaf.raw
            lo, hi = offset, offset + len(raw)
            offset = hi
            crossing = [(max(f.start, lo) - lo, min(f.end, hi) - lo, f.kind, f.start >= lo)
                        for f in findings if max(f.start, lo) < min(f.end, hi)]
            if not crossing:
                continue
            if not leaf.spans and leaf.text != raw:
                own = [(f.start, f.end, f.kind, True) for f in self._scanner.find(raw, self._redacting,
                                                                                   self._content.allow)]
                if _render(raw, own) != leaf.text:
                    # rewritten by more than this scanner's findings (a decoded value): fail closed
                    own = [(0, len(raw), crossing[0][2], True)]
                leaf.spans = own
            leaf.spans = _merge(crossing + leaf.spans)  # at one start, the finding made with context names it
            new = _render(raw, leaf.spans)
            leaf.text = new
            if leaf.container is not None:
                leaf.container[leaf.key] = new
            held.dirty = True


def _merge(spans: list[tuple[int, int, str, bool]]) -> list[tuple[int, int, str, bool]]:
    """Overlapping spans as one, with the kind and marker of the one that starts first (a continuation first)."""
    out: list[tuple[int, int, str, bool]] = []
    for start, end, kind, marker in sorted(spans, key=lambda s: (s[0], s[3])):
        if out and start <= out[-1][1]:
            first = out[-1]
            out[-1] = (first[0], max(first[1], end), first[2], first[3])
        else:
            out.append((start, end, kind, marker))
    return out


def _render(raw: str, spans: list[tuple[int, int, str, bool]]) -> str:
    pieces: list[str] = []
    last = 0
    for start, end, kind, marker in spans:
        pieces.append(raw[last:start])
        if marker:
            pieces.append(f"[REDACTED:{kind}]")
        last = end
    pieces.append(raw[last:])
    return "".join(pieces)
