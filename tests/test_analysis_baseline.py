"""Time and baselines (issue 12 item 6), and the data the report draws (histogram, kept traces).

Every workflow run here sits inside an HTTP root, so matching across files goes by the
identity from item 1 (the agent span), not by the root span.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _otlp_builder import MS, T0, span, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaquero.analysis import analyze
from vaquero.analysis._engine import run_analysis
from vaquero.analysis.errors import AnalysisInputError

REPO = Path(__file__).resolve().parent.parent
SECOND = 1000  # in the builder's milliseconds


def _runs(durations_ms: list[int], failed: set[int] = frozenset(), gap_ms: int = SECOND,
          name: str = "answer", first_trace: int = 1) -> list[list[dict]]:
    """One trace per duration: GET /ask > agent ``name`` > llm; run i starts at i seconds."""
    traces = []
    for index, duration in enumerate(durations_ms):
        trace = index + first_trace
        start = index * gap_ms
        bad = index in failed
        traces.append([
            span(trace, trace * 10 + 1, None, "GET /ask", start, start + duration + 2),
            span(trace, trace * 10 + 2, trace * 10 + 1, name, start + 1, start + 1 + duration,
                 agent="qa", invoke=True, error="TimeoutError" if bad else None),
            span(trace, trace * 10 + 3, trace * 10 + 2, "llm", start + 1, start + duration,
                 agent="qa", error="TimeoutError" if bad else None),
        ])
    return traces


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaquero.analysis", "analyze", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


# --- time axis --------------------------------------------------------------------------------

def test_time_range_and_timeseries_in_json(tmp_path: Path) -> None:
    # 20 runs one second apart, data over 19.292 s: the smallest round width giving at most
    # 60 buckets is 500 ms (39 buckets); runs fall in every other bucket.
    durations = [100 + 10 * i for i in range(20)]
    path = write(tmp_path / "t.jsonl", *_runs(durations, failed={3, 4}))
    proc = _cli(str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    last = 19 * SECOND + durations[-1] + 2
    assert result["time_range"] == {"start_ns": T0, "end_ns": T0 + last * MS}
    (workflow,) = result["workflows"]
    buckets = workflow["timeseries"]
    width = 500 * MS
    assert [b["start_ns"] for b in buckets] == [T0 + i * width for i in range(39)]
    assert all(b["end_ns"] - b["start_ns"] == width for b in buckets)
    assert [b["runs"] for b in buckets] == [1, 0] * 19 + [1]
    assert [b["errors"] for b in buckets[::2]] == [0, 0, 0, 1, 1] + [0] * 15
    assert [b["p95_ms"] for b in buckets[::2]] == [float(d) for d in durations]
    assert all(b["p95_ms"] == 0.0 for b in buckets[1::2])


def test_timeseries_buckets_hold_nearest_rank_p95(tmp_path: Path) -> None:
    # 10 runs in the first second (100 ms apart), 10 ms..100 ms; 1 run 30 s later.
    durations = [10 * (i + 1) for i in range(10)]
    traces = _runs(durations, gap_ms=100) + [
        [span(99, 991, None, "GET /ask", 30 * SECOND, 30 * SECOND + 9),
         span(99, 992, 991, "answer", 30 * SECOND, 30 * SECOND + 7, agent="qa", invoke=True)]]
    (workflow,) = analyze(write(tmp_path / "t.jsonl", *traces)).workflows
    series = workflow.timeseries
    assert sum(b.runs for b in series) == 11
    assert series[0].runs == 10 and series[0].p95_ms == 100.0  # rank ceil(9.5) = 10
    assert series[-1].runs == 1 and series[-1].p95_ms == 7.0
    assert all(b.runs == 0 and b.p95_ms == 0.0 for b in series[1:-1])


# --- the report's data ------------------------------------------------------------------------

def test_histogram_tells_failed_runs_apart(tmp_path: Path) -> None:
    durations = [100, 100, 200, 300, 400, 500]
    (workflow,) = analyze(write(tmp_path / "t.jsonl",
                                *_runs(durations, failed={0, 5}))).workflows
    bins = workflow.histogram
    assert sum(ok for _, _, ok, _ in bins) == 4
    assert sum(bad for _, _, _, bad in bins) == 2
    assert bins[0][2:] == (1, 1)      # the two 100 ms runs, one failed
    assert bins[-1][2:] == (0, 1)     # the 500 ms run failed
    assert (workflow.p50_ms, workflow.p95_ms) == (200.0, 500.0)


def test_kept_traces_slowest_p95_and_one_per_failure_pattern(tmp_path: Path) -> None:
    durations = list(range(100, 2100, 100))  # 20 runs: p95 = rank 19 = 1900 ms
    path = write(tmp_path / "t.jsonl", *_runs(durations, failed={2, 7}))
    result = run_analysis(str(path), keep_traces=True)
    kept = {trace.reason: trace for trace in result.kept_traces}
    assert set(kept) == {"slowest", "p95", "failure: TimeoutError in llm"}
    assert kept["slowest"].duration_ms == 2000.0
    assert kept["slowest"].trace_id == f"{20:032x}"
    assert kept["p95"].duration_ms == 1900.0
    assert kept["failure: TimeoutError in llm"].trace_id in {f"{3:032x}", f"{8:032x}"}
    assert all(not trace.incomplete and len(trace.spans) == 3 for trace in kept.values())
    assert all(trace.workflow == "answer" and trace.agent == "qa" for trace in kept.values())


# --- baselines --------------------------------------------------------------------------------

def test_no_regression_exits_0(tmp_path: Path) -> None:
    base = write(tmp_path / "base.jsonl", *_runs([100] * 20))
    current = write(tmp_path / "cur.jsonl", *_runs([119] * 20))  # +19%: within 20%
    proc = _cli(str(current), "--baseline", str(base), "--json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["regressions"] == []
    assert document["baseline"]["compared"] == 1


def test_p95_and_success_regressions_exit_1(tmp_path: Path) -> None:
    base = write(tmp_path / "base.jsonl", *_runs([100] * 20))
    # p95 of 20 runs is the 19th fastest: 130 ms, +30%; 2 of 20 failed: 90%, -10 points
    current = write(tmp_path / "cur.jsonl", *_runs([100] * 18 + [130] * 2, failed={0, 1}))
    proc = _cli(str(current), "--baseline", str(base), "--json")
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["regressions"] == [
        {"workflow": "answer", "agent": "qa", "metric": "p95_ms", "baseline": 100.0,
         "current": 130.0},
        {"workflow": "answer", "agent": "qa", "metric": "success_rate", "baseline": 1.0,
         "current": 0.9},
    ]
    text = _cli(str(current), "--baseline", str(base))
    assert text.returncode == 1
    assert "REGRESSION answer (agent qa): p95 100.0 ms -> 130.0 ms" in text.stdout
    assert "REGRESSION answer (agent qa): success 100.0% -> 90.0%" in text.stdout


def test_thresholds_are_flags(tmp_path: Path) -> None:
    base = write(tmp_path / "base.jsonl", *_runs([100] * 20))
    current = write(tmp_path / "cur.jsonl", *_runs([100] * 18 + [130] * 2, failed={0, 1}))
    loose = _cli(str(current), "--baseline", str(base), "--max-p95-increase", "0.5",
                 "--max-success-drop", "0.1")
    assert loose.returncode == 0, loose.stdout
    strict = _cli(str(current), "--baseline", str(base), "--json",
                  "--max-p95-increase", "0.5", "--max-success-drop", "0.09")
    assert strict.returncode == 1
    assert [r["metric"] for r in json.loads(strict.stdout)["regressions"]] == ["success_rate"]


def test_earlier_json_output_is_a_baseline(tmp_path: Path) -> None:
    base = write(tmp_path / "base.jsonl", *_runs([100] * 20))
    saved = tmp_path / "baseline.json"
    saved.write_text(_cli(str(base), "--json").stdout)
    current = write(tmp_path / "cur.jsonl", *_runs([150] * 20))
    proc = _cli(str(current), "--baseline", str(saved), "--json")
    assert proc.returncode == 1
    (regression,) = json.loads(proc.stdout)["regressions"]
    assert (regression["metric"], regression["baseline"], regression["current"]) == (
        "p95_ms", 100.0, 150.0)


def test_workflows_on_one_side_only_are_listed_not_regressions(tmp_path: Path) -> None:
    base = write(tmp_path / "base.jsonl", *_runs([100] * 5, name="answer"))
    current = write(tmp_path / "cur.jsonl", *_runs([900] * 5, name="answer_v2"))
    proc = _cli(str(current), "--baseline", str(base), "--json")
    assert proc.returncode == 0
    baseline = json.loads(proc.stdout)["baseline"]
    assert baseline["compared"] == 0
    assert baseline["only_in_current"] == [{"workflow": "answer_v2", "agent": "qa"}]
    assert baseline["only_in_baseline"] == [{"workflow": "answer", "agent": "qa"}]


def test_unreadable_baseline_exits_2(tmp_path: Path) -> None:
    current = write(tmp_path / "cur.jsonl", *_runs([100]))
    proc = _cli(str(current), "--baseline", str(tmp_path / "missing.jsonl"))
    assert proc.returncode == 2
    assert "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- a --workflow that matches nothing is an error, not an empty pass -------------------------

def test_a_workflow_typo_fails_the_gate_and_lists_what_exists(tmp_path: Path) -> None:
    base = write(tmp_path / "base.jsonl", *_runs([100] * 3))
    current = write(tmp_path / "cur.jsonl", *_runs([100] * 3))
    saved = tmp_path / "baseline.json"
    saved.write_text(_cli(str(base), "--json").stdout)
    for args in ([], ["--baseline", str(base)], ["--baseline", str(saved)], ["--json"]):
        proc = _cli(str(current), "--workflow", "answr", *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stdout == ""
        assert "--workflow 'answr' matches no workflow" in proc.stderr
        assert str(current) in proc.stderr and "Did you mean 'answer'?" in proc.stderr
        assert "Its workflows: answer (agent qa)." in proc.stderr
        assert "Traceback" not in proc.stderr
    # by agent name and by span name, the filter passes as before
    for wanted in ("answer", "qa"):
        proc = _cli(str(current), "--workflow", wanted, "--baseline", str(saved), "--json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["baseline"]["compared"] == 1


def test_a_workflow_missing_from_the_baseline_fails_the_gate(tmp_path: Path) -> None:
    base = write(tmp_path / "base.jsonl", *_runs([100] * 3, name="answer"))
    saved = tmp_path / "baseline.json"
    saved.write_text(_cli(str(base), "--json").stdout)
    current = write(tmp_path / "cur.jsonl", *_runs([100] * 3, name="answer"),
                    *_runs([100] * 3, name="summarise", first_trace=10))
    for baseline in (base, saved):
        proc = _cli(str(current), "--workflow", "summarise", "--baseline", str(baseline))
        assert proc.returncode == 2, proc.stdout
        assert "--workflow 'summarise' matches no workflow" in proc.stderr
        assert f"in {baseline}" in proc.stderr and "answer (agent qa)" in proc.stderr


def test_a_workflow_outside_since_is_an_empty_answer_not_an_error(tmp_path: Path) -> None:
    current = write(tmp_path / "cur.jsonl", *_runs([100] * 3))  # the builder's runs are old
    proc = _cli(str(current), "--workflow", "answer", "--since", "1m", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["workflows"] == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(wanted=st.text(min_size=1, max_size=12))
def test_any_filter_either_matches_a_run_or_is_an_error(tmp_path: Path, wanted: str) -> None:
    path = tmp_path / "t.jsonl"
    if not path.exists():
        write(path, *_runs([100] * 2, name="answer"), *_runs([50], name="plan", first_trace=10))
    existing = {"answer", "plan", "qa"}
    if wanted in existing:
        assert analyze(path, workflow=wanted).workflows
    else:
        with pytest.raises(AnalysisInputError) as caught:
            analyze(path, workflow=wanted)
        assert "answer (agent qa), plan (agent qa)" in str(caught.value)
