"""Runs the Rego C{test_*} rules of a policy directory, as C{opa test DIR} does.

A test passes when its rule evaluates to true; false, undefined or an error fails it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from stoad.policy._compile import compile_directory, one_line


@dataclass(frozen=True)
class RegoTestResult:
    name: str  # data.package.test_rule
    outcome: str  # "pass", "fail" or "error"
    detail: str
    seconds: float


def _ref_name(ref: dict[str, Any]) -> str | None:
    if "Var" in ref:
        value = ref["Var"].get("value")
        return value if isinstance(value, str) else None
    if "RefDot" in ref:
        head = _ref_name(ref["RefDot"]["refr"])
        field = ref["RefDot"]["field"][1]
        return f"{head}.{field}" if head and isinstance(field, str) else None
    return None


def find_test_rules(engine: Any) -> list[str]:
    """Full names of every complete rule named C{test_*}, sorted, each once."""
    names: set[str] = set()
    for module in json.loads(engine.get_ast_as_json()):
        ast = module["ast"]
        package = _ref_name(ast["package"]["refr"])
        for rule in ast.get("rules", ()):
            head = rule.get("Spec", {}).get("head", {})
            ref = head.get("Compr", {}).get("refr")
            if package is None or not isinstance(ref, dict):
                continue
            name = _ref_name(ref)
            if name and name.rpartition(".")[2].startswith("test_"):
                names.add(f"data.{package}.{name}")
    return sorted(names)


def run_rego_tests(directory: str) -> list[RegoTestResult]:
    """Load C{directory} with its C{*_test.rego} files and run every test rule on its own clone."""
    policies = compile_directory(directory, include_tests=True)
    results = []
    for name in find_test_rules(policies.engine):
        engine = policies.engine.clone()
        engine.set_input_json("{}")
        started = time.perf_counter()
        try:
            value = engine.eval_rule(name)
        except Exception as e:
            outcome, detail = "error", one_line(e)
        else:
            outcome = "pass" if value is True else "fail"
            detail = "" if value is True else ("undefined" if value is None else f"= {value!r}")
        results.append(RegoTestResult(name, outcome, detail, time.perf_counter() - started))
    return results
