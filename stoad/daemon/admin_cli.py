"""C{stoad check-config PATH}, C{stoad reload} and C{stoad dev-pki DIR}: the daemon's own
operator commands."""

from __future__ import annotations

import argparse
import configparser
import http.client
import json
import socket
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
            from stoad.proxy.forward import tls_creator

            try:
                tls_creator(route)
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


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP to the admin listener's unix socket (`stoad reload` and the test suite)."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def admin_address(config_path: str) -> str:
    """
    C{[admin] listen} of the configuration. Read leniently: the reload being asked for may be
    of a broken file, and the running daemon still listens where the last good one said.
    """
    try:
        return config_from_file(config_path).admin.listen
    except ConfigError:
        pass
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read(config_path, encoding="utf-8")
        return parser.get("admin", "listen", fallback="127.0.0.1:9443").strip()
    except (configparser.Error, UnicodeDecodeError):
        return "127.0.0.1:9443"


def request_reload(admin: str, timeout: float) -> tuple[bool, dict[str, Any]]:
    """POST /_reload to the admin listener; (reload succeeded, the daemon's answer)."""
    if admin.startswith("unix:"):
        conn: http.client.HTTPConnection = UnixHTTPConnection(admin[len("unix:"):], timeout)
    else:
        host, _, port = admin.rpartition(":")
        conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)
    try:
        conn.request("POST", "/_reload", headers={"X-Stoad-Reload": "yes", "Content-Length": "0"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    try:
        outcome = json.loads(body)
    except ValueError:
        outcome = {"problems": [f"admin listener answered {response.status} without JSON"]}
    if not isinstance(outcome, dict):
        outcome = {"problems": [f"admin listener answered {response.status}"]}
    if "error" in outcome and "problems" not in outcome:
        outcome["problems"] = [f"admin listener answered {response.status}: {outcome['error']}"]
    return response.status == 200 and outcome.get("ok") is True, outcome


def _reload(args: Any) -> int:
    admin = args.admin or admin_address(args.config)
    try:
        ok, outcome = request_reload(admin, args.timeout)
    except (OSError, http.client.HTTPException, ValueError) as e:
        print(f"stoad reload: cannot reach the admin listener at {admin}: {e}", file=sys.stderr)
        return 1
    for worker in outcome.get("workers", ()):
        print(f"worker {worker.get('index')}: {worker.get('state')}, "
              f"configuration {worker.get('config')}")
    if ok:
        print(f"reloaded: serving configuration {outcome.get('config')}")
        return 0
    for problem in outcome.get("problems") or ["reload failed"]:
        print(problem, file=sys.stderr)
    print(f"stoad reload: refused; still serving configuration {outcome.get('config')}",
          file=sys.stderr)
    return 1


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
    reload = subparsers.add_parser(
        "reload", help="reload the running daemon, wait for every worker, fail if any refused")
    reload.add_argument("--config", default="/etc/stoad/stoad.ini",
                        help="the daemon's configuration (to find [admin] listen)")
    reload.add_argument("--admin", default=None,
                        help="the admin listener, HOST:PORT or unix:/path (default: from --config)")
    reload.add_argument("--timeout", type=float, default=90.0,
                        help="seconds to wait for every worker's answer")
    reload.set_defaults(func=_reload)
    pki = subparsers.add_parser(
        "dev-pki", help="write a throwaway CA, server and agent certificates, token issuer and audit key")
    pki.add_argument("directory")
    pki.add_argument("--agent", dest="agents", action="append",
                     help="agent name (repeatable; default agent-1 and agent-2)")
    pki.set_defaults(func=_dev_pki)
