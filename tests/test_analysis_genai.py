"""``vaquero analyze`` on GenAI workflow spans: a workflow invocation is a run, grouped under
its workflow name, whether spans carry the user's names or the spec's (issue 21 items 4, 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import file_env, read_trace_file, run_python

from vaquero.analysis import analyze

APP = """
import vaquero

@vaquero.trace(tool_name="search")
def search(q):
    return q

@vaquero.trace(agent_name="planner")
def plan(i):
    search(i)
    if i % 4 == 0:
        raise KeyError(i)

@vaquero.trace(workflow_name="orders")
def handle_order(i):
    plan(i)

with vaquero.span("GET /orders"):          # a web framework's root span above the workflow
    for i in range(8):
        try:
            handle_order(i)
        except KeyError:
            pass
"""


def _summary(path: Path) -> list[tuple]:
    result = analyze(path).to_dict()
    return sorted(
        (w["name"], w["agent"], w["runs"], w["success_rate"],
         sorted(s["name"].split(" ")[-1] for s in w["steps"]))
        for w in result["workflows"]
    )


@pytest.mark.parametrize("opt_in", ["", "gen_ai_latest_experimental"])
def test_a_workflow_invocation_is_a_run_grouped_under_its_workflow_name(tmp_path, opt_in):
    traces = tmp_path / "traces.jsonl"
    env = file_env(traces, OTEL_SEMCONV_STABILITY_OPT_IN=opt_in)
    result = run_python(APP, env=env, script=tmp_path / "app.py")
    assert result.returncode == 0, result.stderr
    names = {span["name"] for span in read_trace_file(traces)}
    if opt_in:
        assert "invoke_workflow orders" in names and "handle_order" not in names
    else:
        assert "handle_order" in names and "invoke_workflow orders" not in names
    steps = ["planner", "search"] if opt_in else ["plan", "search"]
    assert _summary(traces) == [("orders", None, 8, 0.75, steps)]


def test_both_namings_give_the_same_groups_and_runs(tmp_path):
    summaries = []
    for opt_in in ("", "gen_ai_latest_experimental"):
        traces = tmp_path / f"traces{bool(opt_in)}.jsonl"
        result = run_python(APP, env=file_env(traces, OTEL_SEMCONV_STABILITY_OPT_IN=opt_in),
                            script=tmp_path / "app.py")
        assert result.returncode == 0, result.stderr
        summaries.append([(name, agent, runs, rate) for name, agent, runs, rate, _ in
                          _summary(traces)])
    assert summaries[0] == summaries[1] == [("orders", None, 8, 0.75)]
