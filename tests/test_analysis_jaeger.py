"""Reading traces from Jaeger's /api/v3, served by a real http.server on 127.0.0.1.

The fake follows the query rules of the Jaeger versions in use (read from Jaeger's own gateway
source): 1.53 to 2.18 read only snake_case names (``query.start_time_min``,
``query.num_traces``) and answer HTTP 400 with ``{"error": {"message": ...}}`` when the window
is missing; 2.19+ read camelCase and keep snake_case as an alias; a future version may drop the
aliases. It returns at most ``depth`` traces per search, most recent first, like Jaeger's
storages, so paging is tested against real truncation.

The fake stays for what one real Jaeger cannot show: other API versions, a memory store's
depth limit, streamed error chunks, failing services. Its 404 ``No traces found`` and 400
"start_time_min and start_time_max are required" answers are the ones Jaeger 2.13 gives
(checked against the live stack); the ordinary path, thousands of traces past the search
limit, runs against the real Jaeger in tests/test_live_analysis.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from conftest import serve_http

from vaquero.analysis import AnalysisInputError, JaegerOptions, analyze
from vaquero.analysis._jaeger import parse_header

REPO = Path(__file__).resolve().parent.parent
NOW = time.time_ns()
MS = 1_000_000
BASE = NOW - 3600 * 1000 * MS  # traces start in the last hour


def _span(trace: int, span: int, name: str, start_ms: int, end_ms: int,
          parent: int | None = None, error: bool = False, base: int | None = None) -> dict:
    origin = NOW - 60_000 * MS if base is None else base
    out = {"traceId": f"{trace:032x}", "spanId": f"{span:016x}", "name": name,
           "startTimeUnixNano": str(origin + start_ms * MS),
           "endTimeUnixNano": str(origin + end_ms * MS),
           "attributes": [{"key": "gen_ai.agent.name", "value": {"stringValue": "shop"}}]}
    if parent is not None:
        out["parentSpanId"] = f"{parent:016x}"
    if error:
        out["status"] = {"code": 2, "message": "declined"}
    return out


# Trace 1 spans two services, so Jaeger returns it for both: it must be counted once.
TRACE_1 = [_span(1, 1, "checkout", 0, 100), _span(1, 2, "charge_card", 10, 90, parent=1)]
TRACE_2 = [_span(2, 3, "checkout", 0, 300, error=True),
           _span(2, 4, "charge_card", 0, 250, parent=3, error=True)]
SMALL = {"frontend": [TRACE_1], "payments": [TRACE_1, TRACE_2]}


def _parse_time(text: str) -> int:
    """RFC 3339 with up to nanoseconds -> ns (what Go's time.RFC3339Nano parser accepts)."""
    assert text.endswith("Z"), text
    whole, _, fraction = text[:-1].partition(".")
    moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


class _Jaeger(BaseHTTPRequestHandler):
    """State lives on the class, reset by the fixture; one server per test."""

    version = "2.19"            # "1.53" (snake_case only), "2.19" (both), "future" (camel only)
    services: list[str] = []
    traces: dict[str, list[list[dict]]] = {}
    queries: list[dict[str, list[str]]] = []
    failing: set[str] = set()   # services whose search answers 500
    stream = False              # answer as a sequence of {"result": ...} chunks
    stream_error: str | None = None  # ... ending with an {"error": ...} chunk
    max_depth = 100_000         # like the memory store's max_traces
    need_header: tuple[str, str] | None = None
    delay_s = 0.0

    def do_GET(self) -> None:
        cls = type(self)
        if cls.delay_s:
            time.sleep(cls.delay_s)
        if cls.need_header and self.headers.get(cls.need_header[0]) != cls.need_header[1]:
            self._error(401, "missing or wrong bearer token")
            return
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/api/v3/services":
            self._send(200, {"services": cls.services})
        elif url.path == "/api/v3/traces":
            self._search(urllib.parse.parse_qs(url.query))
        else:
            self._send(404, {})

    def _param(self, query: dict[str, list[str]], camel: str, snake: str) -> str | None:
        names = {"1.53": [snake], "2.19": [camel, snake], "future": [camel]}[self.version]
        for name in names:
            if query.get(name):
                return query[name][0]
        return None

    def _search(self, query: dict[str, list[str]]) -> None:
        cls = type(self)
        cls.queries.append(query)
        service = self._param(query, "query.serviceName", "query.service_name") or ""
        low = self._param(query, "query.startTimeMin", "query.start_time_min")
        high = self._param(query, "query.startTimeMax", "query.start_time_max")
        if not low or not high:
            names = ("query.start_time_min and query.start_time_max" if self.version == "1.53"
                     else "query.startTimeMin and query.startTimeMax")
            self._error(400, f"{names} are required")
            return
        depth_text = self._param(query, "query.searchDepth", "query.num_traces")
        depth = int(depth_text) if depth_text else 100
        if depth <= 0 or depth > cls.max_depth:
            self._error(500, "search depth must be greater than 0 and less than max traces")
            return
        if service in cls.failing:
            self._error(500, f"storage down for {service}")
            return
        lo, hi = _parse_time(low), _parse_time(high)
        hits = [trace for trace in cls.traces.get(service, [])
                if lo <= int(trace[0]["startTimeUnixNano"]) <= hi]
        hits.sort(key=lambda trace: -int(trace[0]["startTimeUnixNano"]))
        hits = hits[:depth]
        if not hits:
            self._error(404, "No traces found")
            return
        chunks = [{"result": {"resourceSpans": [{"resource": {}, "scopeSpans": [
            {"spans": trace}]}]}} for trace in hits]
        if cls.stream:
            body = b"".join(json.dumps(chunk).encode() + b"\n" for chunk in chunks)
            if cls.stream_error:
                body += json.dumps({"error": {"grpcCode": 4, "httpCode": 504,
                                              "message": cls.stream_error}}).encode()
            self._raw(200, body)
        else:
            merged = {"result": {"resourceSpans": [
                block for chunk in chunks for block in chunk["result"]["resourceSpans"]]}}
            self._send(200, merged)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": {"httpCode": status, "message": message}})

    def _send(self, status: int, body: Any) -> None:
        self._raw(status, json.dumps(body).encode())

    def _raw(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def jaeger() -> Iterator[str]:
    _Jaeger.version = "2.19"
    _Jaeger.services = ["frontend", "payments", "idle"]
    _Jaeger.traces = SMALL
    _Jaeger.queries = []
    _Jaeger.failing = set()
    _Jaeger.stream = False
    _Jaeger.stream_error = None
    _Jaeger.max_depth = 100_000
    _Jaeger.need_header = None
    _Jaeger.delay_s = 0.0
    with serve_http(_Jaeger) as url:
        yield url


def _many(count: int, service_prefix: int = 0, same_start: bool = False) -> list[list[dict]]:
    """``count`` one-span traces spread over the last hour (or all at one instant)."""
    traces = []
    for index in range(count):
        offset = 0 if same_start else index * (3_500_000 // count)
        trace_no = service_prefix + index + 1
        traces.append([_span(trace_no, trace_no, "job", offset, offset + 5,
                             error=index % 10 == 0, base=BASE)])
    return traces


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaquero.analysis", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def test_traces_analysed_once_each(jaeger: str) -> None:
    result = analyze(jaeger).to_dict()
    (workflow,) = result["workflows"]
    assert (workflow["name"], workflow["agent"], workflow["runs"]) == ("checkout", "shop", 2)
    assert workflow["success_rate"] == 0.5
    assert workflow["duration_ms"]["max"] == 300.0
    assert workflow["failures"] == [{"exception_type": "declined", "step": "charge_card",
                                     "count": 1}]
    assert result["spans_read"] == 4  # trace 1's second copy is dropped
    assert result["notices"] == []


@pytest.mark.parametrize("version", ["1.53", "2.19", "future"])
def test_every_api_version_reads_the_window(jaeger: str, version: str) -> None:
    _Jaeger.version = version
    before = time.time()
    result = analyze(jaeger, since="2h")
    assert result.workflows[0].runs == 2
    query = _Jaeger.queries[0]
    for camel, snake in (("query.startTimeMin", "query.start_time_min"),
                         ("query.startTimeMax", "query.start_time_max"),
                         ("query.serviceName", "query.service_name"),
                         ("query.searchDepth", "query.num_traces")):
        assert query[camel] == query[snake]
    start_min = _parse_time(query["query.start_time_min"][0]) / 1e9
    start_max = _parse_time(query["query.start_time_max"][0]) / 1e9
    assert abs((start_max - start_min) - 7200) < 1
    assert abs(start_max - before) < 60


def test_jaegers_own_error_message_is_shown(jaeger: str) -> None:
    _Jaeger.version = "1.53"
    _Jaeger.failing = {"frontend", "payments", "idle"}
    with pytest.raises(AnalysisInputError) as caught:
        analyze(jaeger)
    message = str(caught.value)
    assert "answered HTTP 500" in message
    assert "storage down for frontend" in message


def test_paging_reads_every_trace_past_the_search_limit(jaeger: str) -> None:
    """The issue's case: 6,500 traces behind Jaeger's default-sized answers of 1,000."""
    _Jaeger.services = ["batch"]
    _Jaeger.traces = {"batch": _many(6_500)}
    result = analyze(jaeger)
    (workflow,) = result.workflows
    assert workflow.runs == 6_500
    assert workflow.success_rate == 0.9
    assert result.notices == ()
    assert len(_Jaeger.queries) > 6_500 // 1_000  # it really had to page


@pytest.mark.parametrize("shape", ["uniform", "bursts", "one_second"])
def test_paging_reads_everything_whatever_the_time_distribution(jaeger: str, shape: str) -> None:
    """600 traces, a limit of 40: spread over an hour, in five 2-second bursts, or all within
    one second (distinct milliseconds). Every trace is read, none twice, and no notice."""
    offsets = {
        "uniform": [i * 6000 for i in range(600)],
        "bursts": [burst * 700_000 + i * 16 for burst in range(5) for i in range(120)],
        "one_second": [1_000_000 + i for i in range(600)],
    }[shape]
    _Jaeger.services = ["svc"]
    _Jaeger.traces = {"svc": [[_span(n + 1, n + 1, "job", at, at + 3, base=BASE)]
                              for n, at in enumerate(offsets)]}
    result = analyze(jaeger, since="2h", jaeger=JaegerOptions(search_depth=40))
    (workflow,) = result.workflows
    assert workflow.runs == 600 and result.spans_read == 600
    assert result.notices == ()


def test_a_limit_that_cannot_be_paged_is_reported_with_its_count(jaeger: str) -> None:
    _Jaeger.services = ["burst"]
    _Jaeger.traces = {"burst": _many(50, same_start=True)}
    result = analyze(jaeger, jaeger=JaegerOptions(search_depth=20))
    assert result.workflows[0].runs == 20
    (notice,) = result.notices
    assert "search limit was hit" in notice and "'burst' returned 20 traces" in notice


def test_streamed_result_chunks_are_read(jaeger: str) -> None:
    _Jaeger.stream = True
    _Jaeger.services = ["frontend", "payments", "batch"]
    _Jaeger.traces = {**SMALL, "batch": _many(40, service_prefix=100)}
    result = analyze(jaeger)
    assert sorted((w.name, w.runs) for w in result.workflows) == [("checkout", 2), ("job", 40)]


def test_an_error_chunk_in_a_stream_is_reported(jaeger: str) -> None:
    _Jaeger.stream = True
    _Jaeger.stream_error = "context deadline exceeded"
    result = analyze(jaeger)
    assert result.workflows[0].runs == 2  # the chunks before the error are kept
    assert any("context deadline exceeded" in notice for notice in result.notices)


def test_one_failing_service_is_reported_and_the_rest_read(jaeger: str) -> None:
    _Jaeger.failing = {"frontend"}
    result = analyze(jaeger)
    assert result.workflows[0].runs == 2  # payments still holds both traces
    (notice,) = result.notices
    assert "HTTP 500" in notice and "'frontend'" in notice and "storage down" in notice


def test_a_too_deep_search_is_retried_shallower(jaeger: str) -> None:
    _Jaeger.max_depth = 50
    _Jaeger.services = ["batch"]
    _Jaeger.traces = {"batch": _many(120)}
    result = analyze(jaeger)  # default depth 1000 > max 50
    assert result.workflows[0].runs == 120


def test_cli_sends_headers_and_prints_notices(jaeger: str) -> None:
    _Jaeger.need_header = ("Authorization", "Bearer s3cret")
    _Jaeger.failing = {"frontend"}
    denied = _cli("analyze", jaeger, "--json")
    assert denied.returncode == 2
    assert "HTTP 401" in denied.stderr and "missing or wrong bearer token" in denied.stderr
    assert "--jaeger-header" in denied.stderr
    proc = _cli("analyze", jaeger, "--json", "--jaeger-header", "Authorization=Bearer s3cret",
                "--timeout", "20")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["workflows"][0]["runs"] == 2
    assert len(document["notices"]) == 1
    assert "warning: Jaeger at" in proc.stderr and "'frontend'" in proc.stderr


def test_timeout_is_one_message(jaeger: str) -> None:
    _Jaeger.delay_s = 3.0
    proc = _cli("analyze", jaeger, "--timeout", "0.3")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "did not answer within 0.3s" in proc.stderr


def test_report_links_trace_ids_to_the_jaeger_it_read(jaeger: str, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    proc = _cli("report", jaeger + "/", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert f'href="{jaeger}/trace/{2:032x}"' in page  # the failing run's trace


def test_404_everywhere_means_no_traces(jaeger: str) -> None:
    _Jaeger.services = ["idle", "also-idle"]
    proc = _cli("analyze", jaeger, "--json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert (document["workflows"], document["spans_read"], document["notices"]) == ([], 0, [])


def test_not_jaeger_is_an_input_error(jaeger: str) -> None:
    with pytest.raises(AnalysisInputError, match="service list"):
        analyze(jaeger + "/api/v3/traces")  # /api/v3/traces/api/v3/services -> our 404 {}


@pytest.mark.parametrize(("text", "expected"), [
    ("Authorization=Bearer a=b", ("Authorization", "Bearer a=b")),
    ("X-Org-Id: 42", ("X-Org-Id", "42")),
])
def test_header_syntax(text: str, expected: tuple[str, str]) -> None:
    assert parse_header(text) == expected


@pytest.mark.parametrize("text", ["no-separator", "=value", "two words=x"])
def test_bad_header_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="jaeger-header"):
        parse_header(text)
