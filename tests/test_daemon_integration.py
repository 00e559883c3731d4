"""Black-box tests of the real daemon (C{twist stoad}) with real TLS clients."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile

from twisted.trial.unittest import SynchronousTestCase

from stoad.dev.devpki import make_ca, make_leaf, write_dev_pki
from tests.support.daemon import StoadDaemon, gateway_config
from tests.support.upstream import Upstream


class DaemonTestCase(SynchronousTestCase):
    """Starts one upstream and one gateway per test; subclasses adjust the config."""

    workers = 1
    routes_extra: dict[str, str] = {}
    limits: dict[str, str] | None = None

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="stoad-it-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.pki = write_dev_pki(os.path.join(self.tmp, "pki"))
        self.upstream = Upstream()
        self.addCleanup(self.upstream.stop)
        self.daemon = StoadDaemon(self.tmp, self.config(), pki=self.pki)
        self.addCleanup(self.daemon.kill)
        self.daemon.start()

    def config(self, **overrides: object) -> str:
        return gateway_config(
            self.pki,
            state_dir=os.path.join(self.tmp, "state"),
            admin_socket=os.path.join(self.tmp, "admin.sock"),
            routes={"api": {"prefix": "/api", "upstream": self.upstream.url, **self.routes_extra}},
            server={"workers": str(self.workers)},
            limits=self.limits,
            **overrides,  # type: ignore[arg-type]
        )

    def curl(self, *args: str, cert: str | None = "agent-1") -> subprocess.CompletedProcess[str]:
        command = ["curl", "-sS", "--max-time", "20", "--cacert", self.pki["ca"]]
        if cert:
            command += ["--cert", self.pki[cert], "--key", self.pki[f"{cert}-key"]]
        return subprocess.run(command + list(args), capture_output=True, text=True, timeout=30)


class HandshakeTests(DaemonTestCase):
    def test_client_with_certificate_is_forwarded(self) -> None:
        """curl with a CA-issued client certificate gets the upstream's answer (200)."""
        result = self.curl("-o", "/dev/null", "-w", "%{http_code}", self.daemon.url("/api/echo"))
        self.assertEqual(result.stdout, "200")

    def test_client_without_certificate_is_refused_in_the_handshake(self) -> None:
        """curl without a client certificate never gets an HTTP response."""
        result = self.curl("-o", "/dev/null", "-w", "%{http_code}", self.daemon.url("/api/echo"),
                           cert=None)
        self.assertEqual(result.stdout, "000")
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(self.upstream.requests, [])

    def test_openssl_s_client_without_certificate_gets_an_alert(self) -> None:
        """openssl s_client without a certificate sees the server demand one and fail."""
        result = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{self.daemon.port}", "-CAfile",
             self.pki["ca"], "-servername", "localhost"],
            input="GET /api/echo HTTP/1.1\r\nHost: localhost\r\n\r\n", capture_output=True,
            text=True, timeout=30,
        )
        self.assertNotIn("HTTP/1.1 200", result.stdout)
        self.assertEqual(self.upstream.requests, [])

    def test_unknown_route_is_404_with_json(self) -> None:
        """A path no route matches gets 404 with a fixed JSON body and security headers."""
        status, headers, body = self.daemon.request("GET", "/nowhere")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body), {"error": "not_found"})
        self.assertEqual(headers["x-content-type-options"], "nosniff")
        self.assertEqual(headers["cache-control"], "no-store")
        self.assertIn("max-age=", headers["strict-transport-security"])

    def test_certificate_from_another_ca_is_refused(self) -> None:
        """A client certificate issued by an untrusted CA fails the handshake."""
        rogue_ca = make_ca("rogue")
        rogue = make_leaf(rogue_ca, "agent-1")
        for name, data in (("rogue.pem", rogue.cert_pem), ("rogue-key.pem", rogue.key_pem)):
            with open(os.path.join(self.tmp, name), "wb") as f:
                f.write(data)
        ctx = ssl.create_default_context(cafile=self.pki["ca"])
        ctx.load_cert_chain(os.path.join(self.tmp, "rogue.pem"), os.path.join(self.tmp, "rogue-key.pem"))
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            with socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                    tls.sendall(b"GET /api/echo HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    if not tls.recv(100):
                        raise ConnectionError("closed")
        self.assertEqual(self.upstream.requests, [])


class ForwardingTests(DaemonTestCase):
    def test_client_cannot_choose_the_upstream(self) -> None:
        """An absolute-form target naming a metadata address, or a forged Host, never changes
        where the request goes: absolute-form is refused with 400, a forged Host is ignored."""
        ctx = self.daemon.ssl_context("agent-1")
        with socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\n"
                            b"Host: 169.254.169.254\r\n\r\n")
                reply = tls.recv(4096)
        self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply)
        status, _, body = self.daemon.request("GET", "/api/echo", headers={
            "Host": "169.254.169.254", "X-Forwarded-Host": "evil.example",
            "X-Forwarded-For": "10.0.0.1"})
        self.assertEqual(status, 200)
        seen = dict(json.loads(body)["headers"])
        self.assertEqual(seen["host"], f"127.0.0.1:{self.upstream.port}")
        self.assertEqual(seen["x-forwarded-for"], "127.0.0.1")
        self.assertNotEqual(seen["x-forwarded-host"], "evil.example")
        self.assertEqual(len(self.upstream.requests), 1)

    def test_identity_and_hop_by_hop_headers_are_stripped(self) -> None:
        """Authorization, identity-claiming and Connection-named headers never reach upstream."""
        status, _, body = self.daemon.request("GET", "/api/echo", headers={
            "Authorization": "Bearer stolen", "X-Stoad-Consumer": "admin",
            "X-Client-Cert": "forged", "Connection": "x-secret", "X-Secret": "1",
            "Keep-Alive": "timeout=5", "X-Kept": "yes"})
        self.assertEqual(status, 200)
        names = {name for name, _ in json.loads(body)["headers"]}
        for name in ("authorization", "x-stoad-consumer", "x-client-cert", "x-secret", "keep-alive"):
            self.assertNotIn(name, names)
        self.assertIn("x-kept", names)

    def test_cookies_of_one_caller_never_reach_another(self) -> None:
        """A Set-Cookie from upstream goes to its caller only; the next caller's request
        carries no cookie (the forwarder keeps no cookie jar)."""
        status, headers, _ = self.daemon.request("GET", "/api/set-cookie")
        self.assertEqual(status, 200)
        self.assertIn("secret-of-first-caller", headers.get("set-cookie", ""))
        status, _, body = self.daemon.request("GET", "/api/echo", cert="agent-2")
        names = {name for name, _ in json.loads(body)["headers"]}
        self.assertNotIn("cookie", names)

    def test_upstream_status_is_passed_through(self) -> None:
        """An upstream 503 reaches the client as 503 with the upstream's body."""
        status, _, body = self.daemon.request("GET", "/api/status/503")
        self.assertEqual(status, 503)
        self.assertEqual(json.loads(body), {"status": "from upstream"})

    def test_request_body_reaches_upstream(self) -> None:
        """A POST body arrives upstream byte for byte."""
        payload = os.urandom(50000)
        status, _, body = self.daemon.request("POST", "/api/echo", body=payload)
        self.assertEqual(status, 200)
        import hashlib

        self.assertEqual(json.loads(body)["body_sha256"], hashlib.sha256(payload).hexdigest())


class UpstreamFailureTests(DaemonTestCase):
    routes_extra = {"timeout": "1s"}

    def test_upstream_timeout_is_504_with_fixed_body(self) -> None:
        """An upstream slower than the route timeout gives 504 and a fixed body."""
        status, _, body = self.daemon.request("GET", "/api/slow?seconds=10")
        self.assertEqual(status, 504)
        self.assertEqual(json.loads(body), {"error": "gateway_timeout"})

    def test_refused_upstream_is_502_with_fixed_body(self) -> None:
        """An upstream that refuses connections gives 502 and no upstream error text."""
        self.upstream.stop()
        status, _, body = self.daemon.request("GET", "/api/echo")
        self.assertEqual(status, 502)
        self.assertEqual(json.loads(body), {"error": "bad_gateway"})


class LimitTests(DaemonTestCase):
    limits = {"max_body_bytes": "1k", "max_header_bytes": "4k", "max_request_line": "1k",
              "read_timeout": "1s"}

    def _raw(self, data: bytes) -> bytes:
        ctx = self.daemon.ssl_context("agent-1")
        with socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(data)
                chunks = []
                while True:
                    try:
                        chunk = tls.recv(65536)
                    except (ssl.SSLError, ConnectionError):
                        break
                    if not chunk:
                        break
                    chunks.append(chunk)
                return b"".join(chunks)

    def test_body_over_limit_is_413(self) -> None:
        """A declared body larger than max_body_bytes gets 413 and is never forwarded."""
        reply = self._raw(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
                          + b"a" * 5000)
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply[:100])
        self.assertEqual(self.upstream.requests, [])

    def test_chunked_body_over_limit_is_413(self) -> None:
        """A chunked body that grows past max_body_bytes gets 413 and is never forwarded."""
        chunk = b"800\r\n" + b"a" * 0x800 + b"\r\n"
        reply = self._raw(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          + chunk + b"0\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply[:100])
        self.assertEqual(self.upstream.requests, [])

    def test_long_request_line_is_414(self) -> None:
        """A request line longer than max_request_line gets 414."""
        reply = self._raw(b"GET /api/" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 414"), reply[:100])

    def test_slow_header_sender_is_cut_off(self) -> None:
        """A client that does not finish its request head within read_timeout gets 408."""
        ctx = self.daemon.ssl_context("agent-1")
        with socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET /api/echo HTTP/1.1\r\nHost: x\r\n")
                reply = tls.recv(4096)
        self.assertTrue(reply.startswith(b"HTTP/1.1 408"), reply[:100])

    def test_obs_fold_is_400(self) -> None:
        """A folded header line is refused with 400 and never forwarded."""
        reply = self._raw(b"GET /api/echo HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply[:100])
        self.assertEqual(self.upstream.requests, [])
