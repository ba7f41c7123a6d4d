"""Every private OpenTelemetry detail vaquero relies on, each beside its public fallback.

vaquero supports a *range* of OpenTelemetry releases, and the SDK's internals move: the
fields read here changed eight times between June and August 2026. So no other vaquero
module touches a private OpenTelemetry name; each detail below is used only after it has
been checked on the live object, and when the check fails the public API does the same job,
slower. ``tests/test_otel_compat.py`` runs both paths and compares their results. This is
the one file to read (and re-test) when moving the supported OpenTelemetry range.

What each detail buys (``bench/run.py``, span + 3 attributes, 2-core x86_64):

======================================  ==========================================================
detail                                  why
======================================  ==========================================================
``sdk.trace._Span``, ``_end_time``,     ``Span.set_attribute`` writes through the attribute store
``_attributes``, ``BoundedAttributes``  without the span-wide lock and without re-validating a
``._dict/_lock/_immutable``             value vaquero already made valid: ~3/4 of an attribute's
                                        cost (the app-thread hot path).
``context._RUNTIME_CONTEXT``            the default runtime context is one ContextVar; calling it
``._current_context``                   directly saves six Python calls per span.
``ReadableSpan._events/_links``         "no events, no links" without building two tuples per
                                        span on the export thread.
``ReadableSpan._instrumentation_info``  rebuilding a scrubbed span without the deprecation
                                        warning the public property emits.
``sdk._configuration._BaseConfigurator``  the base class ``opentelemetry-instrument`` expects
                                        of a configurator entry point.
``ReadableSpan._name/_context/...``     the OTLP encoder reads a finished span's fields without
                                        the properties' copies (``events``/``links`` tuples, an
                                        attributes proxy): ~1 us of ~5 us per encoded span.
OTLP gRPC ``OTLPExporterMixin._stub``,  vaquero-encoded request bytes go out through the stock
``_initialize_channel_and_stub``,       exporters' own transport (retry, compression, TLS,
``_translate_data``; OTLP HTTP          headers): see :func:`preencoded_grpc_exporter` and
``OTLPSpanExporter.export``'s global    :func:`preencoded_http_exporter`. Without them the stock
``encode_spans``                        exporters encode as they always did.
``Tracer.start_span``'s code shape,     vaquero's spans start without asking the default sampler
``Tracer._span_limits/_is_enabled/``    (three calls and two objects per span) and without
``_instrumentation_scope/``             looking the parent up twice: ~2.5 of ~13 us per span
``_tracer_metrics``, ``ParentBased``'s  (:func:`span_starter`); any other SDK shape or sampler
delegates                               keeps ``tracer.start_span``.
``Span._new_events/_new_links/``        vaquero's spans share one empty event list and one empty
``_add_event/_add_link``, ``_events``,  link list until their first own (:func:`_lean_span_class`):
``_links``                              four objects fewer per span for the garbage collector to
                                        walk while it is queued; ~1/4 of the total CPU per span.
``SpanProcessor._on_ending``            the one moment after ``end()`` and before the exporters
                                        when a span's store can still be written: identity
                                        attributes evicted by the count limit are put back.
======================================  ==========================================================
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from vaquero._otel_compat import (
    configurator,
    context,
    finished_spans,
    otlp_exporters,
    span_start,
    span_store,
)
from vaquero._otel_compat.context import (
    baggage_entries,
    context_operations,
    suppress_instrumentation,
)
from vaquero._otel_compat.finished_spans import (
    ExportFields,
    export_fields,
    frozen_attributes,
    has_no_events,
    has_no_links,
    instrumentation_info,
    plain_attributes,
    span_attributes,
)
from vaquero._otel_compat.otlp_exporters import (
    OTLP_EXPORTER_LOGGERS,
    grpc_status_in_log_record,
    preencoded_grpc_exporter,
    preencoded_http_exporter,
)
from vaquero._otel_compat.span_start import span_starter, start_span_shape
from vaquero._otel_compat.span_store import (
    identity_on_start,
    install_on_ending,
    restore_evicted,
    set_attribute_if_absent,
    set_scalar_attribute,
)

__all__ = [
    "OTLP_EXPORTER_LOGGERS",
    "BaseConfigurator",
    "ExportFields",
    "baggage_entries",
    "context_operations",
    "export_fields",
    "frozen_attributes",
    "grpc_status_in_log_record",
    "has_no_events",
    "has_no_links",
    "identity_on_start",
    "install_on_ending",
    "instrumentation_info",
    "plain_attributes",
    "preencoded_grpc_exporter",
    "preencoded_http_exporter",
    "restore_evicted",
    "set_attribute_if_absent",
    "set_scalar_attribute",
    "span_attributes",
    "span_starter",
    "start_span_shape",
    "suppress_instrumentation",
    "use_public_fallbacks",
]

# Each module of the package keeps its own ``_public_only`` flag, read by its hot paths as a
# plain module global; use_public_fallbacks() sets them all.
_SWITCHED = (context, finished_spans, otlp_exporters, span_start, span_store)

if TYPE_CHECKING:

    class BaseConfigurator:
        """What ``opentelemetry-instrument`` calls: ``configure(**kwargs)`` -> ``_configure``."""

        def configure(self, **kwargs: Any) -> None: ...
        def _configure(self, **kwargs: Any) -> None: ...

else:

    def __getattr__(name: str) -> Any:
        # Resolved on first use (the distro entry point): the SDK's configuration module
        # imports the metrics and logs SDKs, a large share of ``import vaquero`` otherwise.
        if name == "BaseConfigurator":
            value = globals()["BaseConfigurator"] = configurator.base_configurator()
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextlib.contextmanager
def use_public_fallbacks() -> Iterator[None]:
    """Tests only: run with every private detail switched off, as on an unknown SDK layout."""
    saved = [getattr(module, "_public_only") for module in _SWITCHED]  # noqa: B009
    layout = (span_store._fast_span_types, span_store._layout_checked)
    for module in _SWITCHED:
        setattr(module, "_public_only", True)  # noqa: B010 - the modules' own flag
    span_store._fast_span_types, span_store._layout_checked = frozenset(), False
    try:
        yield
    finally:
        for module, flag in zip(_SWITCHED, saved, strict=True):
            setattr(module, "_public_only", flag)  # noqa: B010
        span_store._fast_span_types, span_store._layout_checked = layout
