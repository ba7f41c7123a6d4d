"""Spans reach a real OTLP receiver on 127.0.0.1, over gRPC and HTTP, exactly once and intact.

Each application runs in its own interpreter: zero-config (environment only), ``init()``,
and ``opentelemetry-instrument`` with vaquero as the distro.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import clean_env, run_python
from otlp_receiver import OtlpReceiver

WORKFLOW = """
import asyncio, vaquero

@vaquero.trace(agent_name="wire_agent")
async def workflow():
    with vaquero.span("ok_step", {"count": 3, "tags": ["a", "b"], "meta": {"k": 1}}):
        pass
    try:
        with vaquero.span("failing_step"):
            raise ValueError("broken step")
    except ValueError:
        pass
    await asyncio.gather(*(child(i) for i in range(3)))

async def child(i):
    with vaquero.span("child", index=i):
        await asyncio.sleep(0)

asyncio.run(workflow())
"""


def _run(
    script: str, tmp_path: Path, env: dict[str, str], *launcher: str
) -> subprocess.CompletedProcess[str]:
    return run_python(script, env=env, script=tmp_path / "wire_app.py", launcher=launcher)


def _assert_workflow_arrived(receiver: OtlpReceiver, service: str) -> None:
    assert receiver.wait_for_spans(6, timeout=10)
    spans = receiver.spans()
    counts = Counter(span.span_id for span in spans)
    assert all(count == 1 for count in counts.values()), "a span arrived twice"
    by_name: dict[str, list] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    assert sorted(by_name) == ["child", "failing_step", "ok_step", "workflow"]
    root = by_name["workflow"][0]
    assert root.parent_span_id is None
    assert root.attributes["gen_ai.agent.name"] == "wire_agent"
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert {span.trace_id for span in spans} == {root.trace_id}
    for span in spans:
        if span is not root:
            assert span.parent_span_id == root.span_id
            assert span.attributes["gen_ai.agent.name"] == "wire_agent"
    ok = by_name["ok_step"][0]
    assert ok.attributes["count"] == 3
    assert list(ok.attributes["tags"]) == ["a", "b"]
    assert ok.attributes["meta"] == '{"k":1}'
    failing = by_name["failing_step"][0]
    assert failing.status_code == "ERROR"
    assert failing.status_message == "ValueError: broken step"
    assert [event.name for event in failing.events] == ["exception"]
    assert failing.events[0].attributes["exception.type"] == "ValueError"
    assert sorted(span.attributes["index"] for span in by_name["child"]) == [0, 1, 2]
    assert root.resource["service.name"] == service
    assert root.resource["telemetry.distro.name"] == "vaquero"


def test_zero_config_app_over_grpc(tmp_path):
    with OtlpReceiver() as receiver:
        result = _run(
            WORKFLOW, tmp_path,
            clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                      OTEL_EXPORTER_OTLP_HEADERS="X-Tenant=acme,authorization=Bearer%20t0k"),
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        _assert_workflow_arrived(receiver, "wire_app")
        headers = receiver.requests[0].headers
        assert headers["x-tenant"] == "acme"
        assert headers["authorization"] == "Bearer t0k"
        assert all(request.transport == "grpc" for request in receiver.requests)


def test_init_app_over_http_with_headers(tmp_path):
    with OtlpReceiver() as receiver:
        script = (
            "import vaquero\n"
            "vaquero.init('wire-http', protocol='http/protobuf',"
            f" endpoint={receiver.http_endpoint!r}, headers={{'x-api-key': 'k1'}})\n" + WORKFLOW
        )
        result = _run(script, tmp_path, clean_env())
        assert result.returncode == 0, result.stderr
        _assert_workflow_arrived(receiver, "wire-http")
        assert all(request.transport == "http" for request in receiver.requests)
        assert receiver.requests[0].headers["x-api-key"] == "k1"


def test_opentelemetry_instrument_uses_vaquero_as_the_distro(tmp_path):
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    if not instrument.exists():
        pytest.skip("opentelemetry-instrument is not installed next to this interpreter")
    script = (
        "from opentelemetry import trace\n"
        "raw = trace.get_tracer('raw')\n" + WORKFLOW +
        "with raw.start_as_current_span('raw_root'):\n    pass\n"
    )
    with OtlpReceiver() as receiver:
        result = _run(
            script, tmp_path,
            clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                      OTEL_SERVICE_NAME="instrumented",
                      OTEL_PYTHON_DISTRO="vaquero_distro",
                      OTEL_PYTHON_CONFIGURATOR="vaquero_configurator"),
            str(instrument),
        )
        assert result.returncode == 0, result.stderr
        assert receiver.wait_for_spans(7, timeout=10)
        names = sorted(span.name for span in receiver.spans())
        assert names.count("raw_root") == 1
        raw_root = next(s for s in receiver.spans() if s.name == "raw_root")
        assert raw_root.resource["telemetry.distro.name"] == "vaquero"
        assert raw_root.resource["service.name"] == "instrumented"


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_transient_failures_are_retried_and_delivered_once(tmp_path, protocol):
    with OtlpReceiver() as receiver:
        receiver.fail_next(1)  # UNAVAILABLE over gRPC, 503 over HTTP
        endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
        result = _run(
            WORKFLOW, tmp_path,
            clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
                      VAQUERO_SHUTDOWN_TIMEOUT="10"),
        )
        assert result.returncode == 0, result.stderr
        assert [r.accepted for r in receiver.requests][:2] == [False, True]
        _assert_workflow_arrived(receiver, "wire_app")


def test_collector_coming_back_mid_run_receives_later_spans(tmp_path):
    receiver = OtlpReceiver()
    receiver.start()
    receiver.stop()  # keep the port, take the "collector" down
    app = tmp_path / "comeback.py"
    app.write_text(
        "import sys, vaquero\n"
        "for phase, wait in (('down', 0.5), ('up', 15.0)):\n"
        "    sys.stdin.readline()\n"
        "    for i in range(5):\n"
        "        with vaquero.span('phase_' + phase, i=i):\n"
        "            pass\n"
        "    print(phase, vaquero.flush(wait), flush=True)\n"
    )
    process = subprocess.Popen(
        [sys.executable, str(app)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint),
    )
    try:
        process.stdin.write("go\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "down False"
        receiver.start()
        process.stdin.write("go\n")
        process.stdin.flush()
        # The exporter's retries (within OTEL_EXPORTER_OTLP_TIMEOUT) bridge the outage.
        assert process.stdout.readline().strip() == "up True"
        process.stdin.close()
        assert process.wait(timeout=30) == 0
        stderr = process.stderr.read()
    finally:
        process.kill()
        receiver.stop()
    names = [span.name for span in receiver.spans()]
    assert names.count("phase_up") == 5
    # The retries delivered the outage's spans too: nothing was dropped, so nothing is
    # reported as dropping (issue 10: a flapping collector is not "dropping spans").
    assert names.count("phase_down") == 5
    assert "cannot deliver spans" not in stderr
    assert "spans are being dropped" not in stderr
