"""Benchmark: an MCP tools/call through stoad next to a plain HTTP POST through the same chain.

Starts the real authorization server, the MCP SDK test server and the real daemon with all five
layers (audit to disk, auth, mcp, the shipped default policy, guardrails); every call carries a
certificate-bound ES256 token and 2 KB of arguments over keep-alive mTLS connections.
Reports throughput, p50/p99 latency and the daemon's CPU microseconds per call.

    .venv/bin/python bench/bench_mcp.py --workers 1 --calls 2000 --clients 8
    .venv/bin/python bench/bench_mcp.py --layers auth,mcp ...   # a subset of the chain
    .venv/bin/python bench/bench_mcp.py --state redis ...       # shared state in a local Redis
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stoad.dev.devpki import write_dev_pki  # noqa: E402
from tests.support import oidc  # noqa: E402
from tests.support.audit import write_key  # noqa: E402
from tests.support.daemon import REPO, StoadDaemon, gateway_config, metric_value  # noqa: E402
from tests.support.mcp_upstream import McpUpstream  # noqa: E402
from tests.support.upstream import Upstream  # noqa: E402

AUDIENCE = "https://stoad.bench/api"


def tree_cpu_seconds(root_pid: int) -> float:
    """utime + stime of a process and all its descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        stats[pid] = (int(fields[11]), int(fields[12]))
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += sum(stats.get(pid, (0, 0)))
        todo.extend(children.get(pid, []))
    return total / ticks


def drive(daemon: StoadDaemon, path: str, bodies: list[bytes], headers: dict[str, str],
          clients: int, cert: str) -> list[float]:
    """Send every body (split over C{clients} keep-alive connections); return latencies."""
    latencies: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []

    def worker(share: list[bytes]) -> None:
        conn = daemon.connection(cert, timeout=30)
        mine = []
        try:
            for body in share:
                started = time.perf_counter()
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                mine.append(time.perf_counter() - started)
                if response.status != 200:
                    failures.append(f"{path}: {response.status} {data[:200]!r}")
                    return
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(bodies[i::clients],)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"calls failed: {failures[0]}")
    return latencies


def measure(daemon: StoadDaemon, name: str, path: str, bodies: list[bytes],
            headers: dict[str, str], clients: int) -> dict[str, Any]:
    drive(daemon, path, bodies[: max(50, len(bodies) // 10)], headers, clients, "agent-1")  # warm
    assert daemon.process is not None
    commands0 = metric_value(daemon.metrics(), "stoad_state_commands_total")
    cpu0, t0 = tree_cpu_seconds(daemon.process.pid), time.perf_counter()
    latencies = drive(daemon, path, bodies, headers, clients, "agent-1")
    elapsed, cpu = time.perf_counter() - t0, tree_cpu_seconds(daemon.process.pid) - cpu0
    commands = metric_value(daemon.metrics(), "stoad_state_commands_total") - commands0
    latencies.sort()
    return {
        "state_round_trips_per_call": round(commands / len(latencies), 3),
        "case": name, "calls": len(latencies), "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "stoad_cpu_us_per_call": round(cpu / len(latencies) * 1e6),
    }


def in_process(calls: int) -> None:
    """The mcp layer alone, no network: request step of a 2 KB tools/call, and tools/list filtering."""
    from prometheus_client import CollectorRegistry

    import stoad.config  # noqa: F401 - first: stoad.runtime.layers and stoad.config import each other
    from stoad.mcp import McpLayer, McpSettings
    from stoad.runtime.chain import ResponseHead
    from stoad.runtime.layers import AlertBus, Services
    from tests.test_mcp_layer import TOOLS, call, context, identity, route, tools_list_response

    class Registry:
        registry = CollectorRegistry()

    tmp = tempfile.mkdtemp(prefix="stoad-bench-mcp-")
    try:
        layer = McpLayer(McpSettings(), Services(None, Registry(), AlertBus(), state_dir=tmp))
        who = identity(scopes="stoa:read")
        tools = [dict(t) for t in TOOLS]
        tools[0] = {**tools[0], "inputSchema": {"type": "object", "properties": {
            "text": {"type": "string"}, "pad": {"type": "string"}}, "required": ["text"]}}
        listing = json.dumps(tools_list_response(tools)).encode()

        def list_once() -> None:
            ctx = context({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, who=who)
            layer.on_request(ctx)
            f = layer.on_response(ctx, ResponseHead(200, {"content-type": ["text/event-stream"]}))
            f.feed(b"event: message\ndata: " + listing + b"\n\n")
            f.finish()

        list_once()
        contexts = [context(call("echo", {"text": "x" * 60}), who=who) for _ in range(calls)]
        body = json.dumps(call("echo", {"text": "x" * 60, "pad": "y" * 2048})).encode()
        for ctx in contexts:
            ctx.body = body
        wide = route(default_scopes=frozenset())
        for ctx in contexts:
            ctx.route = wide
        started = time.perf_counter()
        for ctx in contexts:
            layer.on_request(ctx)
        per_call = (time.perf_counter() - started) / calls * 1e6
        started = time.perf_counter()
        for _ in range(calls // 10):
            list_once()
        per_list = (time.perf_counter() - started) / (calls // 10) * 1e6
        print(json.dumps({"case": "mcp layer in-process", "tools_call_2kb_us": round(per_call, 1),
                          "tools_list_filter_sse_us": round(per_list, 1)}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--layers", default="audit,auth,mcp,policy,guardrails",
                        help="comma-separated layers to enable (those that exist in this tree)")
    parser.add_argument("--state", choices=("memory", "redis"), default="memory",
                        help="[state] backend (redis: a private redis-server on 127.0.0.1)")
    parser.add_argument("--in-process", action="store_true",
                        help="time the mcp layer alone (no daemon, no network)")
    args = parser.parse_args()
    if args.in_process:
        in_process(args.calls)
        return 0
    layers = tuple(x.strip() for x in args.layers.split(",") if x.strip())

    tmp = tempfile.mkdtemp(prefix="stoad-bench-mcp-")
    pki = write_dev_pki(os.path.join(tmp, "pki"))
    mcp = McpUpstream("--json-response", "--stateless").start()
    plain = Upstream()
    authz = oidc.AuthorizationServer.from_dev_pki(
        os.path.join(tmp, "oidc"), pki, resources=[oidc.Resource(AUDIENCE, alg="ES256")],
        access_token_ttl=600)
    daemon: StoadDaemon | None = None
    redis: Any = None
    try:
        authz.start()
        consumers = os.path.join(tmp, "consumers.ini")
        with open(consumers, "w") as f:
            f.write("[consumer:agent-1]\nclient_id = agent-1\nconsumer_id = acme-support\n"
                    "tier = standard\nroutes = *\n")
        # The shipped default policy, with acme-support allowed on the two bench routes.
        policies = os.path.join(tmp, "policies")
        shutil.copytree(os.path.join(REPO, "etc", "stoad", "policies"), policies)
        with open(os.path.join(policies, "consumers.json")) as f:
            data = json.load(f)
        data["stoa"]["consumers"]["acme-support"]["routes"] = ["tools", "plain"]
        with open(os.path.join(policies, "consumers.json"), "w") as f:
            json.dump(data, f)
        sections: dict[str, dict[str, str]] = {
            "audit": {"directory": os.path.join(tmp, "audit"),
                      "signing_key": write_key(os.path.join(tmp, "keys"))},
            "auth": {"issuer": authz.issuer, "algorithms": "ES256", "consumers": consumers,
                     "authorization_server_ca": pki["ca"]},
            "policy": {"directory": policies},
        }
        if args.state == "redis":
            from tests.support.redis import RedisServer

            redis = RedisServer().start()
            sections["state"] = {"backend": "redis", "url": redis.url}
        elif args.workers > 1:
            # the comparison with Redis: per-worker counts are fine for a benchmark
            sections["state"] = {"per_worker_state_do_not_use": "yes"}
        common = {"audiences": AUDIENCE, "scopes.POST": "stoa:read"}
        text = gateway_config(
            pki, state_dir=os.path.join(tmp, "state"), admin_socket=os.path.join(tmp, "admin.sock"),
            server={"workers": str(args.workers)},
            routes={"tools": {"prefix": "/mcp", "upstream": mcp.origin, "mcp": "yes",
                              "mcp.tool_scopes": "* = stoa:read", **common},
                    "plain": {"prefix": "/echo", "upstream": plain.url, **common}},
            layers=layers,
            sections={k: v for k, v in sections.items() if k in layers or k == "state"})
        daemon = StoadDaemon(tmp, text, pki=pki)
        daemon.start()
        token = authz.client_credentials("agent-1", resource=AUDIENCE,
                                         scope="stoa:read stoa:write").access_token
        auth = {"Authorization": f"Bearer {token}"} if "auth" in layers else {}
        text_arg = "x" * 2048
        mcp_headers = {"Content-Type": "application/json", "Mcp-Protocol-Version": "2026-07-28",
                       "Accept": "application/json, text/event-stream", "Mcp-Method": "tools/call",
                       "Mcp-Name": "echo", **auth}
        meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}}
        listing = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "tools/list",
                              "params": {"_meta": meta}}).encode()
        # stoad checks calls against the schema the upstream advertised: list tools first.
        list_headers = {k: v for k, v in mcp_headers.items() if k != "Mcp-Name"}
        drive(daemon, "/mcp", [listing], {**list_headers, "Mcp-Method": "tools/list"}, 1, "agent-1")
        calls = [json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                             "params": {"name": "echo", "arguments": {"text": text_arg},
                                        "_meta": meta}}).encode() for i in range(args.calls)]
        plain_bodies = [json.dumps({"text": text_arg, "n": i}).encode() for i in range(args.calls)]
        results = [
            measure(daemon, "mcp tools/call", "/mcp", calls, mcp_headers, args.clients),
            measure(daemon, "plain POST", "/echo", plain_bodies,
                    {"Content-Type": "application/json", **auth}, args.clients),
        ]
        for row in results:
            row.update(workers=args.workers, layers="+".join(layers), clients=args.clients,
                       state=args.state)
            print(json.dumps(row))
    finally:
        if daemon is not None:
            daemon.stop()
        authz.stop()
        mcp.stop()
        plain.stop()
        if redis is not None:
            redis.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
