"""Odd shapes keep their semantics (issue 10, item 8).

Generators keep their whole protocol with tracing on and off, context managers keep their
context, one span object shared by tasks loses no span, the disabled handle pins no
exception, an ``async def __call__`` is traced as async, and tracing twice records once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import inspect
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from conftest import clean_env, run_python
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vaquero
from vaquero._state import STATE
from vaquero.testing import capture_spans

REQUEST: contextvars.ContextVar[str | None] = contextvars.ContextVar("request", default=None)


def as_if_disabled(patch: pytest.MonkeyPatch) -> None:
    """The state ``OTEL_SDK_DISABLED=true`` leaves behind, for in-process tests."""
    patch.setattr(STATE, "tracer", None)
    patch.setattr(STATE, "disabled", True)


@pytest.fixture
def disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    as_if_disabled(monkeypatch)


# --- generators: the whole protocol, traced or not, tracing on or off ------------------------

class Boom(Exception):
    """Thrown in and not handled: must come back out unchanged."""


def echo() -> Iterator[tuple[Any, ...]]:
    log: list[Any] = []
    while True:
        try:
            value = yield tuple(log)
        except ValueError:
            log.append("caught")
            continue
        except KeyError:
            return ("returned", tuple(log))
        if value == "stop":
            return ("stopped", tuple(log))
        log.append(value)


async def aecho() -> AsyncIterator[tuple[Any, ...]]:
    log: list[Any] = []
    while True:
        try:
            value = yield tuple(log)
        except ValueError:
            log.append("caught")
            continue
        except KeyError:
            return
        await asyncio.sleep(0)
        if value == "stop":
            return
        log.append(value)


_EXCEPTIONS = {"ValueError": ValueError, "KeyError": KeyError, "Boom": Boom}
OPERATIONS = st.lists(
    st.one_of(
        st.just(("next", None)),
        st.tuples(st.just("send"), st.one_of(st.integers(-5, 5), st.just("stop"), st.none())),
        st.tuples(st.just("throw"), st.sampled_from(sorted(_EXCEPTIONS))),
        st.just(("close", None)),
    ),
    max_size=12,
)


def drive(gen: Any, operations: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    transcript: list[tuple[str, Any]] = []
    for op, arg in operations:
        try:
            if op == "next":
                result = next(gen)
            elif op == "send":
                result = gen.send(arg)
            elif op == "throw":
                result = gen.throw(_EXCEPTIONS[arg]("x"))
            else:
                result = gen.close()
            transcript.append(("ok", result))
        except StopIteration as stop:
            transcript.append(("stop", stop.value))
        except BaseException as exc:  # the transcript compares every outcome
            transcript.append(("raise", type(exc).__name__))
    return transcript


async def adrive(agen: Any, operations: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    transcript: list[tuple[str, Any]] = []
    for op, arg in operations:
        try:
            if op == "next":
                result = await agen.__anext__()
            elif op == "send":
                result = await agen.asend(arg)
            elif op == "throw":
                result = await agen.athrow(_EXCEPTIONS[arg]("x"))
            else:
                result = await agen.aclose()
            transcript.append(("ok", result))
        except StopAsyncIteration:
            transcript.append(("stop", None))
        except BaseException as exc:
            transcript.append(("raise", type(exc).__name__))
    return transcript


_SETTINGS = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("tracing", ["on", "off"])
@_SETTINGS
@given(operations=OPERATIONS)
def test_traced_generator_answers_every_operation_like_the_plain_one(
    tracing: str, operations: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        if tracing == "off":
            as_if_disabled(patch)
        traced = vaquero.trace(echo)
        with capture_spans():
            assert drive(traced(), operations) == drive(echo(), operations)


@pytest.mark.parametrize("tracing", ["on", "off"])
@_SETTINGS
@given(operations=OPERATIONS)
def test_traced_async_generator_answers_asend_athrow_aclose_like_the_plain_one(
    tracing: str, operations: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        if tracing == "off":
            as_if_disabled(patch)
        traced = vaquero.trace(aecho)
        with capture_spans():
            got = asyncio.run(adrive(traced(), operations))
        assert got == asyncio.run(adrive(aecho(), operations))


def test_sdk_disabled_by_the_environment_keeps_asend_and_athrow() -> None:
    result = run_python(
        """
        import asyncio
        import vaquero

        @vaquero.trace
        async def accumulate():
            total = 0
            while True:
                try:
                    total += yield total
                except ValueError:
                    total = -1

        async def main():
            agen = accumulate()
            assert await agen.asend(None) == 0
            assert await agen.asend(5) == 5
            assert await agen.athrow(ValueError()) == -1
            await agen.aclose()
            print("ok")

        asyncio.run(main())
        """,
        env=clean_env(OTEL_SDK_DISABLED="true"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --- context managers: the with-body keeps its context and its parent -----------------------

def _sync_cms() -> dict[str, Any]:
    def body() -> Iterator[str]:
        token = REQUEST.set("set-before-yield")
        try:
            yield "resource"
        finally:
            REQUEST.reset(token)

    return {
        "trace-above": vaquero.trace(contextlib.contextmanager(body)),
        "trace-below": contextlib.contextmanager(vaquero.trace(body)),
    }


def _async_cms() -> dict[str, Any]:
    async def body() -> AsyncIterator[str]:
        token = REQUEST.set("set-before-yield")
        try:
            yield "resource"
        finally:
            REQUEST.reset(token)

    return {
        "trace-above": vaquero.trace(contextlib.asynccontextmanager(body)),
        "trace-below": contextlib.asynccontextmanager(vaquero.trace(body)),
    }


@pytest.mark.parametrize("order", ["trace-above", "trace-below"])
def test_contextmanager_body_sees_its_contextvars_and_parents_its_spans(order: str) -> None:
    cm = _sync_cms()[order]
    with capture_spans() as spans:
        with vaquero.span("request"):
            with cm() as resource:
                seen = REQUEST.get()
                with vaquero.span("in_body"):
                    pass
            after = REQUEST.get()
    assert (resource, seen, after) == ("resource", "set-before-yield", None)
    managed = spans.one("body")
    assert managed.parent is spans.one("request")
    assert spans.one("in_body").parent is managed
    assert managed.end_ns >= spans.one("in_body").end_ns


@pytest.mark.parametrize("order", ["trace-above", "trace-below"])
def test_asynccontextmanager_body_sees_its_contextvars_and_parents_its_spans(order: str) -> None:
    cm = _async_cms()[order]

    async def main() -> tuple[str, str | None, str | None]:
        with vaquero.span("request"):
            async with cm() as resource:
                seen = REQUEST.get()
                with vaquero.span("in_body"):
                    await asyncio.sleep(0)
            return resource, seen, REQUEST.get()

    with capture_spans() as spans:
        assert asyncio.run(main()) == ("resource", "set-before-yield", None)
    managed = spans.one("body")
    assert managed.parent is spans.one("request")
    assert spans.one("in_body").parent is managed


@pytest.mark.parametrize("order", ["trace-above", "trace-below"])
def test_contextmanager_span_records_the_bodys_error_and_a_suppressed_one_is_no_error(
    order: str,
) -> None:
    def suppressing() -> Iterator[None]:
        try:
            yield
        except KeyError:
            pass

    cm = _sync_cms()[order]
    quiet = (
        vaquero.trace(contextlib.contextmanager(suppressing))
        if order == "trace-above"
        else contextlib.contextmanager(vaquero.trace(suppressing))
    )
    with capture_spans() as spans:
        with pytest.raises(Boom):
            with cm():
                raise Boom("in body")
        with quiet():
            raise KeyError("swallowed by the context manager")
    assert spans.one("body").status == "ERROR"
    assert spans.one("suppressing").status == "UNSET"


def _managed(suppress: bool, is_async: bool) -> Any:
    """A context manager generator that sets a ContextVar and may swallow ``Boom``."""
    if is_async:
        async def managed_async() -> AsyncIterator[str]:
            token = REQUEST.set("set-before-yield")
            try:
                yield "resource"
            except Boom:
                if not suppress:
                    raise
            finally:
                REQUEST.reset(token)

        return managed_async

    def managed() -> Iterator[str]:
        token = REQUEST.set("set-before-yield")
        try:
            yield "resource"
        except Boom:
            if not suppress:
                raise
        finally:
            REQUEST.reset(token)

    return managed


def _use(cm: Any, is_async: bool, raises: bool, children: int) -> tuple[Any, ...]:
    """Enter ``cm`` once; the body opens ``children`` spans and may raise ``Boom``."""

    def body() -> str | None:
        for index in range(children):
            with vaquero.span(f"child{index}"):
                pass
        seen = REQUEST.get()
        if raises:
            raise Boom("from the body")
        return seen

    async def run_async() -> tuple[Any, ...]:
        seen: Any = "suppressed"
        try:
            async with cm() as resource:
                seen = body()
        except Boom:
            return ("raised", REQUEST.get())
        return (resource, seen, REQUEST.get())

    if is_async:
        return asyncio.run(run_async())
    seen: Any = "suppressed"
    try:
        with cm() as resource:
            seen = body()
    except Boom:
        return ("raised", REQUEST.get())
    return (resource, seen, REQUEST.get())


@settings(max_examples=60, deadline=None)
@given(
    order=st.sampled_from(["trace-above", "trace-below"]),
    is_async=st.booleans(),
    suppress=st.booleans(),
    raises=st.booleans(),
    children=st.integers(0, 3),
)
def test_traced_context_manager_behaves_like_the_plain_one_and_parents_its_body(
    order: str, is_async: bool, suppress: bool, raises: bool, children: int
) -> None:
    decorator = contextlib.asynccontextmanager if is_async else contextlib.contextmanager
    generator = _managed(suppress, is_async)
    plain = decorator(generator)
    traced = (
        vaquero.trace(name="managed")(decorator(generator))
        if order == "trace-above"
        else decorator(vaquero.trace(name="managed")(generator))
    )
    expected = _use(plain, is_async, raises, children)
    with capture_spans() as spans:
        assert _use(traced, is_async, raises, children) == expected
    managed = spans.one("managed")
    assert all(spans.one(f"child{i}").parent is managed for i in range(children))
    assert managed.status == ("ERROR" if raises and not suppress else "UNSET")


def test_traced_contextmanager_stays_a_contextmanager_and_a_decorator() -> None:
    cm = _sync_cms()["trace-above"]
    assert isinstance(cm(), contextlib.AbstractContextManager)

    @cm()
    def job() -> str | None:
        with vaquero.span("job_work"):
            return REQUEST.get()

    with capture_spans() as spans:
        assert job() == "set-before-yield"
    assert spans.one("job_work").parent is spans.one("body")


def test_iterated_generator_still_keeps_its_context_private() -> None:
    @vaquero.trace
    def produce() -> Iterator[int]:
        REQUEST.set("inside")
        yield 1
        yield 2

    with capture_spans():
        assert list(produce()) == [1, 2]
        assert REQUEST.get() is None


# --- one span object entered by several tasks at once ---------------------------------------

@settings(max_examples=40, deadline=None)
@given(pauses=st.lists(st.integers(0, 3), min_size=1, max_size=6))
def test_one_span_object_shared_by_tasks_gives_each_entry_its_own_span(
    pauses: list[int],
) -> None:
    shared = vaquero.span("shared")

    async def worker(index: int, pause: int) -> str:
        async with shared as handle:
            for _ in range(pause):
                await asyncio.sleep(0)
            with vaquero.span(f"child{index}"):
                await asyncio.sleep(0)
            return handle.span_id

    async def main() -> list[str]:
        with vaquero.span("root"):
            return list(await asyncio.gather(*(worker(i, p) for i, p in enumerate(pauses))))

    with capture_spans() as spans:
        handle_ids = asyncio.run(main())
    entries = spans.named("shared")
    assert len(entries) == len(pauses)
    assert len({s.span_id for s in entries}) == len(pauses)
    assert all(s.parent is spans.one("root") for s in entries)
    for index, handle_id in enumerate(handle_ids):
        child = spans.one(f"child{index}")
        assert child.parent is not None and child.parent.span_id == handle_id


def test_one_span_object_entered_inside_itself_nests() -> None:
    scope = vaquero.span("again")
    with capture_spans() as spans:
        with scope as outer, scope as inner:
            assert inner.span_id != outer.span_id
            assert vaquero.current_span().span_id == inner.span_id
        assert not vaquero.current_span().is_recording()
    first, second = sorted(spans.named("again"), key=lambda s: s.start_ns)
    assert second.parent is first


# --- nothing keeps the user's exception alive -----------------------------------------------

class Tracked(Exception):
    """A user exception we can hold a weak reference to."""


def _record_and_forget(handle_factory: Any) -> weakref.ref[Tracked]:
    error = Tracked("kept?")
    with handle_factory() as handle:
        handle.record_exception(error)
    ref = weakref.ref(error)
    del error
    return ref


@pytest.mark.usefixtures("disabled")
def test_disabled_handle_does_not_keep_the_last_exception() -> None:
    ref = _record_and_forget(lambda: vaquero.span("noop"))
    gc.collect()
    assert ref() is None


def test_span_object_forgets_the_recorded_exception_at_exit() -> None:
    scope = vaquero.span("kept_scope")
    with capture_spans():
        ref = _record_and_forget(lambda: scope)
    gc.collect()
    assert ref() is None


# --- async __call__ and tracing twice --------------------------------------------------------

class Planner:
    """An agent object whose call is a coroutine."""

    def __init__(self) -> None:
        self.model = "small"

    async def __call__(self, question: str) -> str:
        await asyncio.sleep(0)
        with vaquero.span("think"):
            await asyncio.sleep(0)
        return question.upper()


def test_object_with_async_call_is_traced_as_async() -> None:
    planner = vaquero.trace(agent_name="planner")(Planner())
    assert isinstance(planner, Planner) and planner.model == "small"
    assert inspect.iscoroutinefunction(planner.__call__)
    with capture_spans() as spans:
        assert asyncio.run(planner("why")) == "WHY"
    call = spans.one("Planner")
    assert spans.one("think").parent is call
    assert call.end_ns >= spans.one("think").end_ns
    assert call.agent == "planner"


@pytest.mark.parametrize("fails", [False, True])
def test_sync_callable_returning_a_coroutine_keeps_its_span_until_the_work_ends(
    fails: bool,
) -> None:
    async def fetch() -> int:
        await asyncio.sleep(0)
        with vaquero.span("io"):
            await asyncio.sleep(0)
        if fails:
            raise Boom("remote")
        return 7

    @vaquero.trace
    def handler() -> Any:
        return fetch()  # an async wrapper that is not ``async def`` itself

    assert not inspect.iscoroutinefunction(handler)

    async def main() -> int:
        with vaquero.span("request") as request:
            pending = handler()
            assert vaquero.current_span().span_id == request.span_id
            return await asyncio.create_task(pending)

    with capture_spans() as spans:
        if fails:
            with pytest.raises(Boom):
                asyncio.run(main())
        else:
            assert asyncio.run(main()) == 7
    call = spans.one("handler")
    assert call.parent is spans.one("request")
    assert spans.one("io").parent is call
    assert call.end_ns >= spans.one("io").end_ns
    assert call.status == ("ERROR" if fails else "UNSET")


def _plain(x: int) -> int:
    return x + 1


async def _coro(x: int) -> int:
    return x + 1


DECORATIONS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.sampled_from(["a", "b"]),
            "agent_name": st.sampled_from(["agent_a", "agent_b"]),
            "capture_args": st.booleans(),
        },
    ),
    min_size=2,
    max_size=4,
)


@settings(max_examples=40, deadline=None)
@given(decorations=DECORATIONS, is_async=st.booleans())
def test_tracing_a_traced_function_records_one_span(
    decorations: list[dict[str, Any]], is_async: bool
) -> None:
    func: Any = _coro if is_async else _plain
    for options in decorations:
        func = vaquero.trace(**options)(func)
    assert inspect.iscoroutinefunction(func) is is_async
    with capture_spans() as spans:
        result = asyncio.run(func(1)) if is_async else func(1)
    assert result == 2
    assert len(spans) == 1
    innermost_name = next((d["name"] for d in decorations if "name" in d), None)
    assert spans.spans[0].name == (innermost_name or ("_coro" if is_async else "_plain"))


def test_one_span_object_shared_by_threads_gives_each_entry_its_own_span() -> None:
    shared = vaquero.span("shared")
    both_inside = threading.Barrier(2, timeout=30)
    first_entered = threading.Event()
    handles: dict[str, str] = {}

    def worker(label: str) -> None:
        if label == "second":
            first_entered.wait(30)
        with shared as handle:
            first_entered.set()
            both_inside.wait()
            with vaquero.span(f"child_{label}"):
                pass
            handles[label] = handle.span_id
            if label == "first":
                both_inside.wait()  # the second thread leaves first

        if label == "second":
            both_inside.wait()

    with capture_spans() as spans:
        threads = [threading.Thread(target=worker, args=(label,)) for label in ("first", "second")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert len({s.span_id for s in spans.named("shared")}) == 2
    for label, span_id in handles.items():
        child = spans.one(f"child_{label}")
        assert child.parent is not None and child.parent.span_id == span_id
