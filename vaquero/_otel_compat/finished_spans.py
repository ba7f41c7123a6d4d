"""Reading finished spans cheaply: the scrubber's and the OTLP encoder's reads.

Part of :mod:`vaquero._otel_compat` (read its docstring first): private OpenTelemetry
details, each checked before use, each with its public fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext as _SpanContext

from vaquero._otel_compat.span_store import _BOUNDED_LIST_DQ

# Set by vaquero._otel_compat.use_public_fallbacks() (tests): every detail off.
_public_only = False


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
    return _certainly_empty(span, "_events", "events")


def has_no_links(span: Any) -> bool:
    """True when the span certainly has no links; the public property builds a tuple."""
    return _certainly_empty(span, "_links", "links")


def _certainly_empty(span: Any, field: str, public_name: str) -> bool:
    if not _public_only:
        items = getattr(span, field, None)
        if items is not None:
            if type(items) is BoundedList and _BOUNDED_LIST_DQ:  # its len() takes a lock
                return not items._dq  # type: ignore[attr-defined]
            return not items
    return not getattr(span, public_name)


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
