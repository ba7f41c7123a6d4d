"""Fold whole traces into per-workflow statistics, one trace at a time.

**Which spans are workflow runs.** A run is the outermost span that carries an agent or a
workflow *on itself*, wherever it sits in the trace (a web service puts its HTTP server span
at the root and the agent below it). A span carries a workflow on itself when it is a
workflow invocation (``gen_ai.operation.name = invoke_workflow`` with a
``gen_ai.workflow.name``, grouped under that name), and an agent when it is an agent
invocation (``gen_ai.operation.name = invoke_agent``), or when it names an agent its parent does not
(files from writers that set ``gen_ai.agent.name`` only where the agent starts). A span that
merely inherited its parent's agent name, as vaquero stamps on every descendant, is a step.
Under one root: two sibling agent spans are two runs; an agent nested in an agent is a step of
the outer run; with no agent span at all, the root span is the run. A *workflow* is every run
with the same (agent, span name).

**What a trace must have.** A trace with no root span (its root never arrived) is counted in
``incomplete_traces`` and is otherwise ignored: it never becomes a workflow and so never fires
an insight. A span whose parent is missing is left out (it cannot be placed in a run), and the
runs of its trace are counted as incomplete.

Per run we visit its subtree once: step calls, errors, self time, failure origins and
critical-path time; then only numbers (compact ``array`` columns) outlive the trace.

**Bounded, whatever the names.** Names that carry ids (an un-templated route such as
``GET /user/1234`` as the root span's name, an exception message with a request id in it)
would make one workflow, step or failure pattern per value, each with its accumulator and its
time buckets. So at most ``MAX_WORKFLOWS`` workflows get rows of their own, the first ones
met; the runs of every later name are counted together in one ``(other workflows)`` row, and
a notice says so and why. Steps per workflow (``MAX_STEPS``) and failure patterns
(``MAX_FAILURE_PATTERNS``) are folded the same way. Below those limits which names get rows
does not depend on the order of the input; past them, which names came first decides it, and
the totals still do not.

**Where a failure is counted.** At the erroring span where it started: an erroring span is a
failure origin unless one of its erroring children carries the same failure (exception type,
or status message), which means the error just propagated up. So an exception raised five
levels down is one failure of the innermost step, and a root that fails *after* a child's
failure was handled (a different exception) is a failure of its own.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence
from hashlib import blake2b
from operator import itemgetter

from vaquero.analysis._filter import WorkflowNames
from vaquero.analysis._http import ROLE_REQUEST, without_plumbing
from vaquero.analysis._limits import MAX_FAILURE_PATTERNS, MAX_STEPS, MAX_WORKFLOWS
from vaquero.analysis._percentile import nearest_rank
from vaquero.analysis._result import (
    FailurePattern,
    HistogramBin,
    StepStats,
    TimeBucket,
    WorkflowStats,
)
from vaquero.analysis._span import Span
from vaquero.analysis._timeseries import TimeAxis, choose_axis
from vaquero.analysis._trace_metrics import TraceTree, critical_path, self_time_ns

__all__ = ["OTHER_FAILURES", "OTHER_STEPS", "OTHER_WORKFLOWS", "KeepRequest",
           "WorkflowAggregator", "find_runs", "trace_key"]

# The rows the long tails fold into: parenthesised, like OWN_TIME_STEP, so no real name is one.
OTHER_WORKFLOWS = "(other workflows)"
OTHER_STEPS = "(other steps)"
OTHER_FAILURES = "(other failures)"
_ANY_STEP = "(any step)"

_NS_PER_MS = 1_000_000
_START = itemgetter(4)  # Span.start_ns, read in C by min/max
_END = itemgetter(5)  # Span.end_ns
TOP_FAILURES = 10
_NO_FAILURE_TEXT = "(no exception type or message)"

WorkflowKey = tuple[str | None, str]  # (agent, run span name)


class _StepAcc:
    __slots__ = ("calls", "critical_ns", "errors", "self_ns")

    def __init__(self) -> None:
        self.calls = 0
        self.errors = 0
        self.critical_ns = 0
        self.self_ns = array("q")


class _WorkflowAcc:
    __slots__ = ("agent", "durations", "examples", "failed", "failures", "incomplete", "name",
                 "ordinals", "own_ns", "request_only", "sizes", "starts", "steps", "success_ns")

    def __init__(self, name: str, agent: str | None) -> None:
        self.name = name
        self.agent = agent
        self.durations = array("q")
        self.failed = bytearray()
        self.starts = array("q")
        # each run's trace key (hash of the trace id), only when traces are kept: a choice
        # among equal runs by key does not depend on the order traces came in
        self.ordinals = array("q")
        self.sizes = array("q")  # each run's trace size in spans, likewise: the report's budget
        self.incomplete = 0
        self.request_only = False  # an HTTP request whose trace holds no agent (_http)
        self.success_ns = 0
        self.own_ns = 0
        self.steps: dict[str, _StepAcc] = {}
        self.failures: Counter[tuple[str, str]] = Counter()
        # failure pattern -> (trace key, run duration) of the run with the smallest key
        self.examples: dict[tuple[str, str], tuple[int, int, int]] = {}


class KeepRequest:
    """A trace the report wants drawn: which trace (by key), and why."""

    __slots__ = ("agent", "ordinal", "reason", "run_duration_ns", "spans", "workflow")

    def __init__(self, ordinal: int, reason: str, workflow: str, agent: str | None,
                 run_duration_ns: int, spans: int = 0) -> None:
        self.ordinal = ordinal
        self.reason = reason
        self.workflow = workflow
        self.agent = agent
        self.run_duration_ns = run_duration_ns
        self.spans = spans  # the trace's size, what keeping it costs


def trace_key(trace_id: str) -> int:
    """A 64-bit key for a trace id, the same in every process and every run.

    Equal runs (the same duration, the same failure) are told apart by this key, so it
    decides which traces a report shows as examples. ``hash()`` of a string is salted per
    process (``PYTHONHASHSEED``): two reports of one file named different example traces.
    """
    digest = blake2b(trace_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def _owns_agent(span: Span, by_id: dict[str, Span]) -> bool:
    """Does ``span`` start an agent, rather than inherit its parent's agent name?"""
    if span.invokes_agent or span.workflow is not None:
        return True
    agent = span.agent
    if agent is None:
        return False
    parent = span.parent_id
    return parent is None or by_id[parent].agent != agent


def find_runs(tree: TraceTree) -> list[Span]:
    """The workflow runs of a trace (see the module docstring), in start order."""
    runs: list[Span] = []
    by_id = tree.by_id
    children = tree.children
    for root in tree.roots:
        if _owns_agent(root, by_id):
            runs.append(root)
            continue
        found: list[Span] = []
        stack = list(children.get(root.span_id, ()))
        while stack:
            span = stack.pop()
            if _owns_agent(span, by_id):
                found.append(span)
            else:
                kids = children.get(span.span_id)
                if kids:
                    stack.extend(kids)
        if found:
            found.sort(key=lambda span: (span.start_ns, span.span_id))
            runs.extend(found)
        else:
            runs.append(root)
    return runs


class WorkflowAggregator:
    """Accumulates statistics; pass it each whole trace via :meth:`add_trace`."""

    def __init__(
        self,
        *,
        workflow: str | None = None,
        started_after_ns: int | None = None,
        keep_traces: bool = False,
    ) -> None:
        self._axis: TimeAxis | None = None
        self.names = WorkflowNames(workflow)  # the filter, and what it could have matched
        self._started_after = started_after_ns
        self._keep = keep_traces
        self._workflows: dict[WorkflowKey, _WorkflowAcc] = {}
        self.spans = 0
        self.duplicates = 0
        self.first_ns: int | None = None  # earliest span start seen
        self.last_ns: int | None = None  # latest span end seen
        self.incomplete_traces = 0
        # (runs, workflow names) of the request-only runs left out by workflows()
        self.request_only: tuple[int, tuple[str, ...]] = (0, ())
        self._ordinal = 0
        self.folded_runs = 0  # runs counted under OTHER_WORKFLOWS

    def notices(self) -> list[str]:
        """What the user must know about rows folded together (see the module docstring)."""
        if not self.folded_runs:
            return []
        return [f"more than {MAX_WORKFLOWS} distinct workflow names (agent, root span name): "
                f"{self.folded_runs:,} runs under the names met after the first "
                f"{MAX_WORKFLOWS} are counted together as {OTHER_WORKFLOWS!r}. Names that "
                "carry ids (an un-templated route such as 'GET /user/1234') make one workflow "
                "per value: give such spans a templated name ('GET /user/{id}') and put the "
                "id in an attribute."]

    def add_trace(self, spans: Sequence[Span]) -> None:
        """One whole trace, its spans in any order, duplicates allowed."""
        if self._keep:
            self._ordinal = trace_key(spans[0].trace_id)
        first = min(map(_START, spans))
        last = max(map(_END, spans))
        if self.first_ns is None or first < self.first_ns:
            self.first_ns = first
        if self.last_ns is None or last > self.last_ns:
            self.last_ns = last
        tree = TraceTree(spans)
        unique = len(tree.by_id)
        self.spans += unique
        if unique != len(spans):
            self.duplicates += len(spans) - unique
        kept = without_plumbing(list(tree.by_id.values()))
        if len(kept) != unique:  # ASGI "http send" spans: transport, not steps
            tree = TraceTree(kept)
        if not tree.roots:
            self.incomplete_traces += 1
            return
        for run in find_runs(tree):
            if self._wanted(run):
                self._add_run(run, tree)

    def workflows(self) -> list[WorkflowStats]:
        """Finished statistics, busiest workflow first; call once every trace is in.

        When the source holds agent runs and no ``--workflow`` chose, request-only runs
        (``GET /health``) are counted in :attr:`request_only` instead of listed.
        """
        if self.first_ns is not None and self.last_ns is not None:
            self._axis = choose_axis(self.first_ns, self.last_ns)
        shown = list(self._workflows.values())
        if self.names.wanted is None and any(acc.agent is not None for acc in shown):
            hidden = [acc for acc in shown if acc.request_only]
            hidden.sort(key=lambda acc: (-len(acc.durations), acc.name))
            self.request_only = (sum(len(acc.durations) for acc in hidden),
                                 tuple(acc.name for acc in hidden))
            shown = [acc for acc in shown if not acc.request_only]
        stats = [self._finish(acc) for acc in shown]
        stats.sort(key=lambda item: (-item.runs, item.name, item.agent or ""))
        return stats

    def keep_requests(self, workflows: Sequence[WorkflowStats]) -> list[KeepRequest]:
        """Per workflow: the slowest run, one at p95, one per top failure pattern."""
        requests: list[KeepRequest] = []
        for stats in workflows:
            acc = self._workflows[(stats.agent, stats.name)]
            if not acc.ordinals:
                continue
            durations = acc.durations
            slowest = max(range(len(durations)), key=lambda i: (durations[i], -acc.ordinals[i]))
            requests.append(KeepRequest(acc.ordinals[slowest], "slowest", acc.name, acc.agent,
                                        durations[slowest], acc.sizes[slowest]))
            p95_ns = round(stats.p95_ms * _NS_PER_MS)
            near = min(range(len(durations)),
                       key=lambda i: (abs(durations[i] - p95_ns), acc.ordinals[i]))
            if near != slowest:
                requests.append(KeepRequest(acc.ordinals[near], "p95", acc.name, acc.agent,
                                            durations[near], acc.sizes[near]))
            for failure in stats.failures:
                example = acc.examples.get((failure.exception_type, failure.step))
                if example is not None:
                    requests.append(KeepRequest(
                        example[0], f"failure: {failure.exception_type} in {failure.step}",
                        acc.name, acc.agent, example[1], example[2]))
        return requests

    def _wanted(self, run: Span) -> bool:
        # A workflow invocation is filtered, like it is grouped, by its workflow name.
        if not self.names.saw(run.workflow or run.name, run.agent):
            return False
        return self._started_after is None or run.start_ns >= self._started_after

    def _add_run(self, run: Span, tree: TraceTree) -> None:
        # A workflow invocation is grouped under its workflow name, whatever its span is
        # called (the user's name, or the spec's "invoke_workflow {name}").
        name = run.workflow or run.name
        key = (run.agent, name)
        acc = self._workflows.get(key)
        if acc is None:
            if len(self._workflows) >= MAX_WORKFLOWS and key != (None, OTHER_WORKFLOWS):
                key = (None, OTHER_WORKFLOWS)
                self.folded_runs += 1
                acc = self._workflows.get(key)
            if acc is None:
                acc = self._workflows[key] = _WorkflowAcc(key[1], key[0])
                acc.request_only = (run.role == ROLE_REQUEST and run.agent is None
                                    and key[1] != OTHER_WORKFLOWS)
        duration = run.end_ns - run.start_ns
        acc.durations.append(duration)
        acc.failed.append(1 if run.error else 0)
        acc.starts.append(run.start_ns)
        if self._keep:
            acc.ordinals.append(self._ordinal)
            acc.sizes.append(len(tree.by_id))
        if tree.incomplete:
            acc.incomplete += 1
        if not run.error:
            acc.success_ns += duration

        steps = acc.steps
        failures = acc.failures
        children = tree.children
        no_kids: list[Span] = []
        origins: list[tuple[str, str]] = []
        if run.error and _is_origin(run, children.get(run.span_id, no_kids)):
            origins.append((run.failure or _NO_FAILURE_TEXT, run.name))
        stack = list(children.get(run.span_id, no_kids))
        while stack:
            span = stack.pop()
            name = span.name
            step = steps.get(name)
            if step is None:
                if len(steps) >= MAX_STEPS:
                    name = OTHER_STEPS
                    step = steps.get(name)
                if step is None:
                    step = steps[name] = _StepAcc()
            kids = children.get(span.span_id)
            step.calls += 1
            if kids:
                step.self_ns.append(self_time_ns(span, kids))
                stack.extend(kids)
            else:
                step.self_ns.append(span.end_ns - span.start_ns)
            if span.error:
                step.errors += 1
                if _is_origin(span, kids or no_kids):
                    origins.append((span.failure or _NO_FAILURE_TEXT, name))
        for pattern in origins:
            if pattern not in failures and len(failures) >= MAX_FAILURE_PATTERNS:
                pattern = (OTHER_FAILURES, _ANY_STEP)
            failures[pattern] += 1
            if self._keep:
                example = acc.examples.get(pattern)
                if example is None or self._ordinal < example[0]:
                    acc.examples[pattern] = (self._ordinal, duration, len(tree.by_id))
        for span, nanoseconds in critical_path(run, tree):
            if span is run:
                acc.own_ns += nanoseconds
            else:  # every span on the path was walked above: it has a row, or was folded
                (steps.get(span.name) or steps[OTHER_STEPS]).critical_ns += nanoseconds

    def _finish(self, acc: _WorkflowAcc) -> WorkflowStats:
        # The one sorted list of every run's duration (boxed ints: the largest thing a
        # million-run workflow makes here) lives only while the percentiles are read.
        durations = sorted(acc.durations)
        runs = len(durations)
        p50, p95, p99 = (nearest_rank(durations, rank) for rank in (50, 95, 99))
        slowest = durations[-1] if durations else 0
        del durations
        total_ns = sum(acc.durations)
        failed = sum(acc.failed)
        succeeded = runs - failed
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
            for (exception_type, step_name), count in acc.failures.items()
        ]
        failures.sort(key=lambda item: (-item.count, item.step, item.exception_type))
        return WorkflowStats(
            name=acc.name,
            agent=acc.agent,
            runs=runs,
            success_rate=round(succeeded / runs, 4) if runs else 0.0,
            p50_ms=_ms(p50),
            p95_ms=_ms(p95),
            p99_ms=_ms(p99),
            max_ms=_ms(slowest) if runs else 0.0,
            mean_success_s=(acc.success_ns / succeeded / 1e9) if succeeded else 0.0,
            steps=tuple(steps),
            failures=tuple(failures[:TOP_FAILURES]),
            incomplete_runs=acc.incomplete,
            histogram=_histogram(acc.durations, acc.failed),
            timeseries=self._timeseries(acc),
            own_time_share=round(acc.own_ns / total_ns, 4) if total_ns else 0.0,
        )

    def _timeseries(self, acc: _WorkflowAcc) -> tuple[TimeBucket, ...]:
        axis = self._axis
        if axis is None:
            return ()
        # unboxed columns per bucket; each is sorted (boxed) only while its p95 is read
        per_bucket = [array("q") for _ in range(axis.count)]
        errors = [0] * axis.count
        bucket_of = axis.index
        for start, duration, failed in zip(acc.starts, acc.durations, acc.failed, strict=True):
            bucket = bucket_of(start)
            per_bucket[bucket].append(duration)
            errors[bucket] += failed
        buckets = []
        for position, column in enumerate(per_bucket):
            values = sorted(column)
            begin = axis.origin_ns + position * axis.width_ns
            buckets.append(TimeBucket(begin, begin + axis.width_ns, len(values),
                                      errors[position], _ms(nearest_rank(values, 95))))
            per_bucket[position] = array("q")
        return tuple(buckets)


def _is_origin(span: Span, kids: Sequence[Span]) -> bool:
    """Did ``span``'s error start here, rather than propagate up from an erroring child?"""
    failure = span.failure
    if failure is None:
        return not any(kid.error for kid in kids)  # nothing to tell them apart by
    message = span.message
    for kid in kids:
        if kid.error and (kid.failure == failure or (message and kid.message == message)):
            return False
    return True


def _ms(nanoseconds: int) -> float:
    return round(nanoseconds / _NS_PER_MS, 3)


def _histogram(
    durations: Sequence[int], failed: Sequence[int], bins: int = 20
) -> tuple[HistogramBin, ...]:
    """Equal-width bins from the fastest to the slowest run (one bin when all are equal)."""
    if not durations:
        return ()
    low, high = min(durations), max(durations)
    failed_runs = sum(failed)
    if high == low:
        return ((_ms(low), _ms(high), len(durations) - failed_runs, failed_runs),)
    width = (high - low) / bins
    ok = [0] * bins
    bad = [0] * bins
    for value, was_failed in zip(durations, failed, strict=True):
        index = min(int((value - low) / width), bins - 1)
        if was_failed:
            bad[index] += 1
        else:
            ok[index] += 1
    return tuple(
        (_ms(int(low + index * width)), _ms(int(low + (index + 1) * width)), ok[index],
         bad[index])
        for index in range(bins)
    )
