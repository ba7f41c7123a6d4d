"""Per-trace computations: the run tree, self time and the critical path.

Kept free of any aggregation so each rule can be read (and tested) on its own.

*Self time* of a span is its duration minus the union of its children's intervals, each clipped
to the span: time when the span itself, not something it waited on, was the one running.

*Critical path* follows Jaeger's algorithm: start at the root's end, pick the child that ends
last, descend into it; when a span has no (further) child ending at or before the current
point, the stretch back to its start is its own and we return to its parent at that start and
look for the next child that ended by then. Children are first clipped to their parent (work
that outlived its parent cannot delay it). Two deliberate choices where Jaeger is silent or
quirky: a child ending *exactly* when the walk point is reached counts (Jaeger requires
strictly before, which drops back-to-back sequential steps), and among children ending at the
same instant the longer one is taken.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from vaquero.analysis._span import Span

__all__ = ["TraceTree", "critical_path", "self_time_ns"]

_NO_CHILDREN: tuple[Span, ...] = ()


def _without_duplicates(spans: Sequence[Span]) -> dict[str, Span]:
    """One copy per span id: the same span exported twice (a retry, two sources).

    When the copies differ, the one that ended latest (then the erroring one) wins, so the
    choice does not depend on which copy came first.
    """
    chosen: dict[str, Span] = {}
    for span in spans:
        other = chosen.get(span.span_id)
        if other is None or _copy_rank(span) > _copy_rank(other):
            chosen[span.span_id] = span
    return chosen


def _copy_rank(span: Span) -> tuple[int, bool, int, str, str]:
    return (span.end_ns, span.error, -span.start_ns, span.name, span.failure or "")


def _start_order(span: Span) -> tuple[int, str]:
    return span.start_ns, span.span_id


class TraceTree:
    """The spans of one trace linked parent -> children.

    ``roots`` are the spans without a parent, earliest first. A span whose parent never
    arrived is *not* a root: its subtree cannot be placed in a run, so it is left out of the
    runs and the trace is marked ``incomplete`` (the data is missing a piece; guessing where it
    belonged would put numbers where they do not belong). Children are kept in start order
    (span id on ties) so that every walk is the same whatever order the spans arrived in.
    """

    __slots__ = ("by_id", "children", "incomplete", "roots")

    def __init__(self, spans: Sequence[Span]) -> None:
        by_id = {span.span_id: span for span in spans}
        if len(by_id) != len(spans):
            by_id = _without_duplicates(spans)
        self.by_id = by_id
        children: dict[str, list[Span]] = {}
        self.roots: list[Span] = []
        self.incomplete = False
        for span in by_id.values():
            parent = span.parent_id
            if parent is None:
                self.roots.append(span)
            elif parent in by_id:
                kids = children.get(parent)
                if kids is None:
                    children[parent] = [span]
                else:
                    kids.append(span)
            else:  # its parent never arrived: the trace is missing a piece
                self.incomplete = True
        for kids in children.values():
            if len(kids) > 1:
                kids.sort(key=_start_order)
        self.children = children
        if len(self.roots) > 1:
            self.roots.sort(key=_start_order)

    def kids(self, span: Span) -> Sequence[Span]:
        return self.children.get(span.span_id, _NO_CHILDREN)

    def descendants(self, root: Span) -> Iterator[Span]:
        """Every span under ``root`` (not ``root`` itself), depth first, without recursion.

        A parent-id cycle cannot be reached from a root (each span has one parent), so no
        visited-set is needed.
        """
        stack = list(reversed(self.kids(root)))
        while stack:
            span = stack.pop()
            yield span
            kids = self.children.get(span.span_id)
            if kids:
                stack.extend(reversed(kids))


def self_time_ns(span: Span, kids: Sequence[Span]) -> int:
    """``span``'s duration minus the union of its children's intervals clipped to it."""
    start, end = span.start_ns, span.end_ns
    if not kids:
        return end - start
    intervals = sorted(
        (max(kid.start_ns, start), min(kid.end_ns, end)) for kid in kids
    )
    covered = 0
    run_start = run_end = start
    for kid_start, kid_end in intervals:
        if kid_end <= kid_start:
            continue  # empty after clipping: outside the span or zero length
        if kid_start > run_end:
            covered += run_end - run_start
            run_start, run_end = kid_start, kid_end
        elif kid_end > run_end:
            run_end = kid_end
    covered += run_end - run_start
    return (end - start) - covered


def _latest_first(item: tuple[int, int, str, Span]) -> tuple[int, int, str]:
    return item[0], item[1], item[2]


def _clipped_kids(
    kids: Sequence[Span], start: int, end: int
) -> list[tuple[int, int, str, Span]]:
    """Children clipped to ``[start, end]``, latest end first (see the module docstring)."""
    clipped = []
    for kid in kids:
        kid_start = kid.start_ns if kid.start_ns > start else start
        kid_end = kid.end_ns if kid.end_ns < end else end
        if kid_end > kid_start:
            clipped.append((kid_end, -kid_start, kid.span_id, kid))
    # Latest end first; on a tie the earlier start (the longer child) first, then the span
    # id, so that identical intervals resolve the same way in any input order.
    clipped.sort(key=_latest_first, reverse=True)
    return clipped


def critical_path(root: Span, tree: TraceTree) -> list[tuple[Span, int]]:
    """The critical path under ``root`` as ``(span, nanoseconds on the path)`` sections.

    The sections add up to the root's duration. A span can appear in several sections (its
    own time before and after a child). Children are scanned latest-end first with a cursor per
    span, so the whole walk is O(n log n) and a zero-length child cannot loop it. A leaf child
    is taken whole without a frame of its own: most spans are leaves.
    """
    children = tree.children
    sections: list[tuple[Span, int]] = []
    append = sections.append
    point = root.end_ns
    kids = children.get(root.span_id)
    if not kids:
        if point > root.start_ns:
            append((root, point - root.start_ns))
        return sections
    # frame: [span, clipped start, clipped kids, cursor]
    stack: list[list[Any]] = [[root, root.start_ns, _clipped_kids(kids, root.start_ns, point), 0]]
    while stack:
        frame = stack[-1]
        span, start, clipped, cursor = frame
        count = len(clipped)
        chosen: tuple[int, int, str, Span] | None = None
        while cursor < count:
            candidate = clipped[cursor]
            cursor += 1
            if candidate[0] <= point:
                chosen = candidate
                break
        frame[3] = cursor
        if chosen is None:
            if point > start:
                append((span, point - start))
            stack.pop()
            point = start
            continue
        kid_end, neg_kid_start, _, kid = chosen
        if point > kid_end:
            append((span, point - kid_end))
        kid_start = -neg_kid_start
        grandkids = children.get(kid.span_id)
        if grandkids:
            stack.append([kid, kid_start, _clipped_kids(grandkids, kid_start, kid_end), 0])
            point = kid_end
        else:
            append((kid, kid_end - kid_start))
            point = kid_start
    return sections
