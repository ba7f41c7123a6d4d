"""Zero-config setup, adopting an existing provider, OTEL_SDK_DISABLED, init() semantics.

Each case runs in a fresh interpreter: what is under test is process-global state.
"""

from __future__ import annotations

import time

from conftest import clean_env, closed_port, file_env, read_trace_file, run_python


def test_zero_config_reads_the_environment_at_the_first_span(tmp_path):
    traces = tmp_path / "traces.jsonl"
    script = tmp_path / "registration_app.py"
    script.write_text(
        "import vaquero\n"
        "@vaquero.trace(agent_name='wf')\n"
        "def work():\n"
        "    with vaquero.span('step'):\n"
        "        return 1\n"
        "work()\n"
    )
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, str(script)],
        env=file_env(traces),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    spans = {s["name"]: s for s in read_trace_file(traces)}
    assert set(spans) == {"work", "step"}
    resource = spans["work"]["resource"]
    assert resource["service.name"] == "registration_app"
    assert resource["telemetry.distro.name"] == "vaquero"
    assert "telemetry.distro.version" in resource
    assert spans["step"]["parentSpanId"] == spans["work"]["spanId"]


def test_existing_sdk_provider_is_used_as_is():
    result = run_python(
        """
        import threading
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)

        import vaquero

        @vaquero.trace(agent_name="app_agent")
        def run():
            with trace.get_tracer("raw").start_as_current_span("raw_child"):
                pass

        run()
        assert trace.get_tracer_provider() is provider
        spans = {s.name: s for s in exporter.get_finished_spans()}
        assert set(spans) == {"run", "raw_child"}, spans
        assert spans["raw_child"].attributes["gen_ai.agent.name"] == "app_agent"
        names = [t.name for t in threading.enumerate()]
        assert not any(n.startswith("vaquero-export") for n in names), names
        assert vaquero.flush(1.0) is True
        print("ok")
        """,
        env=clean_env(OTEL_TRACES_EXPORTER="otlp"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_sdk_disabled_is_a_no_op_that_starts_no_thread():
    result = run_python(
        """
        import asyncio, threading
        import vaquero

        @vaquero.trace(agent_name="a")
        def f(x):
            with vaquero.span("s", k=1) as span:
                span.set_attribute("x", x)
                span.add_event("e")
                return x * 2

        @vaquero.trace
        async def g():
            async with vaquero.span("t"):
                return 3

        @vaquero.trace
        def gen():
            yield 1

        assert f(2) == 4
        assert asyncio.run(g()) == 3
        assert list(gen()) == [1]
        assert vaquero.flush(0.1) is True
        vaquero.shutdown()
        print(threading.active_count())
        """,
        env=clean_env(OTEL_SDK_DISABLED="true"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    assert result.stderr == ""


def test_init_twice_same_is_silent_and_different_warns_naming_settings():
    result = run_python(
        """
        import logging, vaquero
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        vaquero.init("svc", exporters=["none"])
        vaquero.init("svc", exporters=["none"])
        print("after-same", flush=True)
        vaquero.init("other-svc", exporters=["none"])
        """
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1, result.stderr
    assert "service_name" in warnings[0] and "'svc'" in warnings[0]


def test_init_with_a_bad_argument_raises_config_error():
    result = run_python(
        """
        import vaquero
        try:
            vaquero.init(protocol="pigeon")
        except vaquero.ConfigError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "protocol='pigeon'" in result.stdout and "grpc" in result.stdout


def test_collector_down_one_warning_exit_code_kept_and_exit_is_bounded():
    port = closed_port()
    started = time.monotonic()
    result = run_python(
        """
        import sys, vaquero
        for i in range(50):
            with vaquero.span("work", i=i):
                pass
        ok = vaquero.flush(0.5)
        print("flush", ok, flush=True)
        sys.exit(3)
        """,
        env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}"),
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 3
    assert result.stdout.strip() == "flush False"
    warning_lines = [line for line in result.stderr.splitlines() if "vaquero" in line]
    assert any(f"127.0.0.1:{port}" in line and "dropped" in line for line in warning_lines), (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert "Transient error" not in result.stderr
    # The contract is "exit within the 2 s budget"; the stock SDK takes 10-30 s here.
    assert elapsed < 8, elapsed


def test_init_agent_name_is_a_resource_attribute_and_resource_overrides_apply(tmp_path):
    traces = tmp_path / "traces.jsonl"
    result = run_python(
        f"""
        import vaquero
        vaquero.init("solo-service", agent_name="solo_agent", exporters=["vaquero_file"],
                     traces_file={str(traces)!r},
                     resource_attributes={{"deployment.environment": "test"}})
        with vaquero.span("step"):
            pass
        """,
        env=clean_env(OTEL_RESOURCE_ATTRIBUTES="team=payments,deployment.environment=prod"),
    )
    assert result.returncode == 0, result.stderr
    (span,) = read_trace_file(traces)
    assert span["resource"]["service.name"] == "solo-service"
    assert span["resource"]["gen_ai.agent.name"] == "solo_agent"
    assert span["resource"]["team"] == "payments"
    assert span["resource"]["deployment.environment"] == "test"
