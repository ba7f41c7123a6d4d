"""The analysis result: plain frozen data, plus the JSON shape the CLI's ``--json`` promises.

``to_dict`` is the contract (field names and nesting are relied on by scripts); everything
else here is free to grow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vaquero.analysis._span import Span

__all__ = [
    "AnalysisResult",
    "FailurePattern",
    "Insight",
    "KeptTrace",
    "StepStats",
    "WorkflowStats",
]


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
        return {"exception_type": self.exception_type, "step": self.step, "count": self.count}


@dataclass(frozen=True)
class WorkflowStats:
    """All runs of one (agent, root span name) pair."""

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
    # (low_ms, high_ms, runs) bins over the run durations, for the report's chart only.
    histogram: tuple[tuple[float, float, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
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
        return {
            "type": self.type,
            "workflow": self.workflow,
            "agent": self.agent,
            "recommendation": self.recommendation,
            **self.details,
        }


@dataclass(frozen=True)
class KeptTrace:
    """A whole trace kept for the report's waterfall, and why it was kept."""

    reason: str
    workflow: str
    duration_ms: float
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class AnalysisResult:
    """Everything ``analyze`` found. ``to_dict()`` is the ``--json`` output."""

    workflows: tuple[WorkflowStats, ...]
    insights: tuple[Insight, ...]
    spans_read: int
    malformed_lines: int
    problems: tuple[tuple[int, str], ...] = ()
    kept_traces: tuple[KeptTrace, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "workflows": [workflow.to_dict() for workflow in self.workflows],
            "insights": [insight.to_dict() for insight in self.insights],
            "spans_read": self.spans_read,
            "malformed_lines": self.malformed_lines,
        }
