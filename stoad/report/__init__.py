"""C{stoad audit report}: an audit trail as one self-contained HTML page of charts, with the
verification result of its chains."""

from __future__ import annotations

from stoad.report._collect import AuditSummary, ChainStatus, summarize
from stoad.report._html import render_html
from stoad.report.cli import add_report_command, run_report

__all__ = ["AuditSummary", "ChainStatus", "add_report_command", "render_html", "run_report",
           "summarize"]
