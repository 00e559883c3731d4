"""Reads audit chains once, verifying them, and counts what the report shows.

A call is counted once: from its C{completion} record (forwarded calls, whose C{decision} record
came first) or its single C{request} record. Everything here is plain data; C{stoad.report._html}
turns it into the page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from stoad.audit._chain import ChainReader, chain_directories
from stoad.audit._event import parse_rfc3339_ms

OUTCOMES = ("allowed", "denied", "error", "incomplete")
CALL_TYPES = ("tool_call", "http_request")
_BUCKETS = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
_MAX_BUCKETS = 48
_MIN_BUCKETS = 12
_LATEST = 25


@dataclass(frozen=True)
class ChainStatus:
    """The verification result of one worker's chain (the whole chain, not only the window)."""

    directory: str
    ok: bool
    records: int
    files: int
    checkpoints: int
    unsigned_tail: int
    signatures_checked: bool
    error: str | None


@dataclass
class AuditSummary:
    """What the report shows, counted over the events inside the window."""

    generated: float
    since: float | None  # oldest timestamp included, or None for everything
    first: float | None = None
    last: float | None = None
    outcomes: Counter[str] = field(default_factory=Counter)
    timeline: dict[int, Counter[str]] = field(default_factory=dict)
    bucket_seconds: int = 3600
    denials_by_layer: Counter[str] = field(default_factory=Counter)
    by_consumer: dict[str, Counter[str]] = field(default_factory=dict)
    by_agent: dict[str, Counter[str]] = field(default_factory=dict)
    denied_tools: Counter[str] = field(default_factory=Counter)
    tool_calls: Counter[str] = field(default_factory=Counter)
    guardrails: Counter[str] = field(default_factory=Counter)
    guardrail_actions: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    alert_severities: Counter[str] = field(default_factory=Counter)
    latest_alerts: list[dict[str, Any]] = field(default_factory=list)
    latest_denials: list[dict[str, Any]] = field(default_factory=list)
    chains: list[ChainStatus] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return sum(self.outcomes.values())

    @property
    def verified(self) -> bool:
        return bool(self.chains) and all(chain.ok for chain in self.chains)


def chains_of(paths: Iterable[str]) -> list[str]:
    """Every worker chain under the given audit directories (ValueError if a path has none)."""
    found: list[str] = []
    for path in paths:
        found.extend(chain_directories(path))
    return found


def summarize(paths: Iterable[str], key: Ed25519PublicKey | list[Ed25519PublicKey] | None,
              now: float, since_seconds: float | None = None,
              allow_unsigned_tail: bool = False) -> AuditSummary:
    """
    Read and verify every chain under C{paths} (as C{stoad audit verify} does, in one pass);
    count the events newer than the window.
    """
    oldest = now - since_seconds if since_seconds is not None else None
    summary = AuditSummary(generated=now, since=oldest)
    times: list[tuple[float, str]] = []
    for directory in chains_of(paths):
        reader = ChainReader(directory, key, allow_unsigned_tail=allow_unsigned_tail)
        reader.signed_points()  # first, as verify does: a chain cut by retention is anchored on them
        # What a completion lacks (the request line, the trace) is on its decision, earlier in
        # the same chain; kept only until the completion comes.
        decisions: dict[str, dict[str, Any]] = {}
        for record in reader.records():
            try:
                when = parse_rfc3339_ms(record["timestamp"])
            except (KeyError, TypeError, ValueError):
                continue
            if record.get("record_type") == "decision":
                decisions[str(record.get("event_id"))] = {
                    k: record.get(k) for k in ("method", "path", "trace_id")}
            decision = (decisions.pop(str(record.get("decision_event_id")), None)
                        if record.get("record_type") == "completion" else None)
            if oldest is not None and when < oldest:
                continue
            _count(summary, record, when, times, decision)
        if reader.report.ok:
            # The same checks as `stoad audit verify`, on the records just read (one pass).
            reader._check_checkpoints()
        report = reader.report
        summary.chains.append(ChainStatus(
            directory=directory, ok=report.ok, records=report.records, files=report.files,
            checkpoints=report.checkpoints, unsigned_tail=report.unsigned_tail,
            signatures_checked=bool(key),
            error=report.errors[0] if report.errors else None))
    _bucket(summary, times)
    summary.latest_alerts.sort(key=lambda a: a["time"], reverse=True)
    summary.latest_denials.sort(key=lambda d: d["time"], reverse=True)
    del summary.latest_alerts[_LATEST:]
    del summary.latest_denials[_LATEST:]
    return summary


def _text(value: Any, default: str = "-") -> str:
    return str(value) if value not in (None, "") else default


def _count(summary: AuditSummary, record: dict[str, Any], when: float,
           times: list[tuple[float, str]], decision: dict[str, Any] | None) -> None:
    event_type = record.get("event_type")
    if event_type != "alert" and event_type not in CALL_TYPES:
        return  # stoad's records about itself (key rotation, retention)
    summary.first = when if summary.first is None else min(summary.first, when)
    summary.last = when if summary.last is None else max(summary.last, when)
    _count_guardrails(summary, record)
    if event_type == "alert":
        kind = _text(record.get("alert"))
        summary.alerts[kind] += 1
        summary.alert_severities[_text(record.get("severity"))] += 1
        summary.latest_alerts.append({
            "time": when, "alert": kind, "severity": _text(record.get("severity")),
            "consumer": _text(record.get("consumer_id")), "agent": _text(record.get("agent_id")),
            "tool": _text(record.get("tool_name")), "details": record.get("details") or {}})
        return
    if record.get("record_type") == "decision":
        return  # the call is counted from its completion
    details = decision if decision is not None else record
    outcome = record.get("outcome")
    outcome = outcome if outcome in OUTCOMES else "error"
    summary.outcomes[outcome] += 1
    times.append((when, outcome))
    consumer = _text(record.get("consumer_id"), "(no identity)")
    agent = _text(record.get("agent_id"), "(no identity)")
    summary.by_consumer.setdefault(consumer, Counter())[outcome] += 1
    summary.by_agent.setdefault(agent, Counter())[outcome] += 1
    tool = record.get("tool_name")
    if tool:
        summary.tool_calls[str(tool)] += 1
    if outcome == "denied":
        layer = _text(record.get("denied_by"), "unknown")
        summary.denials_by_layer[layer] += 1
        if tool:
            summary.denied_tools[str(tool)] += 1
        summary.latest_denials.append({
            "time": when, "consumer": consumer, "agent": agent,
            "target": f"{_text(details.get('method'), '')} {_text(details.get('path'), '')}"
            .strip() + (f" tool={tool}" if tool else ""),
            "denied_by": layer, "status": record.get("status"),
            "reason": _text(record.get("reason")), "request_id": _text(record.get("request_id")),
            "trace_id": _text(details.get("trace_id"))})


def _count_guardrails(summary: AuditSummary, record: dict[str, Any]) -> None:
    # Request-side triggers are on the decision (or single record), response-side ones on the
    # completion: each trigger is on exactly one record.
    for trigger in record.get("guardrail_triggers") or ():
        if isinstance(trigger, dict):
            detector = _text(trigger.get("detector"))
            count = trigger.get("count")
            summary.guardrails[detector] += count if isinstance(count, int) and count > 0 else 1
            summary.guardrail_actions[(detector, _text(trigger.get("direction")),
                                       _text(trigger.get("action")))] += 1


def _bucket(summary: AuditSummary, times: list[tuple[float, str]]) -> None:
    if not times or summary.first is None or summary.last is None:
        return
    # With a window, the chart spans the window; without one, the events themselves.
    if summary.since is not None:
        start, end = summary.since, max(summary.generated, summary.last)
    else:
        start, end = summary.first, summary.last
    span = end - start
    size = next((b for b in _BUCKETS if span / b <= _MAX_BUCKETS),
                max(_BUCKETS[-1], int(span // _MAX_BUCKETS) + 1))
    summary.bucket_seconds = size
    last = int(end // size) * size
    # At least _MIN_BUCKETS columns, so that a short trail is not one bar across the chart.
    first = min(int(start // size) * size, last - (_MIN_BUCKETS - 1) * size)
    summary.timeline = {t: Counter() for t in range(first, last + size, size)}
    for when, outcome in times:
        bucket = int(when // size) * size
        summary.timeline.setdefault(bucket, Counter())[outcome] += 1
