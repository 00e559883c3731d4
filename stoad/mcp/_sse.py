"""Incremental splitting and rewriting of C{text/event-stream} bodies, one event at a time.

Events pass on as soon as their terminating blank line arrives; nothing waits for the stream end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TERMINATOR = re.compile(rb"[\r\n]")


class EventTooLarge(Exception):
    """An event grew past the limit without ending."""


class SseEventSplitter:
    """
    Cuts a byte stream into raw events (each with its trailing blank line, bytes unchanged).
    Lines end with CRLF, LF or CR, as the SSE specification allows.
    """

    def __init__(self, max_event_bytes: int) -> None:
        self._buf = bytearray()
        self._event_start = 0
        self._line_start = 0
        self._scan = 0
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf += chunk
        events: list[bytes] = []
        buf = self._buf
        while True:
            match = _TERMINATOR.search(buf, self._scan)
            if match is None:
                self._scan = len(buf)
                break
            at = match.start()
            if buf[at] == 0x0D:
                if at + 1 == len(buf):
                    self._scan = at  # a CR at the end may be the first half of a CRLF
                    break
                end = at + 2 if buf[at + 1] == 0x0A else at + 1
            else:
                end = at + 1
            if at == self._line_start:  # an empty line: the event is complete
                events.append(bytes(buf[self._event_start:end]))
                self._event_start = end
            self._line_start = end
            self._scan = end
        if self._event_start:
            del buf[: self._event_start]
            self._line_start -= self._event_start
            self._scan -= self._event_start
            self._event_start = 0
        if len(buf) > self._max:
            raise EventTooLarge(f"SSE event exceeds {self._max} bytes")
        return events

    def finish(self) -> bytes:
        """Whatever is left (an unterminated event), unchanged."""
        rest = bytes(self._buf)
        self._buf.clear()
        self._event_start = self._line_start = self._scan = 0
        return rest


@dataclass(frozen=True)
class SseEvent:
    """The fields of one event: its data (data lines joined by LF) and every other line."""

    data: str | None
    other_lines: tuple[str, ...]


def parse_event(raw: bytes) -> SseEvent:
    text = raw.decode("utf-8", errors="replace")
    data: list[str] = []
    other: list[str] = []
    for line in text.splitlines():
        if not line:
            continue
        name, sep, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
        else:
            other.append(line)
    return SseEvent("\n".join(data) if data else None, tuple(other))


def render_event(other_lines: tuple[str, ...], data: str) -> bytes:
    """An event with the given non-data lines and C{data} (one data line per line of it)."""
    lines = list(other_lines)
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode("utf-8")
