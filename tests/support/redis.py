"""A private, real C{redis-server} (Debian's, installed by mk/redis.mk) for shared-state tests.

Runs on 127.0.0.1 on a free port with its files in a temporary folder, optionally with TLS (a
rediss:// URL requiring client certificates); waits for PING (bounded); can stop and restart.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from typing import Mapping

from tests.support.kafka import free_port, wait_for

START_TIMEOUT = 20.0


def available() -> bool:
    return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


class RedisServer:
    """One redis-server process; C{url} is what a C{[state]} section names."""

    def __init__(self, tls: Mapping[str, str] | None = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="stoad-redis-")
        self.port = free_port()
        self.tls = dict(tls) if tls else None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    def _args(self) -> list[str]:
        args = ["redis-server", "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--logfile",
                os.path.join(self.dir, "redis.log")]
        if self.tls:
            args += ["--port", "0", "--tls-port", str(self.port),
                     "--tls-cert-file", self.tls["certificate"], "--tls-key-file", self.tls["key"],
                     "--tls-ca-cert-file", self.tls["ca"], "--tls-auth-clients", "yes"]
        else:
            args += ["--port", str(self.port)]
        return args

    def cli(self, *command: str) -> str:
        """Run one command with redis-cli; its output, stripped."""
        args = ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port)]
        if self.tls:
            args += ["--tls", "--cacert", self.tls["ca"], "--cert", self.tls["client_certificate"],
                     "--key", self.tls["client_key"]]
        done = subprocess.run([*args, *command], capture_output=True, timeout=10, check=False)
        return done.stdout.decode("utf-8", "replace").strip()

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(self._args(), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT, start_new_session=True)

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}:\n"
                                   + self.log_tail())
            return self.cli("PING") == "PONG"

        wait_for(ready, START_TIMEOUT, "redis-server answering PING")
        return self

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 10 s); the port stays this server's for a restart."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def log_tail(self, limit: int = 3000) -> str:
        try:
            with open(os.path.join(self.dir, "redis.log"), encoding="utf-8", errors="replace") as f:
                return f.read()[-limit:]
        except OSError:
            return ""

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
