"""The C{[state]} section: where signals shared by every worker and instance live (memory or Redis).

Parsed once into L{StateSettings}; L{check_sharing} refuses a per-process store that would divide them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

from stoad.config._reader import Problems, SectionReader

MEMORY = "memory"
REDIS = "redis"
CLOSED = "closed"
OPEN = "open"
# Each shared-state feature and the failure mode it gets when the store cannot answer.
FEATURES = ("rate_limits", "sessions", "token_reuse")
_DEFAULT_MODE = {"rate_limits": CLOSED, "sessions": CLOSED, "token_reuse": OPEN}
# Conservative on purpose: any mention of "usage" counts, since a miss would divide limits silently.
_USAGE_REF = re.compile(r"\busage\b")


@dataclass(frozen=True)
class RedisAddress:
    """Where the Redis server is and how to reach it (rediss:// is TLS, optionally mutual)."""

    host: str
    port: int
    db: int
    tls: bool
    username: str | None = None
    password: str | None = None
    ca: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None


@dataclass(frozen=True)
class StateSettings:
    """
    @ivar backend: C{memory} (per process) or C{redis} (shared by every worker and instance).
    @ivar failure_modes: feature name -> C{closed} (refuse with 503) or C{open} (carry on).
    @ivar instances: gateways declared to share the load (more than one needs a shared store).
    """

    backend: str = MEMORY
    redis: RedisAddress | None = None
    key_prefix: str = "stoad:"
    connect_timeout: float = 2.0
    command_timeout: float = 0.5
    session_ttl: float = 3600.0
    token_reuse_ttl: float = 3600.0
    failure_modes: Mapping[str, str] = field(default_factory=lambda: dict(_DEFAULT_MODE))
    instances: int = 1
    per_worker_state_do_not_use: bool = False

    def fails_closed(self, feature: str) -> bool:
        return self.failure_modes.get(feature, CLOSED) == CLOSED


def parse_redis_url(raw: str) -> RedisAddress:
    """C{redis://[user:password@]host[:port][/db]} or C{rediss://...}; raises L{ValueError}."""
    parts = urlsplit(raw)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError("must start with redis:// or rediss://")
    if not parts.hostname:
        raise ValueError("has no host")
    if parts.query or parts.fragment:
        raise ValueError("takes no query or fragment (use the [state] keys)")
    try:
        port = parts.port or 6379
    except ValueError:
        raise ValueError("has an invalid port") from None
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError("database must be a number, as in redis://host:6379/0")
    return RedisAddress(host=parts.hostname, port=port, db=int(path or 0),
                        tls=parts.scheme == "rediss",
                        username=unquote(parts.username) if parts.username else None,
                        password=unquote(parts.password) if parts.password else None)


def parse_state(reader: SectionReader) -> StateSettings:
    backend = reader.choice("backend", (MEMORY, REDIS), MEMORY)
    redis: RedisAddress | None = None
    if backend == REDIS:
        url = reader.string("url")
        try:
            redis = parse_redis_url(url) if url else None
        except ValueError as e:
            reader.problem("url", str(e))
        ca = reader.optional_path("ca")
        cert = reader.optional_path("client_certificate")
        key = reader.optional_path("client_key")
        if (cert is None) != (key is None):
            reader.problem("client_certificate", "client_certificate and client_key go together")
        if redis is not None:
            if not redis.tls and (ca or cert):
                reader.problem("url", "ca and client_certificate need a rediss:// URL")
            password = redis.password
            password_file = reader.optional_path("password_file")
            if password_file is not None:
                with open(password_file, encoding="utf-8") as f:
                    password = f.read().strip()
            redis = RedisAddress(redis.host, redis.port, redis.db, redis.tls, redis.username,
                                 password, ca, cert, key)
    else:
        for key in ("url", "ca", "client_certificate", "client_key", "password_file"):
            if reader.has(key):
                reader.problem(key, "only used with backend = redis")
                reader.string(key)
    prefix = reader.string("key_prefix", "stoad:")
    if not prefix or any(c.isspace() for c in prefix):
        reader.problem("key_prefix", "must be non-empty, without spaces")
    modes = {feature: reader.choice(f"{feature}_on_failure", (CLOSED, OPEN), default)
             for feature, default in _DEFAULT_MODE.items()}
    settings = StateSettings(
        backend=backend,
        redis=redis,
        key_prefix=prefix,
        connect_timeout=reader.duration("connect_timeout", 2.0, minimum=0.01, maximum=60.0),
        command_timeout=reader.duration("command_timeout", 0.5, minimum=0.001, maximum=30.0),
        session_ttl=reader.duration("session_ttl", 3600.0, minimum=1.0),
        token_reuse_ttl=reader.duration("token_reuse_ttl", 3600.0, minimum=1.0),
        failure_modes=modes,
        instances=reader.integer("instances", 1, minimum=1, maximum=1000),
        per_worker_state_do_not_use=reader.boolean("per_worker_state_do_not_use", False),
    )
    reader.finish()
    return settings


def policies_read_usage(directory: str) -> bool:
    """Whether any non-test Rego file under C{directory} mentions C{usage} (C{input.usage})."""
    for root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if not name.endswith(".rego") or name.endswith("_test.rego"):
                continue
            try:
                with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                    if _USAGE_REF.search(f.read()):
                        return True
            except OSError:
                continue
    return False


def shared_features(layers: tuple[str, ...], layer_settings: Mapping[str, Any],
                    routes: tuple[Any, ...]) -> list[str]:
    """The enabled features that are only right when every process sees the same state."""
    found = []
    policy = layer_settings.get("policy")
    if "policy" in layers and policy is not None and policies_read_usage(policy.directory):
        found.append("usage counters (policies read input.usage)")
    if "mcp" in layers and any(getattr(r.layer_options.get("mcp"), "enabled", False)
                               for r in routes):
        found.append("MCP session binding")
    if "auth" in layers:
        found.append("token-reuse alerts")
    return found


def check_sharing(settings: StateSettings, workers: int, features: list[str],
                  problems: Problems) -> None:
    """A per-process store with several processes would silently divide every shared signal."""
    if settings.backend != MEMORY or settings.per_worker_state_do_not_use or not features:
        return
    processes = []
    if workers > 1:
        processes.append(f"[server] workers = {workers}")
    if settings.instances > 1:
        processes.append(f"[state] instances = {settings.instances}")
    if not processes:
        return
    problems.add("state", "backend", (
        f"memory keeps state in each worker process, but {' and '.join(processes)} and "
        f"{', '.join(features)} need one view across them (a limit of 40 calls a minute would "
        "allow 40 per process; a session or token known to one process is unknown to the "
        "others): set backend = redis, or run one worker and one instance"))
