"""One span per call: a wrapper of the same kind as the function it wraps.

Each kind of function gets a wrapper of the same kind, so ``inspect.iscoroutinefunction``
and friends keep answering truthfully and frameworks that dispatch on them keep working.
Which *object* to wrap (a partial's function, a click command's callback, a context
manager's generator) is decided one level up, in :mod:`vaquero._decorators`.

Generators are the subtle case, because a generator is used in two opposite ways:

* **iterated**: a span that is *current* while the generator is suspended would leak into
  the caller's code between ``next()`` calls, and detaching a token from a different
  context logs "Failed to detach context". So an iterated generator runs its body in a
  private copy of the context (like an asyncio task does): the span is current inside the
  generator for its whole iteration, and never outside it.
* **driven by** ``@contextmanager`` / ``@asynccontextmanager``: here the caller's ``with``
  body is *meant* to run between the two halves of the generator, seeing the ContextVars
  the generator set before ``yield`` and the span as its parent. So the body runs in the
  caller's context and the span is current for the whole ``with`` block. A generator is
  known to be driven this way either at decoration (``@vaquero.trace`` above
  ``@contextmanager``) or when contextlib's ``__enter__`` / ``__aenter__`` is what starts
  it (``@contextmanager`` above ``@vaquero.trace``): one frame look-up per generator.

With tracing disabled, every wrapper still forwards ``send``/``throw``/``close`` (and the
async ``asend``/``athrow``/``aclose``) exactly: switching tracing off must not change what
the program does.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import sys
import types
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from typing import Any, TypeVar

from vaquero._attributes import normalize_attributes, to_attribute_value
from vaquero._bounded_json import encode, max_length
from vaquero._genai import TOOL, Role, role_from_options
from vaquero._pipeline import install as _setup
from vaquero._semconv import ARG_PREFIX, RESULT, TOOL_CALL_ARGUMENTS, TOOL_CALL_RESULT
from vaquero._span_core import close_span, hand_over, open_span, resume
from vaquero._state import STATE

T = TypeVar("T")

_COROUTINE = types.CoroutineType

TRACED_MARK = "__vaquero_traced__"


def _contextlib_entry_codes() -> tuple[Any, Any]:
    """The code objects of contextlib's ``__enter__`` and ``__aenter__``, or None each.

    A generator whose first step is called from one of these is being used as a context
    manager, whichever order the decorators were written in.
    """
    sync_entry = getattr(getattr(contextlib, "_GeneratorContextManager", None), "__enter__", None)
    async_entry = getattr(
        getattr(contextlib, "_AsyncGeneratorContextManager", None), "__aenter__", None
    )
    return getattr(sync_entry, "__code__", None), getattr(async_entry, "__code__", None)


_CM_ENTER_CODE, _ACM_ENTER_CODE = _contextlib_entry_codes()
_getframe: Callable[[int], types.FrameType] | None = getattr(sys, "_getframe", None)


def _caller_code() -> Any:
    """The code of the frame that resumed the generator calling this (None if unknown)."""
    if _getframe is None:
        return None
    try:
        frame = _getframe(2)
    except ValueError:
        return None
    return frame.f_code


@dataclass(frozen=True)
class Spec:
    """Everything a wrapper needs, computed once at decoration time, not per call."""

    name: str
    attributes: dict[str, Any] | None
    role: Role | None
    signature: inspect.Signature | None
    skip_first: bool
    capture_result: bool | None
    # A tool span: content goes to gen_ai.tool.call.arguments / .result, and capture not
    # decided by an argument (None) follows STATE.capture_content.
    tool: bool = False
    capture_args: bool | None = False

    def call_attributes(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The span's attributes for one call: the static ones plus captured arguments."""
        if self.signature is None:
            return self.attributes
        if self.capture_args is None and not STATE.capture_content:
            return self.attributes
        attributes = dict(self.attributes or {})
        try:
            bound = self.signature.bind_partial(*args, **kwargs)
        except TypeError:
            return attributes  # the call itself will raise the user's TypeError
        items = list(bound.arguments.items())[1 if self.skip_first else 0:]
        if self.tool:
            attributes[TOOL_CALL_ARGUMENTS] = encode(dict(items), max_length())
            return attributes
        for param, value in items:
            attributes[ARG_PREFIX + param] = to_attribute_value(value)
        return attributes


def span_name(func: Any) -> str:
    """The qualified name without ``<locals>`` noise: low-cardinality and readable."""
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or "call"
    return str(qualname).rsplit("<locals>.", 1)[-1]


def make_spec(
    func: Callable[..., Any],
    name: str | None = None,
    attributes: Mapping[Any, Any] | None = None,
    agent_name: str | None = None,
    capture_args: bool | None = None,
    capture_result: bool | None = None,
    in_class: bool = False,
    workflow_name: str | None = None,
    tool_name: str | None = None,
) -> Spec:
    """Validate and convert the options once, so a call pays only for what it records.

    ``capture_args`` / ``capture_result`` None means "not said": off, except on a tool span,
    where ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` decides at call time.
    """
    static = normalize_attributes(attributes)
    role = role_from_options(agent_name, workflow_name, tool_name, "vaquero.trace")
    if role is not None:
        static = {**role.start_attributes, **static}
    tool = role is not None and role.kind == TOOL
    if not tool:
        capture_args, capture_result = bool(capture_args), bool(capture_result)
    signature = None
    skip_first = False
    if capture_args is not False:
        try:
            signature = inspect.signature(func)
            params = list(signature.parameters)
            skip_first = bool(params) and (in_class or params[0] in ("self", "cls"))
        except (TypeError, ValueError):
            signature = None
    return Spec(
        name=name or span_name(func),
        attributes=static or None,
        role=role,
        signature=signature,
        skip_first=skip_first,
        capture_result=capture_result,
        tool=tool,
        capture_args=capture_args,
    )


def wrap_function(func: Callable[..., Any], spec: Spec, context_manager: bool = False) -> Any:
    """A wrapper of the same kind as ``func`` (function, coroutine, generator, async gen).

    ``context_manager`` says ``func`` is the generator behind ``@contextmanager`` /
    ``@asynccontextmanager``: its body then shares the caller's context (module docstring).
    """
    if inspect.isasyncgenfunction(func):
        return _wrap_async_generator(func, spec, context_manager)
    if inspect.isgeneratorfunction(func):
        return _wrap_generator(func, spec, context_manager)
    if inspect.iscoroutinefunction(func):
        return _wrap_coroutine(func, spec)
    return _wrap_plain(func, spec)


def _succeeded(span: Any, token: Any, spec: Spec, result: Any) -> None:
    """End the span of a call that returned ``result`` (recorded when the spec asks): the
    one success path of every kind of wrapper below."""
    capture = spec.capture_result
    if capture is None:
        capture = STATE.capture_content
    if capture:
        if spec.tool:
            span.set_attribute(TOOL_CALL_RESULT, encode(result, max_length()))
        else:
            span.set_attribute(RESULT, to_attribute_value(result))
    close_span(span, token, None)


def _wrap_plain(func: Callable[..., T], spec: Spec) -> Callable[..., T]:
    get_tracer = _setup.get_tracer

    @functools.wraps(func)
    def traced(*args: Any, **kwargs: Any) -> T:
        tracer = get_tracer()
        if tracer is None:
            return func(*args, **kwargs)
        span, token = open_span(
            tracer, spec.name, spec.call_attributes(args, kwargs), spec.role
        )
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            close_span(span, token, exc)
            raise
        if type(result) is _COROUTINE:
            # A sync callable whose work is a coroutine (an undecorated async wrapper, a
            # ``def`` returning ``fetch()``): the span lasts until the coroutine finishes.
            later: Any = _finish_when_awaited(result, span, hand_over(token), spec)
            return later  # type: ignore[no-any-return]
        _succeeded(span, token, spec, result)
        return result

    return traced


async def _finish_when_awaited(work: Any, span: Any, context: Any, spec: Spec) -> Any:
    """Await ``work`` inside the span ``context`` names, then end the span as usual."""
    token = resume(context)
    try:
        result = await work
    except BaseException as exc:
        close_span(span, token, exc)
        raise
    _succeeded(span, token, spec, result)
    return result


def _wrap_coroutine(
    func: Callable[..., Coroutine[Any, Any, T]], spec: Spec
) -> Callable[..., Coroutine[Any, Any, T]]:
    get_tracer = _setup.get_tracer

    @functools.wraps(func)
    async def traced(*args: Any, **kwargs: Any) -> T:
        tracer = get_tracer()
        if tracer is None:
            return await func(*args, **kwargs)
        span, token = open_span(
            tracer, spec.name, spec.call_attributes(args, kwargs), spec.role
        )
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            close_span(span, token, exc)
            raise
        _succeeded(span, token, spec, result)
        return result

    return traced


def _wrap_generator(
    func: Callable[..., Generator[Any, Any, T]], spec: Spec, context_manager: bool
) -> Callable[..., Generator[Any, Any, T]]:
    get_tracer = _setup.get_tracer

    @functools.wraps(func)
    def traced(*args: Any, **kwargs: Any) -> Generator[Any, Any, T]:
        tracer = get_tracer()
        if tracer is None:
            return (yield from func(*args, **kwargs))
        if context_manager or _caller_code() is _CM_ENTER_CODE:
            return (yield from _shared_context_generator(tracer, func, spec, args, kwargs))
        return (yield from _private_context_generator(tracer, func, spec, args, kwargs))

    return traced


def _shared_context_generator(
    tracer: Any, func: Callable[..., Generator[Any, Any, T]], spec: Spec,
    args: tuple[Any, ...], kwargs: dict[str, Any],
) -> Generator[Any, Any, T]:
    """The body runs in the caller's context: the ``with`` block sees what it set."""
    span, token = open_span(
        tracer, spec.name, spec.call_attributes(args, kwargs), spec.role
    )
    try:
        result = yield from func(*args, **kwargs)
    except BaseException as exc:
        close_span(span, token, exc)
        raise
    _succeeded(span, token, spec, result)
    return result


def _private_context_generator(
    tracer: Any, func: Callable[..., Generator[Any, Any, T]], spec: Spec,
    args: tuple[Any, ...], kwargs: dict[str, Any],
) -> Generator[Any, Any, T]:
    """Every step of the body runs in one private copy of the context."""
    inner = func(*args, **kwargs)
    ctx = contextvars.copy_context()
    span, token = ctx.run(
        open_span, tracer, spec.name, spec.call_attributes(args, kwargs), spec.role
    )
    try:
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                item = (
                    ctx.run(inner.send, sent) if thrown is None else ctx.run(inner.throw, thrown)
                )
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
    ctx.run(_succeeded, span, token, spec, result)
    return result


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
    func: Callable[..., AsyncGenerator[Any, Any]], spec: Spec, context_manager: bool
) -> Callable[..., AsyncGenerator[Any, Any]]:
    """``async for`` cannot forward ``asend``/``athrow``, so this relays them by hand.

    One relay serves all three cases: disabled (no span), driven by
    ``@asynccontextmanager`` (span in the caller's context) and iterated (private context).
    """
    get_tracer = _setup.get_tracer

    @functools.wraps(func)
    async def traced(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        shared = context_manager or _caller_code() is _ACM_ENTER_CODE
        inner = func(*args, **kwargs)
        tracer = get_tracer()
        span: Any = None
        token: Any = None
        ctx: contextvars.Context | None = None
        if tracer is not None:
            attributes = spec.call_attributes(args, kwargs)
            if shared:
                span, token = open_span(tracer, spec.name, attributes, spec.role)
            else:
                ctx = contextvars.copy_context()
                span, token = ctx.run(open_span, tracer, spec.name, attributes, spec.role)
        try:
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                step = inner.asend(sent) if thrown is None else inner.athrow(thrown)
                try:
                    item = await (step if ctx is None else _step_in_context(ctx, step))
                except StopAsyncIteration:
                    break
                thrown = None
                try:
                    sent = yield item
                except GeneratorExit:
                    closing = inner.aclose()
                    await (closing if ctx is None else _step_in_context(ctx, closing))
                    raise
                except BaseException as exc:
                    thrown = exc
        except BaseException as exc:
            if span is not None:
                _close_in(ctx, span, token, exc)
            raise
        if span is not None:
            _close_in(ctx, span, token, None)

    return traced


def _close_in(
    ctx: contextvars.Context | None, span: Any, token: Any, exc: BaseException | None
) -> None:
    if ctx is None:
        close_span(span, token, exc)
    else:
        ctx.run(close_span, span, token, exc)


def context_manager_generator(helper: Any) -> tuple[Callable[..., Any], bool] | None:
    """``(generator function, is_async)`` if ``helper`` came from ``@[async]contextmanager``.

    contextlib's decorators return a ``helper`` that shares one code object per decorator and
    keeps the user's generator function as ``__wrapped__``; anything else gives None.
    """
    code = getattr(helper, "__code__", None)
    if code is None:
        return None
    inner = getattr(helper, "__wrapped__", None)
    if code is _SYNC_HELPER_CODE and inspect.isgeneratorfunction(inner):
        return inner, False
    if code is _ASYNC_HELPER_CODE and inspect.isasyncgenfunction(inner):
        return inner, True
    return None


def _helper_codes() -> tuple[Any, Any]:
    def sync_sample() -> Iterator[None]:
        yield

    async def async_sample() -> AsyncIterator[None]:
        yield

    return (
        getattr(contextlib.contextmanager(sync_sample), "__code__", None),
        getattr(contextlib.asynccontextmanager(async_sample), "__code__", None),
    )


_SYNC_HELPER_CODE, _ASYNC_HELPER_CODE = _helper_codes()
