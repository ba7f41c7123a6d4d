"""Reading traces from Jaeger's /api/v3 served by a real http.server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from vaquero.analysis import AnalysisInputError, analyze

REPO = Path(__file__).resolve().parent.parent
NOW = time.time_ns()
MS = 1_000_000


def _span(trace: int, span: int, name: str, start_ms: int, end_ms: int,
          parent: int | None = None, error: bool = False) -> dict:
    out = {"traceId": f"{trace:032x}", "spanId": f"{span:016x}", "name": name,
           "startTimeUnixNano": str(NOW - 60_000 * MS + start_ms * MS),
           "endTimeUnixNano": str(NOW - 60_000 * MS + end_ms * MS),
           "attributes": [{"key": "gen_ai.agent.name", "value": {"stringValue": "shop"}}]}
    if parent is not None:
        out["parentSpanId"] = f"{parent:016x}"
    if error:
        out["status"] = {"code": 2, "message": "declined"}
    return out


def _traces(*spans: dict) -> dict:
    return {"result": {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": list(spans)}]}]}}


# Trace 1 spans two services, so Jaeger returns it for both: it must be counted once.
TRACE_1 = [_span(1, 1, "checkout", 0, 100), _span(1, 2, "charge_card", 10, 90, parent=1)]
TRACE_2 = [_span(2, 3, "checkout", 0, 300, error=True),
           _span(2, 4, "charge_card", 0, 250, parent=3, error=True)]
ANSWERS = {
    "frontend": _traces(*TRACE_1),
    "payments": _traces(*TRACE_1, *TRACE_2),
}


class _FakeJaeger(BaseHTTPRequestHandler):
    services: list[str] = ["frontend", "payments", "idle"]
    queries: list[dict[str, list[str]]] = []
    fail_traces = False

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/api/v3/services":
            self._send(200, {"services": self.services})
        elif url.path == "/api/v3/traces":
            query = urllib.parse.parse_qs(url.query)
            type(self).queries.append(query)
            if self.fail_traces:
                self._send(500, {"error": "storage down"})
                return
            answer = ANSWERS.get(query.get("query.serviceName", [""])[0])
            if answer is None:  # Jaeger says "nothing found" with 404
                self._send(404, {"error": {"httpCode": 404, "message": "trace not found"}})
            else:
                self._send(200, answer)
        else:
            self._send(404, {})

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def jaeger() -> Iterator[str]:
    _FakeJaeger.queries = []
    _FakeJaeger.services = ["frontend", "payments", "idle"]
    _FakeJaeger.fail_traces = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeJaeger)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_jaeger_traces_analysed_once_each(jaeger: str) -> None:
    result = analyze(jaeger).to_dict()
    (workflow,) = result["workflows"]
    assert (workflow["name"], workflow["agent"], workflow["runs"]) == ("checkout", "shop", 2)
    assert workflow["success_rate"] == 0.5
    assert workflow["duration_ms"]["max"] == 300.0
    assert workflow["failures"] == [{"exception_type": "declined", "step": "charge_card",
                                     "count": 1}]
    assert result["spans_read"] == 4  # trace 1's second copy is dropped


def test_jaeger_query_parameters(jaeger: str) -> None:
    before = time.time()
    analyze(jaeger, since="2h")
    assert [q["query.serviceName"] for q in _FakeJaeger.queries] == [
        ["frontend"], ["payments"], ["idle"]]
    query = _FakeJaeger.queries[0]
    assert set(query) == {"query.serviceName", "query.startTimeMin", "query.startTimeMax",
                          "query.searchDepth"}
    start_min = datetime.fromisoformat(query["query.startTimeMin"][0].replace("Z", "+00:00"))
    start_max = datetime.fromisoformat(query["query.startTimeMax"][0].replace("Z", "+00:00"))
    assert query["query.startTimeMin"][0].endswith("Z")
    assert abs((start_max - start_min).total_seconds() - 7200) < 1
    assert abs(start_max.timestamp() - before) < 60
    assert int(query["query.searchDepth"][0]) > 0


def test_jaeger_404_everywhere_means_no_traces(jaeger: str) -> None:
    _FakeJaeger.services = ["idle", "also-idle"]
    proc = subprocess.run([sys.executable, "-m", "vaquero.analysis", "analyze", jaeger, "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"workflows": [], "insights": [], "spans_read": 0,
                                       "malformed_lines": 0}


def test_jaeger_server_error_is_an_input_error(jaeger: str) -> None:
    _FakeJaeger.fail_traces = True
    with pytest.raises(AnalysisInputError, match="answered HTTP 500"):
        analyze(jaeger)


def test_not_jaeger_is_an_input_error(jaeger: str) -> None:
    with pytest.raises(AnalysisInputError, match="service list"):
        analyze(jaeger + "/api/v3/traces")  # /api/v3/traces/api/v3/services -> our 404 {}
