"""``@vaquero.trace``: decide *what* to wrap, so every kind of object keeps its type.

The per-call wrappers live in :mod:`vaquero._wrappers`; this module maps each kind of
object a user may decorate onto them, keeping what the object is:

==============================  ============================================================
object                          traced as
==============================  ============================================================
function, method, builtin       a wrapper of the same kind (sync, async, generator, async gen)
``@[async]contextmanager``      the generator underneath, re-wrapped by contextlib: the span
                                covers the ``with`` block and parents the spans opened in it
class                           each public method traced; the class itself unchanged
staticmethod / classmethod      the same descriptor around a traced function
``functools.partial``           a partial of the traced function (named after the function)
click ``Command`` / ``Group``   its callback traced in place; the command object returned
other callable object           a transparent proxy (``lru_cache``, ``validate_call``, a
                                user's instance): attributes, ``isinstance``, binding as a
                                method, copy and pickle kept; ``async def __call__`` stays
                                async
non-callable descriptor         refused: ``TypeError`` saying to put the decorator below
                                ``@property`` / ``@cached_property`` / ``partialmethod``
already traced                  traced once, with the options of both decorations merged
==============================  ============================================================

Spans are named after what the user wrote: the function, the partial's function, the
command's callback, a decorated function's own name, else the instance's class. A sync
callable that returns a coroutine keeps its span open until that coroutine ends.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast, overload

from vaquero._genai import role_from_options
from vaquero._wrappers import (
    TRACED_MARK,
    context_manager_generator,
    make_spec,
    span_name,
    wrap_function,
)

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_DEFAULTS: dict[str, Any] = {
    "name": None,
    "attributes": None,
    "agent_name": None,
    "workflow_name": None,
    "tool_name": None,
    "capture_args": None,
    "capture_result": None,
}


_ROLE_KEYS = ("agent_name", "workflow_name", "tool_name")


def wrap_callable(func: Any, *, in_class: bool = False, **options: Any) -> Any:
    """Trace one object of any kind (see the module table); ``options`` as for ``trace``."""
    if isinstance(func, (staticmethod, classmethod)):
        inner = wrap_callable(
            func.__func__, in_class=in_class or isinstance(func, classmethod), **options
        )
        return type(func)(inner)
    if inspect.ismethod(func) and _traced_as(func.__func__) is not None:
        return func  # a bound method of a traced function: its calls are spans already
    traced = _traced_as(func)
    if traced is not None:
        # Traced already: trace the original once. The inner (closer) decoration's options
        # win; the outer one fills in what the inner left unset (a class's agent name).
        original, inner_options = traced
        merged = {}
        for key, default in _DEFAULTS.items():
            value = inner_options.get(key, default)
            merged[key] = value if value != default else options.get(key, default)
        if any(inner_options.get(key) is not None for key in _ROLE_KEYS):
            # A span has one role: the inner decoration's (a tool method of an agent class).
            merged.update({key: inner_options.get(key) for key in _ROLE_KEYS})
        return wrap_callable(original, in_class=in_class, **merged)
    wrapped = _wrap_by_kind(func, in_class, options)
    if wrapped is not func:
        _mark(wrapped, func, options)
    return wrapped


def _traced_as(obj: Any) -> tuple[Any, dict[str, Any]] | None:
    """``(original, options)`` if vaquero traced ``obj``, else None."""
    try:
        mark = getattr(obj, TRACED_MARK, None)
    except Exception:
        return None
    if isinstance(mark, tuple) and len(mark) == 2 and mark[0] is not obj:
        return mark
    return None


def _mark(wrapped: Any, original: Any, options: dict[str, Any]) -> None:
    try:
        object.__setattr__(wrapped, TRACED_MARK, (original, options))
    except (AttributeError, TypeError):
        pass


def _wrap_by_kind(obj: Any, in_class: bool, options: dict[str, Any]) -> Any:
    if isinstance(obj, functools.partial):
        named = {**options, "name": options.get("name") or span_name(_partial_target(obj))}
        return type(obj)(wrap_callable(obj.func, **named), *obj.args, **obj.keywords)
    generator = context_manager_generator(obj)
    if generator is not None:
        gen_func, is_async = generator
        spec = make_spec(gen_func, in_class=in_class, **options)
        decorator = contextlib.asynccontextmanager if is_async else contextlib.contextmanager
        return decorator(wrap_function(gen_func, spec, context_manager=True))
    if isinstance(obj, (*_FUNCTION_TYPES, type)):  # a type here: @vaquero.span("x") on it
        return wrap_function(obj, make_spec(obj, in_class=in_class, **options))
    command = _click_command(obj)
    if command is not None:
        if command.callback is not None:
            command.callback = wrap_callable(command.callback, **options)
        return command
    if callable(obj):
        return _traced_instance(obj, options)
    if hasattr(type(obj), "__get__"):  # property, cached_property, partialmethod ...
        kind = type(obj).__name__
        raise TypeError(
            f"vaquero.trace cannot decorate a {kind!r} object, which is not callable itself: "
            f"put @vaquero.trace below @{kind}, directly on the function."
        )
    raise TypeError(
        f"vaquero.trace cannot decorate {type(obj).__name__!r}: expected a function, "
        "a method, a class or a callable object."
    )


# Plain functions and the interpreter's own callables become wrapper functions. Any other
# callable (lru_cache, validate_call, a user's instance) keeps its type behind a proxy.
_FUNCTION_TYPES = (
    types.FunctionType,
    types.MethodType,
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.ClassMethodDescriptorType,
)


def _partial_target(obj: functools.partial[Any]) -> Any:
    """The function at the bottom of nested partials, which is what the user named."""
    func: Any = obj
    while isinstance(func, functools.partial):
        func = func.func
    return func


def _click_command(obj: Any) -> Any:
    """``obj`` if it is a click command (or group), without importing click ourselves."""
    click = sys.modules.get("click")
    command_type = getattr(click, "Command", None)
    if isinstance(command_type, type) and isinstance(obj, command_type):
        return obj
    return None


class _TracedInstance:
    """A callable instance whose calls are spans, in every other way the instance itself.

    A function wrapper would lose the instance's type and attributes; a subclass would have
    to be swapped into the user's object. The proxy forwards attribute reads and writes,
    ``repr``/``str``/``==``/``hash``, and reports the instance's class, so ``isinstance`` and
    ``obj.setting`` keep working. Other protocols (``len``, iteration, operators) are not
    forwarded: ``type(proxy)`` is still this class.
    """

    __slots__ = ("__vaquero_traced__", "__wrapped__", "_vaquero_call")

    def __init__(self, obj: Any, call: Callable[..., Any]) -> None:
        object.__setattr__(self, "__wrapped__", obj)
        object.__setattr__(self, "_vaquero_call", call)

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self.__wrapped__)

    def __getattr__(self, name: str) -> Any:
        if name in _TracedInstance.__slots__:
            raise AttributeError(name)  # not set yet (copy, unpickle): never recurse
        return getattr(self.__wrapped__, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.__wrapped__, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self.__wrapped__, name)

    def __repr__(self) -> str:
        return repr(self.__wrapped__)

    def __str__(self) -> str:
        return str(self.__wrapped__)

    def __eq__(self, other: object) -> bool:
        return bool(self.__wrapped__ == other)

    def __hash__(self) -> int:
        return hash(self.__wrapped__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._vaquero_call(*args, **kwargs)

    # copy and pickle give a traced proxy of a copy of the instance, not a bare instance.
    def _options(self) -> dict[str, Any]:
        mark = getattr(self, TRACED_MARK, None)
        return dict(mark[1]) if isinstance(mark, tuple) else {}

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (retrace, (self.__wrapped__, self._options()))

    def __copy__(self) -> Any:
        return retrace(copy.copy(self.__wrapped__), self._options())

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return retrace(copy.deepcopy(self.__wrapped__, memo), self._options())


class _Binding:
    """For proxies of objects that bind as methods (``@lru_cache`` on a method).

    Only those get ``__get__``: it makes ``inspect.isroutine`` answer True, and frameworks
    (FastAPI's dependency check among them) then stop looking at ``__call__`` to tell an
    async callable from a sync one. The proxy answers as the object it wraps would.
    """

    __slots__ = ()

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        return types.MethodType(cast("Callable[..., Any]", self), instance)


def retrace(obj: Any, options: dict[str, Any]) -> Any:
    """Trace ``obj`` again with ``options``: how a copied or unpickled proxy comes back."""
    return wrap_callable(obj, **options)


class _TracedAsyncInstance(_TracedInstance):
    """The same proxy for an instance with ``async def __call__``: calling it stays async."""

    __slots__ = ()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return await self._vaquero_call(*args, **kwargs)


class _TracedBindingInstance(_Binding, _TracedInstance):
    __slots__ = ()


class _TracedBindingAsyncInstance(_Binding, _TracedAsyncInstance):
    __slots__ = ()


_PROXY_TYPES: dict[tuple[bool, bool], type[_TracedInstance]] = {
    (False, False): _TracedInstance,
    (True, False): _TracedAsyncInstance,
    (False, True): _TracedBindingInstance,
    (True, True): _TracedBindingAsyncInstance,
}


def _traced_instance(obj: Any, options: dict[str, Any]) -> _TracedInstance:
    call = type(obj).__call__
    # What the user wrote: a decorated function (lru_cache, validate_call...) carries its own
    # name; a plain callable instance does not, and is named after its class.
    try:
        own_name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    except Exception:
        own_name = None
    default_name = span_name(obj) if isinstance(own_name, str) else span_name(type(obj))
    named = {**options, "name": options.get("name") or default_name}
    bound = obj.__call__  # its kind (sync or async) is the kind of the wrapper
    try:
        spec = make_spec(obj, **named)  # the signature seen by callers, without ``self``
    except Exception:
        spec = make_spec(bound, **named)
    traced_call = wrap_function(bound, spec)
    is_async = inspect.iscoroutinefunction(call)
    binds = hasattr(type(obj), "__get__")
    return _PROXY_TYPES[is_async, binds](obj, traced_call)


def trace_class(cls: type[T], **options: Any) -> type[T]:
    """Trace each public method defined on ``cls``; the class object itself is unchanged.

    Only names not starting with ``_`` become spans (``ClassName.method``): private helpers
    run inside the public method's span, which is where a reader looks for them. A method
    traced on its own keeps its options; the class's fill in what it left unset.
    """
    for attr, member in list(vars(cls).items()):
        if attr.startswith("_"):
            continue
        if not isinstance(member, (staticmethod, classmethod)) and not inspect.isfunction(member):
            continue
        name = f"{cls.__name__}.{attr}"
        in_class = not isinstance(member, staticmethod)
        setattr(cls, attr, wrap_callable(member, in_class=in_class, **{**options, "name": name}))
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
    capture_args: bool | None = None,
    capture_result: bool | None = None,
    workflow_name: str | None = None,
    tool_name: str | None = None,
) -> Callable[[F], F]: ...


def trace(
    target: Any = None,
    agent_name: str | None = None,
    *,
    name: str | None = None,
    attributes: Mapping[Any, Any] | None = None,
    capture_args: bool | None = None,
    capture_result: bool | None = None,
    workflow_name: str | None = None,
    tool_name: str | None = None,
) -> Any:
    """Record one span per call of a function, or of every public method of a class.

    Usable bare (``@vaquero.trace``), with options (``@vaquero.trace(name="step")``) or with
    an agent name first (``@vaquero.trace("planner")``). The decorated object keeps its
    kind: a coroutine function stays one, a generator's span covers its whole iteration
    (and, under ``@contextmanager``, the whole ``with`` block), a class stays the same class,
    a ``functools.partial`` stays a partial, a click command stays a command, a callable
    object (an ``lru_cache`` function, an instance) keeps its attributes, ``isinstance``
    and method binding, and an ``async def __call__`` stays async. Tracing something twice
    records one span. Exceptions pass through unchanged (and mark the span ERROR); with tracing
    disabled (``OTEL_SDK_DISABLED=true``) the wrapper only forwards the call.

    Args:
        target: the function, method, class or callable object to trace; or a string, taken
            as ``agent_name``; or None to get a decorator back.
        agent_name: the agent this call runs as (``gen_ai.agent.name``); every span opened
            inside inherits it.
        name: the span name; default: the qualified name of what was decorated (the
            function, a partial's function, a command's callback, an instance's class).
        attributes: attributes set on every span; any value is accepted and converted.
        capture_args: record each argument as ``vaquero.arg.<name>`` (``self``/``cls``
            skipped). Values are converted and scrubbed like any attribute. On a tool span
            the arguments go to ``gen_ai.tool.call.arguments`` as one JSON object (bounded,
            still parseable when cut, scrubbed); left unset there, the process default
            ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` decides (``SPAN_ONLY`` /
            ``SPAN_AND_EVENT``: on).
        capture_result: record the return value as ``vaquero.result``
            (``gen_ai.tool.call.result`` on a tool span, with the same default).
        workflow_name: the workflow this call runs (``gen_ai.workflow.name``): an
            ``invoke_workflow`` span, measured by ``gen_ai.invocation.duration``.
        tool_name: the tool this call executes (``gen_ai.tool.name``): an ``execute_tool``
            span, measured by ``gen_ai.execute_tool.duration``. At most one of
            ``agent_name``, ``workflow_name`` and ``tool_name``; nest them instead.

    Returns:
        The traced object when ``target`` is given, else a decorator that traces one.

    Raises:
        TypeError: at decoration, if ``agent_name`` or ``name`` is not a string,
            ``attributes`` is not a mapping, the agent name is given twice, or ``target``
            is not callable (for a ``property``, ``cached_property`` or ``partialmethod``
            the message says to put ``@vaquero.trace`` below it, on the function). Nothing
            is raised at call time by vaquero itself.
    """
    if isinstance(target, str):
        if agent_name is not None:
            raise TypeError(
                "vaquero.trace(): agent name given twice (positionally and by name); "
                "pass it once."
            )
        agent_name, target = target, None
    for label, value in (("agent_name", agent_name), ("name", name),
                         ("workflow_name", workflow_name), ("tool_name", tool_name)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"vaquero.trace({label}={value!r}): expected a string.")
    role_from_options(agent_name, workflow_name, tool_name, "vaquero.trace")
    if attributes is not None and not isinstance(attributes, Mapping):
        raise TypeError(f"vaquero.trace(attributes={attributes!r}): expected a dict.")
    options: dict[str, Any] = {
        "attributes": attributes,
        "agent_name": agent_name,
        "workflow_name": workflow_name,
        "tool_name": tool_name,
        "capture_args": capture_args,
        "capture_result": capture_result,
    }

    def decorate(obj: Any) -> Any:
        if isinstance(obj, type):
            return trace_class(obj, **options)
        return wrap_callable(obj, name=name, **options)

    if target is None:
        return decorate
    return decorate(target)
