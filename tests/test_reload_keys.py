"""Every configuration key, changed on reload: it takes effect in the new runtime, or the reload
is refused with a message naming it (and then nothing changes)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Callable

from prometheus_client import CollectorRegistry
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from stoad.config import Config, _reader, config_from_file
from stoad.daemon.metrics import Metrics
from stoad.daemon.worker import WorkerRuntime
from stoad.dev.devpki import write_dev_pki
from stoad.dev.devtoken import DEV_ISSUER, write_dev_issuer
from stoad.runtime.snapshot import Runtime, RuntimeBuildError, layer_named

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESTART = "restart"
DROP = "(sections to drop)"
ADD = "(sections to add)"
KAFKA = {"audit.kafka": {"bootstrap_servers": "127.0.0.1:9092",
                         "security_protocol": "plaintext"}}
ALTERNATIVE_POLICY = """package stoa.alternative

decision := {"allow": false, "reason": "the alternative query"}
"""

CONSUMERS = """
[consumer:agent-1]
client_id = agent-1
consumer_id = team-a
agent_id = agent-1
tier = gold
routes = *
certificate_cn = agent-1
certificate_subject = CN=agent-1
"""


def base_sections(d: dict[str, str]) -> dict[str, dict[str, str]]:
    """A configuration that makes the reader ask for every key it knows (all layers on)."""
    return {
        "server": {"listen": "127.0.0.1:0", "public_url": "https://gw.test", "workers": "1",
                   "step_timeout": "5s", "drain_timeout": "10s", "state_dir": d["state"]},
        "tls": {"certificate": d["server"], "private_key": d["server-key"], "client_ca": d["ca"],
                "client_auth": "required", "crl_files": d["crl"], "min_version": "1.2",
                "verify_depth": "4", "allowed_clients": "", "session_tickets": "yes",
                "ticket_key_rotation": "1h"},
        "limits": {"max_header_bytes": "16k", "max_headers": "100", "max_request_line": "8k",
                   "max_body_bytes": "10m", "idle_timeout": "60s", "read_timeout": "15s",
                   "max_connections": "1024"},
        "admin": {"listen": "127.0.0.1:9443"},
        "log": {"level": "info"},
        "headers": {"extra_identity_headers": "x-team-id"},
        "chain": {"layers": "audit auth mcp policy guardrails"},
        "auth": {"issuer": DEV_ISSUER, "jwks_file": d["issuer-jwks"], "consumers": d["consumers"],
                 "algorithms": "ES256 RS256"},
        "policy": {"directory": d["policies"]},
        "guardrails": {"scan_limit": "1m", "secrets": "block", "pii.response": "redact",
                       "max_response_bytes.gold": "2m"},
        "mcp": {"max_sessions": "1000"},
        "audit": {"signing_key": d["audit-key"], "directory": d["audit"]},
        "route:api": {"prefix": "/api", "upstream": "http://127.0.0.1:8080",
                      "scopes.get": "stoa:read", "guardrails.openapi": d["openapi"],
                      "guardrails.injection": "alert"},
        "route:tools": {"prefix": "/mcp", "upstream": "http://127.0.0.1:8081", "mcp": "yes"},
    }


def cases(d: dict[str, str]) -> dict[tuple[str, str], Any]:
    """(section, key) -> the changed value (or several keys that change together), or RESTART."""
    return {
        ("server", "listen"): ("127.0.0.1:1", RESTART),
        ("server", "workers"): ({"workers": "2", ADD: {"state": {"per_worker_state_do_not_use": "yes"}}},
                              RESTART),
        ("server", "state_dir"): (d["state2"], RESTART),
        ("server", "public_url"): "https://other.test",
        ("server", "step_timeout"): "2s",
        ("server", "drain_timeout"): "3s",
        ("admin", "listen"): ("127.0.0.1:9444", RESTART),
        ("chain", "layers"): ({"layers": "audit auth policy guardrails",
                               DROP: "mcp route:tools"}, RESTART),
        ("log", "level"): "debug",
        ("headers", "extra_identity_headers"): "x-tenant x-org-*",
        ("headers", "pass_identity_headers_do_not_use"): "x-real-ip",
        ("tls", "certificate"): d["server-copy"],
        ("tls", "private_key"): {"private_key": d["server-key-copy"]},
        ("tls", "client_ca"): d["ca-copy"],
        ("tls", "client_auth"): "insecure_optional_do_not_use",
        ("tls", "crl_files"): d["crl-copy"],
        ("tls", "min_version"): "1.3",
        ("tls", "verify_depth"): "5",
        ("tls", "allowed_clients"): "cn:agent-1",
        ("tls", "session_tickets"): "no",
        ("tls", "ticket_key_rotation"): "2h",
        ("tls", "no_revocation_check_do_not_use"): {"crl_files": "",
                                                    "no_revocation_check_do_not_use": "yes"},
        ("limits", "max_header_bytes"): "8k",
        ("limits", "max_headers"): "50",
        ("limits", "max_request_line"): "4k",
        ("limits", "max_body_bytes"): "1m",
        ("limits", "idle_timeout"): "30s",
        ("limits", "read_timeout"): "5s",
        ("limits", "max_connections"): "10",
        ("limits", "max_connections_per_source"): "64",
        ("limits", "handshake_timeout"): "5s",
        ("limits", "body_window"): "5s",
        ("limits", "body_min_rate"): "2k",
        ("limits", "write_timeout"): "30s",
        ("limits", "exchange_timeout"): "30m",
        ("limits", "max_buffered_bytes"): "128m",
        ("auth", "issuer"): {"issuer": "https://other-issuer.test"},
        ("auth", "authorization_servers"): "https://as.test",
        ("auth", "metadata_url"): "https://as.test/.well-known/openid-configuration",
        ("auth", "jwks_file"): d["issuer-jwks-copy"],
        ("auth", "algorithms"): "ES256",
        ("auth", "rsa_default_algorithm"): "RS512",
        ("auth", "extra_scopes"): "stoa:audit",
        ("auth", "consumers"): d["consumers-copy"],
        ("auth", "introspection"): {"introspection": "client_secret_basic", "client_id": "gw",
                                    "client_secret_file": d["secret"],
                                    "introspection_endpoint": "https://as.test/introspect"},
        ("auth", "introspection_endpoint"): {"introspection": "tls_client_auth", "client_id": "gw",
                                             "introspection_endpoint": "https://as.test/i",
                                             "client_certificate": d["agent-1"],
                                             "client_key": d["agent-1-key"]},
        ("auth", "client_id"): {"introspection": "tls_client_auth", "client_id": "gw2",
                                "introspection_endpoint": "https://as.test/i",
                                "client_certificate": d["agent-1"], "client_key": d["agent-1-key"]},
        ("auth", "client_secret_file"): {"introspection": "client_secret_basic", "client_id": "gw",
                                         "client_secret_file": d["secret"]},
        ("auth", "client_certificate"): {"introspection": "tls_client_auth", "client_id": "gw",
                                         "introspection_endpoint": "https://as.test/i",
                                         "client_certificate": d["agent-2"],
                                         "client_key": d["agent-2-key"]},
        ("auth", "client_key"): {"introspection": "tls_client_auth", "client_id": "gw",
                                 "introspection_endpoint": "https://as.test/i",
                                 "client_certificate": d["agent-2"], "client_key": d["agent-2-key"]},
        ("auth", "leeway"): "10s",
        ("auth", "max_token_lifetime"): "5m",
        ("auth", "require_binding"): "no",
        ("auth", "max_token_bytes"): "4k",
        ("auth", "authorization_server_ca"): d["ca"],
        ("auth", "fetch_timeout"): "1s",
        ("auth", "fetch_max_bytes"): "64k",
        ("auth", "jwks_default_ttl"): "100s",
        ("auth", "jwks_min_ttl"): "10s",
        ("auth", "jwks_max_ttl"): "2h",
        ("auth", "jwks_stale_limit"): "10m",
        ("auth", "jwks_refetch_interval"): "10s",
        ("auth", "token_cache_size"): "5",
        ("auth", "token_cache_ttl"): "10s",
        ("auth", "introspection_cache_ttl"): "5s",
        ("auth", "introspection_negative_ttl"): "1s",
        ("auth", "reuse_tracker_size"): "5",
        ("consumer:NAME", "client_id"): "agent-x",
        ("consumer:NAME", "consumer_id"): "team-b",
        ("consumer:NAME", "agent_id"): "agent-y",
        ("consumer:NAME", "tier"): "free",
        ("consumer:NAME", "routes"): "api",
        ("consumer:NAME", "certificate_cn"): "agent-2",
        ("consumer:NAME", "certificate_subject"): "CN=agent-2",
        ("policy", "directory"): d["policies-copy"],
        ("policy", "query"): "data.stoa.alternative.decision",
        ("policy", "headers"): "content-type",
        ("policy", "watch"): "yes",
        ("policy", "watch_interval"): {"watch": "yes", "watch_interval": "5s"},
        ("policy", "usage_max_consumers"): "50",
        ("policy", "usage_max_tools"): "8",
        ("guardrails", "scan_limit"): "64k",
        ("guardrails", "oversize"): "alert",
        ("guardrails", "max_response_bytes"): "1m",
        ("guardrails", "allow_values"): "x@example.com",
        ("guardrails", "allow_patterns"): "^test-[0-9]+$",
        ("guardrails", "pii_pattern_files"): d["pii-patterns"],
        ("guardrails", "secret_pattern_files"): d["secret-patterns"],
        ("guardrails", "phrase_files"): d["phrases"],
        ("guardrails", "secrets"): "alert",
        ("guardrails", "pii.response"): "block",
        ("guardrails", "stream_window"): "512",
        ("guardrails", "injection.tool_results"): "block",
        ("guardrails", "injection.learned"): "enforce",
        ("guardrails", "phone_regions"): "US GB DE",
        ("guardrails", "max_response_bytes.gold"): "3m",
        ("route:NAME", "guardrails.injection"): "block",
        ("mcp", "max_sessions"): "2000",
        ("mcp", "state_file"): os.path.join(d["state"], "other-tools.json"),
        ("audit", "directory"): (d["audit2"], RESTART),
        ("audit", "signing_key"): (d["audit-key-copy"], RESTART),
        ("audit", "fsync"): ("every", RESTART),
        ("audit", "fsync_interval"): ("10ms", RESTART),
        ("audit", "fsync_batch"): ("10", RESTART),
        ("audit", "rotate_size"): ("1m", RESTART),
        ("audit", "rotate_interval"): ("1h", RESTART),
        ("audit", "checkpoint_interval"): ("10s", RESTART),
        ("audit", "max_pending"): ("1000", RESTART),
        ("audit", "backlog_alert"): ("100", RESTART),
        ("audit", "on_write_failure"): ("alert_and_continue_do_not_use", RESTART),
        ("audit", "durable_wait"): ("50ms", RESTART),
        ("audit", "parameters_key"): (d["parameters-key"], RESTART),
        ("audit", "public_keys"): (d["audit-key-pub"], RESTART),
        ("audit", "free_space_floor"): ("1m", RESTART),
        ("audit", "retain_age"): ({"retain_age": "168h", ADD: KAFKA}, RESTART),
        ("audit", "retain_size"): ({"retain_size": "1g", ADD: KAFKA}, RESTART),
        ("state", "backend"): ({"backend": "redis", "url": "redis://127.0.0.1:6390/0"}, RESTART),
        ("state", "key_prefix"): ("other:", RESTART),
        ("state", "connect_timeout"): ("1s", RESTART),
        ("state", "command_timeout"): ("1s", RESTART),
        ("state", "session_ttl"): ("2h", RESTART),
        ("state", "token_reuse_ttl"): ("2h", RESTART),
        ("state", "sessions_on_failure"): ("open", RESTART),
        ("state", "rate_limits_on_failure"): ("open", RESTART),
        ("state", "token_reuse_on_failure"): ("closed", RESTART),
        ("state", "instances"): ({"instances": "2", "per_worker_state_do_not_use": "yes"}, RESTART),
        ("state", "per_worker_state_do_not_use"): ("yes", RESTART),
        ("tracing", "enabled"): ({"enabled": "yes", "endpoint": "http://127.0.0.1:4318/v1/traces"},
                                 RESTART),
        ("tracing", "endpoint"): ("http://127.0.0.1:4319/v1/traces", RESTART),
        ("tracing", "ca"): ({"endpoint": "https://127.0.0.1:4318/v1/traces", "ca": d["ca"]},
                            RESTART),
        ("tracing", "service_name"): ("stoad-other", RESTART),
        ("tracing", "sampler"): ("always_off", RESTART),
        ("tracing", "ratio"): ("0.5", RESTART),
        ("tracing", "continue_client_trace"): ("no", RESTART),
        ("tracing", "layer_spans"): ("no", RESTART),
        ("tracing", "export_timeout"): ("2s", RESTART),
        ("tracing", "schedule_delay"): ("2s", RESTART),
        ("tracing", "max_queue_size"): ({"max_queue_size": "1000", "max_export_batch_size": "100"},
                                        RESTART),
        ("tracing", "max_export_batch_size"): ("50", RESTART),
        ("route:NAME", "prefix"): "/api2",
        ("route:NAME", "upstream"): "http://127.0.0.1:9090",
        ("route:NAME", "public_url"): "https://gw.test/elsewhere",
        ("route:NAME", "connect_timeout"): "1s",
        ("route:NAME", "timeout"): "3s",
        ("route:NAME", "body_timeout"): "60s",
        ("route:NAME", "request_body"): "stream",
        ("route:NAME", "upstream_ca"): {"upstream": "https://127.0.0.1:9443",
                                        "upstream_ca": d["ca"]},
        ("route:NAME", "upstream_client_certificate"): {
            "upstream": "https://127.0.0.1:9443", "upstream_ca": d["ca"],
            "upstream_client_certificate": d["agent-1"], "upstream_client_key": d["agent-1-key"]},
        ("route:NAME", "upstream_client_key"): {
            "upstream": "https://127.0.0.1:9443", "upstream_ca": d["ca"],
            "upstream_client_certificate": d["agent-2"], "upstream_client_key": d["agent-2-key"]},
        ("route:NAME", "allow_plaintext_upstream_off_loopback_do_not_use"): {
            "upstream": "http://192.0.2.1:80",
            "allow_plaintext_upstream_off_loopback_do_not_use": "yes"},
        ("route:NAME", "audiences"): "https://aud.test",
        ("route:NAME", "allow_override"): "x-http-method-override",
        ("route:NAME", "scopes.get"): "stoa:write",
        ("route:NAME", "mcp"): "yes",
        ("route:NAME", "mcp.tool_scopes"): "search=stoa:read",
        ("route:NAME", "mcp.allowed_origins"): "https://app.test",
        ("route:NAME", "mcp.on_tool_change"): "alert",
        ("route:NAME", "mcp.max_message_size"): "64k",
        ("route:NAME", "policy.case_insensitive_paths"): "yes",
        ("route:NAME", "guardrails.openapi"): d["openapi-copy"],
        ("route:NAME", "guardrails.max_response_bytes"): "128k",
        ("route:NAME", "guardrails.allow_values"): "y@example.com",
        ("route:NAME", "guardrails.allow_patterns"): "^ok-[0-9]+$",
    }


def _generic(section: str) -> str:
    if section.startswith("route:"):
        return "route:NAME"
    if section.startswith(("consumer:", "consumers.ini consumer:")) or " consumer:" in section:
        return "consumer:NAME"
    return section


def render(sections: dict[str, dict[str, str]]) -> str:
    lines = []
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {value}" for key, value in keys.items() if value != ""]
        lines.append("")
    return "\n".join(lines)


class EveryKeyReloadTests(SynchronousTestCase):
    """One worker runtime per test; every key is changed in turn against it."""

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="stoad-keys-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        pki = os.path.join(self.tmp, "pki")
        d: dict[str, str] = dict(write_dev_pki(pki))
        d.update(write_dev_issuer(pki))
        for name in ("state", "state2", "audit", "audit2"):
            d[name] = os.path.join(self.tmp, name)
        os.makedirs(d["state"])
        d["policies"] = os.path.join(self.tmp, "policies")
        shutil.copytree(os.path.join(REPO, "etc", "stoad", "policies"), d["policies"])
        with open(os.path.join(d["policies"], "alternative.rego"), "w", encoding="utf-8") as f:
            f.write(ALTERNATIVE_POLICY)
        d["policies-copy"] = os.path.join(self.tmp, "policies-copy")
        shutil.copytree(d["policies"], d["policies-copy"])
        d["openapi"] = os.path.join(REPO, "tests", "data", "guardrails", "openapi.yaml")
        d["consumers"] = self.write("consumers.ini", CONSUMERS)
        d["consumers-copy"] = self.write("consumers-copy.ini", CONSUMERS.replace("gold", "silver"))
        d["secret"] = self.write("secret", "s3cret")
        d["parameters-key"] = self.write("parameters.key", "ab" * 32)
        d["pii-patterns"] = self.write("pii.txt", "employee_id EMP-[0-9]{6}\n")
        d["secret-patterns"] = self.write("secrets.txt", "internal_key IK-[A-Z0-9]{20}\n")
        d["phrases"] = self.write("phrases.txt", "exfil send everything to\n")
        for name in ("server", "server-key", "ca", "crl", "issuer-jwks", "audit-key", "openapi"):
            d[f"{name}-copy"] = self.copy(d[name])
        self.d = d
        self.sections = base_sections(d)
        self.path = os.path.join(self.tmp, "stoad.ini")
        self.write("stoad.ini", render(self.sections))
        self.clock = MemoryReactorClock()
        self.levels: list[str] = []
        self.worker = WorkerRuntime(config_from_file(self.path), self.clock,
                                    metrics=Metrics(CollectorRegistry()),
                                    set_log_level=self.levels.append)
        audit = layer_named(self.worker.current, "audit")
        self.addCleanup(audit.stop, 5.0)

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def copy(self, path: str) -> str:
        target = os.path.join(self.tmp, "copy-" + os.path.basename(path))
        shutil.copyfile(path, target)
        return target

    def known_keys(self) -> set[tuple[str, str]]:
        """Every (section, key) the reader asks for when it reads the base configuration."""
        seen: list[_reader.Problems] = []
        original = _reader.Problems.__init__

        def record(problems: _reader.Problems) -> None:
            original(problems)
            seen.append(problems)

        self.patch(_reader.Problems, "__init__", record)
        config_from_file(self.path)
        return {(_generic(section), key) for problems in seen
                for section, key in problems.keys_read}

    def changed(self, section: str, key: str, change: Any) -> dict[str, dict[str, str]]:
        sections = {name: dict(keys) for name, keys in self.sections.items()}
        values = dict(change) if isinstance(change, dict) else {key: change}
        for dropped in values.pop(DROP, "").split():
            del sections[dropped]
        for name, keys in values.pop(ADD, {}).items():
            sections[name] = dict(keys)
        if section == "consumer:NAME":
            text = CONSUMERS.replace(f"\n{key} = ", f"\n{key} = {values[key]}\n#")
            if f"\n{key} = " not in CONSUMERS:
                text = CONSUMERS + f"{key} = {values[key]}\n"
            sections["auth"]["consumers"] = self.write("consumers-changed.ini", text)
            return sections
        target = "route:api" if section == "route:NAME" else section
        if key.startswith("mcp.") and section == "route:NAME":
            target = "route:tools"
        sections.setdefault(target, {}).update(values)
        return sections

    def prepare(self, sections: dict[str, dict[str, str]]) -> Runtime:
        self.write("stoad.ini", render(sections))
        return self.worker.prepare(self.path)

    def test_the_walk_covers_every_key_the_reader_knows(self) -> None:
        """Every key the configuration reader asks for has a reload case below (a new key must
        be classified: reloads, or refused as restart-only)."""
        self.assertEqual(self.known_keys() - set(cases(self.d)), set())

    def test_every_key_reloads_or_is_refused_by_name(self) -> None:
        """For each key: a changed value either builds a new runtime whose part for that key
        was rebuilt from it, or the reload is refused naming the section and saying it needs a
        restart; a refused or merely prepared reload leaves the live runtime untouched."""
        live = self.worker.current
        failures = []
        for (section, key), change in sorted(cases(self.d).items()):
            restart = isinstance(change, tuple)
            value = change[0] if restart else change
            try:
                new = self.prepare(self.changed(section, key, value))
            except RuntimeBuildError as e:
                expected = f"[{section}]" if section != "audit" else "[audit]"
                if not (restart and expected in str(e) and "restart" in str(e)):
                    failures.append(f"{section} {key}: refused: {e}")
                continue
            finally:
                self.assertIs(self.worker.current, live)
            if restart:
                failures.append(f"{section} {key}: restart-only key was accepted")
            else:
                problem = self.took_effect(section, key, live, new)
                if problem:
                    failures.append(f"{section} {key}: {problem}")
            self.worker.abort()
        self.maxDiff = None
        self.assertEqual(failures, [])

    def took_effect(self, section: str, key: str, old: Runtime, new: Runtime) -> str | None:
        """Why the new runtime does not carry the change, or None."""
        parts: dict[str, Callable[[Config], object]] = {
            "server": lambda c: c.server, "limits": lambda c: c.limits, "log": lambda c: c.log_level,
            "tls": lambda c: c.tls, "route:NAME": lambda c: c.routes,
            "headers": lambda c: c.headers,
        }
        if section in parts:
            if parts[section](old.config) == parts[section](new.config):
                return "the configuration did not change"
            if section == "tls" and new.tls_context is old.tls_context:
                return "no new TLS context"
            if section == "route:NAME" and new.gateway.routes.routes == old.gateway.routes.routes:
                return "the route table was not rebuilt"
            if section == "headers" and new.gateway.identity_headers is old.gateway.identity_headers:
                return "no new identity-header policy"
            if section == "server" and new.gateway is old.gateway:
                return "no new gateway"
            return None
        layer = {"consumer:NAME": "auth"}.get(section, section)
        if old.config.layer_settings[layer] == new.config.layer_settings[layer]:
            return "the layer's settings did not change"
        if layer_named(new, layer) is layer_named(old, layer):
            return "the layer was not rebuilt"
        return None

    def test_commit_installs_everything_at_once(self) -> None:
        """After commit, new connections get the new limits, handshakes the new TLS context,
        requests the new gateway, and the log level is the new one."""
        sections = self.changed("limits", "max_headers", "50")
        sections["log"]["level"] = "warn"
        sections["tls"]["verify_depth"] = "6"
        new = self.prepare(sections)
        self.worker.commit()
        self.assertIs(self.worker.current, new)
        self.assertIs(self.worker.http_factory.gateway, new.gateway)
        self.assertEqual(self.worker.http_factory.limits.max_headers, 50)
        self.assertIs(self.worker.tls._context, new.tls_context)
        self.assertEqual(self.levels, ["warn"])
