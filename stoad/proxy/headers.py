"""Which headers cross the gateway: hop-by-hop and identity-claiming headers never do."""

from __future__ import annotations

import re
from typing import Any, Iterable, Iterator

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

# Headers a client could use to claim an identity or an origin it does not have, because some
# upstream or auth proxy sets them for its backends: dropped from every request (stoad sets its
# own versions of the ones the upstream needs). docs/configuration.md lists them; [headers]
# extends the list. Families are matched by prefix.
IDENTITY_HEADERS = frozenset(
    {
        "forwarded",
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
        "x-cluster-client-ip",
        "x-original-forwarded-for",
        "x-ssl-cert",
        "ssl-client-cert",
        "x-client-cert",
        "x-client-certificate",
        "x-client-verify",
        "x-ssl-client-verify",
        "x-arr-clientcert",
        "x-remote-user",
        "remote-user",
        "x-remote-group",
        "x-webauth-user",
        "x-user",
        "x-user-id",
        "x-username",
        "x-email",
        "x-userinfo",
        "x-id-token",
        "x-access-token",
        "x-jwt-assertion",
        "x-endpoint-api-userinfo",
        "x-apigateway-api-userinfo",
        "x-credential-identifier",
        "x-anonymous-consumer",
        "x-spiffe-id",
        "x-principal",
        "x-tenant-id",
    }
)
IDENTITY_PREFIXES = (
    "x-stoad-",  # stoad's own identity namespace
    "x-forwarded-",  # incl. -for/-host/-proto/-user/-email/-client-cert/-access-token
    "x-ssl-client-",
    "ssl-client-",
    "x-client-cert-",
    "x-authenticated-",  # x-authenticated-user, -userid, -groups, -scope
    "x-auth-request-",  # oauth2-proxy
    "x-amzn-oidc-",  # AWS ALB
    "x-goog-authenticated-user-",  # Google IAP
    "x-goog-iap-",
    "x-ms-client-principal",  # Azure App Service
    "x-ms-token-",
    "x-consumer-",  # Kong
    "x-remote-user-",
    "x-user-",
    "x-auth-",
    "x-principal-",
)


class IdentityHeaderPolicy:
    """
    Which (lower-cased) request header names claim an identity: the built-in list and prefixes
    plus C{extra} names (a trailing C{*} makes a prefix), minus names the operator explicitly
    lets through.
    """

    def __init__(self, extra: tuple[str, ...] = (), passed: tuple[str, ...] = ()) -> None:
        names = set(IDENTITY_HEADERS)
        prefixes = list(IDENTITY_PREFIXES)
        for entry in extra:
            if entry.endswith("*"):
                prefixes.append(entry[:-1])
            else:
                names.add(entry)
        self.names = frozenset(names)
        self.prefixes = tuple(prefixes)
        self.passed = frozenset(passed)

    def claims(self, name: str) -> bool:
        if name in self.names or name.startswith(self.prefixes):
            return name not in self.passed
        return False


DEFAULT_IDENTITY_POLICY = IdentityHeaderPolicy()


def claims_identity(name: str) -> bool:
    """Whether a (lower-cased) header name claims a client identity or origin (by default)."""
    return DEFAULT_IDENTITY_POLICY.claims(name)


# Headers and parameters that make some frameworks act on another method or URL than the one
# stoad checked (Symfony, Laravel, Rails, Express method-override, IIS URL rewrite, ...): a
# request carrying one is refused unless its route allows that name (allow_override).
OVERRIDE_HEADERS = frozenset(
    {
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
        "x-original-method",
        "x-original-url",
        "x-original-uri",
        "x-rewrite-url",
        "x-override-url",
        "x-http-destinationurl",
    }
)
OVERRIDE_PARAMETERS = frozenset({"_method", "__method", "_http_method", "x-http-method-override",
                                 "x-method-override", "x-http-method"})


def override_names(headers: dict[str, list[str]], query_names: Iterable[str],
                   form_names: Iterable[str], allowed: frozenset[str]) -> list[str]:
    """The method/URL-override headers and parameters a request carries that are not allowed."""
    found = [name for name in headers if name in OVERRIDE_HEADERS]
    found += [f"{name} (parameter)" for name in (*query_names, *form_names)
              if name.lower() in OVERRIDE_PARAMETERS]
    return [name for name in found if name.partition(" ")[0].lower() not in allowed]


def connection_named(values: Iterable[str]) -> set[str]:
    """The header names listed in Connection header values (lower-cased)."""
    named: set[str] = set()
    for value in values:
        for token in value.split(","):
            token = token.strip().lower()
            if token:
                named.add(token)
    return named


# Headers that only mean something to a protocol switch: stoad never switches, and drops Upgrade,
# so these go with it (a next hop that did switch on them would read what follows differently).
_UPGRADE_ONLY_PREFIXES = ("sec-websocket-",)
_UPGRADE_ONLY = frozenset({"http2-settings"})
_ALWAYS_DROPPED = HOP_BY_HOP | _UPGRADE_ONLY


def end_to_end(headers: dict[str, list[str]]) -> dict[str, list[str]]:
    """
    Drop hop-by-hop headers, every header named in Connection and the headers that belong to
    an Upgrade (C{Sec-WebSocket-*}, C{HTTP2-Settings}); names lower-cased.
    """
    named = headers.get("connection")
    drop = _ALWAYS_DROPPED | connection_named(named) if named else _ALWAYS_DROPPED
    return {name: values for name, values in headers.items()
            if name not in drop and not name.startswith(_UPGRADE_ONLY_PREFIXES)}


_DROP_SETS: dict[frozenset[str], frozenset[str]] = {}


def end_to_end_raw(headers: dict[str, list[str]],
                   also_dropped: frozenset[str]) -> dict[bytes, list[bytes]]:
    """
    The headers L{end_to_end} keeps, less C{also_dropped} (lower-case names), as canonical
    names to values encoded back to the bytes they were decoded from (Latin-1): one pass, no
    intermediate dict. A name that is not a token raises C{ValueError} (L{canonical_name}).
    """
    drop = _DROP_SETS.get(also_dropped)
    if drop is None:
        drop = _DROP_SETS[also_dropped] = _ALWAYS_DROPPED | also_dropped
    named = headers.get("connection")
    if named:
        drop = drop | connection_named(named)
    return {canonical_name(name): [value.encode("latin-1") for value in values]
            for name, values in headers.items()
            if name not in drop and not name.startswith(_UPGRADE_ONLY_PREFIXES)}


_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# As twisted.web's Headers writes them (its _NameEncoder), so that upstreams see the same bytes.
_SPECIAL_CASES = {b"Content-Md5": b"Content-MD5", b"Dnt": b"DNT", b"Etag": b"ETag",
                  b"P3p": b"P3P", b"Te": b"TE", b"Www-Authenticate": b"WWW-Authenticate",
                  b"X-Xss-Protection": b"X-XSS-Protection"}
_CANONICAL: dict[str | bytes, bytes] = {}


def canonical_name(name: str | bytes) -> bytes:
    """
    A header name in Http-Header-Case, as bytes; a name that is not an RFC 9110 token raises
    C{ValueError} (twisted.web's Headers refuses the same names).
    """
    found = _CANONICAL.get(name)
    if found is not None:
        return found
    raw = name.encode("latin-1") if isinstance(name, str) else name
    if not _TOKEN.fullmatch(raw):
        raise ValueError(f"not a header name: {raw[:40]!r}")
    result = b"-".join([word.capitalize() for word in raw.split(b"-")])
    result = _SPECIAL_CASES.get(result, result)
    if len(_CANONICAL) < 1024:  # names come from clients: keep the map bounded
        _CANONICAL[name] = result
    return result


def _one_line(value: bytes) -> bytes:
    # As twisted.web's Headers does: a value can never end its header line early.
    return b" ".join(value.splitlines())


class RawHeaders:
    """
    Header names (canonical case) to raw values, in insertion order: the part of twisted.web's
    C{Headers} the data path uses, built without a sanitising call per value. Values are
    made single-line when the head is written (L{head_bytes}), as C{Headers} does on input.
    """

    __slots__ = ("raw",)

    def __init__(self, raw: dict[bytes, list[bytes]] | None = None) -> None:
        self.raw: dict[bytes, list[bytes]] = raw if raw is not None else {}

    def setRawHeaders(self, name: str | bytes, values: Iterable[str | bytes]) -> None:
        self.raw[canonical_name(name)] = [
            value.encode("utf-8") if isinstance(value, str) else value for value in values]

    def addRawHeader(self, name: str | bytes, value: str | bytes) -> None:
        self.raw.setdefault(canonical_name(name), []).append(
            value.encode("utf-8") if isinstance(value, str) else value)

    def getRawHeaders(self, name: bytes, default: Any = None) -> Any:
        values = self.raw.get(canonical_name(name))
        return [_one_line(value) for value in values] if values else default

    def hasHeader(self, name: str | bytes) -> bool:
        return canonical_name(name) in self.raw

    def removeHeader(self, name: str | bytes) -> None:
        self.raw.pop(canonical_name(name), None)

    def getAllRawHeaders(self) -> Iterator[tuple[bytes, list[bytes]]]:
        for name, values in self.raw.items():
            yield name, [_one_line(value) for value in values]

    def head_bytes(self, first_line: bytes) -> bytes:
        """C{first_line} (ending in CRLF), then every header line, then the empty line."""
        lines = [first_line]
        for name, values in self.raw.items():
            for value in values:
                lines.append(name + b": " + value + b"\r\n")
        lines.append(b"\r\n")
        head = b"".join(lines)
        # Each line brings exactly one CR and one LF: any more came inside a value.
        if head.count(b"\n") != len(lines) or head.count(b"\r") != len(lines):
            lines = [first_line]
            for name, values in self.getAllRawHeaders():
                for value in values:
                    lines.append(name + b": " + value + b"\r\n")
            lines.append(b"\r\n")
            head = b"".join(lines)
        return head
