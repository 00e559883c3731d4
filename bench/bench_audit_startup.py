"""Audit writer start-up memory against the size of the current audit file.

Run: .venv/bin/python bench/bench_audit_startup.py [--sizes-mb 0 64 256]
Each size runs in a fresh interpreter: it writes a current file of that many MB of 250-byte
records, then reports the peak RSS (ru_maxrss) growth across C{AuditChainWriter.open()}, which
recovers the chain head.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(size_mb: int, directory: str) -> None:
    sys.path.insert(0, REPO)
    import orjson
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from stoad.audit._chain import file_name
    from stoad.audit._writer import AuditChainWriter

    path = os.path.join(directory, file_name(1))
    seq = 0
    with open(path, "wb", buffering=1 << 20) as f:
        record_block = []
        written = 0
        while written < size_mb * 1024 * 1024:
            seq += 1
            line = orjson.dumps({"seq": seq, "hash": f"{seq:0>64}", "pad": "x" * 150}) + b"\n"
            record_block.append(line)
            written += len(line)
            if len(record_block) == 4096:
                f.write(b"".join(record_block))
                record_block.clear()
        f.write(b"".join(record_block))
    del record_block
    writer = AuditChainWriter(directory, Ed25519PrivateKey.generate())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    writer.open()
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert writer.head_seq == seq, (writer.head_seq, seq)
    print(f"{size_mb:5d} MB file: peak RSS +{(after - before) / 1024:7.1f} MB during open(), "
          f"{took * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[0, 64, 256])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.dir)
        return
    for size in args.sizes_mb:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, __file__, "--child", str(size), "--dir", tmp],
                           check=True)


if __name__ == "__main__":
    main()
