"""The audit layer's configuration: the C{[audit]} and C{[audit.kafka]} sections."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stoad.runtime.layers import SectionSource

FAIL_CLOSED = "fail_closed"
ALERT_AND_CONTINUE = "alert_and_continue_do_not_use"
_PROTOCOLS = ("ssl", "sasl_ssl", "sasl_plaintext", "plaintext")
_MECHANISMS = ("plain", "scram-sha-256", "scram-sha-512")


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: tuple[str, ...]
    topic: str
    alerts_topic: str | None
    client_id: str
    security_protocol: str
    ssl_ca: str | None
    ssl_certificate: str | None
    ssl_key: str | None
    sasl_mechanism: str | None
    sasl_username: str | None
    sasl_password_file: str | None
    delivery_timeout: float
    max_in_flight: int
    commit_interval: float
    checkpoints_topic: str = "stoad.audit.checkpoints"

    def producer_config(self) -> dict[str, Any]:
        """The librdkafka settings (the SASL password is read from its file here)."""
        config: dict[str, Any] = {
            "bootstrap.servers": ",".join(self.bootstrap_servers),
            "client.id": self.client_id,
            "security.protocol": self.security_protocol.upper(),
            "message.timeout.ms": int(self.delivery_timeout * 1000),
        }
        if self.ssl_ca:
            config["ssl.ca.location"] = self.ssl_ca
        if self.ssl_certificate:
            config["ssl.certificate.location"] = self.ssl_certificate
        if self.ssl_key:
            config["ssl.key.location"] = self.ssl_key
        if self.sasl_mechanism:
            config["sasl.mechanisms"] = self.sasl_mechanism.upper()
            config["sasl.username"] = self.sasl_username
            if self.sasl_password_file:
                with open(self.sasl_password_file, encoding="utf-8") as f:
                    config["sasl.password"] = f.read().strip()
        return config


@dataclass(frozen=True)
class AuditSettings:
    directory: str
    signing_key: str
    fsync_every: bool
    fsync_interval: float
    fsync_batch: int
    rotate_size: int
    rotate_interval: float
    checkpoint_interval: float
    max_pending: int
    backlog_alert: int
    on_write_failure: str
    kafka: KafkaSettings | None
    durable_wait: float = 0.1
    parameters_key: str | None = None
    public_keys: tuple[str, ...] = ()
    free_space_floor: int = 0
    retain_age: float = 0.0
    retain_size: int = 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_settings(source: SectionSource) -> AuditSettings:
    r = source.reader("audit", required=True)
    if r is None:
        from stoad.config._reader import SectionReader

        r = SectionReader("audit", {}, source.problems, source.base_dir)
    fsync = r.choice("fsync", ("batch", "every"), "batch")
    settings = AuditSettings(
        directory=r.path("directory", os.path.join(source.state_dir, "audit"), must_exist=False),
        signing_key=r.path("signing_key"),
        fsync_every=fsync == "every",
        fsync_interval=r.duration("fsync_interval", 0.05, minimum=0.001, maximum=10.0),
        fsync_batch=r.integer("fsync_batch", 512, minimum=1, maximum=100_000),
        rotate_size=r.size("rotate_size", 64 * 1024 * 1024, minimum=4096),
        rotate_interval=r.duration("rotate_interval", 86400.0, minimum=0.0),
        checkpoint_interval=r.duration("checkpoint_interval", 60.0, minimum=0.1),
        max_pending=r.integer("max_pending", 100_000, minimum=100),
        backlog_alert=r.integer("backlog_alert", 10_000, minimum=1),
        on_write_failure=r.choice("on_write_failure", (FAIL_CLOSED, ALERT_AND_CONTINUE), FAIL_CLOSED),
        kafka=_parse_kafka(source),
        durable_wait=r.duration("durable_wait", 0.1, minimum=0.001, maximum=5.0),
        parameters_key=r.optional_path("parameters_key"),
        public_keys=_public_keys(r),
        free_space_floor=r.size("free_space_floor", 256 * 1024 * 1024, minimum=0),
        retain_age=r.duration("retain_age", 0.0, minimum=0.0),
        retain_size=r.size("retain_size", 0, minimum=0),
    )
    if settings.signing_key:
        from stoad.audit._chain import key_id, load_private_key, load_public_key

        try:
            signing = key_id(load_private_key(settings.signing_key).public_key())
        except (OSError, ValueError) as e:
            r.problem("signing_key", str(e))
        else:
            listed = set()
            for path in settings.public_keys:
                try:
                    listed.add(key_id(load_public_key(path)))
                except (OSError, ValueError) as e:
                    r.problem("public_keys", f"{path}: {e}")
            if settings.public_keys and signing not in listed:
                r.problem("public_keys", "the signing key's public key is not listed: verifiers "
                          "would reject its checkpoints")
    if settings.parameters_key:
        from stoad.audit._event import ParametersKey

        try:
            with open(settings.parameters_key, "rb") as f:
                ParametersKey(f.read().strip())
        except (OSError, ValueError) as e:
            r.problem("parameters_key", str(e))
    if (settings.retain_age or settings.retain_size) and settings.kafka is None:
        r.problem("retain_age", "retention removes only files shipped to Kafka: it needs an "
                  "[audit.kafka] section")
    r.finish()
    return settings


def _public_keys(r: Any) -> tuple[str, ...]:
    paths = []
    for word in r.words("public_keys", ()):
        path = word if os.path.isabs(word) else os.path.join(r.base_dir, word)
        if not os.path.isfile(path):
            r.problem("public_keys", f"{path}: no such file")
        paths.append(path)
    return tuple(paths)


def _parse_kafka(source: SectionSource) -> KafkaSettings | None:
    r = source.reader("audit.kafka")
    if r is None:
        return None
    servers = r.words("bootstrap_servers")
    protocol = r.choice("security_protocol", _PROTOCOLS)
    plaintext_ok = r.boolean("allow_plaintext_off_loopback_do_not_use", False)
    for server in servers:
        host, sep, port = server.rpartition(":")
        if not sep or not port.isdigit() or not host:
            r.problem("bootstrap_servers", f"expected HOST:PORT, got {server!r}")
        elif protocol in ("plaintext", "sasl_plaintext") and not _is_loopback(host) \
                and not plaintext_ok:
            r.problem("security_protocol", f"{protocol} to {host} sends the audit trail "
                      "unencrypted off this machine; use ssl or sasl_ssl, or set "
                      "allow_plaintext_off_loopback_do_not_use = yes")
    mechanism: str | None = r.choice("sasl_mechanism", _MECHANISMS, None)
    username = r.optional_string("sasl_username")
    password_file = r.optional_path("sasl_password_file")
    if protocol.startswith("sasl_") and not (mechanism and username and password_file):
        r.problem("sasl_mechanism", f"{protocol} needs sasl_mechanism, sasl_username and "
                  "sasl_password_file")
    if not protocol.startswith("sasl_") and (mechanism or username or password_file):
        r.problem("sasl_mechanism", f"SASL settings given but security_protocol is {protocol}")
    cert = r.optional_path("ssl_certificate")
    key = r.optional_path("ssl_key")
    if (cert is None) != (key is None):
        r.problem("ssl_certificate", "ssl_certificate and ssl_key go together")
    ca = r.optional_path("ssl_ca")
    if protocol in ("plaintext", "sasl_plaintext") and (ca or cert):
        r.problem("ssl_ca", f"TLS settings given but security_protocol is {protocol}")
    settings = KafkaSettings(
        bootstrap_servers=servers,
        topic=r.string("topic", "stoad.audit"),
        alerts_topic=r.optional_string("alerts_topic"),
        client_id=r.string("client_id", "stoad-audit"),
        security_protocol=protocol,
        ssl_ca=ca,
        ssl_certificate=cert,
        ssl_key=key,
        sasl_mechanism=mechanism,
        sasl_username=username,
        sasl_password_file=password_file,
        delivery_timeout=r.duration("delivery_timeout", 300.0, minimum=1.0),
        max_in_flight=r.integer("max_in_flight", 10_000, minimum=1, maximum=1_000_000),
        commit_interval=r.duration("commit_interval", 0.2, minimum=0.001),
        checkpoints_topic="",
    )
    settings = replace(settings, checkpoints_topic=r.string("checkpoints_topic",
                                                            settings.topic + ".checkpoints"))
    r.finish()
    return settings
