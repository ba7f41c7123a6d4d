"""Secret and PII scrubbing for finished spans, applied on the export thread.

Scrubbing runs on finished spans inside the export queue, so the application thread pays
nothing for it, and it sees every span: vaquero's own and those of any other
instrumentation (HTTP clients that record ``Authorization`` headers, database clients
that record connection strings, exception events whose message quotes a token).

What is looked at: span attributes, event attributes, link attributes, the status
description, and span and event names. Names are meant to be low-cardinality operation
names (docs/design.md), but a token inside an f-string span name is common; names get the
free-text value rules only (no key rules: a name is not a key), and the verdict is cached per
name, because names repeat, so a clean name costs one dict lookup. Resource attributes are
process-wide configuration set by the operator and are left alone. Integer and float values
are not scanned (only a key rule can catch them): ids and timestamps would otherwise look like
numbers.

The same pass makes every string valid UTF-8, also with scrubbing switched off
(:mod:`vaquero._pipeline.scrub_utf8`).

Where each concern lives: this module walks whole spans (names, attributes, events, links,
status, resource, scope) and is the public face; :mod:`vaquero._pipeline.scrub_values` scrubs
one value (strings, JSON text, mappings, PII, the callback, failing closed);
:mod:`vaquero._pipeline.scrub_rules` holds the key and value rules, documented there;
:mod:`vaquero._pipeline.scrub_utf8` makes every string valid UTF-8.

Output and failure policy
-------------------------
A replaced value becomes :data:`MARKER`; the span gets :data:`SCRUBBED_KEYS_ATTRIBUTE`, the
sorted list of the places that changed (``password``, ``events[exception].exception.message``,
``links[0].token``, ``status.description``), never their values. Spans that need no change
are passed through as the same object; only changed spans are rebuilt as new
``ReadableSpan`` objects, keeping dropped-attribute/event/link counts.

Scrubbing fails *closed*: if checking one attribute raises, that attribute becomes the
marker; if a whole span cannot be rebuilt, the span is not exported. Either is counted
(:attr:`Scrubber.internal_errors`) and warned about once per kind on the ``vaquero``
logger. A secret that leaks because a regex misbehaved is worse than a missing attribute,
and nothing raises into the export thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, Status

from vaquero._otel_compat import (
    frozen_attributes,
    has_no_events,
    has_no_links,
    instrumentation_info,
    plain_attributes,
    span_attributes,
)
from vaquero._pipeline.scrub_rules import _KEY_CACHE_MAX, luhn_ok, normalize_key
from vaquero._pipeline.scrub_utf8 import _REPAIRED, Utf8Guard, repair_text
from vaquero._pipeline.scrub_values import (
    MARKER,
    SCRUBBED_KEYS_ATTRIBUTE,
    PiiMode,
    ScrubCallback,
    ScrubMatch,
    ValueScrubber,
    _Drop,
)

__all__ = [
    "MARKER",
    "SCRUBBED_KEYS_ATTRIBUTE",
    "PiiMode",
    "ScrubCallback",
    "ScrubMatch",
    "Scrubber",
    "luhn_ok",
    "normalize_key",
    "repair_text",
]

_T = TypeVar("_T")


class Scrubber(ValueScrubber):
    """Replace secrets (and, on request, e-mail addresses) in finished spans."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        extra_patterns: Sequence[str] = (),
        allow_keys: Sequence[str] = (),
        callback: ScrubCallback | None = None,
        pii: PiiMode = "keep",
        pii_key: bytes | None = None,
    ) -> None:
        super().__init__(enabled=enabled, extra_patterns=extra_patterns, allow_keys=allow_keys,
                         callback=callback, pii=pii, pii_key=pii_key)
        # span/event name -> (what it becomes, whether a rule changed it): names repeat
        self._names: dict[str, tuple[str, bool]] = {}
        self._utf8 = Utf8Guard()

    # --- public entry point ------------------------------------------------------------------
    def scrub_spans(self, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        """Scrubbed spans, in order; unchanged spans are the very objects passed in.

        This runs even with secrets and PII switched off: it is also where every string is
        made valid UTF-8, once, on the export thread.
        """
        out: list[ReadableSpan] = []
        same = True
        for span in spans:
            try:
                new = self._scrub_span(span)
            except Exception:
                self._fail("span", "vaquero: could not scrub a span; it was not exported.")
                same = False
                continue
            same = same and new is span
            out.append(new)
        return spans if same and type(spans) is list else out

    # --- spans -----------------------------------------------------------------------------------
    def _scrub_span(self, span: ReadableSpan) -> ReadableSpan:
        found: list[str] = []
        attrs = span_attributes(span)
        new_attrs = self._scrub_mapping(attrs, "", found, 0)
        new_events = None if has_no_events(span) else self._scrub_events(span, found)
        new_links = None if has_no_links(span) else self._scrub_links(span, found)
        status = span.status
        new_status = None
        if status.description:
            desc = self._scrub_str("status.description", status.description, found)
            if desc is not status.description:
                new_status = Status(status.status_code, MARKER if isinstance(desc, _Drop) else desc)
        name = self._scrub_name(span.name, found)
        resource: Resource | None = span.resource
        scope = span.instrumentation_scope
        if resource is not self._utf8.clean_resource:  # one process: almost always the same one
            resource = self._utf8.valid_resource(resource, found)
        if scope is not self._utf8.clean_scope:
            scope = self._utf8.valid_scope(scope, found)
        if not found:
            return span
        merged = dict(attrs if new_attrs is None else new_attrs)
        keys = set(found)
        keys.discard(_REPAIRED)
        previous = merged.get(SCRUBBED_KEYS_ATTRIBUTE)
        if isinstance(previous, (tuple, list)):
            keys.update(str(k) for k in previous)
        if keys:
            merged[SCRUBBED_KEYS_ATTRIBUTE] = tuple(sorted(keys))
        return ReadableSpan(
            name=name,
            context=span.context,
            parent=span.parent,
            resource=resource,
            attributes=frozen_attributes(merged, span.dropped_attributes),
            events=_bounded_list(span.events, span.dropped_events)
            if new_events is None
            else new_events,
            links=_bounded_list(span.links, span.dropped_links) if new_links is None else new_links,
            kind=span.kind,
            instrumentation_info=instrumentation_info(span),
            status=status if new_status is None else new_status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=scope,
        )

    def _scrub_events(self, span: ReadableSpan, found: list[str]) -> BoundedList[Event] | None:
        events = span.events
        changed = False
        rebuilt: list[Event] = []
        for event in events:
            new = None
            name = self._scrub_name(event.name, found, len(rebuilt))
            if event.attributes:
                attrs = plain_attributes(event.attributes) or event.attributes
                new = self._scrub_mapping(attrs, f"events[{name}].", found, 0)
            if new is None and name is event.name:
                rebuilt.append(event)
                continue
            changed = True
            dropped = getattr(event, "dropped_attributes", 0)
            kept = event.attributes if new is None else frozen_attributes(new, dropped)
            rebuilt.append(Event(name, kept, event.timestamp))
        return _bounded_list(rebuilt, span.dropped_events) if changed else None

    def _scrub_links(self, span: ReadableSpan, found: list[str]) -> BoundedList[Link] | None:
        changed = False
        rebuilt: list[Link] = []
        for i, link in enumerate(span.links):
            new = None
            if link.attributes:
                attrs = plain_attributes(link.attributes) or link.attributes
                new = self._scrub_mapping(attrs, f"links[{i}].", found, 0)
            if new is None:
                rebuilt.append(link)
                continue
            changed = True
            dropped = getattr(link, "dropped_attributes", 0)
            rebuilt.append(Link(link.context, frozen_attributes(new, dropped)))
        return _bounded_list(rebuilt, span.dropped_links) if changed else None

    def _scrub_name(self, name: str, found: list[str], event: int | None = None) -> str:
        """A span name (or event ``event``'s) through the value rules and made valid UTF-8,
        the verdict cached per name: the same object back when nothing changed. The place
        is named only when it is needed: a cache hit costs one lookup."""
        known = self._names.get(name)
        where = ""
        if known is None or known[1]:
            where = "name" if event is None else f"events[{event}].name"
        if known is None:
            scratch: list[str] = []
            new = self._scrub_str(where, name, scratch)
            text = MARKER if isinstance(new, _Drop) else new
            known = (text, any(place != _REPAIRED for place in scratch))
            if text is not name and not known[1]:
                found.append(_REPAIRED)
            if len(self._names) >= _KEY_CACHE_MAX:
                self._names.clear()
            self._names[name] = known
        elif known[0] is not name and not known[1]:
            found.append(_REPAIRED)
        if known[1]:
            found.append(where)
        return known[0]


def _bounded_list(items: Sequence[_T], dropped: int) -> BoundedList[_T]:
    """Events/links in the SDK's container, so ``dropped_events``/``dropped_links`` survive."""
    bounded = BoundedList.from_seq(None, items)
    bounded.dropped = dropped
    return bounded
