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
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from vaquero._agent import (
    AGENT_NAME,
    INVOKE_AGENT,
    OPERATION_NAME,
    AgentNameSpanProcessor,
    enter_agent,
)
from vaquero._attributes import to_attribute_value
from vaquero._bounded_json import type_name
from vaquero._diagnostics import internal_error
from vaquero._exceptions import exception_message, record_exception
from vaquero._otel_compat import context_operations
from vaquero._semconv import CANCELLED, INTERRUPTED
from vaquero._state import STATE

logger = logging.getLogger("vaquero")


_set_span_in_context = trace.set_span_in_context
_set_value = otel_context.set_value
_ERROR = StatusCode.ERROR


_get_current, _attach, _detach = context_operations()


def agent_attributes(agent_name: str) -> dict[str, Any]:
    return {AGENT_NAME: agent_name, OPERATION_NAME: INVOKE_AGENT}


def open_span(
    tracer: trace.Tracer,
    name: str,
    attributes: Mapping[str, Any] | None,
    agent_name: str | None,
    parent: otel_context.Context | None = None,
    links: list[Link] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
) -> tuple[Any, object]:
    """Start a span and make it current; never raises (returns a non-recording span).

    The current context is read once and handed on explicitly: given ``None``, the SDK's
    start_span, its parent-based sampler, every span processor and ``set_span_in_context``
    would each look it up again (five lookups per span instead of one).
    """
    try:
        if parent is None:
            parent = _get_current()
        start = STATE.start_span if tracer is STATE.tracer else None
        if start is None:
            start = tracer.start_span
        span = start(name, parent, kind, attributes, links)
        context = _set_span_in_context(span, parent)
        if agent_name is not None:
            context = enter_agent(context, agent_name)
            AgentNameSpanProcessor.remember_identity(span, agent_name, INVOKE_AGENT)
        return span, _attach(context)
    except Exception:
        internal_error("opening a span")
        return trace.INVALID_SPAN, None


def close_span(
    span: Any, token: Any, exc: BaseException | None, recorded: object = None
) -> None:
    """End ``span``, recording ``exc`` unless the user already recorded that very object.

    Recording and ending are guarded apart: whatever recording the failure does (an
    exception whose ``__str__`` raises), the span is still ended and exported.
    """
    if exc is not None:
        try:
            mark_exception(span, exc, recorded)
        except Exception:
            internal_error("recording an exception")
    try:
        span.end()
    except Exception:
        internal_error("closing a span")
    if token is not None:
        try:
            _detach(token)
        except Exception:
            pass


def hand_over(token: Any) -> Any:
    """Leave the context ``open_span`` attached, returning it for :func:`resume` elsewhere.

    For work that outlives the call that started it (a sync call returning a coroutine):
    the caller's context is restored now, and the span's context is attached again by
    whoever runs the rest of the work.
    """
    try:
        context = _get_current()
        if token is not None:
            _detach(token)
        return context
    except Exception:
        internal_error("handing a span over")
        return None


def resume(context: Any) -> object:
    """Attach a context from :func:`hand_over`; the token goes to :func:`close_span`."""
    if context is None:
        return None
    try:
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
