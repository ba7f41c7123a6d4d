"""Service traces in ``analyze`` and ``report`` (issue 20 item 7).

Spans as opentelemetry-instrumentation-fastapi/-asgi and -httpx write them (names, kinds
and attributes copied from a real run under ``opentelemetry-instrument``): request-only
traces do not drown agent runs, ASGI ``http send`` spans are not steps, and an HTTP
client span reads as a step by what it calls.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _otlp_builder import span, write
from hypothesis import given, settings
from hypothesis import strategies as st

from vaquero.analysis import analyze, write_report
from vaquero.analysis._http import ROLE_PLUMBING, ROLE_REQUEST, ROLE_STEP, classify

SERVER, CLIENT, INTERNAL = 2, 3, 1
REPO = Path(__file__).resolve().parent.parent


def _request(trace: int, route: str, start: float, end: float) -> list[dict]:
    """GET {route} as FastAPI under opentelemetry-instrument writes it, with its send span."""
    root = trace * 100
    return [
        span(trace, root, None, f"GET {route}", start, end, kind=SERVER,
             attributes={"http.method": "GET", "http.route": route, "http.target": route,
                         "http.status_code": 200}),
        span(trace, root + 1, root, f"GET {route} http send", end - 0.2, end - 0.1,
             attributes={"asgi.event.type": "http.response.start", "http.status_code": 200}),
        span(trace, root + 2, root, f"GET {route} http send", end - 0.1, end,
             attributes={"asgi.event.type": "http.response.body"}),
    ]


def _search(trace: int, start: float) -> list[dict]:
    """GET /search > agent search > rank > httpx GET > GET /stock/{item} (same trace)."""
    spans = _request(trace, "/search", start, start + 40)
    root = trace * 100
    spans += [
        span(trace, root + 10, root, "search", start + 1, start + 38, agent="search_agent",
             invoke=True),
        span(trace, root + 11, root + 10, "rank_results", start + 2, start + 30,
             agent="search_agent"),
        span(trace, root + 12, root + 11, "GET", start + 5, start + 25, kind=CLIENT,
             agent="search_agent",
             attributes={"http.method": "GET", "http.url": "http://127.0.0.1:8020/stock/boots",
                         "http.status_code": 200}),
    ]
    for item in _request(trace, "/stock/{item}", start + 6, start + 24):
        item["spanId"] = f"{int(item['spanId'], 16) + 50:016x}"
        if item.get("parentSpanId"):
            item["parentSpanId"] = f"{int(item['parentSpanId'], 16) + 50:016x}"
        else:
            item["parentSpanId"] = f"{root + 12:016x}"
        spans.append(item)
    return spans


def _service_file(tmp_path: Path) -> Path:
    traces = [_search(1, 0), _search(2, 100), _search(3, 200)]
    traces += [_request(10 + n, "/health", 300 + n * 10, 301 + n * 10) for n in range(40)]
    traces += [_request(60, "/docs", 900, 902)]
    return write(tmp_path / "service.jsonl", *traces)


def test_request_only_traces_do_not_drown_the_agent_runs(tmp_path: Path) -> None:
    result = analyze(_service_file(tmp_path))
    assert [(w.name, w.agent, w.runs) for w in result.workflows] == [
        ("search", "search_agent", 3)]
    assert result.request_only_runs == 41
    assert result.request_only_workflows == ("GET /health", "GET /docs")
    document = result.to_dict()
    assert document["request_only_runs"] == 41
    assert document["request_only_workflows"] == ["GET /health", "GET /docs"]


def test_a_request_only_workflow_is_still_there_by_name(tmp_path: Path) -> None:
    (health,) = analyze(_service_file(tmp_path), workflow="GET /health").workflows
    assert (health.name, health.agent, health.runs) == ("GET /health", None, 40)
    assert health.steps == ()  # its two http send spans are not steps


def test_without_agents_the_requests_are_the_workflows(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.jsonl", _request(1, "/health", 0, 1),
                 _request(2, "/orders", 10, 30))
    result = analyze(path)
    assert sorted(w.name for w in result.workflows) == ["GET /health", "GET /orders"]
    assert result.request_only_runs == 0


def test_plumbing_is_not_a_step_and_client_calls_read_by_target(tmp_path: Path) -> None:
    (search,) = analyze(_service_file(tmp_path)).workflows
    steps = {step.name: step for step in search.steps}
    assert set(steps) == {"rank_results", "GET 127.0.0.1:8020", "GET /stock/{item}"}
    assert steps["GET 127.0.0.1:8020"].calls == 3
    shares = sum(step.critical_path_share for step in search.steps) + search.own_time_share
    assert shares == pytest.approx(1.0, abs=1e-3)


def test_the_text_and_the_report_say_what_was_left_out(tmp_path: Path) -> None:
    path = _service_file(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "vaquero", "analyze", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "1 workflow\n" in proc.stdout
    assert ("41 request-only runs left out (GET /health, GET /docs: HTTP requests whose trace "
            "holds no agent), as this source has agent runs; --workflow 'GET /health' shows "
            "one") in proc.stdout
    assert "http send" not in proc.stdout
    page_path = tmp_path / "r.html"
    write_report(path, page_path)
    page = page_path.read_text()
    assert 'id="request-only"' in page and "41 request-only runs left out" in page
    assert "http send" not in page  # not in the tables, not in the waterfalls
    json_out = subprocess.run([sys.executable, "-m", "vaquero", "analyze", "--json", str(path)],
                              capture_output=True, text=True, timeout=60, cwd=REPO)
    assert json.loads(json_out.stdout)["request_only_runs"] == 41


# --- the classification on its own -------------------------------------------------------------

@pytest.mark.parametrize(("kind", "name", "http", "expected"), [
    (CLIENT, "GET", {"http.method": "GET", "http.url": "http://127.0.0.1:8020/stock/b"},
     ("GET 127.0.0.1:8020", ROLE_STEP)),
    (CLIENT, "GET", {"http.request.method": "GET",
                     "url.full": "https://user:secret@api.example.com/v1/x?token=t"},
     ("GET api.example.com", ROLE_STEP)),
    (CLIENT, "POST", {"http.request.method": "POST", "server.address": "pay.example.com",
                      "server.port": "8443", "url.full": "https://pay.example.com:8443/charge"},
     ("POST pay.example.com:8443", ROLE_STEP)),
    (CLIENT, "GET", {"http.request.method": "GET", "url.template": "/items/{id}",
                     "server.address": "shop"}, ("GET /items/{id}", ROLE_STEP)),
    (CLIENT, "HTTP", {"http.request.method": "_OTHER", "url.full": "http://[::1]:9000/"},
     ("HTTP [::1]:9000", ROLE_STEP)),
    ("SPAN_KIND_CLIENT", "HTTP GET", {"http.method": "GET", "net.peer.name": "inventory"},
     ("GET inventory", ROLE_STEP)),
    (CLIENT, "fetch_prices", {"http.method": "GET", "http.url": "http://p/"},
     ("fetch_prices", ROLE_STEP)),  # a name someone chose is kept
    (SERVER, "GET /search", {"http.method": "GET"}, ("GET /search", ROLE_REQUEST)),
    ("SPAN_KIND_SERVER", "GET", {"http.request.method": "GET"}, ("GET", ROLE_REQUEST)),
    (INTERNAL, "GET /x http send", {"asgi.event.type": "http.response.body"},
     ("GET /x http send", ROLE_PLUMBING)),
    (INTERNAL, "GET", {"http.method": "GET"}, ("GET", ROLE_STEP)),
    (CLIENT, "GET", {"http.method": "GET"}, ("GET", ROLE_STEP)),  # nothing to name it by
])
def test_classify(kind, name, http, expected) -> None:
    assert classify(kind, name, http) == expected


_HOSTS = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){0,2}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(host=_HOSTS, port=st.one_of(st.none(), st.integers(1, 65535)),
       user=st.text("abcdef:%", min_size=1, max_size=8),
       path=st.text("abc/{}-_", max_size=20), query=st.text("abc=&", max_size=10))
def test_a_client_step_name_is_method_and_host_never_credentials_or_query(
        host, port, user, path, query) -> None:
    netloc = f"{user}@{host}" + (f":{port}" if port is not None else "")
    url = f"https://{netloc}/{path}" + (f"?{query}" if query else "")
    name, role = classify(CLIENT, "GET", {"http.method": "GET", "http.url": url})
    shown = host if port in (None, 80, 443) else f"{host}:{port}"
    assert (name, role) == (f"GET {shown}", ROLE_STEP)
