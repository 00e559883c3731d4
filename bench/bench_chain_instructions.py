"""The filter chain's own cost: instructions per request for four synchronous layers' request
and response steps, counted by valgrind's callgrind (repeatable on a busy machine).

Run: .venv/bin/python bench/bench_chain_instructions.py [--requests 3000]
It runs this script twice under C{valgrind --tool=callgrind} — once driving the chain, once
driving an empty coroutine the same number of times — and prints the difference per request.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def drive(mode: str, requests: int) -> None:
    sys.path.insert(0, REPO)
    from twisted.internet.defer import ensureDeferred
    from twisted.internet.task import Clock

    from stoad.runtime.chain import FilterChain
    from tests.support.audit import context

    class Layer:
        def __init__(self, name: str) -> None:
            self.name = name

        def on_request(self, ctx: object) -> None:
            return None

        def on_response(self, ctx: object, head: object) -> None:
            return None

        def on_complete(self, ctx: object) -> None:
            return None

    chain = FilterChain([Layer(f"layer{i}") for i in range(4)], Clock(), 5.0)
    ctx = context(1)

    async def one() -> None:
        ctx.decisions.clear()
        if mode == "chain":
            await chain.run_request(ctx)
            await chain.run_response(ctx, None)  # type: ignore[arg-type]

    for _ in range(requests):
        ensureDeferred(one())


def instructions(mode: str, requests: int) -> int:
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           sys.executable, __file__, "--drive", mode, "--requests", str(requests)],
                          capture_output=True, text=True, check=True)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError(done.stderr[-2000:])
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--drive", choices=("chain", "empty"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        drive(args.drive, args.requests)
        return
    per_request = (instructions("chain", args.requests)
                   - instructions("empty", args.requests)) / args.requests
    print(f"chain, four synchronous layers, request + response steps: "
          f"{per_request:,.0f} instructions per request")


if __name__ == "__main__":
    main()
