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

from vaquero.analysis._fold import fold
from vaquero.analysis._insights import (
    DEFAULT_MIN_SUCCESS_RATE,
    DEFAULT_SLOW_SECONDS,
    derive_insights,
)
from vaquero.analysis._jaeger import JaegerOptions
from vaquero.analysis._result import AnalysisResult
from vaquero.analysis._sources import ReadStats, read_spans
from vaquero.analysis._store import DEFAULT_MEMORY_SPANS, SpanStore

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
    """Analyse ``source``; ``since_ns`` keeps only runs that started that recently.

    ``jaeger`` sets headers, timeout and search depth when ``source`` is a Jaeger URL.
    """
    now = time.time_ns() if now_ns is None else now_ns
    stats = ReadStats()
    spans = read_spans(source, stats, since_ns=since_ns, now_ns=now, jaeger=jaeger)
    started_after = None if since_ns is None else now - since_ns
    with _collector_paused(), SpanStore(memory_spans=memory_spans) as store:
        stats.make_room = store.make_room
        add = store.add
        for batch in spans:
            add(batch)
            if progress is not None:
                progress(stats.spans_read)
        folded = fold(store, source, workflow=workflow, started_after_ns=started_after,
                      keep_traces=keep_traces)
    insights = derive_insights(
        folded.workflows, min_success_rate=min_success_rate, slow_seconds=slow_seconds
    )
    return AnalysisResult(
        workflows=tuple(folded.workflows),
        insights=tuple(insights),
        spans_read=folded.spans,
        malformed_lines=stats.malformed_lines,
        problems=tuple(stats.problems),
        kept_traces=tuple(folded.kept),
        time_range=folded.time_range,
        incomplete_traces=folded.incomplete_traces,
        duplicate_spans=folded.duplicates,
        notices=(*stats.closing_notices(), *folded.notices),
        request_only_runs=folded.request_only[0],
        request_only_workflows=folded.request_only[1],
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
