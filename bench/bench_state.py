"""Shared-state cost per request: one round (session check, usage count-and-read, tools version).

Times L{MemoryState} and L{RedisState} against a private redis-server on 127.0.0.1: p50/p99 of a
round one at a time, throughput with rounds in flight, and this process's CPU per round.

    .venv/bin/python bench/bench_state.py --rounds 5000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet import reactor  # noqa: E402
from twisted.internet.defer import Deferred, gatherResults  # noqa: E402

from stoad.state import MemoryState, RedisState, RoundRequest, StateSettings, parse_redis_url  # noqa: E402
from tests.support.redis import RedisServer  # noqa: E402


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def request(n: int) -> RoundRequest:
    # what an MCP tools/call with a session needs: 50 consumers, 5 tools each
    return RoundRequest(now=time.time(), session_id=f"session-{n % 50}",
                        holder=f"consumer:c{n % 50} agent:a cert:T", usage_consumer=f"c{n % 50}",
                        usage_tool=f"tool-{n % 5}", tools_version=True)


def report(case: str, latencies: list[float], cpu_seconds: float, rounds: int,
           wall: float) -> None:
    latencies.sort()
    print(json.dumps({
        "case": case, "rounds": rounds,
        "p50_us": round(statistics.median(latencies) * 1e6, 1),
        "p99_us": round(latencies[int(len(latencies) * 0.99) - 1] * 1e6, 1),
        "cpu_us_per_round": round(cpu_seconds / rounds * 1e6, 1),
        "rounds_per_s": round(rounds / wall)}))


def memory(rounds: int) -> None:
    store = MemoryState()
    latencies = []
    started_cpu, started = cpu(), time.perf_counter()
    for n in range(rounds):
        t0 = time.perf_counter()
        store.request_round(request(n))
        latencies.append(time.perf_counter() - t0)
    report("memory, one at a time", latencies, cpu() - started_cpu, rounds,
           time.perf_counter() - started)


async def redis(store: RedisState, rounds: int, in_flight: int) -> None:
    for n in range(200):  # connections up, script cached
        await store.request_round(request(n))
    latencies = []
    started_cpu, started = cpu(), time.perf_counter()
    for n in range(rounds):
        t0 = time.perf_counter()
        await store.request_round(request(n))
        latencies.append(time.perf_counter() - t0)
    report("redis, one at a time", latencies, cpu() - started_cpu, rounds,
           time.perf_counter() - started)
    latencies = []

    async def one(n: int) -> None:
        t0 = time.perf_counter()
        await store.request_round(request(n))
        latencies.append(time.perf_counter() - t0)

    started_cpu, started = cpu(), time.perf_counter()
    for batch in range(0, rounds, in_flight):
        await gatherResults([Deferred.fromCoroutine(one(n))
                             for n in range(batch, min(rounds, batch + in_flight))])
    report(f"redis, {in_flight} in flight", latencies, cpu() - started_cpu, rounds,
           time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=16)
    args = parser.parse_args()
    memory(args.rounds)
    server = RedisServer().start()
    try:
        settings = StateSettings(backend="redis", redis=parse_redis_url(server.url))
        store = RedisState(settings, reactor)
        outcome: list[BaseException] = []

        async def run() -> None:
            await store.wait_connected()
            await redis(store, args.rounds, args.in_flight)
            await store.close()

        def start() -> None:
            d = Deferred.fromCoroutine(run())
            d.addErrback(lambda f: outcome.append(f.value))
            d.addBoth(lambda _: reactor.stop())

        reactor.callWhenRunning(start)
        reactor.run()
        if outcome:
            raise outcome[0]
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
