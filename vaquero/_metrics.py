"""The meter provider and the GenAI duration histograms: runs as measurements, off the app thread.

Every agent and workflow run (``gen_ai.invocation.duration``) and every tool call
(``gen_ai.execute_tool.duration``) is one measurement, whatever the trace sampling decided:
these metrics are what stays exact when traces are sampled.

**Where the cost goes.** Recording into an SDK histogram costs several microseconds (the SDK
hashes the attributes on every call), as much as half a span. So the app thread only appends
``(histogram, seconds, attributes)`` to a deque (:func:`vaquero._span_core.close_span`,
attributes precomputed by :mod:`vaquero._genai`); the measurements are recorded into the
histograms by a small drain thread, every second (and at once past :data:`DRAIN_AT` waiting
items, which bounds the deque), and by every flush and shutdown before they export, so a
measurement is never lost, at most exported one interval later. (Draining inside the SDK's
collection would need to override ``MetricReader.collect``, which the SDK marks final.)

**Which provider.** A MeterProvider the application (or ``opentelemetry-distro``) installed is
used as it is: vaquero only creates its two histograms there. Otherwise vaquero installs its
own, exporting OTLP through the same endpoint, header and TLS code as the spans
(``OTEL_EXPORTER_OTLP_METRICS_*`` first), or to the console, or nowhere
(``OTEL_METRICS_EXPORTER=none`` records nothing). Exit, SIGTERM and ``vaquero.shutdown()``
flush the metrics inside the spans' shutdown budget (:func:`shutdown_within`).
"""

from __future__ import annotations

import collections
import contextvars
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics

from vaquero._config import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from vaquero._semconv import (
    DURATION_UNIT,
    EXECUTE_TOOL_BUCKETS,
    EXECUTE_TOOL_DURATION,
    INVOCATION_BUCKETS,
    INVOCATION_DURATION,
)
from vaquero._state import STATE
from vaquero._version import __version__

logger = logging.getLogger("vaquero")

__all__ = ["DRAIN_AT", "MetricsRuntime", "drain", "install_metrics", "shutdown_within"]

DRAIN_AT = 4096
"""Waiting measurements that wake the drain thread before its next second."""

_SCOPE = "vaquero"


class MetricsRuntime:
    """What vaquero installed or adopted for metrics; ``owned``: vaquero's to shut down.

    Built in two steps: this object at configuration (cheap), the provider and its
    histograms at the first measurement (:meth:`kick`): importing the metrics SDK and the
    OTLP metric exporter costs tens of milliseconds that a program without agents, workflows
    or tools should never pay, and that cannot be left to a background thread (a short
    program can exit first, and the SDK's imports then fail at interpreter shutdown).
    """

    def __init__(self, provider: Any = None, owned: bool = False) -> None:
        self.provider: Any = None
        self.owned = owned
        self.instruments: tuple[Any, ...] = ()
        self.bound = False
        self.setup: Any = None  # binds the provider; run once by kick()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stopped = False
        self.pid = os.getpid()
        if provider is not None:
            self.bind(provider, owned)

    def bind(self, provider: Any, owned: bool) -> None:
        """Create the two histograms on ``provider``; measurements are recorded from now on."""
        self.provider = provider
        self.owned = owned
        meter = provider.get_meter(_SCOPE, __version__)
        # Bound once; the order is the slot numbers of vaquero._genai.
        self.instruments = (
            meter.create_histogram(
                INVOCATION_DURATION, unit=DURATION_UNIT,
                description="The end-to-end duration of an in-process GenAI workflow or "
                "agent invocation.",
                explicit_bucket_boundaries_advisory=list(INVOCATION_BUCKETS),
            ),
            meter.create_histogram(
                EXECUTE_TOOL_DURATION, unit=DURATION_UNIT,
                description="The duration of a single tool execution.",
                explicit_bucket_boundaries_advisory=list(EXECUTE_TOOL_BUCKETS),
            ),
        )
        self.bound = True

    def kick(self) -> None:
        """Called by a run that left a measurement: bind on the first one (and start the
        drain thread), else wake the drain thread (too many are waiting). Never raises."""
        if self.bound:
            self.wake.set()
            return
        with self.lock:
            if self.bound or self.setup is None:
                return
            setup, self.setup = self.setup, None
            try:
                setup()
            except Exception:
                logger.warning("vaquero: could not set up the GenAI metrics; spans are "
                               "unaffected.", exc_info=True)
                self.stopped = True
                if STATE.metrics is self:
                    STATE.measurements = None
                return
            _start_drain_thread(self)


def drain() -> int:
    """Record every waiting measurement into its histogram; the number recorded. Never raises."""
    sink = STATE.measurements
    runtime: MetricsRuntime | None = STATE.metrics
    if sink is None or runtime is None or not runtime.bound:
        return 0
    instruments = runtime.instruments
    pop = getattr(sink, "popleft", None)
    if pop is None:
        return 0
    count = 0
    while True:
        try:
            slot, seconds, attributes = pop()
        except IndexError:
            return count
        try:
            instruments[slot].record(seconds, attributes)
            count += 1
        except Exception:
            logger.debug("vaquero: could not record a GenAI duration", exc_info=True)


def install_metrics(settings: Settings, resource: Any, *, may_install: bool = True) -> None:
    """Set up the metrics side once, next to the tracer provider; never raises.

    Decided here: whether anything is recorded (an application's MeterProvider, or
    vaquero's own unless ``OTEL_METRICS_EXPORTER=none``). Built at the first measurement
    (:meth:`MetricsRuntime.kick`): vaquero's provider and exporter, then the histograms.

    ``may_install`` is False when the application built its own tracing (vaquero adopted
    its tracer provider): then it chose its own pipeline, and vaquero records only into a
    MeterProvider the application sets, never exporting anywhere of its own accord.
    """
    try:
        existing = metrics.get_meter_provider()
        if _is_proxy(existing) and settings.metrics_exporter == "none":
            return
        runtime = MetricsRuntime()
        runtime.setup = lambda: _bind(
            runtime, metrics.get_meter_provider(), settings, resource, may_install
        )
        STATE.metrics = runtime
        STATE.measurements = collections.deque()
    except Exception:
        logger.warning("vaquero: could not set up the GenAI metrics; spans are unaffected.",
                       exc_info=True)
        STATE.measurements = None
        STATE.metrics = None


def _bind(
    runtime: MetricsRuntime, existing: Any, settings: Settings, resource: Any, may_install: bool
) -> None:
    if getattr(existing, "_vaquero_metrics", False):
        runtime.bind(existing, owned=True)  # installed by this process before (tests)
        return
    if not _is_proxy(existing) or not may_install:
        # The application's (or, for an application that built its own tracing and no
        # metrics, the API's proxy, which forwards to a provider it may set later).
        runtime.bind(existing, owned=False)
        return
    from opentelemetry.sdk.metrics import MeterProvider

    provider = MeterProvider(
        resource=resource, metric_readers=[_reader(settings)], shutdown_on_exit=False
    )
    metrics.set_meter_provider(provider)
    if metrics.get_meter_provider() is not provider:  # lost a race with another installer
        provider.shutdown(timeout_millis=0)
        runtime.bind(metrics.get_meter_provider(), owned=False)
        return
    setattr(provider, "_vaquero_metrics", True)  # noqa: B010 - marks it as vaquero's
    runtime.bind(provider, owned=True)


def _is_proxy(provider: Any) -> bool:
    return type(provider).__name__ == "_ProxyMeterProvider"


def _reader(settings: Settings) -> PeriodicExportingMetricReader:
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    if settings.metrics_exporter == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        exporter: Any = ConsoleMetricExporter()
    else:
        from vaquero._pipeline.exporters import build_otlp_metric_exporter

        exporter = build_otlp_metric_exporter(settings)
    return PeriodicExportingMetricReader(
        exporter,
        export_interval_millis=settings.metric_export_interval_ms,
        export_timeout_millis=max(1.0, settings.metrics_timeout * 1000.0),
    )


def _start_drain_thread(runtime: MetricsRuntime) -> None:
    """The drain thread: every second, or at once when woken, until the runtime stops."""

    def loop() -> None:
        while not runtime.stopped:
            runtime.wake.wait(1.0)
            runtime.wake.clear()
            if STATE.metrics is not runtime:
                return  # reset or replaced (tests)
            try:
                drain()
            except Exception:  # the thread outlives any fault, so memory stays bounded
                logger.debug("vaquero: draining GenAI measurements failed", exc_info=True)

    thread = threading.Thread(target=loop, name="vaquero-metrics", daemon=True)
    contextvars.Context().run(thread.start)  # no span of the caller's becomes its parent
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=lambda: _after_fork(runtime))


def _after_fork(runtime: MetricsRuntime) -> None:
    """A forked child inherits the deque but not the thread: forget the parent's
    measurements (the parent exports them) and drain with a thread of its own."""
    if STATE.metrics is runtime and runtime.pid != os.getpid():
        runtime.pid = os.getpid()
        sink = STATE.measurements
        if sink is not None:
            sink.clear()
        _start_drain_thread(runtime)


def flush_within(deadline: float) -> bool:
    """Record what waits and export it (vaquero's provider) before ``deadline``."""
    runtime: MetricsRuntime | None = STATE.metrics
    if runtime is None or not runtime.bound:
        return True  # nothing was measured yet
    drain()
    return _call_until(runtime.provider, "force_flush", deadline)


def shutdown_within(deadline: float) -> threading.Thread | None:
    """Record what waits, then shut vaquero's provider down (flush an adopted one) on a
    helper thread; the caller joins it by ``deadline``, so spans and metrics share the
    budget instead of queueing for it."""
    runtime: MetricsRuntime | None = STATE.metrics
    if runtime is None or runtime.stopped:
        return None
    runtime.stopped = True
    runtime.wake.set()
    if not runtime.bound:
        return None  # nothing was measured
    drain()
    method = "shutdown" if runtime.owned else "force_flush"
    return _start_call(runtime.provider, method, deadline)


def _start_call(provider: Any, method: str, deadline: float) -> threading.Thread:
    millis = max(0, int((deadline - time.monotonic()) * 1000))

    def call() -> None:
        try:
            getattr(provider, method)(timeout_millis=millis)
        except Exception:
            logger.debug("vaquero: metrics %s failed", method, exc_info=True)

    worker = threading.Thread(target=call, name=f"vaquero-metrics-{method}", daemon=True)
    worker.start()
    return worker


def _call_until(provider: Any, method: str, deadline: float) -> bool:
    worker = _start_call(provider, method, deadline)
    worker.join(max(0.0, deadline - time.monotonic()))
    return not worker.is_alive()
