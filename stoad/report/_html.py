"""The audit report as one self-contained HTML page: inline CSS and SVG, no script, no fetch.

Its Content-Security-Policy forbids every load and every script, so an event field crafted to
look like markup can neither run nor phone home (and every field is escaped anyway).
"""

from __future__ import annotations

import time
from html import escape
from typing import Any, Mapping, Sequence

from stoad.report._collect import AuditSummary
from stoad.report._svg import bars, legend, timeline

ALLOWED, DENIED, ERROR = "#2e7d32", "#c62828", "#ef6c00"
OUTCOME_SERIES = (("allowed", "allowed", ALLOWED), ("denied", "denied", DENIED),
                  ("error", "error", ERROR), ("incomplete", "incomplete (worker died)", "#757575"))
_TOP = 12

_CSS = """
body{font:14px/1.4 'DejaVu Sans',Arial,sans-serif;color:#222;margin:24px;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 8px}
.meta{color:#555;margin-bottom:16px}
.tiles{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:16px}
.tile{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:110px}
.tile b{display:block;font-size:22px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px;margin-bottom:16px}
.grid{display:grid;grid-template-columns:repeat(2,470px);gap:0 16px}
.legend{margin:4px 0 6px}.key{margin-right:14px}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
table{border-collapse:collapse;width:100%;font-size:12px}
td,th{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top}
.ok{color:#2e7d32;font-weight:bold}.failed{color:#c62828;font-weight:bold}
td:first-child{white-space:nowrap}.empty{color:#777;font-style:italic}.mono{font-family:'DejaVu Sans Mono',monospace}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _top(counts: Mapping[str, Any], key: Any = None) -> list[tuple[str, Any]]:
    items = list(counts.items())
    items.sort(key=lambda item: (-(key(item[1]) if key else item[1]), item[0]))
    return items[:_TOP]


def _card(title: str, body: str, chart_legend: str = "") -> str:
    return f"<section class='card'><h2>{_e(title)}</h2>{chart_legend}{body}</section>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], mono: Sequence[int] = ()
           ) -> str:
    if not rows:
        return "<p class='empty'>none in this period</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td class='mono'>{_e(c)}</td>" if i in mono else f"<td>{_e(c)}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _chains(summary: AuditSummary) -> str:
    rows = []
    for chain in summary.chains:
        result = ("<span class='ok'>OK</span>" if chain.ok
                  else f"<span class='failed'>FAILED</span>: {_e(chain.error)}")
        signatures = "checked" if chain.signatures_checked else "not checked (no --key)"
        rows.append(f"<tr><td class='mono'>{_e(chain.directory)}</td><td>{result}</td>"
                    f"<td>{chain.records}</td><td>{chain.files}</td><td>{chain.checkpoints}</td>"
                    f"<td>{chain.unsigned_tail}</td><td>{signatures}</td></tr>")
    head = ("<tr><th>chain</th><th>result</th><th>records</th><th>files</th>"
            "<th>signed checkpoints</th><th>after last checkpoint</th><th>signatures</th></tr>")
    verdict = ("<p class='ok' data-verdict='ok'>Every chain verified: hashes, sequence, links"
               " and checkpoints.</p>" if summary.verified else
               "<p class='failed' data-verdict='failed'>Verification FAILED: the trail was"
               " altered, truncated or is missing (see below).</p>")
    return verdict + f"<table>{head}{''.join(rows)}</table>"


def render_html(summary: AuditSummary, sources: Sequence[str]) -> str:
    """The whole page."""
    outcomes = summary.outcomes
    calls = summary.calls
    denied_share = f"{100.0 * outcomes['denied'] / calls:.1f}%" if calls else "-"
    window = (f"{_when(summary.since)} to {_when(summary.generated)}" if summary.since is not None
              else "everything in the trail")
    tiles = [("calls", calls), ("allowed", outcomes["allowed"]),
             ("denied", f"{outcomes['denied']} ({denied_share})"), ("errors", outcomes["error"]),
             *((("incomplete", outcomes["incomplete"]),) if outcomes["incomplete"] else ()),
             ("alerts", sum(summary.alerts.values())), ("consumers", len(summary.by_consumer)),
             ("agents", len(summary.by_agent)),
             ("chain", "verified" if summary.verified else "FAILED")]
    tile_html = "".join(f"<div class='tile'>{_e(name)}<b>{_e(value)}</b></div>"
                        for name, value in tiles)
    bucket = summary.bucket_seconds
    bucket_text = (f"{bucket // 86400} d" if bucket >= 86400 else f"{bucket // 3600} h"
                   if bucket >= 3600 else f"{bucket // 60} min")
    consumers = _top(summary.by_consumer, lambda c: sum(c.values()))
    agents = _top(summary.by_agent, lambda c: sum(c.values()))
    cards = [
        _card("Denials by layer", bars("layers", [(k, {"n": v}) for k, v in
                                                  _top(summary.denials_by_layer)],
                                       (("n", "denials", "#1565c0"),))),
        _card("Top denied tools", bars("denied-tools", [(k, {"n": v}) for k, v in
                                                        _top(summary.denied_tools)],
                                       (("n", "denied calls", "#ad1457"),))),
        _card("Calls by consumer", bars("consumers", consumers, OUTCOME_SERIES),
              legend(OUTCOME_SERIES)),
        _card("Calls by agent", bars("agents", agents, OUTCOME_SERIES), legend(OUTCOME_SERIES)),
        _card("Guardrail triggers by detector",
              bars("guardrails", [(k, {"n": v}) for k, v in _top(summary.guardrails)],
                   (("n", "matches", "#6a1b9a"),))),
        _card("Alerts by kind", bars("alerts", [(k, {"n": v}) for k, v in _top(summary.alerts)],
                                     (("n", "alerts", "#00838f"),))),
    ]
    denials = _table(
        ("time", "consumer", "agent", "request", "denied by", "status", "reason", "request id",
         "trace id"),
        [(_when(d["time"]), d["consumer"], d["agent"], d["target"], d["denied_by"],
          d["status"], d["reason"], d["request_id"], d["trace_id"])
         for d in summary.latest_denials], mono=(7, 8))
    alerts = _table(
        ("time", "alert", "severity", "consumer", "agent", "tool", "details"),
        [(_when(a["time"]), a["alert"], a["severity"], a["consumer"], a["agent"], a["tool"],
          ", ".join(f"{k}={v}" for k, v in sorted(a["details"].items())))
         for a in summary.latest_alerts])
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        "<title>stoad audit report</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>stoad audit report</h1>"
        f"<div class='meta'>Generated {_e(_when(summary.generated))} from "
        f"{_e(', '.join(sources))}; period: {_e(window)}; events "
        f"{_e(_when(summary.first))} to {_e(_when(summary.last))}.</div>"
        f"<div class='tiles'>{tile_html}</div>"
        + _card(f"Calls and denials over time (per {bucket_text})",
                timeline("timeline", summary.timeline, bucket, OUTCOME_SERIES),
                legend(OUTCOME_SERIES))
        + f"<div class='grid'>{''.join(cards)}</div>"
        + _card("Chain verification", _chains(summary))
        + _card("Latest denials", denials)
        + _card("Latest alerts", alerts)
        + "</body></html>\n")
