"""A Jaeger-like waterfall of one trace as HTML rows: name | timeline | duration.

What a person on call needs from a trace comes first and cannot be cut away:

* **Order.** Among siblings, those whose subtree holds an error come first, then the ones on
  the critical path, then the rest by start time. The row cap is filled in that priority too:
  rows holding an error are always kept (even past the cap), then the critical path, then the
  rest; a note counts what was left out.
* **Repeats collapse.** Four or more siblings with one name (``fetch_page`` called 1,200
  times) become one row ``fetch_page ×1200`` whose bar spans them all; erroring ones keep
  their own rows unless twenty or more fail the same way, which become one red row.
  (Sequential calls all sit on the critical path, so that cannot exempt them.)
* **Critical path.** Its spans carry a dark stripe, so "what made this run slow" reads off the
  picture.
* **Labels never collide.** The duration sits in its own column and an error message on its own
  line under the span name, instead of floating beside the bar where it ran into other text.
* **A labelled time axis** with round ticks (0, 20, 40 ms …) heads the waterfall and draws
  the grid.

HTML boxes positioned in percent rather than SVG text: the browser clips labels with an
ellipsis for us and a long trace stays readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from vaquero.analysis._axis import duration_label, nice_ticks
from vaquero.analysis._result import KeptTrace
from vaquero.analysis._span import Span
from vaquero.analysis._trace_metrics import TraceTree, critical_path

__all__ = ["MAX_ROWS", "waterfall_html"]

MAX_ROWS = 300
COLLAPSE_MIN = 4
ERROR_COLLAPSE_MIN = 20
_INDENT_PX = 12


@dataclass
class _Row:
    depth: int
    span: Span | None = None        # a single span
    group: list[Span] | None = None  # collapsed same-name siblings
    hidden_below: int = 0            # spans under a collapsed group, not drawn
    level: int = 0                   # 2: holds an error, 1: critical path, 0: neither


def waterfall_html(trace: KeptTrace, max_rows: int = MAX_ROWS) -> str:
    """The trace's waterfall, with a time axis and a legend, in at most ``max_rows`` rows
    (plus rows holding errors)."""
    spans = trace.spans
    if not spans:
        return ""
    tree = TraceTree(spans)
    start = min(span.start_ns for span in spans)
    end = max(span.end_ns for span in spans)
    total = max(end - start, 1)
    known = {span.span_id for span in spans}
    # A span whose parent never arrived is no root of the tree, but it was recorded: it is
    # drawn at the top level after the roots, marked, rather than silently left out.
    rooted = {span.span_id for span in tree.roots}
    orphans = sorted((span for span in spans if span.parent_id and span.parent_id not in known
                      and span.span_id not in rooted), key=lambda span: span.start_ns)
    tops = [*tree.roots, *orphans]
    on_path = _critical_ids(tree)
    with_error = _error_subtrees(tree, tops)
    rows = _rows(tree, tops, on_path, with_error)
    orphan_ids = {span.span_id for span in orphans}
    shown, cut = _cap(rows, max(1, max_rows))
    ticks = [t for t in nice_ticks(0, total / 1e6, 6) if t * 1e6 <= total]
    grid = "".join(f'<div class="wf-tick" style="left:{100 * t * 1e6 / total:.3f}%"></div>'
                   for t in ticks)
    axis = "".join(
        f'<span class="wf-tick-label" style="left:{100 * t * 1e6 / total:.3f}%">'
        f"{escape(duration_label(t))}</span>" for t in ticks)
    html = [
        '<div class="wf-legend"><i class="lg crit"></i>on the critical path'
        '<i class="lg"></i>off it<i class="lg err"></i>error<i class="lg grp"></i>'
        "repeated siblings, collapsed</div>"
        f'<div class="waterfall" data-spans="{len(spans)}" data-rows="{len(shown)}">',
        f'<div class="wf-grid">{grid}</div>',
        '<div class="wf-row wf-axis"><div class="wf-name">span</div>'
        f'<div class="wf-track">{axis}</div><div class="wf-dur">duration</div></div>',
    ]
    html.extend(_row_html(row, start, total, on_path, orphan_ids) for row in shown)
    if cut:
        html.append(f'<div class="wf-more">… {cut:,} more rows not shown (rows with errors '
                    "are always shown, then the critical path).</div>")
    html.append("</div>")
    return "".join(html)


def _critical_ids(tree: TraceTree) -> set[str]:
    """Spans the critical path runs through: those with time on it, and their ancestors (a
    parent whose children cover it is still on the path, as its root always is)."""
    parent_of = {kid.span_id: span for span in _all(tree) for kid in tree.kids(span)}
    ids: set[str] = set()
    for root in tree.roots:
        for span, _ns in critical_path(root, tree):
            current: Span | None = span
            while current is not None and current.span_id not in ids:
                ids.add(current.span_id)
                current = parent_of.get(current.span_id)
    return ids


def _all(tree: TraceTree) -> list[Span]:
    out: list[Span] = []
    for root in tree.roots:
        out.append(root)
        out.extend(tree.descendants(root))
    return out


def _error_subtrees(tree: TraceTree, tops: Sequence[Span]) -> set[str]:
    """Ids of spans that are errors or have an erroring descendant."""
    marked: set[str] = set()
    for root in tops:
        order = [root, *tree.descendants(root)]
        parent_of = {kid.span_id: span for span in order for kid in tree.kids(span)}
        for span in reversed(order):
            if span.error or span.span_id in marked:
                marked.add(span.span_id)
                parent = parent_of.get(span.span_id)
                if parent is not None:
                    marked.add(parent.span_id)
    return marked


def _rows(tree: TraceTree, tops: Sequence[Span], on_path: set[str],
          with_error: set[str]) -> list[_Row]:
    rows: list[_Row] = []

    def rank(span: Span) -> tuple[int, int]:
        first = 0 if span.span_id in with_error else 1 if span.span_id in on_path else 2
        return first, span.start_ns

    roots = sorted(tree.roots, key=rank)
    rooted = {span.span_id for span in roots}
    orphans = [span for span in tops if span.span_id not in rooted]
    stack: list[_Row] = [_Row(0, span=top) for top in reversed([*roots, *orphans])]
    while stack:
        row = stack.pop()
        rows.append(row)
        if row.span is None:
            continue
        row.level = (2 if row.span.span_id in with_error
                     else 1 if row.span.span_id in on_path else 0)
        kids = sorted(tree.kids(row.span), key=rank)
        stack.extend(reversed(_sibling_rows(kids, row.depth + 1, tree, on_path, with_error)))
    return rows


def _sibling_rows(kids: Sequence[Span], depth: int, tree: TraceTree, on_path: set[str],
                  with_error: set[str]) -> list[_Row]:
    """One row per sibling, except repeats: plain ones by name from COLLAPSE_MIN on, erroring
    ones by (name, failure) from ERROR_COLLAPSE_MIN on, so a few failures stay separate but a
    storm of identical ones cannot push everything else out."""
    groups: dict[tuple[bool, str, str | None], list[Span]] = {}
    for kid in kids:
        failing = kid.span_id in with_error
        key = (failing, kid.name, kid.failure if failing else None)
        groups.setdefault(key, []).append(kid)
    out: list[_Row] = []
    for kid in kids:
        failing = kid.span_id in with_error
        group = groups[(failing, kid.name, kid.failure if failing else None)]
        if len(group) < (ERROR_COLLAPSE_MIN if failing else COLLAPSE_MIN):
            out.append(_Row(depth, span=kid))
        elif kid is group[0]:
            below = sum(1 for member in group for _ in tree.descendants(member))
            crit = any(member.span_id in on_path for member in group)
            out.append(_Row(depth, group=group, hidden_below=below,
                            level=2 if failing else int(crit)))
    return out


def _cap(rows: list[_Row], max_rows: int) -> tuple[list[_Row], int]:
    """At most ``max_rows`` rows, chosen errors first, then the critical path, then the rest.

    Rows that hold an error are kept even past the cap (up to twice it); the chosen rows are
    shown in display order.
    """
    if len(rows) <= max_rows:
        return rows, 0
    chosen: set[int] = set()
    for level, limit in ((2, 2 * max_rows), (1, max_rows), (0, max_rows)):
        for index, row in enumerate(rows):
            if len(chosen) >= limit:
                break
            if row.level == level:
                chosen.add(index)
    kept = [row for index, row in enumerate(rows) if index in chosen]
    return kept, len(rows) - len(kept)


def _row_html(row: _Row, start: int, total: int, on_path: set[str],
              orphan_ids: set[str]) -> str:
    pad = f"padding-left:{4 + row.depth * _INDENT_PX}px"
    if row.group is not None:
        group = row.group
        g_start = min(span.start_ns for span in group)
        g_end = max(span.end_ns for span in group)
        busy = sum(span.end_ns - span.start_ns for span in group)
        left, width = _place(g_start, g_end, start, total)
        name = group[0].name
        below = f", {row.hidden_below:,} spans below them" if row.hidden_below else ""
        tip = (f"{name} ×{len(group):,}: {duration_label(busy / 1e6)} in total, "
               f"mean {duration_label(busy / len(group) / 1e6)}, from first start to last end "
               f"{duration_label((g_end - g_start) / 1e6)}{below}")
        crit = " crit" if any(span.span_id in on_path for span in group) else ""
        failed = sum(1 for span in group if span.error)
        status = " error" if row.level == 2 else ""
        what = group[0].failure or group[0].message
        err_line = (f'<div class="wf-err">{failed:,} failed'
                    f'{": " + escape(what) if what else ""}</div>' if row.level == 2 else "")
        return (f'<div class="wf-row group{status}{crit}" title="{escape(tip)}" '
                f'data-n="{len(group)}" data-below="{row.hidden_below}">'
                f'<div class="wf-name" style="{pad}"><div class="wf-label">{escape(name)} '
                f'<b class="wf-count">×{len(group):,}</b></div>{err_line}</div>'
                f'<div class="wf-track"><div class="wf-bar" style="left:{left:.3f}%;'
                f'width:{width:.3f}%"></div></div>'
                f'<div class="wf-dur">{escape(duration_label((g_end - g_start) / 1e6))}</div>'
                "</div>")
    span = row.span
    assert span is not None
    duration = duration_label((span.end_ns - span.start_ns) / 1e6)
    left, width = _place(span.start_ns, span.end_ns, start, total)
    detail = (span.message or span.failure) if span.error else None
    classes = "wf-row" + (" error" if span.error else "") + (
        " crit" if span.span_id in on_path else "")
    tip = f"{span.name} · {duration}" + (f" · {detail}" if detail else "")
    error_line = f'<div class="wf-err">{escape(detail)}</div>' if detail else ""
    if span.span_id in orphan_ids:
        classes += " orphan"
        error_line = '<div class="wf-orphan">parent span missing</div>' + error_line
    return (f'<div class="{classes}" title="{escape(tip)}" data-id="{escape(span.span_id)}">'
            f'<div class="wf-name" style="{pad}"><div class="wf-label">{escape(span.name)}</div>'
            f"{error_line}</div>"
            f'<div class="wf-track"><div class="wf-bar" style="left:{left:.3f}%;'
            f'width:{width:.3f}%"></div></div><div class="wf-dur">{escape(duration)}</div></div>')


def _place(span_start: int, span_end: int, start: int, total: int) -> tuple[float, float]:
    left = 100 * (span_start - start) / total
    width = max(100 * (span_end - span_start) / total, 0.3)
    return min(left, 99.7), min(width, 100 - min(left, 99.7))
