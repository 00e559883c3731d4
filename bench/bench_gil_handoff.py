"""What the audit writer's per-group work costs when another Python thread holds the GIL.

    .venv/bin/python bench/bench_gil_handoff.py

Thread CPU per call of the head signature (`sign_checkpoint`), alone and followed by a small
`os.pwrite` (a system call that releases the GIL), first with this thread alone, then while a
second thread runs Python in a loop — as the worker's reactor thread does while the writer thread
commits a group.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from stoad.audit._chain import sign_checkpoint  # noqa: E402


def per_call(n: int, key: Ed25519PrivateKey, fd: int | None) -> float:
    started = time.thread_time()
    for i in range(n):
        sign_checkpoint(key, i + 1, "a" * 64, "00000000000000000001.jsonl",
                        "2026-12-04T00:00:00.000Z", chain="worker-0")
        if fd is not None:
            os.pwrite(fd, b"x" * 300, 0)
    return (time.thread_time() - started) * 1e6 / n


def main() -> int:
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as tmp:
        fd = os.open(os.path.join(tmp, "head"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            alone = (per_call(2000, key, None), per_call(2000, key, fd))
            stop = threading.Event()

            def spin() -> None:
                count = 0
                while not stop.is_set():
                    count += 1

            other = threading.Thread(target=spin)
            other.start()
            try:
                shared = (per_call(500, key, None), per_call(500, key, fd))
            finally:
                stop.set()
                other.join()
        finally:
            os.close(fd)
    print("| | signature | signature + pwrite |\n|---|---:|---:|")
    print(f"| this thread alone | {alone[0]:.1f} µs | {alone[1]:.1f} µs |")
    print(f"| another thread running Python | {shared[0]:.1f} µs | {shared[1]:.1f} µs |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
