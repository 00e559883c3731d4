"""`stoad audit report`: what it counts from a real signed trail, that the page is one
self-contained file that cannot run or load anything, and that a broken chain is reported."""

from __future__ import annotations

import os
import time
from html.parser import HTMLParser
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from stoad.audit._chain import load_public_key
from stoad.report import summarize
from tests.support.report import HOSTILE_TOOL, RESPONSE_DENIAL_TRACE, Trail, write_trail
from tests.test_audit_chain import run_cli


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _totals(rows: dict[str, Any]) -> dict[str, int]:
    return {name: sum(counter.values()) for name, counter in rows.items()}


class ReportTestCase(SynchronousTestCase):
    trail: Trail

    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        self.now = time.time()  # the CLI's --since counts back from the real clock
        self.trail = write_trail(self.base, self.now)
        self.public_key = self.trail.key + ".pub"

    def report(self, *extra: str) -> tuple[int, str, str, str]:
        out = os.path.join(self.base, "report.html")
        code, stdout, stderr = run_cli("audit", "report", self.trail.directory, "--html", out,
                                       *extra)
        page = ""
        if os.path.exists(out):
            with open(out, encoding="utf-8") as f:
                page = f.read()
        return code, stdout, stderr, page


class SummaryTests(ReportTestCase):
    def test_counts_match_the_trail_within_the_window(self) -> None:
        """Calls by outcome, consumer and agent, denials by layer, denied tools, guardrail
        matches and alerts are counted from the events newer than --since, and only those."""
        summary = summarize([self.trail.directory], load_public_key(self.public_key), self.now,
                            7 * 86400)
        self.assertEqual(dict(summary.outcomes), self.trail.outcomes)
        self.assertEqual(_totals(summary.by_consumer), self.trail.consumers)
        self.assertEqual(_totals(summary.by_agent), self.trail.agents)
        self.assertEqual(dict(summary.denials_by_layer), self.trail.denials_by_layer)
        self.assertEqual(dict(summary.denied_tools), self.trail.denied_tools)
        self.assertEqual(dict(summary.guardrails), self.trail.guardrails)
        self.assertEqual(dict(summary.alerts), self.trail.alerts)
        self.assertNotIn("old-consumer", summary.by_consumer)
        self.assertEqual(sum(sum(c.values()) for c in summary.timeline.values()), summary.calls)
        self.assertTrue(summary.verified)
        self.assertTrue(summary.chains[0].signatures_checked)

    def test_without_since_everything_is_counted(self) -> None:
        """No --since: the old event is in the report too."""
        summary = summarize([self.trail.directory], None, self.now)
        self.assertIn("old-consumer", summary.by_consumer)
        self.assertFalse(summary.chains[0].signatures_checked)


class PageTests(ReportTestCase):
    def test_page_is_self_contained_and_cannot_run_or_load_anything(self) -> None:
        """The page has no script, no element that loads a URL, a CSP that forbids both, and
        the hostile tool name appears only as escaped text."""
        code, stdout, _, page = self.report("--since", "7d", "--key", self.public_key)
        self.assertEqual(code, 0, stdout)
        self.assertIn("every chain verified", stdout)
        parser = _Elements()
        parser.feed(page)
        tags = [tag for tag, _ in parser.tags]
        self.assertNotIn("script", tags)
        self.assertNotIn("img", tags)
        for tag, attrs in parser.tags:
            for name in ("src", "href", "srcset", "action", "data"):
                self.assertNotIn(name, attrs, f"<{tag} {name}=...>")
        csp = [a.get("content") for t, a in parser.tags
               if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
        self.assertEqual(len(csp), 1)
        self.assertIn("default-src 'none'", csp[0] or "")
        self.assertNotIn(HOSTILE_TOOL, page)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page)

    def test_every_chart_has_a_bar_per_row_with_its_value(self) -> None:
        """Each chart is an inline SVG whose bars carry the numbers the trail holds."""
        _, _, _, page = self.report("--since", "7d")
        parser = _Elements()
        parser.feed(page)
        charts = {a["data-chart"] for t, a in parser.tags if t == "svg" and a.get("data-chart")}
        self.assertEqual(charts, {"timeline", "layers", "denied-tools", "consumers", "agents",
                                  "guardrails", "alerts"})
        layer_bars = {a["data-label"]: int(a["data-value"] or 0) for t, a in parser.tags
                      if t == "rect" and a.get("data-label") in self.trail.denials_by_layer}
        self.assertEqual(layer_bars, self.trail.denials_by_layer)

    def test_broken_chain_is_reported_on_the_page_and_by_the_exit_code(self) -> None:
        """An edited record: the page is still written, says verification FAILED, and the
        command exits 1."""
        log = os.path.join(self.trail.directory, "worker-0")
        name = sorted(n for n in os.listdir(log) if n.endswith(".jsonl"))[0]
        path = os.path.join(log, name)
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines(True)
        self.assertIn('"worker":0', lines[2])
        lines[2] = lines[2].replace('"worker":0', '"worker":1')
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(lines)
        code, stdout, _, page = self.report("--key", self.public_key)
        self.assertEqual(code, 1)
        self.assertIn("CHAIN VERIFICATION FAILED", stdout)
        self.assertIn("data-verdict='failed'", page)
        self.assertIn("FAILED", page)

    def test_missing_trail_is_a_clear_error(self) -> None:
        """A path with no audit log: exit 2, one line naming the path, no page."""
        out = os.path.join(self.base, "none.html")
        code, _, stderr = run_cli("audit", "report", os.path.join(self.base, "keys"),
                                  "--html", out)
        self.assertEqual(code, 2)
        self.assertIn("no audit log files", stderr)
        self.assertFalse(os.path.exists(out))


class RecordShapeTests(ReportTestCase):
    def test_forwarded_calls_are_counted_once_with_their_decisions_facts(self) -> None:
        """A forwarded call (decision, then completion) is one call; a completion that refused
        the response shows its decision's request line and trace id; an incomplete completion
        (the worker died) is its own outcome."""
        summary = summarize([self.trail.directory], None, self.now, 7 * 86400)
        self.assertEqual(summary.calls, sum(self.trail.outcomes.values()))
        self.assertEqual(summary.outcomes["incomplete"], 1)
        refused = [d for d in summary.latest_denials if d["trace_id"] == RESPONSE_DENIAL_TRACE]
        self.assertEqual(len(refused), 1)
        self.assertEqual(refused[0]["target"], "POST /mcp tool=echo")
        self.assertEqual(refused[0]["denied_by"], "guardrails")
