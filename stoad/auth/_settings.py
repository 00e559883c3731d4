"""The token layer's configuration: the C{[auth]} section, per-route keys, and the consumers file.

Everything is parsed strictly into frozen objects; every problem is reported at once.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

from stoad.auth._jws import SUPPORTED_ALGORITHMS
from stoad.config._reader import Problems, SectionReader
from stoad.runtime.layers import SectionSource
from stoad.runtime.methods import aliased_methods, method_class

BUILTIN_SCOPES = ("stoa:read", "stoa:write", "stoa:admin")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SCOPE_CHARS = frozenset("!#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`"
                         "abcdefghijklmnopqrstuvwxyz{|}~")
_METHOD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:@")
CONSUMER_PREFIX = "consumer:"


@dataclass(frozen=True)
class Consumer:
    """One registered client: who it is for stoad, and where it may go."""

    name: str
    client_id: str
    consumer_id: str
    agent_id: str
    tier: str
    routes: frozenset[str]  # route names; "*" means every route
    certificate_cn: str | None = None
    certificate_subject: str | None = None

    def may_use(self, route_name: str) -> bool:
        return "*" in self.routes or route_name in self.routes


@dataclass(frozen=True)
class ConsumerRegistry:
    by_client_id: Mapping[str, Consumer]

    def find(self, client_id: str) -> Consumer | None:
        return self.by_client_id.get(client_id)


@dataclass(frozen=True)
class RouteAuth:
    """A route's own token rules: accepted audiences (empty: its public URL) and method scopes."""

    audiences: tuple[str, ...] = ()
    method_scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def required_scopes(self, method: str) -> frozenset[str]:
        """The scopes a request needs; HEAD needs exactly what GET needs (method classes)."""
        method = method_class(method)
        configured = self.method_scopes.get(method)
        if configured is not None:
            return configured
        return frozenset({"stoa:read"}) if method in READ_METHODS else frozenset({"stoa:write"})


@dataclass(frozen=True)
class AuthSettings:
    issuer: str
    authorization_servers: tuple[str, ...]
    metadata_url: str | None
    jwks_file: str | None
    algorithms: tuple[str, ...]
    rsa_default_algorithm: str
    leeway: float
    max_token_lifetime: float
    require_binding: bool
    max_token_bytes: int
    extra_scopes: tuple[str, ...]
    consumers: ConsumerRegistry
    consumers_file: str
    introspection: str  # "off", "client_secret_basic" or "tls_client_auth"
    introspection_endpoint: str | None
    client_id: str | None
    client_secret: str | None
    client_certificate: str | None
    client_key: str | None
    authorization_server_ca: str | None
    fetch_timeout: float
    fetch_max_bytes: int
    jwks_default_ttl: float
    jwks_min_ttl: float
    jwks_max_ttl: float
    jwks_stale_limit: float
    jwks_refetch_interval: float
    token_cache_size: int
    token_cache_ttl: float
    introspection_cache_ttl: float
    reuse_tracker_size: int
    # how long an inactive or invalid opaque token is remembered as such (no re-introspection)
    introspection_negative_ttl: float = 5.0

    @property
    def known_scopes(self) -> frozenset[str]:
        return frozenset(BUILTIN_SCOPES) | frozenset(self.extra_scopes)


def _https_url(reader: SectionReader, key: str, value: str | None) -> None:
    if value is None:
        return
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        reader.problem(key, f"must be an https:// URL without query or fragment, got {value!r}")


def _scopes(reader: SectionReader, key: str, values: tuple[str, ...]) -> frozenset[str]:
    for scope in values:
        if not set(scope) <= _SCOPE_CHARS or '"' in scope or "\\" in scope:
            reader.problem(key, f"not a valid scope token: {scope!r}")
    return frozenset(values)


def parse_settings(source: SectionSource) -> AuthSettings:
    r = source.reader("auth", required=True) or SectionReader("auth", {}, source.problems,
                                                              source.base_dir)
    issuer = r.string("issuer")
    _https_url(r, "issuer", issuer or None)
    servers = r.words("authorization_servers", (issuer,) if issuer else ())
    for server in servers:
        _https_url(r, "authorization_servers", server)
    metadata_url = r.optional_string("metadata_url")
    _https_url(r, "metadata_url", metadata_url)
    jwks_file = r.optional_path("jwks_file")
    algorithms = r.words("algorithms", ("RS256", "ES256"))
    for alg in algorithms:
        if alg not in SUPPORTED_ALGORITHMS:
            r.problem("algorithms", f"{alg!r} is not an asymmetric signature algorithm stoad "
                      f"supports ({', '.join(sorted(SUPPORTED_ALGORITHMS))})")
    if not algorithms:
        r.problem("algorithms", "name at least one algorithm")
    rsa_default = r.choice("rsa_default_algorithm", ("rs256", "rs384", "rs512"), "rs256").upper()
    extra = _scopes(r, "extra_scopes", r.words("extra_scopes", ()))
    consumers_file = r.path("consumers")
    consumers = load_consumers(consumers_file, source.problems) if consumers_file else \
        ConsumerRegistry({})

    introspection = r.choice("introspection", ("off", "client_secret_basic", "tls_client_auth"),
                             "off")
    endpoint = r.optional_string("introspection_endpoint")
    _https_url(r, "introspection_endpoint", endpoint)
    client_id = r.optional_string("client_id")
    secret_file = r.optional_path("client_secret_file")
    client_certificate = r.optional_path("client_certificate")
    client_key = r.optional_path("client_key")
    secret = None
    if introspection != "off" and not client_id:
        r.problem("client_id", f"required when introspection = {introspection}")
    if introspection == "client_secret_basic":
        if secret_file is None:
            r.problem("client_secret_file", "required when introspection = client_secret_basic")
        else:
            secret = _read_secret(r, secret_file)
    elif secret_file is not None:
        r.problem("client_secret_file", "only used with introspection = client_secret_basic")
    if introspection == "tls_client_auth" and (client_certificate is None or client_key is None):
        r.problem("client_certificate", "client_certificate and client_key are required when "
                  "introspection = tls_client_auth")
    elif introspection != "tls_client_auth" and (client_certificate or client_key):
        r.problem("client_certificate", "only used with introspection = tls_client_auth")

    jwks_min = r.duration("jwks_min_ttl", 60.0, minimum=1.0)
    jwks_max = r.duration("jwks_max_ttl", 3600.0, minimum=1.0)
    if jwks_min > jwks_max:
        r.problem("jwks_min_ttl", "must not exceed jwks_max_ttl")
    settings = AuthSettings(
        issuer=issuer,
        authorization_servers=servers,
        metadata_url=metadata_url,
        jwks_file=jwks_file,
        algorithms=algorithms,
        rsa_default_algorithm=rsa_default,
        leeway=r.duration("leeway", 30.0, minimum=0.0, maximum=300.0),
        max_token_lifetime=r.duration("max_token_lifetime", 900.0, minimum=1.0, maximum=86400.0),
        require_binding=r.boolean("require_binding", True),
        max_token_bytes=r.size("max_token_bytes", 8192, minimum=256),
        extra_scopes=tuple(sorted(extra)),
        consumers=consumers,
        consumers_file=consumers_file,
        introspection=introspection,
        introspection_endpoint=endpoint,
        client_id=client_id,
        client_secret=secret,
        client_certificate=client_certificate,
        client_key=client_key,
        authorization_server_ca=r.optional_path("authorization_server_ca"),
        fetch_timeout=r.duration("fetch_timeout", 3.0, minimum=0.01, maximum=60.0),
        fetch_max_bytes=r.size("fetch_max_bytes", 256 * 1024, minimum=1024),
        jwks_default_ttl=r.duration("jwks_default_ttl", 300.0, minimum=1.0),
        jwks_min_ttl=jwks_min,
        jwks_max_ttl=jwks_max,
        jwks_stale_limit=r.duration("jwks_stale_limit", 3600.0, minimum=0.0, maximum=7 * 86400.0),
        jwks_refetch_interval=r.duration("jwks_refetch_interval", 30.0, minimum=1.0),
        token_cache_size=r.integer("token_cache_size", 10000, minimum=0, maximum=10_000_000),
        token_cache_ttl=r.duration("token_cache_ttl", 300.0, minimum=0.0),
        introspection_cache_ttl=r.duration("introspection_cache_ttl", 30.0, minimum=0.0),
        introspection_negative_ttl=r.duration("introspection_negative_ttl", 5.0, minimum=0.0,
                                              maximum=60.0),
        reuse_tracker_size=r.integer("reuse_tracker_size", 10000, minimum=1, maximum=10_000_000),
    )
    r.finish()
    return settings


def _read_secret(reader: SectionReader, path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            secret = f.read().strip()
    except (OSError, UnicodeDecodeError) as e:
        reader.problem("client_secret_file", f"cannot read: {type(e).__name__}")
        return None
    if not secret:
        reader.problem("client_secret_file", "the file is empty")
        return None
    return secret


def parse_route(reader: SectionReader) -> RouteAuth:
    """Read C{audiences} and C{scopes.METHOD} keys from one C{[route:NAME]} section."""
    audiences = reader.words("audiences", ())
    for audience in audiences:
        if any(c.isspace() for c in audience) or not audience.isprintable():
            reader.problem("audiences", f"not a valid audience: {audience!r}")
    method_scopes: dict[str, frozenset[str]] = {}
    for key in reader.keys():
        if not key.lower().startswith("scopes."):
            continue
        method = key[len("scopes."):].upper()
        if not method or not set(method) <= _METHOD_CHARS:
            reader.problem(key, "expected scopes.METHOD, e.g. scopes.GET")
        elif method in aliased_methods():
            reader.problem(key, f"{method} is held to {method_class(method)}'s scopes; "
                           f"set scopes.{method_class(method)}")
        values = reader.words(key)
        if not values:
            reader.problem(key, "name at least one scope")
        method_scopes[method] = _scopes(reader, key, values)
    return RouteAuth(audiences=audiences, method_scopes=method_scopes)


def load_consumers(path: str, problems: Problems) -> ConsumerRegistry:
    """
    Read the consumers file: one C{[consumer:NAME]} section per client. Problems are
    reported as C{[FILE consumer:NAME] key: problem}.
    """
    label = os.path.basename(path)
    parser = configparser.ConfigParser(strict=True, interpolation=None,
                                       default_section="\x00no-defaults",
                                       empty_lines_in_values=False)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f, source=path)
    except (OSError, UnicodeDecodeError) as e:
        problems.add(label, None, f"cannot read: {type(e).__name__}")
        return ConsumerRegistry({})
    except configparser.Error as e:
        problems.add(label, None, f"not a valid INI file: {str(e).splitlines()[0]}")
        return ConsumerRegistry({})
    by_client: dict[str, Consumer] = {}
    for section in parser.sections():
        where = f"{label} {section}"
        if not section.startswith(CONSUMER_PREFIX):
            problems.add(where, None, "unknown section (expected [consumer:NAME])")
            continue
        name = section[len(CONSUMER_PREFIX):]
        r = SectionReader(where, dict(parser[section]), problems, os.path.dirname(path))
        if not name or not set(name) <= _ID_CHARS:
            r.problem(None, "consumer names use letters, digits and -_.:@ only")
        client_id = r.string("client_id")
        consumer = Consumer(
            name=name,
            client_id=client_id,
            consumer_id=_identifier(r, "consumer_id", r.string("consumer_id", name)),
            agent_id=_identifier(r, "agent_id", r.string("agent_id", client_id or name)),
            tier=_identifier(r, "tier", r.string("tier")),
            routes=frozenset(r.words("routes")),
            certificate_cn=r.optional_string("certificate_cn"),
            certificate_subject=r.optional_string("certificate_subject"),
        )
        r.finish()
        if client_id in by_client:
            r.problem("client_id", f"{client_id!r} is also the client of "
                      f"[consumer:{by_client[client_id].name}]")
            continue
        by_client[client_id] = consumer
    if not by_client and not problems.items:
        problems.add(label, None, "no [consumer:NAME] section: every token would be refused")
    return ConsumerRegistry(by_client)


def _identifier(reader: SectionReader, key: str, value: str) -> str:
    # these values become upstream header values: keep them to a safe, printable alphabet
    if value and not set(value) <= _ID_CHARS:
        reader.problem(key, "use letters, digits and -_.:@ only")
    return value
