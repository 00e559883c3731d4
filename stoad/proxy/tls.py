"""TLS termination: builds the pyOpenSSL server context (mutual TLS, CRLs, modern ciphers only)
and swaps it atomically on reload, keeping the old one when the new material is broken.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL, crypto
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.logger import Logger
from zope.interface import implementer

from stoad.config import TLSSettings
from stoad.runtime.context import PeerCertificate

log = Logger()

# AEAD suites with forward secrecy only; TLS 1.3 suites are AEAD by construction.
TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
TLS13_CIPHERS = b"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"


class TLSMaterialError(Exception):
    """Certificate, key, CA bundle or CRL could not be loaded; the message says which and why."""


def thumbprint_s256(der: bytes) -> str:
    """RFC 8705 C{x5t#S256}: base64url without padding of SHA-256 over the DER certificate."""
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode("ascii")


# Agents reconnect with the same few certificates: parsing one (names, SANs, thumbprint) costs
# ~27 µs of CPU per new connection, a cache hit well under 1 µs. The key is the whole DER and the
# result is immutable, so a hit is exactly the parse; OpenSSL still verifies every handshake.
PEER_CACHE_SIZE = 256


@functools.lru_cache(maxsize=PEER_CACHE_SIZE)
def peer_certificate_from_der(der: bytes) -> PeerCertificate:
    """The parsed client certificate (cached by its DER bytes)."""
    cert = x509.load_der_x509_certificate(der)
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(san.get_values_for_type(x509.DNSName))
        uris = tuple(san.get_values_for_type(x509.UniformResourceIdentifier))
    except x509.ExtensionNotFound:
        dns, uris = (), ()
    return PeerCertificate(
        der=der,
        x5t_s256=thumbprint_s256(der),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        common_name=str(cns[0].value) if cns else None,
        san_dns=dns,
        san_uri=uris,
        serial=format(cert.serial_number, "x"),
        not_after=cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def peer_certificate_of(cert: crypto.X509) -> PeerCertificate:
    """The parsed form of a certificate pyOpenSSL handed over (DER straight from OpenSSL)."""
    return peer_certificate_from_der(crypto.dump_certificate(crypto.FILETYPE_ASN1, cert))


def client_allowed(peer: PeerCertificate, allowed: tuple[str, ...]) -> bool:
    """Whether a verified client matches the allow-list (empty list: any verified client)."""
    if not allowed:
        return True
    for entry in allowed:
        kind, _, value = entry.partition(":")
        if kind == "cn" and peer.common_name == value:
            return True
        if kind == "dns" and value in peer.san_dns:
            return True
        if kind == "uri" and value in peer.san_uri:
            return True
    return False


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise TLSMaterialError(f"{what} {path}: {e.strerror}") from None


def _pem_certificates(data: bytes, path: str, what: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise TLSMaterialError(f"{what} {path}: not a PEM certificate bundle ({e})") from None
    return certs


@dataclass(frozen=True)
class TLSMaterial:
    """The server's certificate chain and key, the client CAs and the CRLs, parsed from disk once."""

    chain: tuple[x509.Certificate, ...]
    key: Any  # a cryptography private key
    client_cas: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]


def load_tls_material(settings: TLSSettings) -> TLSMaterial:
    """Read and parse every file C{settings} names; raises L{TLSMaterialError} naming the bad one."""
    chain = _pem_certificates(_read(settings.certificate, "certificate"), settings.certificate,
                              "certificate")
    key_pem = _read(settings.private_key, "private_key")
    ca_pem = _read(settings.client_ca, "client_ca")
    cas = _pem_certificates(ca_pem, settings.client_ca, "client_ca")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as e:
        raise TLSMaterialError(
            f"private_key {settings.private_key}: unusable or does not match the certificate ({e})"
        ) from None
    crls = []
    for path in settings.crl_files:
        data = _read(path, "crl_files")
        try:
            crl = x509.load_pem_x509_crl(data)
        except ValueError:
            try:
                crl = x509.load_der_x509_crl(data)
            except ValueError:
                raise TLSMaterialError(f"crl_files {path}: not a PEM or DER CRL") from None
        crls.append(crl)
    return TLSMaterial(tuple(chain), key, tuple(cas), tuple(crls))


def build_server_context(settings: TLSSettings,
                         on_verify_failure: Callable[[str], None] | None = None) -> SSL.Context:
    """
    Build a server context from files; raises L{TLSMaterialError} naming the bad file.
    C{on_verify_failure} is told the reason of every refused client certificate.
    """
    return context_from_material(load_tls_material(settings), settings, on_verify_failure)


def context_from_material(material: TLSMaterial, settings: TLSSettings,
                          on_verify_failure: Callable[[str], None] | None = None) -> SSL.Context:
    """A new server context (with new session-ticket keys) from material already in memory."""
    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_3_VERSION if settings.min_version == "1.3" else SSL.TLS1_2_VERSION)
    ctx.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_NO_RENEGOTIATION | SSL.OP_CIPHER_SERVER_PREFERENCE
                    | SSL.OP_SINGLE_ECDH_USE)
    if not settings.session_tickets:
        ctx.set_options(SSL.OP_NO_TICKET)
    # Free a connection's 16 KB+ read and write buffers while it is idle (nginx does the same):
    # an idle keep-alive connection then holds only its SSL state.
    ctx.set_mode(SSL.MODE_RELEASE_BUFFERS)
    ctx.set_cipher_list(TLS12_CIPHERS.encode("ascii"))
    ctx.set_tls13_ciphersuites(TLS13_CIPHERS)
    ctx.set_session_id(b"stoad")
    # Session tickets are encrypted with keys that live as long as this context; the worker
    # rebuilds it every ticket_key_rotation, so no ticket is honoured for longer than that.
    ctx.set_timeout(int(settings.ticket_key_rotation))
    try:
        ctx.use_certificate(material.chain[0])
        for extra in material.chain[1:]:
            ctx.add_extra_chain_cert(extra)
        ctx.use_privatekey(material.key)
        ctx.check_privatekey()
    except (ValueError, TypeError, SSL.Error) as e:
        raise TLSMaterialError(
            f"private_key {settings.private_key}: unusable or does not match the certificate ({e})"
        ) from None
    store = ctx.get_cert_store()
    assert store is not None
    for ca in material.client_cas:
        store.add_cert(crypto.X509.from_cryptography(ca))
        ctx.add_client_ca(ca)
    if settings.crl_files:
        for crl in material.crls:
            store.add_crl(crl)
        # Every certificate in the chain must have a current CRL from its issuer: a missing or
        # expired CRL fails the handshake rather than skipping the check.
        store.set_flags(crypto.X509StoreFlags.CRL_CHECK | crypto.X509StoreFlags.CRL_CHECK_ALL)
    mode = SSL.VERIFY_PEER
    if settings.client_auth == "required":
        mode |= SSL.VERIFY_FAIL_IF_NO_PEER_CERT | SSL.VERIFY_CLIENT_ONCE

    allowed = settings.allowed_clients

    def verify(conn: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int) -> bool:
        if not ok:
            if on_verify_failure is not None:
                on_verify_failure(_verify_reason(errno))
            return False
        if depth == 0 and allowed:
            peer = peer_certificate_of(cert)
            if not client_allowed(peer, allowed):
                if on_verify_failure is not None:
                    on_verify_failure("client not in allowed_clients")
                return False
        return True

    ctx.set_verify(mode, verify)
    ctx.set_verify_depth(settings.verify_depth)
    return ctx


_VERIFY_REASONS = {
    2: "unable to get issuer certificate",
    3: "unable to get CRL",
    7: "certificate signature failure",
    9: "certificate not yet valid",
    10: "certificate has expired",
    12: "CRL has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in chain",
    20: "unable to get local issuer certificate",
    22: "certificate chain too long",
    23: "certificate revoked",
    26: "unsupported certificate purpose",
}


def _verify_reason(errno: int) -> str:
    return _VERIFY_REASONS.get(errno, f"verify error {errno}")


@implementer(IOpenSSLServerConnectionCreator)
class ReloadableServerTLS:
    """
    Hands each new connection the current context. L{install} swaps in a context built (and
    checked) beforehand; L{reload} builds one from the files and swaps it in only if every file
    loaded; open connections keep theirs.
    """

    def __init__(self, settings: TLSSettings,
                 on_verify_failure: Callable[[str], None] | None = None) -> None:
        self._on_verify_failure = on_verify_failure
        self.settings = settings
        self.material = load_tls_material(settings)
        self._context = context_from_material(self.material, settings, on_verify_failure)

    def prepare(self, settings: TLSSettings) -> tuple[TLSMaterial, SSL.Context]:
        """Load C{settings}' files and build a context from them, changing nothing."""
        material = load_tls_material(settings)
        return material, context_from_material(material, settings, self._on_verify_failure)

    def install(self, settings: TLSSettings, material: TLSMaterial, context: SSL.Context) -> None:
        """Serve new handshakes with C{context} (from L{prepare}); one assignment each."""
        self.settings, self.material, self._context = settings, material, context

    def reload(self, settings: TLSSettings | None = None) -> None:
        """Rebuild from files; on any problem raise L{TLSMaterialError} and keep the old context."""
        new_settings = settings or self.settings
        self.install(new_settings, *self.prepare(new_settings))

    def rotate_ticket_keys(self) -> None:
        """
        A new context from the material already in memory: new session-ticket keys, the old
        ones gone. Nothing is read from disk (a half-written file must not change what is
        served between reloads).
        """
        self._context = context_from_material(self.material, self.settings, self._on_verify_failure)

    def serverConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        return SSL.Connection(self._context, None)
