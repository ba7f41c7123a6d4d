"""@vaquero.trace on every kind of callable, and on classes."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import inspect
import logging
import pickle

import pytest

import vaquero
from vaquero.testing import capture_spans


def test_bare_and_called_forms_keep_metadata():
    @vaquero.trace
    def add(a: int, b: int = 2) -> int:
        """Add two numbers."""
        return a + b

    @vaquero.trace(agent_name="calc", name="custom")
    async def async_add(a: int) -> int:
        return a

    assert add.__name__ == "add" and add.__doc__ == "Add two numbers."
    assert inspect.signature(add) == inspect.signature(add.__wrapped__)
    assert list(inspect.signature(add).parameters) == ["a", "b"]
    assert inspect.iscoroutinefunction(async_add)
    with capture_spans() as spans:
        assert add(1) == 3
        assert asyncio.run(async_add(5)) == 5
    assert spans.names() == ["add", "custom"]
    assert spans.one("custom").agent == "calc"


def test_positional_agent_name():
    @vaquero.trace("positional_agent")
    def run() -> None:
        pass

    with capture_spans() as spans:
        run()
    assert spans.one("run").agent == "positional_agent"


def test_nested_function_name_has_no_locals_noise():
    def outer():
        @vaquero.trace
        def helper():
            return 1

        return helper

    with capture_spans() as spans:
        outer()()
    assert spans.names() == ["helper"]


def test_exception_passes_through_unchanged_with_one_event():
    error = RuntimeError("kaput")

    @vaquero.trace
    def fails() -> None:
        raise error

    with capture_spans() as spans:
        with pytest.raises(RuntimeError) as caught:
            fails()
    assert caught.value is error
    span = spans.one("fails")
    assert span.status == "ERROR" and span.event_names() == ["exception"]


def test_capture_args_and_result_skip_self():
    class Service:
        @vaquero.trace(capture_args=True, capture_result=True)
        def lookup(self, user_id: int, *, fields: list[str]) -> dict:
            return {"id": user_id, "fields": fields}

    with capture_spans() as spans:
        Service().lookup(7, fields=["a", "b"])
    span = spans.one("Service.lookup")
    assert span.attributes["vaquero.arg.user_id"] == 7
    assert span.attributes["vaquero.arg.fields"] == ("a", "b")
    assert span.attributes["vaquero.result"] == '{"id":7,"fields":["a","b"]}'
    assert not any(key.endswith(".self") for key in span.attributes)


def test_capture_args_with_a_bad_call_raises_the_users_type_error():
    @vaquero.trace(capture_args=True)
    def needs_two(a, b):
        return a + b

    with capture_spans():
        with pytest.raises(TypeError, match="missing 1 required positional argument"):
            needs_two(1)


def test_generator_span_covers_iteration_and_never_leaks_to_caller():
    @vaquero.trace
    def produce(n: int):
        for i in range(n):
            with vaquero.span("produce_item", i=i):
                yield i

    assert inspect.isgeneratorfunction(produce)
    seen_outside = []
    with capture_spans() as spans:
        with vaquero.span("consumer") as consumer:
            for item in produce(3):
                seen_outside.append(vaquero.current_span().span_id)
                with vaquero.span("consume_item", item=item):
                    pass
    assert set(seen_outside) == {consumer.span_id}
    producer = spans.one("produce")
    assert producer.parent is spans.one("consumer")
    assert all(s.parent is producer for s in spans.named("produce_item"))
    assert all(s.parent.name == "consumer" for s in spans.named("consume_item"))
    assert producer.end_ns >= max(s.end_ns for s in spans.named("consume_item")[:2])


def test_generator_break_close_and_gc_end_the_span_without_detach_errors(caplog):
    @vaquero.trace
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    with caplog.at_level(logging.ERROR), capture_spans() as spans:
        for item in endless():
            if item == 2:
                break
        gen = endless()
        next(gen)
        gen.close()
        gen = endless()
        next(gen)
        del gen
        gc.collect()
    assert len(spans.named("endless")) == 3
    assert all(s.status == "UNSET" for s in spans.named("endless"))
    assert "Failed to detach context" not in caplog.text


def test_generator_send_throw_and_return_value():
    @vaquero.trace
    def echo():
        received = []
        try:
            while True:
                value = yield len(received)
                received.append(value)
        except ValueError:
            yield "caught"
        return received

    with capture_spans() as spans:
        gen = echo()
        assert next(gen) == 0
        assert gen.send("a") == 1
        assert gen.throw(ValueError("stop")) == "caught"
        with pytest.raises(StopIteration) as stop:
            next(gen)
    assert stop.value.value == ["a"]
    assert spans.one("echo").status == "UNSET"


def test_generator_error_marks_span():
    @vaquero.trace
    def broken():
        yield 1
        raise LookupError("missing")

    with capture_spans() as spans:
        with pytest.raises(LookupError):
            list(broken())
    assert spans.one("broken").status == "ERROR"


def test_async_generator_span_and_context_isolation():
    @vaquero.trace(agent_name="streamer")
    async def stream(n: int):
        for i in range(n):
            with vaquero.span("chunk", i=i):
                await asyncio.sleep(0)
                yield i

    assert inspect.isasyncgenfunction(stream)

    async def main() -> list[str]:
        outside = []
        with vaquero.span("reader"):
            async for _ in stream(3):
                outside.append(vaquero.current_span().otel_span.name)
            agen = stream(10)
            await agen.__anext__()
            await agen.aclose()
        return outside

    with capture_spans() as spans:
        outside = asyncio.run(main())
    assert outside == ["reader"] * 3
    streams = spans.named("stream")
    assert len(streams) == 2
    assert all(s.parent.name == "reader" and s.agent == "streamer" for s in streams)
    assert all(c.parent.name == "stream" and c.agent == "streamer" for c in spans.named("chunk"))


def test_async_generator_error_propagates():
    @vaquero.trace
    async def failing_stream():
        yield 1
        raise ConnectionError("lost")

    async def main() -> None:
        async for _ in failing_stream():
            pass

    with capture_spans() as spans:
        with pytest.raises(ConnectionError):
            asyncio.run(main())
    assert spans.one("failing_stream").status == "ERROR"


def test_methods_staticmethods_classmethods():
    class Tool:
        @vaquero.trace
        def method(self) -> str:
            return "m"

        @staticmethod
        @vaquero.trace
        def static() -> str:
            return "s"

        @vaquero.trace
        @classmethod
        def klass(cls) -> str:
            return cls.__name__

    with capture_spans() as spans:
        assert Tool().method() == "m"
        assert Tool.static() == "s"
        assert Tool.klass() == "Tool"
    assert spans.names() == ["Tool.method", "Tool.static", "Tool.klass"]


@vaquero.trace(agent_name="class_agent")
class Workflow:
    """A decorated class used by the class tests (module level so pickle can find it)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def run(self) -> int:
        return self._helper() + 1

    async def run_async(self) -> int:
        await asyncio.sleep(0)
        return self.value

    def _helper(self) -> int:
        with vaquero.span("helper_work"):
            return self.value

    @staticmethod
    def static_step() -> str:
        return "static"

    @classmethod
    def create(cls, value: int) -> Workflow:
        return cls(value)

    @property
    def doubled(self) -> int:
        return self.value * 2


def test_decorated_class_stays_a_class_and_traces_public_methods():
    assert isinstance(Workflow, type)
    instance = Workflow.create(2)
    assert isinstance(instance, Workflow)
    with capture_spans() as spans:
        assert instance.run() == 3
        assert asyncio.run(instance.run_async()) == 2
        assert Workflow.static_step() == "static"
        assert instance.doubled == 4
    assert spans.names() == ["helper_work", "Workflow.run", "Workflow.run_async",
                             "Workflow.static_step"]
    assert spans.one("helper_work").parent is spans.one("Workflow.run")
    assert all(s.agent == "class_agent" for s in spans)
    assert inspect.iscoroutinefunction(Workflow.run_async)
    assert pickle.loads(pickle.dumps(instance)).value == 2


def test_decorated_class_subclassing_and_dataclasses():
    class Child(Workflow):
        def extra(self) -> int:
            return self.run()

    @vaquero.trace(agent_name="dc")
    @dataclasses.dataclass
    class Record:
        x: int

        def total(self) -> int:
            return self.x

    with capture_spans() as spans:
        assert Child(1).extra() == 2
        assert Record(5).total() == 5
        assert Record(5) == Record(5)
    assert "Workflow.run" in spans.names()
    assert spans.one("Record.total").agent == "dc"
    assert dataclasses.is_dataclass(Record)


def test_method_traced_twice_is_not_double_wrapped():
    @vaquero.trace(agent_name="outer")
    class Mixed:
        @vaquero.trace(name="explicit")
        def step(self) -> None:
            pass

    with capture_spans() as spans:
        Mixed().step()
    assert spans.names() == ["explicit"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"agent_name": 5}, "agent_name=5"),
        ({"name": ["x"]}, "name=['x']"),
        ({"attributes": "nope"}, "attributes='nope'"),
    ],
)
def test_bad_decorator_arguments_get_a_clear_message(kwargs, message):
    with pytest.raises(TypeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        vaquero.trace(**kwargs)


def test_decorating_a_non_callable_is_refused():
    with pytest.raises(TypeError, match="cannot decorate 'int'"):
        vaquero.trace(agent_name="x")(5)
