"""Policy-layer cost per request: p50/p99 of input building and of the whole decision.

Run: .venv/bin/python bench/bench_policy.py [--iterations N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stoad.policy._decision import evaluation_query  # noqa: E402
from stoad.policy._input import build_input  # noqa: E402
from stoad.runtime.context import McpCall  # noqa: E402
from tests.support.policy import identity, layer, peer, request  # noqa: E402


def thirty_rule_policy() -> str:
    """A decision over 30 rules: 26 path/method/tool denials, tier, scope, hours, consent."""
    lines = ["package stoa.authz", "import rego.v1", "",
             'default decision := {"allow": false, "reason": "no rule allowed this request"}', ""]
    for i in range(10):
        lines.append(f'problems contains "path {i}" if startswith(input.request.path, "/blocked/{i}/")')
    for i in range(8):
        lines.append(f'problems contains "tool {i}" if input.mcp.tool_name == "danger_{i}"')
    for i in range(8):
        lines.append(f'problems contains "header {i}" if input.request.headers["x-block-{i}"]')
    lines += [
        'problems contains "tier" if not input.consumer.tier in {"enterprise", "standard"}',
        'problems contains "scope" if not "stoa:read" in input.token.scopes',
        'problems contains "hours" if { h := time.clock([time.now_ns(), "UTC"])[0]; h < 0 }',
        'problems contains "rate" if input.usage.calls_60s >= 10000',
        "",
        'decision := {"allow": false, "reason": concat(", ", problems)} if count(problems) > 0',
        'decision := {"allow": true, "reason": "ok"} if count(problems) == 0',
    ]
    return "\n".join(lines) + "\n"


def percentiles(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (statistics.median(ordered) / 1000,
            ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000)


def measure(label: str, step: Callable[[], object], iterations: int) -> None:
    for _ in range(min(2000, iterations)):
        step()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        started = clock()
        step()
        samples.append(clock() - started)
    p50, p99 = percentiles(samples)
    print(f"{label:<58} p50 {p50:7.1f} µs   p99 {p99:7.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20000)
    iterations = parser.parse_args().iterations

    ctx = request("/api/items/7", query="page=2&sort=name",
                  headers={"user-agent": ["agent/1.0"], "accept": ["application/json"],
                           "x-request-id": ["r-1"]},
                  who=identity(), cert=peer(),
                  mcp=McpCall(method="tools/call", request_id=1, tool_name="search",
                              arguments={"query": "invoices", "limit": 10}))
    ctx.route = ctx.route  # already the api route

    default_layer, _, _ = layer()
    settings = default_layer.settings
    usage = default_layer.usage.view("acme-support", "search", 0.0)
    measure("input document only (build_input)",
            lambda: build_input(ctx, ctx.path, settings.headers, 1.0, usage), iterations)
    measure("default policy: whole decision (input + eval + checks)",
            lambda: default_layer.evaluate(ctx), iterations)

    work = tempfile.mkdtemp(prefix="stoad-bench-")
    try:
        with open(os.path.join(work, "authz.rego"), "w", encoding="utf-8") as f:
            f.write(thirty_rule_policy())
        big_layer, _, _ = layer(work)
        measure("30-rule policy: whole decision (input + eval + checks)",
                lambda: big_layer.evaluate(ctx), iterations)
    finally:
        shutil.rmtree(work)

    # What the per-request clone costs, against evaluating on one shared engine.
    engine = default_layer._state.policies.engine
    import orjson

    payload = orjson.dumps(build_input(ctx, ctx.path, settings.headers, 1.0, usage)).decode()
    query = evaluation_query(settings.query)

    def shared() -> object:
        engine.set_input_json(payload)
        return engine.eval_query(query)

    def cloned() -> object:
        copy = engine.clone()
        copy.set_input_json(payload)
        return copy.eval_query(query)

    rule = default_layer._state.policies.decision_rule
    assert rule is not None

    def shared_rule() -> object:
        engine.set_input_json(payload)
        return engine.eval_rule(rule)

    def cloned_rule() -> object:
        copy = engine.clone()
        copy.set_input_json(payload)
        return copy.eval_rule(rule)

    measure("default policy: eval_query on the shared engine", shared, iterations)
    measure("default policy: eval_query on a per-request clone", cloned, iterations)
    measure("default policy: eval_rule (generated rule), shared engine", shared_rule, iterations)
    measure("default policy: eval_rule (generated rule), per-request clone", cloned_rule,
            iterations)
    measure("engine.clone() alone", engine.clone, iterations)


if __name__ == "__main__":
    main()
