"""vaquero next to ``opentelemetry-distro`` (the OpenTelemetry quickstart), for real.

``opentelemetry-distro`` is installed into a directory of its own (``pip install --target``,
matching the installed instrumentation version) and put on ``PYTHONPATH`` of the
instrumented program only, so the rest of the suite never sees a second distro. Then
``opentelemetry-instrument`` runs a small app with the loader choosing the configurator
itself, or forced to the stock one or to vaquero's. Whatever it chose: vaquero's exporters
resolve by name, scrubbing holds on them, SIGTERM loses no span, and what vaquero cannot
honour (scrubbing on the stock OTLP pipeline) is said once.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import clean_env, read_trace_file
from otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.slow

APP = """
import sys, time
import vaquero

with vaquero.span("login", password="hunter2hunter2", user="ada"):
    pass
print("ready", flush=True)
if "--wait" in sys.argv:
    time.sleep(60)
"""


@pytest.fixture(scope="module")
def stock_distro(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("otel-distro")
    version = importlib.metadata.version("opentelemetry-instrumentation")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
         str(target), f"opentelemetry-distro=={version}"],
        capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        pytest.skip(f"opentelemetry-distro=={version} could not be installed: {result.stderr}")
    return target


def _instrument() -> str:
    found = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("opentelemetry-instrument is not installed")
    return found


def _env(distro_dir: Path, configurator: str | None, **extra: str) -> dict[str, str]:
    env = clean_env(PYTHONPATH=str(distro_dir), OTEL_SERVICE_NAME="coexist", **extra)
    if configurator is not None:
        env["OTEL_PYTHON_CONFIGURATOR"] = configurator
    return env


@pytest.mark.parametrize("configurator", [None, "configurator", "vaquero_configurator"])
@pytest.mark.parametrize("exporter", ["vaquero_file", "vaquero_file,vaquero_console"])
def test_vaquero_exporters_resolve_and_scrub_whoever_configures(
    stock_distro: Path, tmp_path: Path, configurator: str | None, exporter: str
) -> None:
    (tmp_path / "app.py").write_text(APP)
    traces = tmp_path / "traces.jsonl"
    result = subprocess.run(
        [_instrument(), sys.executable, "app.py"], cwd=tmp_path, capture_output=True,
        text=True, timeout=60,
        env=_env(stock_distro, configurator, OTEL_TRACES_EXPORTER=exporter,
                 VAQUERO_TRACES_FILE=str(traces)),
    )
    assert result.returncode == 0, result.stderr
    assert "not found in entry point" not in result.stderr
    (span,) = [s for s in read_trace_file(traces) if s["name"] == "login"]
    assert span["attrs"]["user"] == "ada"
    assert span["attrs"]["password"] != "hunter2hunter2"
    assert "hunter2hunter2" not in traces.read_text()
    assert "hunter2hunter2" not in result.stderr  # the console tree is scrubbed too


def test_stock_otlp_pipeline_is_flushed_on_sigterm_and_its_limits_said_once(
    stock_distro: Path, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(APP)
    with OtlpReceiver() as receiver:
        process = subprocess.Popen(
            [_instrument(), sys.executable, "app.py", "--wait"], cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=_env(stock_distro, "configurator", OTEL_TRACES_EXPORTER="otlp",
                     OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                     OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_BSP_SCHEDULE_DELAY="30000"),
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == -signal.SIGTERM, err
        assert receiver.wait_for_spans(1, timeout=10), err
        assert [s.name for s in receiver.spans()] == ["login"]
    assert err.count("another configurator") == 1, err
    assert "OTEL_PYTHON_CONFIGURATOR=vaquero_configurator" in err


GENAI_APP = """
import vaquero

@vaquero.trace(tool_name="lookup")
def lookup():
    return 1

@vaquero.trace(agent_name="clerk")
def clerk():
    lookup()

for _ in range(20):
    clerk()
"""


@pytest.mark.parametrize("configurator", ["configurator", "vaquero_configurator"])
def test_genai_metrics_reach_the_collector_whoever_configures(
    stock_distro: Path, tmp_path: Path, configurator: str
) -> None:
    """The stock configurator installs its own MeterProvider (vaquero records into it);
    vaquero's builds vaquero's. Either way every run is counted once."""
    (tmp_path / "app.py").write_text(GENAI_APP)
    with OtlpReceiver() as receiver:
        result = subprocess.run(
            [_instrument(), sys.executable, "app.py"], cwd=tmp_path, capture_output=True,
            text=True, timeout=60,
            env=_env(stock_distro, configurator, OTEL_TRACES_EXPORTER="otlp",
                     OTEL_METRICS_EXPORTER="otlp",
                     OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                     OTEL_EXPORTER_OTLP_PROTOCOL="grpc"),
        )
        assert result.returncode == 0, result.stderr
        assert receiver.wait_for_histogram_count("gen_ai.invocation.duration", 20), result.stderr
        assert receiver.wait_for_histogram_count("gen_ai.execute_tool.duration", 20)
        counts = {p.name: p.count for p in receiver.latest_histograms(
            "gen_ai.invocation.duration") + receiver.latest_histograms(
            "gen_ai.execute_tool.duration")}
    assert counts == {"gen_ai.invocation.duration": 20, "gen_ai.execute_tool.duration": 20}
