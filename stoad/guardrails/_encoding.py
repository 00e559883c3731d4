"""Bounded gzip/deflate decoding (and re-encoding) so compressed bodies are scanned, not passed.

Output is produced in small pieces and counted, so a zip bomb stops at the scan limit.
"""

from __future__ import annotations

import zlib
from typing import Iterator, Mapping

PIECE = 64 * 1024
SUPPORTED = ("gzip", "x-gzip", "deflate")


class UnsupportedEncoding(Exception):
    """A content coding that is not decoded here (br, compress, zstd, or several stacked)."""


class DecodedTooLarge(Exception):
    """Decoding produced more than the allowed number of bytes."""


class CorruptEncoding(Exception):
    """The body is not valid data of its declared coding."""


def content_coding(headers: Mapping[str, list[str]]) -> str | None:
    """The one content coding in effect (None for identity); raises L{UnsupportedEncoding}."""
    codings = [c.strip().lower() for value in headers.get("content-encoding", []) for c in value.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None
    if len(codings) > 1 or codings[0] not in SUPPORTED:
        raise UnsupportedEncoding(", ".join(codings))
    return "gzip" if codings[0] == "x-gzip" else codings[0]


def _window(coding: str, first: bytes) -> int:
    if coding == "gzip":
        return 31
    # "deflate" is meant to be zlib-wrapped, but raw deflate is common in the wild.
    if len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0:
        return 15
    return -15


class StreamDecoder:
    """Decodes one compressed stream chunk by chunk, never holding more than C{PIECE} of output."""

    def __init__(self, coding: str, limit: int | None) -> None:
        self._coding = coding
        self._limit = limit
        self._total = 0
        self._decoder: zlib._Decompress | None = None
        self._head = b""

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        if self._decoder is None:
            self._head += chunk
            if len(self._head) < 2:
                return
            chunk, self._head = self._head, b""
            self._decoder = zlib.decompressobj(_window(self._coding, chunk))
        data = chunk
        while data:
            decoder = self._decoder
            if decoder.eof:
                if self._coding != "gzip":
                    raise CorruptEncoding("data after the end of the compressed stream")
                self._decoder = decoder = zlib.decompressobj(31)  # a further gzip member
            try:
                piece = decoder.decompress(data, PIECE)
            except zlib.error as e:
                raise CorruptEncoding(str(e)) from None
            data = decoder.unconsumed_tail or (decoder.unused_data if decoder.eof else b"")
            if piece:
                self._total += len(piece)
                if self._limit is not None and self._total > self._limit:
                    raise DecodedTooLarge(self._total)
                yield piece
            elif not decoder.eof and not decoder.unconsumed_tail:
                break

    def finish(self) -> Iterator[bytes]:
        if self._decoder is None:
            if self._head:
                yield from self.feed(b"")
                if self._decoder is None:
                    raise CorruptEncoding("truncated compressed stream")
            else:
                return
        assert self._decoder is not None
        try:
            rest = self._decoder.flush()
        except zlib.error as e:
            raise CorruptEncoding(str(e)) from None
        if rest:
            self._total += len(rest)
            if self._limit is not None and self._total > self._limit:
                raise DecodedTooLarge(self._total)
            yield rest
        if not self._decoder.eof:
            raise CorruptEncoding("truncated compressed stream")


class StreamEncoder:
    """Re-encodes filtered output in the same coding, flushing after each piece."""

    def __init__(self, coding: str) -> None:
        self._encoder = zlib.compressobj(6, zlib.DEFLATED, 31 if coding == "gzip" else 15)

    def feed(self, data: bytes) -> bytes:
        if not data:
            return b""
        return self._encoder.compress(data) + self._encoder.flush(zlib.Z_SYNC_FLUSH)

    def finish(self, data: bytes = b"") -> bytes:
        return self._encoder.compress(data) + self._encoder.flush(zlib.Z_FINISH)


def decode_body(data: bytes, coding: str, limit: int) -> bytes:
    """Decode a whole body, refusing to produce more than C{limit} bytes."""
    decoder = StreamDecoder(coding, limit)
    pieces = list(decoder.feed(data))
    pieces.extend(decoder.finish())
    return b"".join(pieces)


def encode_body(data: bytes, coding: str) -> bytes:
    return StreamEncoder(coding).finish(data)
