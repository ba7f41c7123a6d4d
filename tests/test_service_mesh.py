"""Two real services on loopback: FastAPI under uvicorn, joined by httpx, under
``opentelemetry-instrument``, exporting through vaquero.

The frontend's agent calls the backend over HTTP; the HTTP instrumentations carry the
trace context and vaquero's agent baggage. Asserted: one trace per request, the backend's
server span parented on the frontend's client span, the frontend's agent on every backend
span, and after SIGTERM to both servers, not one span lost. Run once with the JSON-lines
file exporter and once with OTLP/gRPC to the real receiver.
"""

from __future__ import annotations

import collections
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_env, closed_port, read_trace_file
from otlp_receiver import OtlpReceiver

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("opentelemetry.instrumentation.fastapi")
pytest.importorskip("opentelemetry.instrumentation.httpx")

pytestmark = pytest.mark.slow

REQUESTS = 12

BACKEND = """
import vaquero
from fastapi import FastAPI

app = FastAPI()


@app.get("/stock/{item}")
async def stock(item: str) -> dict:
    with vaquero.span("inventory_check", item=item):
        return {"item": item, "available": True}
"""

FRONTEND = """
import os

import httpx
import vaquero
from fastapi import FastAPI

app = FastAPI()
BACKEND = os.environ["BACKEND_URL"]


@vaquero.trace(agent_name="order_agent")
async def place_order(item: str) -> dict:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{BACKEND}/stock/{item}")
    with vaquero.span("confirm"):
        return {"order": item, "stock": response.json()}


@app.get("/order/{item}")
async def order(item: str) -> dict:
    return await place_order(item)
"""


def _instrument() -> str:
    found = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("opentelemetry-instrument is not installed")
    return found


def _start(app_dir: Path, module: str, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [
        _instrument(), sys.executable, "-m", "uvicorn", f"{module}:app",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
    ]
    return subprocess.Popen(
        command, cwd=app_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def _wait_ready(url: str, process: subprocess.Popen[str], deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.communicate()[1]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up within {deadline_s} s")


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return process.returncode, err


@pytest.fixture
def apps(tmp_path: Path) -> Path:
    (tmp_path / "backend_app.py").write_text(BACKEND)
    (tmp_path / "frontend_app.py").write_text(FRONTEND)
    return tmp_path


def _run_mesh(
    apps: Path, exporter_env: dict[str, dict[str, str]], names: dict[str, str] | None = None
) -> None:
    """Start both services, send REQUESTS orders concurrently, SIGTERM both.

    ``names`` renames the services ("orders", "inventory") where a store outlives the test.
    """
    named = names or {}
    backend_port, frontend_port = closed_port(), closed_port()
    common = {
        "OTEL_PYTHON_DISTRO": "vaquero_distro",
        "OTEL_PYTHON_CONFIGURATOR": "vaquero_configurator",
        "OTEL_BSP_SCHEDULE_DELAY": "30000",  # nothing leaves before SIGTERM: exit must flush
    }
    backend = _start(apps, "backend_app", backend_port, clean_env(
        OTEL_SERVICE_NAME=named.get("inventory", "inventory"), **common,
        **exporter_env["inventory"],
    ))
    frontend = _start(apps, "frontend_app", frontend_port, clean_env(
        OTEL_SERVICE_NAME=named.get("orders", "orders"),
        BACKEND_URL=f"http://127.0.0.1:{backend_port}",
        **common, **exporter_env["orders"],
    ))
    try:
        _wait_ready(f"http://127.0.0.1:{backend_port}/docs", backend)
        _wait_ready(f"http://127.0.0.1:{frontend_port}/docs", frontend)
        import asyncio

        async def send_all() -> list[Any]:
            async with httpx.AsyncClient(timeout=30) as client:
                return await asyncio.gather(*(
                    client.get(f"http://127.0.0.1:{frontend_port}/order/item{i}")
                    for i in range(REQUESTS)
                ))

        responses = asyncio.run(send_all())
        assert [r.status_code for r in responses] == [200] * REQUESTS
    finally:
        results = [_stop(frontend), _stop(backend)]
    for code, err in results:
        assert "Traceback" not in err, err
        assert "already instrumented" not in err, err  # no noise at start
        assert code in (0, -signal.SIGTERM), (code, err)


def _check_traces(spans: list[dict[str, Any]]) -> None:
    """Spans as dicts with name, traceId, spanId, parentSpanId, attrs, service ("orders" or
    "inventory")."""
    by_trace: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for span in spans:
        by_trace[span["traceId"]].append(span)
    ids = collections.Counter(span["spanId"] for span in spans)
    assert [i for i, n in ids.items() if n > 1] == [], "a span arrived twice"
    orders = [s for s in spans if s["name"] == "place_order"]
    assert len(orders) == REQUESTS
    assert len({s["traceId"] for s in orders}) == REQUESTS  # one trace per request
    for order in orders:
        trace = by_trace[order["traceId"]]
        by_id = {s["spanId"]: s for s in trace}
        names = collections.Counter(s["name"] for s in trace)
        assert names["inventory_check"] == 1 and names["confirm"] == 1, names
        backend_spans = [s for s in trace if s["service"] == "inventory"]
        assert backend_spans, "the backend's spans are missing from the request's trace"
        server = next(
            s for s in backend_spans
            if s.get("parentSpanId") and by_id.get(s["parentSpanId"], {}).get("service") == "orders"
        )
        client = by_id[server["parentSpanId"]]
        assert client["kind"] in ("CLIENT", 3), client  # httpx's client span
        # The frontend's agent on every backend span, carried as baggage.
        for span in backend_spans:
            assert span["attrs"].get("gen_ai.agent.name") == "order_agent", span["name"]
        roots = [s for s in trace if not s.get("parentSpanId")]
        assert len(roots) == 1 and roots[0]["service"] == "orders"


def test_two_services_file_exporter(apps: Path, tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.jsonl" for name in ("orders", "inventory")}
    _run_mesh(apps, {
        name: {"OTEL_TRACES_EXPORTER": "vaquero_file", "VAQUERO_TRACES_FILE": str(path)}
        for name, path in files.items()
    })
    spans = []
    for path in files.values():
        for span in read_trace_file(path):
            span["service"] = span["resource"]["service.name"]
            spans.append(span)
    _check_traces(spans)


def test_two_services_otlp_grpc_to_the_real_receiver(apps: Path) -> None:
    with OtlpReceiver() as receiver:
        _run_mesh(apps, {
            name: {"OTEL_TRACES_EXPORTER": "otlp",
                   "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.grpc_endpoint}
            for name in ("orders", "inventory")
        })
        records = receiver.spans()
    spans = [
        {
            "name": r.name, "traceId": r.trace_id, "spanId": r.span_id,
            "parentSpanId": r.parent_span_id, "attrs": dict(r.attributes),
            "service": r.resource.get("service.name"), "kind": r.kind,
        }
        for r in records
    ]
    _check_traces(spans)
