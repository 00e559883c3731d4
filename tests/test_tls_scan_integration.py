"""sslyze scans of the real daemon's TLS listener (sslyze runs from its own venv, mk/sslyze.mk).

One scan without a client certificate (what an anonymous scanner sees: client authentication,
protocol versions, cipher suites, compression) and one with the dev PKI's agent certificate
(a full handshake, which renegotiation needs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from stoad.dev.devpki import write_dev_pki
from tests.support.daemon import REPO, StoadDaemon, gateway_config

SSLYZE = os.path.join(REPO, ".cache", "sslyze-venv", "bin", "sslyze")
PROTOCOL_FLAGS = ("--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3")
# TLS 1.2 key exchanges with forward secrecy, and the AEAD bulk ciphers.
FORWARD_SECRET = ("TLS_ECDHE_", "TLS_DHE_")
AEAD = ("_GCM_", "_CHACHA20_POLY1305_", "_CCM")


def weak_suites(accepted: list[dict[str, Any]], version: str) -> list[str]:
    """Accepted suites that are not AEAD, not forward-secret, or below 128-bit keys."""
    weak = []
    for entry in accepted:
        suite = entry["cipher_suite"]
        name = suite["name"]
        # TLS 1.3 suites name only the AEAD; their key exchange is always ephemeral.
        fs = version == "tls_1_3" or name.startswith(FORWARD_SECRET)
        if not fs or not any(a in name for a in AEAD) or suite["key_size"] < 128 or (
                suite["is_anonymous"]):
            weak.append(name)
    return weak


class TLSScanTests(SynchronousTestCase):

    def setUp(self) -> None:
        if not os.access(SSLYZE, os.X_OK):
            self.fail(f"{SSLYZE} missing: run `make sslyze` (part of `make test`)")
        self.tmp = tempfile.mkdtemp(prefix="stoad-sslyze-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.pki = write_dev_pki(os.path.join(self.tmp, "pki"))

    def start(self, tls: dict[str, str]) -> StoadDaemon:
        daemon = StoadDaemon(self.tmp, gateway_config(
            self.pki, state_dir=os.path.join(self.tmp, "state"),
            admin_socket=os.path.join(self.tmp, "admin.sock"),
            routes={"api": {"prefix": "/api", "upstream": "http://127.0.0.1:9"}}, tls=tls),
            pki=self.pki)
        self.addCleanup(daemon.kill)
        daemon.start()
        return daemon

    def scan(self, daemon: StoadDaemon, *extra: str, cert: bool = False) -> dict[str, Any]:
        """Run sslyze against the daemon; returns the one server's scan result (JSON)."""
        out = os.path.join(self.tmp, f"sslyze-{len(os.listdir(self.tmp))}.json")
        command = [SSLYZE, f"--json_out={out}", "--mozilla_config=disable", "--sni", "localhost",
                   "--compression", *PROTOCOL_FLAGS, *extra]
        if cert:
            command += ["--cert", self.pki["agent-1"], "--key", self.pki["agent-1-key"]]
        command.append(f"localhost:{daemon.port}{{127.0.0.1}}")
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stdout[-2000:] + result.stderr[-2000:])
        with open(out, encoding="utf-8") as f:
            report = json.load(f)
        (server,) = report["server_scan_results"]
        self.assertEqual(server["scan_status"], "COMPLETED", server)
        scan: dict[str, Any] = server
        return scan

    def accepted(self, server: dict[str, Any], protocol: str) -> list[dict[str, Any]]:
        attempt = server["scan_result"][f"{protocol}_cipher_suites"]
        self.assertEqual(attempt["status"], "COMPLETED", attempt)
        suites: list[dict[str, Any]] = attempt["result"]["accepted_cipher_suites"]
        return suites

    def test_default_listener_requires_client_certificates_and_modern_tls_only(self) -> None:
        """Without a client certificate sslyze sees client auth REQUIRED, no SSL 2/3, no
        TLS 1.0/1.1, only forward-secret AEAD suites of at least 128 bits, no compression."""
        daemon = self.start({})
        server = self.scan(daemon)
        self.assertEqual(server["connectivity_result"]["client_auth_requirement"], "REQUIRED")
        for old in ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"):
            self.assertEqual(self.accepted(server, old), [], old)
        self.assertTrue(self.accepted(server, "tls_1_2"))
        self.assertTrue(self.accepted(server, "tls_1_3"))
        for version in ("tls_1_2", "tls_1_3"):
            self.assertEqual(weak_suites(self.accepted(server, version), version), [], version)
        compression = server["scan_result"]["tls_compression"]
        self.assertEqual(compression["status"], "COMPLETED", compression)
        self.assertFalse(compression["result"]["supports_compression"])

    def test_authenticated_scan_finds_no_insecure_renegotiation(self) -> None:
        """With a client certificate the full handshake succeeds, client-initiated
        renegotiation is refused, and only secure (RFC 5746) renegotiation is advertised."""
        daemon = self.start({})
        server = self.scan(daemon, "--reneg", cert=True)
        reneg = server["scan_result"]["session_renegotiation"]
        self.assertEqual(reneg["status"], "COMPLETED", reneg)
        self.assertFalse(reneg["result"]["is_vulnerable_to_client_renegotiation_dos"])
        self.assertEqual(reneg["result"]["client_renegotiations_success_count"], 0)
        self.assertTrue(reneg["result"]["supports_secure_renegotiation"])
        for version in ("tls_1_2", "tls_1_3"):
            accepted = self.accepted(server, version)
            self.assertTrue(accepted, version)
            self.assertEqual(weak_suites(accepted, version), [], version)
        for old in ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"):
            self.assertEqual(self.accepted(server, old), [], old)

    def test_min_version_1_3_offers_tls_1_3_only(self) -> None:
        """With [tls] min_version = 1.3 nothing below TLS 1.3 is accepted, with or without a
        client certificate, and client auth stays REQUIRED."""
        daemon = self.start({"min_version": "1.3"})
        anonymous = self.scan(daemon)
        self.assertEqual(anonymous["connectivity_result"]["client_auth_requirement"], "REQUIRED")
        self.assertEqual(anonymous["connectivity_result"]["highest_tls_version_supported"],
                         "TLS_1_3")
        for server in (anonymous, self.scan(daemon, cert=True)):
            for old in ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1", "tls_1_2"):
                self.assertEqual(self.accepted(server, old), [], old)
            accepted = self.accepted(server, "tls_1_3")
            self.assertTrue(accepted)
            self.assertEqual(weak_suites(accepted, "tls_1_3"), [])


class WeakSuiteRuleTests(SynchronousTestCase):
    def test_rule_flags_cbc_static_rsa_and_short_keys(self) -> None:
        """The weak-suite rule catches non-AEAD, non-forward-secret and short-key suites."""
        def suite(name: str, bits: int = 128) -> dict[str, Any]:
            return {"cipher_suite": {"name": name, "key_size": bits, "is_anonymous": False}}

        accepted = [suite("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
                    suite("TLS_RSA_WITH_AES_128_GCM_SHA256"),
                    suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), suite("TLS_ECDHE_X_GCM_Y", 56)]
        self.assertEqual(weak_suites(accepted, "tls_1_2"),
                         ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256",
                          "TLS_ECDHE_X_GCM_Y"])
