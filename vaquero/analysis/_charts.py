"""Inline SVG duration histogram for one workflow: no chart library, no network, no fonts."""

from __future__ import annotations

from html import escape

from vaquero.analysis._result import WorkflowStats

__all__ = ["duration_histogram_svg"]

_WIDTH = 640
_HEIGHT = 140
_PAD_LEFT = 36
_PAD_BOTTOM = 22
_PAD_TOP = 8


def duration_histogram_svg(workflow: WorkflowStats) -> str:
    """Bars of run counts per duration bin, axis labels in ms; red-free (durations, not errors)."""
    bins = workflow.histogram
    if not bins:
        return ""
    plot_w = _WIDTH - _PAD_LEFT - 8
    plot_h = _HEIGHT - _PAD_BOTTOM - _PAD_TOP
    tallest = max(ok + bad for _, _, ok, bad in bins) or 1
    bar_w = plot_w / len(bins)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {_WIDTH} {_HEIGHT}" width="{_WIDTH}" '
        f'height="{_HEIGHT}">',
        f"<title>Run durations of {escape(workflow.name)}</title>",
        f'<line x1="{_PAD_LEFT}" y1="{_PAD_TOP + plot_h}" x2="{_WIDTH - 8}" '
        f'y2="{_PAD_TOP + plot_h}" class="axis"/>',
        f'<text x="{_PAD_LEFT - 4}" y="{_PAD_TOP + 10}" text-anchor="end" class="tick">'
        f"{tallest}</text>",
        f'<text x="{_PAD_LEFT - 4}" y="{_PAD_TOP + plot_h}" text-anchor="end" '
        'class="tick">0</text>',
    ]
    for index, (low, high, ok, bad) in enumerate(bins):
        count = ok + bad
        height = plot_h * count / tallest
        x = _PAD_LEFT + index * bar_w
        y = _PAD_TOP + plot_h - height
        parts.append(
            f'<rect class="hbar" x="{x + 1:.1f}" y="{y:.1f}" width="{max(bar_w - 2, 1):.1f}" '
            f'height="{height:.1f}"><title>{_fmt(low)}–{_fmt(high)} ms: {count} runs</title></rect>'
        )
    low_ms, high_ms = bins[0][0], bins[-1][1]
    baseline = _PAD_TOP + plot_h + 16
    parts.append(f'<text x="{_PAD_LEFT}" y="{baseline}" class="tick">{_fmt(low_ms)} ms</text>')
    parts.append(f'<text x="{_WIDTH - 8}" y="{baseline}" text-anchor="end" class="tick">'
                 f"{_fmt(high_ms)} ms</text>")
    parts.append(f'<text x="{_PAD_LEFT + plot_w / 2:.0f}" y="{baseline}" text-anchor="middle" '
                 f'class="tick">runs by duration</text>')
    parts.append("</svg>")
    return "".join(parts)


def _fmt(ms: float) -> str:
    return f"{ms:,.1f}"
