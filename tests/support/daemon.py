"""Runs the real daemon (C{twist stoad}) for black-box tests.

    pki = write_dev_pki(os.path.join(tmp, "pki"))
    text = gateway_config(pki, state_dir=..., admin_socket=..., routes={"api": {"prefix": "/api",
                          "upstream": upstream.url}}, layers=("audit",), sections={...})
    daemon = StoadDaemon(tmp, text)       # writes tmp/stoad.ini (twist=... runs another install)
    daemon.start()                        # blocks until /_status says ready (bounded)
    daemon.url("/api/x")                  # https://localhost:PORT/api/x
    daemon.request("GET", "/api/x", cert="agent-1")  -> (status, headers, body)
    daemon.reload(); daemon.stop(); daemon.kill()

The admin listener is a unix socket in the test's folder and the gateway listens on port 0,
so tests never race for ports; the chosen port is read from C{/_status}.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from typing import Any, Mapping

from stoad.daemon.admin_cli import UnixHTTPConnection

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TWIST = os.path.join(os.path.dirname(sys.executable), "twist")


def stop_process_group(process: subprocess.Popen[Any] | None, timeout: float = 10.0) -> None:
    """SIGTERM a process started with C{start_new_session=True} and its children; SIGKILL them
    if they are still there after C{timeout} seconds."""
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)


class SharedProcessesCase:
    """
    Mix-in for a test class whose processes (daemon, upstreams, ...) are started once for the
    whole class by C{_start} and stopped together. C{_start} adds each process to C{started}
    as soon as it runs; it must set C{cls.daemon} last.
    """

    TMP_PREFIX = "stoad-shared-"
    tmp: str
    started: list[Any]

    @classmethod
    def _start(cls) -> None:
        raise NotImplementedError

    @classmethod
    def setUpClass(cls) -> None:
        import tempfile

        cls.tmp = tempfile.mkdtemp(prefix=cls.TMP_PREFIX)
        cls.started = []
        try:
            cls._start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        import shutil

        for running in reversed(getattr(cls, "started", [])):
            if isinstance(running, StoadDaemon):
                running.kill()
            else:
                running.stop()
        cls.started = []
        shutil.rmtree(cls.tmp, True)

    def setUp(self) -> None:
        if "daemon" not in vars(type(self)):
            # trial runs no setUpClass: start on first use, stop when the runner exits
            import atexit

            type(self).setUpClass()
            atexit.register(type(self).tearDownClass)


def gateway_config(
    pki: Mapping[str, str],
    *,
    state_dir: str,
    admin_socket: str,
    routes: Mapping[str, Mapping[str, str]],
    layers: tuple[str, ...] = (),
    sections: Mapping[str, Mapping[str, str]] | None = None,
    server: Mapping[str, str] | None = None,
    tls: Mapping[str, str] | None = None,
    limits: Mapping[str, str] | None = None,
) -> str:
    """INI text for a gateway on 127.0.0.1:0 using the dev PKI paths from C{write_dev_pki}."""
    parts: dict[str, dict[str, str]] = {
        "server": {"listen": "127.0.0.1:0", "state_dir": state_dir, "drain_timeout": "5s",
                   **(server or {})},
        "tls": {"certificate": pki["server"], "private_key": pki["server-key"],
                "client_ca": pki["ca"], "client_auth": "required", "crl_files": pki["crl"],
                **(tls or {})},
        "admin": {"listen": f"unix:{admin_socket}"},
        "log": {"level": "info"},
        "chain": {"layers": ", ".join(layers)},
    }
    if not layers:
        parts["chain"]["no_security_layers_do_not_use"] = "yes"
    if limits:
        parts["limits"] = dict(limits)
    for name, keys in (sections or {}).items():
        parts[name] = dict(keys)
    for name, keys in routes.items():
        parts[f"route:{name}"] = dict(keys)
    lines = []
    for name, keys in parts.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {value}" for key, value in keys.items()]
        lines.append("")
    return "\n".join(lines)


def metric_value(text: str, name: str, labels: str = "") -> float:
    """Sum of the samples of C{name} whose label set contains C{labels} (e.g. C{result="deny"})."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            if labels in line.rsplit(" ", 1)[0]:
                total += float(line.rsplit(" ", 1)[1])
    return total


def admin_get(admin_socket: str, path: str) -> tuple[int, bytes]:
    conn = UnixHTTPConnection(admin_socket)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class StoadDaemon:
    """One real gateway process tree for a test; always stopped by C{stop} or C{kill}."""

    def __init__(self, workdir: str, config_text: str | None = None,
                 admin_socket: str | None = None, pki: Mapping[str, str] | None = None,
                 twist: str = TWIST) -> None:
        self.workdir = workdir
        self.twist = twist
        self.config_path = os.path.join(workdir, "stoad.ini")
        self.admin_socket = admin_socket or os.path.join(workdir, "admin.sock")
        self.pki = pki
        if config_text is not None:
            self.write_config(config_text)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(workdir, "stoad.log")
        self.port: int | None = None

    def write_config(self, text: str) -> None:
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(text)

    def start(self, timeout: float = 60.0, expect_ready: bool = True) -> None:
        log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.process = subprocess.Popen(
            [self.twist, "--log-format", "json", "stoad", "--config", self.config_path],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, env=env,
            start_new_session=True,
        )
        log.close()
        if expect_ready:
            self.wait_for_state("ready", timeout)

    def status(self) -> dict[str, Any] | None:
        try:
            code, body = admin_get(self.admin_socket, "/_status")
        except OSError:
            return None
        result: dict[str, Any] = json.loads(body)
        return result

    def metrics(self) -> str:
        return admin_get(self.admin_socket, "/metrics")[1].decode("utf-8")

    def wait_for_state(self, state: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"stoad exited with {self.process.returncode}:\n{self.output()}")
            status = self.status()
            if status is not None and status.get("state") == state and (
                    state != "ready" or all(w["state"] == "ready" for w in status["workers"])):
                self.port = status.get("port")
                return status
            time.sleep(0.05)
        raise RuntimeError(f"stoad not {state} within {timeout}s:\n{self.output()}")

    def wait_until(self, predicate: Any, timeout: float = 30.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise RuntimeError(f"{what} not reached within {timeout}s:\n{self.output()[-4000:]}")

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def output(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.output().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events

    def log_messages(self) -> list[str]:
        """Every log event's format string with its fields filled in, as plain text."""
        from twisted.logger import formatEvent

        return [formatEvent(e) for e in self.log_events() if "log_format" in e]

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def reload(self, expect_failure: bool = False, timeout: float = 30.0) -> None:
        """SIGHUP, then wait until every worker has answered it."""
        before = len(self.log_messages())
        self.signal(signal.SIGHUP)
        needle = "reload failed" if expect_failure else "reload complete"

        def answered() -> bool:
            return any(needle in m or "reload refused" in m
                       for m in self.log_messages()[before:])

        self.wait_until(answered, timeout, f"'{needle}' in the log")

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def worker_pids(self) -> list[int]:
        status = self.status() or {"workers": []}
        return [w["pid"] for w in status["workers"]]

    # -- clients --------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"https://localhost:{self.port}{path}"

    def ssl_context(self, cert: str | None = "agent-1") -> ssl.SSLContext:
        assert self.pki is not None, "pass pki= to use the built-in client"
        ctx = ssl.create_default_context(cafile=self.pki["ca"])
        if cert is not None:
            ctx.load_cert_chain(self.pki[cert], self.pki[f"{cert}-key"])
        return ctx

    def connection(self, cert: str | None = "agent-1", timeout: float = 10.0
                   ) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("localhost", self.port, timeout=timeout,
                                           context=self.ssl_context(cert))

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, cert: str | None = "agent-1",
                timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        conn = self.connection(cert, timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()
