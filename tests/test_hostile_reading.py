"""Hostile data on the reading side: analyze, report and the Jaeger client (issue 19, items 1-4).

Each test stands for a class of inputs, not the one quoted case:

* any record that cannot be used is skipped, counted and reported at its line (property-tested
  with arbitrary JSON in every field), never a traceback;
* memory is bounded by design: over-long lines, endless input, names that carry ids, one
  enormous trace (peak RSS measured in a child process);
* nothing from the data reaches the terminal or the report as a control character or a lone
  surrogate, and the report is written whole or not at all;
* the Jaeger client keeps credentials with their origin, keeps a deadline per request and a
  bound per answer, and ``--since`` outside what can be searched is one message, exit 2.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import serve_http
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaquero.analysis import AnalysisInputError, JaegerOptions, analyze, write_report
from vaquero.analysis._aggregate import OTHER_FAILURES, OTHER_STEPS, OTHER_WORKFLOWS
from vaquero.analysis._clean import for_file, for_terminal
from vaquero.analysis._decode import decode_traces_data
from vaquero.analysis._jaeger import fetch_traces_documents
from vaquero.analysis._limits import MAX_KEPT_SPANS, MAX_STEPS, MAX_WORKFLOWS
from vaquero.analysis._span import Span
from vaquero.analysis._store import SpanStore
from vaquero.analysis._text import render_text

REPO = Path(__file__).resolve().parent.parent
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
NOW_NS = 1_700_000_000_000_000_000
CONTROLS = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]} - {"\n"}


def _span(trace: int, span: int, name: str, *, parent: int | None = None, start_ms: int = 0,
          end_ms: int = 10, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": f"{trace:032x}", "spanId": f"{span:016x}", "name": name,
        "startTimeUnixNano": str(NOW_NS + start_ms * 1_000_000),
        "endTimeUnixNano": str(NOW_NS + end_ms * 1_000_000)}
    if parent is not None:
        out["parentSpanId"] = f"{parent:016x}"
    out.update(extra)
    return out


def _line(spans: list[dict[str, Any]]) -> str:
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaquero.analysis", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=timeout)


# --- 1. a record that cannot be used is skipped and reported ---------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)
NUMBERISH = (st.floats() | st.integers(-(2**70), 2**70)
             | st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{1,5})?(e[0-9]{1,4})?", fullmatch=True)
             | st.sampled_from(["inf", "-inf", "nan", "Infinity", "9" * 400]))
FIELDS = ("traceId", "spanId", "parentSpanId", "name", "startTimeUnixNano", "endTimeUnixNano",
          "attributes", "status", "events")


@PROPERTY
@given(st.dictionaries(st.sampled_from(FIELDS), JSON | NUMBERISH), st.sampled_from(FIELDS),
       JSON | NUMBERISH)
def test_the_decoder_is_total_over_any_json_in_any_field(
        overrides: dict[str, Any], field: str, value: Any) -> None:
    good = _span(1, 2, "ok", attributes=[{"key": "gen_ai.agent.name",
                                          "value": {"stringValue": "a"}}],
                 status={"code": 2, "message": "boom"})
    hostile = {**good, **overrides, field: value}
    out: list[Span] = []
    problems = decode_traces_data({"resourceSpans": [{"scopeSpans": [{"spans": [hostile, good]}]}]},
                                  out)
    assert len(out) + len(problems) == 2 and out[-1].name == "ok"
    for span in out:  # what is kept fits the analysis' columns
        assert 0 <= span.start_ns <= span.end_ns < 2**63
        assert isinstance(span.name, str) and len(span.name) <= 256
        assert span.agent is None or isinstance(span.agent, str)
        assert span.failure is None or isinstance(span.failure, str)
    assert all(isinstance(problem, str) and len(problem) < 300 for problem in problems)


IDS = st.integers(0, 6)
TIMES = st.one_of(st.integers(0, 2**63 - 1), st.integers(0, 10**6),
                  st.sampled_from([0, 2**63 - 1, 2**63, 2**64 - 1, -1]))
NAMES = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=12)


@st.composite
def hostile_span(draw: st.DrawFn) -> dict[str, Any]:
    """Decodable spans with every relation a writer can get wrong: parent cycles, self
    parents, duplicate ids, clocks backwards, agents on children only, any names."""
    span: dict[str, Any] = {
        "traceId": f"{draw(IDS):032x}", "spanId": f"{draw(IDS):016x}", "name": draw(NAMES),
        "startTimeUnixNano": str(draw(TIMES)), "endTimeUnixNano": str(draw(TIMES))}
    if draw(st.booleans()):
        span["parentSpanId"] = f"{draw(IDS):016x}"
    if draw(st.booleans()):
        span["attributes"] = [{"key": draw(st.sampled_from(["gen_ai.agent.name",
                                                             "gen_ai.operation.name"])),
                               "value": {"stringValue": draw(st.sampled_from(
                                   ["invoke_agent", "a", "", "\x1b[2J"]))}}]
    if draw(st.booleans()):
        span["status"] = {"code": draw(st.sampled_from([0, 1, 2, "STATUS_CODE_ERROR"])),
                          "message": draw(NAMES)}
        span["events"] = [{"name": "exception", "attributes": [
            {"key": "exception.type", "value": {"stringValue": draw(NAMES)}}]}]
    return span


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(hostile_span(), min_size=1, max_size=8), min_size=1, max_size=6))
def test_analyze_and_report_are_total_over_hostile_traces(
        tmp_path_factory: pytest.TempPathFactory, lines: list[list[dict[str, Any]]]) -> None:
    directory = tmp_path_factory.mktemp("h")
    path = directory / "t.jsonl"
    path.write_text("".join(_line(spans) + "\n" for spans in lines), encoding="utf-8",
                    errors="surrogatepass")
    result = write_report(path, directory / "r.html")
    assert result.spans_read + result.duplicate_spans <= sum(map(len, lines))
    (directory / "r.html").read_bytes().decode("utf-8")
    for workflow in result.workflows:
        assert 0 <= workflow.success_rate <= 1 and workflow.runs > 0
    shown = for_terminal(render_text(result, str(path)))
    assert not (set(shown) & CONTROLS)
    shown.encode("utf-8")


@pytest.mark.parametrize("time", [1e999, "inf", "-inf", "nan", "1e999", 2**64 - 1, 2**63, -1,
                                  "9" * 400, [1], {"n": 1}])
def test_a_time_that_fits_no_column_is_one_reported_line(tmp_path: Path, time: Any) -> None:
    path = tmp_path / "t.jsonl"
    bad = _span(1, 1, "bad")
    bad["startTimeUnixNano"] = time
    path.write_text(_line([_span(2, 2, "good")]) + "\n" + _line([bad]) + "\n")
    result = analyze(path)
    assert [w.name for w in result.workflows] == ["good"]
    assert result.malformed_lines == 1 and result.problems[0][0] == 2
    write_report(path, tmp_path / "r.html")  # the report path (array('q') columns) holds too


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_json_nested_past_any_stack_is_one_reported_line(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(_line([_span(1, 1, "good")]) + "\n" + "[" * depth + "]" * depth + "\n"
                    + '{"resourceSpans": [{"scopeSpans": [{"spans": [' + "[" * depth
                    + "]" * depth + "]}]}]}\n")
    result = analyze(path)
    assert [w.name for w in result.workflows] == ["good"]
    assert [line for line, _ in result.problems] == [2, 3]


def test_nested_pretty_document_is_one_message(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text("[\n" + "[" * 100_000 + "]" * 100_000 + "\n]\n")
    with pytest.raises(AnalysisInputError):
        analyze(path)


def test_cli_report_and_analyze_exit_0_on_hostile_times(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    bad = _span(1, 1, "bad")
    bad["startTimeUnixNano"] = str(2**64 - 1)  # a valid OTLP fixed64, past 2262
    path.write_text(_line([bad, _span(2, 2, "good")]) + "\n")
    for args in (["analyze", str(path)], ["report", str(path), "-o", str(tmp_path / "r.html")]):
        proc = _cli(*args)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr and "malformed line 1" in proc.stderr


# --- 2. memory is bounded by design ----------------------------------------------------------

def test_an_over_long_line_is_skipped_and_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write((_line([_span(1, 1, "before")]) + "\n").encode())
        handle.write(b'{"resourceSpans": "' + b"x" * (40 << 20) + b'"}\n')
        handle.write((_line([_span(2, 2, "after")]) + "\n").encode())
    result = analyze(path)
    assert sorted(w.name for w in result.workflows) == ["after", "before"]
    assert result.problems == ((2, "longer than 6 MiB, more than one line may hold; skipped"),)
    (notice,) = result.notices  # once, with the command that splits such lines
    assert "jq -c '.resourceSpans[] | {resourceSpans: [.]}'" in notice


def _zstd_bomb_stream(line_bytes: int) -> bytes:
    """A zstd stream (a few KB) of a good line, then one ``line_bytes`` line, then another."""
    zstandard = pytest.importorskip("zstandard")
    compressor = zstandard.ZstdCompressor(level=3).compressobj()
    parts = [compressor.compress((_line([_span(1, 1, "before")]) + "\n").encode())]
    chunk = b" " * (1 << 20)
    parts.append(compressor.compress(b"["))
    for _ in range(line_bytes >> 20):
        parts.append(compressor.compress(chunk))
    parts.append(compressor.compress(b"]\n" + (_line([_span(2, 2, "after")]) + "\n").encode()))
    parts.append(compressor.flush())
    return b"".join(parts)


def test_a_zstd_bomb_is_read_in_bounded_pieces(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.zst"
    path.write_bytes(_zstd_bomb_stream(64 << 20))
    assert path.stat().st_size < 1 << 20
    result = analyze(path)
    assert sorted(w.name for w in result.workflows) == ["after", "before"]
    assert result.problems == ((2, "longer than 6 MiB, more than one line may hold; skipped"),)


def test_a_length_prefixed_zstd_record_that_unpacks_past_the_bound_is_skipped(
        tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    records = [(_line([_span(1, 1, "before")]) + "\n").encode(),
               b'{"resourceSpans": "' + b"x" * (40 << 20) + b'"}',
               (_line([_span(2, 2, "after")]) + "\n").encode()]
    path = tmp_path / "t.zst"
    with path.open("wb") as out:
        for record in records:
            frame = zstandard.ZstdCompressor(level=3).compress(record)
            out.write(len(frame).to_bytes(4, "big") + frame)
    result = analyze(path)
    assert sorted(w.name for w in result.workflows) == ["after", "before"]
    assert result.problems == ((2, "longer than 6 MiB, more than one line may hold; skipped"),)


def test_endless_input_without_a_line_break_is_one_message() -> None:
    started = time.monotonic()
    with pytest.raises(AnalysisInputError, match="not OTLP JSON lines: line 1 runs past 6 MiB"):
        analyze("/dev/zero")
    assert time.monotonic() - started < 30


def test_an_over_long_pretty_document_says_how_to_split_it(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    with path.open("w") as handle:
        handle.write('{\n "resourceSpans": [\n')
        for _ in range(20):
            handle.write('  "' + "y" * (1 << 20) + '",\n')
        handle.write("  1]}\n")
    with pytest.raises(AnalysisInputError, match=r"jq -c '\.resourceSpans\[\]"):
        analyze(path)


@pytest.mark.parametrize("names", [MAX_WORKFLOWS + 1, 3_000])
def test_names_that_carry_ids_fold_into_one_row_and_say_why(tmp_path: Path, names: int) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("".join(_line([_span(i + 1, 1, f"GET /user/{i}")]) + "\n"
                            for i in range(names)))
    result = analyze(path)
    assert len(result.workflows) == MAX_WORKFLOWS + 1
    assert sum(w.runs for w in result.workflows) == names
    other = next(w for w in result.workflows if w.name == OTHER_WORKFLOWS)
    assert other.runs == names - MAX_WORKFLOWS
    assert any("carry ids" in notice and f"{names - MAX_WORKFLOWS:,} runs" in notice
               for notice in result.notices)


def test_step_and_failure_names_that_carry_ids_fold_too(tmp_path: Path) -> None:
    steps = MAX_STEPS + 50
    spans = [_span(1, 1, "root", end_ms=steps + 1, status={"code": 2})]
    spans += [_span(1, i + 2, f"step {i}", parent=1, start_ms=i, end_ms=i + 1,
                    status={"code": 2, "message": f"request {i} failed"}) for i in range(steps)]
    path = tmp_path / "t.jsonl"
    path.write_text(_line(spans) + "\n")
    (workflow,) = analyze(path).workflows
    names = [step.name for step in workflow.steps]
    assert len(names) == MAX_STEPS + 1 and OTHER_STEPS in names
    assert sum(step.calls for step in workflow.steps) == steps
    shares = sum(step.critical_path_share for step in workflow.steps) + workflow.own_time_share
    assert shares == pytest.approx(1, abs=0.01)
    assert sum(f.count for f in workflow.failures) <= steps
    assert any(f.exception_type == OTHER_FAILURES for f in analyze(path).workflows[0].failures) \
        or len(workflow.failures) == 10


def test_the_reports_example_traces_share_one_span_budget(tmp_path: Path) -> None:
    """Every workflow's slowest trace, each large: keeping them all took 350 MB at 1M spans."""
    path = tmp_path / "t.jsonl"
    with path.open("w") as out:
        for trace in range(120):
            spans = [_span(trace + 1, 1, f"job {trace}", end_ms=900)]
            spans += [_span(trace + 1, i + 2, "work", parent=1, start_ms=i % 800,
                            end_ms=i % 800 + 1) for i in range(999)]
            out.write(_line(spans) + "\n")
    result = write_report(path, tmp_path / "r.html")
    kept = {trace.trace_id: len(trace.spans) for trace in result.kept_traces}
    assert 0 < sum(kept.values()) <= MAX_KEPT_SPANS
    assert any("example traces are not drawn" in notice for notice in result.notices)


@pytest.mark.parametrize("memory_spans", [1_000_000, 7])
def test_one_enormous_trace_is_held_to_the_bound(memory_spans: int) -> None:
    spans = [Span(f"{1:032x}", f"{i:016x}", None if i == 0 else f"{0:016x}", "s", i, i + 1,
                  False, None, None) for i in range(50)]
    with SpanStore(memory_spans=memory_spans, trace_spans=20) as store:
        store.add(spans[:25])
        store.add(spans[25:])
        ((_, held),) = list(store.traces())
        assert len(held) == 20 and store.dropped_spans == 30


# VmHWM, not ru_maxrss: the latter carries the parent's peak over fork and exec.
_RSS_CHILD = """
import sys
from vaquero.analysis import write_report
write_report(sys.argv[1], sys.argv[2])
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]) // 1024)
"""


def _peak_rss_mb(source: Path, tmp_path: Path) -> int:
    proc = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(source), str(tmp_path / "r.html")],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_peak_memory_is_bounded_whatever_the_shape(tmp_path: Path) -> None:
    """The issue's shapes, scaled to run in seconds: each took gigabytes before."""
    long_line = tmp_path / "long.jsonl.gz"
    with gzip.open(long_line, "wb", compresslevel=1) as handle:
        handle.write((_line([_span(1, 1, "ok")]) + "\n").encode())
        handle.write(b"[" + b" " * (300 << 20) + b"]\n")
    names = tmp_path / "names.jsonl"
    names.write_text("".join(_line([_span(i + 1, 1, f"GET /user/{i}")]) + "\n"
                             for i in range(10_000)))
    bomb = tmp_path / "bomb.jsonl.zst"
    bomb.write_bytes(_zstd_bomb_stream(1 << 30))
    for source in (long_line, names, bomb):
        assert _peak_rss_mb(source, tmp_path) < 150, source.name


# --- 3. output never carries the data's control characters -----------------------------------

HOSTILE = "a\x1b]0;pwned\x07b\rc\x9b2Jd\x1b[31me\ud800f\u202eg"


@PROPERTY
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=60))
def test_cleaned_text_has_no_control_character_and_keeps_its_width(text: str) -> None:
    cleaned = for_terminal(text)
    assert len(cleaned) == len(text)
    assert not (set(cleaned) & CONTROLS)
    cleaned.encode("utf-8")  # no lone surrogate
    for_file(text).encode("utf-8")


def test_hostile_names_reach_neither_terminal_nor_report_raw(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    agent = [{"key": "gen_ai.agent.name", "value": {"stringValue": HOSTILE}}]
    events = [{"name": "exception", "attributes": [
        {"key": "exception.type", "value": {"stringValue": HOSTILE}}]}]
    spans = [_span(1, 1, HOSTILE, attributes=agent, end_ms=20),
             _span(1, 2, HOSTILE + "step", parent=1, status={"code": 2}, events=events)]
    path.write_text(_line(spans) + "\n" + HOSTILE.encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace") + "\n")
    analysed = _cli("analyze", str(path))
    assert analysed.returncode == 0, analysed.stderr
    for stream in (analysed.stdout, analysed.stderr):
        assert not (set(stream) & CONTROLS), stream
    assert "pwned" in analysed.stdout  # the name is shown, only its controls are not
    report = tmp_path / "r.html"
    reported = _cli("report", str(path), "-o", str(report))
    assert reported.returncode == 0, reported.stderr
    page = report.read_bytes().decode("utf-8")  # strict: valid UTF-8, no surrogate
    assert not (set(page) & (CONTROLS - {"\t"}))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".vaquero-report")] == []


# --- 4. the Jaeger client --------------------------------------------------------------------

TRACE = {"result": json.loads(_line([_span(1, 1, "checkout")]))}


class _Seen(BaseHTTPRequestHandler):
    """Jaeger's two endpoints, recording the Authorization header each request carried."""

    seen: ClassVar[list[tuple[str, str | None]]] = []
    redirect_to: ClassVar[str | None] = None
    mode: ClassVar[str] = "ok"

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        type(self).seen.append((self.path.split("?")[0], self.headers.get("Authorization")))
        if self.redirect_to is not None:
            self.send_response(302)
            self.send_header("Location", self.redirect_to + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.mode == "drip":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(200):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.5)
            return
        if self.mode == "endless":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b" " * 65536
            try:
                while True:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                return
        if self.mode == "error":
            body = json.dumps({"error": {"message": "bad \x1b[2J\x07query"}}).encode()
            self.send_response(400)
        elif self.path.startswith("/api/v3/services"):
            body = json.dumps({"services": ["shop"]}).encode()
            self.send_response(200)
        else:
            body = json.dumps(TRACE).encode()
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _handler(**attributes: Any) -> type[_Seen]:
    return type("Handler", (_Seen,), {"seen": [], "redirect_to": None, "mode": "ok",
                                      **attributes})


@pytest.fixture()
def two_origins() -> Iterator[tuple[str, type[_Seen], type[_Seen]]]:
    other = _handler()
    with serve_http(other) as other_url:
        first = _handler(redirect_to=other_url)
        with serve_http(first) as first_url:
            yield first_url, first, other


def test_credentials_never_follow_a_redirect_to_another_origin(
        two_origins: tuple[str, type[_Seen], type[_Seen]]) -> None:
    url, first, other = two_origins
    notices: list[str] = []
    options = JaegerOptions(headers=(("Authorization", "Bearer s3cret"),))
    documents = list(fetch_traces_documents(url, start_min_ns=0, start_max_ns=NOW_NS,
                                            options=options, notice=notices.append))
    assert documents  # the other origin's data is read ...
    assert {auth for _, auth in first.seen} == {"Bearer s3cret"}
    assert {path for path, _ in other.seen} == {"/api/v3/services", "/api/v3/traces"}
    assert {auth for _, auth in other.seen} == {None}  # ... without the token
    (notice,) = notices  # ... and said once, naming whose data it is
    assert "redirected" in notice and "another origin, http://127.0.0.1:" in notice
    assert "not sent" in notice


def test_timeout_is_a_deadline_for_the_whole_request() -> None:
    drip = _handler(mode="drip")
    with serve_http(drip) as url:
        started = time.monotonic()
        with pytest.raises(AnalysisInputError, match="did not answer within 1s"):
            list(fetch_traces_documents(url, start_min_ns=0, start_max_ns=NOW_NS,
                                        options=JaegerOptions(timeout=1.0)))
        assert time.monotonic() - started < 5


def test_an_endless_answer_is_refused_at_the_bound() -> None:
    endless = _handler(mode="endless")
    with serve_http(endless) as url:
        with pytest.raises(AnalysisInputError, match="6 MiB"):
            list(fetch_traces_documents(url, start_min_ns=0, start_max_ns=NOW_NS))


def test_jaegers_error_text_reaches_stderr_cleaned() -> None:
    failing = _handler(mode="error")
    with serve_http(failing) as url:
        proc = _cli("analyze", url)
    assert proc.returncode == 2 and "bad" in proc.stderr
    assert not (set(proc.stderr) & CONTROLS)


@pytest.mark.parametrize("timeout", ["inf", "nan", "-1", "0", "1e300"])
def test_a_timeout_that_is_no_deadline_is_one_message(timeout: str) -> None:
    proc = _cli("analyze", "http://127.0.0.1:9", "--timeout", timeout)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--timeout" in proc.stderr


@pytest.mark.parametrize("since", ["9" * 400 + "d", "99999999d", "36501d"])
def test_since_outside_what_can_be_searched_is_one_message(since: str, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(_line([_span(1, 1, "ok")]) + "\n")
    ok = _handler()
    with serve_http(ok) as url:
        for source in (str(path), url):
            proc = _cli("analyze", source, "--since", since)
            assert proc.returncode == 2, proc.stderr
            assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not ok.seen
