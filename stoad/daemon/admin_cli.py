"""C{stoad check-config PATH} and C{stoad dev-pki DIR}: the daemon's own operator commands."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from stoad.config import ConfigError, config_from_file
from stoad.dev.devpki import write_dev_pki
from stoad.dev.devtoken import write_dev_issuer
from stoad.proxy.tls import TLSMaterialError, build_server_context
from stoad.runtime.layers import load_plugin


def check_config(path: str) -> list[str]:
    """Every problem the daemon would hit loading C{path}: INI, TLS material, upstream TLS
    material and each layer's own checks. Empty when all is well."""
    try:
        config = config_from_file(path)
    except ConfigError as e:
        return list(e.problems)
    problems: list[str] = []
    try:
        build_server_context(config.tls)
    except TLSMaterialError as e:
        problems.append(f"[tls] {e}")
    for route in config.routes:
        if route.upstream_scheme == "https":
            from stoad.proxy.forward import _RouteTLSPolicy

            try:
                _RouteTLSPolicy(route)
            except Exception as e:  # any unreadable or mismatched upstream TLS file
                problems.append(f"[route:{route.name}] upstream TLS material: {e}")
    for name in config.layers:
        plugin = load_plugin(name)
        if plugin.check is not None:
            problems.extend(plugin.check(config.layer_settings[name], config.routes))
    return problems


def _check(args: Any) -> int:
    problems = check_config(args.path)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{args.path}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{args.path}: OK")
    return 0


def _dev_pki(args: Any) -> int:
    paths = write_dev_pki(args.directory, agents=tuple(args.agents or ("agent-1", "agent-2")))
    # The dev token issuer and the audit signing key too: the shipped example (etc/stoad/stoad.ini,
    # /etc/stoad/ in the Debian package) names all of them under pki/.
    paths.update(write_dev_issuer(args.directory))
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    check = subparsers.add_parser("check-config", help="validate a configuration, print every problem")
    check.add_argument("path", nargs="?", default="/etc/stoad/stoad.ini")
    check.set_defaults(func=_check)
    pki = subparsers.add_parser(
        "dev-pki", help="write a throwaway CA, server and agent certificates, token issuer and audit key")
    pki.add_argument("directory")
    pki.add_argument("--agent", dest="agents", action="append",
                     help="agent name (repeatable; default agent-1 and agent-2)")
    pki.set_defaults(func=_dev_pki)
