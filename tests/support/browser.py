"""Debian's headless Chromium (mk/chromium.mk) for tests that look at a page as a person would,
and a loopback HTTP server for the files it opens.

    with serve(directory) as origin:                   # http://127.0.0.1:PORT
        dom = dump_dom(origin + "/page.html", workdir)  # the DOM after the page's scripts ran
        screenshot(origin + "/page.html", png, workdir, (1000, 1700))
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

from twisted.trial.unittest import SkipTest

from tests.support.daemon import REPO

# The flags the machine notes give for a closed network: without the background-networking
# ones Chromium keeps trying hosts it cannot reach.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1")


def chromium_binary() -> str:
    """Chromium from Debian's packages; installed by `make chromium` if `make test` did not."""
    found = shutil.which("chromium")
    if found is None:
        subprocess.run(["make", "-s", "chromium"], cwd=REPO, check=False, timeout=900,
                       stdout=subprocess.DEVNULL)
        found = shutil.which("chromium")
    if found is None:
        raise SkipTest("Chromium is not installed (mk/chromium.mk needs apt-get)")
    return found


def _run(args: list[str], workdir: str, timeout: float = 90.0) -> str:
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir)
    try:
        result = subprocess.run([chromium_binary(), *FLAGS, f"--user-data-dir={profile}", *args],
                                capture_output=True, text=True, timeout=timeout, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if result.returncode != 0:
        raise AssertionError(f"chromium exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result.stdout


def dump_dom(url: str, workdir: str) -> str:
    """The page's DOM, serialised after its load event (and the scripts that ran by then)."""
    return _run(["--dump-dom", url], workdir)


def screenshot(url: str, path: str, workdir: str, size: tuple[int, int]) -> None:
    _run([f"--window-size={size[0]},{size[1]}", f"--screenshot={path}", url], workdir)
    if not os.path.exists(path):
        raise AssertionError(f"chromium wrote no screenshot to {path}")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(directory: str) -> Iterator[str]:
    """Serve C{directory} on 127.0.0.1 (one origin, so a test page may read a framed page)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_QuietHandler, directory=directory))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
