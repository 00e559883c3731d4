"""The built packages (`make dist`, `make deb`; `make test` builds both first) and how tests find them.

A missing artifact fails the test with the make target to run; nothing is built here.
"""

from __future__ import annotations

import configparser
import os
import subprocess

from tests.support.daemon import REPO

DIST = os.path.join(REPO, "dist")
CACHE = os.path.join(REPO, ".cache", "deb")
BUILD_DEB = os.path.join(REPO, "contrib", "deb", "build_deb.py")
# Variables that would point an installed copy back at the checkout or the test venv.
_LEAKY = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")


def outside_env() -> dict[str, str]:
    """This environment (pip's settings included) without anything naming the checkout's Python."""
    return {k: v for k, v in os.environ.items() if k not in _LEAKY}


def version() -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(REPO, "setup.cfg"))
    return parser["metadata"]["version"]


def artifact(name: str, target: str) -> str:
    path = os.path.join(DIST, name)
    if not os.path.exists(path):
        raise AssertionError(f"{path} is missing: run `make {target}` (part of `make test`)")
    return path


def wheel() -> str:
    return artifact(f"stoad-{version()}-py3-none-any.whl", "dist")


def sdist() -> str:
    return artifact(f"stoad-{version()}.tar.gz", "dist")


def deb() -> str:
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    return artifact(f"stoad_{version()}-1_{arch}.deb", "deb")


def run(command: list[str], *, check: bool = True, timeout: float = 600,
        env: dict[str, str] | None = None, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command (default: outside_env()); on failure the assertion shows its output."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            env=outside_env() if env is None else env, cwd=cwd, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result
