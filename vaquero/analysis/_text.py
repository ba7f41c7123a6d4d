"""Render an :class:`AnalysisResult` as plain-text tables for a terminal.

Plain ASCII columns (no colour, no box-drawing) so the output survives pipes, CI logs and
``less`` alike; long names are cut with an ellipsis so columns stay aligned.
"""

from __future__ import annotations

from collections.abc import Sequence

from vaquero.analysis._baseline import Comparison
from vaquero.analysis._result import OWN_TIME_STEP, AnalysisResult, WorkflowStats
from vaquero.analysis._words import count, cut, ms

__all__ = ["render_comparison", "render_text"]

_NAME_WIDTH = 34


def render_text(result: AnalysisResult, source: str) -> str:
    lines = [
        f"{source}: {count(result.spans_read, 'span')} read, "
        f"{count(result.malformed_lines, 'malformed line')} skipped, "
        f"{count(len(result.workflows), 'workflow')}",
    ]
    if result.incomplete_traces:
        lines.append(f"{count(result.incomplete_traces, 'trace')} without their root span left out "
                     "(incomplete: the root was not exported, or not yet)")
    if result.request_only_runs:
        lines.append(request_only_note(result))
    if not result.workflows:
        lines.append("No workflow runs found (check the source, --workflow and --since).")
        return "\n".join(lines) + "\n"
    lines.append("")
    lines.extend(_table(
        ("workflow", "agent", "runs", "success", "p50 ms", "p95 ms", "p99 ms", "max ms",
         "incomplete"),
        [
            (w.name, w.agent or "-", str(w.runs), _percent(w.success_rate), _num(w.p50_ms),
             _num(w.p95_ms), _num(w.p99_ms), _num(w.max_ms), str(w.incomplete_runs))
            for w in result.workflows
        ],
        text_columns=2,
    ))
    for workflow in result.workflows:
        lines.append("")
        lines.extend(_workflow_detail(workflow))
    lines.append("")
    if result.insights:
        lines.append("Insights:")
        for insight in result.insights:
            lines.append(f"  [{insight.type}] {insight.recommendation}")
    else:
        lines.append("Insights: none (every workflow is within the thresholds)")
    return "\n".join(lines) + "\n"


def request_only_note(result: AnalysisResult) -> str:
    """One sentence on the request-only runs left out (the report shows it too)."""
    names = result.request_only_workflows
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"{count(result.request_only_runs, 'request-only run')} left out ({shown}: HTTP "
            "requests whose trace holds no agent), as this source has agent runs; "
            f"--workflow {names[0]!r} shows one")


def _workflow_detail(workflow: WorkflowStats) -> list[str]:
    show_agent = workflow.agent and workflow.agent != workflow.name
    agent = f" (agent {workflow.agent})" if show_agent else ""
    lines = [f"{workflow.name}{agent}: steps"]
    if workflow.steps:
        rows = [
            (s.critical_path_share, (s.name, str(s.calls), _percent(s.error_rate),
                                     _num(s.self_p50_ms), _num(s.self_p95_ms),
                                     _percent(s.critical_path_share)))
            for s in workflow.steps
        ]
        # The run's own time (no step running: retry backoff, glue code) completes the
        # critical-path column to 100%; it sits where its share ranks it.
        own = (workflow.own_time_share, (OWN_TIME_STEP, "-", "-", "-", "-",
                                         _percent(workflow.own_time_share)))
        position = next((i for i, (share, _) in enumerate(rows) if share < own[0]), len(rows))
        rows.insert(position, own)
        lines.extend("  " + row for row in _table(
            ("step", "calls", "errors", "self p50 ms", "self p95 ms", "critical path"),
            [row for _, row in rows],
        ))
    else:
        lines.append("  (no child spans)")
    if workflow.failures:
        lines.append("  top failures:")
        for failure in workflow.failures:
            lines.append(
                f"    {failure.count:>5} x {_cut(failure.exception_type)} in {_cut(failure.step)}"
            )
    return lines


def render_comparison(comparison: Comparison, baseline: str) -> str:
    """The ``--baseline`` verdict under the tables."""
    lines = ["", f"Against baseline {baseline}: {count(comparison.compared, 'workflow')} "
                 f"compared, {count(len(comparison.regressions), 'regression')}"]
    for item in comparison.regressions:
        agent = f" (agent {item.agent})" if item.agent and item.agent != item.workflow else ""
        if item.metric == "p95_ms":
            change = f"p95 {_num(item.baseline)} ms -> {_num(item.current)} ms"
        else:
            change = f"success {_percent(item.baseline)} -> {_percent(item.current)}"
        lines.append(f"  REGRESSION {item.workflow}{agent}: {change}")
    for label, identities in (("only in this source", comparison.only_in_current),
                              ("only in the baseline", comparison.only_in_baseline)):
        if identities:
            names = ", ".join(name for name, _ in identities[:10])
            more = f" and {len(identities) - 10} more" if len(identities) > 10 else ""
            lines.append(f"  {label}: {names}{more}")
    return "\n".join(lines) + "\n"


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1
) -> list[str]:
    """Align columns: the first ``text_columns`` to the left, the numbers to the right."""
    cells = [list(header)] + [[_cut(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if index < text_columns else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    return [fmt(cells[0]), fmt(["-" * width for width in widths]), *(fmt(row) for row in cells[1:])]


def _cut(text: str) -> str:
    return cut(text, _NAME_WIDTH)


def _num(value: float) -> str:
    return ms(value)


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"
