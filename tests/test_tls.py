"""In-memory TLS handshakes against the real server context: who gets in, and what the chain
is told about them (RFC 8705 thumbprint)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import shutil
import subprocess
import tempfile
from typing import Any

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS
from twisted.internet.task import Clock
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.test.iosim import connectedServerAndClient
from twisted.trial.unittest import SynchronousTestCase

from stoad.config import TLSSettings
from stoad.daemon.metrics import Metrics
from stoad.dev.devpki import Issued, make_ca, make_crl, make_leaf
from stoad.proxy.http import GatewayHTTPFactory, GatewayTLSFactory
from stoad.proxy.tls import ReloadableServerTLS, TLSMaterialError, thumbprint_s256
from tests.test_config import LIMITS


class _RecordingGateway:
    def __init__(self) -> None:
        self.peers: list[Any] = []
        self.rejections: list[Any] = []

    def streams_body(self, target: bytes) -> bool:
        return False

    def record_rejection(self, *details: Any) -> None:
        self.rejections.append(details)

    def handle(self, request: Any, peer: Any) -> None:
        self.peers.append(peer)
        request.start_response(200, [("Content-Length", "2")])
        request.write(b"ok")
        request.finish()


class _Client(Protocol):
    def __init__(self) -> None:
        self.data = b""
        self.lost: Any = None

    def connectionMade(self) -> None:
        self.transport.write(b"GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n")

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Any) -> None:
        self.lost = reason


class TLSTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.ca = make_ca()
        self.server = make_leaf(self.ca, "localhost", dns=["localhost"], server=True)
        self.agent = make_leaf(self.ca, "agent-1", uris=["spiffe://stoad.dev/agent/agent-1"])

    def write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def settings(self, crl: bytes | None = None, **overrides: Any) -> TLSSettings:
        values: dict[str, Any] = dict(
            certificate=self.write("server.pem", self.server.cert_pem),
            private_key=self.write("server-key.pem", self.server.key_pem),
            client_ca=self.write("ca.pem", self.ca.cert_pem),
            client_auth="required",
            min_version="1.2",
            crl_files=(self.write("crl.pem", crl),) if crl is not None else (),
            verify_depth=4,
            allowed_clients=(),
            session_tickets=True,
        )
        values.update(overrides)
        return TLSSettings(**values)

    def handshake(self, settings: TLSSettings, client: Issued | None) -> tuple[_RecordingGateway, _Client, Metrics]:
        gateway = _RecordingGateway()
        metrics = Metrics()
        creator = ReloadableServerTLS(settings, lambda reason: metrics.handshake_failures.labels(reason).inc())
        clock = Clock()
        server_factory = GatewayTLSFactory(creator, GatewayHTTPFactory(gateway, LIMITS, metrics, clock),
                                           metrics, 10, clock=clock)
        kwargs: dict[str, Any] = {"trustRoot": Certificate.loadPEM(self.ca.cert_pem)}
        if client is not None:
            kwargs["clientCertificate"] = PrivateCertificate.loadPEM(client.cert_pem + client.key_pem)
        client_proto = _Client()
        client_factory = TLSMemoryBIOFactory(optionsForClientTLS("localhost", **kwargs), True,
                                             Factory.forProtocol(lambda: client_proto), clock=clock)
        connectedServerAndClient(lambda: server_factory.buildProtocol(None),
                                 lambda: client_factory.buildProtocol(None), greet=False,
                                 clock=clock)[2].flush()
        return gateway, client_proto, metrics


class HandshakeTests(TLSTestCase):
    def test_client_with_valid_certificate_reaches_the_gateway(self) -> None:
        """A client certificate from the trusted CA completes the handshake; the gateway
        is told its subject, SAN URI and thumbprint."""
        gateway, client, _ = self.handshake(self.settings(), self.agent)
        self.assertEqual(len(gateway.peers), 1)
        peer = gateway.peers[0]
        self.assertEqual(peer.common_name, "agent-1")
        self.assertEqual(peer.san_uri, ("spiffe://stoad.dev/agent/agent-1",))
        self.assertEqual(peer.x5t_s256, thumbprint_s256(self.agent.der))
        self.assertIn(b"200", client.data)

    def test_client_without_certificate_is_refused(self) -> None:
        """No client certificate: the handshake fails and nothing reaches the gateway."""
        gateway, client, metrics = self.handshake(self.settings(), None)
        self.assertEqual(gateway.peers, [])
        self.assertNotIn(b"200", client.data)

    def test_expired_client_certificate_is_refused(self) -> None:
        """An expired client certificate fails verification, counted by reason."""
        now = datetime.datetime.now(datetime.UTC)
        expired = make_leaf(self.ca, "old", not_before=now - datetime.timedelta(days=10),
                            not_after=now - datetime.timedelta(days=1))
        gateway, _, metrics = self.handshake(self.settings(), expired)
        self.assertEqual(gateway.peers, [])
        self.assertEqual(metrics.handshake_failures.labels("certificate has expired")._value.get(), 1)

    def test_revoked_client_certificate_is_refused(self) -> None:
        """A certificate on the CA's CRL is refused; another from the same CA is not."""
        crl = make_crl(self.ca, [self.agent])
        gateway, _, metrics = self.handshake(self.settings(crl), self.agent)
        self.assertEqual(gateway.peers, [])
        self.assertEqual(metrics.handshake_failures.labels("certificate revoked")._value.get(), 1)
        other = make_leaf(self.ca, "agent-2")
        gateway, _, _ = self.handshake(self.settings(crl), other)
        self.assertEqual(len(gateway.peers), 1)

    def test_expired_crl_refuses_everyone(self) -> None:
        """An expired CRL fails closed: no certificate of that CA is accepted."""
        gateway, _, metrics = self.handshake(self.settings(make_crl(self.ca, days=-1)), self.agent)
        self.assertEqual(gateway.peers, [])
        self.assertEqual(metrics.handshake_failures.labels("CRL has expired")._value.get(), 1)

    def test_missing_crl_for_the_issuer_refuses(self) -> None:
        """With CRL checking on, a client whose CA has no CRL loaded is refused."""
        other_ca = make_ca("other")
        gateway, _, _ = self.handshake(self.settings(make_crl(other_ca)), self.agent)
        self.assertEqual(gateway.peers, [])

    def test_untrusted_client_certificate_is_refused(self) -> None:
        """A certificate from a CA the gateway does not trust is refused."""
        rogue = make_leaf(make_ca("rogue"), "agent-1")
        gateway, _, _ = self.handshake(self.settings(), rogue)
        self.assertEqual(gateway.peers, [])

    def test_allow_list_refuses_other_identities(self) -> None:
        """With allowed_clients, a valid certificate whose identity is not listed is refused;
        a listed SPIFFE ID is accepted."""
        listed = self.settings(allowed_clients=("uri:spiffe://stoad.dev/agent/agent-1",))
        gateway, _, _ = self.handshake(listed, self.agent)
        self.assertEqual(len(gateway.peers), 1)
        gateway, _, _ = self.handshake(listed, make_leaf(self.ca, "agent-2"))
        self.assertEqual(gateway.peers, [])
        by_cn = self.settings(allowed_clients=("cn:agent-2",))
        gateway, _, _ = self.handshake(by_cn, self.agent)
        self.assertEqual(gateway.peers, [])


class MaterialTests(TLSTestCase):
    def test_key_that_does_not_match_is_refused(self) -> None:
        """A private key that is not the certificate's fails to load, naming private_key."""
        other = make_leaf(self.ca, "other", server=True)
        settings = self.settings()
        self.write("server-key.pem", other.key_pem)
        with self.assertRaises(TLSMaterialError) as caught:
            ReloadableServerTLS(settings)
        self.assertIn("private_key", str(caught.exception))

    def test_failed_reload_keeps_the_old_context(self) -> None:
        """reload() with a broken certificate raises and keeps serving the old context."""
        settings = self.settings()
        tls = ReloadableServerTLS(settings)
        before = tls._context
        self.write("server.pem", b"garbage")
        self.assertRaises(TLSMaterialError, tls.reload, settings)
        self.assertIs(tls._context, before)

    def test_missing_ca_bundle_is_named(self) -> None:
        """A CA bundle path that does not exist is reported with its key name."""
        settings = self.settings(client_ca=os.path.join(self.tmp, "missing.pem"))
        with self.assertRaises(TLSMaterialError) as caught:
            ReloadableServerTLS(settings)
        self.assertIn("client_ca", str(caught.exception))


class ThumbprintTests(SynchronousTestCase):
    def test_thumbprint_matches_openssl(self) -> None:
        """x5t#S256 equals base64url(no padding) of `openssl x509 -outform der | openssl dgst
        -sha256 -binary`."""
        cert = make_leaf(make_ca(), "agent")
        der = subprocess.run(["openssl", "x509", "-outform", "der"], input=cert.cert_pem,
                             capture_output=True, check=True).stdout
        digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=der,
                                capture_output=True, check=True).stdout
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        self.assertEqual(thumbprint_s256(cert.der), expected)
        self.assertEqual(thumbprint_s256(cert.der), base64.urlsafe_b64encode(
            hashlib.sha256(cert.der).digest()).decode().rstrip("="))
        self.assertNotIn("=", expected)


class TicketKeyTests(TLSTestCase):
    def test_rotation_replaces_the_context(self) -> None:
        """Rotating ticket keys builds a fresh context (new keys); tickets live no longer than
        the rotation interval."""
        tls = ReloadableServerTLS(self.settings(ticket_key_rotation=600.0))
        before = tls._context
        self.assertEqual(before.get_timeout(), 600)
        tls.rotate_ticket_keys()
        self.assertIsNot(tls._context, before)

    def test_worker_rotates_on_schedule_without_reading_files(self) -> None:
        """The worker rotates ticket keys every ticket_key_rotation from the material loaded at
        the last (re)load: a certificate broken on disk in between changes nothing served."""
        from twisted.internet.task import Clock

        from stoad.config import config_from_string
        from stoad.daemon.worker import WorkerRuntime

        text = f"""
[server]
state_dir = {self.tmp}/state
[tls]
certificate = {self.write("server.pem", self.server.cert_pem)}
private_key = {self.write("server-key.pem", self.server.key_pem)}
client_ca = {self.write("ca.pem", self.ca.cert_pem)}
client_auth = required
no_revocation_check_do_not_use = yes
ticket_key_rotation = 120s
[chain]
layers =
no_security_layers_do_not_use = yes
[route:api]
prefix = /api
upstream = http://127.0.0.1:9
"""
        clock = Clock()
        runtime = WorkerRuntime(config_from_string(text), clock)
        first = runtime.tls._context
        clock.advance(121)
        second = runtime.tls._context
        self.assertIsNot(second, first)
        material = runtime.tls.material
        self.write("server.pem", b"broken")
        self.write("ca.pem", b"broken")
        clock.advance(121)
        self.assertIsNot(runtime.tls._context, second)
        self.assertIs(runtime.tls.material, material)
        self.assertEqual(runtime.metrics.reload_failures.labels("ticket-keys")._value.get(), 0)
