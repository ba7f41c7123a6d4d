"""The GenAI duration histograms reach a real OTLP metrics receiver, whatever the sampling.

Each application runs in its own interpreter against tests/otlp_receiver.py, which serves
opentelemetry-proto's MetricsService over gRPC and ``POST /v1/metrics`` over HTTP.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import clean_env, closed_port, read_trace_file, run_python
from otlp_receiver import OtlpReceiver

INVOCATION = "gen_ai.invocation.duration"
TOOL = "gen_ai.execute_tool.duration"
INVOCATION_BOUNDS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)
TOOL_BOUNDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
               40.96, 81.92)

RUNS = """
import sys, vaquero

@vaquero.trace(tool_name="search")
def search(q):
    if q == "bad":
        raise TimeoutError("slow index")
    return q

@vaquero.trace(agent_name="planner")
def plan(i):
    search("ok")
    try:
        search("bad" if i % 5 == 0 else "ok")
    except TimeoutError:
        pass
    if i % 10 == 0:
        raise KeyError(i)

@vaquero.trace(workflow_name="orders")
def orders(i):
    plan(i)

for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 50):
    try:
        orders(i)
    except KeyError:
        pass
"""


def _series(receiver: OtlpReceiver, name: str) -> dict[tuple, int]:
    return {
        tuple(sorted(point.attributes.items())): point.count
        for point in receiver.latest_histograms(name)
    }


def _assert_every_run_counted(
    receiver: OtlpReceiver, runs: int, vaquero_resource: bool = True
) -> None:
    """Every run counted once, with the spec's attributes, unit and buckets. With
    ``vaquero_resource`` (vaquero's own providers) also nothing but the GenAI histograms."""
    assert receiver.wait_for_histogram_count(INVOCATION, 2 * runs)
    failed = runs // 10
    assert _series(receiver, INVOCATION) == {
        (("gen_ai.invocation.is_nested", False), ("gen_ai.operation.name", "invoke_workflow"),
         ("gen_ai.workflow.name", "orders")): runs - failed,
        (("error.type", "KeyError"), ("gen_ai.invocation.is_nested", False),
         ("gen_ai.operation.name", "invoke_workflow"), ("gen_ai.workflow.name", "orders")):
            failed,
        (("gen_ai.agent.name", "planner"), ("gen_ai.invocation.is_nested", True),
         ("gen_ai.operation.name", "invoke_agent")): runs - failed,
        (("error.type", "KeyError"), ("gen_ai.agent.name", "planner"),
         ("gen_ai.invocation.is_nested", True), ("gen_ai.operation.name", "invoke_agent")):
            failed,
    }
    timeouts = runs // 5
    assert _series(receiver, TOOL) == {
        (("gen_ai.agent.name", "planner"), ("gen_ai.operation.name", "execute_tool"),
         ("gen_ai.tool.name", "search")): 2 * runs - timeouts,
        (("error.type", "TimeoutError"), ("gen_ai.agent.name", "planner"),
         ("gen_ai.operation.name", "execute_tool"), ("gen_ai.tool.name", "search")): timeouts,
    }
    for point in receiver.latest_histograms(INVOCATION):
        assert point.unit == "s" and point.explicit_bounds == INVOCATION_BOUNDS
        assert point.scope == "vaquero"
        if vaquero_resource:  # an application's own MeterProvider has its own resource
            assert point.resource["telemetry.distro.name"] == "vaquero"
    for point in receiver.latest_histograms(TOOL):
        assert point.unit == "s" and point.explicit_bounds == TOOL_BOUNDS
    # Only the GenAI histograms: the SDK's own span metrics (otel.sdk.span.*, recorded by
    # SDKs up to 1.4x into the global meter provider) are not sent for vaquero's tracer
    # provider. An application's own TracerProvider records them wherever its SDK does.
    if vaquero_resource:
        assert receiver.metric_names() == {INVOCATION, TOOL}


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_sampled_run_still_counts_every_run_over_both_protocols(tmp_path, protocol):
    with OtlpReceiver() as receiver:
        endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
        result = run_python(
            RUNS, script=tmp_path / "app.py",
            env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                          OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
                          OTEL_EXPORTER_OTLP_HEADERS="x-tenant=acme",
                          OTEL_TRACES_SAMPLER="traceidratio", OTEL_TRACES_SAMPLER_ARG="0.1"),
        )
        assert result.returncode == 0, result.stderr
        _assert_every_run_counted(receiver, 50)
        transport = "grpc" if protocol == "grpc" else "http"
        assert {t for t, _ in receiver.metric_requests()} == {transport}
        assert all(h["x-tenant"] == "acme" for _, h in receiver.metric_requests())
        sampled_roots = [s for s in receiver.spans() if s.name == "orders"]
        assert len(sampled_roots) < 50  # 10 % of the traces, the metrics still count all 50


def test_the_metrics_variables_win_over_the_traces_settings(tmp_path):
    with OtlpReceiver() as traces, OtlpReceiver() as metrics:
        result = run_python(
            RUNS, script=tmp_path / "app.py",
            env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=traces.grpc_endpoint,
                          OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=metrics.http_metrics_url,
                          OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="http/protobuf",
                          OTEL_EXPORTER_OTLP_METRICS_HEADERS="x-metrics=1"),
        )
        assert result.returncode == 0, result.stderr
        _assert_every_run_counted(metrics, 50)
        assert traces.metric_requests() == []
        assert traces.wait_for_spans(50 * 4)
        assert all(h.get("x-metrics") == "1" for _, h in metrics.metric_requests())


def test_the_measurement_is_the_spans_duration(tmp_path):
    traces = tmp_path / "traces.jsonl"
    with OtlpReceiver() as receiver:
        result = run_python(
            RUNS, script=tmp_path / "app.py",
            env=clean_env(OTEL_TRACES_EXPORTER="vaquero_file", VAQUERO_TRACES_FILE=str(traces),
                          OTEL_METRICS_EXPORTER="otlp",
                          OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint),
        )
        assert result.returncode == 0, result.stderr
        assert receiver.wait_for_histogram_count(INVOCATION, 100)
        spans = read_trace_file(traces)
        seconds = sum(
            (int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"])) / 1e9
            for s in spans if s["name"] == "orders"
        )
        measured = sum(p.sum for p in receiver.latest_histograms(INVOCATION)
                       if p.attributes["gen_ai.operation.name"] == "invoke_workflow")
        assert measured == pytest.approx(seconds, rel=1e-9, abs=1e-9)


def test_periodic_export_follows_otel_metric_export_interval(tmp_path):
    script = RUNS + "\nimport time\nvaquero.flush()\ntime.sleep(3)\n"
    with OtlpReceiver() as receiver:
        process = subprocess.Popen(
            [sys.executable, "-c", script, "5"],
            env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                          OTEL_METRIC_EXPORT_INTERVAL="200"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            # Arrives while the program still runs: periodic exports, not only the exit flush.
            assert receiver.wait_for_histogram_count(INVOCATION, 10, timeout=10)
            assert process.poll() is None
        finally:
            _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr


@pytest.mark.parametrize("env", [
    {"OTEL_METRICS_EXPORTER": "none"},
    {"OTEL_SDK_DISABLED": "true"},
    # Spans kept off OTLP (a file, the console, none): metrics follow unless asked for.
    {"OTEL_TRACES_EXPORTER": "vaquero_console"},
    {"OTEL_TRACES_EXPORTER": "none"},
])
def test_none_and_disabled_send_no_metrics(tmp_path, env):
    with OtlpReceiver() as receiver:
        result = run_python(
            RUNS, script=tmp_path / "app.py",
            env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint, **env),
        )
        assert result.returncode == 0, result.stderr
        assert "vaquero:" not in result.stderr
        time.sleep(0.3)
        assert receiver.metric_requests() == []


def test_console_exporter_prints_the_histograms(tmp_path):
    result = run_python(
        RUNS, script=tmp_path / "app.py",
        env=clean_env(OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="console"),
    )
    assert result.returncode == 0, result.stderr
    assert INVOCATION in result.stdout and TOOL in result.stdout


def test_a_meter_provider_the_application_installed_is_used_not_replaced(tmp_path):
    script = """
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
reader = InMemoryMetricReader()
mine = MeterProvider(metric_readers=[reader])
metrics.set_meter_provider(mine)
""" + RUNS + """
vaquero.flush()
assert metrics.get_meter_provider() is mine
counts = {}
for rm in reader.get_metrics_data().resource_metrics:
    for sm in rm.scope_metrics:
        for m in sm.metrics:
            if m.name.startswith("gen_ai."):  # the SDK may add metrics of its own
                counts[m.name] = sum(p.count for p in m.data.data_points)
print(sorted(counts.items()))
"""
    with OtlpReceiver() as receiver:
        result = run_python(
            script, script=tmp_path / "app.py",
            env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint),
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == (
            "[('gen_ai.execute_tool.duration', 100), ('gen_ai.invocation.duration', 100)]")
        assert receiver.metric_requests() == []  # vaquero added no exporter of its own


def test_sigterm_flushes_the_metrics(tmp_path):
    script = RUNS + "\nimport os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n"
    with OtlpReceiver() as receiver:
        result = run_python(
            script, script=tmp_path / "app.py",
            env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint),
        )
        assert result.returncode == -15, result.stderr
        _assert_every_run_counted(receiver, 50)


def test_a_missing_collector_gives_one_notice_and_exit_keeps_the_budget(tmp_path):
    port = closed_port()
    started = time.monotonic()
    result = run_python(
        RUNS, script=tmp_path / "app.py",
        env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
                      OTEL_EXPORTER_OTLP_TIMEOUT="30000", VAQUERO_SHUTDOWN_TIMEOUT="1"),
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "cannot deliver" in line]
    assert len(notices) == 1, result.stderr
    assert "Traceback" not in result.stderr
    # An export timeout of 30 s would hold exit that long without the shared 1 s budget.
    assert elapsed < 20


def test_under_opentelemetry_instrument_with_vaquero_as_the_distro(tmp_path):
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    if not instrument.exists():
        pytest.skip("opentelemetry-instrument is not installed next to this interpreter")
    with OtlpReceiver() as receiver:
        result = run_python(
            RUNS, script=tmp_path / "app.py", launcher=(str(instrument),),
            env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                          OTEL_PYTHON_DISTRO="vaquero_distro",
                          OTEL_PYTHON_CONFIGURATOR="vaquero_configurator"),
        )
        assert result.returncode == 0, result.stderr
        _assert_every_run_counted(receiver, 50)


@pytest.mark.parametrize("own_meter", [False, True])
def test_an_application_provider_still_gets_every_measurement_at_exit(tmp_path, own_meter):
    """With the application's own TracerProvider (and MeterProvider), no vaquero shutdown
    runs at exit: the measurements still waiting are drained and flushed all the same."""
    with OtlpReceiver() as receiver:
        setup = f"""
from opentelemetry import trace, metrics
from opentelemetry.sdk.trace import TracerProvider
trace.set_tracer_provider(TracerProvider())
if {own_meter}:
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint="{receiver.grpc_endpoint}", insecure=True),
        export_interval_millis=600000)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
"""
        result = run_python(
            setup + RUNS, script=tmp_path / "app.py",
            env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint),
        )
        assert result.returncode == 0, result.stderr
        _assert_every_run_counted(receiver, 50, vaquero_resource=False)


FORKED = """
import multiprocessing, sys, vaquero

@vaquero.trace(agent_name="worker")
def work(n):
    return n

def child(n):
    for i in range(5):
        work(i)

if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else "fork")
    for i in range(3):
        work(i)  # the parent measures (and binds its meter) before forking
    children = [ctx.Process(target=child, args=(n,)) for n in range(2)]
    for process in children:
        process.start()
    for process in children:
        process.join(20)
    assert [p.exitcode for p in children] == [0, 0]
"""


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_children_count_their_own_runs_once(tmp_path, protocol, method):
    with OtlpReceiver() as receiver:
        endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
        script = tmp_path / "app.py"
        script.write_text(FORKED)
        result = subprocess.run(
            [sys.executable, str(script), method], capture_output=True, text=True, timeout=90,
            env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                          OTEL_EXPORTER_OTLP_PROTOCOL=protocol),
        )
        assert result.returncode == 0, result.stderr
        # Each process exports its own series once, at its exit (the interval is 60 s): 3 runs
        # in the parent, 5 in each child, none counted twice (a child does not inherit the
        # parent's waiting measurements or its counts).
        deadline = time.monotonic() + 15
        while True:
            counts = sorted(point.count for point in receiver.histograms(INVOCATION))
            if counts == [3, 5, 5] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert counts == [3, 5, 5], (counts, result.stderr)


def test_a_missing_metrics_collector_is_said_once_when_spans_are_fine(tmp_path):
    port = closed_port()
    with OtlpReceiver() as receiver:
        result = run_python(
            RUNS, script=tmp_path / "app.py",
            env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                          OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=f"http://127.0.0.1:{port}",
                          OTEL_EXPORTER_OTLP_TIMEOUT="2000", VAQUERO_SHUTDOWN_TIMEOUT="3"),
        )
        assert result.returncode == 0, result.stderr
        assert receiver.wait_for_spans(200)
    notices = [line for line in result.stderr.splitlines() if "vaquero:" in line]
    assert len(notices) == 1, result.stderr
    assert "GenAI duration metrics are being dropped" in notices[0]
    assert f"127.0.0.1:{port}" in notices[0] and "spans and" not in notices[0]
    assert "Traceback" not in result.stderr
