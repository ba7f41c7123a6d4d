"""vaquero.span(): context managers, handle methods, errors, agent propagation, parallel tasks."""

from __future__ import annotations

import asyncio
import logging

import pytest
from opentelemetry import trace as otel_trace

import vaquero
from vaquero.testing import capture_spans


def test_nested_spans_form_a_tree_with_attributes():
    with capture_spans() as spans:
        with vaquero.span("outer", {"a": 1}, b="two") as outer:
            outer.set_attribute("c", 3.5)
            with vaquero.span("inner") as inner:
                inner.set_attributes({"d": True}, e=[1, 2])
    outer_span = spans.one("outer")
    inner_span = spans.one("inner")
    assert inner_span.parent is outer_span
    assert outer_span.attributes == {"a": 1, "b": "two", "c": 3.5}
    assert inner_span.attributes == {"d": True, "e": (1, 2)}
    assert inner_span.trace_id == outer_span.trace_id


def test_handle_ids_are_hex_and_match_the_exported_span():
    with capture_spans() as spans:
        with vaquero.span("ids") as handle:
            trace_id, span_id = handle.trace_id, handle.span_id
    assert len(trace_id) == 32 and len(span_id) == 16
    int(trace_id, 16), int(span_id, 16)
    exported = spans.one("ids")
    assert (exported.trace_id, exported.span_id) == (trace_id, span_id)


def test_async_with_and_decorator_forms():
    @vaquero.span("decorated_step", kind_of="decorator")
    async def step() -> str:
        return "done"

    async def main() -> str:
        async with vaquero.span("async_block") as block:
            block.set_attribute("x", 1)
            return await step()

    with capture_spans() as spans:
        assert asyncio.run(main()) == "done"
    assert spans.one("decorated_step").parent is spans.one("async_block")
    assert spans.one("decorated_step").attributes == {"kind_of": "decorator"}


def test_events_status_and_rename():
    with capture_spans() as spans:
        with vaquero.span("before") as handle:
            handle.add_event("checkpoint", {"n": 1}, extra={"nested": True})
            handle.set_status("error", "went wrong")
            handle.update_name("after")
    span = spans.one("after")
    assert span.events == [("checkpoint", {"n": 1, "extra": '{"nested":true}'})]
    assert span.status == "ERROR" and span.status_description == "went wrong"


def test_exception_recorded_once_and_propagates_as_the_same_object():
    error = ValueError("bad input")
    with capture_spans() as spans:
        with pytest.raises(ValueError) as caught:
            with vaquero.span("failing"):
                raise error
    assert caught.value is error
    span = spans.one("failing")
    assert span.status == "ERROR"
    assert span.status_description == "ValueError: bad input"
    assert span.event_names() == ["exception"]
    attributes = span.events[0][1]
    assert attributes["exception.type"] == "ValueError"
    assert attributes["exception.message"] == "bad input"
    assert "raise error" in attributes["exception.stacktrace"]


def test_user_recorded_exception_is_not_recorded_twice():
    with capture_spans() as spans:
        with pytest.raises(KeyError):
            with vaquero.span("manual") as handle:
                try:
                    raise KeyError("k")
                except KeyError as exc:
                    handle.record_exception(exc)
                    raise
    assert spans.one("manual").event_names() == ["exception"]


def test_cancellation_is_marked_not_an_error():
    async def main() -> None:
        async def sleeper() -> None:
            with vaquero.span("sleeper"):
                await asyncio.sleep(10)

        task = asyncio.create_task(sleeper())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with capture_spans() as spans:
        asyncio.run(main())
    span = spans.one("sleeper")
    assert span.status == "UNSET"
    assert span.attributes["vaquero.cancelled"] is True
    assert span.events == []


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_interpreter_exits_are_marked_not_errors(exc_type):
    with capture_spans() as spans:
        with pytest.raises(exc_type):
            with vaquero.span("interrupted"):
                raise exc_type()
    span = spans.one("interrupted")
    assert span.status == "UNSET"
    assert span.attributes["vaquero.interrupted"] == exc_type.__name__


def test_agent_name_reaches_every_descendant_including_raw_otel_spans():
    raw_tracer = otel_trace.get_tracer("some.other.instrumentation")

    @vaquero.trace(agent_name="planner")
    def plan() -> None:
        with vaquero.span("think"):
            with raw_tracer.start_as_current_span("raw_http_call"):
                pass

    with capture_spans() as spans:
        with vaquero.span("outside_any_agent"):
            plan()
    assert spans.one("plan").attributes["gen_ai.agent.name"] == "planner"
    assert spans.one("plan").attributes["gen_ai.operation.name"] == "invoke_agent"
    assert spans.one("think").agent == "planner"
    assert spans.one("raw_http_call").agent == "planner"
    assert "gen_ai.operation.name" not in spans.one("think").attributes
    assert spans.one("outside_any_agent").agent is None


def test_nested_agent_overrides_outer_agent_only_inside_itself():
    @vaquero.trace(agent_name="inner_agent")
    def inner() -> None:
        with vaquero.span("inner_step"):
            pass

    @vaquero.trace(agent_name="outer_agent")
    def outer() -> None:
        inner()
        with vaquero.span("outer_step"):
            pass

    with capture_spans() as spans:
        outer()
    assert spans.one("inner_step").agent == "inner_agent"
    assert spans.one("outer_step").agent == "outer_agent"


def test_span_with_agent_name_argument():
    with capture_spans() as spans:
        with vaquero.span("agent_block", agent_name="researcher"):
            with vaquero.span("child"):
                pass
    assert spans.one("child").agent == "researcher"
    assert spans.one("agent_block").attributes["gen_ai.operation.name"] == "invoke_agent"


def test_thousand_concurrent_tasks_never_get_another_tasks_parent():
    async def worker(index: int) -> tuple[str, str]:
        with vaquero.span("task_parent", index=index) as parent:
            await asyncio.sleep(0)
            with vaquero.span("task_child", index=index) as child:
                await asyncio.sleep(0)
                return parent.span_id, child.span_id

    async def main() -> list[tuple[str, str]]:
        with vaquero.span("root"):
            first = asyncio.gather(*(worker(i) for i in range(500)))
            tasks = [asyncio.create_task(worker(i)) for i in range(500, 1000)]
            results = list(await first)
            results += await asyncio.gather(*tasks)
            return results

    with capture_spans() as spans:
        asyncio.run(main())
    root = spans.one("root")
    parents = {s.attributes["index"]: s for s in spans.named("task_parent")}
    children = spans.named("task_child")
    assert len(parents) == 1000 and len(children) == 1000
    for child in children:
        parent = parents[child.attributes["index"]]
        assert child.parent is parent
        assert parent.parent is root


def test_task_group_children_nest_under_creator():
    if not hasattr(asyncio, "TaskGroup"):
        pytest.skip("asyncio.TaskGroup needs Python 3.11")

    async def child(i: int) -> None:
        with vaquero.span("tg_child", i=i):
            await asyncio.sleep(0)

    async def main() -> None:
        with vaquero.span("tg_parent"):
            async with asyncio.TaskGroup() as group:
                for i in range(20):
                    group.create_task(child(i))

    with capture_spans() as spans:
        asyncio.run(main())
    parent = spans.one("tg_parent")
    assert all(s.parent is parent for s in spans.named("tg_child"))


def test_current_span_and_module_set_attribute():
    with capture_spans() as spans:
        with vaquero.span("current") as handle:
            assert vaquero.current_span().span_id == handle.span_id
            vaquero.set_attribute("from_module", {"k": 1})
    assert spans.one("current").attributes["from_module"] == '{"k":1}'
    vaquero.set_attribute("outside", 1)  # no current span: a no-op, not an error
    assert not vaquero.current_span().is_recording()


def test_handle_methods_never_raise_on_hostile_input(caplog, contained_faults):
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("repr exploded")

        def __str__(self) -> str:
            raise RuntimeError("str exploded")

    with capture_spans() as spans:
        with vaquero.span("hostile") as handle:
            handle.set_attribute(Hostile(), Hostile())
            handle.set_attribute("value", Hostile())
            handle.add_event(Hostile(), {"k": Hostile()})
            handle.set_status("not-a-status")
            handle.update_name(Hostile())
            handle.record_exception(Hostile())  # type: ignore[arg-type]
    names = spans.names()
    assert len(names) == 1
    span = spans.spans[0]
    assert span.attributes["value"] == f"<unrepresentable {Hostile.__qualname__}>"


def test_bad_parent_argument_does_not_break_the_block(caplog, contained_faults):
    with capture_spans() as spans:
        with caplog.at_level(logging.WARNING, logger="vaquero"):
            with vaquero.span("with_bad_parent", parent=42) as handle:
                handle.set_attribute("still", "works")
    assert spans.one("with_bad_parent").attributes["still"] == "works"


def test_handle_fast_path_keeps_the_documented_forms():
    """set_attribute skips conversion for plain values; the edge values still convert."""
    with capture_spans() as spans:
        with vaquero.span("forms") as handle:
            handle.set_attribute("text", "plain")
            handle.set_attribute("flag", False)
            handle.set_attribute("small", 2**63 - 1)
            handle.set_attribute("big", 2**63)
            handle.set_attribute("finite", 0.5)
            handle.set_attribute("nan", float("nan"))
            handle.set_attribute("inf", float("-inf"))
            handle.set_attribute("long", "y" * 20_000)
    attributes = spans.one("forms").attributes
    assert attributes["text"] == "plain" and attributes["flag"] is False
    assert attributes["small"] == 2**63 - 1 and attributes["big"] == str(2**63)
    assert attributes["finite"] == 0.5
    assert attributes["nan"] == "NaN" and attributes["inf"] == "-Infinity"
    assert len(attributes["long"]) <= 8192 and attributes["long"].endswith("chars]")


def test_setting_an_attribute_after_the_span_ended_is_ignored_quietly(caplog):
    with capture_spans() as spans:
        with vaquero.span("ended") as handle:
            pass
        handle.set_attribute("late", 1)
    assert "late" not in spans.one("ended").attributes
    assert "internal error" not in caplog.text


def test_handle_writes_keep_the_sdk_attribute_limits_and_eviction_order():
    """The handle's fast attribute path must store exactly what the SDK's own path stores."""
    from opentelemetry import trace as otel

    def fill(set_attribute) -> None:
        for index in range(130):
            set_attribute(f"k{index}", index)
        set_attribute("k5", "again")  # a re-set key moves to the end, as in the SDK

    raw_tracer = otel.get_tracer("raw-compare")
    with capture_spans() as spans:
        with vaquero.span("via_vaquero") as handle:
            fill(handle.set_attribute)
        with raw_tracer.start_as_current_span("via_sdk") as raw:
            fill(raw.set_attribute)
    ours, theirs = (next(s for s in spans._raw if s.name == n) for n in ("via_vaquero", "via_sdk"))
    assert list(ours.attributes.items()) == list(theirs.attributes.items())
    assert len(ours.attributes) == 128
    assert ours.dropped_attributes == theirs.dropped_attributes == 2


def test_a_stricter_provider_length_limit_still_applies(python_runner):
    result = python_runner(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import SpanLimits, TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider(span_limits=SpanLimits(max_attribute_length=10))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        import vaquero
        with vaquero.span("limited") as span:
            span.set_attribute("text", "x" * 50)
        print(len(exporter.get_finished_spans()[0].attributes["text"]))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "10"
