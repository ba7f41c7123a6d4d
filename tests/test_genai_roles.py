"""Agents, workflows and tools as GenAI spans, and the one measurement each run leaves."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

import vaquero
from vaquero import _genai
from vaquero._config import load_settings
from vaquero._state import STATE
from vaquero.testing import capture_measurements, capture_spans

INVOCATION = "gen_ai.invocation.duration"
TOOL = "gen_ai.execute_tool.duration"


@vaquero.trace(tool_name="search")
def search(query: str) -> str:
    return query.upper()


@vaquero.trace(agent_name="planner")
def plan(fail: bool = False) -> str:
    found = search("a") + search("b")
    if fail:
        raise KeyError("no plan")
    return found


@vaquero.trace(workflow_name="orders")
def run_orders(fail: bool = False) -> str:
    return plan(fail)


def test_workflow_agent_and_tool_spans_carry_the_conventions_attributes_and_nest():
    with capture_spans() as spans, capture_measurements() as measured:
        assert run_orders() == "AB"
    workflow, agent = spans.one("run_orders"), spans.one("plan")
    tools = spans.named("search")
    assert workflow.attributes == {
        "gen_ai.workflow.name": "orders", "gen_ai.operation.name": "invoke_workflow"}
    assert agent.attributes == {
        "gen_ai.agent.name": "planner", "gen_ai.operation.name": "invoke_agent"}
    assert [t.attributes for t in tools] == [
        {"gen_ai.tool.name": "search", "gen_ai.operation.name": "execute_tool",
         "gen_ai.agent.name": "planner"}] * 2
    assert agent.parent is workflow and all(t.parent is agent for t in tools)
    assert {s.kind for s in spans} == {"INTERNAL"}
    assert sorted((m.name, tuple(sorted(m.attributes.items()))) for m in measured) == sorted([
        (TOOL, (("gen_ai.agent.name", "planner"), ("gen_ai.operation.name", "execute_tool"),
                ("gen_ai.tool.name", "search"))),
        (TOOL, (("gen_ai.agent.name", "planner"), ("gen_ai.operation.name", "execute_tool"),
                ("gen_ai.tool.name", "search"))),
        (INVOCATION, (("gen_ai.agent.name", "planner"), ("gen_ai.invocation.is_nested", True),
                      ("gen_ai.operation.name", "invoke_agent"))),
        (INVOCATION, (("gen_ai.invocation.is_nested", False),
                      ("gen_ai.operation.name", "invoke_workflow"),
                      ("gen_ai.workflow.name", "orders"))),
    ])


def test_each_measurement_is_its_spans_duration():
    with capture_spans() as spans, capture_measurements() as measured:
        run_orders()
    by_name = {m.attributes.get("gen_ai.workflow.name") or m.attributes.get("gen_ai.agent.name")
               if m.name == INVOCATION else None: m for m in measured}
    assert by_name["orders"].seconds == spans.one("run_orders").duration_s
    assert by_name["planner"].seconds == spans.one("plan").duration_s


def test_a_failed_run_has_error_type_on_its_span_and_its_measurement_and_the_error_passes():
    with capture_spans() as spans, capture_measurements() as measured:
        with pytest.raises(KeyError):
            run_orders(fail=True)
    assert spans.one("plan").attributes["error.type"] == "KeyError"
    assert spans.one("run_orders").attributes["error.type"] == "KeyError"
    failed = [m.attributes for m in measured if m.name == INVOCATION]
    assert all(a["error.type"] == "KeyError" for a in failed) and len(failed) == 2
    assert all("error.type" not in m.attributes for m in measured if m.name == TOOL)


def test_span_blocks_take_the_same_roles_sync_async_and_as_decorators():
    @vaquero.span("lookup", tool_name="db")
    async def lookup() -> int:
        return 1

    async def main() -> int:
        async with vaquero.span("flow", workflow_name="w"):
            with vaquero.span("helper", agent_name="a"):
                return await lookup()

    with capture_spans() as spans, capture_measurements() as measured:
        assert asyncio.run(main()) == 1
    assert spans.one("lookup").parent is spans.one("helper")
    assert spans.one("lookup").attributes["gen_ai.agent.name"] == "a"
    assert spans.one("flow").attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert len(measured) == 3


def test_runs_in_threads_and_a_coroutine_returned_by_a_sync_function_are_measured_once_each():
    async def work() -> str:
        await asyncio.sleep(0)
        return "x"

    @vaquero.trace(agent_name="returns_coroutine")
    def start():  # type: ignore[no-untyped-def]
        return work()

    with capture_measurements() as measured:
        threads = [threading.Thread(target=run_orders) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert asyncio.run(start()) == "x"
    invocations = [m for m in measured if m.name == INVOCATION]
    assert len(invocations) == 9
    assert sum(m.attributes.get("gen_ai.agent.name") == "returns_coroutine"
               for m in invocations) == 1


def test_a_workflow_inside_a_workflow_and_an_agent_inside_an_agent_are_nested():
    with capture_measurements() as measured:
        with vaquero.span("outer", workflow_name="outer"):
            with vaquero.span("inner", workflow_name="inner"):
                pass
        with vaquero.span("a1", agent_name="a1"):
            with vaquero.span("a2", agent_name="a2"):
                pass
    nested = {(m.attributes.get("gen_ai.workflow.name") or m.attributes["gen_ai.agent.name"]):
              m.attributes["gen_ai.invocation.is_nested"] for m in measured}
    assert nested == {"outer": False, "inner": True, "a1": False, "a2": True}


def test_a_tool_outside_any_agent_has_no_agent_name():
    with capture_measurements() as measured:
        search("q")
    assert measured[0].attributes == {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}


def test_spans_without_a_role_leave_no_measurement():
    with capture_measurements() as measured:
        with vaquero.span("plain"):
            pass

        @vaquero.trace
        def step() -> None:
            return None

        step()
    assert measured == []


@pytest.mark.parametrize("options", [
    {"agent_name": "a", "tool_name": "t"},
    {"workflow_name": "w", "agent_name": "a"},
    {"workflow_name": "w", "tool_name": "t"},
])
def test_one_span_takes_one_role(options):
    with pytest.raises(TypeError, match="one agent run, one workflow run or one tool call"):
        vaquero.trace(**options)
    with pytest.raises(TypeError, match="one agent run, one workflow run or one tool call"):
        vaquero.span("x", **options)


@pytest.mark.parametrize("value", ["", 3, b"name"])
def test_a_role_name_must_be_a_non_empty_string(value):
    with pytest.raises(TypeError):
        vaquero.trace(tool_name=value)


def test_a_tool_method_of_an_agent_class_stays_a_tool():
    @vaquero.trace(agent_name="clerk")
    class Clerk:
        def handle(self) -> str:
            return self.lookup()

        @vaquero.trace(tool_name="ledger")
        def lookup(self) -> str:
            return "ok"

    with capture_spans() as spans:
        assert Clerk().handle() == "ok"
    assert spans.one("Clerk.lookup").attributes["gen_ai.tool.name"] == "ledger"
    assert "gen_ai.tool.name" not in spans.one("Clerk.handle").attributes
    assert spans.one("Clerk.handle").attributes["gen_ai.agent.name"] == "clerk"


def test_user_attributes_win_over_the_role_attributes_on_the_same_key():
    with capture_spans() as spans:
        with vaquero.span("s", {"gen_ai.tool.type": "function"}, tool_name="t"):
            pass
    assert spans.one("s").attributes["gen_ai.tool.type"] == "function"


def test_span_names_follow_the_spec_only_under_the_opt_in(monkeypatch):
    monkeypatch.setattr(STATE, "spec_span_names", True)
    with capture_spans() as spans:
        run_orders()
    assert sorted(spans.names()) == [
        "execute_tool search", "execute_tool search", "invoke_agent planner",
        "invoke_workflow orders"]


@pytest.mark.parametrize(("value", "expected"), [
    ("gen_ai_latest_experimental", True),
    ("http, gen_ai_latest_experimental ,database", True),
    ("GEN_AI_LATEST_EXPERIMENTAL", True),
    ("gen_ai_latest", False),
    ("", False),
    ("http", False),
])
def test_the_opt_in_is_a_comma_list_and_other_values_are_ignored(value, expected):
    assert _genai.spec_span_names(value) is expected
    assert _genai.spec_span_names(load_settings(
        environ={"OTEL_SEMCONV_STABILITY_OPT_IN": value}).semconv_opt_in) is expected


def test_names_past_the_limit_share_the_overflow_series_and_warn_once(monkeypatch, caplog):
    monkeypatch.setattr(_genai, "MAX_NAMES", 3)
    monkeypatch.setattr(STATE, "genai_roles", {})
    monkeypatch.setattr(STATE, "genai_role_counts", {})
    monkeypatch.setattr(STATE, "warned", set())
    with capture_measurements() as measured, caplog.at_level("WARNING", logger="vaquero"):
        for user in range(6):
            with vaquero.span("per_user", agent_name=f"agent-{user}"):
                pass
    names = [m.attributes.get("gen_ai.agent.name") for m in measured]
    assert names == ["agent-0", "agent-1", "agent-2", None, None, None]
    assert all(m.attributes["otel.metric.overflow"] is True for m in measured[3:])
    warnings = [r.getMessage() for r in caplog.records if "distinct agent names" in r.getMessage()]
    assert len(warnings) == 1 and "'agent-3'" in warnings[0]


def test_cancellation_is_measured_with_its_type_and_not_marked_as_a_failure():
    async def main() -> None:
        async def stuck() -> None:
            async with vaquero.span("waits", agent_name="waiter"):
                await asyncio.sleep(10)

        task = asyncio.ensure_future(stuck())
        await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    with capture_spans() as spans, capture_measurements() as measured:
        asyncio.run(main())
    assert spans.one("waits").status == "UNSET"
    assert measured[0].attributes["error.type"] == "CancelledError"


def test_a_failed_run_has_error_type_on_its_span_also_when_nothing_measures(monkeypatch):
    with capture_spans() as spans:
        monkeypatch.setattr(STATE, "measurements", None)  # OTEL_METRICS_EXPORTER=none
        with pytest.raises(KeyError):
            run_orders(fail=True)
        with pytest.raises(ValueError):
            with vaquero.span("plain_failure"):
                raise ValueError("not a run")
    assert spans.one("plan").attributes["error.type"] == "KeyError"
    assert spans.one("run_orders").attributes["error.type"] == "KeyError"
    assert "error.type" not in spans.one("plain_failure").attributes
