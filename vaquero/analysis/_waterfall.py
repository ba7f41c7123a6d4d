"""A Jaeger-like waterfall of one trace as plain HTML rows (label column + timeline bar).

HTML boxes positioned in percent rather than SVG text: the browser wraps and clips labels for
us, and a trace with hundreds of spans stays readable. Rows are capped so a giant trace cannot
produce a giant report.
"""

from __future__ import annotations

from html import escape

from vaquero.analysis._result import KeptTrace
from vaquero.analysis._span import Span
from vaquero.analysis._trace_metrics import TraceTree

__all__ = ["waterfall_html"]

MAX_ROWS = 300
_INDENT_PX = 14


def waterfall_html(trace: KeptTrace) -> str:
    spans = trace.spans
    if not spans:
        return ""
    start = min(span.start_ns for span in spans)
    end = max(span.end_ns for span in spans)
    total = max(end - start, 1)
    rows = []
    ordered = _depth_first(TraceTree(spans))
    for span, depth in ordered[:MAX_ROWS]:
        left = 100 * (span.start_ns - start) / total
        width = max(100 * (span.end_ns - span.start_ns) / total, 0.2)
        duration = f"{(span.end_ns - span.start_ns) / 1e6:,.2f} ms"
        name = escape(span.name)
        detail = span.message or span.failure
        if span.error and detail:
            name += f' <span class="wf-err">{escape(detail)}</span>'
        tip = escape(f"{span.name} · {duration}" + (f" · {detail}" if detail else ""))
        status = " error" if span.error else ""
        # The duration sits right of the bar, or left of it when the bar ends near the edge.
        label_side = "after" if left + width < 80 else "before"
        rows.append(
            f'<div class="wf-row{status}" title="{tip}">'
            f'<div class="wf-name" style="padding-left:{depth * _INDENT_PX}px">{name}</div>'
            f'<div class="wf-track">'
            f'<div class="wf-bar" style="left:{left:.3f}%;width:{width:.3f}%">'
            f'<span class="wf-dur {label_side}">{escape(duration)}</span></div></div></div>'
        )
    if len(ordered) > MAX_ROWS:
        rows.append(f'<p class="note">… {len(ordered) - MAX_ROWS} more spans not shown.</p>')
    return f'<div class="waterfall" data-spans="{len(spans)}">{"".join(rows)}</div>'


def _depth_first(tree: TraceTree) -> list[tuple[Span, int]]:
    """Spans in display order (children under their parent by start time) with their depth."""
    ordered: list[tuple[Span, int]] = []
    stack = [(root, 0) for root in reversed(tree.roots)]
    while stack:
        span, depth = stack.pop()
        ordered.append((span, depth))
        kids = sorted(tree.kids(span), key=lambda kid: kid.start_ns, reverse=True)
        stack.extend((kid, depth + 1) for kid in kids)
    return ordered
