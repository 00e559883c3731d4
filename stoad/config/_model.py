"""The typed, frozen configuration the daemon runs on; nothing past here sees INI strings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from stoad.tracing._settings import TracingSettings

if TYPE_CHECKING:
    from stoad.state._settings import StateSettings


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int


@dataclass(frozen=True)
class ServerSettings:
    listen: ListenAddress
    public_url: str  # how clients reach stoad, e.g. https://gateway.example:8443
    workers: int
    step_timeout: float
    drain_timeout: float
    state_dir: str


@dataclass(frozen=True)
class TLSSettings:
    certificate: str
    private_key: str
    client_ca: str
    client_auth: str  # "required", or "insecure_optional_do_not_use"
    min_version: str  # "1.2" or "1.3"
    crl_files: tuple[str, ...]
    verify_depth: int
    allowed_clients: tuple[str, ...]  # "cn:NAME", "dns:NAME", "uri:URI"; empty = any verified
    session_tickets: bool
    ticket_key_rotation: float = 3600.0  # seconds; the context (and its ticket keys) is rebuilt


@dataclass(frozen=True)
class LimitSettings:
    max_header_bytes: int
    max_headers: int
    max_request_line: int
    max_body_bytes: int
    idle_timeout: float
    read_timeout: float
    max_connections: int
    # Deadlines and budgets of the HTTP layer (docs/architecture.md, "Deadlines").
    handshake_timeout: float = 10.0
    body_window: float = 10.0
    body_min_rate: int = 1024  # bytes per second, averaged over body_window
    write_timeout: float = 60.0
    exchange_timeout: float = 3600.0
    max_connections_per_source: int = 128
    max_buffered_bytes: int = 256 * 1024 * 1024


@dataclass(frozen=True)
class HeaderSettings:
    """
    The optional C{[headers]} section: request headers dropped as identity claims beyond the
    built-in list (a trailing C{*} makes a prefix), and built-in ones let through (dangerous).
    """

    extra_identity_headers: tuple[str, ...] = ()
    pass_identity_headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdminSettings:
    listen: str  # "host:port" on loopback, or "unix:/path"


@dataclass(frozen=True)
class Route:
    """
    One C{[route:NAME]}: requests whose normalised path starts with C{prefix} go to
    C{upstream}. C{layer_options} holds each layer's own per-route settings by layer name.
    """

    name: str
    prefix: str
    upstream: str  # scheme://host:port[/base]
    upstream_scheme: str
    upstream_host: str
    upstream_port: int
    upstream_base_path: str
    connect_timeout: float
    timeout: float
    upstream_ca: str | None
    upstream_client_certificate: str | None
    upstream_client_key: str | None
    public_url: str  # the route's resource URL, e.g. https://gateway:8443/api
    request_body: str = "buffer"  # "buffer" (layers see it) or "stream" (passed through)
    # method/URL-override headers or parameters this route lets through (default: refused)
    allow_override: frozenset[str] = frozenset()
    layer_options: Mapping[str, Any] = field(default_factory=dict)
    # Longest pause in the upstream's response body once its head is in.
    body_timeout: float = 300.0


@dataclass(frozen=True)
class Config:
    path: str | None
    server: ServerSettings
    tls: TLSSettings
    limits: LimitSettings
    admin: AdminSettings
    log_level: str
    layers: tuple[str, ...]  # enabled layer names in chain order
    layer_settings: Mapping[str, Any]
    routes: tuple[Route, ...]
    state: StateSettings | None = None  # [state]; None only in configs built by hand in tests
    tracing: TracingSettings = field(default_factory=TracingSettings)
    # SHA-256 over the INI text and every file or folder it names (certificates, consumers,
    # policies...): the same on every worker that loaded the same bytes. See config_digest.
    digest: str = ""
    headers: HeaderSettings = field(default_factory=HeaderSettings)
