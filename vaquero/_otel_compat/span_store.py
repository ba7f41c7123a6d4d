"""Writes into a live SDK span's attribute store, and the lean span class.

The app-thread hot path: every ``set_attribute`` and every agent stamp goes through here.

Part of :mod:`vaquero._otel_compat` (read its docstring first): private OpenTelemetry
details, each checked before use, each with its public fallback.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util import BoundedList

# Set by vaquero._otel_compat.use_public_fallbacks() (tests): every detail off.
_public_only = False


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
            _own_list(self, "_events", no_events, self._limits.max_events)
            super()._add_event(event)

        def _add_link(self, link: Any) -> None:
            _own_list(self, "_links", no_links, self._limits.max_links)
            super()._add_link(link)

    # repr() and logs show the SDK's class name; the module says whose subclass it is
    LeanSpan.__name__ = LeanSpan.__qualname__ = base.__name__
    return LeanSpan if _lean_spans_work(LeanSpan, no_events, no_links) else None


def _own_list(span: Any, field: str, shared: Any, maxlen: int | None) -> None:
    """Give ``span`` a list of its own in place of the ``shared`` empty one, once: checked
    again under the span's lock, so threads adding the first event at once share one list."""
    if getattr(span, field) is shared:
        with span._lock:
            if getattr(span, field) is shared:
                setattr(span, field, BoundedList(maxlen))


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
