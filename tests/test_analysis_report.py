"""The HTML report: self-contained, escaped, and bounded in what it draws."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from report_data import write_report_traces

from vaquero.analysis import write_report
from vaquero.analysis._axis import duration_label
from vaquero.analysis._html import render_html
from vaquero.analysis._result import AnalysisResult, KeptTrace, WorkflowStats
from vaquero.analysis._span import Span
from vaquero.analysis._waterfall import MAX_ROWS, waterfall_html

FIXTURES = Path(__file__).parent / "fixtures" / "analysis"
REPO = Path(__file__).resolve().parent.parent
EVIL_NAME = "<script>alert('pwned')</script>"
EVIL_AGENT = '"><img src=x onerror=alert(1)>'
URL_NAME = "GET https://evil.example/steal.js"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_bodies: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_bodies.append(data)


def _write_hostile_trace(path: Path) -> None:
    start = 1_700_000_000_000_000_000

    def span(span_id: int, name: str, parent: int | None, a: int, b: int, err: bool) -> dict:
        out = {"traceId": "ab" * 16, "spanId": f"{span_id:016x}", "name": name,
               "startTimeUnixNano": str(start + a * 1_000_000),
               "endTimeUnixNano": str(start + b * 1_000_000),
               "attributes": [{"key": "gen_ai.agent.name", "value": {"stringValue": EVIL_AGENT}}]}
        if parent:
            out["parentSpanId"] = f"{parent:016x}"
        if err:
            out["status"] = {"code": 2, "message": "</td><b>bad</b>"}
            out["events"] = [{"name": "exception", "attributes": [
                {"key": "exception.type", "value": {"stringValue": "<Evil&Error>"}}]}]
        return out

    spans = [span(1, EVIL_NAME, None, 0, 100, True), span(2, URL_NAME, 1, 10, 90, True)]
    doc = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]}
    path.write_text(json.dumps(doc) + "\n")


def test_untrusted_strings_are_escaped(tmp_path: Path) -> None:
    source = tmp_path / "hostile.jsonl"
    _write_hostile_trace(source)
    out = tmp_path / "report.html"
    write_report(source, out)
    page = out.read_text()
    assert EVIL_NAME not in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert EVIL_AGENT not in page
    assert "&lt;Evil&amp;Error&gt;" in page
    parser = _Collector()
    parser.feed(page)
    assert [tag for tag, _ in parser.tags].count("script") == 2   # our trap and our sorter
    assert "img" not in [tag for tag, _ in parser.tags]
    assert not any("pwned" in body for body in parser.script_bodies)


def test_report_fetches_nothing(tmp_path: Path) -> None:
    source = tmp_path / "hostile.jsonl"
    _write_hostile_trace(source)
    out = tmp_path / "report.html"
    write_report(source, out)
    page = out.read_text()
    parser = _Collector()
    parser.feed(page)
    for tag, attrs in parser.tags:
        assert tag not in {"link", "iframe", "img", "object", "embed"}, tag
        for name, value in attrs.items():
            if name in {"src", "href", "action", "data", "srcset", "xlink:href"}:
                assert value is not None and value.startswith("#"), (tag, name, value)
    # the URL in the span name is only text
    assert "GET https://evil.example/steal.js" in page
    assert "url(" not in page and "@import" not in page
    csp = [a["content"] for t, a in parser.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0] or "")


def test_report_cli_writes_file(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    proc = subprocess.run(
        [sys.executable, "-m", "vaquero.analysis", "report", str(FIXTURES / "workflows.jsonl"),
         "-o", str(out)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stderr
    page = out.read_text()
    assert page.count('<tr class="bad" data-workflow="user_registration_workflow">') == 1
    assert '<tr data-workflow="batch_processing_workflow">' in page
    assert page.count('<svg class="chart histogram"') == 2  # one duration chart per workflow


def test_report_to_unwritable_path_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vaquero.analysis", "report", str(FIXTURES / "workflows.jsonl"),
         "-o", str(tmp_path / "missing-dir" / "r.html")],
        capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "cannot write the report" in proc.stderr


# --- what someone on call needs: per-workflow examples, readable waterfalls, charts ---------

def _s(number: int, name: str, start_ms: float, end_ms: float, parent: int | None = None,
       error: bool = False, message: str | None = None) -> Span:
    base = 1_700_000_000_000_000_000
    return Span("ab" * 16, f"{number:016x}", None if parent is None else f"{parent:016x}", name,
                base + int(start_ms * 1e6), base + int(end_ms * 1e6), error, None,
                "Boom" if error else None, message)


def _kept(spans: list[Span], reason: str = "slowest", incomplete: bool = False) -> KeptTrace:
    total = (max(s.end_ns for s in spans) - min(s.start_ns for s in spans)) / 1e6
    return KeptTrace(reason, "job", total, tuple(spans), trace_id="ab" * 16,
                     incomplete=incomplete, agent=None)


def _rows(page: str) -> list[str]:
    """The visible label of every waterfall row, in order."""
    return re.findall(r'<div class="wf-row[^"]*" title="[^"]*"[^>]*><div class="wf-name"[^>]*>'
                      r'(?:<div class="wf-label">)?([^<]*)', page)


def test_errors_survive_the_row_cap_and_come_first() -> None:
    spans = [_s(1, "root", 0, 2000)]
    spans += [_s(10 + i, f"step_{i}", i, i + 1, parent=1) for i in range(1000)]
    spans += [_s(5000 + i, "late_failure", 1500 + i, 1510 + i, parent=1, error=True,
                 message=f"failure {i}") for i in range(3)]
    page = waterfall_html(_kept(spans))
    rows = _rows(page)
    assert rows.count("late_failure") == 3            # none of the three cut away
    assert rows[1:4] == ["late_failure"] * 3          # and right under the root
    assert len(rows) <= MAX_ROWS + 3
    assert "more rows not shown" in page


def test_repeated_siblings_collapse_but_errors_keep_their_row() -> None:
    spans = [_s(1, "crawl", 0, 1300)]
    spans += [_s(10 + i, "fetch_page", i, i + 1, parent=1) for i in range(1200)]
    spans.append(_s(9999, "fetch_page", 1200, 1290, parent=1, error=True, message="HTTP 503"))
    page = waterfall_html(_kept(spans))
    assert "×1,200</b>" in page
    assert _rows(page) == ["crawl", "fetch_page", "fetch_page "]  # the error, then the group
    assert "HTTP 503" in page


def test_a_storm_of_identical_failures_is_one_red_row() -> None:
    spans = [_s(1, "crawl", 0, 100)]
    spans += [_s(10 + i, "fetch_page", i, i + 1, parent=1, error=True, message="503")
              for i in range(30)]
    odd = _s(99, "fetch_page", 50, 60, parent=1, error=True, message="404")
    spans.append(odd._replace(failure="NotFound"))
    page = waterfall_html(_kept(spans))
    assert '<div class="wf-row group error' in page
    assert ">30 failed: Boom<" in page            # the failure the group shares
    assert len(_rows(page)) == 3                  # crawl, the storm, the one odd failure


def test_critical_path_is_highlighted_and_axis_labelled() -> None:
    spans = [_s(1, "root", 0, 100), _s(2, "short_parallel", 0, 20, parent=1),
             _s(3, "long_parallel", 0, 100, parent=1)]
    page = waterfall_html(_kept(spans))
    classes = dict(zip(_rows(page), re.findall(r'<div class="(wf-row[^"]*)" title', page),
                       strict=True))
    assert "crit" in classes["root"].split()  # the path starts there, even with no own time
    assert "crit" in classes["long_parallel"].split()
    assert "crit" not in classes["short_parallel"].split()
    labels = re.findall(r'class="wf-tick-label"[^>]*>([^<]*)<', page)
    assert labels[0] == "0" and len(labels) >= 4 and all("ms" in lab for lab in labels[1:])


def test_error_message_and_duration_have_their_own_places() -> None:
    spans = [_s(1, "root", 0, 50, error=True, message="User already exists " * 10)]
    page = waterfall_html(_kept(spans))
    row = page[page.index('<div class="wf-row error'):]
    name_cell = row[:row.index('<div class="wf-track">')]
    assert '<div class="wf-err">User already exists' in name_cell
    assert '<div class="wf-dur">50 ms</div>' in row


def _report(tmp_path: Path, **kwargs: object) -> tuple[AnalysisResult, str]:
    source = write_report_traces(tmp_path / "traces.jsonl")
    out = tmp_path / "report.html"
    result = write_report(source, out, **kwargs)  # type: ignore[arg-type]
    return result, out.read_text()


def test_each_workflow_shows_slowest_p95_and_one_per_failure_pattern(tmp_path: Path) -> None:
    result, page = _report(tmp_path)
    for index, workflow in enumerate(result.workflows):
        reasons = re.findall(r'data-reason="([^"]*)"', page[page.index(f'id="wf-{index}"'):]
                             .split('<section class="workflow"')[0])
        assert reasons[0] == "slowest"
        assert "p95" in reasons
        expected = {f"failure: {f.exception_type} in {f.step}" for f in workflow.failures}
        assert expected and expected <= set(reasons)
    assert "fetch_page <b class=\"wf-count\">×1,200</b>" in page


def test_histogram_marks_percentiles_and_splits_failed_runs(tmp_path: Path) -> None:
    result, page = _report(tmp_path)
    research = result.workflows[0]
    svg = page[page.index('<svg class="chart histogram"'):]
    svg = svg[:svg.index("</svg>")]
    assert (f">p50 {duration_label(research.p50_ms)} · p95 {duration_label(research.p95_ms)}<"
            in svg)
    assert svg.count('<line class="marker p50"') == svg.count('<line class="marker p95"') == 1
    tips = re.findall(r'<rect class="hbar failed"[^>]*><title>[^<]*?([\d,]+) failed', svg)
    failed_runs = round(research.runs * (1 - research.success_rate))
    assert failed_runs > 0
    assert sum(int(t.replace(",", "")) for t in tips) == failed_runs


def test_time_axis_charts_and_data_range(tmp_path: Path) -> None:
    result, page = _report(tmp_path)
    assert result.time_range is not None
    assert 'id="time-range"' in page and "2025-06-15 15:07:10" in page
    assert page.count('<svg class="chart timeseries"') == len(result.workflows)
    svg = page[page.index('<svg class="chart timeseries"'):]
    svg = svg[:svg.index("</svg>")]
    assert "run start time (UTC)" in svg and re.search(r">1[5-7]:\d\d<", svg)
    assert 'class="series err"' in svg and 'class="series p95"' in svg


def test_trace_ids_link_to_jaeger_when_known(tmp_path: Path) -> None:
    result, page = _report(tmp_path, jaeger_url="http://jaeger.internal:16686/")
    trace_id = result.kept_traces[0].trace_id
    assert f'href="http://jaeger.internal:16686/trace/{trace_id}"' in page
    _, plain = _report(tmp_path)
    assert "/trace/" not in plain


def test_a_span_whose_parent_never_arrived_is_still_drawn() -> None:
    spans = [_s(1, "root", 0, 100), _s(2, "step", 10, 40, parent=1),
             _s(3, "lost_child", 50, 70, parent=99, error=True, message="gone"),
             _s(4, "under_lost", 55, 60, parent=3)]
    page = waterfall_html(_kept(spans, incomplete=True))
    assert _rows(page) == ["root", "step", "lost_child", "under_lost"]
    assert page.count("parent span missing") == 1


def test_incomplete_traces_are_drawn_apart() -> None:
    complete = _kept([_s(1, "job", 0, 10)], reason="slowest")
    partial = _kept([_s(1, "job", 0, 30), _s(2, "orphan", 5, 9, parent=77)], reason="p95",
                    incomplete=True)
    workflow = WorkflowStats("job", None, 2, 1.0, 10, 30, 30, 30, 0.02, (), (), 1)
    result = AnalysisResult((workflow,), (), 3, 0, kept_traces=(complete, partial))
    page = render_html(result, "x.jsonl")
    head, tail = page.split("<h3>Incomplete traces", 1)
    assert 'data-reason="slowest"' in head and 'data-reason="p95"' not in head
    assert '<section class="trace incomplete"' in tail and "incomplete</span>" in tail


def test_notices_are_shown(tmp_path: Path) -> None:
    workflow = WorkflowStats("job", None, 1, 1.0, 10, 10, 10, 10, 0.01, (), (), 0)
    result = AnalysisResult((workflow,), (), 1, 0, notices=("Jaeger's search limit <was> hit",))
    page = render_html(result, "http://127.0.0.1:16686")
    assert "Jaeger&#x27;s search limit &lt;was&gt; hit" in page


def test_failure_rows_link_to_their_example_waterfall(tmp_path: Path) -> None:
    result, page = _report(tmp_path)
    links = re.findall(r'<a href="#(t-\d+-\d+)">waterfall</a>', page)
    assert len(links) == sum(len(w.failures) for w in result.workflows)
    for anchor in links:
        section = page[page.index(f'id="{anchor}"'):]
        assert section.startswith(f'id="{anchor}" data-reason="failure: ')


def test_many_big_traces_share_a_row_budget() -> None:
    def big(number: int) -> KeptTrace:
        spans = [_s(1, "root", 0, 5000)]
        spans += [_s(10 + i, f"step_{i}", i, i + 1, parent=1) for i in range(500)]
        return KeptTrace(f"failure: E{number} in step", "job", 5000.0, tuple(spans),
                         trace_id=f"{number:032x}")

    workflow = WorkflowStats("job", None, 500, 0.5, 10, 30, 30, 30, 0.02, (), (), 0)
    result = AnalysisResult((workflow,), (), 50_000, 0,
                            kept_traces=tuple(big(n) for n in range(100)))
    page = render_html(result, "x.jsonl")
    assert page.count('<div class="waterfall"') == 100          # every trace still drawn
    rows = len(re.findall(r'<div class="wf-row[^"]*" title=', page))
    assert 100 * 40 <= rows <= 20_000 + 100 * 40


def test_jaeger_links_are_the_only_way_out(tmp_path: Path) -> None:
    """With a Jaeger URL the page gains links (the reader's choice), never a fetch."""
    _, page = _report(tmp_path, jaeger_url="https://jaeger.example:16686")
    parser = _Collector()
    parser.feed(page)
    external = 0
    for tag, attrs in parser.tags:
        assert tag not in {"link", "iframe", "img", "object", "embed"}, tag
        for name, value in attrs.items():
            if name in {"src", "srcset", "action", "data", "xlink:href"}:
                raise AssertionError((tag, name, value))
            if name == "href" and not (value or "").startswith("#"):
                assert tag == "a" and (value or "").startswith("https://jaeger.example:16686/trace/")
                assert attrs.get("rel") == "noopener noreferrer"
                external += 1
    assert external >= 2
