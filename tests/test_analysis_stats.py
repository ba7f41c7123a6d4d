"""Exact workflow statistics on hand-built traces (tests/fixtures/analysis/workflows.jsonl).

The fixture holds 4 runs of user_registration_workflow and 2 of batch_processing_workflow.
Times below are milliseconds from each trace's start.

user_registration_workflow (agent user_registration_workflow):
  run 1 ok   root [0,100]: data_validation [0,20], duplicate_check [20,30],
             user_creation [30,80] > db_insert [40,70], welcome_email [80,100]
  run 2 ok   root [0,200]: data_validation [0,40], duplicate_check [40,50],
             user_creation [50,150] > db_insert [60,140], welcome_email [150,200]
  run 3 FAIL root [0,50] (status ERROR): data_validation [0,20],
             duplicate_check [20,50] ERROR with an exception event of type ValueError
  run 4 ok   root [0,400]: data_validation [0,100], duplicate_check [100,110],
             user_creation [110,300] > db_insert [120,290], welcome_email [300,400],
             analytics_update [300,350] (parallel to welcome_email)

batch_processing_workflow (agent parallel_processing_workflow):
  run 1 ok root [0,40000]: batch_validation [0,10000], parallel_processing [10000,40000]
           > batch_chunk [10000,30000] and batch_chunk [10000,38000]   (collector shape, hex)
  run 2 ok root [0,50000]: batch_validation [0,20000], parallel_processing [20000,50000]
           > batch_chunk [20000,50000]                                 (base64 ids, int64 numbers)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vaquero.analysis import analyze
from vaquero.analysis._percentile import nearest_rank
from vaquero.analysis._span import Span
from vaquero.analysis._trace_metrics import TraceTree, critical_path, self_time_ns
from vaquero.analysis.errors import AnalysisInputError

FIXTURES = Path(__file__).parent / "fixtures" / "analysis"
WORKFLOWS = FIXTURES / "workflows.jsonl"


@pytest.fixture(scope="module")
def result() -> dict:
    return analyze(WORKFLOWS).to_dict()


def _workflow(result: dict, name: str) -> dict:
    (found,) = [w for w in result["workflows"] if w["name"] == name]
    return found


def _step(workflow: dict, name: str) -> dict:
    (found,) = [s for s in workflow["steps"] if s["name"] == name]
    return found


def test_top_level_shape_and_counts(result: dict) -> None:
    assert set(result) == {"workflows", "insights", "spans_read", "malformed_lines",
                           "time_range", "incomplete_traces", "duplicate_spans", "notices",
                           "request_only_runs", "request_only_workflows"}
    # 6+6+3+7 registration spans + 5 + 4 batch spans
    assert result["spans_read"] == 31
    assert result["malformed_lines"] == 0
    assert [w["name"] for w in result["workflows"]] == [
        "user_registration_workflow", "batch_processing_workflow"]  # busiest first


def test_registration_runs_success_and_percentiles(result: dict) -> None:
    wf = _workflow(result, "user_registration_workflow")
    assert set(wf) == {"name", "agent", "runs", "success_rate", "duration_ms", "steps",
                       "failures", "incomplete_runs", "own_time_share", "timeseries"}
    assert wf["agent"] == "user_registration_workflow"
    assert wf["runs"] == 4
    assert wf["success_rate"] == 0.75  # run 3 failed
    # sorted durations 50, 100, 200, 400; nearest rank: p50 -> rank ceil(2)=2 -> 100,
    # p95 -> rank ceil(3.8)=4 -> 400, p99 -> rank 4 -> 400
    assert wf["duration_ms"] == {"p50": 100.0, "p95": 400.0, "p99": 400.0, "max": 400.0}
    assert wf["incomplete_runs"] == 0


def test_registration_steps_self_time_and_errors(result: dict) -> None:
    wf = _workflow(result, "user_registration_workflow")
    # data_validation has no children: self = duration = 20, 40, 20, 100 -> sorted 20,20,40,100
    assert _step(wf, "data_validation") == {
        "name": "data_validation", "calls": 4, "error_rate": 0.0,
        "self_ms": {"p50": 20.0, "p95": 100.0}, "critical_path_share": 0.24}
    # duplicate_check: 10, 10, 30, 10; one of four calls errored
    dup = _step(wf, "duplicate_check")
    assert (dup["calls"], dup["error_rate"]) == (4, 0.25)
    assert dup["self_ms"] == {"p50": 10.0, "p95": 30.0}
    # user_creation minus its db_insert child: 50-30, 100-80, 190-170 -> all 20
    assert _step(wf, "user_creation")["self_ms"] == {"p50": 20.0, "p95": 20.0}
    # db_insert: 30, 80, 170 -> p50 rank 2 = 80, p95 rank 3 = 170
    assert _step(wf, "db_insert")["self_ms"] == {"p50": 80.0, "p95": 170.0}
    assert _step(wf, "welcome_email")["self_ms"] == {"p50": 50.0, "p95": 100.0}
    assert _step(wf, "analytics_update")["calls"] == 1


def test_registration_critical_path_shares(result: dict) -> None:
    wf = _workflow(result, "user_registration_workflow")
    # Critical path time per run (walk back from the root's end, latest-ending child first):
    #   run 1: welcome 20, user_creation 10+10, db_insert 30, duplicate 10, validation 20 = 100
    #   run 2: welcome 50, user_creation 20, db_insert 80, duplicate 10, validation 40 = 200
    #   run 3: duplicate 30, validation 20 = 50
    #   run 4: welcome 100 (analytics_update ends at 350, after welcome_email starts at 300,
    #          so it is skipped), user_creation 20, db_insert 170, duplicate 10, validation 100
    # Sum of root durations = 750.
    shares = {s["name"]: s["critical_path_share"] for s in wf["steps"]}
    assert shares == {
        "db_insert": 0.3733,        # 280 / 750
        "data_validation": 0.24,    # 180 / 750
        "welcome_email": 0.2267,    # 170 / 750
        "duplicate_check": 0.08,    # 60 / 750
        "user_creation": 0.08,      # 60 / 750
        "analytics_update": 0.0,
    }
    # Steps are listed by critical-path share, ties by calls.
    assert [s["name"] for s in wf["steps"]][:4] == [
        "db_insert", "data_validation", "welcome_email", "duplicate_check"]


def test_failures_counted_where_they_start(result: dict) -> None:
    wf = _workflow(result, "user_registration_workflow")
    # The root of run 3 also has status ERROR, but its child duplicate_check errored first:
    # one failure, attributed to the step that raised.
    assert wf["failures"] == [{"exception_type": "ValueError", "step": "duplicate_check",
                               "count": 1}]


def test_batch_workflow_parallel_children(result: dict) -> None:
    wf = _workflow(result, "batch_processing_workflow")
    assert wf["agent"] == "parallel_processing_workflow"
    assert (wf["runs"], wf["success_rate"]) == (2, 1.0)
    assert wf["duration_ms"] == {"p50": 40000.0, "p95": 50000.0, "p99": 50000.0,
                                 "max": 50000.0}
    # parallel_processing self time: run 1: 30000 - union([10000,30000],[10000,38000]) = 2000;
    # run 2: fully covered -> 0
    assert _step(wf, "parallel_processing")["self_ms"] == {"p50": 0.0, "p95": 2000.0}
    # critical path: run 1 chunk 28000 + run 2 chunk 30000 = 58000 / 90000
    assert _step(wf, "batch_chunk")["critical_path_share"] == 0.6444
    assert _step(wf, "batch_validation")["critical_path_share"] == 0.3333  # 30000 / 90000
    assert _step(wf, "parallel_processing")["critical_path_share"] == 0.0222  # 2000 / 90000
    assert _step(wf, "batch_chunk")["calls"] == 3


def test_default_insights(result: dict) -> None:
    # registration: 0.75 < 0.8 -> low_success_rate; mean successful run 233 ms -> not slow.
    # batch: 100% success; mean successful run 45 s > 30 s -> slow_workflow.
    assert result["insights"] == [
        {"type": "low_success_rate", "workflow": "user_registration_workflow",
         "agent": "user_registration_workflow",
         "recommendation": "Review user_registration_workflow workflow for reliability issues",
         "current_rate": 0.75, "threshold": 0.8},
        {"type": "slow_workflow", "workflow": "batch_processing_workflow",
         "agent": "parallel_processing_workflow",
         "recommendation": "Optimize batch_processing_workflow workflow for better performance",
         "avg_duration": 45.0, "threshold": 30.0},
    ]


def test_thresholds_are_configurable() -> None:
    quiet = analyze(WORKFLOWS, min_success_rate=0.75, slow_seconds=45.0).to_dict()
    assert quiet["insights"] == []  # 0.75 is not < 0.75, 45 is not > 45
    strict = analyze(WORKFLOWS, min_success_rate=1.01, slow_seconds=0.1).to_dict()
    kinds = sorted((i["type"], i["workflow"]) for i in strict["insights"])
    assert kinds == [
        ("low_success_rate", "batch_processing_workflow"),
        ("low_success_rate", "user_registration_workflow"),
        ("slow_workflow", "batch_processing_workflow"),
        ("slow_workflow", "user_registration_workflow"),  # mean of 100,200,400 ms > 0.1 s
    ]


def test_workflow_filter_by_name_and_by_agent() -> None:
    by_name = analyze(WORKFLOWS, workflow="batch_processing_workflow").to_dict()
    assert [w["name"] for w in by_name["workflows"]] == ["batch_processing_workflow"]
    by_agent = analyze(WORKFLOWS, workflow="parallel_processing_workflow").to_dict()
    assert [w["name"] for w in by_agent["workflows"]] == ["batch_processing_workflow"]
    with pytest.raises(AnalysisInputError, match="'no_such_workflow' matches no workflow"):
        analyze(WORKFLOWS, workflow="no_such_workflow")


# --- the rules on their own -------------------------------------------------------------------

def _span(span_id: str, parent: str | None, start: int, end: int, name: str = "") -> Span:
    return Span("t" * 32, span_id, parent, name or span_id, start, end, False, None, None)


def test_nearest_rank_exact_values() -> None:
    values = list(range(1, 101))  # 1..100
    assert nearest_rank(values, 50) == 50
    assert nearest_rank(values, 95) == 95
    assert nearest_rank(values, 99) == 99
    assert nearest_rank([7], 99) == 7
    assert nearest_rank([1, 2, 3], 50) == 2   # rank ceil(1.5) = 2
    assert nearest_rank([10, 20, 30, 40, 50], 95) == 50  # rank ceil(4.75) = 5
    assert nearest_rank([], 50) == 0


def test_self_time_clips_and_merges_children() -> None:
    parent = _span("p", None, 0, 100)
    kids = [
        _span("a", "p", -10, 20),   # clipped to [0,20]
        _span("b", "p", 10, 30),    # overlaps a -> union [0,30]
        _span("c", "p", 50, 60),
        _span("d", "p", 90, 150),   # clipped to [90,100]
        _span("e", "p", 200, 300),  # outside: ignored
    ]
    assert self_time_ns(parent, kids) == 100 - (30 + 10 + 10)
    assert self_time_ns(parent, []) == 100


def test_critical_path_follows_last_finishing_child_and_clips() -> None:
    root = _span("r", None, 0, 100)
    spans = [
        root,
        _span("a", "r", 0, 40),
        _span("b", "r", 10, 60),      # ends last before c starts? c starts at 70: yes
        _span("c", "r", 70, 130),     # outlives root: clipped to [70,100]
        _span("c1", "c", 75, 90),
        _span("z", "r", 50, 50),      # zero length: never on the path, must not loop
    ]
    tree = TraceTree(spans)
    sections = critical_path(root, tree)
    per_span: dict[str, int] = {}
    for span, ns in sections:
        per_span[span.span_id] = per_span.get(span.span_id, 0) + ns
    # From 100: c [70,100]: own 90..100 = 10, c1 15, own 70..75 = 5; back to root at 70:
    # b ends at 60 -> root owns 60..70 = 10; b [10,60] owns 50; back to root at 10: a ends
    # at 40 > 10, skipped; root owns 0..10 = 10.
    assert per_span == {"c": 15, "c1": 15, "r": 20, "b": 50}
    assert sum(per_span.values()) == 100


def test_critical_path_counts_back_to_back_steps() -> None:
    # Sequential steps touching at their boundaries are all on the path.
    root = _span("r", None, 0, 30)
    spans = [root, _span("a", "r", 0, 10), _span("b", "r", 10, 20), _span("c", "r", 20, 30)]
    sections = critical_path(root, TraceTree(spans))
    assert [(s.span_id, ns) for s, ns in sections] == [("c", 10), ("b", 10), ("a", 10)]
