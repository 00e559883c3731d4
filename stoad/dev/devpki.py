"""A throwaway PKI for development and tests: a CA, a localhost server cert, agent client certs.

ECDSA P-256 made with C{cryptography}; never for production use.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def make_ca(name: str = "stoad dev CA", days: int = 30) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _ONE_DAY)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def make_leaf(
    ca: Issued,
    common_name: str,
    dns: Iterable[str] = (),
    ips: Iterable[str] = (),
    uris: Iterable[str] = (),
    server: bool = False,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> Issued:
    """A server (C{server=True}) or client certificate signed by C{ca}."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    sans += [x509.UniformResourceIdentifier(u) for u in uris]
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - _ONE_DAY)
        .not_valid_after(not_after or now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def make_crl(ca: Issued, revoked: Iterable[Issued] = (), days: float = 7,
             last_update: datetime.datetime | None = None) -> bytes:
    """A PEM CRL from C{ca} revoking C{revoked}, valid for C{days} (negative: already expired)."""
    now = _now()
    next_update = now + datetime.timedelta(days=days)
    if last_update is None:
        last_update = min(now, next_update) - datetime.timedelta(minutes=5)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(last_update)
        .next_update(next_update)
    )
    for item in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(item.certificate.serial_number)
            .revocation_date(last_update)
            .build()
        )
    crl = builder.sign(ca.key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.PEM)


def _write(path: str, data: bytes, private: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def write_dev_pki(directory: str, agents: Iterable[str] = ("agent-1", "agent-2")) -> dict[str, str]:
    """
    Write C{ca.pem}, C{server.pem}/C{server-key.pem} (localhost, 127.0.0.1) and for each
    agent C{NAME.pem}/C{NAME-key.pem} plus an empty C{crl.pem}; returns the paths by name.
    """
    os.makedirs(directory, exist_ok=True)
    ca = make_ca()
    paths = {"ca": os.path.join(directory, "ca.pem"), "ca-key": os.path.join(directory, "ca-key.pem")}
    _write(paths["ca"], ca.cert_pem)
    _write(paths["ca-key"], ca.key_pem, private=True)
    server = make_leaf(ca, "localhost", dns=["localhost"], ips=["127.0.0.1", "::1"], server=True)
    issued = {"server": server}
    for agent in agents:
        issued[agent] = make_leaf(
            ca, agent, uris=[f"spiffe://stoad.dev/agent/{agent}"], dns=[f"{agent}.agents.stoad.dev"]
        )
    for name, item in issued.items():
        paths[name] = os.path.join(directory, f"{name}.pem")
        paths[f"{name}-key"] = os.path.join(directory, f"{name}-key.pem")
        _write(paths[name], item.cert_pem)
        _write(paths[f"{name}-key"], item.key_pem, private=True)
    paths["crl"] = os.path.join(directory, "crl.pem")
    _write(paths["crl"], make_crl(ca, days=30))
    return paths
