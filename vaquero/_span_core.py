"""Opening and closing spans: the primitives ``vaquero.span()`` and ``@vaquero.trace`` share.

Both paths start a span, make it current, and at the end record errors the same way; this
module is that one way, below both (``vaquero._spans`` builds the handle and the context
manager on it, ``vaquero._decorators`` the wrappers). It calls ``start_span`` and
``attach`` directly rather than the SDK's generator-based ``start_as_current_span``: that
saves a generator, a nested context manager and two frames per span.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from time import perf_counter_ns
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from vaquero._agent import (
    AGENT_CONTEXT_KEY,
    INVOKE_AGENT,
    WORKFLOW_CONTEXT_KEY,
    AgentNameSpanProcessor,
    enter_agent,
    enter_conversation,
    enter_workflow,
)
from vaquero._attributes import to_attribute_value
from vaquero._bounded_json import type_name
from vaquero._diagnostics import internal_error
from vaquero._exceptions import exception_message, record_exception
from vaquero._genai import TOOL, Role
from vaquero._metrics import DRAIN_AT
from vaquero._otel_compat import context_operations
from vaquero._semconv import (
    CANCELLED,
    ERROR_TYPE,
    EXECUTE_TOOL,
    INTERRUPTED,
    INVOKE_WORKFLOW,
    OPERATION_NAME,
)
from vaquero._state import STATE

logger = logging.getLogger("vaquero")


_set_span_in_context = trace.set_span_in_context
_set_value = otel_context.set_value
_ERROR = StatusCode.ERROR


_get_current, _attach, _detach = context_operations()


def role_attributes(role: Role | None, attributes: Mapping[str, Any] | None) -> Any:
    """A role's start attributes under the user's (which win on the same key)."""
    if role is None:
        return attributes
    if not attributes:
        return role.start_attributes
    return {**role.start_attributes, **attributes}


class _Run:
    """The token of a GenAI run's span: the context token plus what its measurement needs.

    Callers treat tokens as opaque, so a run travels through them unchanged; only
    :func:`close_span`, :func:`hand_over` and :func:`resume` look inside.
    """

    __slots__ = ("context", "key", "role", "started", "token")

    def __init__(self, token: object, role: Role, key: Any, started: int) -> None:
        self.token = token
        self.role = role
        self.key = key  # is_nested for agent and workflow runs, the calling agent for tools
        self.started = started
        self.context: Any = None


def open_span(
    tracer: trace.Tracer,
    name: str,
    attributes: Mapping[str, Any] | None,
    role: Role | None,
    parent: otel_context.Context | None = None,
    links: list[Link] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    conversation_id: str | None = None,
) -> tuple[Any, object]:
    """Start a span and make it current; never raises (returns a non-recording span).

    The current context is read once and handed on explicitly: given ``None``, the SDK's
    start_span, its parent-based sampler, every span processor and ``set_span_in_context``
    would each look it up again (five lookups per span instead of one). ``attributes``
    already hold the role's start attributes (:func:`role_attributes`).
    """
    try:
        if parent is None:
            parent = _get_current()
        start = STATE.start_span if tracer is STATE.tracer else None
        if start is None:
            start = tracer.start_span
        if role is not None and STATE.spec_span_names:
            name = role.spec_span_name
        span = start(name, parent, kind, attributes, links)
        context = _set_span_in_context(span, parent)
        if conversation_id is not None:
            context = enter_conversation(context, conversation_id)
        if role is None:
            return span, _attach(context)
        return span, _open_run(span, context, parent, role)
    except Exception:
        internal_error("opening a span")
        return trace.INVALID_SPAN, None


def _open_run(span: Any, context: Any, parent: Any, role: Role) -> object:
    """Enter the role's context (agent name, workflow) and start timing its run."""
    if role.kind == TOOL:
        agent = parent.get(AGENT_CONTEXT_KEY)
        key: Any = agent if isinstance(agent, str) else None
    else:
        key = parent.get(AGENT_CONTEXT_KEY) is not None or (
            parent.get(WORKFLOW_CONTEXT_KEY) is not None
        )
        if role.is_agent:
            context = enter_agent(context, role.name)
            AgentNameSpanProcessor.remember_identity(span, role.name, INVOKE_AGENT)
        else:
            context = enter_workflow(context, role.name)
    if STATE.measurements is None:  # nothing measures runs: a plain token, as for any span
        return _attach(context)
    return _Run(_attach(context), role, key, perf_counter_ns())


def close_span(
    span: Any, token: Any, exc: BaseException | None, recorded: object = None
) -> None:
    """End ``span``, recording ``exc`` unless the user already recorded that very object.

    Recording and ending are guarded apart: whatever recording the failure does (an
    exception whose ``__str__`` raises), the span is still ended and exported.
    """
    run = token if type(token) is _Run else None
    error_type = None
    if exc is not None:
        try:
            mark_exception(span, exc, recorded)
            if not isinstance(exc, GeneratorExit) and (run is not None or _is_genai_run(span)):
                error_type = type_name(exc)
                span.set_attribute(ERROR_TYPE, error_type)
        except Exception:
            internal_error("recording an exception")
    try:
        span.end()
    except Exception:
        internal_error("closing a span")
    if run is not None:
        token = run.token
        _measure(span, run, error_type)
    if token is not None:
        try:
            _detach(token)
        except Exception:
            pass


_RUN_OPERATIONS = frozenset((INVOKE_AGENT, INVOKE_WORKFLOW, EXECUTE_TOOL))


def _is_genai_run(span: Any) -> bool:
    """A failing span opened as an agent, workflow or tool run while no metrics measure
    runs (its token is then a plain one): its own ``gen_ai.operation.name`` says so."""
    attributes = getattr(span, "attributes", None)
    if not attributes:
        return False
    return attributes.get(OPERATION_NAME) in _RUN_OPERATIONS


def _measure(span: Any, run: _Run, error_type: str | None) -> None:
    """Leave one duration measurement for the metrics side: the span's own duration when it
    recorded, else (sampled out) the run's clock. Whatever the trace sampling decided."""
    try:
        ended = perf_counter_ns()
        sink = STATE.measurements
        if sink is None:
            return
        start = getattr(span, "start_time", None)
        end = getattr(span, "end_time", None)
        if type(start) is int and type(end) is int:
            seconds = (end - start) / 1e9
        else:
            seconds = (ended - run.started) / 1e9
        sink.append((run.role.slot, seconds, run.role.measurement_attributes(run.key,
                                                                              error_type)))
        runtime = STATE.metrics
        if runtime is not None and (not runtime.bound or len(sink) > DRAIN_AT):
            runtime.kick()
    except Exception:
        internal_error("measuring a run")


def hand_over(token: Any) -> Any:
    """Leave the context ``open_span`` attached, returning it for :func:`resume` elsewhere.

    For work that outlives the call that started it (a sync call returning a coroutine):
    the caller's context is restored now, and the span's context is attached again by
    whoever runs the rest of the work.
    """
    try:
        context = _get_current()
        run = token if type(token) is _Run else None
        if run is not None:
            token, run.token, run.context = run.token, None, context
        if token is not None:
            _detach(token)
        return context if run is None else run
    except Exception:
        internal_error("handing a span over")
        return None


def resume(context: Any) -> object:
    """Attach a context from :func:`hand_over`; the token goes to :func:`close_span`."""
    if context is None:
        return None
    try:
        if type(context) is _Run:
            context.token = _attach(context.context)
            context.context = None
            return context
        return _attach(context)
    except Exception:
        internal_error("resuming a span")
        return None


def mark_exception(span: Any, exc: BaseException, recorded: object = None) -> None:
    """Cancellation and interpreter exit are not failures: mark them, do not mark ERROR."""
    # asyncio is not imported by synchronous programs; without it there is no CancelledError
    aio = sys.modules.get("asyncio")
    if aio is not None and isinstance(exc, aio.CancelledError):
        span.set_attribute(CANCELLED, True)
    elif isinstance(exc, (KeyboardInterrupt, SystemExit)):
        span.set_attribute(INTERRUPTED, type(exc).__name__)
    elif isinstance(exc, GeneratorExit):
        return
    else:
        try:
            if exc is not recorded:
                record_exception(span, exc, escaped=True)
        finally:
            span.set_status(Status(_ERROR, _describe(exc)))


def _describe(exc: BaseException) -> str:
    message = exception_message(exc)
    name = type_name(exc)
    text = f"{name}: {message}" if message else name
    return to_attribute_value(text)  # type: ignore[return-value]
