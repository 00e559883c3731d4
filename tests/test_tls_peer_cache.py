"""The parsed client certificate of a new connection: straight from OpenSSL's DER, cached by
those bytes, and always exactly what a fresh parse gives."""

from __future__ import annotations

import os

from OpenSSL import SSL, crypto
from twisted.trial.unittest import SynchronousTestCase

from stoad.dev.devpki import write_dev_pki
from stoad.proxy.tls import PEER_CACHE_SIZE, peer_certificate_from_der, peer_certificate_of
from tests.test_tls import TLSTestCase


class PeerCertificateCacheTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.pki = write_dev_pki(os.path.abspath(self.mktemp()))

    def x509(self, name: str) -> crypto.X509:
        with open(self.pki[name], "rb") as f:
            return crypto.load_certificate(crypto.FILETYPE_PEM, f.read())

    def test_cached_result_is_the_fresh_parse(self) -> None:
        """For every dev certificate, the (cached) peer is equal to an uncached parse of the
        same DER, a second connection with it gets the same object, and two certificates
        never share an entry."""
        peers = {}
        for name in ("agent-1", "agent-2", "server"):
            cert = self.x509(name)
            der = crypto.dump_certificate(crypto.FILETYPE_ASN1, cert)
            fresh = peer_certificate_from_der.__wrapped__(der)
            first = peer_certificate_of(cert)
            self.assertEqual(first, fresh)
            self.assertEqual(first.der, der)
            self.assertIs(peer_certificate_of(self.x509(name)), first)
            peers[name] = first
        self.assertEqual(len({p.x5t_s256 for p in peers.values()}), 3)
        self.assertEqual(peers["agent-1"].common_name, "agent-1")

    def test_cache_is_bounded(self) -> None:
        """The cache holds at most PEER_CACHE_SIZE certificates."""
        self.assertEqual(peer_certificate_from_der.cache_info().maxsize, PEER_CACHE_SIZE)


class IdleBufferTests(TLSTestCase):
    def test_idle_connections_release_their_tls_buffers(self) -> None:
        """The server context frees a connection's TLS read/write buffers while it is idle
        (SSL_MODE_RELEASE_BUFFERS), and a full mTLS handshake and request still work."""
        from stoad.proxy.tls import build_server_context

        context = build_server_context(self.settings())
        self.assertTrue(context.set_mode(0) & SSL.MODE_RELEASE_BUFFERS)
        gateway, client, _ = self.handshake(self.settings(), self.agent)
        self.assertEqual(len(gateway.peers), 1)
