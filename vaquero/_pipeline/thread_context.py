"""Carry the OpenTelemetry context into threads, timers and thread-pool work.

This does what ``opentelemetry-instrumentation-threading`` does, the same way (a thread
captures the context current at ``start()`` and runs in it; ``ThreadPoolExecutor.submit``
runs the function in the submitter's context), without importing it: that package pulls in
``wrapt``, ``asyncio``, ``packaging`` and the semantic-convention modules, 60-90 ms of CPU
(measured here) that was most of what ``import vaquero`` + the first span cost beyond the
raw SDK. When the instrumentation is already loaded (``opentelemetry-instrument`` loads it)
vaquero uses it instead, see :mod:`vaquero._pipeline.integrations`.

The patches are installed once per process and marked, so installing again does nothing,
and a context is attached only when one was captured. Both mechanisms active at once (the
instrumentation loaded later) attach the same context twice, which changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any

from opentelemetry import context as otel_context

_MARK = "_vaquero_thread_context"
_CAPTURED = "_vaquero_otel_context"


def _patched_start(original: Callable[..., Any]) -> Callable[..., Any]:
    def start(self: threading.Thread, *args: Any, **kwargs: Any) -> Any:
        setattr(self, _CAPTURED, otel_context.get_current())
        return original(self, *args, **kwargs)

    setattr(start, _MARK, original)
    return start


def _patched_run(original: Callable[..., Any]) -> Callable[..., Any]:
    def run(self: threading.Thread, *args: Any, **kwargs: Any) -> Any:
        captured = getattr(self, _CAPTURED, None)
        if captured is None:
            return original(self, *args, **kwargs)
        token = otel_context.attach(captured)
        try:
            return original(self, *args, **kwargs)
        finally:
            otel_context.detach(token)

    setattr(run, _MARK, original)
    return run


def _patched_submit(original: Callable[..., Any]) -> Callable[..., Any]:
    def submit(self: futures.ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any,
               **kwargs: Any) -> Any:
        captured = otel_context.get_current()

        def in_context(*fn_args: Any, **fn_kwargs: Any) -> Any:
            token = otel_context.attach(captured)
            try:
                return fn(*fn_args, **fn_kwargs)
            finally:
                otel_context.detach(token)

        return original(self, in_context, *args, **kwargs)

    setattr(submit, _MARK, original)
    return submit


_TARGETS: tuple[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]], ...] = (
    (threading.Thread, "start", _patched_start),
    (threading.Thread, "run", _patched_run),
    (threading.Timer, "run", _patched_run),
    (futures.ThreadPoolExecutor, "submit", _patched_submit),
)


def installed() -> bool:
    """Whether vaquero's patches are in place."""
    return all(hasattr(vars(owner).get(name), _MARK) for owner, name, _ in _TARGETS)


def install() -> None:
    """Patch ``Thread.start/run``, ``Timer.run`` and ``ThreadPoolExecutor.submit`` (once)."""
    for owner, name, patch in _TARGETS:
        current = vars(owner).get(name)
        if current is None or hasattr(current, _MARK):
            continue
        setattr(owner, name, patch(current))


def uninstall() -> None:
    """Put the original methods back (tests)."""
    for owner, name, _ in _TARGETS:
        current = vars(owner).get(name)
        original = getattr(current, _MARK, None)
        if original is not None:
            setattr(owner, name, original)
