"""The current Context as direct ContextVar calls, baggage reads, suppression.

Part of :mod:`vaquero._otel_compat` (read its docstring first): private OpenTelemetry
details, each checked before use, each with its public fallback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context

# Set by vaquero._otel_compat.use_public_fallbacks() (tests): every detail off.
_public_only = False


def _baggage_key() -> object:
    try:
        from opentelemetry.baggage import _BAGGAGE_KEY
    except ImportError:
        return None
    return _BAGGAGE_KEY


_BAGGAGE_CONTEXT_KEY = _baggage_key()


def baggage_entries(context: Any) -> Mapping[str, object]:
    """The W3C baggage entries of ``context`` (the current one when None); empty if none.

    The agent processor asks this for every span started outside an agent, so the fast
    path is one dict lookup in the context (almost always a miss) instead of the API's
    three calls; without the private key the public ``baggage.get_all`` does the same.
    """
    if context is None:
        context = otel_context.get_current()
    if _BAGGAGE_CONTEXT_KEY is not None and not _public_only and isinstance(context, dict):
        entries = context.get(_BAGGAGE_CONTEXT_KEY)
        return entries if isinstance(entries, dict) else {}
    from opentelemetry import baggage

    return baggage.get_all(context)


def context_operations() -> tuple[Callable[[], Any], Callable[[Any], Any], Callable[[Any], Any]]:
    """get/attach/detach of the current Context, as direct ContextVar calls when possible.

    OpenTelemetry's default runtime context is a thin wrapper over one ``ContextVar``; each
    of its functions costs two Python calls around a C one, six per span. When that default
    is in use, vaquero calls the ContextVar itself; any other runtime context (selected by
    ``OTEL_PYTHON_CONTEXT``) goes through the API as usual.
    """
    public = (otel_context.get_current, otel_context.attach, otel_context.detach)
    if _public_only:
        return public
    try:
        from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
    except ImportError:
        return public
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if type(runtime) is ContextVarsRuntimeContext and isinstance(variable, ContextVar):
        return variable.get, variable.set, variable.reset
    return public


@contextlib.contextmanager
def suppress_instrumentation() -> Iterator[None]:
    """Run the block with instrumentation suppressed (the export thread's own HTTP/gRPC calls
    must not be traced, or they would feed back into the queue).

    ``opentelemetry.instrumentation.utils.suppress_instrumentation`` sets the context's
    suppression key and its plain-string twin; importing that module also imports wrapt and,
    through it, asyncio (~20-30 ms at start). The same two values are set here directly.
    """
    key = getattr(otel_context, "_SUPPRESS_INSTRUMENTATION_KEY", None)
    if key is None or _public_only:
        from opentelemetry.instrumentation.utils import suppress_instrumentation as public

        with public():
            yield
        return
    context = otel_context.set_value(key, True)
    context = otel_context.set_value("suppress_instrumentation", True, context)
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)
