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

import collections
import contextlib
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext as _SpanContext

__all__ = [
    "OTLP_EXPORTER_LOGGERS",
    "BaseConfigurator",
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
    "span_starter",
    "start_span_shape",
    "suppress_instrumentation",
    "use_public_fallbacks",
]

# BoundedList keeps its items in a deque ``_dq``; its own len() and iteration take a lock.
_BOUNDED_LIST_DQ = isinstance(getattr(BoundedList(None), "_dq", None), collections.deque)

# The SDK's concrete span class; ``None`` if it was renamed, which turns the fast path off.
_SDK_SPAN_TYPE: type | None = getattr(sdk_trace, "_Span", None)


def _lean_span_class() -> type | None:
    """The SDK's span class, but sharing one empty event list and one empty link list.

    Most spans never get an event or a link, yet the SDK gives each two ``BoundedList``
    objects (each a deque and a lock). Those are four of the seven objects a queued span keeps
    for the garbage collector to walk, and about 0.8 us to build. A span of this class starts
    with the shared empty ones and gets its own list at its first event or link, under the
    span's lock, before the SDK's own ``_add_event``/``_add_link`` appends. The shared lists
    hold nothing (``maxlen=0``): should another path ever append to them, the item is dropped,
    never shown on another span. Used only after a probe span has shown that events and links
    land in the span's own lists (see :func:`_lean_spans_work`).
    """
    base = _SDK_SPAN_TYPE
    hooks = ("_new_events", "_new_links", "_add_event", "_add_link", "_lock", "_limits")
    if base is None or not _BOUNDED_LIST_DQ or not all(hasattr(base, h) for h in hooks[:4]):
        return None
    no_events: Any = BoundedList(0)
    no_links: Any = BoundedList(0)

    class LeanSpan(base):  # type: ignore[misc,valid-type]
        _events: Any  # annotations only: the SDK's __init__ sets both
        _links: Any

        def _new_events(self) -> Any:
            return no_events

        def _new_links(self, links: Any) -> Any:
            return super()._new_links(links) if links else no_links

        def _add_event(self, event: Any) -> None:
            if self._events is no_events:
                with self._lock:
                    if self._events is no_events:
                        self._events = BoundedList(self._limits.max_events)
            super()._add_event(event)

        def _add_link(self, link: Any) -> None:
            if self._links is no_links:
                with self._lock:
                    if self._links is no_links:
                        self._links = BoundedList(self._limits.max_links)
            super()._add_link(link)

    # repr() and logs show the SDK's class name; the module says whose subclass it is
    LeanSpan.__name__ = LeanSpan.__qualname__ = base.__name__
    return LeanSpan if _lean_spans_work(LeanSpan, no_events, no_links) else None


def _lean_spans_work(kind: type, no_events: Any, no_links: Any) -> bool:
    """Probe: two spans of ``kind``, one given an event, an exception and a link through the
    public API; each must end with exactly its own, the shared lists still empty."""
    from opentelemetry.sdk.trace import SpanLimits, SpanProcessor
    from opentelemetry.trace import SpanContext, TraceFlags

    try:
        def probe(span_id: int) -> Any:
            span = kind(
                name="probe", context=SpanContext(1, span_id, False, TraceFlags(1)),
                resource=Resource.get_empty(), span_processor=SpanProcessor(),
                limits=SpanLimits(),
            )
            span.start()
            return span

        busy, quiet = probe(2), probe(3)
        busy.add_event("event")
        busy.record_exception(ValueError("probe"))
        busy.add_link(SpanContext(1, 4, False))
        busy.end()
        quiet.end()
        return (
            [e.name for e in busy.events] == ["event", "exception"]
            and [link.context.span_id for link in busy.links] == [4]
            and quiet.events == () and quiet.links == ()
            and not no_events._dq and not no_links._dq
            and no_events.dropped == no_links.dropped == 0
        )
    except Exception:
        return False


_LEAN_SPAN_TYPE = _lean_span_class()

# Set once a live span of the SDK's class has shown the expected layout (see _verify_layout).
_fast_span_types: frozenset[type] = frozenset()
_layout_checked = False
_public_only = False


def _verify_layout(span: Any) -> bool:
    """Check, once, on a real span, every private field the fast paths read."""
    global _fast_span_types, _layout_checked
    if _layout_checked or _public_only:
        return type(span) in _fast_span_types
    if _SDK_SPAN_TYPE is None or type(span) not in (_SDK_SPAN_TYPE, _LEAN_SPAN_TYPE):
        return False
    _layout_checked = True
    store = getattr(span, "_attributes", None)
    if (
        hasattr(span, "_end_time")
        and type(store) is BoundedAttributes
        and type(getattr(store, "_dict", None)) is dict
        and hasattr(store, "_lock")
        and isinstance(getattr(store, "_immutable", None), bool)
        and hasattr(store, "maxlen")
        and hasattr(store, "max_value_len")
    ):
        _fast_span_types = frozenset(t for t in (_SDK_SPAN_TYPE, _LEAN_SPAN_TYPE) if t)
        return True
    return False


def set_scalar_attribute(span: Any, key: str, value: Any) -> bool:
    """Write an already valid scalar into a live SDK span's store; False: call the public API.

    ``BoundedAttributes.__setitem__`` re-validates and re-cleans a value vaquero has already
    made valid and bounded, and ``Span.set_attribute`` adds a span-wide lock that only guards
    the "ended?" check done here. This does the store's own bookkeeping under its own lock (a
    re-set key moves to the end, as there) and leaves to the public API every case it decides
    differently: an ended span, an immutable store, a full one (it evicts and counts), a
    string over the provider's own length limit.
    """
    if type(span) not in _fast_span_types and not _verify_layout(span):
        return False
    if span._end_time is not None:
        return False
    store = span._attributes
    if store._immutable:
        return False
    limit = store.max_value_len
    if limit is not None and type(value) is str and len(value) > limit:
        return False
    with store._lock:
        values = store._dict
        if key in values:
            del values[key]
        elif store.maxlen is not None and len(values) >= store.maxlen:
            return False
        values[key] = value
    return True


def set_attribute_if_absent(span: Any, key: str, value: Any) -> None:
    """Stamp ``key`` on a span that is starting, unless the span already carries it.

    Every span of every tracer passes through this (the agent-name processor), so the
    fast path reads the store's plain dict instead of the Mapping protocol and writes through
    the store (which locks and validates by itself) instead of ``Span.set_attribute``.
    """
    if type(span) in _fast_span_types or _verify_layout(span):
        store = span._attributes
        if key not in store._dict:
            store[key] = value
        return
    attributes = span.attributes
    if not attributes or key not in attributes:
        span.set_attribute(key, value)


def identity_on_start(span: Any, key: str, value: str) -> Any:
    """Stamp ``key`` on a starting span unless it carries one; return the span's value.

    Runs for every span inside an agent (the agent-name processor): the fast path reads the
    store's plain dict and writes through the store, as :func:`set_attribute_if_absent`.
    """
    if type(span) in _fast_span_types or _verify_layout(span):
        store = span._attributes
        named = store._dict.get(key)
        if named is None:
            store[key] = named = value
        return named
    attributes = span.attributes or {}
    named = attributes.get(key)
    if named is None:
        span.set_attribute(key, value)
        named = value
    return named


def restore_evicted(span: Any, identity: Mapping[str, Any], protected: frozenset[str]) -> bool:
    """Put evicted ``identity`` attributes back into an *ending* span's store.

    Only does work when the store has dropped something. Each restored attribute evicts the
    oldest attribute not in ``protected`` (counted as dropped, as the SDK counts its own
    evictions). The public API refuses writes once ``end()`` has run, so without the fast
    path nothing is restored (False).
    """
    if _public_only or not (type(span) in _fast_span_types or _verify_layout(span)):
        return False
    store = span._attributes
    if not store.dropped:
        return True
    with store._lock:
        values = store._dict
        for key, value in identity.items():
            if value is None or key in values:
                continue
            if store.maxlen is not None and len(values) >= store.maxlen:
                victim = next((k for k in values if k not in protected), None)
                if victim is None:
                    continue
                del values[victim]
                store.dropped += 1
            values[key] = value
    return True


def install_on_ending(processor_class: type, method_name: str) -> bool:
    """Make ``processor_class.<method_name>`` the SDK's ``_on_ending`` hook, if it has one.

    The SDK calls ``SpanProcessor._on_ending(span)`` on the thread that ends the span,
    after ``end()`` and before ``on_end``; an SDK without the hook simply never calls it.
    """
    from opentelemetry.sdk.trace import SpanProcessor

    if _public_only or not hasattr(SpanProcessor, "_on_ending"):
        return False
    setattr(processor_class, "_on_ending", getattr(processor_class, method_name))  # noqa: B010
    return True


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


def plain_attributes(attrs: object) -> dict[str, Any] | None:
    """The plain dict inside the SDK's ``BoundedAttributes`` (read only), or None.

    Iterating it is ~3x cheaper than going through the Mapping ABC (0.4 vs 1.3 us for ten
    attributes), and the scrubber runs this for every attribute of every span.
    """
    if type(attrs) is dict:
        return attrs
    if not _public_only and isinstance(attrs, BoundedAttributes):
        inner = getattr(attrs, "_dict", None)
        if type(inner) is dict:
            return inner
    return None


def span_attributes(span: Any) -> Mapping[str, Any]:
    """A finished span's attributes, as cheaply as the SDK allows."""
    return plain_attributes(getattr(span, "_attributes", None)) or span.attributes or {}


def has_no_events(span: Any) -> bool:
    """True when the span certainly has no events; the public property builds a tuple."""
    if _public_only:
        return not span.events
    events = getattr(span, "_events", None)
    if events is None:
        return not span.events
    if type(events) is BoundedList and _BOUNDED_LIST_DQ:  # its len() takes a lock
        return not events._dq  # type: ignore[attr-defined]
    return not events


def has_no_links(span: Any) -> bool:
    """True when the span certainly has no links; the public property builds a tuple."""
    if _public_only:
        return not span.links
    links = getattr(span, "_links", None)
    if links is None:
        return not span.links
    if type(links) is BoundedList and _BOUNDED_LIST_DQ:
        return not links._dq  # type: ignore[attr-defined]
    return not links


def frozen_attributes(attrs: Mapping[str, Any], dropped: int) -> BoundedAttributes:
    """Immutable attributes like the SDK's own, carrying the original dropped count.

    The values are already clean (the SDK cleaned them, or they are vaquero's replacement
    strings), so the dict is installed directly, as the SDK's own ``__deepcopy__`` does:
    re-cleaning every value was most of the cost of rebuilding a span.
    """
    bounded = BoundedAttributes(maxlen=None, immutable=True)
    if not _public_only and type(getattr(bounded, "_dict", None)) is dict:
        bounded._dict = dict(attrs)
    else:
        bounded = BoundedAttributes(maxlen=None, attributes=attrs, immutable=True)
    bounded.dropped = dropped
    return bounded


def instrumentation_info(span: Any) -> Any:
    """The deprecated ``instrumentation_info`` a ReadableSpan is rebuilt with, or None.

    The public property emits a deprecation warning on every read; the field carries the
    same object. Without the field, None: the SDK derives nothing else from it.
    """
    return getattr(span, "_instrumentation_info", None)


# --- starting spans ---------------------------------------------------------------------------
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
        span_context = _SpanContext(
            trace_id, ids.generate_span_id(), False, random_sampled if random else sampled, state
        )
        span = make_span(
            name=name, context=span_context, parent=parent, sampler=sampler,
            resource=tracer.resource, attributes=attributes,
            span_processor=tracer.span_processor, kind=kind, links=links or (),
            instrumentation_info=tracer.instrumentation_info, limits=limits,
            instrumentation_scope=scope, record_end_metrics=span_metrics(parent, record_and_sample),
        )
        span.start(parent_context=context)
        return span

    return start_span


# --- the OTLP encoder's reads and seams --------------------------------------------------------
_EXPORT_PROPERTIES = (
    "context", "parent", "name", "kind", "start_time", "end_time", "attributes", "events",
    "links", "status", "resource", "instrumentation_scope",
)
_export_fast: dict[type, bool] = {}


def _context_is_a_plain_tuple() -> bool:
    """Whether ``SpanContext`` is the tuple (trace_id, span_id, is_remote, flags, state, valid)."""
    from opentelemetry.trace import SpanContext, TraceFlags
    from opentelemetry.trace.span import TraceState

    state = TraceState([("k", "v")])
    probe = SpanContext(7, 9, True, TraceFlags(1), state)
    try:
        return tuple(probe) == (7, 9, True, TraceFlags(1), state, True)
    except Exception:
        return False


_CONTEXT_TUPLE = _context_is_a_plain_tuple()
_BOUNDED_DICT = type(getattr(BoundedAttributes(), "_dict", None)) is dict


def _fields_readable(kind: type) -> bool:
    """Whether ``kind`` keeps ``ReadableSpan``'s properties over its ``_<property>`` fields."""
    fast = _export_fast.get(kind)
    if fast is None:
        # An explicit resource: without one the SDK runs the resource detectors (a thread
        # pool, which fails while the interpreter shuts down) for this throwaway span.
        probe = sdk_trace.ReadableSpan(name="probe", resource=Resource.get_empty())
        fast = (
            _CONTEXT_TUPLE
            and _BOUNDED_DICT
            and _BOUNDED_LIST_DQ
            and issubclass(kind, sdk_trace.ReadableSpan)
            and all(
                getattr(kind, name, None) is getattr(sdk_trace.ReadableSpan, name)
                and hasattr(probe, "_" + name)
                for name in _EXPORT_PROPERTIES
            )
        )
        _export_fast[kind] = fast
    return fast


# trace_id, span_id, trace_state, parent span id (None: no parent), parent is remote, name,
# kind, start, end, attribute items, dropped attributes, events, links, status, resource,
# scope, dropped events, dropped links
ExportFields = tuple[
    int, int, Any, "int | None", bool, str, Any, Any, Any, Any, int, Any, Any, Any, Any, Any,
    int, int,
]


def export_fields(span: Any) -> ExportFields:
    """Everything the OTLP encoder reads from a finished span, in one call.

    The public properties copy (``events``/``links`` build tuples, ``attributes`` wraps a
    proxy that iterates through the Mapping ABC) and every one is a Python call; the
    encoder reads all of them for every span. The fast path reads the SDK's fields, the
    ``SpanContext`` tuple and the attribute store's dict, each layout checked once.
    """
    if not _public_only and (_export_fast.get(type(span)) or _fields_readable(type(span))):
        context = span._context
        parent = span._parent
        attributes = span._attributes
        if type(context) is _SpanContext and (parent is None or type(parent) is _SpanContext):
            trace_id, span_id, _, _, state, _ = context
            if type(attributes) is BoundedAttributes:
                items: Any = attributes._dict.items()
                dropped = attributes.dropped
            else:
                items = attributes.items() if attributes else ()
                dropped = 0
            events: Any = span._events
            links: Any = span._links
            dropped_events = dropped_links = 0
            if type(events) is BoundedList:  # its len() and iteration take a lock each
                dropped_events = events.dropped
                events = events._dq  # type: ignore[attr-defined]
            if type(links) is BoundedList:
                dropped_links = links.dropped
                links = links._dq  # type: ignore[attr-defined]
            return (
                trace_id, span_id, state,
                None if parent is None else parent[1], parent is not None and parent[2],
                span._name, span._kind, span._start_time, span._end_time, items, dropped,
                events, links, span._status, span._resource, span._instrumentation_scope,
                dropped_events, dropped_links,
            )
    context = span.context
    parent = span.parent
    attributes = span.attributes
    dropped = getattr(span, "dropped_attributes", 0)
    return (
        context.trace_id, context.span_id, context.trace_state,
        parent.span_id if parent else None, bool(parent and parent.is_remote),
        span.name, span.kind, span.start_time, span.end_time,
        attributes.items() if attributes else (), dropped,
        span.events, span.links, span.status, span.resource, span.instrumentation_scope,
        getattr(span, "dropped_events", 0), getattr(span, "dropped_links", 0),
    )


def _code_names(func: object) -> tuple[str, ...]:
    code = getattr(func, "__code__", None)
    return tuple(code.co_names) if code is not None else ()


def preencoded_grpc_exporter(
    payload_of: Callable[[Sequence[Any]], bytes], stub: type
) -> type | None:
    """The stock gRPC span exporter sending ``payload_of(batch)`` through ``stub``; or None.

    ``OTLPExporterMixin`` creates its client as ``self._stub(self._channel)`` in
    ``_initialize_channel_and_stub`` (at start and on every reconnect) and sends
    ``self._client.Export(request=self._translate_data(data), ...)``; the subclass swaps in a
    stub without a request serializer and translates a batch to its bytes. Checked on the
    installed code (present from 1.40.0 to 1.45.1 at least).
    """
    if _public_only:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.grpc import exporter as mixin_module
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    except ImportError:
        return None
    mixin = getattr(mixin_module, "OTLPExporterMixin", None)
    init_stub = getattr(mixin, "_initialize_channel_and_stub", None)
    if "_translate_data" not in _code_names(getattr(mixin, "_export", None)):
        return None
    if not {"_stub", "_client", "_channel"} <= set(_code_names(init_stub)):
        return None
    if "_translate_data" not in vars(OTLPSpanExporter):
        return None

    class PreEncodedGrpcSpanExporter(OTLPSpanExporter):
        """gRPC OTLP span exporter whose requests are already-encoded bytes."""

        accepts_encoded = True

        def _initialize_channel_and_stub(self) -> None:
            self._stub = stub
            super()._initialize_channel_and_stub()  # type: ignore[no-untyped-call]

        def _translate_data(self, data: Sequence[Any]) -> Any:
            return payload_of(data)

    return PreEncodedGrpcSpanExporter


def preencoded_http_exporter(encode_spans: Callable[[Sequence[Any]], Any]) -> type | None:
    """The stock HTTP span exporter with its ``encode_spans`` call bound to ``encode_spans``.

    ``OTLPSpanExporter.export`` calls the module-level ``encode_spans(spans)`` and then
    ``.SerializePartialToString()`` (1.40.0 to 1.45.1). The subclass's ``export`` is the
    stock function's own code object with that one global rebound; the stock module and
    every other exporter instance are untouched. None when the code no longer fits.
    """
    if _public_only:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        return None
    export = vars(OTLPSpanExporter).get("export")
    if not isinstance(export, types.FunctionType):
        return None
    code = export.__code__
    if "encode_spans" not in code.co_names or code.co_freevars:
        return None
    if "encode_spans" not in export.__globals__:
        return None
    rebound = types.FunctionType(
        code,
        {**export.__globals__, "encode_spans": encode_spans},
        export.__name__,
        export.__defaults__,
        export.__closure__,
    )
    rebound.__kwdefaults__ = export.__kwdefaults__
    rebound.__qualname__ = export.__qualname__
    rebound.__doc__ = export.__doc__

    class PreEncodedHttpSpanExporter(OTLPSpanExporter):
        """HTTP OTLP span exporter whose requests are already-encoded bytes."""

        accepts_encoded = True

    setattr(PreEncodedHttpSpanExporter, "export", rebound)  # noqa: B010 - a method, rebound
    return PreEncodedHttpSpanExporter


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


# Loggers of the OTLP exporters whose per-retry lines vaquero replaces with one warning;
# ``_common`` is a private module of the HTTP exporter (absent loggers cost nothing).
OTLP_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
)


def grpc_status_in_log_record(record: Any) -> str | None:
    """The gRPC status name a stock OTLP gRPC exporter's log record carries, or None.

    The exporter keeps a failed attempt's status to itself and only logs it, as an argument
    of its retry and failure lines (not a documented format). Without it (another layout),
    vaquero reports the record's own words instead of a classified status.
    """
    args = getattr(record, "args", None)
    if not isinstance(args, tuple):
        return None
    for arg in args:
        if type(arg).__name__ == "StatusCode" and isinstance(getattr(arg, "name", None), str):
            return str(arg.name)
    return None


def _base_configurator() -> type:
    try:
        from opentelemetry.sdk._configuration import _BaseConfigurator
    except ImportError:  # the private module moved: the protocol is one method

        class _PublicConfigurator:
            def configure(self, **kwargs: Any) -> None:
                self._configure(**kwargs)

            def _configure(self, **kwargs: Any) -> None:  # pragma: no cover - overridden
                raise NotImplementedError

        return _PublicConfigurator
    return _BaseConfigurator


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
            value = globals()["BaseConfigurator"] = _base_configurator()
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextlib.contextmanager
def use_public_fallbacks() -> Iterator[None]:
    """Tests only: run with every private detail switched off, as on an unknown SDK layout."""
    global _public_only, _fast_span_types, _layout_checked
    saved = (_public_only, _fast_span_types, _layout_checked)
    _public_only, _fast_span_types, _layout_checked = True, frozenset(), False
    try:
        yield
    finally:
        _public_only, _fast_span_types, _layout_checked = saved
