"""Builders for the audit layer's tests: request contexts, signing keys and audit settings."""

from __future__ import annotations

import os
import queue
from typing import Any, Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from twisted.internet.testing import MemoryReactorClock

from stoad.audit._settings import AuditSettings, KafkaSettings
from stoad.runtime.context import (
    GuardrailFindings,
    GuardrailTrigger,
    Identity,
    LayerDecision,
    McpCall,
    PeerCertificate,
    PolicyDecision,
    RequestContext,
)


def log_records(directory: str, key: str) -> list[dict[str, Any]]:
    """Every record of one chain, checked as it is read (the chain must verify)."""
    from stoad.audit._chain import ChainReader, load_private_key

    reader = ChainReader(directory, load_private_key(key).public_key())
    records = list(reader.records())
    assert reader.report.ok, reader.report.errors
    return records


def run_cli(*argv: str) -> tuple[int, str, str]:
    """Run `stoad audit ...` through the same argparse wiring stoad.cli uses."""
    import argparse
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from stoad.audit import cli as audit_cli

    parser = argparse.ArgumentParser(prog="stoad")
    audit_cli.add_subcommands(parser.add_subparsers(dest="command", required=True))
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        args = parser.parse_args(list(argv))
        code = int(args.func(args))
    return code, out.getvalue(), err.getvalue()


def write_key(directory: str, name: str = "audit.key") -> str:
    """A fresh Ed25519 signing key as PEM in C{directory}; returns its path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    key = Ed25519PrivateKey.generate()
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return path


def write_public_key(private_path: str) -> str:
    """Write the public half of the key at C{private_path} to C{private_path}.pub; returns it."""
    with open(private_path, "rb") as f:
        private = serialization.load_pem_private_key(f.read(), None)
    public = private_path + ".pub"
    with open(public, "wb") as f:
        f.write(private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return public


def settings(directory: str, key: str, kafka: KafkaSettings | None = None,
             **overrides: Any) -> AuditSettings:
    values: dict[str, Any] = dict(
        directory=directory, signing_key=key, fsync_every=False, fsync_interval=0.01,
        fsync_batch=64, rotate_size=64 * 1024 * 1024, rotate_interval=0.0,
        checkpoint_interval=60.0, max_pending=100_000, backlog_alert=10_000,
        on_write_failure="fail_closed", kafka=kafka,
    )
    values.update(overrides)
    return AuditSettings(**values)


def kafka_settings(bootstrap: str, topic: str, alerts_topic: str | None = None) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=(bootstrap,), topic=topic, alerts_topic=alerts_topic,
        client_id="stoad-audit-test", security_protocol="plaintext", ssl_ca=None,
        ssl_certificate=None, ssl_key=None, sasl_mechanism=None, sasl_username=None,
        sasl_password_file=None, delivery_timeout=120.0, max_in_flight=10_000,
        commit_interval=0.05,
    )


class RouteStub:
    """Only the route's name matters to the audit layer."""

    def __init__(self, name: str) -> None:
        self.name = name


def context(n: int = 0, *, body: bytes | None = b"", content_type: str | None = None,
            tool: str | None = "search", arguments: Any = None, consumer: str = "acme",
            started: float = 1_700_000_000.25, **fields: Any) -> RequestContext:
    """A finished request as the daemon would leave it after every layer ran."""
    ctx = RequestContext(
        request_id=f"req-{n}",
        started=started,
        client_ip="127.0.0.1",
        peer=PeerCertificate(b"der", "x5t-thumbprint", "CN=agent", "CN=ca", "agent", (), (), "01",
                             "2030-01-01T00:00:00Z"),
        method="POST",
        raw_path="/mcp",
        path="/mcp",
        query="",
        headers={"authorization": ["Bearer secret-token-value"]},
        body=body,
        body_size=len(body or b""),
        content_type=content_type,
        route=RouteStub("tools"),
        identity=Identity("client-1", "subject-1", consumer, "agent-7", "gold",
                          frozenset({"mcp"}), {}, "jwt", "tokenhash"),
        mcp=McpCall("tools/call", n, tool, arguments, session_id="sess-1") if tool else None,
        decisions=[LayerDecision("audit", "allow"), LayerDecision("auth", "allow")],
        guardrails=GuardrailFindings([GuardrailTrigger("email", "request", "redact", 2)]),
        policy=PolicyDecision("opa:allow", "v42", "allowed"),
        status=200,
        backend_status=200,
        bytes_in=len(body or b""),
        bytes_out=321,
        outcome="allowed",
        timings={"auth": 0.0012},
    )
    for name, value in fields.items():
        setattr(ctx, name, value)
    return ctx


class ThreadedClock(MemoryReactorClock):
    """
    A memory reactor whose C{callFromThread} queues the call for the test thread: the audit
    writer thread settles waiting requests through it. L{run_calls} runs what arrived,
    waiting (bounded) for at least one call when asked to.
    """

    def __init__(self) -> None:
        super().__init__()
        self.from_threads: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()

    def callFromThread(self, f: Callable[..., Any], *args: Any, **kw: Any) -> None:
        self.from_threads.put((f, args))

    def run_calls(self, wait: float = 0.0) -> int:
        """
        One turn of a reactor: the timed calls already due (C{callLater(0)}, as the audit layer
        uses to wake its writer once a turn), then the calls from other threads, then what those
        made due.
        """
        self.advance(0)
        ran = 0
        try:
            f, args = self.from_threads.get(timeout=wait) if wait else self.from_threads.get_nowait()
        except queue.Empty:
            return 0
        while True:
            f(*args)
            ran += 1
            try:
                f, args = self.from_threads.get_nowait()
            except queue.Empty:
                self.advance(0)
                return ran


_PAIR_FIELDS = ("event_id", "record_type", "decision_event_id", "timestamp", "seq", "prev_hash",
                "hash")


def requests_view(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """
    One dict per request, as tests that look at outcomes want it: a decision merged with its
    completion (the completion's outcome, status and sizes; the guardrail triggers of both),
    single records and alerts as they are. A decision still waiting for its completion is left
    out (the exchange has not finished).
    """
    completions = {r["decision_event_id"]: r for r in records
                   if r.get("record_type") == "completion"}
    view = []
    for record in records:
        kind = record.get("record_type")
        if kind == "completion":
            continue
        if kind == "decision":
            completion = completions.get(record["event_id"])
            if completion is None:
                continue
            merged = dict(record)
            merged.update((k, v) for k, v in completion.items() if k not in _PAIR_FIELDS)
            merged["guardrail_triggers"] = (record["guardrail_triggers"]
                                            + completion["guardrail_triggers"])
            view.append(merged)
        else:
            view.append(record)
    return view
