"""Split an export batch so that no OTLP request exceeds the collector's message limit.

A gRPC collector refuses any message over 4 MiB (its default ``max_recv_msg_size``) with
RESOURCE_EXHAUSTED, and the stock exporter then drops the *whole* batch: one span with large
attributes would take hundreds of healthy spans down with it. Splitting before sending keeps
every request under the limit.

Sizing uses an upper-bound estimate from the spans' own fields instead of encoding them:
encoding a batch to measure it would double the exporter's CPU cost for every batch, while
the estimate is a walk over values the span already holds. The estimate assumes the largest
protobuf framing for every field (tag plus a five-byte length), so a chunk that fits by the
estimate also fits once encoded. Only a span whose estimate alone is over the limit is
encoded for real, to decide whether it must be dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from vaquero._otel_compat import has_no_events, has_no_links, plain_attributes, span_attributes

GRPC_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# Room under the limit so that the request wrapper and any rounding can never tip it over.
DEFAULT_LIMIT_BYTES = GRPC_MAX_MESSAGE_BYTES - 64 * 1024

_FIELD = 6  # tag (1) + varint length (<= 5): the most framing one length-delimited field costs
_KEY_VALUE = 4 * _FIELD  # KeyValue, its key, its AnyValue and the value's own framing
_SCALAR = 11  # tag + a 10-byte varint / 8-byte fixed value: the largest scalar encoding
_SPAN_FIXED = 160  # ids, kind, times, flags, dropped counts and their framing
_EVENT_FIXED = 2 * _FIELD + _SCALAR + _SCALAR
_LINK_FIXED = 3 * _FIELD + 16 + 8 + 2 * _SCALAR


def _text_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return _text_size(value)
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return _SCALAR
    if isinstance(value, (list, tuple)):
        return _FIELD + sum(_FIELD + _value_size(item) for item in value)
    return _text_size(str(value))


def attributes_size(attributes: Mapping[str, Any] | None) -> int:
    """Upper bound of the encoded size of an attribute map.

    This runs for every attribute of every exported span, so it reads the SDK's
    ``BoundedAttributes`` storage directly (its public iteration copies the dict under a
    lock) and sizes the common scalar and string values inline.
    """
    if not attributes:
        return 0
    items = (plain_attributes(attributes) or attributes).items()
    size = 0
    for key, value in items:
        kind = type(value)
        if kind is str:
            size += len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
        elif kind is int or kind is bool or kind is float:
            size += _SCALAR
        else:
            size += _value_size(value)
        size += _KEY_VALUE + (len(key) if key.isascii() else _text_size(key))
    return size


def span_size(span: ReadableSpan) -> int:
    """Upper bound of one span's encoded size, resource and scope excluded."""
    # ``span.attributes`` wraps the storage in a MappingProxyType, whose iteration goes
    # through the generic Mapping protocol: read the SDK's storage when it is there.
    size = _SPAN_FIXED + _text_size(span.name) + attributes_size(span_attributes(span))
    status = span.status
    if status is not None and status.description:
        size += _text_size(status.description)
    context = span.context
    if context is not None and context.trace_state:
        size += _text_size(context.trace_state.to_header())
    if not has_no_events(span):
        for event in span.events:
            size += _EVENT_FIXED + _text_size(event.name) + attributes_size(event.attributes)
    if has_no_links(span):
        return size
    for link in span.links:
        size += _LINK_FIXED + attributes_size(link.attributes)
        if link.context.trace_state:
            size += _text_size(link.context.trace_state.to_header())
    return size


def _group_size(span: ReadableSpan) -> int:
    """Upper bound of the resource and scope wrappers a span's group adds to a request."""
    size = 4 * _FIELD + attributes_size(span.resource.attributes if span.resource else None)
    scope = span.instrumentation_scope
    if scope is not None:
        size += 3 * _FIELD + _text_size(scope.name) + _text_size(scope.version or "")
        size += _text_size(scope.schema_url or "") + attributes_size(scope.attributes)
    return size


def encoded_size(spans: Sequence[ReadableSpan]) -> int:
    """The exact encoded size of an OTLP request holding ``spans`` (costly: encodes them)."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    return int(encode_spans(spans).ByteSize())


def split_batch(
    spans: Iterable[ReadableSpan], limit: int = DEFAULT_LIMIT_BYTES
) -> tuple[list[list[ReadableSpan]], list[ReadableSpan]]:
    """Chunks of ``spans`` (order kept) that each encode to at most ``limit`` bytes.

    Returns ``(chunks, oversized)``: ``oversized`` are spans that exceed the limit on their
    own; they can never be delivered and are the caller's to count and drop.
    """
    chunks: list[list[ReadableSpan]] = []
    oversized: list[ReadableSpan] = []
    chunk: list[ReadableSpan] = []
    chunk_size = _FIELD
    groups: set[tuple[int, int]] = set()
    for span in spans:
        group = (id(span.resource), id(span.instrumentation_scope))
        extra = span_size(span) + (0 if group in groups else _group_size(span))
        if _FIELD + extra > limit and encoded_size([span]) > limit:
            oversized.append(span)
            continue
        if chunk and chunk_size + extra > limit:
            chunks.append(chunk)
            chunk, chunk_size, groups = [], _FIELD, set()
            extra = span_size(span) + _group_size(span)
        chunk.append(span)
        chunk_size += extra
        groups.add(group)
    if chunk:
        chunks.append(chunk)
    return chunks, oversized
