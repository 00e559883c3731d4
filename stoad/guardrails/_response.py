"""Response body filters: buffered JSON/text scanning, SSE event-by-event scanning, and size limits.

A filter never sends a byte it has not scanned; blocks become 502 (or a final SSE event).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate
from typing import Callable, Iterable

import orjson

from stoad.guardrails._content import ContentScanner, Tally
from stoad.guardrails._detectors import INJECTION, PII, SECRETS, TRAILING_CONTEXT, Scanner
from stoad.guardrails._encoding import CorruptEncoding, DecodedTooLarge, StreamDecoder, StreamEncoder
from stoad.guardrails._stream import StreamCarry
from stoad.runtime.deny import Deny

# Called with a scan's tally: records the triggers and returns the detector that blocks, if any.
Decide = Callable[[Tally], "str | None"]
# Called for size and oversize events: (detector, action).
Note = Callable[[str, str], None]


def blocked_response(detector: str) -> Deny:
    return Deny(502, "guardrail_blocked", f"response blocked by the {detector} guardrail",
                body={"error": "guardrail_blocked", "detector": detector})


def truncated_json(limit: int) -> bytes:
    return orjson.dumps({"error": "response_truncated", "truncated": True, "limit_bytes": limit,
                         "detector": "size"})


def _utf8_prefix(data: bytes, limit: int) -> bytes:
    """The first C{limit} bytes, without a UTF-8 sequence cut in half at the end."""
    cut = data[:limit]
    try:
        cut.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start >= len(cut) - 3 and e.end == len(cut):
            return cut[:e.start]
    return cut


class BufferedScanFilter:
    """
    Buffers a JSON, form or text body up to the scan limit and scans it at C{finish}. Past the
    size limit the body is replaced (JSON: a structured marker) or cut with a marker line (text).
    """

    def __init__(self, content: ContentScanner, kind: str, scan_limit: int, oversize: str,
                 size_limit: int | None, decide: Decide, note: Note) -> None:
        self._content = content
        self._kind = kind
        self._scan_limit = scan_limit
        self._oversize = oversize
        self._size_limit = size_limit
        self._decide = decide
        self._note = note
        self._buffer = bytearray()
        self._passthrough = False
        self._truncated = False

    @property
    def done(self) -> bool:
        """Nothing more of the body will be used (it was cut at the size limit)."""
        return self._truncated

    def feed(self, chunk: bytes) -> bytes:
        if self._passthrough:
            return chunk
        if self._truncated:
            return b""
        self._buffer += chunk
        size = len(self._buffer)
        if self._size_limit is not None and size > self._size_limit:
            self._truncated = True
            del self._buffer[self._size_limit:]
            return b""
        if size > self._scan_limit:
            if self._oversize == "block":
                self._note("oversize", "block")
                raise Deny(502, "guardrail_blocked", "response larger than the scan limit",
                           body={"error": "guardrail_blocked", "detector": "oversize"})
            self._note("oversize", "alert")
            self._passthrough = True
            out = bytes(self._buffer)
            self._buffer.clear()
            return out
        return b""

    def finish(self) -> bytes:
        if self._passthrough:
            return b""
        if self._truncated:
            assert self._size_limit is not None
            self._note("size", "truncate")
            if self._kind == "json":
                return truncated_json(self._size_limit)
            if self._kind == "binary":
                raise Deny(502, "response_too_large", "binary response over the size limit",
                           body={"error": "response_too_large", "detector": "size"})
            body = _utf8_prefix(bytes(self._buffer), self._size_limit)
            marker = f"\n[TRUNCATED: response exceeded {self._size_limit} bytes]\n".encode()
            return self._scan(body, "text") + marker
        return self._scan(bytes(self._buffer), self._kind)

    def _scan(self, body: bytes, kind: str) -> bytes:
        tally = Tally()
        new = self._content.body(body, kind, tally)
        if tally:
            detector = self._decide(tally)
            if detector is not None:
                raise blocked_response(detector)
        return body if new is None else new


# An event with more data lines than this is joined all at once, not boundary by boundary.
_MAX_LINE_JOINS = 16


def _final_event(payload: dict[str, object]) -> bytes:
    return b"event: guardrail\ndata: " + orjson.dumps(payload) + b"\n\n"


class EventStreamFilter:
    """
    Scans C{text/event-stream} responses event by event: an event is held until its blank line
    arrives (however the network split it), its C{data:} lines are scanned as one value (as JSON
    when they parse), and only then sent. With a stream window, each JSON path's text (or the
    plain data) is also scanned joined to the text of earlier events still held, and an event is
    held until C{window} characters of later text follow it, so a value split over events is
    redacted whole. A block or the size limit ends the stream with a final C{guardrail} event;
    nothing after it is sent.
    """

    def __init__(self, content: ContentScanner, scanner: Scanner, scan_limit: int, oversize: str,
                 size_limit: int | None, decide: Decide, note: Note, window: int = 0) -> None:
        self._content = content
        self._scanner = scanner
        self._scan_limit = scan_limit
        self._oversize = oversize
        self._size_limit = size_limit
        self._decide = decide
        self._note = note
        self._pending = b""
        self._sent = 0
        self._ended = False
        self._passthrough = False
        carried = content.active & {PII, SECRETS}
        self._carry = StreamCarry(content, scanner, window) if window > 0 and carried else None

    @property
    def done(self) -> bool:
        """The stream was ended with a final event; nothing more will be sent."""
        return self._ended

    def feed(self, chunk: bytes) -> bytes:
        if self._ended:
            return b""
        if self._passthrough:
            return chunk
        # Keep a trailing CR back: it may be the first half of a CRLF in the next chunk.
        data = self._pending + chunk
        hold = b""
        if data.endswith(b"\r"):
            data, hold = data[:-1], b"\r"
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        out: list[bytes] = []
        while not self._ended:
            end = data.find(b"\n\n")
            if end < 0:
                break
            out.extend(self._event(data[:end]))
            data = data[end + 2:]
        if self._ended:
            self._pending = b""
            return b"".join(out)
        self._pending = data + hold
        if len(self._pending) > self._scan_limit:
            if self._oversize == "block":
                self._note("oversize", "block")
                if self._carry is not None:
                    out.extend(self._send(self._carry.flush()))
                if not self._ended:
                    out.append(self._end({"error": "guardrail_blocked", "detector": "oversize"}))
            else:
                self._note("oversize", "alert")
                self._passthrough = True
                if self._carry is not None:
                    out.extend(self._send(self._carry.flush()))
                out.append(self._pending)
                self._pending = b""
        return b"".join(out)

    def finish(self) -> bytes:
        if self._ended or self._passthrough:
            return b""
        rest = self._pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n").strip(b"\n")
        self._pending = b""
        out = self._event(rest) if rest else []
        if self._carry is not None and not self._ended:
            out.extend(self._send(self._carry.flush()))
        return b"".join(out)

    def _end(self, payload: dict[str, object]) -> bytes:
        self._ended = True
        return _final_event(payload)

    def _data(self, data_lines: list[str]) -> str:
        """
        The event's data: its lines joined by newlines, or without separators when a PII or
        secret finding crosses a line boundary that way (a token split over two C{data:} lines).
        """
        data = "\n".join(data_lines)
        if len(data_lines) < 2:
            return data
        joined = "".join(data_lines)
        detectors = self._content.active & {PII, SECRETS}
        if detectors and len(data_lines) <= _MAX_LINE_JOINS:
            # each line boundary on its own, the other lines kept apart: glued to the next line's
            # text, a value's end would otherwise run into a word and fail its boundary
            glue = [False] * (len(data_lines) - 1)
            apart: set[tuple[int, int, str]] | None = None
            for i in range(len(data_lines) - 1):
                head = "\n".join(data_lines[:i + 1])
                text = head + "\n".join(data_lines[i + 1:])
                if not self._scanner.maybe(text, detectors, learned=False):
                    continue
                bound = len(head)
                for f in self._scanner.find(text, detectors, self._content.allow, self._content.budget):
                    if f.end <= bound - TRAILING_CONTEXT:
                        continue
                    if f.start < bound < f.end:
                        # the value itself crosses the boundary, unless the lines kept apart
                        # already hold it whole (a key file's lines: glued, its rule stops short)
                        if apart is None:
                            apart = {(g.start, g.end, g.kind) for g in self._scanner.find(
                                data, detectors, self._content.allow, self._content.budget)}
                        if not any(kind == f.kind and start <= f.start and f.end + 1 <= end
                                   for start, end, kind in apart):
                            glue[i] = True
                            break
                        continue
                    # after the boundary, but found only with the line before glued on (the
                    # name before a value, the scheme and user before a URL's password); or
                    # just before it, found only with the next line's start glued on (the "@host"
                    # after a URL's password)
                    if apart is None:
                        apart = {(g.start, g.end, g.kind) for g in self._scanner.find(
                            data, detectors, self._content.allow, self._content.budget)}
                    shift = 1 if f.start >= bound else 0
                    if (f.start + shift, f.end + shift, f.kind) not in apart:
                        glue[i] = True
                        break
            if any(glue):
                return "".join(line + ("" if i == len(glue) or glue[i] else "\n")
                               for i, line in enumerate(data_lines))
        if not self._scanner.maybe(joined, self._content.active):
            return data
        if detectors and len(data_lines) > _MAX_LINE_JOINS:
            bounds = list(accumulate(len(line) for line in data_lines[:-1]))
            kept: set[tuple[int, int, str]] | None = None
            for finding in self._scanner.find(joined, detectors, self._content.allow, self._content.budget):
                if any(finding.start < bound < finding.end for bound in bounds):
                    # unless the lines kept apart already hold the value whole (a key file's
                    # lines: joined, its rule stops short); offsets in data gain one per boundary
                    if kept is None:
                        kept = {(g.start, g.end, g.kind) for g in self._scanner.find(
                            data, detectors, self._content.allow, self._content.budget)}
                    start = finding.start + bisect_right(bounds, finding.start)
                    end = finding.end + bisect_left(bounds, finding.end)
                    if not any(kind == finding.kind and a <= start and end <= b for a, b, kind in kept):
                        return joined
        if INJECTION in self._content.active and self._scanner.injection(joined) and \
                not self._scanner.injection(data):
            return joined
        return data

    def _event(self, block: bytes) -> list[bytes]:
        lines = block.split(b"\n")
        data_lines: list[str] = []
        first_data = -1
        kept: list[tuple[int, str]] = []
        tally = Tally()
        for index, raw in enumerate(lines):
            line = raw.decode("utf-8", "replace")
            if line.startswith("data"):
                name, _, value = line.partition(":")
                if name == "data":
                    if first_data < 0:
                        first_data = index
                    data_lines.append(value[1:] if value.startswith(" ") else value)
                    continue
            # event:, id:, retry: and comments are scanned as text too.
            kept.append((index, self._content.text(line, tally) if line else line))
        new_data: list[str] | None = None
        data: str | None = None
        if data_lines:
            data = self._data(data_lines)
            if self._carry is not None:
                cut = self._carry.cut_raw(data)
                if cut != data:
                    data, new_data = cut, cut.split("\n")
                    tally.changed = True
                self._carry.note_raw(data)
            new = self._content.body(data.encode("utf-8"), "json" if _looks_json(data) else "text", tally)
            if new is not None:
                data = new.decode("utf-8")
                new_data = data.split("\n")
        if new_data is None and not tally.changed:
            encoded = block + b"\n\n"
        else:
            out_lines: list[str] = []
            kept_map = dict(kept)
            for index in range(len(lines)):
                if index == first_data:
                    out_lines.extend("data: " + d for d in (new_data if new_data is not None else data_lines))
                elif index in kept_map:
                    out_lines.append(kept_map[index])
            encoded = "\n".join(out_lines).encode("utf-8") + b"\n\n"
        if self._carry is None:
            if tally:
                detector = self._decide(tally)
                if detector is not None:
                    return [self._end({"error": "guardrail_blocked", "detector": detector})]
            return self._send([encoded])
        layout: list[str | None] = [text for _, text in kept]
        layout.insert(sum(1 for index, _ in kept if index < first_data) if first_data >= 0 else len(layout), None)
        held, crossed = self._carry.add(layout, data, encoded, tally)
        if tally:
            detector = self._decide(tally)
            if detector is not None:
                # A block on a value that crossed events takes the held events with it: they
                # hold part of the value. Otherwise the held events were clean and are sent.
                if crossed:
                    self._carry.drop()
                    return [self._end({"error": "guardrail_blocked", "detector": detector})]
                out = self._send(self._carry.flush())
                if not self._ended:
                    out.append(self._end({"error": "guardrail_blocked", "detector": detector}))
                return out
        self._carry.hold(held)
        return self._send(self._carry.release())

    def _send(self, events: list[bytes]) -> list[bytes]:
        """The events that fit under the size limit; past it, the final truncation event."""
        out: list[bytes] = []
        for encoded in events:
            if self._ended:
                break
            if self._size_limit is not None and self._sent + len(encoded) > self._size_limit:
                self._note("size", "truncate")
                if self._carry is not None:
                    self._carry.drop()
                out.append(self._end({"error": "response_truncated", "truncated": True,
                                      "limit_bytes": self._size_limit, "detector": "size"}))
                break
            self._sent += len(encoded)
            out.append(encoded)
        return out


def _looks_json(data: str) -> bool:
    head = data.lstrip()[:1]
    return head in ("{", "[")


class DecodingFilter:
    """
    Runs an inner filter on the decoded body of a gzip/deflate response and re-encodes its output,
    so the client still gets the coding the upstream declared. Decoding is bounded in pieces.
    """

    def __init__(self, inner: BufferedScanFilter | EventStreamFilter, coding: str, note: Note) -> None:
        self._inner = inner
        # The inner filter enforces the scan and size limits on decoded bytes; decoding stops
        # as soon as it needs no more, and output is produced in bounded pieces.
        self._decoder = StreamDecoder(coding, None)
        self._encoder = StreamEncoder(coding)
        self._note = note

    def _run(self, pieces: Iterable[bytes]) -> bytes:
        out = []
        try:
            for piece in pieces:
                if self._inner.done:
                    break
                out.append(self._encoder.feed(self._inner.feed(piece)))
        except DecodedTooLarge:
            self._note("oversize", "block")
            raise Deny(502, "guardrail_blocked", "compressed response decodes past the limit",
                       body={"error": "guardrail_blocked", "detector": "oversize"}) from None
        except CorruptEncoding as e:
            self._note("encoding", "block")
            raise Deny(502, "guardrail_unscannable", f"corrupt compressed response: {e}",
                       body={"error": "guardrail_unscannable", "detector": "encoding"}) from None
        return b"".join(out)

    def feed(self, chunk: bytes) -> bytes:
        if self._inner.done:
            return b""
        return self._run(self._decoder.feed(chunk))

    def finish(self) -> bytes:
        head = b"" if self._inner.done else self._run(self._decoder.finish())
        return head + self._encoder.finish(self._inner.finish())
