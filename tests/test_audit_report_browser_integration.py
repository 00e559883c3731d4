"""
The page `stoad audit report` writes, rendered by real headless Chromium (Debian's): every chart
drew, each bar is as long as its number says, the bars show the trail's numbers, and the
screenshot has the charts' colours painted in it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from html import unescape
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from tests.support.browser import dump_dom, screenshot, serve
from tests.support.report import write_trail

STOAD = os.path.join(os.path.dirname(sys.executable), "stoad")
CHARTS = {"timeline", "layers", "denied-tools", "consumers", "agents", "guardrails", "alerts"}

# A page beside the report that frames it and, once it has loaded, writes the rendered size of
# every SVG chart and bar into its own DOM for --dump-dom. The report itself runs no script.
PROBE = """<!DOCTYPE html><html><body>
<iframe id="report" src="report.html" style="width:1000px;height:3000px;border:0"></iframe>
<pre id="out">not measured</pre>
<script>
window.addEventListener("load", function () {
  var doc = document.getElementById("report").contentDocument;
  var charts = Array.prototype.map.call(doc.querySelectorAll("svg[data-chart]"), function (svg) {
    var box = svg.getBoundingClientRect();
    return {chart: svg.getAttribute("data-chart"), width: box.width, height: box.height,
            svg: svg instanceof doc.defaultView.SVGSVGElement};
  });
  var bars = Array.prototype.map.call(doc.querySelectorAll("svg [data-value]"), function (bar) {
    var box = bar.getBoundingClientRect();
    return {chart: bar.closest("svg").getAttribute("data-chart"),
            label: bar.getAttribute("data-label"), series: bar.getAttribute("data-series"),
            value: Number(bar.getAttribute("data-value")), width: box.width, height: box.height,
            svg: bar instanceof doc.defaultView.SVGRectElement};
  });
  document.getElementById("out").textContent = JSON.stringify({charts: charts, bars: bars});
});
</script></body></html>
"""

COLOURS = {"allowed": (0x2E, 0x7D, 0x32), "denied": (0xC6, 0x28, 0x28),
           "layers": (0x15, 0x65, 0xC0), "denied-tools": (0xAD, 0x14, 0x57),
           "guardrails": (0x6A, 0x1B, 0x9A), "alerts": (0x00, 0x83, 0x8F)}


class ReportInChromiumTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        self.trail = write_trail(self.base, time.time())
        self.site = os.path.join(self.base, "site")
        os.makedirs(self.site)
        result = subprocess.run(
            [STOAD, "audit", "report", self.trail.directory, "--since", "7d",
             "--key", self.trail.key + ".pub", "--html", os.path.join(self.site, "report.html")],
            capture_output=True, text=True, timeout=60, check=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(os.path.join(self.site, "probe.html"), "w", encoding="utf-8") as f:
            f.write(PROBE)

    def measure(self) -> dict[str, Any]:
        with serve(self.site) as origin:
            dom = dump_dom(origin + "/probe.html", self.base)
        match = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
        assert match is not None, dom[-2000:]
        text = unescape(match.group(1))
        self.assertNotEqual(text, "not measured", "the probe's load handler did not run")
        result: dict[str, Any] = json.loads(text)
        return result

    def test_every_chart_drew_with_bars_in_proportion_to_their_numbers(self) -> None:
        """In the browser every chart is a laid-out SVG; every bar has a size, within a chart
        size per unit is the same for every bar, and the bars add up to the trail's numbers."""
        measured = self.measure()
        drawn = {c["chart"]: c for c in measured["charts"]}
        self.assertEqual(set(drawn), CHARTS)
        for chart in drawn.values():
            self.assertTrue(chart["svg"] and chart["width"] > 100 and chart["height"] > 20, chart)
        for name in CHARTS:
            bars = [b for b in measured["bars"] if b["chart"] == name]
            self.assertTrue(bars, f"no bar drawn in {name}")
            # Columns grow up, rows grow right: the growing side must be value times one scale.
            side = "height" if name == "timeline" else "width"
            scales = [b[side] / b["value"] for b in bars]
            for bar, scale in zip(bars, scales, strict=True):
                self.assertTrue(bar["svg"], bar)
                self.assertGreater(bar["width"], 0, bar)
                self.assertGreater(bar["height"], 0, bar)
                self.assertLess(abs(scale - scales[0]), 0.02 * scales[0] + 0.05, (name, bar))

        def totals(chart: str) -> dict[str, int]:
            out: dict[str, int] = {}
            for bar in measured["bars"]:
                if bar["chart"] == chart:
                    out[bar["label"]] = out.get(bar["label"], 0) + bar["value"]
            return out

        self.assertEqual(totals("consumers"), self.trail.consumers)
        self.assertEqual(totals("agents"), self.trail.agents)
        self.assertEqual(totals("layers"), self.trail.denials_by_layer)
        self.assertEqual(totals("denied-tools"), self.trail.denied_tools)
        self.assertEqual(totals("guardrails"), self.trail.guardrails)
        self.assertEqual(totals("alerts"), self.trail.alerts)
        self.assertEqual(sum(totals("timeline").values()), sum(self.trail.outcomes.values()))

    def test_screenshot_has_every_chart_painted(self) -> None:
        """The screenshot holds each chart's bar colour over an area far larger than a legend
        swatch: the bars were painted, not only laid out."""
        from PIL import Image

        png = os.path.join(self.base, "report.png")
        with serve(self.site) as origin:
            screenshot(origin + "/report.html", png, self.base, (1000, 2200))
        with Image.open(png) as image:
            counts = {colour: 0 for colour in COLOURS.values()}
            for count, colour in image.convert("RGB").getcolors(maxcolors=1 << 20) or ():
                if colour in counts:
                    counts[colour] += count
        for name, colour in COLOURS.items():
            self.assertGreater(counts[colour], 600, f"{name} bars not painted: {counts[colour]} px")
