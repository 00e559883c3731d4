"""The C{stoad} command: operator tools beside the daemon (check-config, dev-pki, policy, audit).

Each subcommand module exports C{add_subcommands(subparsers)}; its parsers set C{func(args) -> int}.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

SUBCOMMAND_MODULES = (
    "stoad.daemon.admin_cli",
    "stoad.audit.cli",
    "stoad.policy.cli",
    "stoad.mcp.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stoad", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_subcommands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
