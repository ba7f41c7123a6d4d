"""The agent travels with the work: W3C baggage across carriers, processes and services.

Inside a process the agent name flows through the context; across a boundary it rides in
baggage, so a remote span without an agent of its own gets the caller's. An agent on the
remote span itself, or declared by the remote process as a resource attribute, wins. The
cross-service proof over real HTTP servers is in ``tests/test_service_mesh.py``.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import clean_env, file_env, read_trace_file, run_python
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import vaquero
from vaquero._agent import AgentNameSpanProcessor
from vaquero._semconv import AGENT_NAME
from vaquero._state import STATE
from vaquero.testing import capture_spans


def _carrier_from_agent(agent: str) -> dict[str, str]:
    with capture_spans(), vaquero.span("caller", agent_name=agent):
        return vaquero.inject()


def test_entering_an_agent_puts_its_name_in_the_carrier_as_baggage() -> None:
    carrier = _carrier_from_agent("planner")
    assert "traceparent" in carrier
    assert carrier["baggage"] == "gen_ai.agent.name=planner"


def test_a_remote_span_without_an_agent_gets_the_callers() -> None:
    carrier = _carrier_from_agent("planner")
    token = otel_context.attach(otel_context.Context())  # a fresh "process": no agent in context
    try:
        with capture_spans() as spans:
            with vaquero.span("consume", parent=carrier):
                with vaquero.span("inner"):
                    pass
    finally:
        otel_context.detach(token)
    assert spans.one("consume").agent == "planner"
    assert spans.one("inner").agent == "planner"


def test_an_agent_on_the_remote_span_itself_wins() -> None:
    carrier = _carrier_from_agent("planner")
    with capture_spans() as spans:
        with vaquero.span("consume", parent=carrier, agent_name="executor"):
            with vaquero.span("inner"):
                pass
    assert spans.one("consume").agent == "executor"
    assert spans.one("inner").agent == "executor"


def test_an_agent_declared_by_the_remote_process_resource_wins() -> None:
    carrier = _carrier_from_agent("planner")
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({AGENT_NAME: "billing_service_agent"}))
    provider.add_span_processor(AgentNameSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    remote = vaquero.extract(carrier)
    provider.get_tracer("t").start_span("handle", context=remote).end()
    (span,) = exporter.get_finished_spans()
    assert AGENT_NAME not in span.attributes  # the resource names the agent for every span


def test_switching_propagation_off_keeps_the_name_in_the_process(monkeypatch) -> None:
    monkeypatch.setattr(STATE, "propagate_agent", False)
    carrier = _carrier_from_agent("planner")
    assert "baggage" not in carrier
    foreign = {**carrier, "baggage": "gen_ai.agent.name=intruder"}
    with capture_spans() as spans:
        with vaquero.span("consume", parent=foreign):
            pass
    assert spans.one("consume").agent is None  # incoming baggage is not trusted either


def test_a_handle_used_as_parent_after_its_block_still_gives_the_agent() -> None:
    with capture_spans() as spans:
        with vaquero.span("producer", agent_name="planner") as producer:
            pass
        with vaquero.span("late_child", parent=producer):
            with vaquero.span("grandchild"):
                pass
    assert spans.one("late_child").agent == "planner"
    assert spans.one("grandchild").agent == "planner"
    assert spans.one("late_child").parent_span_id == producer.span_id


def test_unrelated_baggage_does_not_invent_an_agent() -> None:
    context = baggage.set_baggage("tenant", "acme", otel_context.Context())
    token = otel_context.attach(context)
    try:
        with capture_spans() as spans, vaquero.span("plain"):
            pass
    finally:
        otel_context.detach(token)
    assert spans.one("plain").agent is None


@settings(max_examples=150, deadline=None)
@given(agent=st.text(min_size=1, max_size=60).filter(lambda s: s.strip() == s and s))
def test_any_agent_name_survives_the_carrier_round_trip(agent: str) -> None:
    carrier = _carrier_from_agent(agent)
    assert json.loads(json.dumps(carrier)) == carrier  # a carrier is plain, serialisable text
    with capture_spans() as spans:
        with vaquero.span("consume", parent=carrier):
            pass
    assert spans.one("consume").agent == agent


_CHILD = textwrap.dedent(
    """
    import json, sys
    import vaquero

    carrier = json.load(sys.stdin)
    with vaquero.span("child_work", parent=carrier):
        with vaquero.span("child_step"):
            pass
    """
)


@pytest.mark.parametrize("declared", [None, "child_agent"])
def test_a_real_subprocess_gets_the_callers_agent_unless_it_declares_one(
    tmp_path: Path, declared: str | None
) -> None:
    traces = tmp_path / "child.jsonl"
    env = file_env(traces)
    if declared:
        env["VAQUERO_AGENT_NAME"] = declared
    carrier = _carrier_from_agent("planner")
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    import subprocess

    result = subprocess.run(
        [sys.executable, str(script)], input=json.dumps(carrier), env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    spans = {s["name"]: s for s in read_trace_file(traces)}
    for name in ("child_work", "child_step"):
        if declared:
            assert AGENT_NAME not in spans[name]["attrs"]
            assert spans[name]["resource"][AGENT_NAME] == declared
        else:
            assert spans[name]["attrs"][AGENT_NAME] == "planner"


def test_the_environment_switch_keeps_the_agent_out_of_carriers(
    tmp_path: Path,
) -> None:
    code = """
        import json, vaquero
        with vaquero.span("caller", agent_name="planner"):
            print(json.dumps(vaquero.inject()))
    """
    on = run_python(code, env=clean_env(OTEL_TRACES_EXPORTER="none"))
    off = run_python(
        code, env=clean_env(OTEL_TRACES_EXPORTER="none", VAQUERO_PROPAGATE_AGENT="false")
    )
    assert on.returncode == 0 and off.returncode == 0, (on.stderr, off.stderr)
    assert "gen_ai.agent.name=planner" in json.loads(on.stdout)["baggage"]
    assert "baggage" not in json.loads(off.stdout)
