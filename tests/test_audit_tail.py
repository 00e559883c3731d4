"""Reading an audit file's end backwards: the same answers as reading the whole file, and
start-up memory that does not grow with the file."""

from __future__ import annotations

import os
import random
import tracemalloc

import orjson
from twisted.trial.unittest import TestCase

from stoad.audit._chain import file_name, load_private_key
from stoad.audit._tail import last_nonempty_line, read_tail
from stoad.audit._writer import AuditChainWriter
from tests.support.audit import write_key


def whole_file_tail(data: bytes) -> tuple[int, int, bytes | None]:
    """What start-up computed before, from the whole file in memory."""
    complete = data.rfind(b"\n") + 1
    lines = data[:complete].split(b"\n")[:-1]
    return len(data), complete, (lines[-1] if lines else None)


def whole_file_last_line(data: bytes) -> bytes | None:
    """The previous file's last record as start-up found it before (None: nothing there)."""
    stripped = data.rstrip(b"\n")
    line = stripped[stripped.rfind(b"\n") + 1:]
    return line or None


class TailTests(TestCase):
    def write(self, data: bytes) -> str:
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_same_answer_as_reading_the_whole_file(self) -> None:
        """On 3,000 random files (empty lines, torn tails, lines longer than a block, no newline
        at all) and block sizes from 1 byte up, the backwards reader finds the same size,
        complete length, last line and last non-empty line as the whole-file reader."""
        rng = random.Random(1313)
        for _ in range(3000):
            parts = []
            for _ in range(rng.randrange(0, 6)):
                parts.append(bytes(rng.choice(b"ab{}\"") for _ in range(rng.randrange(0, 12))))
            data = b"\n".join(parts)
            if parts and rng.random() < 0.6:
                data += b"\n" * rng.randrange(1, 3)
            path = self.write(data)
            block = rng.choice([1, 2, 3, 5, 8, 64, 65536])
            tail = read_tail(path, block)
            self.assertEqual((tail.size, tail.complete, tail.last_line), whole_file_tail(data),
                             (data, block))
            self.assertEqual(last_nonempty_line(path, block), whole_file_last_line(data),
                             (data, block))

    def test_reads_a_bounded_amount_of_a_large_file(self) -> None:
        """Finding the tail of a 16 MB file allocates well under 1 MB."""
        record = b'{"seq":1,"hash":"' + b"a" * 200 + b'"}\n'
        path = self.mktemp()
        with open(path, "wb") as f:
            for _ in range(16 * 1024 * 1024 // len(record)):
                f.write(record)
            f.write(b'{"torn')
        tracemalloc.start()
        try:
            tail = read_tail(path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertEqual(tail.last_line, record[:-1])
        self.assertEqual(tail.size - tail.complete, len(b'{"torn'))
        self.assertLess(peak, 1024 * 1024)


class WriterStartupTests(TestCase):
    def test_writer_start_up_memory_does_not_grow_with_the_file(self) -> None:
        """A writer opening a 16 MB current audit file (with a torn last record) recovers the
        chain head from the last record and cuts the torn bytes, allocating under 1 MB."""
        base = os.path.abspath(self.mktemp())
        key = load_private_key(write_key(base))
        directory = os.path.join(base, "audit")
        os.makedirs(directory)
        path = os.path.join(directory, file_name(1))
        count = 16 * 1024 * 1024 // 256
        with open(path, "wb") as f:
            for seq in range(1, count + 1):
                f.write(orjson.dumps({"seq": seq, "hash": f"{seq:0>64}", "pad": "x" * 160}) + b"\n")
            f.write(b'{"seq": 99')
        writer = AuditChainWriter(directory, key)
        tracemalloc.start()
        try:
            writer.open()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            writer.close(5.0)
        self.assertEqual(writer.head_seq, count)
        self.assertEqual(writer.head_hash, f"{count:0>64}")
        self.assertEqual(writer.repaired_bytes, len(b'{"seq": 99'))
        self.assertLess(peak, 1024 * 1024)
