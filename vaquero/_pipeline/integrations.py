"""Context that follows submitted work: executor tasks, and asyncio when asked for.

What vaquero chose, and why. Work handed to a thread pool (``ThreadPoolExecutor.submit``,
so ``map`` and ``loop.run_in_executor`` too) runs in the *submitter's* OpenTelemetry
context, so it keeps its parent span and agent name with no change to user code; without
this a pool silently starts new traces. The context belongs to the submitted task, not to
the thread: it is attached when the task starts and detached when it ends, so a pool
thread started lazily inside request #0 carries nothing of request #0 into later tasks.

vaquero does *not* propagate context through ``threading.Thread.start`` (what
``opentelemetry-instrumentation-threading`` does process-wide): a long-lived thread that a
library starts inside one request would parent every later job to that request, forever.
A thread you start yourself continues a span when you say so:
``vaquero.span("job", parent=handle)`` or ``parent=vaquero.inject()``. (``asyncio.to_thread``
copies the context by itself.) Installing the threading instrumentation yourself brings its
process-wide behaviour back, and stays compatible with this patch.

asyncio (``opentelemetry-instrumentation-asyncio``): spans for the coroutines named in
``OTEL_PYTHON_ASYNCIO_COROUTINE_NAMES_TO_TRACE`` and friends. With none of those set it
adds nothing visible, so an explicit ``init()`` switches it on, and under
``opentelemetry-instrument`` the loader does (vaquero then leaves it alone, so no
"already instrumented" warning is printed).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from opentelemetry import context as otel_context

from vaquero._state import STATE

logger = logging.getLogger("vaquero")

_lock = threading.Lock()
_PATCH_MARKER = "_vaquero_carries_context"


def enable_executor_context() -> None:
    """Make ``ThreadPoolExecutor.submit`` carry the submitter's context into the task (once)."""
    with _lock:
        original: Callable[..., Future[Any]] = ThreadPoolExecutor.submit
        if getattr(original, _PATCH_MARKER, False):
            return

        @functools.wraps(original)
        def submit(
            self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
        ) -> Future[Any]:
            context = otel_context.get_current()
            if not context:  # nothing to carry: submit as is
                return original(self, fn, *args, **kwargs)
            return original(self, _in_context, context, fn, *args, **kwargs)

        setattr(submit, _PATCH_MARKER, True)
        ThreadPoolExecutor.submit = submit  # type: ignore[method-assign,assignment]


def _in_context(
    context: otel_context.Context, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    token = otel_context.attach(context)
    try:
        return fn(*args, **kwargs)
    finally:
        otel_context.detach(token)


def enable_asyncio() -> None:
    """Switch on the asyncio instrumentation once, unless ``opentelemetry-instrument`` will."""
    with _lock:
        enabled = STATE.enabled_integrations
        if "asyncio" in enabled or STATE.configured_by_instrument:
            return
        enabled.add("asyncio")
    try:
        from opentelemetry.instrumentation.asyncio import AsyncioInstrumentor

        instrumentor = AsyncioInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
    except Exception:
        logger.warning("vaquero: could not enable the asyncio instrumentation.", exc_info=True)
