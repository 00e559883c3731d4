"""Differential check: the shipped policies decide exactly as the real OPA binary does, on a few
hundred generated inputs, and OPA's own `opa test` passes the shipped Rego tests."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from stoad.policy import ERROR, compile_directory, decide
from tests.support.policy import REPO, SHIPPED_POLICIES, utc

OPA = os.path.join(REPO, ".cache", "opa", "bin", "opa")
QUERIES = {
    "authz": "data.stoa.authz.decision",
    "hours": "data.stoa.examples.business_hours.decision",
    "tiers": "data.stoa.examples.tier_limits.decision",
    "pii": "data.stoa.examples.pii_consent.decision",
}
INPUTS = 400


def opa_binary() -> str:
    """The OPA binary mk/opa.mk builds; built here the same way if `make test` did not yet."""
    if os.access(OPA, os.X_OK):
        return OPA
    if shutil.which("go") is None:
        raise SkipTest("the Go toolchain is not installed, so OPA cannot be built (mk/opa.mk)")
    subprocess.run(["make", "-s", "opa"], cwd=REPO, check=True, timeout=900,
                   stdout=subprocess.DEVNULL)
    return OPA


def generated_inputs(count: int, seed: int = 20260302) -> list[dict[str, Any]]:
    """Inputs that walk every branch: known and unknown consumers, tiers at their limits,
    times around opening and closing, /pii/ paths, missing identity, MCP calls."""
    rng = random.Random(seed)
    day = utc("2026-03-02T00:00:00")
    consumers = ["acme-support", "globex-analytics", "initech-batch", "stranger"]
    tiers = ["enterprise", "standard", "free", "platinum"]
    limits = {"enterprise": 10000, "standard": 600, "free": 60, "platinum": 5}
    paths = ["/api/items", "/api/pii/7", "/api/pii", "/api/pii-notes", "/mcp", "/api/x/pii/"]
    scope_pool = ["stoa:read", "stoa:write", "stoa:admin", "mcp:read", "mcp:call"]
    out = []
    for _ in range(count):
        tier = rng.choice(tiers)
        minute = rng.choice([7 * 60 + 59, 8 * 60, 12 * 60, 17 * 60 + 59, 18 * 60, 2 * 60])
        seconds = day + minute * 60 + rng.choice([0, 1, 59])
        calls = max(0, limits[tier] + rng.choice([-2, -1, 0, 1, 2]))
        route = rng.choice(["api", "mcp", "admin"])
        document: dict[str, Any] = {
            "request": {"method": rng.choice(["GET", "POST", "DELETE", "HEAD", "TRACE"]),
                        "path": rng.choice(paths), "raw_path": "/", "query": {},
                        "headers": {}, "body_size": 0, "content_type": None},
            "route": {"name": route, "prefix": "/" + route},
            "time": {"now_ns": int(seconds) * 1_000_000_000},
        }
        if rng.random() < 0.9:
            consumer = rng.choice(consumers)
            document["consumer"] = {"id": consumer, "agent_id": "a", "tier": tier}
            document["token"] = {"kind": "jwt", "client_id": "c", "subject": "s", "claims": {},
                                 "scopes": sorted(rng.sample(scope_pool, rng.randint(0, 3)))}
            document["usage"] = {"calls_60s": calls, "calls_3600s": calls * 3}
        if route == "mcp" and rng.random() < 0.7:
            document["mcp"] = {"method": rng.choice(["tools/call", "tools/list", "sampling"]),
                               "tool_name": "search"}
        out.append(document)
    return out


def canonical(value: Any) -> Any:
    """Numbers compared by value: regorus hands whole numbers back as floats at times."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


class OpaDifferentialTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.opa = opa_binary()
        self.work = tempfile.mkdtemp(prefix="stoad-opa-")
        self.addCleanup(shutil.rmtree, self.work, True)

    def test_shipped_policies_decide_as_opa_does(self) -> None:
        """For every generated input and each shipped decision, regorus and OPA agree exactly
        (undefined included), with time.now_ns() taken from the input on both sides."""
        inputs = generated_inputs(INPUTS)
        with open(os.path.join(self.work, "inputs.json"), "w", encoding="utf-8") as f:
            json.dump({"difftest": {"inputs": inputs}}, f)
        # The same query stoad runs (time.now_ns() replaced by input.time.now_ns), in a rule
        # evaluated once per input. OPA does not take a comprehension's local variable as a
        # `with` value, so the clock is read from the (replaced) input inside the rule.
        wrapper = ["package difftest", "import rego.v1"]
        for name, query in QUERIES.items():
            wrapper.append(f"decide_{name} := d if {{ d := {query} "
                           "with time.now_ns as input.time.now_ns }")
            wrapper.append(f"results_{name} := {{sprintf(\"%d\", [i]): d | "
                           f"some i, inp in data.difftest.inputs; d := decide_{name} "
                           "with input as inp }")
        with open(os.path.join(self.work, "wrapper.rego"), "w", encoding="utf-8") as f:
            f.write("\n".join(wrapper) + "\n")
        completed = subprocess.run(
            [self.opa, "eval", "--format", "json", "-d", SHIPPED_POLICIES,
             "-d", os.path.join(self.work, "inputs.json"),
             "-d", os.path.join(self.work, "wrapper.rego"), "data.difftest"],
            capture_output=True, text=True, timeout=120, check=True)
        results = json.loads(completed.stdout)["result"][0]["expressions"][0]["value"]
        outcomes = set()
        for name, query in QUERIES.items():
            policies = compile_directory(SHIPPED_POLICIES, query)
            expected = results[f"results_{name}"]
            for index, document in enumerate(inputs):
                decision = decide(policies, query, document)
                if decision.result == ERROR and decision.reason == "decision is undefined":
                    self.assertNotIn(str(index), expected, (name, document))
                    continue
                self.assertEqual(canonical(decision.value), canonical(expected[str(index)]),
                                 (name, document))
                outcomes.add((name, decision.result, decision.status))
        # the generator reached allows, 403s and 429s, so the agreement means something
        self.assertIn(("tiers", "opa:deny", 429), outcomes)
        self.assertIn(("hours", "opa:deny", 403), outcomes)
        self.assertIn(("pii", "opa:allow", 0), outcomes)

    def test_opa_test_passes_shipped_tests(self) -> None:
        """`opa test` runs the same shipped Rego tests as `stoad policy test`, and passes."""
        completed = subprocess.run([self.opa, "test", SHIPPED_POLICIES], capture_output=True,
                                   text=True, timeout=120)
        self.assertEqual(completed.returncode, 0, completed.stdout + completed.stderr)
        # Every shipped test rule ran and passed: as many as `stoad policy test` counts.
        ours = subprocess.run([sys.executable, "-m", "stoad.cli", "policy", "test", "--dir",
                               SHIPPED_POLICIES], capture_output=True, text=True, timeout=120)
        counted = re.search(r"PASS: (\d+)/(\d+)", ours.stdout)
        assert counted is not None, ours.stdout + ours.stderr
        self.assertEqual(counted.group(1), counted.group(2))
        self.assertIn(f"PASS: {counted.group(1)}/{counted.group(1)}", completed.stdout)
