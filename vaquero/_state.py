"""All of vaquero's process-wide state, in one object with one reset.

A tracing library is global by nature (one provider, one exit hook, one "already warned"
set per process). Keeping every such value on :data:`STATE`, rather than in module globals
spread over the package, means a reader finds them in one place and a test returns vaquero
to a fresh process's state with one call, :meth:`State.reset`, as structlog does with its
``_CONFIG``. Nothing here imports the rest of vaquero, so every module can import it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

__all__ = ["STATE", "State"]


class State:
    """The mutable facts of this process, grouped by the module that owns them."""

    __slots__ = (
        "after_fork_token",
        "capture_content",
        "configured_by_instrument",
        "deferred_signal",
        "disabled",
        "drops",
        "drops_seen_by_flush",
        "enabled_integrations",
        "exit_hook_pid",
        "exited",
        "export_now",
        "finishing",
        "fork_hook_registered",
        "genai_role_counts",
        "genai_roles",
        "held_signals",
        "install_lock",
        "lifecycle_pid",
        "max_attribute_length",
        "measurements",
        "metrics",
        "propagate_agent",
        "release_registered_pid",
        "runtime",
        "scrub_process_key",
        "shutdown_pipeline",
        "spec_span_names",
        "start_span",
        "stop_watcher_pid",
        "tracer",
        "warned",
    )

    def __init__(self) -> None:
        # _pipeline.install: the runtime installed (or adopted) and its tracer, read on every
        # span; ``disabled`` is OTEL_SDK_DISABLED in force.
        self.install_lock = threading.RLock()
        self.runtime: Any = None
        self.tracer: Tracer | None = None
        # ``tracer.start_span``, or the same work without its indirections when the SDK's
        # shape is a known one (_otel_compat.span_starter): what every vaquero span calls.
        self.start_span: Callable[..., Any] | None = None
        self.disabled = False
        # _bounded_json / _attributes: the attribute value length limit, read on every
        # attribute (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT; set at configuration).
        self.max_attribute_length = 8 * 1024
        # _agent: whether agent names travel as W3C baggage (the propagate_agent option).
        self.propagate_agent = True
        # _genai: the role of each (kind, name) measured so far, and names per kind (bounded
        # by _genai.MAX_NAMES); ``spec_span_names``: OTEL_SEMCONV_STABILITY_OPT_IN asks for
        # the spec's span names (set at configuration).
        self.genai_roles: dict[tuple[str, str], Any] = {}
        self.genai_role_counts: dict[str, int] = {}
        self.spec_span_names = False
        # _wrappers: tool spans capture arguments and results unless told otherwise
        # (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT; set at configuration).
        self.capture_content = False
        # _metrics: where the app thread leaves GenAI measurements (a deque; None while no
        # meter records them) and the metrics runtime that drains it into the histograms.
        self.measurements: Any = None
        self.metrics: Any = None
        # _diagnostics: keys already warned about, and spans dropped outside any queue.
        self.warned: set[str] = set()
        self.drops: dict[str, int] = {}
        # _pipeline.install: the sum of ``drops`` at the previous flush() (flush is True only
        # if nothing was dropped since).
        self.drops_seen_by_flush = 0
        # _pipeline.scrub: the random HMAC key of pii='hash' without VAQUERO_PII_KEY.
        self.scrub_process_key: bytes | None = None
        # _pipeline.integrations: the instrumentations vaquero switched on, and whether
        # opentelemetry-instrument's loader configured vaquero (it then instruments itself).
        self.enabled_integrations: set[str] = set()
        self.configured_by_instrument = False
        # _pipeline.lifecycle: exit and signal hooks, which belong to one process.
        self.lifecycle_pid: int | None = None
        self.fork_hook_registered = False
        self.after_fork_token: object = None
        self.finishing = False
        self.deferred_signal: int | None = None
        self.shutdown_pipeline: Any = None
        # Signals a chained server handler blocked for the main thread, released after the
        # exit flush; and the process whose atexit already holds the release.
        self.held_signals: set[int] = set()
        self.export_now: Any = None
        self.stop_watcher_pid: int | None = None
        self.release_registered_pid: int | None = None
        # _pipeline.install: the process whose atexit holds the import-time exit hook (which
        # runs after every handler registered after ``import vaquero``), and whether that
        # final exit shutdown has run.
        self.exit_hook_pid: int | None = None
        self.exited = False

    def reset(self) -> None:
        """Forget everything configured (tests): the next span configures afresh.

        OpenTelemetry's own global provider stays, as it cannot be unset; hooks the OS holds
        (signal handlers, fork hooks) stay registered but find no pipeline to flush.
        """
        with self.install_lock:
            lock = self.install_lock
            hook_registered = self.fork_hook_registered
            exit_hook_pid = self.exit_hook_pid
            self.__init__()  # type: ignore[misc]
            self.install_lock = lock
            self.fork_hook_registered = hook_registered
            self.exit_hook_pid = exit_hook_pid  # atexit still holds it


STATE = State()
"""The one instance; see :class:`State`."""
