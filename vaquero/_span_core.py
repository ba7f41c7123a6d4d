"""Opening and closing spans: the primitives ``vaquero.span()`` and ``@vaquero.trace`` share.

Both paths start a span, make it current, and at the end record errors the same way; this
module is that one way, below both (``vaquero._spans`` builds the handle and the context
manager on it, ``vaquero._decorators`` the wrappers). It calls ``start_span`` and
``attach`` directly rather than the SDK's generator-based ``start_as_current_span``: that
saves a generator, a nested context manager and two frames per span.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from vaquero._agent import AGENT_CONTEXT_KEY, AGENT_NAME, INVOKE_AGENT, OPERATION_NAME
from vaquero._attributes import to_attribute_value
from vaquero._bounded_json import type_name
from vaquero._exceptions import exception_message, record_exception

logger = logging.getLogger("vaquero")

CANCELLED = "vaquero.cancelled"
INTERRUPTED = "vaquero.interrupted"

_set_span_in_context = trace.set_span_in_context
_set_value = otel_context.set_value
_ERROR = StatusCode.ERROR


def _context_operations() -> tuple[Callable[[], Any], Callable[[Any], Any], Callable[[Any], Any]]:
    """get/attach/detach of the current Context, as direct ContextVar calls when possible.

    OpenTelemetry's default runtime context is a thin wrapper over one ``ContextVar``; each
    of its functions costs two Python calls around a C one, six per span. When that default
    is in use, vaquero calls the ContextVar itself; any other runtime context (selected by
    ``OTEL_PYTHON_CONTEXT``) goes through the API as usual.
    """
    from contextvars import ContextVar

    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if type(runtime) is ContextVarsRuntimeContext and isinstance(variable, ContextVar):
        return variable.get, variable.set, variable.reset
    return otel_context.get_current, otel_context.attach, otel_context.detach


_get_current, _attach, _detach = _context_operations()


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
        span = tracer.start_span(name, parent, kind, attributes, links)
        context = _set_span_in_context(span, parent)
        if agent_name is not None:
            context = _set_value(AGENT_CONTEXT_KEY, agent_name, context)
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


def mark_exception(span: Any, exc: BaseException, recorded: object = None) -> None:
    """Cancellation and interpreter exit are not failures: mark them, do not mark ERROR."""
    if isinstance(exc, asyncio.CancelledError):
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


_warned_internal = False


def internal_error(what: str) -> None:
    """One log line for a vaquero fault, so a broken exporter cannot flood the host's logs."""
    global _warned_internal
    if not _warned_internal:
        _warned_internal = True
        logger.warning("vaquero: internal error while %s; tracing continues.", what, exc_info=True)
