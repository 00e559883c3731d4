"""Run the MCP conformance suite's server scenarios against the SDK test server, directly and
through stoad (mcp layer), and print one line per scenario: passed/total checks on each path.

    .venv/bin/python bench/mcp_conformance.py --conformance PATH/node_modules/.bin/conformance

The conformance runner (Node) cannot present a client certificate, so the daemon here uses
C{client_auth = insecure_optional_do_not_use} and only the mcp layer (auth needs the
certificate its tokens are bound to). Not part of `make test`: see docs/mcp.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stoad.dev.devpki import write_dev_pki  # noqa: E402
from tests.support.daemon import StoadDaemon, gateway_config  # noqa: E402
from tests.support.mcp_upstream import McpUpstream  # noqa: E402

_RESULT = re.compile(r"Passed: (\d+)/(\d+), (\d+) failed")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def scenarios(conformance: str) -> list[str]:
    out = subprocess.run([conformance, "list", "--server"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return [line.strip()[2:] for line in _ANSI.sub("", out).splitlines()
            if line.strip().startswith("- ")]


def run_scenario(conformance: str, url: str, scenario: str, env: dict[str, str]) -> str:
    try:
        done = subprocess.run([conformance, "server", "--url", url, "--scenario", scenario],
                              capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        return "timeout"
    match = _RESULT.search(_ANSI.sub("", done.stdout + done.stderr))
    if match is None:
        return f"no result (exit {done.returncode})"
    passed, total, failed = match.groups()
    return f"{passed}/{total}" + ("" if failed == "0" else f" ({failed} failed)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conformance", required=True, help="the conformance runner's binary")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="stoad-mcp-conformance-")
    upstream = McpUpstream().start()
    daemon: StoadDaemon | None = None
    try:
        pki = write_dev_pki(os.path.join(tmp, "pki"))
        text = gateway_config(
            pki, state_dir=os.path.join(tmp, "state"), admin_socket=os.path.join(tmp, "admin.sock"),
            tls={"client_auth": "insecure_optional_do_not_use"},
            routes={"tools": {"prefix": "/mcp", "upstream": upstream.origin, "mcp": "yes",
                              "mcp.tool_scopes": "* ="}},
            layers=("mcp",))
        daemon = StoadDaemon(tmp, text, pki=pki)
        daemon.start()
        env = {**os.environ, "NODE_EXTRA_CA_CERTS": pki["ca"]}
        direct, through = upstream.origin + "/mcp", daemon.url("/mcp")
        print("scenario | SDK server directly | through stoad")
        for scenario in scenarios(args.conformance):
            print(f"{scenario} | {run_scenario(args.conformance, direct, scenario, env)} | "
                  f"{run_scenario(args.conformance, through, scenario, env)}", flush=True)
    finally:
        if daemon is not None:
            daemon.stop()
        upstream.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
