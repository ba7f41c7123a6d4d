"""``span_starter``: the SDK's ``Tracer.start_span`` without its indirections.

Part of :mod:`vaquero._otel_compat` (read its docstring first): private OpenTelemetry
details, each checked before use, each with its public fallback.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.trace import SpanContext as _SpanContext

from vaquero._otel_compat.span_store import _LEAN_SPAN_TYPE, _SDK_SPAN_TYPE

# Set by vaquero._otel_compat.use_public_fallbacks() (tests): every detail off.
_public_only = False


# The shape (names read, keyword names passed, arguments) of the SDK functions whose work
# ``span_starter`` does, for each release it was checked against. Any other shape (a new
# release that changed one of them, or 1.42.0's short-lived flag rule) keeps the public path.
# Regenerate with ``python -c "from vaquero import _otel_compat as c; print(c.start_span_shape())"``
# after reading the new release's ``Tracer.start_span`` and samplers.
_KNOWN_START_SHAPES = {
    "6c615871c224": False,  # 1.40.x: no random-trace-id flag
    "fea5af4aff6d": False,  # 1.41.x: the same, ``links or ()``
    "64c207f8f13f": True,  # 1.42.1: the W3C random flag, from the parent or the id generator
    "cde29caf1184": True,  # 1.43.0 - 1.45.x: the same, the sampler's attributes not copied
}


def _code_shape(code: types.CodeType) -> tuple[object, ...]:
    """What a function reads and passes, not how CPython compiled it (stable across versions)."""
    keywords = tuple(
        c for c in code.co_consts
        if isinstance(c, tuple) and all(isinstance(item, str) for item in c)
    )
    arguments = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    return (code.co_names, arguments, keywords)


def start_span_shape() -> str:
    """A digest of ``Tracer.start_span`` and the default samplers' code, as installed."""
    import hashlib

    from opentelemetry.sdk.trace import sampling

    functions: tuple[object, ...] = (
        sdk_trace.Tracer.start_span, sampling.ParentBased.should_sample,
        sampling.StaticSampler.should_sample, getattr(sampling, "_get_parent_trace_state", None),
    )
    codes = [getattr(function, "__code__", None) for function in functions]
    shapes = [_code_shape(code) for code in codes if isinstance(code, types.CodeType)]
    if len(shapes) != len(functions):
        return "unknown"
    return hashlib.sha256(repr(shapes).encode()).hexdigest()[:12]


def _samples_everything(sampler: object) -> bool:
    """The SDK's default sampler (``parentbased_always_on``) or ``always_on``."""
    from opentelemetry.sdk.trace import sampling

    on, off = sampling.ALWAYS_ON, sampling.ALWAYS_OFF
    if sampler is on:
        return True
    delegates = ("_root", "_remote_parent_sampled", "_remote_parent_not_sampled",
                 "_local_parent_sampled", "_local_parent_not_sampled")
    return type(sampler) is sampling.ParentBased and tuple(
        getattr(sampler, name, None) for name in delegates
    ) == (on, on, off, on, off)


def span_starter(tracer: Any) -> Callable[..., Any]:
    """``tracer.start_span(name, context, kind, attributes, links)``, minus its indirections.

    With a sampler that records every span whose parent is sampled, the SDK's start_span
    still asks the sampler (three calls, a ``SamplingResult`` and a mapping proxy), looks
    the parent up twice and builds two ``TraceFlags``: about 2.5 of the ~13 us a span costs
    on the app thread. The returned function takes the same decisions with none of that
    and builds the span with the same arguments. It is used only when the installed SDK's
    ``start_span`` and samplers have a shape checked here (:data:`_KNOWN_START_SHAPES`), the
    tracer is the SDK's own, and its sampler is ``parentbased_always_on`` or
    ``always_on``; a disabled tracer, an unsampled parent or ``use_public_fallbacks`` go
    to ``tracer.start_span`` itself.
    """
    public: Callable[..., Any] = tracer.start_span
    random_flag = _KNOWN_START_SHAPES.get(start_span_shape())
    if (
        _public_only
        or random_flag is None
        or _SDK_SPAN_TYPE is None
        or type(tracer) is not sdk_trace.Tracer
        or not _samples_everything(getattr(tracer, "sampler", None))
    ):
        return public
    try:
        from opentelemetry.sdk.trace.sampling import Decision
        from opentelemetry.trace import SpanKind, TraceFlags, get_current_span

        make_span = _LEAN_SPAN_TYPE or _SDK_SPAN_TYPE
        sampler = tracer.sampler
        limits, scope = tracer._span_limits, tracer._instrumentation_scope
        span_metrics = tracer._tracer_metrics.start_span
        is_enabled = tracer._is_enabled
        sampled = TraceFlags(TraceFlags.SAMPLED)
        random_sampled = TraceFlags(TraceFlags.SAMPLED | getattr(TraceFlags, "RANDOM_TRACE_ID", 0))
        record_and_sample = Decision.RECORD_AND_SAMPLE
        internal = SpanKind.INTERNAL
    except Exception:
        return public

    def start_span(
        name: str,
        context: Any = None,
        kind: Any = internal,
        attributes: Any = None,
        links: Any = None,
    ) -> Any:
        # The provider may replace a tracer's resource, config or id generator later
        # (``_update_resource``, tracer configurators): those are read on every span.
        # Anything unexpected before the span exists falls back to the SDK's own path;
        # from ``start()`` on (the processors' on_start) it is the SDK's code either way.
        try:
            parent: Any = get_current_span(context).get_span_context()
            if _public_only or tracer.sampler is not sampler or not is_enabled():
                return public(name, context, kind, attributes, links)
            ids = tracer.id_generator
            if parent.is_valid:
                flags = parent.trace_flags
                if not flags.sampled:  # the sampler decides that (and whether to record)
                    return public(name, context, kind, attributes, links)
                trace_id, state = parent.trace_id, parent.trace_state
                random = random_flag and flags.random_trace_id
            else:
                parent, state = None, None
                trace_id = ids.generate_trace_id()
                random = random_flag and ids.is_trace_id_random()
            flags_out = random_sampled if random else sampled
            span_context = _SpanContext(trace_id, ids.generate_span_id(), False, flags_out, state)
            span = make_span(
                name=name, context=span_context, parent=parent, sampler=sampler,
                resource=tracer.resource, attributes=attributes,
                span_processor=tracer.span_processor, kind=kind, links=links or (),
                instrumentation_info=tracer.instrumentation_info, limits=limits,
                instrumentation_scope=scope,
                record_end_metrics=span_metrics(parent, record_and_sample),
            )
        except Exception:
            return public(name, context, kind, attributes, links)
        span.start(parent_context=context)
        return span

    return start_span
