"""``vaquero.span()``: one class that is a sync and async context manager, a decorator and the
handle users hold.

A plain class (not a generator-based context manager) so entering and leaving a span costs
two method calls; the span itself is opened and closed by :mod:`vaquero._span_core`, the
same code ``@vaquero.trace`` uses, so both record errors identically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from vaquero._agent import agent_of_span, enter_agent
from vaquero._attributes import INT64_MAX as _INT64_MAX
from vaquero._attributes import INT64_MIN as _INT64_MIN
from vaquero._attributes import normalize_attributes, to_attribute_key, to_attribute_value
from vaquero._decorators import wrap_callable
from vaquero._diagnostics import internal_error
from vaquero._exceptions import record_exception
from vaquero._genai import Role, role_from_options
from vaquero._otel_compat import set_scalar_attribute
from vaquero._pipeline import install as _setup
from vaquero._semconv import CONVERSATION_ID
from vaquero._span_core import close_span, open_span, role_attributes
from vaquero._state import STATE

F = TypeVar("F", bound=Callable[..., Any])

_set_span_in_context = trace.set_span_in_context
_ERROR = StatusCode.ERROR


def resolve_parent(parent: Any) -> otel_context.Context | None:
    """A carrier dict, a Context, a vaquero/OTel span or a SpanContext -> a parent Context."""
    if parent is None:
        return None
    if isinstance(parent, otel_context.Context):
        return parent
    if isinstance(parent, Span):
        return _span_context(parent.otel_span)
    if isinstance(parent, trace.Span):
        return _span_context(parent)
    if isinstance(parent, trace.SpanContext):
        return _set_span_in_context(trace.NonRecordingSpan(parent), otel_context.Context())
    if isinstance(parent, Mapping):
        return extract(parent, otel_context.Context())
    raise TypeError(
        f"vaquero.span(parent={type(parent).__name__}): expected a carrier dict from "
        "vaquero.inject(), a Context, or a span."
    )


def _span_context(span: trace.Span) -> otel_context.Context:
    """A Context whose current span is ``span``, carrying the agent ``span`` carries.

    A handle used as ``parent=`` after its ``with`` block has left the context its agent
    lived in; the span's own attribute still names it.
    """
    context = _set_span_in_context(span, otel_context.Context())
    agent = agent_of_span(span)
    return context if agent is None else enter_agent(context, agent)


def resolve_links(links: Iterable[Any] | None) -> list[Link] | None:
    """Each item may be anything :func:`resolve_parent` accepts, or an OTel ``Link``."""
    if not links:
        return None
    resolved = []
    for item in links:
        if isinstance(item, Link):
            resolved.append(item)
            continue
        parent = resolve_parent(item)
        span_context = trace.get_current_span(parent).get_span_context()
        if span_context.is_valid:
            resolved.append(Link(span_context))
    return resolved


class Span:
    """The handle users hold (``with vaquero.span(...) as span``, ``vaquero.current_span()``).

    Every method accepts any value and never raises: a value the wire cannot carry is
    converted (see :mod:`vaquero._attributes`), a fault inside vaquero is contained.
    """

    __slots__ = ("_recorded", "_span")

    def __init__(self, span: Any) -> None:
        self._span = span
        self._recorded: object = None

    @property
    def otel_span(self) -> trace.Span:
        """The underlying OpenTelemetry span, for APIs that want one."""
        return self._span  # type: ignore[no-any-return]

    @property
    def trace_id(self) -> str:
        """The trace id as 32 lowercase hex digits (all zeros for a non-recording span)."""
        return format(self._span.get_span_context().trace_id, "032x")

    @property
    def span_id(self) -> str:
        """The span id as 16 lowercase hex digits (all zeros for a non-recording span)."""
        return format(self._span.get_span_context().span_id, "016x")

    def is_recording(self) -> bool:
        """True while the span records (False when disabled, sampled out or ended)."""
        try:
            return bool(self._span.is_recording())
        except Exception:
            return False

    def set_attribute(self, key: Any, value: Any) -> None:
        """Set one attribute; any key and value are accepted (see :mod:`vaquero._attributes`).

        The hot path of every workflow: valid scalars skip conversion and go straight into
        the SDK's attribute store (:func:`vaquero._otel_compat.set_scalar_attribute`).
        """
        try:
            if type(key) is not str or not key:
                key = to_attribute_key(key)
            kind = type(value)
            scalar = (
                kind is bool
                or (kind is str and len(value) <= STATE.max_attribute_length)
                or (kind is int and _INT64_MIN <= value <= _INT64_MAX)
                or (kind is float and value - value == 0.0)  # finite: inf and NaN give NaN
            )
            if not scalar:
                value = to_attribute_value(value)
            if not (scalar and set_scalar_attribute(self._span, key, value)):
                self._span.set_attribute(key, value)
        except Exception:
            internal_error("setting an attribute")

    def set_attributes(self, attributes: Mapping[Any, Any] | None = None, **attrs: Any) -> None:
        """Set several attributes at once, from ``attributes`` and keyword arguments.

        Args:
            attributes: a mapping of keys to values; any key and value are accepted.
            **attrs: more attributes; they win over ``attributes`` on the same key.
        """
        try:
            converted = normalize_attributes(attributes)
            if attrs:
                converted.update(normalize_attributes(attrs))
            if converted:
                self._span.set_attributes(converted)
        except Exception:
            internal_error("setting attributes")

    def add_event(
        self, name: str, attributes: Mapping[Any, Any] | None = None, **attrs: Any
    ) -> None:
        """Add a timestamped event, e.g. a retry or a tool result, to the span.

        Args:
            name: the event name (converted to a string).
            attributes: the event's attributes; any key and value are accepted.
            **attrs: more attributes; they win over ``attributes`` on the same key.
        """
        try:
            converted = normalize_attributes(attributes)
            if attrs:
                converted.update(normalize_attributes(attrs))
            self._span.add_event(str(name), converted or None)
        except Exception:
            internal_error("adding an event")

    def record_exception(
        self, exception: BaseException, attributes: Mapping[Any, Any] | None = None
    ) -> None:
        """Record ``exception`` as an ``exception`` event on this span.

        Args:
            exception: the exception handled (an exception whose ``__str__`` raises is
                recorded too); if it then leaves the span, it is not recorded a second time.
            attributes: extra event attributes, any values (converted like attributes).
        """
        try:
            extra = normalize_attributes(attributes) or None
            if isinstance(exception, BaseException):
                record_exception(self._span, exception, False, extra)
            else:  # not an exception: let the SDK say so, as it always did
                self._span.record_exception(exception, extra)
            self._recorded = exception
        except Exception:
            internal_error("recording an exception")

    def set_status(self, status: Any, description: str | None = None) -> None:
        """Set the span's status; an escaping exception sets ERROR by itself.

        Args:
            status: ``"ok"``, ``"error"``, ``"unset"`` (any case), a ``StatusCode`` or a
                ``Status``.
            description: why, kept only with ERROR (as OpenTelemetry specifies).
        """
        try:
            if isinstance(status, Status):
                self._span.set_status(status)
                return
            if isinstance(status, str):
                status = StatusCode[status.strip().upper()]
            text = None if description is None else str(description)
            self._span.set_status(Status(status, text if status is _ERROR else None))
        except Exception:
            internal_error("setting a status")

    def update_name(self, name: str) -> None:
        """Rename the span (for a name known only once the work has started)."""
        try:
            self._span.update_name(str(name))
        except Exception:
            internal_error("renaming a span")

    def __repr__(self) -> str:
        try:
            name = getattr(self._span, "name", "?")
            return f"<vaquero.Span {name!r} trace_id={self.trace_id} span_id={self.span_id}>"
        except Exception:
            return "<vaquero.Span>"


class _NoopSpan(Span):
    """Returned when ``OTEL_SDK_DISABLED=true``: every call is a bare method call."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(trace.INVALID_SPAN)

    def __enter__(self) -> _NoopSpan:
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        # three named parameters, not *exc_info: no tuple is packed on every disabled span
        return None

    async def __aenter__(self) -> _NoopSpan:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def set_attribute(self, key: Any, value: Any) -> None:
        return None

    def set_attributes(self, attributes: Mapping[Any, Any] | None = None, **attrs: Any) -> None:
        return None

    def add_event(
        self, name: str, attributes: Mapping[Any, Any] | None = None, **attrs: Any
    ) -> None:
        return None

    def record_exception(
        self, exception: BaseException, attributes: Mapping[Any, Any] | None = None
    ) -> None:
        """Nothing is recorded, and nothing kept: the one shared handle must not pin the
        last exception (and every frame of its traceback) for the life of the process."""
        return None

    def set_status(self, status: Any, description: str | None = None) -> None:
        return None

    def update_name(self, name: str) -> None:
        return None

    def __call__(self, func: F) -> F:
        return func


NOOP_SPAN = _NoopSpan()


# The rarely used options of a SpanScope: parent, links, kind, role, conversation id.
_Extra = tuple[Any, "Iterable[Any] | None", SpanKind, "Role | None", "str | None"]


class SpanScope(Span):
    """What ``vaquero.span(...)`` returns: enter it (sync or async), or decorate with it.

    The rarely used options (parent, links, kind, agent) travel together in ``_extra`` so the
    common ``with vaquero.span("step"):`` pays for four fewer stores and reads.

    One object may be entered again while open: by two asyncio tasks sharing it, or nested
    in itself. Each entry is its own span. The first entry lives in this object (the fast
    path); later ones each get a scope of their own in ``_others``, returned by ``__enter__``
    so ``as s`` names the right span. At exit, the entry leaving is the one whose span is
    current in the exiting context (``with`` blocks nest per task and per thread).
    Threads sharing one object work the same way: the slot is checked and claimed with no
    call in between, which CPython's GIL does not interrupt. On a free-threaded build, give
    each thread its own ``vaquero.span(...)``.
    """

    __slots__ = ("_attrs", "_extra", "_name", "_others", "_token")

    def __init__(
        self,
        name: str,
        attributes: Mapping[Any, Any] | None,
        extra: _Extra | None = None,
    ) -> None:
        self._span = trace.INVALID_SPAN
        self._recorded = None
        self._name = name if type(name) is str else str(name)
        self._attrs = attributes
        self._extra = extra
        self._token: object = None
        self._others: list[SpanScope] | None = None

    def __enter__(self) -> Span:
        tracer = STATE.tracer  # set once configured; get_tracer() configures lazily
        if tracer is None:
            tracer = _setup.get_tracer()
            if tracer is None:
                return NOOP_SPAN
        if self._extra is not None:
            return self._enter_with_options(tracer, self._extra)
        attrs = self._attrs
        attributes = None
        if attrs:
            try:
                attributes = normalize_attributes(attrs)
            except Exception:
                internal_error("preparing a span")
        span, token = open_span(tracer, self._name, attributes, None)
        if self._token is None:  # checked after opening: no call between check and store
            self._span, self._token = span, token
            return self
        return self._keep_another(span, token)

    def _keep_another(self, span: Any, token: object) -> Span:
        """A second entry while the first is open: a span of its own, never a lost one."""
        other = SpanScope(self._name, self._attrs, self._extra)
        other._span, other._token = span, token
        if self._others is None:
            self._others = []
        self._others.append(other)
        return other

    def _enter_with_options(
        self, tracer: trace.Tracer, extra: _Extra
    ) -> Span:
        parent_arg, links_arg, kind, role, conversation = extra
        try:
            attributes = normalize_attributes(self._attrs) if self._attrs else None
            attributes = role_attributes(role, attributes)
            if conversation is not None:
                attributes = {**(attributes or {}), CONVERSATION_ID: conversation}
            parent = resolve_parent(parent_arg) if parent_arg is not None else None
            links = resolve_links(links_arg) if links_arg is not None else None
        except Exception:
            internal_error("preparing a span")
            attributes = parent = links = None
        span, token = open_span(
            tracer, self._name, attributes, role, parent, links, kind, conversation
        )
        if self._token is None:
            self._span, self._token = span, token
            return self
        return self._keep_another(span, token)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._others:
            self._exit_one_of_many(exc)
            return
        close_span(self._span, self._token, exc, self._recorded)
        self._token = None
        self._recorded = None  # the exception and its frames are not ours to keep alive

    def _exit_one_of_many(self, exc: BaseException | None) -> None:
        others = self._others
        assert others is not None
        try:
            current = trace.get_current_span()
        except Exception:
            current = None
        if self._token is not None and current is self._span:
            close_span(self._span, self._token, exc, self._recorded)
            self._token = None
            self._recorded = None
            return
        for index, other in enumerate(others):
            if other._span is current:
                del others[index]
                other.__exit__(None, exc, None)
                return
        # The context no longer says which entry is leaving (someone attached a context and
        # never detached it): end the latest entry, so every span still ends exactly once.
        if others:
            others.pop().__exit__(None, exc, None)
        elif self._token is not None:
            close_span(self._span, self._token, exc, self._recorded)
            self._token = None
            self._recorded = None

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        """``@vaquero.span("name")``: a new span around every call of ``func``.

        Args:
            func: anything ``@vaquero.trace`` accepts (a function of any kind, a partial,
                a callable object).

        Returns:
            The traced object, of the same kind as ``func``.

        Raises:
            TypeError: the span was given a ``conversation_id``: a conversation is one
                block's (``with vaquero.span(..., conversation_id=...)``), not every call's.
        """
        if self._extra is not None and self._extra[4] is not None:
            raise TypeError(
                "vaquero.span(conversation_id=...) cannot decorate a function: one id would "
                "be every call's conversation. Open `with vaquero.span(name, "
                "conversation_id=...)` where the conversation is known."
            )
        role = self._extra[3] if self._extra is not None else None
        named: dict[str, Any] = {} if role is None else {f"{role.kind}_name": role.name}
        traced: F = wrap_callable(func, name=self._name, attributes=self._attrs, **named)
        return traced


def span(
    name: str,
    attributes: Mapping[Any, Any] | None = None,
    *,
    parent: Any = None,
    links: Iterable[Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    agent_name: str | None = None,
    workflow_name: str | None = None,
    tool_name: str | None = None,
    conversation_id: str | None = None,
    **attrs: Any,
) -> SpanScope:
    """A span around a block (``with`` / ``async with``) or a function (as a decorator).

    The object returned may be entered more than once at the same time (by several asyncio
    tasks, or nested in itself): each entry is a span of its own, and ``as`` names it.

    Args:
        name: the span name; keep it low-cardinality (ids belong in attributes).
        attributes: attributes for the span; any value is accepted and converted (see
            :mod:`vaquero._attributes`).
        parent: continue a trace: a carrier dict written by :func:`vaquero.inject`, an
            OpenTelemetry ``Context``, a vaquero or OpenTelemetry span, or a ``SpanContext``.
        links: spans this one relates to without being their child (e.g. a consumer and
            its producers); each item is anything ``parent`` accepts, or an OTel ``Link``.
        kind: the OpenTelemetry span kind (``SpanKind.INTERNAL`` by default).
        agent_name: the agent this block runs as (an ``invoke_agent`` span); spans opened
            inside inherit it.
        workflow_name: the workflow this block runs (an ``invoke_workflow`` span).
        tool_name: the tool this block executes (an ``execute_tool`` span). At most one of
            the three names; nest the blocks instead.
        conversation_id: ``gen_ai.conversation.id`` for this span and every span opened
            inside it, other libraries' included; it travels to other services as W3C
            baggage unless ``propagate_agent`` is off.
        **attrs: more attributes; they win over ``attributes`` on the same key.

    Returns:
        A :class:`SpanScope`: a sync and async context manager whose ``__enter__`` gives the
        :class:`Span` handle, and a decorator tracing each call of a function. With tracing
        disabled, a shared no-op handle that records nothing.

    Raises:
        TypeError: more than one of ``agent_name``, ``workflow_name`` and ``tool_name``, or
            one that is not a non-empty string. Otherwise nothing at creation; a ``parent``
            of an unsupported type is reported when the span is
        entered, and the span then starts a new trace.
    """
    if STATE.disabled:
        return NOOP_SPAN  # type: ignore[return-value]
    if attrs:
        attributes = {**attributes, **attrs} if attributes else attrs
    conversation = None if conversation_id is None else to_attribute_key(conversation_id)
    if agent_name is None and workflow_name is None and tool_name is None:
        if (parent is None and links is None and kind is SpanKind.INTERNAL
                and conversation is None):
            return SpanScope(name, attributes)
        return SpanScope(name, attributes, (parent, links, kind, None, conversation))
    role = role_from_options(agent_name, workflow_name, tool_name, "vaquero.span")
    return SpanScope(name, attributes, (parent, links, kind, role, conversation))


def current_span() -> Span:
    """A handle on the current span (a non-recording one when there is none)."""
    return Span(trace.get_current_span())


def set_attribute(key: Any, value: Any) -> None:
    """Set an attribute on the current span; a no-op outside any span. Never raises.

    Args:
        key: the attribute name (converted to text if it is not a string).
        value: any value; converted like :meth:`Span.set_attribute` converts it.
    """
    Span(trace.get_current_span()).set_attribute(key, value)
