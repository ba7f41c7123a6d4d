"""Framework objects keep their type and behaviour under ``@vaquero.trace`` (issue 11, item 5).

Spans are named after what the user wrote: the function inside a partial, the callback of a
click command, the class of a callable instance.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import pickle
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import vaquero
from vaquero.testing import capture_spans

# --- click -----------------------------------------------------------------------------------


def _greet_command() -> Any:
    @vaquero.trace(agent_name="cli")
    @click.command()
    @click.option("--count", default=1, type=int)
    @click.argument("name")
    def greet(count: int, name: str) -> None:
        """Say hello."""
        with vaquero.span("render"):
            for _ in range(count):
                click.echo(f"hello {name}")

    return greet


def test_trace_above_click_command_keeps_a_working_command() -> None:
    greet = _greet_command()
    assert isinstance(greet, click.Command)
    assert greet.help == "Say hello."
    with capture_spans() as spans:
        result = CliRunner().invoke(greet, ["--count", "2", "ada"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello ada\nhello ada\n"
    command = spans.one("greet")
    assert command.agent == "cli"
    assert spans.one("render").parent is command


def test_trace_above_click_group_traces_the_group_and_keeps_subcommands() -> None:
    @vaquero.trace
    @click.group()
    def tool() -> None:
        """A group of commands."""

    @tool.command()
    def status() -> None:
        click.echo("fine")

    assert isinstance(tool, click.Group)
    with capture_spans() as spans:
        result = CliRunner().invoke(tool, ["status"])
    assert result.exit_code == 0, result.output
    assert result.output == "fine\n"
    assert spans.names() == ["tool"]


def test_click_command_traced_twice_records_one_span() -> None:
    @click.command()
    def once() -> None:
        pass

    twice = vaquero.trace(vaquero.trace(once))
    assert twice is once
    with capture_spans() as spans:
        assert CliRunner().invoke(twice, []).exit_code == 0
    assert spans.names() == ["once"]


# --- functools.partial -----------------------------------------------------------------------


def scale(factor: int, value: int) -> int:
    return factor * value


async def ascale(factor: int, value: int) -> int:
    await asyncio.sleep(0)
    return factor * value


@settings(max_examples=30, deadline=None)
@given(factor=st.integers(-100, 100), value=st.integers(-100, 100), depth=st.integers(1, 3))
def test_partial_stays_a_partial_named_after_its_function(
    factor: int, value: int, depth: int
) -> None:
    target: Any = functools.partial(scale, factor)
    for _ in range(depth - 1):
        target = functools.partial(target)
    traced = vaquero.trace(capture_args=True)(target)
    assert isinstance(traced, functools.partial)
    with capture_spans() as spans:
        assert traced(value) == factor * value
    span = spans.one("scale")
    assert span.attributes["vaquero.arg.factor"] == factor
    assert span.attributes["vaquero.arg.value"] == value


def test_partial_of_a_coroutine_function_stays_async() -> None:
    traced = vaquero.trace(functools.partial(ascale, 3))
    assert inspect.iscoroutinefunction(traced)
    with capture_spans() as spans:
        assert asyncio.run(traced(4)) == 12
    assert spans.names() == ["ascale"]


def test_explicit_name_wins_over_the_partials_function() -> None:
    traced = vaquero.trace(name="scaled")(functools.partial(scale, 2))
    with capture_spans() as spans:
        traced(1)
    assert spans.names() == ["scaled"]


# --- callable instances ----------------------------------------------------------------------


class Counter:
    """A callable object with state the caller reads and writes."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, step: int = 1) -> int:
        self.calls += step
        with vaquero.span("count"):
            return self.calls

    def reset(self) -> None:
        self.calls = 0


def test_callable_instance_keeps_its_type_state_and_methods() -> None:
    original = Counter()
    counter = vaquero.trace(capture_args=True)(original)
    assert isinstance(counter, Counter)
    with capture_spans() as spans:
        assert counter(2) == 2
        assert counter() == 3
    assert original.calls == 3 and counter.calls == 3
    counter.calls = 10
    assert original.calls == 10
    counter.reset()
    assert original.calls == 0
    assert spans.names() == ["count", "Counter", "count", "Counter"]
    first = spans.named("Counter")[0]
    assert first.attributes["vaquero.arg.step"] == 2
    assert "vaquero.arg.self" not in first.attributes
    assert spans.named("count")[0].parent is first


def test_callable_instance_traced_twice_records_one_span() -> None:
    counter = vaquero.trace(agent_name="x")(vaquero.trace(Counter()))
    with capture_spans() as spans:
        counter()
    assert spans.names() == ["count", "Counter"]
    assert spans.one("Counter").agent == "x"


# --- staticmethod / classmethod objects, bound methods ---------------------------------------


def test_staticmethod_and_classmethod_objects_stay_descriptors() -> None:
    class Store:
        prefix = "p"

        def lookup_key(cls, key: str) -> str:
            return f"{cls.prefix}:{key}"

        def normalize(key: str) -> str:
            return key.lower()

        lookup = vaquero.trace(capture_args=True)(classmethod(lookup_key))
        clean = vaquero.trace(staticmethod(normalize))

    assert isinstance(Store.__dict__["lookup"], classmethod)
    assert isinstance(Store.__dict__["clean"], staticmethod)
    with capture_spans() as spans:
        assert Store.lookup("k") == "p:k"
        assert Store().clean("ABC") == "abc"
    lookup = spans.one("Store.lookup_key")
    assert lookup.attributes["vaquero.arg.key"] == "k"
    assert "vaquero.arg.cls" not in lookup.attributes
    assert spans.names() == ["Store.lookup_key", "Store.normalize"]


def test_bound_method_of_a_traced_function_is_not_traced_again() -> None:
    class Service:
        @vaquero.trace
        def run(self) -> int:
            return 1

    service = Service()
    again = vaquero.trace(service.run)
    with capture_spans() as spans:
        assert again() == 1
    assert spans.names() == ["Service.run"]


@pytest.mark.parametrize("value", [5, 2.5, object(), [1]])
def test_a_non_callable_is_refused_at_decoration_naming_what_is_accepted(value: Any) -> None:
    with pytest.raises(TypeError, match="expected a function, a method, a class or a callable"):
        vaquero.trace(value)


def test_callable_instance_survives_copy_and_pickle_still_traced() -> None:
    counter = vaquero.trace(agent_name="copied")(Counter())
    counter(5)
    for clone in (copy.copy(counter), copy.deepcopy(counter),
                  pickle.loads(pickle.dumps(counter))):
        assert isinstance(clone, Counter) and clone.calls == 5
        with capture_spans() as spans:
            assert clone(1) == 6
        assert spans.one("Counter").agent == "copied"
    assert counter.calls == 5


@pytest.mark.parametrize(
    ("make", "read", "expected"),
    [
        (property, lambda obj: obj.value, 0),
        (functools.cached_property, lambda obj: obj.value, 0),
        (lambda f: functools.partialmethod(f, 1), lambda obj: obj.value(), 1),
    ],
)
def test_a_descriptor_is_refused_naming_where_the_decorator_goes(
    make: Any, read: Any, expected: int
) -> None:
    def getter(self: Any, x: int = 0) -> int:
        return x

    descriptor = make(getter)
    kind = type(descriptor).__name__
    with pytest.raises(TypeError, match=rf"put @vaquero.trace below @{kind}, directly on"):
        vaquero.trace(descriptor)

    class Fine:
        value = make(vaquero.trace(getter))

    with capture_spans() as spans:
        assert read(Fine()) == expected
    assert spans.names() == ["getter"]


def test_lru_cache_keeps_its_cache_api_and_binds_as_a_method() -> None:
    @vaquero.trace
    @functools.lru_cache
    def square(x: int) -> int:
        return x * x

    class Geometry:
        @vaquero.trace(capture_args=True)
        @functools.lru_cache  # noqa: B019 - the test is about this very shape
        def area(self, side: int) -> int:
            return side * side

    with capture_spans() as spans:
        assert square(3) == 9 and square(3) == 9
        assert Geometry().area(2) == 4
    assert square.cache_info().hits == 1
    square.cache_clear()
    assert square.cache_info().currsize == 0
    assert spans.names() == ["square", "square", "Geometry.area"]
    assert spans.one("Geometry.area").attributes == {"vaquero.arg.side": 2}


def test_pydantic_validate_call_stays_validating_and_async() -> None:
    pydantic = pytest.importorskip("pydantic")

    @vaquero.trace
    @pydantic.validate_call
    async def add(a: int, b: int) -> int:
        return a + b

    assert inspect.iscoroutinefunction(add)
    with capture_spans() as spans:
        assert asyncio.run(add("1", 2)) == 3
        with pytest.raises(pydantic.ValidationError):
            asyncio.run(add("x", 2))
    assert [s.status for s in spans.named("add")] == ["UNSET", "ERROR"]


def test_proxies_answer_inspect_as_the_objects_they_wrap() -> None:
    cached = functools.lru_cache(scale)
    for original in (Counter(), cached, _AsyncAuth()):
        traced = vaquero.trace(original)
        assert inspect.isroutine(traced) is inspect.isroutine(original)
        assert inspect.iscoroutinefunction(traced.__call__) is inspect.iscoroutinefunction(
            original.__call__
        )


class _AsyncAuth:
    async def __call__(self, token: str = "anon") -> str:
        return token.upper()


def test_fastapi_dependency_that_is_a_traced_async_callable_instance() -> None:
    fastapi = pytest.importorskip("fastapi")
    testclient = pytest.importorskip("fastapi.testclient")
    auth = vaquero.trace(_AsyncAuth())
    app = fastapi.FastAPI()

    @app.get("/me")
    async def me(user: str = fastapi.Depends(auth)) -> dict[str, str]:  # noqa: B008
        return {"user": user}

    with capture_spans() as spans:
        response = testclient.TestClient(app).get("/me", params={"token": "ada"})
    assert response.status_code == 200, response.text
    assert response.json() == {"user": "ADA"}
    assert len(spans.named("_AsyncAuth")) == 1
