"""The second pass: a store of whole traces into workflow statistics and the traces to draw.

Called by ``_engine`` once every span of the input is in the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vaquero.analysis._aggregate import KeepRequest, WorkflowAggregator, trace_key
from vaquero.analysis._http import without_plumbing
from vaquero.analysis._limits import MAX_KEPT_SPANS, MAX_TRACE_SPANS
from vaquero.analysis._result import KeptTrace, WorkflowStats
from vaquero.analysis._store import SpanStore
from vaquero.analysis._trace_metrics import TraceTree

__all__ = ["Folded", "fold"]


@dataclass
class Folded:
    """What the second pass makes of a store: everything but the reading statistics."""

    workflows: list[WorkflowStats]
    kept: list[KeptTrace]
    spans: int
    duplicates: int
    incomplete_traces: int
    time_range: tuple[int, int] | None
    request_only: tuple[int, tuple[str, ...]] = (0, ())
    notices: list[str] = field(default_factory=list)


def fold(
    store: SpanStore,
    source: str,
    *,
    workflow: str | None,
    started_after_ns: int | None,
    keep_traces: bool,
) -> Folded:
    """The second pass: every whole trace into the statistics, then the traces to draw.

    Raises:
        AnalysisInputError: ``workflow`` matches no run of ``source`` (``_filter``).
    """
    aggregator = WorkflowAggregator(
        workflow=workflow, started_after_ns=started_after_ns, keep_traces=keep_traces,
    )
    add_trace = aggregator.add_trace
    for _, spans in store.traces(again=keep_traces):
        add_trace(spans)
    aggregator.names.check(source)
    notices = aggregator.notices()
    if store.dropped_spans:  # read before a second walk counts them again
        notices.append(
            f"{len(store.capped_traces):,} traces have more than {MAX_TRACE_SPANS:,} spans; "
            f"the {store.dropped_spans:,} spans past that were left out of them (a trace is "
            "analysed whole, in memory).")
    workflows = aggregator.workflows()
    time_range = (
        None if aggregator.first_ns is None or aggregator.last_ns is None
        else (aggregator.first_ns, aggregator.last_ns)
    )
    kept: list[KeptTrace] = []
    if keep_traces:
        requests, left_out = _within_budget(aggregator.keep_requests(workflows))
        if left_out:
            notices.append(
                f"{left_out:,} example traces are not drawn in the report: with the ones before "
                f"them they would hold more than {MAX_KEPT_SPANS:,} spans.")
        kept = _fetch(store, requests)
    return Folded(workflows, kept, aggregator.spans, aggregator.duplicates,
                  aggregator.incomplete_traces, time_range, aggregator.request_only, notices)


def _within_budget(requests: list[KeepRequest]) -> tuple[list[KeepRequest], int]:
    """The requests to honour, busiest workflow first, while the traces they name hold at
    most :data:`MAX_KEPT_SPANS` spans together (a trace wanted twice counts once); and how
    many were left out. The first is always honoured (a trace holds 50,000 spans at most)."""
    chosen: list[KeepRequest] = []
    taken: set[int] = set()
    used = left_out = 0
    for request in requests:
        if request.ordinal not in taken:
            if chosen and used + request.spans > MAX_KEPT_SPANS:
                left_out += 1
                continue
            taken.add(request.ordinal)
            used += request.spans
        chosen.append(request)
    return chosen, left_out


def _fetch(store: SpanStore, requests: list[KeepRequest]) -> list[KeptTrace]:
    """A second walk over the store picks out the traces the report draws."""
    if not requests:
        return []
    wanted: dict[int, list[KeepRequest]] = {}
    for request in requests:
        wanted.setdefault(request.ordinal, []).append(request)
    found: dict[int, KeptTrace] = {}
    kept: list[KeptTrace] = []
    for trace_id, spans in store.traces(again=True):
        ordinal = trace_key(trace_id)
        if ordinal not in wanted or any(id(r) in found for r in wanted[ordinal]):
            continue
        tree = TraceTree(spans)
        drawn = without_plumbing(list(tree.by_id.values()))
        ordered = tuple(sorted(drawn, key=lambda s: (s.start_ns, s.span_id)))
        for request in wanted[ordinal]:
            found[id(request)] = KeptTrace(
                reason=request.reason,
                workflow=request.workflow,
                duration_ms=round(max(request.run_duration_ns, 0) / 1e6, 3),
                spans=ordered,
                trace_id=trace_id,
                incomplete=tree.incomplete,
                agent=request.agent,
            )
    for request in requests:
        trace = found.get(id(request))
        if trace is not None:
            kept.append(trace)
    return kept
