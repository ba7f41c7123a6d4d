"""Reading trace sources: encodings, malformed lines, stdin, gzip, incomplete traces, filters,
and the exit-code-2 contract of the CLI for sources it cannot read."""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from vaquero.analysis import AnalysisInputError, analyze
from vaquero.analysis._span import Span
from vaquero.analysis._store import SpanStore

FIXTURES = Path(__file__).parent / "fixtures" / "analysis"
REPO = Path(__file__).resolve().parent.parent


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaquero.analysis", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )


def _otlp_line(spans: list[dict]) -> str:
    return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]})


def _root(trace: int, name: str, start_ns: int, duration_ms: int, **extra: object) -> dict:
    span = {"traceId": f"{trace:032x}", "spanId": f"{trace:016x}", "name": name,
            "startTimeUnixNano": str(start_ns),
            "endTimeUnixNano": str(start_ns + duration_ms * 1_000_000)}
    span.update(extra)
    return span


# --- malformed input --------------------------------------------------------------------------

def test_malformed_lines_counted_and_rest_analysed() -> None:
    result = analyze(FIXTURES / "malformed.jsonl")
    # lines 2,3,5,6,7,8,9 are bad (blank line 4 is not); line 6 still contributes its good span
    assert result.malformed_lines == 7
    assert [line for line, _ in result.problems] == [2, 3, 5, 6, 7]
    assert "invalid JSON" in result.problems[0][1]
    assert "bad traceId" in result.problems[3][1]
    assert result.spans_read == 2
    (workflow,) = result.workflows
    assert (workflow.name, workflow.agent, workflow.runs) == ("nightly_report", "reporter", 1)


def test_cli_reports_first_five_malformed_lines_on_stderr() -> None:
    proc = _cli("analyze", str(FIXTURES / "malformed.jsonl"), "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["malformed_lines"] == 7
    lines = proc.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines[:5]] == [
        "malformed line 2", "malformed line 3", "malformed line 5", "malformed line 6",
        "malformed line 7"]
    assert "2 more malformed lines" in lines[5]
    assert len(lines) == 6
    assert "Traceback" not in proc.stderr


# --- unreadable sources: one line, exit 2, no traceback --------------------------------------

def _assert_one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("vaquero: error: ")
    for word in words:
        assert word in lines[0]


def test_missing_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    _assert_one_line_error(_cli("analyze", str(missing)), str(missing), "no such file")
    _assert_one_line_error(_cli("report", str(missing), "-o", str(tmp_path / "r.html")),
                           "no such file")


def test_directory_exits_2(tmp_path: Path) -> None:
    _assert_one_line_error(_cli("analyze", str(tmp_path)), "is a directory")


def test_non_otlp_file_exits_2() -> None:
    _assert_one_line_error(_cli("analyze", str(FIXTURES / "not_otlp.jsonl")),
                           "is not OTLP JSON", "first 100 lines")


def test_short_non_otlp_file_is_rejected_too(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("GET / 200\nGET /favicon.ico 404\n")
    try:
        analyze(path)
    except AnalysisInputError as err:
        assert "is not OTLP JSON" in str(err)
    else:
        raise AssertionError("a plain log file was accepted")


def test_unreachable_jaeger_exits_2() -> None:
    with socket.socket() as sock:  # bind then close: a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    _assert_one_line_error(_cli("analyze", url), "cannot reach Jaeger", url)


def test_bad_since_exits_2() -> None:
    _assert_one_line_error(_cli("analyze", str(FIXTURES / "workflows.jsonl"), "--since", "soon"),
                           "invalid duration")


def test_empty_file_is_no_traces_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    proc = _cli("analyze", str(path))
    assert proc.returncode == 0
    assert "No workflow runs found" in proc.stdout


# --- other shapes and transports -------------------------------------------------------------

def test_stdin_source() -> None:
    data = (FIXTURES / "workflows.jsonl").read_bytes()
    proc = _cli("analyze", "-", "--json", stdin=data)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["spans_read"] == 31
    assert {w["name"]: w["runs"] for w in result["workflows"]} == {
        "user_registration_workflow": 4, "batch_processing_workflow": 2}
    assert proc.stderr == ""  # no progress ticker when stderr is not a terminal


def test_gzip_file_matches_plain_file(tmp_path: Path) -> None:
    plain = FIXTURES / "workflows.jsonl"
    packed = tmp_path / "traces.jsonl.gz"
    with gzip.open(packed, "wb") as out:
        out.write(plain.read_bytes())
    assert analyze(packed).to_dict() == analyze(plain).to_dict()
    # detected by content, not by name
    renamed = tmp_path / "traces.jsonl"
    shutil.copy(packed, renamed)
    assert analyze(renamed).to_dict()["spans_read"] == 31


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    packed = tmp_path / "cut.jsonl.gz"
    with gzip.open(packed, "wb") as out:
        out.write((FIXTURES / "workflows.jsonl").read_bytes() * 5)
    packed.write_bytes(packed.read_bytes()[:-40])
    proc = _cli("analyze", str(packed))
    assert proc.returncode == 0, proc.stderr
    assert "gzip data ends early" in proc.stderr and "after line" in proc.stderr


def test_jaeger_result_wrapper_and_status_enum_names(tmp_path: Path) -> None:
    start = 1_700_000_000_000_000_000
    spans = [
        _root(1, "checkout", start, 10, status={"code": "STATUS_CODE_ERROR", "message": "boom"}),
        _root(2, "checkout", start, 30, status={"code": "STATUS_CODE_OK"}),
        _root(3, "checkout", start, 20, status={"code": 2}),
    ]
    path = tmp_path / "wrapped.jsonl"
    path.write_text(json.dumps({"result": json.loads(_otlp_line(spans))}) + "\n")
    (workflow,) = analyze(path).workflows
    assert workflow.runs == 3
    assert workflow.success_rate == round(1 / 3, 4)
    # a root failing with no exception event is keyed by its status message (or a placeholder)
    assert {(f.exception_type, f.step, f.count) for f in workflow.failures} == {
        ("boom", "checkout", 1), ("(no exception type or message)", "checkout", 1)}


def test_rootless_trace_is_counted_incomplete_never_a_workflow() -> None:
    # trace 20: user_creation > db_insert, whose parent (the workflow root) never arrived;
    # trace 21: a complete run.
    result = analyze(FIXTURES / "incomplete.jsonl").to_dict()
    assert [w["name"] for w in result["workflows"]] == ["user_registration_workflow"]
    assert result["workflows"][0]["incomplete_runs"] == 0
    assert result["incomplete_traces"] == 1
    assert result["spans_read"] == 4


def test_since_keeps_only_recent_runs(tmp_path: Path) -> None:
    now = time.time_ns()
    hour = 3600 * 1_000_000_000
    spans = [
        _root(1, "recent", now - 5 * 60 * 1_000_000_000, 10),     # 5 minutes ago
        _root(2, "older", now - 3 * hour, 10),                     # 3 hours ago
        _root(3, "ancient", now - 3 * 24 * hour, 10),              # 3 days ago
    ]
    path = tmp_path / "times.jsonl"
    path.write_text(_otlp_line(spans) + "\n")

    def names(since: str | None) -> list[str]:
        return sorted(w.name for w in analyze(path, since=since).workflows)

    assert names(None) == ["ancient", "older", "recent"]
    assert names("15m") == ["recent"]
    assert names("4h") == ["older", "recent"]
    assert names("7d") == ["ancient", "older", "recent"]
    proc = _cli("analyze", str(path), "--since", "15m", "--json")
    assert [w["name"] for w in json.loads(proc.stdout)["workflows"]] == ["recent"]


def test_cli_workflow_filter_and_text_table() -> None:
    proc = _cli("analyze", str(FIXTURES / "workflows.jsonl"), "--workflow",
                "user_registration_workflow")
    assert proc.returncode == 0, proc.stderr
    assert "user_registration_workflow" in proc.stdout
    assert "batch_processing_workflow" not in proc.stdout
    assert "75.0%" in proc.stdout
    assert "1 x ValueError in duplicate_check" in proc.stdout
    assert "[low_success_rate] Review user_registration_workflow" in proc.stdout


def test_cli_threshold_flags() -> None:
    proc = _cli("analyze", str(FIXTURES / "workflows.jsonl"), "--json",
                "--min-success-rate", "0.5", "--slow-seconds", "60")
    assert json.loads(proc.stdout)["insights"] == []


# --- the span store: whole traces, any order, bounded memory -------------------------------

def _s(trace: str, span: str, parent: str | None) -> Span:
    return Span(trace * 32, span * 16, parent * 16 if parent else None, span, 0, 1, False,
                None, None)


def _traces(store: SpanStore, again: bool = False) -> dict[str, list[str]]:
    return {trace[0]: sorted(s.name for s in spans)
            for trace, spans in store.traces(again=again)}


def test_store_holds_traces_until_the_end_in_memory() -> None:
    with SpanStore(memory_spans=100) as store:
        store.add([_s("a", "2", "1"), _s("b", "3", "9")])
        store.add([_s("a", "1", None)])  # a late root still joins its trace
        assert not store.spilled
        assert _traces(store) == {"a": ["1", "2"], "b": ["3"]}


def test_store_spills_to_disk_and_keeps_traces_whole(tmp_path: Path) -> None:
    spans = [_s(trace, span, None if span == "0" else "0")
             for span in "0123" for trace in "abcdefgh"]
    expected = {trace: ["0", "1", "2", "3"] for trace in "abcdefgh"}
    expected["a"] = ["0", "1", "2", "3", "9"]
    for again in (False, True):
        with SpanStore(memory_spans=5, partitions=3, directory=str(tmp_path)) as store:
            for start in range(0, len(spans), 4):
                store.add(spans[start:start + 4])
            assert store.spilled and store.spills == 4  # 8 spans buffered > 5: spill
            store.add([_s("a", "9", "0")])  # a late span: stays in memory, joins on reading
            assert _traces(store, again=again) == expected
            if again:
                assert _traces(store) == expected  # the report's second walk
        assert list(tmp_path.iterdir()) == []  # spill files are gone once closed


def test_since_accepts_timedelta(tmp_path: Path) -> None:
    from datetime import timedelta

    now = time.time_ns()
    path = tmp_path / "t.jsonl"
    path.write_text(_otlp_line([_root(1, "new", now - 10 * 1_000_000_000, 5),
                                _root(2, "old", now - 7200 * 1_000_000_000, 5)]) + "\n")
    assert [w.name for w in analyze(path, since=timedelta(minutes=1)).workflows] == ["new"]


def test_progress_shown_only_on_a_terminal() -> None:
    import os
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "vaquero.analysis", "analyze",
             str(FIXTURES / "workflows.jsonl"), "--json"],
            stdout=subprocess.PIPE, stderr=follower, cwd=REPO, timeout=60)
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO once the child side is closed and drained
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert proc.returncode == 0
    assert b"spans read" in seen
    assert json.loads(proc.stdout)["spans_read"] == 31  # stdout stays clean JSON
