"""Build and install the tracing pipeline from :class:`Settings`: once, lazily, never raising.

The seed's code never calls ``init()``, so the first span configures everything from the
environment. An application that installed its own SDK ``TracerProvider`` keeps it: vaquero
only adds its agent-name processor and never adds exporters it did not ask for.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace import sampling as otel_sampling

from vaquero import _attributes, _metrics, _quiet_logs
from vaquero._agent import AGENT_NAME, AgentNameSpanProcessor
from vaquero._config import (
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    OTEL_METRICS_EXPORTER,
    UNBOUNDED_WAIT_S,
    Settings,
    load_settings,
)
from vaquero._diagnostics import drop_counts, warn_once
from vaquero._genai import spec_span_names
from vaquero._otel_compat import span_starter
from vaquero._pipeline import integrations as _integrations
from vaquero._pipeline import lifecycle as _lifecycle
from vaquero._pipeline.exporters import build_exporters
from vaquero._pipeline.queue import ExportQueue
from vaquero._pipeline.scrub import Scrubber
from vaquero._pipeline.service_name import service_name_for
from vaquero._semconv import CAPTURE_ON_SPANS, DISTRO_NAME, DISTRO_VERSION, SERVICE_NAME
from vaquero._state import STATE
from vaquero._version import __version__

logger = logging.getLogger("vaquero")

INSTRUMENTATION_SCOPE = "vaquero"

# Signals are prepared at import, on the main thread: setup itself is lazy and may run on a
# worker thread, or once a server's own handlers are in place (see lifecycle).
_lifecycle.prepare_at_import()

# The exit, in two hooks. atexit runs last-registered first, and the pipeline is installed
# (and its hook registered) at the first span: an atexit handler the application registered
# between ``import vaquero`` and that span ran *after* the exit shutdown, and a span it ended
# was lost without a word. So this hook, registered now, before any of those handlers, does the
# shutdown, and the one registered at install does it only when a stop signal is held (the
# process must die by it, right after the flush, as before). A span ended later still (by a
# handler registered before ``import vaquero``) is reported when it ends.


def _shutdown_last() -> None:
    """The import-time exit hook (see above); never raises."""
    try:
        shutdown()
    except Exception:
        logger.debug("vaquero: the final exit shutdown failed", exc_info=True)
    finally:
        STATE.exited = True
    _lifecycle.release_held_signals()


if STATE.exit_hook_pid is None:
    STATE.exit_hook_pid = os.getpid()
    atexit.register(_shutdown_last)


@dataclass
class Runtime:
    """What vaquero installed; ``owned`` says whether the provider is vaquero's to shut down."""

    settings: Settings
    provider: trace.TracerProvider
    tracer: trace.Tracer
    owned: bool
    queues: list[ExportQueue] = field(default_factory=list)
    shut_down: bool = False


def get_tracer() -> trace.Tracer | None:
    """The tracer for vaquero's spans; None when the SDK is disabled. Configures on first use."""
    tracer = STATE.tracer
    if tracer is not None or STATE.disabled:
        return tracer
    return _configure_lazily()


def is_disabled() -> bool:
    """True when ``OTEL_SDK_DISABLED`` (or ``init(disabled=True)``) is in force."""
    return STATE.disabled


def runtime() -> Runtime | None:
    """What vaquero installed or adopted; None before configuration and when disabled."""
    current: Runtime | None = STATE.runtime
    return current


# What gives the ``init()`` arguments of the first span's implicit configuration, set by a
# host that knows better than the defaults: the pytest plugin (vaquero.testing) makes a test
# run export nowhere unless the environment asks for an exporter when that span comes (a
# fixture may set the variable first). An explicit ``init()`` does not consult it.
_implicit_arguments: list[Callable[[], Mapping[str, Any]]] = []


def set_implicit_arguments(arguments: Callable[[], Mapping[str, Any]] | None) -> None:
    """Install (or with None remove) the source of the implicit configuration's arguments."""
    _implicit_arguments[:] = [] if arguments is None else [arguments]


def _configure_lazily() -> trace.Tracer | None:
    with STATE.install_lock:
        if STATE.tracer is not None or STATE.disabled:
            return STATE.tracer
        try:
            implicit = _implicit_arguments[0]() if _implicit_arguments else None
            _install(load_settings(implicit))
        except Exception:
            logger.warning(
                "vaquero: could not configure tracing; spans go to the global OpenTelemetry "
                "tracer instead.",
                exc_info=True,
            )
            _set_runtime(None, trace.get_tracer(INSTRUMENTATION_SCOPE, __version__))
        return STATE.tracer


def init(**kwargs: Any) -> None:
    """Configure from ``kwargs`` over the environment; see :func:`vaquero.init`."""
    settings = load_settings(kwargs)
    with STATE.install_lock:
        current = runtime()
        if current is None and not STATE.disabled and STATE.tracer is None:
            _install(settings)
            if not STATE.disabled:
                _integrations.enable_asyncio()
            return
        in_force = current.settings if current is not None else None
        if in_force == settings:
            return
        if in_force is None:
            logger.warning("vaquero.init() was called again; the first configuration stays.")
            return
        in_force_shown = in_force.describe()
        changed = [
            name for name, value in settings.describe().items() if in_force_shown[name] != value
        ]
        logger.warning(
            "vaquero.init() was called again with different settings (%s); vaquero was already "
            "configured, so the settings in force stay: %s. Call vaquero.init() once, before "
            "the first span.",
            ", ".join(sorted(changed)),
            in_force_shown,
        )


def _install(settings: Settings) -> None:
    if settings.disabled:
        STATE.disabled = True
        _set_runtime(None, None)
        return
    _attributes.set_max_length(settings.attribute_value_length)
    STATE.propagate_agent = settings.propagate_agent
    STATE.spec_span_names = spec_span_names(settings.semconv_opt_in)
    STATE.capture_content = settings.capture_content in CAPTURE_ON_SPANS
    _integrations.enable_executor_context()
    _install_tracing(settings)
    if STATE.metrics is None:
        current = runtime()
        owns_tracing = current is not None and current.owned
        _metrics.install_metrics(settings, build_resource(settings),
                                 may_install=owns_tracing or _metrics_export_asked_for())
        if STATE.metrics is not None and (current is None or not current.owned):
            # No vaquero shutdown runs at exit to drain and flush the measurements; registered
            # after the application's providers, this runs before their own exit hooks.
            atexit.register(_metrics_at_exit, settings.shutdown_timeout)


def _metrics_export_asked_for() -> bool:
    """Does the environment say where metrics go (an exporter, or an OTLP endpoint)?

    An application that built its own tracing chose its own pipeline: vaquero then installs
    a metrics exporter of its own only where the environment asks for one.
    """
    names = (OTEL_METRICS_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT,
             OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)
    return any(os.environ.get(name, "").strip() for name in names)


def _install_tracing(settings: Settings) -> None:
    existing = trace.get_tracer_provider()
    owned: Runtime | None = getattr(existing, "_vaquero_runtime", None)
    if owned is not None:
        _set_runtime(owned, owned.tracer)
        return
    if isinstance(existing, TracerProvider):
        _adopt(existing, settings)
        return
    if not isinstance(existing, trace.ProxyTracerProvider):
        # A non-SDK provider: nothing to add to, use it as it is.
        _set_runtime(
            Runtime(settings, existing, existing.get_tracer(INSTRUMENTATION_SCOPE), owned=False),
            None,
        )
        return
    provider = build_provider(settings)
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:  # lost a race with another installer
        installed = trace.get_tracer_provider()
        if isinstance(installed, TracerProvider):
            _adopt(installed, settings)
        return
    _lifecycle.install(shutdown, export_now=_export_now)
    # After the lifecycle hooks: atexit runs last-in first-out, so the flush runs before the
    # release of a held signal that lifecycle may have registered.
    atexit.register(_shutdown_at_exit)


def build_provider(settings: Settings) -> TracerProvider:
    """A vaquero-owned SDK provider with the agent processor and one queue per exporter."""
    provider = TracerProvider(
        resource=build_resource(settings),
        sampler=build_sampler(settings),
        span_limits=SpanLimits(max_attribute_length=settings.attribute_value_length),
        shutdown_on_exit=False,
        meter_provider=_sdk_self_metrics_meter(),
    )
    provider.add_span_processor(AgentNameSpanProcessor())
    _quiet_logs.install()
    scrub = build_scrubber(settings)
    queues = []
    for name, exporter in build_exporters(settings):
        queue = ExportQueue(
            exporter,
            max_queue_size=settings.max_queue_size,
            max_export_batch_size=settings.max_export_batch_size,
            schedule_delay_s=settings.schedule_delay_ms / 1000.0,
            transform=scrub,
            name=name,
        )
        provider.add_span_processor(queue)
        queues.append(queue)
    tracer = provider.get_tracer(INSTRUMENTATION_SCOPE, __version__)
    runtime = Runtime(settings, provider, tracer, owned=True, queues=queues)
    setattr(provider, "_vaquero_runtime", runtime)  # noqa: B010 - marks the provider as ours
    _set_runtime(runtime, tracer)
    return provider


def _sdk_self_metrics_meter() -> Any:
    """The meter provider of the SDK's own span metrics (``otel.sdk.span.*``): none, unless
    ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`` asks for them.

    SDKs up to 1.4x record them for every span into the *global* meter provider, a no-op until
    vaquero installs its GenAI metrics there: every span would then pay for two more
    measurements and send series nobody asked for. Newer SDKs gate them behind that variable,
    which is honoured (None: the SDK's own choice).
    """
    if os.environ.get("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "").strip().lower() == "true":
        return None
    from opentelemetry.metrics import NoOpMeterProvider

    return NoOpMeterProvider()


def build_scrubber(settings: Settings) -> Any:
    """The export-side transform. Always present: even with scrubbing off it makes every
    string valid UTF-8, so one bad character cannot make an exporter drop a whole batch."""
    scrubber = Scrubber(
        enabled=settings.scrub,
        extra_patterns=settings.scrub_patterns,
        allow_keys=settings.scrub_allow,
        callback=settings.scrub_callback,
        pii=settings.pii,  # type: ignore[arg-type]
        pii_key=settings.pii_key.encode() if settings.pii_key else None,
    )
    return scrubber.scrub_spans


def _adopt(provider: TracerProvider, settings: Settings) -> None:
    """Use an application's own SDK provider as it is, adding only the agent processor."""
    _quiet_logs.install()
    if not getattr(provider, "_vaquero_agent_processor", False):
        provider.add_span_processor(AgentNameSpanProcessor())
        provider._vaquero_agent_processor = True  # type: ignore[attr-defined]
    tracer = provider.get_tracer(INSTRUMENTATION_SCOPE, __version__)
    _set_runtime(Runtime(settings, provider, tracer, owned=False), tracer)
    _say_what_adoption_cannot_honour()
    budget = settings.shutdown_timeout

    def flush_at_exit() -> None:
        # Not vaquero's provider to shut down, but its queued spans must survive SIGTERM too.
        deadline = time.monotonic() + budget
        metrics_done = _metrics.shutdown_within(deadline)
        _call_bounded(provider, "force_flush", deadline)
        if metrics_done is not None:
            metrics_done.join(max(0.0, deadline - time.monotonic()))

    _lifecycle.install(flush_at_exit)


def _say_what_adoption_cannot_honour() -> None:
    """Under opentelemetry-instrument with another configurator, say once what that costs.

    The stock configurator (``opentelemetry-distro``) built the pipeline, so vaquero only
    adds its agent processor: the stock exporters are not scrubbed by vaquero and vaquero's
    export queue does not run. An application's own provider is its owner's choice and
    stays quiet.
    """
    if STATE.configured_by_instrument:
        return
    if "opentelemetry.instrumentation.auto_instrumentation" not in sys.modules:
        return
    warn_once(
        "adopted-foreign-configurator",
        "vaquero: opentelemetry-instrument configured tracing with another configurator "
        "(opentelemetry-distro's, most likely), so vaquero uses that pipeline as it is: its "
        "OTLP exporters are not scrubbed by vaquero. Set OTEL_PYTHON_CONFIGURATOR="
        "vaquero_configurator (and OTEL_PYTHON_DISTRO=vaquero_distro) to let vaquero build "
        "it; OTEL_TRACES_EXPORTER=vaquero_file/vaquero_console are scrubbed either way.",
    )


def _set_runtime(installed: Runtime | None, tracer: trace.Tracer | None) -> None:
    STATE.runtime = installed
    # The starter is cleared first and set last: a span opened meanwhile on another thread
    # sees no starter and uses its tracer's own start_span, never one bound to another tracer.
    STATE.start_span = None
    STATE.tracer = tracer if tracer is not None else (installed.tracer if installed else None)
    STATE.start_span = None if STATE.tracer is None else span_starter(STATE.tracer)


class _HashOnceResource(Resource):
    """A resource that computes its hash once.

    The SDK's OTLP encoder groups every span of a batch by resource, and ``Resource``
    hashes by JSON-dumping all its attributes each time: a per-span cost on the export
    thread that grows with the resource. A resource is immutable, so its hash can be kept.
    """

    def __init__(self, attributes: Any, schema_url: str | None = None) -> None:
        super().__init__(attributes, schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other)


def build_resource(settings: Settings) -> Resource:
    attributes: dict[str, Any] = dict(settings.resource_attributes)
    attributes[SERVICE_NAME] = service_name_for(settings.service_name)
    attributes[DISTRO_NAME] = "vaquero"
    attributes[DISTRO_VERSION] = __version__
    if settings.agent_name:
        attributes[AGENT_NAME] = settings.agent_name
    created = Resource.create(attributes)
    return _HashOnceResource(created.attributes, created.schema_url)


def build_sampler(settings: Settings) -> otel_sampling.Sampler:
    rate = 1.0 if settings.sample_rate is None else settings.sample_rate
    name = settings.sampler
    if name == "always_on":
        return otel_sampling.ALWAYS_ON
    if name == "always_off":
        return otel_sampling.ALWAYS_OFF
    if name == "traceidratio":
        return otel_sampling.TraceIdRatioBased(rate)
    if name == "parentbased_always_off":
        return otel_sampling.ParentBased(otel_sampling.ALWAYS_OFF)
    if name == "parentbased_traceidratio":
        return otel_sampling.ParentBased(otel_sampling.TraceIdRatioBased(rate))
    return otel_sampling.ParentBased(otel_sampling.ALWAYS_ON)


# --- flush and shutdown ------------------------------------------------------------------------
def flush(timeout: float) -> bool:
    """Export what is queued within ``timeout``; True only if nothing was lost since last time.

    "Lost" is every counter: spans dropped by a full queue, a failed export, the exporter
    itself (oversized), or outside any queue (:func:`vaquero._diagnostics.count_drop`).
    """
    current = runtime()
    if current is None:
        return True  # nothing configured (yet, or disabled): nothing is waiting
    outside_unchanged = _outside_drops_unchanged()
    if current.shut_down:
        return not current.queues  # what was still queued at shutdown is already counted
    # math.inf means "wait": a bounded stand-in, since the timers overflow on infinity.
    deadline = time.monotonic() + min(max(0.0, timeout), UNBOUNDED_WAIT_S)
    if current.owned:
        ok = True
        for queue in current.queues:
            ok = queue.flush(deadline - time.monotonic()) and ok
        _metrics.flush_within(deadline)
        return ok and outside_unchanged
    _metrics.flush_within(deadline)
    return _call_bounded(current.provider, "force_flush", deadline) and outside_unchanged


def _outside_drops_unchanged() -> bool:
    total = sum(drop_counts().values())
    unchanged = total == STATE.drops_seen_by_flush
    STATE.drops_seen_by_flush = total
    return unchanged


def _call_bounded(provider: Any, method: str, deadline: float) -> bool:
    """Call a foreign provider's method on a helper thread; give up at ``deadline``."""
    outcome: list[bool] = []
    millis = int(max(0.0, deadline - time.monotonic()) * 1000)

    def call() -> None:
        try:
            result = getattr(provider, method)(millis)
            outcome.append(result is not False)
        except Exception:
            outcome.append(False)

    worker = threading.Thread(target=call, name=f"vaquero-{method}", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    return bool(outcome and outcome[0])


def shutdown(timeout: float | None = None) -> None:
    """Drain and close every queue within one budget, then report every span not exported.

    Called again (at exit, after an explicit ``vaquero.shutdown()``), it only reports the
    spans that ended in between: they were counted, never exported.
    """
    with STATE.install_lock:
        current = runtime()
        if current is None or not current.owned:
            return
        if current.shut_down:
            _report_late_spans(current.queues)
            return
        current.shut_down = True
    budget = current.settings.shutdown_timeout
    if timeout is not None:
        budget = min(max(0.0, timeout), UNBOUNDED_WAIT_S)  # math.inf would overflow the timers
    deadline = time.monotonic() + budget
    # Metrics shut down on their own thread meanwhile: one budget for both signals.
    metrics_done = _metrics.shutdown_within(deadline)
    for queue in current.queues:
        queue.shutdown_within(deadline)
    if metrics_done is not None:
        metrics_done.join(max(0.0, deadline - time.monotonic()))
    _report_drops(current.queues, budget)


_REASONS = {
    "queue_full": "queue full: {count} (raise OTEL_BSP_MAX_QUEUE_SIZE or create fewer spans)",
    "export_failed": "export failed: {count}",
    "transform_failed": "scrubbing failed: {count}",
    "rejected": "too large to send: {count}",
    "unreachable": "queued while the collector refused connections: {count}",
    "shutdown_budget": "still queued or in flight when the {budget:.1f} s shutdown budget ran "
    "out: {count} (raise VAQUERO_SHUTDOWN_TIMEOUT if the collector is slow)",
    "after_shutdown": "ended after vaquero.shutdown(): {count}",
}


def _describe(reasons: Mapping[str, int], budget: float) -> str:
    """``reason: count`` phrases, each with the fix where there is one."""
    return "; ".join(
        _REASONS.get(reason, reason.replace("_", " ") + ": {count}").format(
            count=count, budget=budget
        )
        for reason, count in reasons.items()
    )


def _report_drops(queues: list[ExportQueue], budget: float) -> None:
    """One warning per exporter that lost spans, and one for spans lost outside any queue."""
    for queue in queues:
        reasons = queue.drops.by_reason()
        if reasons:
            logger.warning(
                "vaquero: %d span(s) were not exported by %s (%s).",
                queue.drops.total,
                queue.name,
                _describe(reasons, budget),
            )
        queue.reported_after_shutdown = queue.drops.after_shutdown
    outside = {reason: count for reason, count in drop_counts().items() if count}
    if outside:
        logger.warning(
            "vaquero: %d span(s) were dropped before reaching an exporter (%s).",
            sum(outside.values()),
            _describe(outside, budget),
        )


def _report_late_spans(queues: list[ExportQueue]) -> None:
    for queue in queues:
        late = queue.drops.after_shutdown - queue.reported_after_shutdown
        if late > 0:
            queue.reported_after_shutdown = queue.drops.after_shutdown
            logger.warning(
                "vaquero: %d span(s) ended after vaquero.shutdown() and were not exported by %s; "
                "call vaquero.shutdown() only when the program's work is done.",
                late,
                queue.name,
            )


def _export_now() -> None:
    """Wake every export thread (a stop signal came); waits for nothing."""
    current = runtime()
    if current is not None:
        for queue in current.queues:
            queue.export_soon()


def _metrics_at_exit(budget: float) -> None:
    try:
        deadline = time.monotonic() + budget
        done = _metrics.shutdown_within(deadline)
        if done is not None:
            done.join(max(0.0, deadline - time.monotonic()))
    except Exception:
        pass


def _shutdown_at_exit() -> None:
    """The exit hook registered at install: it shuts down only when a stop signal is held or
    the import-time hook is not this process's; else ``_shutdown_last`` does, later."""
    try:
        if STATE.exit_hook_pid != os.getpid() or STATE.held_signals:
            shutdown()
    except Exception:
        pass
    # A server's re-raised SIGTERM was held until the spans were out: let it end us now.
    _lifecycle.release_held_signals()


def export_stats() -> Mapping[str, Mapping[str, int]]:
    """Per-exporter counts, for ``vaquero doctor`` and tests."""
    current = runtime()
    if current is None:
        return {}
    return {
        queue.name: {
            "exported": queue.exported,
            "dropped_queue_full": queue.drops.queue_full,
            "dropped_export_failed": queue.drops.export_failed + queue.drops.transform_failed,
            "dropped_shutdown": queue.drops.shutdown_budget + queue.drops.unreachable,
            "dropped_too_large": queue.drops.rejected,
            "dropped_after_shutdown": queue.drops.after_shutdown,
        }
        for queue in current.queues
    }


def reset_for_tests() -> None:
    """Forget the installed runtime (tests only: OpenTelemetry's global provider stays)."""
    STATE.reset()
