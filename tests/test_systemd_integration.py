"""The daemon as systemd sees it: sd_notify states, socket activation, and the admin metrics."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time

from twisted.trial.unittest import SynchronousTestCase

from stoad.daemon.sdnotify import SystemdNotifier, listen_fds
from tests.support.daemon import TWIST, StoadDaemon
from tests.test_daemon_integration import DaemonTestCase


class _NotifySocket:
    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[dict[str, str]] = []

    def drain(self) -> list[dict[str, str]]:
        while True:
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, BlockingIOError):
                return self.messages
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append(fields)

    def wait_for(self, key: str, count: int = 1, timeout: float = 60.0) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for m in self.drain() if key in m) >= count:
                return self.messages
        raise AssertionError(f"no {key} x{count} in {self.messages}")

    def close(self) -> None:
        self.sock.close()


class NotifierTests(SynchronousTestCase):
    def test_notifier_sends_states_to_the_socket(self) -> None:
        """READY, RELOADING (with MONOTONIC_USEC), STOPPING and WATCHDOG reach NOTIFY_SOCKET."""
        tmp = tempfile.mkdtemp()
        listener = _NotifySocket(tmp)
        self.addCleanup(listener.close)
        notifier = SystemdNotifier({"NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "2000000",
                                    "WATCHDOG_PID": str(os.getpid())})
        self.assertEqual(notifier.watchdog_seconds, 2.0)
        self.assertTrue(notifier.ready())
        self.assertTrue(notifier.reloading())
        self.assertTrue(notifier.stopping())
        self.assertTrue(notifier.watchdog())
        messages = listener.wait_for("WATCHDOG")
        self.assertEqual(messages[0]["READY"], "1")
        self.assertEqual(messages[1]["RELOADING"], "1")
        self.assertTrue(messages[1]["MONOTONIC_USEC"].isdigit())
        self.assertEqual(messages[2]["STOPPING"], "1")

    def test_without_notify_socket_nothing_is_sent(self) -> None:
        """Outside systemd the notifier is silent and never fails."""
        self.assertFalse(SystemdNotifier({}).ready())

    def test_listen_fds_only_for_this_process(self) -> None:
        """LISTEN_FDS counts only when LISTEN_PID is this process."""
        self.assertEqual(listen_fds({"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "2"}), [3, 4])
        self.assertEqual(listen_fds({"LISTEN_PID": "1", "LISTEN_FDS": "2"}), [])


class SdNotifyDaemonTests(DaemonTestCase):
    def setUp(self) -> None:
        self.notify_dir = tempfile.mkdtemp(prefix="stoad-notify-")
        self.notify = _NotifySocket(self.notify_dir)
        self.addCleanup(self.notify.close)
        os.environ["NOTIFY_SOCKET"] = self.notify.path
        try:
            super().setUp()
        finally:
            del os.environ["NOTIFY_SOCKET"]

    def test_ready_reloading_stopping(self) -> None:
        """READY=1 only once the listener answers; SIGHUP gives RELOADING=1 then READY=1;
        SIGTERM gives STOPPING=1."""
        self.notify.wait_for("READY")
        self.assertEqual(self.daemon.request("GET", "/api/echo")[0], 200)
        self.daemon.reload()
        messages = self.notify.wait_for("READY", 2)
        keys = [next(iter(m)) for m in messages]
        self.assertEqual([k for k in keys if k in ("READY", "RELOADING")], ["READY", "RELOADING", "READY"])
        self.daemon.stop()
        self.notify.wait_for("STOPPING")

    def test_status_names_the_active_configuration_hash(self) -> None:
        """STATUS= says which configuration (by hash, as /_status shows it) is served, after
        start and after a reload that changed it."""
        messages = self.notify.wait_for("READY")
        first = self.daemon.status()["config"]
        self.assertEqual(messages[-1]["STATUS"], f"serving configuration {first}")
        self.daemon.write_config(self.config(tls={"verify_depth": "5"}))
        self.daemon.reload()
        messages = self.notify.wait_for("READY", 2)
        second = self.daemon.status()["config"]
        self.assertNotEqual(second, first)
        self.assertEqual(messages[-1]["STATUS"], f"serving configuration {second}")


class SocketActivationTests(SynchronousTestCase):
    def test_daemon_serves_on_the_socket_systemd_passes(self) -> None:
        """With LISTEN_FDS=1 the daemon serves on the inherited socket instead of binding."""
        from stoad.dev.devpki import write_dev_pki
        from tests.support.daemon import gateway_config
        from tests.support.upstream import Upstream

        tmp = tempfile.mkdtemp(prefix="stoad-sa-")
        pki = write_dev_pki(os.path.join(tmp, "pki"))
        upstream = Upstream()
        self.addCleanup(upstream.stop)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        text = gateway_config(pki, state_dir=os.path.join(tmp, "state"),
                              admin_socket=os.path.join(tmp, "admin.sock"),
                              routes={"api": {"prefix": "/api", "upstream": upstream.url}},
                              server={"listen": "127.0.0.1:1"})
        daemon = StoadDaemon(tmp, text, pki=pki)
        launcher = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.environ['LISTEN_FDS'] = '1'; "
                    "os.environ['LISTEN_PID'] = str(os.getpid()); os.execv(sys.argv[2], sys.argv[2:])")
        log = open(daemon.log_path, "ab")
        daemon.process = subprocess.Popen(
            [sys.executable, "-c", launcher, str(listener.fileno()), TWIST, "--log-format", "json",
             "stoad", "--config", daemon.config_path], pass_fds=(listener.fileno(),),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.addCleanup(daemon.kill)
        listener.close()
        daemon.wait_for_state("ready")
        self.assertEqual(daemon.port, port)
        self.assertEqual(daemon.request("GET", "/api/echo")[0], 200)
        self.assertTrue(any("socket passed by systemd" in m for m in daemon.log_messages()))


class MetricsTests(DaemonTestCase):
    workers = 2

    def test_metrics_cover_requests_latency_connections_and_handshakes(self) -> None:
        """/metrics sums every worker: requests by route and status, latency histogram, open
        connections and handshake failures by reason."""
        for _ in range(3):
            self.assertEqual(self.daemon.request("GET", "/api/echo")[0], 200)
        self.daemon.request("GET", "/nope")
        self.curl("-o", "/dev/null", self.daemon.url("/api/echo"), cert=None)
        text = self.daemon.metrics()
        self.assertRegex(text, r'stoad_requests_total\{route="api",status="200"\} 3\.0')
        self.assertRegex(text, r'stoad_requests_total\{route="-",status="404"\} 1\.0')
        self.assertIn('stoad_request_duration_seconds_bucket{le="+Inf",route="api"} 3.0', text)
        self.assertIn("stoad_open_connections", text)
        # With TLS 1.3 the client finishes its handshake before the server refuses the missing
        # certificate, so curl can exit before the worker has counted the failure: wait for it.
        pattern = r'stoad_tls_handshake_failures_total\{reason="([^"]+)"\} (\d+)'
        failures = self.daemon.wait_until(lambda: re.findall(pattern, self.daemon.metrics()),
                                          what="a counted handshake failure")
        self.assertTrue(failures, text[-2000:])
