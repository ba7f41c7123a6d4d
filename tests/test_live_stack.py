"""The shipped stack, live: the repository's own config files on the real Collector and Jaeger.

Everything here runs against programs built by ``ci/stack/build`` from their Go modules and
started by ``ci/stack/up`` (see tests/live_stack.py); nothing is a fake.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from live_stack import BIN, ROOT, Stack, app_env, run_app, skip_unless_built, unique_service

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.timeout(300)]

SECRET_KEYS = json.loads((ROOT / "tests" / "data" / "secret_keys.json").read_text())


# -- the config files, validated by the programs that read them ------------------------------


def _validate(binary: str, config: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / binary), "validate", f"--config={config}"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", **env},
    )


@pytest.mark.parametrize(
    ("binary", "config", "env"),
    [
        ("otelcol", "otel-collector.yaml", {}),
        ("otelcol", "deploy/gateway-collector.yaml", {"JAEGER_OTLP_ENDPOINT": "jaeger:4317"}),
        ("jaeger", "deploy/jaeger.yaml", {}),
    ],
    ids=["collector", "gateway", "jaeger"],
)
def test_the_programs_accept_the_shipped_config_files(binary, config, env) -> None:
    skip_unless_built()
    done = _validate(binary, ROOT / config, **env)
    assert done.returncode == 0, done.stderr


def test_validate_rejects_a_broken_config_so_the_acceptance_above_means_something(
    tmp_path: Path,
) -> None:
    skip_unless_built()
    import yaml

    config = yaml.safe_load((ROOT / "otel-collector.yaml").read_text())
    traces = config["service"]["pipelines"]["traces"]
    traces["exporters"] = ["otlp/jaeger" if e == "otlp_grpc/jaeger" else e
                           for e in traces["exporters"]]
    assert "otlp/jaeger" in traces["exporters"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(config))
    done = _validate("otelcol", broken)
    assert done.returncode != 0
    assert "otlp/jaeger" in done.stderr


def test_what_stack_init_writes_is_accepted_and_runs_on_the_same_programs(tmp_path: Path) -> None:
    skip_unless_built()
    init = subprocess.run([sys.executable, "-m", "vaquero", "stack", "init", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    assert _validate("otelcol", tmp_path / "otel-collector.yaml").returncode == 0
    assert _validate("jaeger", tmp_path / "deploy" / "jaeger.yaml").returncode == 0


# -- a zero-config application's spans, all of them, in Jaeger -------------------------------

AGENT_APP = textwrap.dedent(
    """
    import asyncio
    from opentelemetry import trace
    import vaquero

    third_party = trace.get_tracer("some.library")
    RUNS = {runs}

    @vaquero.trace(agent_name="live_agent")
    async def workflow(i: int) -> None:
        with vaquero.span("validate") as span:
            span.set_attribute("run", i)
        with third_party.start_as_current_span("library.call"):
            pass
        await asyncio.gather(step("left"), step("right"))
        if i % 4 == 0:
            with vaquero.span("charge"):
                raise ValueError(f"card declined in run {{i}}")

    async def step(name: str) -> None:
        with vaquero.span(f"branch_{{name}}"):
            await asyncio.sleep(0)

    async def main() -> None:
        for i in range(RUNS):
            try:
                await workflow(i)
            except ValueError:
                pass

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_every_span_of_an_app_arrives_with_its_agent_and_its_errors(
    live_stack: Stack, protocol: str
) -> None:
    """Nothing configured but the endpoint (the tests' stack is on offset ports; a compose
    user's app needs not even that) and, for HTTP, the protocol."""
    service = unique_service("live-agent")
    runs = 20
    overrides = {}
    if protocol != "grpc":
        overrides = {"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
                     "OTEL_EXPORTER_OTLP_ENDPOINT": live_stack.otlp_http}
    run_app(AGENT_APP.format(runs=runs), app_env(live_stack, service, **overrides))

    failing = len(range(0, runs, 4))
    # per run: workflow, validate, library.call, two branches; plus charge in failing runs
    expected = runs * 5 + failing
    spans = live_stack.wait_for_spans(service, expected)
    assert len(spans) == expected
    assert len({span["traceID"] for span in spans}) == runs

    # The agent name is on every span inside the agent, the third-party library's included.
    without_agent = [s["operationName"] for s in spans if s["attrs"].get("gen_ai.agent.name")
                     != "live_agent"]
    assert without_agent == []
    library = [s for s in spans if s["operationName"] == "library.call"]
    assert len(library) == runs

    charges = [s for s in spans if s["operationName"] == "charge"]
    assert len(charges) == failing
    for span in charges:
        assert span["attrs"]["otel.status_code"] == "ERROR"
        assert span["attrs"]["error"] is True
        (event,) = [log for log in span["logs"]
                    if {"key": "event", "type": "string", "value": "exception"} in log["fields"]]
        fields = {f["key"]: f["value"] for f in event["fields"]}
        assert fields["exception.type"] == "ValueError"
        assert fields["exception.message"].startswith("card declined in run ")
        assert "Traceback" in fields["exception.stacktrace"]
    failed_roots = [s for s in spans if s["operationName"] == "workflow"
                    and s["attrs"].get("otel.status_code") == "ERROR"]
    assert len(failed_roots) == failing


# -- the Collector's own redaction stage -----------------------------------------------------

PLAIN_SDK_APP = textwrap.dedent(
    """
    import json, sys
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    keys = json.loads(sys.argv[1])
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    with provider.get_tracer("plain").start_as_current_span("handler") as span:
        for key in keys:
            span.set_attribute(key, "hunter2-" + key)
    provider.shutdown()
    """
)


def test_the_collector_deletes_secret_attributes_a_plain_sdk_sends_and_keeps_look_alikes(
    live_stack: Stack,
) -> None:
    """No vaquero in the sending process: only the Collector stands between it and Jaeger."""
    service = unique_service("live-plain-sdk")
    keys = [*SECRET_KEYS["scrubbed"], *SECRET_KEYS["kept"]]
    env = app_env(live_stack, service, OTEL_EXPORTER_OTLP_ENDPOINT=live_stack.otlp_grpc)
    done = subprocess.run([sys.executable, "-c", PLAIN_SDK_APP, json.dumps(keys)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (span,) = live_stack.wait_for_spans(service, 1)
    attrs: dict[str, Any] = span["attrs"]
    reached = sorted(key for key in SECRET_KEYS["scrubbed"] if key in attrs)
    assert reached == [], f"secret-named attributes reached Jaeger: {reached}"
    missing = sorted(key for key in SECRET_KEYS["kept"] if attrs.get(key) != f"hunter2-{key}")
    assert missing == [], f"look-alikes the Collector should have kept: {missing}"


# -- ci/stack/up and down themselves --------------------------------------------------------


def _listening(pid: int) -> list[str]:
    done = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True)
    return [line.split()[3] for line in done.stdout.splitlines() if f"pid={pid}," in line]


def test_up_binds_loopback_only_and_starts_nothing_twice(live_stack: Stack) -> None:
    pids = {name: live_stack.pid(name) for name in ("otelcol", "jaeger", "prometheus")}
    for name, pid in pids.items():
        addresses = _listening(pid)
        assert addresses, f"{name} listens nowhere?"
        assert all(a.startswith("127.0.0.1:") for a in addresses), (name, addresses)
    live_stack.restart_missing()  # everything is running: up must start nothing
    assert {name: live_stack.pid(name) for name in pids} == pids


# -- vaquero doctor against the live stack ---------------------------------------------------


def test_doctor_reports_the_collector_and_jaeger_healthy(live_stack: Stack) -> None:
    service = unique_service("live-doctor")
    done = subprocess.run(
        [sys.executable, "-m", "vaquero", "doctor", "--json", "--jaeger", live_stack.jaeger_url],
        env=app_env(live_stack, service), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["result"] == "ok"
    assert report["jaeger"] == live_stack.jaeger_url
    # and the test span doctor sent really is in Jaeger, under the service it named
    (span,) = live_stack.wait_for_spans(service, 1)
    assert span["operationName"] == "vaquero.doctor"
