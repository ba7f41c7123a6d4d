"""Wire the stages together: source -> spans -> whole traces -> workflow statistics."""

from __future__ import annotations

import time
from collections.abc import Callable

from vaquero.analysis._aggregate import WorkflowAggregator
from vaquero.analysis._assembler import TraceAssembler
from vaquero.analysis._insights import (
    DEFAULT_MIN_SUCCESS_RATE,
    DEFAULT_SLOW_SECONDS,
    derive_insights,
)
from vaquero.analysis._jaeger import JaegerOptions
from vaquero.analysis._result import AnalysisResult
from vaquero.analysis._sources import ReadStats, read_spans

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
    jaeger: JaegerOptions | None = None,
) -> AnalysisResult:
    """Analyse ``source``; ``since_ns`` keeps only runs whose root started that recently."""
    now = time.time_ns() if now_ns is None else now_ns
    stats = ReadStats()
    aggregator = WorkflowAggregator(
        workflow=workflow,
        started_after_ns=None if since_ns is None else now - since_ns,
        keep_traces=keep_traces,
    )
    assembler = TraceAssembler(aggregator.add_trace)
    add = assembler.add
    for batch in read_spans(source, stats, since_ns=since_ns, now_ns=now, jaeger=jaeger):
        for span in batch:
            add(span)
        if progress is not None:
            progress(stats.spans_read)
    assembler.flush()
    workflows = aggregator.workflows()
    insights = derive_insights(
        workflows, min_success_rate=min_success_rate, slow_seconds=slow_seconds
    )
    return AnalysisResult(
        workflows=tuple(workflows),
        insights=tuple(insights),
        spans_read=stats.spans_read,
        malformed_lines=stats.malformed_lines,
        problems=tuple(stats.problems),
        kept_traces=tuple(aggregator.kept_traces()),
        notices=tuple(stats.notices),
    )
