"""CPython's cyclic GC in a stoad worker under load: collections and GC time per request.

    .venv/bin/python bench/bench_gc.py --loadgen .cache/bench/loadgen [--seconds 10] [--layers full]

Runs the real daemon (one worker; no layers or the full chain as bench_table.py builds it)
with a C{sitecustomize} probe on PYTHONPATH that times every collection through C{gc.callbacks}
in thread CPU time (preemption on a busy machine is not counted) and writes its totals on
SIGUSR1, sent after a 3 s warm-up and after the measured run; the keep-alive 2 KB POST load is
bench/loadgen's. Requests are counted from /metrics. The probe is the only difference from a
normal run.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.bench_gateway import cpu_seconds  # noqa: E402
from bench.bench_table import BODY_BYTES, Table  # noqa: E402
from tests.support.daemon import REPO  # noqa: E402

PROBE = '''
import gc, json, os, signal, time
_out = os.environ.get("STOAD_GC_PROBE")
if _out:
    _t = [0.0]
    _n = [0, 0, 0]
    _s = [0.0, 0.0, 0.0]
    _k = [0]

    def _cb(phase, info):
        if phase == "start":
            _t[0] = time.thread_time()
        else:
            g = info["generation"]
            _n[g] += 1
            _s[g] += time.thread_time() - _t[0]

    def _snapshot(*_):
        _k[0] += 1
        with open(f"{_out}.{os.getpid()}.{_k[0]}", "w") as f:
            json.dump({"collections": list(_n), "seconds": list(_s),
                       "threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}, f)

    gc.callbacks.append(_cb)
    signal.signal(signal.SIGUSR1, _snapshot)
'''


def requests_served(metrics: str) -> int:
    return int(sum(float(v) for v in re.findall(r"^stoad_requests_total\{[^}]*\} (\S+)$",
                                                  metrics, re.MULTILINE)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loadgen", default=os.path.join(REPO, ".cache", "bench", "loadgen"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--layers", choices=("none", "full"), default="full")
    args = parser.parse_args()
    args.py_spy = None
    tmp = tempfile.mkdtemp(prefix="stoad-gc-")
    probe_dir = os.path.join(tmp, "probe")
    os.makedirs(probe_dir)
    with open(os.path.join(probe_dir, "sitecustomize.py"), "w") as f:
        f.write(PROBE)
    out = os.path.join(tmp, "gc")
    os.environ["STOAD_GC_PROBE"] = out
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [probe_dir, *filter(None, [os.environ.get("PYTHONPATH")])])
    table = Table(args, tmp)
    try:
        _, upstream_port = table.start_upstream()
        if args.layers == "full":
            daemon = table.start_full_chain(upstream_port)
        else:
            daemon = table.start_stoad(upstream_port, 1)
        worker = daemon.worker_pids()[0]
        url = daemon.url("/api/bench")
        table.extra = ["-body-bytes", str(BODY_BYTES)]
        subprocess.run(table.command(url, True, 3, 0), check=True, capture_output=True)
        served_before = requests_served(daemon.metrics())
        os.kill(worker, signal.SIGUSR1)
        cpu_before = cpu_seconds([worker])
        done = subprocess.run(table.command(url, True, args.seconds, 0), check=True,
                              capture_output=True, text=True)
        cpu_after = cpu_seconds([worker])
        os.kill(worker, signal.SIGUSR1)
        served = requests_served(daemon.metrics()) - served_before
        deadline = time.monotonic() + 10
        while len(glob.glob(out + ".*")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        result = json.loads(done.stdout)
    finally:
        table.close()
    first, second = (json.load(open(f"{out}.{worker}.{n}")) for n in (1, 2))
    shutil.rmtree(tmp, ignore_errors=True)
    gc_seconds = sum(second["seconds"]) - sum(first["seconds"])
    collections = [b - a for a, b in zip(first["collections"], second["collections"], strict=True)]
    print(json.dumps({
        "layers": args.layers, "requests": served, "rps": round(result["rps"]),
        "worker_cpu_us_per_request": round((cpu_after - cpu_before) * 1e6 / served, 1),
        "gc_us_per_request": round(gc_seconds * 1e6 / served, 2),
        "collections_by_generation": collections, "threshold": second["threshold"],
        "frozen_objects": second["frozen"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
