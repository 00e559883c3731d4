"""Which headers cross the gateway: hop-by-hop and identity-claiming headers never do."""

from __future__ import annotations

from typing import Iterable

# RFC 9110 7.6.1 connection-specific fields, plus the legacy ones proxies still see.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

# Headers a client could use to claim an identity or an origin it does not have; stoad sets its
# own versions of the ones the upstream needs.
_IDENTITY_EXACT = frozenset(
    {
        "forwarded",
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "client-ip",
        "x-ssl-cert",
        "ssl-client-cert",
        "x-client-cert",
        "x-client-certificate",
        "x-forwarded-client-cert",
        "x-client-verify",
        "x-ssl-client-verify",
        "x-remote-user",
        "remote-user",
        "x-authenticated-user",
        "x-user",
    }
)
_IDENTITY_PREFIXES = ("x-forwarded-", "x-stoad-", "x-ssl-client-", "ssl-client-", "x-client-cert-")


def claims_identity(name: str) -> bool:
    """Whether a (lower-cased) header name claims a client identity or origin."""
    return name in _IDENTITY_EXACT or name.startswith(_IDENTITY_PREFIXES)


def connection_named(values: Iterable[str]) -> set[str]:
    """The header names listed in Connection header values (lower-cased)."""
    named: set[str] = set()
    for value in values:
        for token in value.split(","):
            token = token.strip().lower()
            if token:
                named.add(token)
    return named


def end_to_end(headers: dict[str, list[str]]) -> dict[str, list[str]]:
    """Drop hop-by-hop headers and every header named in Connection (names lower-cased)."""
    drop = HOP_BY_HOP | connection_named(headers.get("connection", ()))
    return {name: values for name, values in headers.items() if name not in drop}
