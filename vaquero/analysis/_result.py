"""The analysis result: plain frozen data, plus the JSON shape the CLI's ``--json`` promises.

``to_dict`` is the contract (field names and nesting are relied on by scripts); everything
else here is free to grow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vaquero.analysis._span import Span

__all__ = [
    "OWN_TIME_STEP",
    "AnalysisResult",
    "FailurePattern",
    "HistogramBin",
    "Insight",
    "KeptTrace",
    "Regression",
    "StepStats",
    "TimeBucket",
    "WorkflowStats",
]

# The name of the steps-table row for the workflow's own, un-instrumented time (retry backoff,
# glue code): parenthesised so it cannot collide with a real span name in practice.
OWN_TIME_STEP = "(workflow own time)"

# (low_ms, high_ms, ok_runs, failed_runs): one bar of the duration histogram.
HistogramBin = tuple[float, float, int, int]


@dataclass(frozen=True)
class StepStats:
    """One span name below a workflow's root."""

    name: str
    calls: int
    error_rate: float
    self_p50_ms: float
    self_p95_ms: float
    critical_path_share: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: the shape ``vaquero analyze --json`` promises for this part."""
        return {
            "name": self.name,
            "calls": self.calls,
            "error_rate": self.error_rate,
            "self_ms": {"p50": self.self_p50_ms, "p95": self.self_p95_ms},
            "critical_path_share": self.critical_path_share,
        }


@dataclass(frozen=True)
class FailurePattern:
    """Where failures start: ``count`` erroring spans named ``step`` that raised this type."""

    exception_type: str
    step: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: the shape ``vaquero analyze --json`` promises for this part."""
        return {"exception_type": self.exception_type, "step": self.step, "count": self.count}


@dataclass(frozen=True)
class TimeBucket:
    """Runs of one workflow that *started* in ``[start_ns, end_ns)``: the report's time axis.

    ``p95_ms`` is the nearest-rank p95 of those runs' durations (0.0 when ``runs`` is 0).
    """

    start_ns: int
    end_ns: int
    runs: int
    errors: int
    p95_ms: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: the shape ``vaquero analyze --json`` promises for this part."""
        return {"start_ns": self.start_ns, "end_ns": self.end_ns, "runs": self.runs,
                "errors": self.errors, "p95_ms": self.p95_ms}


@dataclass(frozen=True)
class WorkflowStats:
    """All runs of one workflow: the same (agent, span name) of the outermost agent span.

    ``own_time_share`` is the part of the runs' critical path spent in the workflow span itself
    (no child running): with the steps' ``critical_path_share`` it adds up to 1.
    """

    name: str
    agent: str | None
    runs: int
    success_rate: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_success_s: float
    steps: tuple[StepStats, ...]
    failures: tuple[FailurePattern, ...]
    incomplete_runs: int
    # (low_ms, high_ms, ok_runs, failed_runs) bins over the run durations, for the report.
    histogram: tuple[HistogramBin, ...] = ()
    timeseries: tuple[TimeBucket, ...] = ()
    own_time_share: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: the shape ``vaquero analyze --json`` promises for this part."""
        return {
            "name": self.name,
            "agent": self.agent,
            "runs": self.runs,
            "success_rate": self.success_rate,
            "duration_ms": {
                "p50": self.p50_ms, "p95": self.p95_ms, "p99": self.p99_ms, "max": self.max_ms,
            },
            "steps": [step.to_dict() for step in self.steps],
            "failures": [failure.to_dict() for failure in self.failures],
            "incomplete_runs": self.incomplete_runs,
            "own_time_share": self.own_time_share,
            "timeseries": [bucket.to_dict() for bucket in self.timeseries],
        }


@dataclass(frozen=True)
class Insight:
    """A rule that fired, with the seed's recommendation text and the value that fired it."""

    type: str
    workflow: str
    agent: str | None
    recommendation: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: the shape ``vaquero analyze --json`` promises for this part."""
        return {
            "type": self.type,
            "workflow": self.workflow,
            "agent": self.agent,
            "recommendation": self.recommendation,
            **self.details,
        }


@dataclass(frozen=True)
class KeptTrace:
    """A whole trace kept for the report's waterfall, and why it was kept.

    ``reason`` is ``"slowest"``, ``"p95"`` or ``"failure: <ExcType> in <step>"``;
    ``incomplete`` is true when some span of the run names a parent that never arrived.
    """

    reason: str
    workflow: str
    duration_ms: float
    spans: tuple[Span, ...]
    trace_id: str = ""
    incomplete: bool = False
    agent: str | None = None


@dataclass(frozen=True)
class Regression:
    """A workflow that got worse than its baseline beyond the allowed margin."""

    workflow: str
    agent: str | None
    metric: str  # "p95_ms" or "success_rate"
    baseline: float
    current: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: the shape ``vaquero analyze --json`` promises for this part."""
        return {"workflow": self.workflow, "agent": self.agent, "metric": self.metric,
                "baseline": self.baseline, "current": self.current}


@dataclass(frozen=True)
class AnalysisResult:
    """Everything ``analyze`` found. ``to_dict()`` is the ``--json`` output."""

    workflows: tuple[WorkflowStats, ...]
    insights: tuple[Insight, ...]
    spans_read: int
    malformed_lines: int
    problems: tuple[tuple[int, str], ...] = ()
    kept_traces: tuple[KeptTrace, ...] = ()
    # (earliest span start, latest span end) in ns over everything read; None when empty.
    time_range: tuple[int, int] | None = None
    # Traces whose root span never arrived: counted here, never a workflow or an insight.
    incomplete_traces: int = 0
    duplicate_spans: int = 0
    # What was not read, one sentence each: a Jaeger search limit hit, a service that failed,
    # a compressed file cut short.
    notices: tuple[str, ...] = ()
    # HTTP requests whose trace holds no agent (GET /health), left out of ``workflows``
    # because the source holds agent runs: how many runs, and their workflow names.
    request_only_runs: int = 0
    request_only_workflows: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: the shape ``vaquero analyze --json`` promises for this part."""
        return {
            "workflows": [workflow.to_dict() for workflow in self.workflows],
            "insights": [insight.to_dict() for insight in self.insights],
            "spans_read": self.spans_read,
            "malformed_lines": self.malformed_lines,
            "time_range": (
                None if self.time_range is None
                else {"start_ns": self.time_range[0], "end_ns": self.time_range[1]}
            ),
            "incomplete_traces": self.incomplete_traces,
            "duplicate_spans": self.duplicate_spans,
            "notices": list(self.notices),
            "request_only_runs": self.request_only_runs,
            "request_only_workflows": list(self.request_only_workflows),
        }
