"""Parse an INI document into a L{Config}, reporting every problem at once."""

from __future__ import annotations

import configparser
import dataclasses
import hashlib
import ipaddress
import os
from typing import Any, Iterable
from urllib.parse import urlsplit

from stoad.config._layers import CHAIN_ORDER, settings_parser
from stoad.config._model import (
    AdminSettings,
    Config,
    HeaderSettings,
    LimitSettings,
    ListenAddress,
    Route,
    ServerSettings,
    TLSSettings,
)
from stoad.config._reader import ConfigError, Problems, SectionReader
from stoad.config._sources import SectionSource
from stoad.proxy.headers import OVERRIDE_HEADERS, OVERRIDE_PARAMETERS
from stoad.tracing._settings import parse_tracing

CORE_SECTIONS = ("server", "tls", "limits", "admin", "log", "chain", "state", "tracing",
                 "headers")
ROUTE_PREFIX = "route:"
_NO_DEFAULTS = "\x00no-defaults"


def config_from_string(text: str, path: str | None = None, base_dir: str | None = None,
                       state_dir: str | None = None) -> Config:
    """
    Parse configuration text. Relative paths are taken from C{base_dir} (default: the folder
    of C{path}, else the current one); C{state_dir}, when given, overrides C{[server] state_dir}
    (systemd passes its StateDirectory this way). Raises L{ConfigError} listing every problem.
    """
    problems = Problems()
    parser = configparser.ConfigParser(
        strict=True, interpolation=None, default_section=_NO_DEFAULTS, empty_lines_in_values=False
    )
    try:
        parser.read_string(text, source=path or "<string>")
    except configparser.DuplicateSectionError as e:
        raise ConfigError([f"[{e.section}]: section appears twice (line {e.lineno})"]) from None
    except configparser.DuplicateOptionError as e:
        raise ConfigError([f"[{e.section}] {e.option}: key appears twice (line {e.lineno})"]) from None
    except configparser.Error as e:
        first_line = str(e).splitlines()[0]
        raise ConfigError([f"[?]: not a valid INI file: {first_line}"]) from None
    if base_dir is None:
        base_dir = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
    sections = {name: dict(parser[name]) for name in parser.sections()}
    if state_dir is not None:
        sections.setdefault("server", {})["state_dir"] = os.path.abspath(state_dir)
    config = _parse(sections, problems, base_dir, path)
    return dataclasses.replace(config, digest=config_digest(text, problems.files))


def config_digest(text: str, files: Iterable[str]) -> str:
    """
    SHA-256 over the INI text and the bytes of every file (and every file under every folder)
    its keys name, so a changed certificate, consumers file or policy changes the hash too.
    An unreadable file counts as its error text: the hash still says "not what was loaded".
    """
    digest = hashlib.sha256(b"stoad-config-v1\0" + text.encode("utf-8"))
    for root in sorted(set(files)):
        paths = [root]
        if os.path.isdir(root):
            paths = sorted(os.path.join(folder, name) for folder, dirs, names in os.walk(root)
                           for name in names if not name.startswith("."))
        for path in paths:
            digest.update(b"\0" + path.encode("utf-8", "surrogateescape") + b"\0")
            try:
                with open(path, "rb") as f:
                    digest.update(hashlib.sha256(f.read()).digest())
            except OSError as e:
                digest.update(f"unreadable: {e.strerror}".encode())
    return digest.hexdigest()[:16]


def config_from_file(path: str, state_dir: str | None = None) -> Config:
    """Read and parse a configuration file; a missing or unreadable file is a L{ConfigError}."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError([f"[file] {path}: cannot read: {e.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"[file] {path}: not UTF-8 text"]) from None
    return config_from_string(text, path, state_dir=state_dir)


def _reader(sections: dict[str, dict[str, str]], name: str, problems: Problems, base_dir: str,
            required: bool = True) -> SectionReader:
    if name not in sections and required:
        problems.add(name, None, "required section is missing")
    return SectionReader(name, sections.get(name, {}), problems, base_dir)


def parse_listen(raw: str) -> ListenAddress:
    host, sep, port = raw.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"expected HOST:PORT, got {raw!r}")
    host = host.strip("[]")
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError(f"port out of range: {number}")
    return ListenAddress(host, number)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse(sections: dict[str, dict[str, str]], problems: Problems, base_dir: str,
           path: str | None) -> Config:
    server_r = _reader(sections, "server", problems, base_dir)
    listen = server_r._typed("listen", None, parse_listen, ListenAddress("127.0.0.1", 0)) \
        if server_r.has("listen") else ListenAddress("127.0.0.1", 8443)
    if not server_r.has("listen"):
        server_r._used.add("listen")
    public_url = server_r.string("public_url", f"https://localhost:{listen.port}").rstrip("/")
    if urlsplit(public_url).scheme != "https":
        server_r.problem("public_url", "must be an https:// URL")
    server = ServerSettings(
        listen=listen,
        public_url=public_url,
        workers=server_r.integer("workers", 1, minimum=1, maximum=64),
        step_timeout=server_r.duration("step_timeout", 5.0, minimum=0.001),
        drain_timeout=server_r.duration("drain_timeout", 10.0, minimum=0.0),
        state_dir=server_r.path("state_dir", "/var/lib/stoad", must_exist=False),
    )
    server_r.finish()

    tls_r = _reader(sections, "tls", problems, base_dir)
    client_auth = tls_r.choice("client_auth", ("required", "insecure_optional_do_not_use"))
    tls = TLSSettings(
        certificate=tls_r.path("certificate"),
        private_key=tls_r.path("private_key"),
        client_ca=tls_r.path("client_ca"),
        client_auth=client_auth,
        min_version=tls_r.choice("min_version", ("1.2", "1.3"), "1.2"),
        crl_files=tuple(
            _check_file(tls_r, "crl_files", p) for p in tls_r.words("crl_files", ())
        ),
        verify_depth=tls_r.integer("verify_depth", 4, minimum=1, maximum=16),
        allowed_clients=_allowed_clients(tls_r),
        session_tickets=tls_r.boolean("session_tickets", True),
        ticket_key_rotation=tls_r.duration("ticket_key_rotation", 3600.0, minimum=60.0,
                                           maximum=86400.0),
    )
    if not tls.crl_files and not tls_r.boolean("no_revocation_check_do_not_use", False):
        tls_r.problem("crl_files", "no CRL configured: revoked client certificates would be "
                      "accepted; name the CRL files or set no_revocation_check_do_not_use = yes")
    tls_r.finish()

    limits_r = _reader(sections, "limits", problems, base_dir, required=False)
    limits = LimitSettings(
        max_header_bytes=limits_r.size("max_header_bytes", 16384, minimum=1024),
        max_headers=limits_r.integer("max_headers", 100, minimum=1, maximum=10000),
        max_request_line=limits_r.size("max_request_line", 8192, minimum=256),
        max_body_bytes=limits_r.size("max_body_bytes", 10 * 1024 * 1024, minimum=0),
        idle_timeout=limits_r.duration("idle_timeout", 60.0, minimum=0.1),
        read_timeout=limits_r.duration("read_timeout", 15.0, minimum=0.1),
        max_connections=limits_r.integer("max_connections", 1024, minimum=1),
        handshake_timeout=limits_r.duration("handshake_timeout", 10.0, minimum=0.1),
        body_window=limits_r.duration("body_window", 10.0, minimum=0.1),
        body_min_rate=limits_r.size("body_min_rate", 1024, minimum=0),
        write_timeout=limits_r.duration("write_timeout", 60.0, minimum=0.1),
        exchange_timeout=limits_r.duration("exchange_timeout", 3600.0, minimum=0.1),
        max_connections_per_source=limits_r.integer("max_connections_per_source", 128,
                                                    minimum=1),
        max_buffered_bytes=limits_r.size("max_buffered_bytes", 256 * 1024 * 1024,
                                         minimum=1024 * 1024),
    )
    limits_r.finish()

    admin_r = _reader(sections, "admin", problems, base_dir, required=False)
    admin_listen = admin_r.string("listen", "127.0.0.1:9443")
    if not admin_listen.startswith("unix:"):
        try:
            address = parse_listen(admin_listen)
            if not _is_loopback(address.host) and not admin_r.boolean(
                "expose_admin_off_loopback_do_not_use", False
            ):
                admin_r.problem("listen", "the admin listener must be on loopback or a unix socket")
        except ValueError as e:
            admin_r.problem("listen", str(e))
    elif admin_r.has("expose_admin_off_loopback_do_not_use"):
        admin_r.boolean("expose_admin_off_loopback_do_not_use")
    admin = AdminSettings(listen=admin_listen)
    admin_r.finish()

    headers_r = _reader(sections, "headers", problems, base_dir, required=False)
    headers = HeaderSettings(
        extra_identity_headers=_header_names(headers_r, "extra_identity_headers", prefixes=True),
        pass_identity_headers=_header_names(headers_r, "pass_identity_headers_do_not_use"),
    )
    for name in headers.pass_identity_headers:
        if name.startswith("x-stoad-"):
            headers_r.problem("pass_identity_headers_do_not_use",
                              f"{name}: stoad's own identity headers are never taken from clients")
    headers_r.finish()

    log_r = _reader(sections, "log", problems, base_dir, required=False)
    log_level = log_r.choice("level", ("debug", "info", "warn", "error"), "info")
    log_r.finish()

    tracing = parse_tracing(_reader(sections, "tracing", problems, base_dir, required=False))

    chain_r = _reader(sections, "chain", problems, base_dir)
    enabled = chain_r.words("layers")
    for name in enabled:
        if name not in CHAIN_ORDER:
            chain_r.problem("layers", f"unknown layer {name!r} (known: {', '.join(CHAIN_ORDER)})")
    if not enabled and not chain_r.boolean("no_security_layers_do_not_use", False):
        chain_r.problem("layers", "no layer enabled: name at least one")
    elif chain_r.has("no_security_layers_do_not_use"):
        chain_r.boolean("no_security_layers_do_not_use")
    chain_r.finish()
    layer_names = tuple(name for name in CHAIN_ORDER if name in enabled)
    plugins = {name: settings_parser(name) for name in layer_names}

    source = SectionSource(sections, problems, base_dir, server.state_dir)
    layer_settings: dict[str, Any] = {}
    for name, plugin in plugins.items():
        layer_settings[name] = plugin.parse_settings(source)

    routes = []
    for section in sections:
        if section.startswith(ROUTE_PREFIX):
            route = _parse_route(section, sections, problems, base_dir, server.public_url, plugins)
            if route is not None:
                routes.append(route)
    if not routes:
        problems.add("route:NAME", None, "no route configured: every request would be refused")
    prefixes: dict[str, str] = {}
    for route in routes:
        if route.prefix in prefixes:
            problems.add(f"route:{route.name}", "prefix",
                         f"{route.prefix!r} is also the prefix of [route:{prefixes[route.prefix]}]")
        prefixes[route.prefix] = route.name

    from stoad.state._settings import check_sharing, parse_state, shared_features

    state = parse_state(_reader(sections, "state", problems, base_dir, required=False))
    check_sharing(state, server.workers, shared_features(layer_names, layer_settings, tuple(routes)),
                  problems)

    for section in sections:
        if section in CORE_SECTIONS or section.startswith(ROUTE_PREFIX) or section in source.claimed:
            continue
        problems.add(section, None, "unknown section (or one of a layer not enabled in [chain])")

    problems.raise_if_any()
    return Config(
        path=path,
        server=server,
        tls=tls,
        limits=limits,
        admin=admin,
        log_level=log_level,
        layers=layer_names,
        layer_settings=layer_settings,
        routes=tuple(sorted(routes, key=lambda r: len(r.prefix), reverse=True)),
        state=state,
        tracing=tracing,
        headers=headers,
    )


_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~")


def _header_names(reader: SectionReader, key: str, prefixes: bool = False) -> tuple[str, ...]:
    """Header field names (RFC 9110 tokens), lower-cased; with C{prefixes}, C{NAME*} too."""
    names = tuple(name.lower() for name in reader.words(key, ()))
    for name in names:
        bare = name[:-1] if prefixes and name.endswith("*") else name
        if not bare or not set(bare) <= _TOKEN_CHARS or "*" in bare:
            reader.problem(key, f"not a header name{' or NAME*' if prefixes else ''}: {name!r}")
    return names


def _check_file(reader: SectionReader, key: str, raw: str) -> str:
    full = os.path.normpath(os.path.join(reader.base_dir, raw))
    if not os.path.isfile(full):
        reader.problem(key, f"no such file: {full}")
    reader.problems.files.add(full)
    return full


def _allowed_clients(reader: SectionReader) -> tuple[str, ...]:
    entries = reader.words("allowed_clients", ())
    for entry in entries:
        kind, sep, value = entry.partition(":")
        if not sep or kind not in ("cn", "dns", "uri") or not value:
            reader.problem("allowed_clients", f"expected cn:NAME, dns:NAME or uri:URI, got {entry!r}")
    return entries


def _override_names(reader: SectionReader) -> tuple[str, ...]:
    names = tuple(name.lower() for name in reader.words("allow_override", ()))
    for name in names:
        if name not in OVERRIDE_HEADERS | OVERRIDE_PARAMETERS:
            reader.problem("allow_override", f"not a method or URL override header or parameter: "
                           f"{name!r}")
    return names


def _parse_route(section: str, sections: dict[str, dict[str, str]], problems: Problems,
                 base_dir: str, public_base: str, plugins: dict[str, Any]) -> Route | None:
    name = section[len(ROUTE_PREFIX):]
    r = SectionReader(section, sections[section], problems, base_dir)
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        r.problem(None, "route names use letters, digits, '-', '_' and '.' only")
    prefix = r.string("prefix")
    if prefix and (not prefix.startswith("/") or any(c in prefix for c in "?#%\\ ") or "//" in prefix
                   or "/./" in prefix + "/" or "/../" in prefix + "/"):
        r.problem("prefix", f"must be a normalised absolute path, got {prefix!r}")
    upstream = r.string("upstream")
    parts = urlsplit(upstream)
    scheme, host, port = parts.scheme, parts.hostname or "", None
    try:
        port = parts.port
    except ValueError:
        r.problem("upstream", f"bad port in {upstream!r}")
    if upstream and (scheme not in ("http", "https") or not host or parts.query or parts.fragment
                     or parts.username or parts.password):
        r.problem("upstream", f"expected http(s)://HOST[:PORT][/PATH], got {upstream!r}")
    port = port or (443 if scheme == "https" else 80)
    plaintext_ok = r.boolean("allow_plaintext_upstream_off_loopback_do_not_use", False)
    if scheme == "http" and host and not _is_loopback(host) and not plaintext_ok:
        r.problem("upstream", "plain http to a host that is not loopback sends traffic unencrypted "
                  "off this machine; use https or set "
                  "allow_plaintext_upstream_off_loopback_do_not_use = yes")
    upstream_ca = r.optional_path("upstream_ca")
    cert = r.optional_path("upstream_client_certificate")
    key = r.optional_path("upstream_client_key")
    if (cert is None) != (key is None):
        r.problem("upstream_client_certificate", "upstream_client_certificate and "
                  "upstream_client_key go together")
    if scheme == "http" and (upstream_ca or cert):
        r.problem("upstream_ca", "TLS settings given for a plain http upstream")
    public_url = r.string("public_url", public_base + prefix.rstrip("/")) if prefix else ""
    layer_options: dict[str, Any] = {}
    for layer_name, plugin in plugins.items():
        if plugin.parse_route is not None:
            layer_options[layer_name] = plugin.parse_route(r)
    route = Route(
        name=name,
        prefix=prefix,
        upstream=upstream,
        upstream_scheme=scheme,
        upstream_host=host,
        upstream_port=port,
        upstream_base_path=parts.path.rstrip("/"),
        connect_timeout=r.duration("connect_timeout", 5.0, minimum=0.01),
        timeout=r.duration("timeout", 30.0, minimum=0.01),
        body_timeout=r.duration("body_timeout", 300.0, minimum=0.01),
        upstream_ca=upstream_ca,
        upstream_client_certificate=cert,
        upstream_client_key=key,
        public_url=public_url,
        request_body=r.choice("request_body", ("buffer", "stream"), "buffer"),
        allow_override=frozenset(_override_names(r)),
        layer_options=layer_options,
    )
    r.finish()
    return route
