"""``@vaquero.trace``: one span per call of a function, coroutine, generator, method or class.

Each kind of callable gets a wrapper of the same kind, so ``inspect.iscoroutinefunction``
and friends keep answering truthfully and frameworks that dispatch on them keep working.

Generators are the subtle case. A span that is *current* while a generator is suspended
would leak into the caller's code between ``next()`` calls, and detaching a token from a
different context logs "Failed to detach context". So each traced generator runs its body
in a private copy of the context (like an asyncio task does): the span is current inside
the generator for its whole iteration, and never outside it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import types
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from vaquero._attributes import normalize_attributes, to_attribute_value
from vaquero._pipeline import install as _setup
from vaquero._semconv import ARG_PREFIX, RESULT
from vaquero._span_core import agent_attributes, close_span, open_span

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_TRACED_MARK = "__vaquero_traced__"


@dataclass(frozen=True)
class _Spec:
    """Everything a wrapper needs, computed once at decoration time, not per call."""

    name: str
    attributes: dict[str, Any] | None
    agent_name: str | None
    signature: inspect.Signature | None
    skip_first: bool
    capture_result: bool

    def call_attributes(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.signature is None:
            return self.attributes
        attributes = dict(self.attributes or {})
        try:
            bound = self.signature.bind_partial(*args, **kwargs)
        except TypeError:
            return attributes  # the call itself will raise the user's TypeError
        for index, (param, value) in enumerate(bound.arguments.items()):
            if index == 0 and self.skip_first:
                continue
            attributes[ARG_PREFIX + param] = to_attribute_value(value)
        return attributes


def _span_name(func: Callable[..., Any]) -> str:
    """The qualified name without ``<locals>`` noise: low-cardinality and readable."""
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or "call"
    return str(qualname).rsplit("<locals>.", 1)[-1]


def _make_spec(
    func: Callable[..., Any],
    name: str | None,
    attributes: Mapping[Any, Any] | None,
    agent_name: str | None,
    capture_args: bool,
    capture_result: bool,
    in_class: bool = False,
) -> _Spec:
    static = normalize_attributes(attributes)
    if agent_name is not None:
        static = {**agent_attributes(agent_name), **static}
    signature = None
    skip_first = False
    if capture_args:
        try:
            signature = inspect.signature(func)
            params = list(signature.parameters)
            skip_first = bool(params) and (in_class or params[0] in ("self", "cls"))
        except (TypeError, ValueError):
            signature = None
    return _Spec(
        name=name or _span_name(func),
        attributes=static or None,
        agent_name=agent_name,
        signature=signature,
        skip_first=skip_first,
        capture_result=capture_result,
    )


def wrap_callable(
    func: F,
    *,
    name: str | None = None,
    attributes: Mapping[Any, Any] | None = None,
    agent_name: str | None = None,
    capture_args: bool = False,
    capture_result: bool = False,
    in_class: bool = False,
) -> F:
    """Wrap one function (of any kind) so each call is a span."""
    spec = _make_spec(func, name, attributes, agent_name, capture_args, capture_result, in_class)
    if inspect.isasyncgenfunction(func):
        wrapper: Callable[..., Any] = _wrap_async_generator(func, spec)
    elif inspect.isgeneratorfunction(func):
        wrapper = _wrap_generator(func, spec)
    elif inspect.iscoroutinefunction(func):
        wrapper = _wrap_coroutine(func, spec)
    else:
        wrapper = _wrap_function(func, spec)
    setattr(wrapper, _TRACED_MARK, True)
    return wrapper  # type: ignore[return-value]


def _wrap_function(func: Callable[..., T], spec: _Spec) -> Callable[..., T]:
    get_tracer = _setup.get_tracer

    @functools.wraps(func)
    def traced(*args: Any, **kwargs: Any) -> T:
        tracer = get_tracer()
        if tracer is None:
            return func(*args, **kwargs)
        span, token = open_span(
            tracer, spec.name, spec.call_attributes(args, kwargs), spec.agent_name
        )
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            close_span(span, token, exc)
            raise
        if spec.capture_result:
            span.set_attribute(RESULT, to_attribute_value(result))
        close_span(span, token, None)
        return result

    return traced


def _wrap_coroutine(
    func: Callable[..., Coroutine[Any, Any, T]], spec: _Spec
) -> Callable[..., Coroutine[Any, Any, T]]:
    get_tracer = _setup.get_tracer

    @functools.wraps(func)
    async def traced(*args: Any, **kwargs: Any) -> T:
        tracer = get_tracer()
        if tracer is None:
            return await func(*args, **kwargs)
        span, token = open_span(
            tracer, spec.name, spec.call_attributes(args, kwargs), spec.agent_name
        )
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            close_span(span, token, exc)
            raise
        if spec.capture_result:
            span.set_attribute(RESULT, to_attribute_value(result))
        close_span(span, token, None)
        return result

    return traced


def _wrap_generator(
    func: Callable[..., Generator[Any, Any, T]], spec: _Spec
) -> Callable[..., Generator[Any, Any, T]]:
    get_tracer = _setup.get_tracer

    @functools.wraps(func)
    def traced(*args: Any, **kwargs: Any) -> Generator[Any, Any, T]:
        tracer = get_tracer()
        if tracer is None:
            return (yield from func(*args, **kwargs))
        inner = func(*args, **kwargs)
        ctx = contextvars.copy_context()
        span, token = ctx.run(
            open_span, tracer, spec.name, spec.call_attributes(args, kwargs), spec.agent_name
        )
        try:
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                try:
                    if thrown is None:
                        item = ctx.run(inner.send, sent)
                    else:
                        item = ctx.run(inner.throw, thrown)
                except StopIteration as stop:
                    result: T = stop.value
                    break
                thrown = None
                try:
                    sent = yield item
                except GeneratorExit:
                    ctx.run(inner.close)
                    raise
                except BaseException as exc:
                    thrown = exc
        except BaseException as exc:
            ctx.run(close_span, span, token, exc)
            raise
        if spec.capture_result:
            span.set_attribute(RESULT, to_attribute_value(result))
        ctx.run(close_span, span, token, None)
        return result

    return traced


@types.coroutine
def _step_in_context(ctx: contextvars.Context, awaitable: Any) -> Generator[Any, Any, Any]:
    """Await ``awaitable`` with every step of it run inside ``ctx``.

    This is how an async generator's body gets a private context without a task per
    step: the event loop's futures pass through unchanged, only the frame's context differs.
    """
    send: Any = None
    thrown: BaseException | None = None
    while True:
        try:
            if thrown is None:
                yielded = ctx.run(awaitable.send, send)
            else:
                yielded = ctx.run(awaitable.throw, thrown)
        except StopIteration as stop:
            return stop.value
        thrown = None
        try:
            send = yield yielded
        except BaseException as exc:
            thrown = exc


def _wrap_async_generator(
    func: Callable[..., AsyncGenerator[Any, Any]], spec: _Spec
) -> Callable[..., AsyncGenerator[Any, Any]]:
    get_tracer = _setup.get_tracer

    @functools.wraps(func)
    async def traced(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        tracer = get_tracer()
        inner = func(*args, **kwargs)
        if tracer is None:
            async for item in inner:
                yield item
            return
        ctx = contextvars.copy_context()
        span, token = ctx.run(
            open_span, tracer, spec.name, spec.call_attributes(args, kwargs), spec.agent_name
        )
        try:
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                try:
                    if thrown is None:
                        item = await _step_in_context(ctx, inner.asend(sent))
                    else:
                        item = await _step_in_context(ctx, inner.athrow(thrown))
                except StopAsyncIteration:
                    break
                thrown = None
                try:
                    sent = yield item
                except GeneratorExit:
                    await _step_in_context(ctx, inner.aclose())
                    raise
                except BaseException as exc:
                    thrown = exc
        except BaseException as exc:
            ctx.run(close_span, span, token, exc)
            raise
        ctx.run(close_span, span, token, None)

    return traced


def trace_class(cls: type[T], **options: Any) -> type[T]:
    """Trace each public method defined on ``cls``; the class object itself is unchanged.

    Only names not starting with ``_`` become spans (``ClassName.method``): private helpers
    run inside the public method's span, which is where a reader looks for them.
    """
    for attr, member in list(vars(cls).items()):
        if attr.startswith("_"):
            continue
        name = f"{cls.__name__}.{attr}"
        wrapped: Any
        if isinstance(member, staticmethod):
            if getattr(member.__func__, _TRACED_MARK, False):
                continue
            wrapped = staticmethod(wrap_callable(member.__func__, name=name, **options))
        elif isinstance(member, classmethod):
            if getattr(member.__func__, _TRACED_MARK, False):
                continue
            wrapped = classmethod(
                wrap_callable(member.__func__, name=name, in_class=True, **options)
            )
        elif inspect.isfunction(member):
            if getattr(member, _TRACED_MARK, False):
                continue
            wrapped = wrap_callable(member, name=name, in_class=True, **options)
        else:
            continue
        setattr(cls, attr, wrapped)
    return cls


@overload
def trace(target: F) -> F: ...


@overload
def trace(
    target: str | None = None,
    agent_name: str | None = None,
    *,
    name: str | None = None,
    attributes: Mapping[Any, Any] | None = None,
    capture_args: bool = False,
    capture_result: bool = False,
) -> Callable[[F], F]: ...


def trace(
    target: Any = None,
    agent_name: str | None = None,
    *,
    name: str | None = None,
    attributes: Mapping[Any, Any] | None = None,
    capture_args: bool = False,
    capture_result: bool = False,
) -> Any:
    """Trace a function, coroutine, generator, method or class; see :func:`vaquero.trace`."""
    if isinstance(target, str):
        if agent_name is not None:
            raise TypeError("vaquero.trace(): agent name given twice (positionally and by name).")
        agent_name, target = target, None
    for label, value in (("agent_name", agent_name), ("name", name)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"vaquero.trace({label}={value!r}): expected a string.")
    if attributes is not None and not isinstance(attributes, Mapping):
        raise TypeError(f"vaquero.trace(attributes={attributes!r}): expected a dict.")
    options: dict[str, Any] = {
        "attributes": attributes,
        "agent_name": agent_name,
        "capture_args": capture_args,
        "capture_result": capture_result,
    }

    def decorate(obj: Any) -> Any:
        if isinstance(obj, type):
            return trace_class(obj, **options)
        if isinstance(obj, (staticmethod, classmethod)):
            return type(obj)(wrap_callable(obj.__func__, name=name, **options))
        if not callable(obj):
            raise TypeError(
                f"vaquero.trace cannot decorate {type(obj).__name__!r}: expected a function, "
                "a method or a class."
            )
        return wrap_callable(obj, name=name, **options)

    if target is None:
        return decorate
    return decorate(target)
