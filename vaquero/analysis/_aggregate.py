"""Fold finished traces into per-workflow statistics, one trace at a time.

A *workflow* is every root span with the same (``gen_ai.agent.name``, span name). Each root is
one *run*; it failed when the root's status is ERROR. Per run we visit its subtree once to
collect step calls, errors, self time, failure origins and critical-path time, then drop the
trace: only numbers (in compact ``array`` columns) outlive it, plus the few whole traces the
HTML report draws (the slowest run's trace and the last ``max_failed_traces`` failed ones).

A failure is counted where it *started*: an erroring span none of whose children errored. An
exception propagating up five levels is one failure of the innermost step, not five.
"""

from __future__ import annotations

from array import array
from collections import Counter, deque
from collections.abc import Sequence

from vaquero.analysis._percentile import nearest_rank
from vaquero.analysis._result import (
    FailurePattern,
    HistogramBin,
    KeptTrace,
    StepStats,
    WorkflowStats,
)
from vaquero.analysis._span import Span
from vaquero.analysis._trace_metrics import TraceTree, critical_path, self_time_ns

__all__ = ["WorkflowAggregator"]

_NS_PER_MS = 1_000_000
_TOP_FAILURES = 10
_NO_FAILURE_TEXT = "(no exception type or message)"


class _StepAcc:
    __slots__ = ("calls", "critical_ns", "errors", "self_ns")

    def __init__(self) -> None:
        self.calls = 0
        self.errors = 0
        self.critical_ns = 0
        self.self_ns = array("q")


class _WorkflowAcc:
    __slots__ = ("agent", "durations", "failed", "failures", "incomplete", "name", "steps",
                 "success_ns")

    def __init__(self, name: str, agent: str | None) -> None:
        self.name = name
        self.agent = agent
        self.durations = array("q")
        self.failed = 0
        self.incomplete = 0
        self.success_ns = 0
        self.steps: dict[str, _StepAcc] = {}
        self.failures: Counter[tuple[str, str]] = Counter()


class WorkflowAggregator:
    """Accumulates statistics; pass it each finished trace via :meth:`add_trace`."""

    def __init__(
        self,
        *,
        workflow: str | None = None,
        started_after_ns: int | None = None,
        keep_traces: bool = False,
        max_failed_traces: int = 10,
    ) -> None:
        self._workflow_filter = workflow
        self._started_after = started_after_ns
        self._keep = keep_traces
        self._workflows: dict[tuple[str | None, str], _WorkflowAcc] = {}
        self._slowest: KeptTrace | None = None
        self._failed: deque[KeptTrace] = deque(maxlen=max(0, max_failed_traces))

    def add_trace(self, spans: Sequence[Span]) -> None:
        tree = TraceTree(spans)
        for root in tree.roots:
            if self._wanted(root):
                self._add_run(root, tree, spans)

    def workflows(self) -> list[WorkflowStats]:
        """Finished statistics, busiest workflow first."""
        stats = [_finish(acc) for acc in self._workflows.values()]
        stats.sort(key=lambda item: (-item.runs, item.name, item.agent or ""))
        return stats

    def kept_traces(self) -> list[KeptTrace]:
        kept = [self._slowest] if self._slowest is not None else []
        return kept + list(self._failed)

    def _wanted(self, root: Span) -> bool:
        if self._started_after is not None and root.start_ns < self._started_after:
            return False
        wanted = self._workflow_filter
        return wanted is None or root.name == wanted or root.agent == wanted

    def _add_run(self, root: Span, tree: TraceTree, spans: Sequence[Span]) -> None:
        key = (root.agent, root.name)
        acc = self._workflows.get(key)
        if acc is None:
            acc = self._workflows[key] = _WorkflowAcc(root.name, root.agent)
        duration = root.end_ns - root.start_ns
        acc.durations.append(duration)
        if tree.incomplete:
            acc.incomplete += 1
        if root.error:
            acc.failed += 1
        else:
            acc.success_ns += duration

        steps = acc.steps
        failures = acc.failures
        if root.error and not _any_error(tree.kids(root)):
            failures[(root.failure or _NO_FAILURE_TEXT, root.name)] += 1
        for span in tree.descendants(root):
            step = steps.get(span.name)
            if step is None:
                step = steps[span.name] = _StepAcc()
            kids = tree.kids(span)
            step.calls += 1
            step.self_ns.append(self_time_ns(span, kids))
            if span.error:
                step.errors += 1
                if not _any_error(kids):
                    failures[(span.failure or _NO_FAILURE_TEXT, span.name)] += 1
        for span, nanoseconds in critical_path(root, tree):
            if span is not root:
                steps[span.name].critical_ns += nanoseconds

        if self._keep:
            self._keep_trace(root, duration, spans)

    def _keep_trace(self, root: Span, duration: int, spans: Sequence[Span]) -> None:
        if self._slowest is None or duration > self._slowest.duration_ms * _NS_PER_MS:
            self._slowest = KeptTrace("slowest run", root.name, duration / _NS_PER_MS,
                                      tuple(spans))
        if root.error and self._failed.maxlen:
            self._failed.append(KeptTrace("failed run", root.name, duration / _NS_PER_MS,
                                          tuple(spans)))


def _any_error(spans: Sequence[Span]) -> bool:
    return any(span.error for span in spans)


def _ms(nanoseconds: int) -> float:
    return round(nanoseconds / _NS_PER_MS, 3)


def _finish(acc: _WorkflowAcc) -> WorkflowStats:
    durations = sorted(acc.durations)
    runs = len(durations)
    total_ns = sum(durations)
    succeeded = runs - acc.failed
    steps = []
    for name, step in acc.steps.items():
        self_times = sorted(step.self_ns)
        steps.append(StepStats(
            name=name,
            calls=step.calls,
            error_rate=round(step.errors / step.calls, 4),
            self_p50_ms=_ms(nearest_rank(self_times, 50)),
            self_p95_ms=_ms(nearest_rank(self_times, 95)),
            critical_path_share=round(step.critical_ns / total_ns, 4) if total_ns else 0.0,
        ))
    steps.sort(key=lambda step: (-step.critical_path_share, -step.calls, step.name))
    failures = [
        FailurePattern(exception_type, step_name, count)
        for (exception_type, step_name), count in acc.failures.most_common()
    ]
    failures.sort(key=lambda item: (-item.count, item.step, item.exception_type))
    return WorkflowStats(
        name=acc.name,
        agent=acc.agent,
        runs=runs,
        success_rate=round(succeeded / runs, 4) if runs else 0.0,
        p50_ms=_ms(nearest_rank(durations, 50)),
        p95_ms=_ms(nearest_rank(durations, 95)),
        p99_ms=_ms(nearest_rank(durations, 99)),
        max_ms=_ms(durations[-1]) if durations else 0.0,
        mean_success_s=(acc.success_ns / succeeded / 1e9) if succeeded else 0.0,
        steps=tuple(steps),
        failures=tuple(failures[:_TOP_FAILURES]),
        incomplete_runs=acc.incomplete,
        histogram=_histogram(durations),
    )


def _histogram(
    sorted_durations: Sequence[int], bins: int = 20
) -> tuple[HistogramBin, ...]:
    """Equal-width bins from the fastest to the slowest run (one bin when all are equal)."""
    if not sorted_durations:
        return ()
    low, high = sorted_durations[0], sorted_durations[-1]
    if high == low:
        return ((_ms(low), _ms(high), len(sorted_durations), 0),)
    width = (high - low) / bins
    counts = [0] * bins
    for value in sorted_durations:
        counts[min(int((value - low) / width), bins - 1)] += 1
    return tuple(
        (_ms(int(low + index * width)), _ms(int(low + (index + 1) * width)), count, 0)
        for index, count in enumerate(counts)
    )
