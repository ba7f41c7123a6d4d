"""Inline SVG charts for one workflow: no chart library, no network, no web fonts.

* The **duration histogram** stacks failed runs (red) on successful ones (blue) per bin and
  marks p50 and p95 with labelled lines, so "are the slow runs the failing ones?" is answered
  at a glance.
* The **time series** shows, per time bucket, runs (failed stacked on successful), the error
  rate and p95, over one shared, labelled UTC time axis.

Margins are computed from the longest tick label rather than fixed, so y-axis labels are never
clipped whatever the counts. Every number on screen is also in a ``<title>`` tooltip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from vaquero.analysis._axis import clock_label, duration_label, nice_ticks, time_ticks
from vaquero.analysis._result import WorkflowStats

__all__ = ["duration_histogram_svg", "timeseries_svg"]

_WIDTH = 560
_CHAR_PX = 6.6  # 11px system-ui digits are ~6.2px wide; a little slack
_OK = "hbar"
_FAILED = "hbar failed"


def duration_histogram_svg(workflow: WorkflowStats) -> str:
    """Runs per duration bin, failed stacked on successful, with p50/p95 markers."""
    bins = [_bin(item) for item in workflow.histogram]
    if not bins:
        return ""
    height = 200
    tallest = max(ok + bad for _, _, ok, bad in bins) or 1
    y_ticks = _count_ticks(tallest)
    pad_left = 14 + _CHAR_PX * max(len(f"{tick:,}") for tick in y_ticks)
    pad_top, pad_bottom, pad_right = 42, 38, 16
    plot_w = _WIDTH - pad_left - pad_right
    plot_h = height - pad_top - pad_bottom
    low, high = bins[0][0], bins[-1][1]
    single = high <= low
    span = (high - low) or 1.0

    def x_of(ms: float) -> float:
        return pad_left + (plot_w / 2 if single else plot_w * (ms - low) / span)

    def y_of(count: float) -> float:
        return pad_top + plot_h - plot_h * count / max(y_ticks[-1], 1)

    name = escape(workflow.name)
    parts = [_open_svg(height, f"Run durations of {name}", "histogram")]
    for tick in y_ticks:
        parts.extend(_grid_line(y_of(tick), pad_left, pad_right, f"{tick:,}"))
    bar_w = plot_w / len(bins)
    for index, (b_low, b_high, ok, bad) in enumerate(bins):
        x = pad_left + index * bar_w
        tip = (f"{duration_label(b_low)} – {duration_label(b_high)}: {ok + bad:,} runs "
               f"({ok:,} succeeded, {bad:,} failed)")
        base = y_of(0)
        for count, css in ((ok, _OK), (bad, _FAILED)):
            if not count:
                continue
            top = y_of(count + (ok if css == _FAILED else 0))
            bottom = base if css == _OK else y_of(ok)
            parts.append(f'<rect class="{css}" x="{x + 1:.1f}" y="{top:.1f}" '
                         f'width="{max(bar_w - 2, 1):.1f}" height="{max(bottom - top, 0.5):.1f}">'
                         f"<title>{escape(tip)}</title></rect>")
    axis_y = y_of(0)
    parts.append(f'<line class="axis" x1="{pad_left}" x2="{_WIDTH - pad_right}" '
                 f'y1="{axis_y:.1f}" y2="{axis_y:.1f}"/>')
    x_ticks = [low] if single else nice_ticks(low, high, 5)
    if not single and (x_ticks[0] - low) / span > 0.12:
        x_ticks.insert(0, low)  # label where the axis starts when no round tick is near it
    for x_tick in x_ticks:
        x = x_of(x_tick)
        parts.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{axis_y:.1f}" '
                     f'y2="{axis_y + 4:.1f}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{axis_y + 16:.1f}" '
                     f'text-anchor="{_edge_anchor(x, pad_left, _WIDTH - pad_right)}">'
                     f"{escape(duration_label(x_tick))}</text>")
    parts.append(f'<text class="axis-title" x="{pad_left + plot_w / 2:.1f}" y="{height - 4}" '
                 'text-anchor="middle">run duration</text>')
    parts.append('<text class="axis-title" x="4" y="12">runs</text>')
    parts.extend(_markers(workflow, x_of, pad_top, axis_y, single))
    parts.append(_legend(_WIDTH - pad_right, 12, (("succeeded", _OK), ("failed", _FAILED))))
    if not single:
        parts.append(f'<text class="marker-label" x="44" y="12">p50 '
                     f"{escape(duration_label(workflow.p50_ms))} · p95 "
                     f"{escape(duration_label(workflow.p95_ms))}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _markers(workflow: WorkflowStats, x_of: Any, top: float, bottom: float,
             single: bool) -> list[str]:
    """p50 and p95 as dashed lines with short labels; their values are in the top line.

    Close lines get their labels pushed to either side so they never overlap.
    """
    if single:
        return []
    out = []
    p50_x, p95_x = x_of(workflow.p50_ms), x_of(workflow.p95_ms)
    close = p95_x - p50_x < 30
    for label, value, x, anchor in (
        ("p50", workflow.p50_ms, p50_x, "end" if close else "middle"),
        ("p95", workflow.p95_ms, p95_x, "start" if close else "middle"),
    ):
        shift = {"end": -3, "start": 3, "middle": 0}[anchor]
        out.append(f'<line class="marker {label}" x1="{x:.1f}" x2="{x:.1f}" y1="{top - 8:.1f}" '
                   f'y2="{bottom:.1f}"><title>{label} = {escape(duration_label(value))}</title>'
                   "</line>")
        out.append(f'<text class="marker-label" x="{x + shift:.1f}" y="{top - 12:.1f}" '
                   f'text-anchor="{anchor}">{label}</text>')
    return out


def _edge_anchor(x: float, left: float, right: float) -> str:
    """Centre a tick label, unless that would push it past the plot's edge."""
    if x - left < 18:
        return "start"
    if right - x < 18:
        return "end"
    return "middle"


def timeseries_svg(workflow: WorkflowStats) -> str:
    """Runs, error rate and p95 per time bucket, stacked panels over one UTC time axis."""
    buckets = list(getattr(workflow, "timeseries", ()) or ())
    if len(buckets) < 2:
        return ""
    start, end = buckets[0].start_ns, buckets[-1].end_ns
    most_runs = max(bucket.runs for bucket in buckets) or 1
    rates = [bucket.errors / bucket.runs if bucket.runs else None for bucket in buckets]
    p95s = [bucket.p95_ms if bucket.runs else None for bucket in buckets]
    panels: list[tuple[str, list[float], Callable[[float], str]]] = [
        ("runs per bucket", [float(t) for t in _count_ticks(most_runs, 2)],
         lambda v: f"{v:,.0f}"),
        ("error rate", _covering(max(0.05, max(r or 0 for r in rates))),
         lambda v: f"{v * 100:.3g}%"),
        ("p95 duration", _covering(max(p or 0 for p in p95s) or 1), duration_label),
    ]
    labels = [fmt(tick) for _, ticks, fmt in panels for tick in ticks]
    pad_left = 16 + _CHAR_PX * max(len(label) for label in labels)
    pad_right, pad_top, panel_h, gap, pad_bottom = 16, 20, 56, 26, 34
    height = pad_top + 3 * panel_h + 2 * gap + pad_bottom
    plot_w = _WIDTH - pad_left - pad_right

    def x_of(ns: float) -> float:
        return float(pad_left + plot_w * (ns - start) / max(end - start, 1))

    parts = [_open_svg(height, f"Runs, error rate and p95 over time: {escape(workflow.name)}",
                       "timeseries")]
    for index, (title, ticks, fmt) in enumerate(panels):
        top = pad_top + index * (panel_h + gap)
        scale_max = float(ticks[-1] or 1)

        def y_of(value: float, top: float = top, scale_max: float = scale_max) -> float:
            return float(top + panel_h - panel_h * value / scale_max)

        for tick in ticks:
            parts.extend(_grid_line(y_of(tick), pad_left, pad_right, escape(fmt(tick))))
        parts.append(f'<text class="axis-title" x="{pad_left:.1f}" y="{top - 8:.1f}">'
                     f"{title}</text>")
        if index == 0:
            parts.extend(_run_bars(buckets, x_of, y_of))
        else:
            values = rates if index == 1 else p95s
            parts.extend(_line(buckets, values, x_of, y_of, "err" if index == 1 else "p95",
                               fmt))
    axis_y = pad_top + 3 * panel_h + 2 * gap
    parts.append(f'<line class="axis" x1="{pad_left}" x2="{_WIDTH - pad_right}" '
                 f'y1="{axis_y:.1f}" y2="{axis_y:.1f}"/>')
    for tick in time_ticks(start, end, 5):
        x = x_of(tick)
        parts.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{axis_y:.1f}" '
                     f'y2="{axis_y + 4:.1f}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{axis_y + 16:.1f}" '
                     f'text-anchor="{_edge_anchor(x, pad_left, _WIDTH - pad_right)}">'
                     f"{clock_label(tick, end - start)}</text>")
    parts.append(f'<text class="axis-title" x="{pad_left + plot_w / 2:.1f}" y="{height - 4}" '
                 'text-anchor="middle">run start time (UTC)</text>')
    parts.append("</svg>")
    return "".join(parts)


def _run_bars(buckets: Sequence[Any], x_of: Any, y_of: Any) -> list[str]:
    out = []
    for bucket in buckets:
        if not bucket.runs:
            continue
        x0, x1 = x_of(bucket.start_ns), x_of(bucket.end_ns)
        width = max(x1 - x0 - 1, 1)
        ok = bucket.runs - bucket.errors
        tip = escape(f"{_when(bucket)}: {bucket.runs:,} runs, {bucket.errors:,} failed, "
                     f"p95 {duration_label(bucket.p95_ms)}")
        if ok:
            out.append(f'<rect class="{_OK}" x="{x0:.1f}" y="{y_of(ok):.1f}" width="{width:.1f}" '
                       f'height="{y_of(0) - y_of(ok):.1f}"><title>{tip}</title></rect>')
        if bucket.errors:
            out.append(f'<rect class="{_FAILED}" x="{x0:.1f}" y="{y_of(bucket.runs):.1f}" '
                       f'width="{width:.1f}" height="{y_of(ok) - y_of(bucket.runs):.1f}">'
                       f"<title>{tip}</title></rect>")
    return out


def _line(buckets: Sequence[Any], values: Sequence[float | None], x_of: Any, y_of: Any,
          css: str, fmt: Any) -> list[str]:
    """A polyline per run of non-empty buckets (an empty bucket breaks the line)."""
    out: list[str] = []
    segment: list[tuple[float, float]] = []
    for bucket, value in zip(buckets, values, strict=True):
        if value is None:
            if segment:
                out.append(_polyline(segment, css))
            segment = []
            continue
        x = (x_of(bucket.start_ns) + x_of(bucket.end_ns)) / 2
        y = y_of(value)
        segment.append((x, y))
        out.append(f'<circle class="pt {css}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                   f"<title>{escape(_when(bucket))}: {escape(fmt(value))}</title></circle>")
    if segment:
        out.append(_polyline(segment, css))
    return out


def _polyline(points: list[tuple[float, float]], css: str) -> str:
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline class="series {css}" points="{coords}"/>'


def _when(bucket: Any) -> str:
    span = bucket.end_ns - bucket.start_ns
    return f"{clock_label(bucket.start_ns, span * 20)}–{clock_label(bucket.end_ns, span * 20)}"


def _open_svg(height: int, title: str, css: str) -> str:
    return (f'<svg class="chart {css}" role="img" viewBox="0 0 {_WIDTH} {height}" '
            f'width="{_WIDTH}" height="{height}"><title>{title}</title>')


def _legend(right: float, y: float, items: Sequence[tuple[str, str]]) -> str:
    parts, x = [], right
    for label, css in reversed(items):
        x -= _CHAR_PX * len(label) + 4
        parts.append(f'<text class="tick" x="{x:.1f}" y="{y}">{label}</text>')
        x -= 14
        parts.append(f'<rect class="{css}" x="{x:.1f}" y="{y - 9}" width="10" height="10"/>')
        x -= 10
    return "".join(parts)


def _count_ticks(tallest: int, count: int = 4) -> list[int]:
    """Whole-number ticks from 0 whose last one is at or above ``tallest``."""
    ticks = [int(tick) for tick in nice_ticks(0, tallest, count) if tick == int(tick)]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else max(tallest, 1)
    while ticks[-1] < tallest:
        ticks.append(ticks[-1] + step)
    return ticks


def _covering(top: float) -> list[float]:
    """Three round ticks from 0 whose last one is at or above ``top``."""
    ticks = nice_ticks(0, top, 2)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else top
    while ticks[-1] < top:
        ticks.append(ticks[-1] + step)
    return ticks


def _bin(item: Sequence[float]) -> tuple[float, float, int, int]:
    """A histogram bin as (low, high, ok, failed); tolerates the older 3-field form."""
    if len(item) >= 4:
        return float(item[0]), float(item[1]), int(item[2]), int(item[3])
    return float(item[0]), float(item[1]), int(item[2]), 0


def _grid_line(y: float, pad_left: float, pad_right: float, label: str) -> tuple[str, str]:
    """A horizontal grid line across the plot at ``y`` and its tick ``label`` (escaped
    already) at the left, as every chart draws its value axis."""
    return (
        f'<line class="grid" x1="{pad_left}" x2="{_WIDTH - pad_right}" '
        f'y1="{y:.1f}" y2="{y:.1f}"/>',
        f'<text class="tick" x="{pad_left - 6:.1f}" y="{y + 4:.1f}" '
        f'text-anchor="end">{label}</text>',
    )
