"""Bar charts as inline SVG, drawn in Python so the report page needs no script and no fetch.

Every bar carries C{data-series}, C{data-label} and C{data-value}, and a C{<title>} tooltip.
"""

from __future__ import annotations

import time
from html import escape
from typing import Mapping, Sequence

FONT = "font-family='DejaVu Sans, Arial, sans-serif' font-size='11'"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _short(text: str, most: int = 26) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def legend(series: Sequence[tuple[str, str, str]]) -> str:
    """An HTML legend: (key, label, colour) per series."""
    items = "".join(
        f"<span class='key'><i style='background:{colour}'></i>{_e(label)}</span>"
        for _, label, colour in series)
    return f"<div class='legend'>{items}</div>"


def timeline(chart: str, buckets: Mapping[int, Mapping[str, int]], bucket_seconds: int,
             series: Sequence[tuple[str, str, str]], width: int = 900, height: int = 240) -> str:
    """Stacked columns over time, one per bucket, one segment per series."""
    left, right, top, bottom = 44, 10, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    times = sorted(buckets)
    peak = max((sum(buckets[t].get(key, 0) for key, _, _ in series) for t in times), default=0)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' data-chart='{_e(chart)}' width='{width}' "
             f"height='{height}' viewBox='0 0 {width} {height}' role='img' {FONT}>"]
    scale = plot_h / peak if peak else 0.0
    for value in sorted({0, peak // 2, peak}) if peak else (0,):
        y = top + plot_h - value * scale
        parts.append(f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' "
                     "stroke='#ddd'/>")
        parts.append(f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' fill='#555'>"
                     f"{value}</text>")
    if times:
        slot = plot_w / len(times)
        bar_w = max(slot * 0.8, 1.0)
        fmt = "%m-%d %H:%M" if bucket_seconds < 86400 else "%Y-%m-%d"
        for index, moment in enumerate(times):
            x = left + index * slot + (slot - bar_w) / 2
            y = top + plot_h
            label = time.strftime(fmt, time.gmtime(moment))
            for key, name, colour in series:
                value = buckets[moment].get(key, 0)
                if not value:
                    continue
                h = value * scale
                y -= h
                parts.append(
                    f"<rect class='bar' x='{x:.2f}' y='{y:.2f}' width='{bar_w:.2f}' "
                    f"height='{h:.2f}' fill='{colour}' data-series='{_e(key)}' "
                    f"data-label='{_e(label)}' data-value='{value}'>"
                    f"<title>{_e(label)} UTC: {value} {_e(name)}</title></rect>")
        last = len(times) - 1
        for index in sorted({0, last // 2, last}):
            x = left + index * slot + slot / 2
            anchor = "start" if index == 0 and last else "end" if index == last and last else \
                "middle"
            x = left if anchor == "start" else width - right if anchor == "end" else x
            label = time.strftime(fmt, time.gmtime(times[index]))
            parts.append(f"<text x='{x:.1f}' y='{height - 12}' text-anchor='{anchor}' "
                         f"fill='#555'>{_e(label)}</text>")
    parts.append(f"<line x1='{left}' x2='{width - right}' y1='{top + plot_h}' "
                 f"y2='{top + plot_h}' stroke='#888'/></svg>")
    return "".join(parts)


def bars(chart: str, rows: Sequence[tuple[str, Mapping[str, int]]],
         series: Sequence[tuple[str, str, str]], width: int = 440) -> str:
    """Horizontal stacked bars, one row per label, largest first as given."""
    if not rows:
        return "<p class='empty'>none in this period</p>"
    label_w, value_w, row_h, top = 170, 40, 22, 6
    plot_w = width - label_w - value_w
    height = top * 2 + row_h * len(rows)
    peak = max(sum(values.get(key, 0) for key, _, _ in series) for _, values in rows) or 1
    scale = plot_w / peak
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' data-chart='{_e(chart)}' width='{width}' "
             f"height='{height}' viewBox='0 0 {width} {height}' role='img' {FONT}>"]
    for index, (label, values) in enumerate(rows):
        y = top + index * row_h
        parts.append(f"<text x='{label_w - 6}' y='{y + 15}' text-anchor='end' fill='#222'>"
                     f"<title>{_e(label)}</title>{_e(_short(label))}</text>")
        x = float(label_w)
        total = 0
        for key, name, colour in series:
            value = values.get(key, 0)
            if not value:
                continue
            w = value * scale
            parts.append(
                f"<rect class='bar' x='{x:.2f}' y='{y + 3}' width='{w:.2f}' height='{row_h - 6}' "
                f"fill='{colour}' data-series='{_e(key)}' data-label='{_e(label)}' "
                f"data-value='{value}'><title>{_e(label)}: {value} {_e(name)}</title></rect>")
            x += w
            total += value
        parts.append(f"<text x='{x + 4:.1f}' y='{y + 15}' fill='#333'>{total}</text>")
    parts.append("</svg>")
    return "".join(parts)
