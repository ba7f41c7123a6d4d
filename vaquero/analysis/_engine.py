"""Wire the stages together: source -> span store -> whole traces -> workflow statistics.

Two passes: the first reads every span into the :class:`SpanStore` (grouped by trace, spilled
to disk past a memory bound), the second hands each whole trace to the aggregator. Nothing is
concluded about a trace before the input has ended, which is what makes the result the same for
any order of the input lines.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from vaquero.analysis._aggregate import KeepRequest, WorkflowAggregator
from vaquero.analysis._insights import (
    DEFAULT_MIN_SUCCESS_RATE,
    DEFAULT_SLOW_SECONDS,
    derive_insights,
)
from vaquero.analysis._jaeger import JaegerOptions
from vaquero.analysis._result import AnalysisResult, KeptTrace
from vaquero.analysis._sources import ReadStats, read_spans
from vaquero.analysis._store import DEFAULT_MEMORY_SPANS, SpanStore
from vaquero.analysis._trace_metrics import TraceTree

__all__ = ["run_analysis"]

ProgressCallback = Callable[[int], None]


def run_analysis(
    source: str,
    *,
    workflow: str | None = None,
    since_ns: int | None = None,
    min_success_rate: float = DEFAULT_MIN_SUCCESS_RATE,
    slow_seconds: float = DEFAULT_SLOW_SECONDS,
    keep_traces: bool = False,
    progress: ProgressCallback | None = None,
    now_ns: int | None = None,
    memory_spans: int = DEFAULT_MEMORY_SPANS,
    jaeger: JaegerOptions | None = None,
) -> AnalysisResult:
    """Analyse ``source``; ``since_ns`` keeps only runs that started that recently."""
    now = time.time_ns() if now_ns is None else now_ns
    stats = ReadStats()
    with _collector_paused(), SpanStore(memory_spans=memory_spans) as store:
        add = store.add
        for batch in read_spans(source, stats, since_ns=since_ns, now_ns=now, jaeger=jaeger):
            add(batch)
            if progress is not None:
                progress(stats.spans_read)
        aggregator = WorkflowAggregator(
            workflow=workflow,
            started_after_ns=None if since_ns is None else now - since_ns,
            keep_traces=keep_traces,
        )
        add_trace = aggregator.add_trace
        for _, spans in store.traces(again=keep_traces):
            add_trace(spans)
        workflows = aggregator.workflows()
        time_range = (
            None if aggregator.first_ns is None or aggregator.last_ns is None
            else (aggregator.first_ns, aggregator.last_ns)
        )
        kept = (_fetch(store, aggregator.keep_requests(workflows)) if keep_traces else [])
    insights = derive_insights(
        workflows, min_success_rate=min_success_rate, slow_seconds=slow_seconds
    )
    return AnalysisResult(
        workflows=tuple(workflows),
        insights=tuple(insights),
        spans_read=aggregator.spans,
        malformed_lines=stats.malformed_lines,
        problems=tuple(stats.problems),
        kept_traces=tuple(kept),
        time_range=time_range,
        incomplete_traces=aggregator.incomplete_traces,
        duplicate_spans=aggregator.duplicates,
        notices=tuple(stats.notices),
    )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small objects are made.

    The analysis creates no reference cycles worth collecting, but every few hundred
    allocations CPython would walk the ever-growing heap of span tuples: 15-30% of the run on
    a 300,000-span file. The previous state is restored, also on error.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _fetch(store: SpanStore, requests: list[KeepRequest]) -> list[KeptTrace]:
    """A second walk over the store picks out the traces the report draws."""
    if not requests:
        return []
    wanted: dict[int, list[KeepRequest]] = {}
    for request in requests:
        wanted.setdefault(request.ordinal, []).append(request)
    found: dict[int, KeptTrace] = {}
    kept: list[KeptTrace] = []
    for ordinal, (trace_id, spans) in enumerate(store.traces(again=True)):
        if ordinal not in wanted:
            continue
        tree = TraceTree(spans)
        ordered = tuple(sorted(tree.by_id.values(), key=lambda s: (s.start_ns, s.span_id)))
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
