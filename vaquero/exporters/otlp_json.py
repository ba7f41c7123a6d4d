"""Encode finished SDK spans as one OTLP ``TracesData`` object in the OTLP/JSON encoding.

The output is what the Collector's ``file`` exporter writes and Jaeger's ``/api/v3`` serves:
camelCase field names, trace/span ids as lowercase hex (the OTLP/JSON rule, unlike protobuf's
default base64 for ``bytes``), 64-bit integers as decimal strings, enums as integers, and fields
holding their proto3 default value left out. Any OTLP/JSON reader, including
``google.protobuf.json_format.Parse`` once ids are turned back into bytes, accepts it.

Why a direct dict builder instead of the SDK's protobuf encoder + ``MessageToDict``: both give
the identical document (checked against ``MessageToDict(..., use_integers_for_enums=True)`` with
ids turned to hex), but the detour through protobuf messages costs about 5x more on the export
thread for every batch (512 spans: ~24 ms via protobuf vs ~5 ms direct).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, StatusCode

from vaquero._attributes import json_safe_float

__all__ = ["encode_spans_json"]

JsonDict = dict[str, Any]

# proto Span.SpanKind is the SDK's SpanKind shifted by one (0 is SPAN_KIND_UNSPECIFIED).
_KIND_OFFSET = 1
# SpanFlags bits, set exactly as the SDK's protobuf encoder sets them.
_FLAG_HAS_IS_REMOTE = 0x100
_FLAG_IS_REMOTE = 0x200
# Attribute values nest (arrays, maps); a cycle or absurd depth must not hang the export thread.
_MAX_VALUE_DEPTH = 16


def encode_spans_json(spans: Sequence[ReadableSpan]) -> JsonDict:
    """Group ``spans`` by resource, then by instrumentation scope, into one ``TracesData`` dict.

    Grouping keeps one resource block per process instead of repeating it on every span, which
    is also the shape every OTLP consumer expects. Insertion order is kept so output is stable.
    """
    grouped: dict[Resource, dict[InstrumentationScope | None, list[JsonDict]]] = {}
    for span in spans:
        context = span.get_span_context()
        if context is None:  # a span without ids cannot be placed in any trace
            continue
        scopes = grouped.setdefault(span.resource, {})
        scopes.setdefault(span.instrumentation_scope, []).append(_encode_span(span, context))

    resource_spans: list[JsonDict] = []
    for resource, scopes in grouped.items():
        scope_spans: list[JsonDict] = []
        for scope, encoded in scopes.items():
            block: JsonDict = {"scope": _encode_scope(scope), "spans": encoded}
            if scope is not None and scope.schema_url:
                block["schemaUrl"] = scope.schema_url
            scope_spans.append(block)
        entry: JsonDict = {"resource": _encode_resource(resource), "scopeSpans": scope_spans}
        if resource.schema_url:
            entry["schemaUrl"] = resource.schema_url
        resource_spans.append(entry)
    return {"resourceSpans": resource_spans}


def _encode_resource(resource: Resource) -> JsonDict:
    out: JsonDict = {}
    attributes = _encode_attributes(resource.attributes)
    if attributes:
        out["attributes"] = attributes
    return out


def _encode_scope(scope: InstrumentationScope | None) -> JsonDict:
    if scope is None:
        return {}
    out: JsonDict = {}
    if scope.name:
        out["name"] = scope.name
    if scope.version:
        out["version"] = scope.version
    attributes = _encode_attributes(scope.attributes)
    if attributes:
        out["attributes"] = attributes
    return out


def _flags(parent: SpanContext | None) -> int:
    if parent is not None and parent.is_remote:
        return _FLAG_HAS_IS_REMOTE | _FLAG_IS_REMOTE
    return _FLAG_HAS_IS_REMOTE


def _trace_state(context: SpanContext) -> str:
    state = context.trace_state
    if not state:
        return ""
    return ",".join(f"{key}={value}" for key, value in state.items())


def _context_fields(context: SpanContext) -> JsonDict:
    """traceId, spanId (hex, as OTLP/JSON wants) and traceState: shared by spans and links."""
    out: JsonDict = {
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
    }
    trace_state = _trace_state(context)
    if trace_state:
        out["traceState"] = trace_state
    return out


def _encode_span(span: ReadableSpan, context: SpanContext) -> JsonDict:
    out = _context_fields(context)
    parent = span.parent
    if parent is not None:
        out["parentSpanId"] = f"{parent.span_id:016x}"
    out["flags"] = _flags(parent)
    if span.name:
        out["name"] = span.name
    out["kind"] = span.kind.value + _KIND_OFFSET
    if span.start_time:
        out["startTimeUnixNano"] = str(span.start_time)
    if span.end_time:
        out["endTimeUnixNano"] = str(span.end_time)
    attributes = _encode_attributes(span.attributes)
    if attributes:
        out["attributes"] = attributes
    if span.dropped_attributes:
        out["droppedAttributesCount"] = span.dropped_attributes
    events = [_encode_event(event) for event in span.events]
    if events:
        out["events"] = events
    if span.dropped_events:
        out["droppedEventsCount"] = span.dropped_events
    links = [_encode_link(link) for link in span.links]
    if links:
        out["links"] = links
    if span.dropped_links:
        out["droppedLinksCount"] = span.dropped_links
    out["status"] = _encode_status(span.status.status_code, span.status.description)
    return out


def _encode_event(event: Event) -> JsonDict:
    out: JsonDict = {}
    if event.timestamp:
        out["timeUnixNano"] = str(event.timestamp)
    if event.name:
        out["name"] = event.name
    encoded = _encode_attributes(event.attributes)
    if encoded:
        out["attributes"] = encoded
    if event.dropped_attributes:
        out["droppedAttributesCount"] = event.dropped_attributes
    return out


def _encode_link(link: Link) -> JsonDict:
    context = link.context
    out = _context_fields(context)
    encoded = _encode_attributes(link.attributes)
    if encoded:
        out["attributes"] = encoded
    if link.dropped_attributes:
        out["droppedAttributesCount"] = link.dropped_attributes
    out["flags"] = _flags(context)
    return out


def _encode_status(code: StatusCode, description: str | None) -> JsonDict:
    out: JsonDict = {}
    if description:
        out["message"] = description
    if code.value:
        out["code"] = code.value
    return out


def _encode_attributes(attributes: Mapping[str, Any] | None) -> list[JsonDict]:
    if not attributes:
        return []
    return [
        {"key": str(key), "value": _encode_value(value, 0)} for key, value in attributes.items()
    ]


def _encode_value(value: Any, depth: int) -> JsonDict:
    """One ``AnyValue``; ``bool`` is tested before ``int`` because it is a subclass of it."""
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": json_safe_float(value)}
    if value is None or depth >= _MAX_VALUE_DEPTH:
        return {}
    if isinstance(value, (bytes, bytearray)):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        return {
            "kvlistValue": {
                "values": [
                    {"key": str(key), "value": _encode_value(item, depth + 1)}
                    for key, item in value.items()
                ]
            }
        }
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [_encode_value(item, depth + 1) for item in value]}}
    # The SDK only admits the types above; anything else is shown rather than dropped.
    return {"stringValue": repr(value)}
