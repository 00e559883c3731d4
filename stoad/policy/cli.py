"""C{stoad policy eval} and C{stoad policy test}: try policies before deploying them.

Both load a directory exactly as the gateway does (same loader, same decision checks).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import orjson

from stoad.policy._compile import PolicyLoadError, compile_directory
from stoad.policy._decision import ALLOW, decide
from stoad.policy._regotest import run_rego_tests
from stoad.policy._settings import DEFAULT_DIRECTORY, DEFAULT_QUERY, check_query

EXIT_ALLOW, EXIT_DENY, EXIT_ERROR = 0, 1, 2


def add_subcommands(subparsers: Any) -> None:
    policy = subparsers.add_parser("policy", help="evaluate and test Rego policies")
    commands = policy.add_subparsers(dest="policy_command", required=True)

    evaluate = commands.add_parser(
        "eval", help="print the decision for an input document",
        description="Print the decision for an input document. Exit status: 0 allowed, "
                    "1 denied (including malformed decisions), 2 policies or input unusable.")
    evaluate.add_argument("--input", required=True, metavar="FILE",
                          help="the input document (JSON); '-' reads standard input")
    evaluate.add_argument("--dir", default=DEFAULT_DIRECTORY, metavar="DIR",
                          help=f"policy directory (default {DEFAULT_DIRECTORY})")
    evaluate.add_argument("--query", default=DEFAULT_QUERY, type=_query,
                          help=f"decision rule (default {DEFAULT_QUERY})")
    evaluate.set_defaults(func=eval_command)

    test = commands.add_parser(
        "test", help="run the test_* rules of a policy directory",
        description="Run every test_* rule (with the *_test.rego files) and exit non-zero "
                    "if any fails.")
    test.add_argument("--dir", default=DEFAULT_DIRECTORY, metavar="DIR",
                      help=f"policy directory (default {DEFAULT_DIRECTORY})")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    test.set_defaults(func=run_tests_command)


def _query(raw: str) -> str:
    try:
        return check_query(raw)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def eval_command(args: argparse.Namespace) -> int:
    try:
        raw = sys.stdin.buffer.read() if args.input == "-" else _read(args.input)
        document = orjson.loads(raw)
    except (OSError, orjson.JSONDecodeError) as e:
        print(f"stoad policy eval: cannot read input {args.input}: {e}", file=sys.stderr)
        return EXIT_ERROR
    if not isinstance(document, dict):
        print("stoad policy eval: the input document must be a JSON object", file=sys.stderr)
        return EXIT_ERROR
    time_doc = document.get("time")
    if not isinstance(time_doc, dict) or "now_ns" not in time_doc:
        # The gateway always fills input.time.now_ns; a hand-written input may not.
        document["time"] = {**(time_doc if isinstance(time_doc, dict) else {}),
                            "now_ns": time.time_ns()}
        print("stoad policy eval: input.time.now_ns missing, using the current time",
              file=sys.stderr)
    try:
        policies = compile_directory(args.dir, args.query)
    except PolicyLoadError as e:
        print(f"stoad policy eval: {e}", file=sys.stderr)
        return EXIT_ERROR
    decision = decide(policies, args.query, document)
    report = {
        "result": decision.result,
        "allow": decision.allowed,
        "status": decision.status or None,
        "reason": decision.reason,
        "decision": decision.value,
        "upstream_headers": dict(decision.upstream_headers),
        "policy_version": policies.version,
    }
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    return EXIT_ALLOW if decision.result == ALLOW else EXIT_DENY


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def run_tests_command(args: argparse.Namespace) -> int:
    try:
        results = run_rego_tests(args.dir)
    except PolicyLoadError as e:
        print(f"stoad policy test: {e}", file=sys.stderr)
        return EXIT_ERROR
    failed = [r for r in results if r.outcome != "pass"]
    for result in results:
        if result.outcome != "pass" or args.verbose:
            detail = f" ({result.detail})" if result.detail else ""
            print(f"{result.outcome.upper()}: {result.name}{detail} "
                  f"[{result.seconds * 1e6:.0f} µs]")
    if not results:
        print(f"stoad policy test: no test_* rules in {args.dir}", file=sys.stderr)
        return EXIT_DENY
    print("-" * 40)
    print(f"PASS: {len(results) - len(failed)}/{len(results)}")
    if failed:
        print(f"FAIL: {len(failed)}/{len(results)}")
    return EXIT_DENY if failed else EXIT_ALLOW
