"""The end of an audit log file, read backwards in blocks: start-up needs only the last records,
so its memory is bounded by one record and one block, not by the file's size."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

BLOCK = 64 * 1024


@dataclass(frozen=True)
class Tail:
    """C{size}: the file's length; C{complete}: the length of its part that ends in a newline
    (a longer file ends in a torn record); C{last_line}: the last newline-terminated line without
    its newline, or C{None} when no line is complete."""

    size: int
    complete: int
    last_line: bytes | None


def read_tail(path: str, block: int = BLOCK) -> Tail:
    """The L{Tail} of the file at C{path}."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        lines = lines_backwards(f, size, block)
        complete = next(lines, None)
        if complete is None:
            return Tail(size, 0, None)
        end, line = complete
        return Tail(size, end, line)


def last_nonempty_line(path: str, block: int = BLOCK) -> bytes | None:
    """The last line of the file that is not empty, its newline (if any) left out."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        # A final line without a newline counts too (the old reader stripped trailing newlines).
        for _, line in lines_backwards(f, size, block, include_unterminated=True):
            if line:
                return line
    return None


def lines_backwards(f: BinaryIO, size: int, block: int = BLOCK,
                    include_unterminated: bool = False) -> Iterator[tuple[int, bytes]]:
    """(end, line) for each line of C{f}, last first; C{end} is the offset just past the line's
    newline. Bytes after the last newline are skipped unless C{include_unterminated}."""
    pos = size
    pending = b""  # the bytes after the newline at pos + len(...), not yet a whole line
    end = size
    seen_newline = False
    while pos > 0:
        n = min(block, pos)
        pos -= n
        f.seek(pos)
        chunk = f.read(n)
        if len(chunk) != n:
            raise OSError(f"short read at offset {pos}")
        buf = chunk + pending
        cut = len(buf)
        while True:
            i = buf.rfind(b"\n", 0, cut)
            if i < 0:
                break
            line = buf[i + 1:cut]
            if seen_newline:
                yield end, line
            elif include_unterminated and line:
                yield size, line
            seen_newline = True
            end = pos + i + 1
            cut = i
        pending = buf[:cut]
        if not seen_newline and not include_unterminated:
            pending = b""  # a torn record: never needed, never kept
    if seen_newline:
        yield end, pending
    elif include_unterminated and pending:
        yield size, pending
