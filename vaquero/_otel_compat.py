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
``SpanProcessor._on_ending``            the one moment after ``end()`` and before the exporters
                                        when a span's store can still be written: identity
                                        attributes evicted by the count limit are put back.
======================================  ==========================================================
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as sdk_trace

__all__ = [
    "OTLP_EXPORTER_LOGGERS",
    "BaseConfigurator",
    "context_operations",
    "frozen_attributes",
    "has_no_events",
    "has_no_links",
    "identity_on_start",
    "install_on_ending",
    "instrumentation_info",
    "plain_attributes",
    "restore_evicted",
    "set_attribute_if_absent",
    "set_scalar_attribute",
    "use_public_fallbacks",
]

# The SDK's concrete span class; ``None`` if it was renamed, which turns the fast path off.
_SDK_SPAN_TYPE: type | None = getattr(sdk_trace, "_Span", None)

# Set once a live span of the SDK's class has shown the expected layout (see _verify_layout).
_fast_span_type: type | None = None
_layout_checked = False
_public_only = False


def _verify_layout(span: Any) -> bool:
    """Check, once, on a real span, every private field the fast paths read."""
    global _fast_span_type, _layout_checked
    if _layout_checked or _public_only:
        return _fast_span_type is not None and type(span) is _fast_span_type
    if _SDK_SPAN_TYPE is None or type(span) is not _SDK_SPAN_TYPE:
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
        _fast_span_type = _SDK_SPAN_TYPE
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
    if type(span) is not _fast_span_type and not _verify_layout(span):
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
    if type(span) is _fast_span_type or _verify_layout(span):
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
    if type(span) is _fast_span_type or _verify_layout(span):
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
    if _public_only or not (type(span) is _fast_span_type or _verify_layout(span)):
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
    return not span.events if events is None else not events


def has_no_links(span: Any) -> bool:
    """True when the span certainly has no links; the public property builds a tuple."""
    if _public_only:
        return not span.links
    links = getattr(span, "_links", None)
    return not span.links if links is None else not links


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


# Loggers of the OTLP exporters whose per-retry lines vaquero replaces with one warning;
# ``_common`` is a private module of the HTTP exporter (absent loggers cost nothing).
OTLP_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
)


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
    BaseConfigurator = _base_configurator()


@contextlib.contextmanager
def use_public_fallbacks() -> Iterator[None]:
    """Tests only: run with every private detail switched off, as on an unknown SDK layout."""
    global _public_only, _fast_span_type, _layout_checked
    saved = (_public_only, _fast_span_type, _layout_checked)
    _public_only, _fast_span_type, _layout_checked = True, None, False
    try:
        yield
    finally:
        _public_only, _fast_span_type, _layout_checked = saved
