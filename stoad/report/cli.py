"""C{stoad audit report PATH... [--since 7d] [--key PEM] --html OUT.html}."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any, Callable

from stoad.audit._chain import load_public_key
from stoad.report._collect import summarize
from stoad.report._html import render_html


def add_report_command(commands: Any, since: Callable[[str], float]) -> None:
    """Register C{report} among the C{stoad audit} subcommands."""
    report = commands.add_parser(
        "report", help="write an HTML page of charts over the trail, with its verification")
    report.add_argument("paths", nargs="+", metavar="PATH",
                        help="an [audit] directory or one worker-N folder")
    report.add_argument("--html", required=True, metavar="OUT",
                        help="where to write the page (one self-contained file)")
    report.add_argument("--since", metavar="AGE", type=since,
                        help="only events newer than this, e.g. 7d, 12h, 30m")
    report.add_argument("--key", metavar="PEM", action="append",
                        help="an Ed25519 public key, to check the signatures too (repeat it "
                        "for the keys of a rotation)")
    report.add_argument("--allow-unsigned-tail", action="store_true",
                        help="records after the newest signature do not fail the verification")
    report.set_defaults(func=run_report)


def _write_atomically(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(temporary, 0o640)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def run_report(args: argparse.Namespace, now: float | None = None) -> int:
    """Exit 0 when every chain verified, 1 when one did not (the page says so), 2 on bad input."""
    try:
        keys = [load_public_key(path) for path in args.key] if args.key else None
        summary = summarize(args.paths, keys, time.time() if now is None else now, args.since,
                            args.allow_unsigned_tail)
        _write_atomically(args.html, render_html(summary, args.paths))
    except (OSError, ValueError) as e:
        print(f"stoad audit report: {e}", file=sys.stderr)
        return 2
    verdict = "every chain verified" if summary.verified else "CHAIN VERIFICATION FAILED"
    print(f"wrote {args.html}: {summary.calls} calls, {summary.outcomes['denied']} denied, "
          f"{sum(summary.alerts.values())} alerts; {verdict}")
    return 0 if summary.verified else 1
