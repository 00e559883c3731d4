"""A development token issuer: an ES256 key, its JWKS, and certificate-bound RFC 9068 access
tokens for the dev agents. For the demo and local trials only; production uses a real
authorization server (docs/auth.md).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jose import jwk, jwt

from stoad.proxy.tls import thumbprint_s256

DEV_ISSUER = "https://issuer.stoad.dev"
KID = "stoad-dev-1"


def write_dev_issuer(directory: str) -> dict[str, str]:
    """Write C{issuer-key.pem} (ES256), C{issuer-jwks.json} and an Ed25519 C{audit-key.pem}."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    jwk_dict = jwk.construct(public.decode(), "ES256").to_dict()
    jwk_dict.update({"kid": KID, "alg": "ES256", "use": "sig"})
    jwk_dict = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in jwk_dict.items()}
    paths = {
        "issuer-key": os.path.join(directory, "issuer-key.pem"),
        "issuer-jwks": os.path.join(directory, "issuer-jwks.json"),
        "audit-key": os.path.join(directory, "audit-key.pem"),
        "audit-key-pub": os.path.join(directory, "audit-key.pem.pub"),
    }
    _write(paths["issuer-key"], pem, 0o600)
    _write(paths["issuer-jwks"], json.dumps({"keys": [jwk_dict]}, indent=2).encode(), 0o644)
    audit = ed25519.Ed25519PrivateKey.generate()
    _write(paths["audit-key"], audit.private_bytes(serialization.Encoding.PEM,
           serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), 0o600)
    _write(paths["audit-key-pub"], audit.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
    return paths


def mint_dev_token(issuer_key_path: str, client_certificate_path: str, client_id: str,
                   audience: str, scopes: Iterable[str], lifetime: int = 300,
                   issuer: str = DEV_ISSUER) -> str:
    """An at+jwt access token for C{client_id}, bound to the certificate in the PEM file."""
    with open(issuer_key_path, "rb") as f:
        key_pem = f.read().decode()
    with open(client_certificate_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    now = int(time.time())
    claims = {
        "iss": issuer, "sub": client_id, "aud": audience, "client_id": client_id,
        "iat": now, "nbf": now, "exp": now + lifetime, "jti": uuid.uuid4().hex,
        "scope": " ".join(scopes),
        "cnf": {"x5t#S256": thumbprint_s256(cert.public_bytes(serialization.Encoding.DER))},
    }
    return jwt.encode(claims, key_pem, algorithm="ES256", headers={"typ": "at+jwt", "kid": KID})


def _write(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
