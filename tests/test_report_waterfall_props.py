"""Properties of the waterfall over random traces: the class, not one example.

Whatever the shape (deep, wide, many repeats, many errors): every erroring span has its own
row or sits in a red group of identical failures; no span is drawn twice; a child's row never
precedes its parent's; the row cap holds except for error rows; and when nothing is cut,
every span is accounted for exactly once (its own row, a collapsed group, or under one).
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaquero.analysis._result import KeptTrace
from vaquero.analysis._span import Span
from vaquero.analysis._waterfall import MAX_ROWS, waterfall_html

_BASE = 1_700_000_000_000_000_000
_NAMES = ["fetch_page", "plan", "llm_call", "db", "retry"]


@st.composite
def traces(draw: st.DrawFn) -> list[Span]:
    count = draw(st.integers(1, 700))
    spans = [Span("ab" * 16, f"{1:016x}", None, "root", _BASE, _BASE + 10**9, False, None, None)]
    for number in range(2, count + 1):
        parent = spans[draw(st.integers(0, len(spans) - 1))]
        length = parent.end_ns - parent.start_ns
        a = draw(st.integers(0, 1000))
        b = draw(st.integers(a, 1000))
        error = draw(st.integers(0, 30)) == 0
        spans.append(Span("ab" * 16, f"{number:016x}", parent.span_id,
                          draw(st.sampled_from(_NAMES)),
                          parent.start_ns + length * a // 1000,
                          parent.start_ns + length * b // 1000,
                          error, None, "Boom" if error else None, "boom" if error else None))
    return spans


def _drawn(page: str) -> tuple[list[str], list[tuple[int, int, bool]], int]:
    ids = re.findall(r'<div class="wf-row[^"]*" title="[^"]*" data-id="([0-9a-f]+)"', page)
    groups = [(int(n), int(below), " error" in css) for css, n, below in
              re.findall(r'<div class="wf-row group([^"]*)" title="[^"]*" '
                         r'data-n="(\d+)" data-below="(\d+)"', page)]
    cut = re.search(r"… ([\d,]+) more rows not shown", page)
    return ids, groups, int(cut.group(1).replace(",", "")) if cut else 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces())
def test_waterfall_invariants(spans: list[Span]) -> None:
    page = waterfall_html(KeptTrace("slowest", "root", 1000.0, tuple(spans), "ab" * 16))
    ids, groups, cut = _drawn(page)
    by_id = {span.span_id: span for span in spans}
    assert len(ids) == len(set(ids)), "a span drawn twice"

    erroring = {span.span_id for span in spans if span.error}
    in_error_groups = sum(n + below for n, below, failed in groups if failed)
    if not cut:
        assert len(erroring - set(ids)) <= in_error_groups, "an erroring span went missing"

    position = {span_id: index for index, span_id in enumerate(ids)}
    for span_id in ids:
        parent = by_id[span_id].parent_id
        if parent in position:
            assert position[parent] < position[span_id], "a child above its parent"

    holding = _holding_errors(spans)
    error_rows = sum(1 for span_id in ids if span_id in holding)
    error_rows += sum(1 for _, _, failed in groups if failed)
    assert len(ids) + len(groups) <= max(MAX_ROWS, error_rows)

    if not cut:
        accounted = len(ids) + sum(n + below for n, below, _ in groups)
        assert accounted == len(spans)


def _holding_errors(spans: list[Span]) -> set[str]:
    """Ids of spans that are errors or have an erroring descendant."""
    parent_of = {span.span_id: span.parent_id for span in spans}
    holding: set[str] = set()
    for span in spans:
        if span.error:
            current: str | None = span.span_id
            while current is not None and current not in holding:
                holding.add(current)
                current = parent_of.get(current)
    return holding
