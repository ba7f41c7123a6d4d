"""Switch on the OpenTelemetry instrumentations vaquero relies on, each at most once.

* threading: ``Thread``, ``Timer`` and ``ThreadPoolExecutor.submit`` (so ``map`` and
  ``loop.run_in_executor``) carry the submitting context, so work handed to a pool keeps
  its parent span and agent name with no change to user code. On at every setup,
  zero-config included: without it a thread pool silently starts new traces. Done by
  :mod:`vaquero._pipeline.thread_context` (the instrumentation's behaviour, without its
  60-90 ms of imports), or by ``opentelemetry-instrumentation-threading`` itself when
  something already loaded it (``opentelemetry-instrument`` does).
* asyncio (``opentelemetry-instrumentation-asyncio``): spans for the coroutines and
  ``to_thread`` functions named in ``OTEL_PYTHON_ASYNCIO_COROUTINE_NAMES_TO_TRACE`` /
  ``OTEL_PYTHON_ASYNCIO_TO_THREAD_FUNCTION_NAMES_TO_TRACE`` and future durations when
  ``OTEL_PYTHON_ASYNCIO_FUTURE_TRACE_ENABLED=true``. With none of those set it adds
  nothing visible, so it is switched on by an explicit ``init()`` and by the distro only.
"""

from __future__ import annotations

import logging
import sys
import threading

from vaquero._state import STATE

logger = logging.getLogger("vaquero")

_lock = threading.Lock()
_THREADING_INSTRUMENTATION = "opentelemetry.instrumentation.threading"


def enable_threading() -> None:
    _enable("threading")


def enable_asyncio() -> None:
    _enable("asyncio")


def _enable(name: str) -> None:
    with _lock:
        enabled = STATE.enabled_integrations
        if name in enabled:
            return
        enabled.add(name)
    try:
        if name == "threading" and _THREADING_INSTRUMENTATION not in sys.modules:
            from vaquero._pipeline import thread_context

            thread_context.install()
            return
        if name == "threading":
            from opentelemetry.instrumentation.threading import ThreadingInstrumentor

            instrumentor = ThreadingInstrumentor()
        else:
            from opentelemetry.instrumentation.asyncio import AsyncioInstrumentor

            instrumentor = AsyncioInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
    except Exception:
        logger.warning("vaquero: could not enable the %s instrumentation.", name, exc_info=True)
