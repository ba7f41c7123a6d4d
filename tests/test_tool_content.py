"""Tool content: arguments and results on ``execute_tool`` spans as bounded, scrubbed JSON,
opt-in by argument or by OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT (item 3)."""

from __future__ import annotations

import json

import pytest
from conftest import file_env, read_trace_file, run_python
from hypothesis import given, settings
from hypothesis import strategies as st

import vaquero
from vaquero._state import STATE
from vaquero.testing import capture_spans

ARGUMENTS = "gen_ai.tool.call.arguments"
RESULT = "gen_ai.tool.call.result"


@vaquero.trace(tool_name="weather")
def weather(city: str, days: int = 1) -> dict:
    return {"city": city, "forecast": ["rain"] * days}


@vaquero.trace(tool_name="weather_never", capture_args=False, capture_result=False)
def weather_never(city: str) -> str:
    return city


@vaquero.trace(tool_name="weather_always", capture_args=True, capture_result=True)
def weather_always(city: str) -> str:
    return city


class Desk:
    @vaquero.trace(tool_name="desk")
    def lookup(self, ticket: int) -> int:
        return ticket


def _tool_attributes(monkeypatch, capture: bool) -> dict:
    with capture_spans() as spans:  # configures first: the monkeypatch must come after
        monkeypatch.setattr(STATE, "capture_content", capture)
        weather("Paris", days=2)
        weather_never("Lyon")
        weather_always("Nice")
        Desk().lookup(7)
    return {s.name: s.attributes for s in spans}


def test_with_the_process_default_on_tools_record_arguments_and_result_as_json(monkeypatch):
    seen = _tool_attributes(monkeypatch, True)
    assert json.loads(seen["weather"][ARGUMENTS]) == {"city": "Paris", "days": 2}
    assert json.loads(seen["weather"][RESULT]) == {"city": "Paris", "forecast": ["rain", "rain"]}
    assert json.loads(seen["Desk.lookup"][ARGUMENTS]) == {"ticket": 7}  # self skipped
    assert ARGUMENTS not in seen["weather_never"] and RESULT not in seen["weather_never"]
    assert not any(key.startswith("vaquero.arg.") for a in seen.values() for key in a)


def test_with_the_default_off_only_an_explicit_capture_records(monkeypatch):
    seen = _tool_attributes(monkeypatch, False)
    assert ARGUMENTS not in seen["weather"] and RESULT not in seen["weather"]
    assert json.loads(seen["weather_always"][ARGUMENTS]) == {"city": "Nice"}
    assert json.loads(seen["weather_always"][RESULT]) == "Nice"


def test_the_default_never_turns_capture_on_for_spans_that_are_not_tools(monkeypatch):
    @vaquero.trace(agent_name="a")
    def agent(secret_plan: str) -> str:
        return secret_plan

    with capture_spans() as spans:
        monkeypatch.setattr(STATE, "capture_content", True)
        agent("x")
    assert set(spans.one("agent").attributes) == {"gen_ai.agent.name", "gen_ai.operation.name"}


@settings(max_examples=60, deadline=None)
@given(payload=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=20), inner,
                                                                  max_size=30),
    max_leaves=400,
))
def test_any_argument_is_recorded_as_json_that_parses_within_the_length_limit(payload):
    @vaquero.trace(tool_name="echo", capture_args=True, capture_result=True)
    def echo(value):  # type: ignore[no-untyped-def]
        return value

    with capture_spans() as spans:
        echo(payload)
    attributes = spans.one("echo").attributes
    for key in (ARGUMENTS, RESULT):
        assert len(attributes[key]) <= STATE.max_attribute_length
        json.loads(attributes[key])


@pytest.mark.parametrize(("mode", "captured"), [
    ("SPAN_ONLY", True), ("span_and_event", True), ("NO_CONTENT", False),
    ("EVENT_ONLY", False), ("", False), ("true", True), ("False", False),
])
def test_the_environment_variable_sets_the_default_and_content_is_scrubbed(
    tmp_path, mode, captured
):
    traces = tmp_path / "traces.jsonl"
    app = """
import vaquero

@vaquero.trace(tool_name="login")
def login(user, password, options):
    return {"token": "sk-live-abcdefghijklmnopqrstuvwxyz012345", "user": user}

login("ana", "hunter2-secret", {"api_key": "AKIAABCDEFGHIJKLMNOP", "retries": 2})
"""
    env = file_env(traces, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=mode)
    result = run_python(app, env=env, script=tmp_path / "app.py")
    assert result.returncode == 0, result.stderr
    (span,) = read_trace_file(traces)
    attributes = {a["key"]: a["value"].get("stringValue") for a in span["attributes"]}
    if not captured:
        assert ARGUMENTS not in attributes and RESULT not in attributes
        return
    arguments = json.loads(attributes[ARGUMENTS])
    assert arguments["user"] == "ana" and arguments["options"]["retries"] == 2
    assert "hunter2" not in attributes[ARGUMENTS]
    assert "AKIAABCDEFGHIJKLMNOP" not in attributes[ARGUMENTS]
    assert "sk-live" not in attributes[RESULT]
    assert json.loads(attributes[RESULT])["user"] == "ana"
