"""Black-box tests of the daemon's life: reloads, drains, dead workers, revocation, bad starts."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import threading

from stoad.dev.devpki import make_ca, make_crl, make_leaf
from tests.support.daemon import StoadDaemon
from tests.test_daemon_integration import DaemonTestCase


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


class ReloadTests(DaemonTestCase):
    def test_sighup_rotates_the_client_ca_and_keeps_open_connections(self) -> None:
        """After SIGHUP with a new client CA, certificates of the old CA are refused on new
        connections, the new CA's are accepted, and a connection opened before keeps working."""
        old = self.daemon.connection("agent-1")
        old.request("GET", "/api/echo")
        self.assertEqual(old.getresponse().read() and 200, 200)

        new_ca = make_ca("rotated CA")
        new_agent = make_leaf(new_ca, "agent-1")
        _write(os.path.join(self.tmp, "new-agent.pem"), new_agent.cert_pem)
        _write(os.path.join(self.tmp, "new-agent-key.pem"), new_agent.key_pem)
        with open(self.pki["ca"], "rb") as f:
            old_ca_pem = f.read()
        _write(self.pki["ca"], new_ca.cert_pem)
        _write(self.pki["crl"], make_crl(new_ca))
        self.daemon.reload()

        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            self.daemon.request("GET", "/api/echo", cert="agent-1")
        ctx = ssl.create_default_context(cadata=old_ca_pem.decode())
        ctx.load_cert_chain(os.path.join(self.tmp, "new-agent.pem"),
                            os.path.join(self.tmp, "new-agent-key.pem"))
        import http.client

        fresh = http.client.HTTPSConnection("localhost", self.daemon.port, context=ctx, timeout=10)
        fresh.request("GET", "/api/echo")
        self.assertEqual(fresh.getresponse().status, 200)
        fresh.close()

        old.request("GET", "/api/echo")
        self.assertEqual(old.getresponse().status, 200)
        old.close()

    def test_reload_with_broken_certificate_keeps_serving(self) -> None:
        """A SIGHUP while the server key is garbage logs why, keeps the old certificate and
        stays ready."""
        _write(self.pki["server-key"], b"-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n")
        self.daemon.reload(expect_failure=True)
        self.assertEqual(self.daemon.status()["state"], "ready")
        status, _, _ = self.daemon.request("GET", "/api/echo")
        self.assertEqual(status, 200)
        self.assertTrue(any("private_key" in m for m in self.daemon.log_messages()))
        self.assertIn('stoad_reload_failures_total{part="worker"} 1.0', self.daemon.metrics())

    def test_reload_with_invalid_config_keeps_serving(self) -> None:
        """A SIGHUP while the INI is invalid is refused with the problem logged; serving goes on."""
        with open(self.daemon.config_path, "a") as f:
            f.write("\n[bogus]\nkey = 1\n")
        self.daemon.reload(expect_failure=True)
        self.assertTrue(any("[bogus]" in m for m in self.daemon.log_messages()))
        status, _, _ = self.daemon.request("GET", "/api/echo")
        self.assertEqual(status, 200)


class RevocationTests(DaemonTestCase):
    def _revoke_agent_2(self, days: float = 7) -> None:
        with open(self.pki["ca-key"], "rb") as f:
            key_pem = f.read()
        with open(self.pki["ca"], "rb") as f:
            ca_pem = f.read()
        with open(self.pki["agent-2"], "rb") as f:
            agent_pem = f.read()
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        from stoad.dev.devpki import Issued

        ca = Issued(x509.load_pem_x509_certificate(ca_pem), load_pem_private_key(key_pem, None))  # type: ignore[arg-type]
        agent = Issued(x509.load_pem_x509_certificate(agent_pem), ca.key)
        _write(self.pki["crl"], make_crl(ca, [agent], days=days))

    def test_revoked_client_certificate_is_refused(self) -> None:
        """Once the CRL lists agent-2 (and SIGHUP loads it), agent-2's handshake fails while
        agent-1 is still served."""
        self._revoke_agent_2()
        self.daemon.reload()
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            self.daemon.request("GET", "/api/echo", cert="agent-2")
        self.assertEqual(self.daemon.request("GET", "/api/echo", cert="agent-1")[0], 200)
        self.assertIn("certificate revoked", self.daemon.metrics())

    def test_expired_crl_fails_closed(self) -> None:
        """With an expired CRL no client certificate is accepted."""
        self._revoke_agent_2(days=-1)
        self.daemon.reload()
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            self.daemon.request("GET", "/api/echo", cert="agent-1")


class DrainTests(DaemonTestCase):
    def test_sigterm_lets_in_flight_requests_finish(self) -> None:
        """SIGTERM during a slow request: the request still completes with 200, then the
        daemon exits cleanly (twist re-raises the signal it stopped on, as systemd expects)."""
        result: dict[str, object] = {}
        conn = self.daemon.connection("agent-1", timeout=20)

        def call() -> None:
            conn.request("GET", "/api/slow?seconds=30")
            response = conn.getresponse()
            result["status"] = response.status
            result["body"] = response.read()

        thread = threading.Thread(target=call)
        thread.start()
        self.daemon.wait_until(lambda: self.upstream.requests, 10, "slow request upstream")
        self.daemon.signal(signal.SIGTERM)
        self.daemon.wait_until(lambda: any("draining" in m for m in self.daemon.log_messages()),
                               10, "worker draining")
        self.upstream.release.set()
        thread.join(20)
        self.assertEqual(result.get("status"), 200)
        self.assertIn(self.daemon.wait_exit(30), (0, -signal.SIGTERM))
        self.assertTrue(any("worker" in m and "exited" not in m for m in self.daemon.log_messages()))


class WorkerTests(DaemonTestCase):
    workers = 2

    def test_killed_worker_is_replaced(self) -> None:
        """SIGKILL of one worker: the supervisor starts a new one and requests keep working."""
        pids = self.daemon.worker_pids()
        self.assertEqual(len(pids), 2)
        os.kill(pids[0], signal.SIGKILL)

        def replaced() -> bool:
            status = self.daemon.status() or {}
            workers = status.get("workers", [])
            return (len(workers) == 2 and workers[0]["pid"] != pids[0]
                    and all(w["state"] == "ready" for w in workers) and workers[0]["restarts"] == 1)

        self.daemon.wait_until(replaced, 30, "worker replaced")
        for _ in range(6):
            self.assertEqual(self.daemon.request("GET", "/api/echo")[0], 200)
        self.assertIn("stoad_worker_restarts_total 1.0", self.daemon.metrics())

    def test_sighup_reloads_every_worker(self) -> None:
        """A SIGHUP is answered by both workers before the supervisor reports ready."""
        self.daemon.reload()
        status = self.daemon.status()
        self.assertEqual(status["state"], "ready")
        self.assertEqual([w["state"] for w in status["workers"]], ["ready", "ready"])


class StartupFailureTests(DaemonTestCase):
    def setUp(self) -> None:
        pass

    def test_broken_key_fails_startup_with_one_line(self) -> None:
        """A daemon whose private key does not load exits 78 and says which file."""
        import shutil
        import tempfile

        from stoad.dev.devpki import write_dev_pki
        from tests.support.upstream import Upstream

        self.tmp = tempfile.mkdtemp(prefix="stoad-it-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.pki = write_dev_pki(os.path.join(self.tmp, "pki"))
        self.upstream = Upstream()
        self.addCleanup(self.upstream.stop)
        _write(self.pki["server-key"], b"not a key")
        daemon = StoadDaemon(self.tmp, self.config(), pki=self.pki)
        self.addCleanup(daemon.kill)
        daemon.start(expect_ready=False)
        self.assertEqual(daemon.wait_exit(30), 78)
        self.assertIn("private_key", daemon.output())

    def test_invalid_config_fails_startup_listing_every_problem(self) -> None:
        """twist stoad with an invalid INI exits 78 and names each problem."""
        import tempfile

        tmp = tempfile.mkdtemp(prefix="stoad-it-")
        path = os.path.join(tmp, "stoad.ini")
        _write(path, b"[server]\nlisten = nowhere\nworkrs = 2\n")
        daemon = StoadDaemon(tmp)
        result = subprocess.run([os.path.join(os.path.dirname(__import__("sys").executable), "twist"),
                                 "stoad", "--config", path], capture_output=True, text=True, timeout=60)
        del daemon
        self.assertEqual(result.returncode, 78)
        self.assertIn("[server] listen", result.stderr)
        self.assertIn("[server] workrs: unknown key", result.stderr)
        self.assertIn("[tls]: required section is missing", result.stderr)
