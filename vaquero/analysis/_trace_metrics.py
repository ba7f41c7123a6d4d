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

from vaquero.analysis._span import Span

__all__ = ["TraceTree", "critical_path", "self_time_ns"]

_NO_CHILDREN: tuple[Span, ...] = ()


class TraceTree:
    """The spans of one trace linked parent -> children; orphans become extra roots."""

    __slots__ = ("children", "incomplete", "roots")

    def __init__(self, spans: Sequence[Span]) -> None:
        ids = {span.span_id for span in spans}
        self.children: dict[str, list[Span]] = {}
        self.roots: list[Span] = []
        self.incomplete = False
        for span in spans:
            parent = span.parent_id
            if parent is None:
                self.roots.append(span)
            elif parent in ids:
                self.children.setdefault(parent, []).append(span)
            else:  # its parent never arrived: the trace is missing a piece
                self.roots.append(span)
                self.incomplete = True
        self.roots.sort(key=lambda span: span.start_ns)

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


class _Frame:
    __slots__ = ("kids", "next_kid", "span", "start")

    def __init__(self, span: Span, start: int, end: int, tree: TraceTree) -> None:
        self.span = span
        self.start = start
        clipped = []
        for kid in tree.kids(span):
            kid_start, kid_end = max(kid.start_ns, start), min(kid.end_ns, end)
            if kid_end > kid_start:
                clipped.append((kid_end, -kid_start, kid))
        # Latest end first; on a tie the earlier start (the longer child) first.
        clipped.sort(key=lambda item: (item[0], item[1]), reverse=True)
        self.kids = clipped
        self.next_kid = 0


def critical_path(root: Span, tree: TraceTree) -> list[tuple[Span, int]]:
    """The critical path under ``root`` as ``(span, nanoseconds on the path)`` sections.

    The sections add up to the root's duration. A span can appear in several sections (its
    own time before and after a child). Children are scanned latest-end first with a cursor per
    span, so the whole walk is O(n log n) and a zero-length child cannot loop it.
    """
    sections: list[tuple[Span, int]] = []
    stack = [_Frame(root, root.start_ns, root.end_ns, tree)]
    point = root.end_ns
    while stack:
        frame = stack[-1]
        chosen: tuple[int, int, Span] | None = None
        while frame.next_kid < len(frame.kids):
            candidate = frame.kids[frame.next_kid]
            frame.next_kid += 1
            if candidate[0] <= point:
                chosen = candidate
                break
        if chosen is not None:
            kid_end, neg_kid_start, kid = chosen
            if point > kid_end:
                sections.append((frame.span, point - kid_end))
            stack.append(_Frame(kid, -neg_kid_start, kid_end, tree))
            point = kid_end
        else:
            if point > frame.start:
                sections.append((frame.span, point - frame.start))
            stack.pop()
            point = frame.start
    return sections
