"""Which spans are workflow runs (issue 12 item 1) and showing the whole run (item 3).

Times are milliseconds from the trace's start; ``invoke=True`` is an agent set on the span
itself (vaquero writes ``gen_ai.operation.name = invoke_agent`` there and only the inherited
``gen_ai.agent.name`` on the spans below).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _otlp_builder import span, write

from vaquero.analysis import analyze
from vaquero.analysis.errors import AnalysisInputError

REPO = Path(__file__).resolve().parent.parent


def _order_request(trace: int, failed: bool) -> list[dict]:
    """GET /order (no agent) > order_agent (agent on itself) > lookup, charge (inherited)."""
    base = trace * 100
    return [
        span(trace, base + 1, None, "GET /order", 0, 100,
             message="500" if failed else None),
        span(trace, base + 2, base + 1, "order_agent", 5, 95, agent="order_agent", invoke=True,
             error="ValueError" if failed else None, message="card declined" if failed else None),
        span(trace, base + 3, base + 2, "lookup", 5, 40, agent="order_agent"),
        span(trace, base + 4, base + 2, "charge", 40, 90, agent="order_agent",
             error="ValueError" if failed else None, message="card declined" if failed else None),
    ]


def test_agent_inside_a_web_request_is_the_workflow(tmp_path: Path) -> None:
    path = write(tmp_path / "t.jsonl", *(_order_request(t, failed=True) for t in (1, 2, 3)))
    result = analyze(path).to_dict()
    (workflow,) = result["workflows"]
    assert (workflow["name"], workflow["agent"], workflow["runs"]) == (
        "order_agent", "order_agent", 3)
    assert workflow["success_rate"] == 0.0
    assert workflow["duration_ms"]["max"] == 90.0  # the agent span, not the HTTP span
    assert {s["name"] for s in workflow["steps"]} == {"lookup", "charge"}
    assert workflow["failures"] == [
        {"exception_type": "ValueError", "step": "charge", "count": 3}]
    assert [w["name"] for w in analyze(path, workflow="order_agent").to_dict()["workflows"]] \
        == ["order_agent"]


def test_sibling_agents_under_one_root_are_two_runs(tmp_path: Path) -> None:
    spans = [
        span(1, 1, None, "POST /batch", 0, 100),
        span(1, 2, 1, "triage", 0, 40, agent="triage_agent", invoke=True),
        span(1, 3, 2, "classify", 0, 30, agent="triage_agent"),
        span(1, 4, 1, "triage", 50, 100, agent="triage_agent", invoke=True),
        span(1, 5, 4, "classify", 50, 70, agent="triage_agent"),
    ]
    (workflow,) = analyze(write(tmp_path / "t.jsonl", spans)).workflows
    assert (workflow.name, workflow.agent, workflow.runs) == ("triage", "triage_agent", 2)
    assert (workflow.p50_ms, workflow.max_ms) == (40.0, 50.0)


def test_nested_sub_agent_is_a_step_of_the_outer_run(tmp_path: Path) -> None:
    spans = [
        span(1, 1, None, "planner", 0, 100, agent="planner", invoke=True),
        span(1, 2, 1, "researcher", 10, 80, agent="researcher", invoke=True),
        span(1, 3, 2, "search", 20, 60, agent="researcher"),
    ]
    (workflow,) = analyze(write(tmp_path / "t.jsonl", spans)).workflows
    assert (workflow.name, workflow.runs) == ("planner", 1)
    assert {s.name: s.calls for s in workflow.steps} == {"researcher": 1, "search": 1}
    with pytest.raises(AnalysisInputError, match=r"'researcher' matches no workflow.*: planner"):
        analyze(tmp_path / "t.jsonl", workflow="researcher")  # a step, not a workflow


def test_no_agent_anywhere_means_the_root_is_the_run(tmp_path: Path) -> None:
    spans = [span(1, 1, None, "nightly_job", 0, 50), span(1, 2, 1, "export", 0, 40)]
    (workflow,) = analyze(write(tmp_path / "t.jsonl", spans)).workflows
    assert (workflow.name, workflow.agent, workflow.runs) == ("nightly_job", None, 1)


def test_agent_name_without_the_operation_marks_where_the_parent_differs(
        tmp_path: Path) -> None:
    # Writers that put gen_ai.agent.name only where the agent starts (no invoke_agent): the
    # span naming an agent its parent does not is the run; its same-named children are steps.
    spans = [
        span(1, 1, None, "GET /ask", 0, 100),
        span(1, 2, 1, "support_agent", 10, 90, agent="support"),
        span(1, 3, 2, "llm_call", 20, 80, agent="support"),
    ]
    (workflow,) = analyze(write(tmp_path / "t.jsonl", spans)).workflows
    assert (workflow.name, workflow.agent) == ("support_agent", "support")
    assert [s.name for s in workflow.steps] == ["llm_call"]


# --- item 3: the whole run -------------------------------------------------------------------

def test_own_time_completes_the_critical_path_to_one(tmp_path: Path) -> None:
    # pipeline [0,100]: fetch [0,20] fails and is retried after a backoff, fetch [55,80]
    # succeeds. The pipeline's own time: 20..55 (backoff, 35) + 80..100 (20) = 55 ms.
    spans = [
        span(1, 1, None, "pipeline", 0, 100, agent="pipeline", invoke=True),
        span(1, 2, 1, "fetch", 0, 20, agent="pipeline", error="TimeoutError"),
        span(1, 3, 1, "fetch", 55, 80, agent="pipeline"),
    ]
    (workflow,) = analyze(write(tmp_path / "t.jsonl", spans)).workflows
    assert workflow.own_time_share == 0.55
    assert [(s.name, s.critical_path_share) for s in workflow.steps] == [("fetch", 0.45)]
    assert workflow.own_time_share + sum(s.critical_path_share for s in workflow.steps) == 1.0
    proc = subprocess.run([sys.executable, "-m", "vaquero.analysis", "analyze",
                           str(tmp_path / "t.jsonl")], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert "(workflow own time)" in proc.stdout
    own_row = next(row for row in proc.stdout.splitlines() if "(workflow own time)" in row)
    assert own_row.rstrip().endswith("55.0%")


def test_root_failing_after_a_handled_child_failure_is_its_own_failure(
        tmp_path: Path) -> None:
    spans = [
        span(1, 1, None, "sync", 0, 100, agent="sync", invoke=True, error="RuntimeError",
             message="gave up"),
        span(1, 2, 1, "pull", 0, 30, agent="sync", error="ConnectionError", message="reset"),
        span(1, 3, 1, "push", 40, 60, agent="sync"),
    ]
    (workflow,) = analyze(write(tmp_path / "t.jsonl", spans)).workflows
    assert {(f.exception_type, f.step, f.count) for f in workflow.failures} == {
        ("RuntimeError", "sync", 1), ("ConnectionError", "pull", 1)}


def test_propagated_exception_is_one_failure_where_it_started(tmp_path: Path) -> None:
    spans = [
        span(1, 1, None, "sync", 0, 100, agent="sync", invoke=True, error="KeyError"),
        span(1, 2, 1, "merge", 0, 90, agent="sync", error="KeyError"),
        span(1, 3, 2, "lookup", 10, 80, agent="sync", error="KeyError"),
    ]
    (workflow,) = analyze(write(tmp_path / "t.jsonl", spans)).workflows
    assert [(f.exception_type, f.step, f.count) for f in workflow.failures] == [
        ("KeyError", "lookup", 1)]


def test_span_with_a_missing_parent_is_not_a_workflow(tmp_path: Path) -> None:
    spans = [
        span(1, 1, None, "checkout", 0, 100, agent="checkout", invoke=True),
        span(1, 2, 1, "reserve", 0, 50, agent="checkout"),
        # parent 99 was never exported: this subtree cannot be placed
        span(1, 3, 99, "notify", 60, 90, agent="checkout"),
        span(1, 4, 3, "send_mail", 60, 80, agent="checkout"),
    ]
    result = analyze(write(tmp_path / "t.jsonl", spans))
    (workflow,) = result.workflows
    assert (workflow.name, workflow.runs, workflow.incomplete_runs) == ("checkout", 1, 1)
    assert [s.name for s in workflow.steps] == ["reserve"]
    assert result.spans_read == 4


def test_duplicates_are_not_counted_twice(tmp_path: Path) -> None:
    spans = _order_request(1, failed=False)
    once = analyze(write(tmp_path / "once.jsonl", spans)).to_dict()
    twice = analyze(write(tmp_path / "twice.jsonl", spans, spans)).to_dict()
    assert (once["spans_read"], twice["spans_read"]) == (4, 4)
    assert twice.pop("duplicate_spans") == 4
    once.pop("duplicate_spans")
    assert twice == once


def test_help_states_the_percentile_method() -> None:
    proc = subprocess.run([sys.executable, "-m", "vaquero.analysis", "analyze", "--help"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "nearest-rank" in text
    assert "ceil(p/100*n)" in text
