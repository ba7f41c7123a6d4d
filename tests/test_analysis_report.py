"""The HTML report: self-contained, escaped, and bounded in what it draws."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from vaquero.analysis import write_report

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


def test_report_keeps_slowest_and_at_most_ten_failed_traces(tmp_path: Path) -> None:
    start = 1_700_000_000_000_000_000
    lines = []
    for trace in range(1, 31):  # 30 runs, 25 failed; trace 7 is the slowest
        duration = 5000 if trace == 7 else 100 + trace
        span = {"traceId": f"{trace:032x}", "spanId": f"{trace:016x}", "name": "job",
                "startTimeUnixNano": str(start),
                "endTimeUnixNano": str(start + duration * 1_000_000)}
        if trace > 5:
            span["status"] = {"code": 2}
        lines.append(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}))
    source = tmp_path / "many.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "report.html"
    result = write_report(source, out)
    assert [t.reason for t in result.kept_traces] == ["slowest run"] + ["failed run"] * 10
    assert result.kept_traces[0].duration_ms == 5000.0
    page = out.read_text()
    assert page.count('class="waterfall"') == 11
    assert page.count("Slowest run: job") == 1


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
    assert page.count("<svg") == 2  # one duration chart per workflow


def test_report_to_unwritable_path_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vaquero.analysis", "report", str(FIXTURES / "workflows.jsonl"),
         "-o", str(tmp_path / "missing-dir" / "r.html")],
        capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "cannot write the report" in proc.stderr
