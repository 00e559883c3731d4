"""An https upstream with its own CA that requires stoad's client certificate."""

from __future__ import annotations

import json
import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stoad.dev.devpki import make_ca, make_leaf
from tests.test_daemon_integration import DaemonTestCase


class _TLSUpstream:
    """An https server on 127.0.0.1 that answers with the client certificate's CN it saw."""

    def __init__(self, directory: str) -> None:
        self.ca = make_ca("upstream CA")
        server = make_leaf(self.ca, "localhost", dns=["localhost"], ips=["127.0.0.1"], server=True)
        self.gateway_client = make_leaf(self.ca, "stoad-gateway")
        self.paths = {}
        for name, data in (("upstream-ca.pem", self.ca.cert_pem), ("upstream.pem", server.cert_pem),
                           ("upstream-key.pem", server.key_pem),
                           ("gateway-client.pem", self.gateway_client.cert_pem),
                           ("gateway-client-key.pem", self.gateway_client.key_pem)):
            path = os.path.join(directory, name)
            with open(path, "wb") as f:
                f.write(data)
            self.paths[name] = path
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=self.paths["upstream-ca.pem"])
        context.load_cert_chain(self.paths["upstream.pem"], self.paths["upstream-key.pem"])
        context.verify_mode = ssl.CERT_REQUIRED

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                peer = self.connection.getpeercert()
                cn = dict(x[0] for x in peer["subject"])["commonName"] if peer else None
                body = json.dumps({"client_cn": cn}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HttpsUpstreamTests(DaemonTestCase):
    def config(self, **overrides: object) -> str:
        self.tls_upstream = _TLSUpstream(self.tmp)
        self.addCleanup(self.tls_upstream.stop)
        paths = self.tls_upstream.paths
        self.routes_extra = {}
        text = super().config(**overrides)
        return text + (
            f"\n[route:secure]\nprefix = /secure\nupstream = https://localhost:{self.tls_upstream.port}\n"
            f"upstream_ca = {paths['upstream-ca.pem']}\n"
            f"upstream_client_certificate = {paths['gateway-client.pem']}\n"
            f"upstream_client_key = {paths['gateway-client-key.pem']}\n"
            f"\n[route:wrongca]\nprefix = /wrongca\nupstream = https://localhost:{self.tls_upstream.port}\n"
            f"upstream_ca = {self.pki['ca']}\n"
        )

    def test_https_upstream_with_its_own_ca_and_client_certificate(self) -> None:
        """stoad verifies the upstream against upstream_ca and presents its own client
        certificate, which the upstream sees."""
        status, _, body = self.daemon.request("GET", "/secure/x")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"client_cn": "stoad-gateway"})

    def test_upstream_not_signed_by_the_configured_ca_is_502(self) -> None:
        """An upstream whose certificate does not chain to upstream_ca is never talked to: 502."""
        status, _, body = self.daemon.request("GET", "/wrongca/x")
        self.assertEqual((status, json.loads(body)), (502, {"error": "bad_gateway"}))
