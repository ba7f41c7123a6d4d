"""Write OTLP/protobuf trace requests (``ExportTraceServiceRequest`` bytes) straight from spans.

Why not the stock encoder? ``opentelemetry-exporter-otlp-proto-common`` builds a tree of
protobuf objects per batch (a message per span, attribute, value, event and status), hashes
each span's resource through ``json.dumps`` to group it, then serialises the tree. Measured
on the export thread that is most of the CPU a delivered span costs, and the export thread
holds the GIL while it works, so the application pays for it. Writing the wire format
directly costs a fraction of that: the framing is a handful of precomputed tags and
lengths, repeated strings (span names, attribute keys, common attribute values) are cached
already encoded, and the resource and scope wrappers are encoded once and reused for every
span and batch that shares them.

What is written matches the stock encoder message for message (``tests/test_encoder.py``
decodes both with ``opentelemetry-proto`` and compares them, property-based), with three
deliberate differences, each where the stock encoder loses data:

* a string holding a lone surrogate (not valid UTF-8, which protobuf requires) is written
  with U+FFFD in place of each surrogate; the stock encoder raises, which drops the
  attribute, or the whole batch when the surrogate is in a span name;
* a link's ``trace_state`` is written (the stock encoder leaves the field out);
* nothing is logged per value: a value OTLP cannot carry (an int outside int64, an
  unsupported type) leaves its attribute out, as the stock encoder does, with one warning
  per process instead of a traceback per export.

Spans are read through :func:`vaquero._otel_compat.export_fields`, which takes the SDK's
own fields for span classes whose properties are exactly ``ReadableSpan``'s and the public
properties otherwise.
"""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

from vaquero._diagnostics import warn_once
from vaquero._otel_compat import ExportFields, export_fields, plain_attributes

logger = logging.getLogger("vaquero")

__all__ = ["encode_request", "encode_requests"]

_M64 = (1 << 64) - 1
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
# Caches of encoded keys, names and attribute pairs are cleared (not evicted) when full.
# Bounds: 4,096 keys or names; 1,024 pairs per (field tag, value type), values of at most
# 128 characters (longer ones rarely repeat): a few MiB in the worst case.
_CACHE_LIMIT = 4096
_PAIR_CACHE_LIMIT = 1024
_CACHED_VALUE_MAX = 128

_IDS = struct.Struct(">2sQQ2sQ")  # trace_id (field 1) and span_id (field 2), big-endian ids
_PARENT = struct.Struct(">2sQ")  # parent_span_id (field 4)
_TIMES = struct.Struct("<BQBQ")  # start (field 7) and end (field 8) time, fixed64
_FIXED64 = struct.Struct("<Q")
_DOUBLE = struct.Struct("<d")
_LINK_IDS = struct.Struct(">2sQQ2sQ")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _varint_slow(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL = [_varint_slow(i) for i in range(1024)]


def _varint(value: int) -> bytes:
    """A non-negative int as a protobuf varint (callers mask negatives to 64 bits)."""
    if value < 1024:
        return _SMALL[value]
    return _varint_slow(value)


def _utf8(text: str) -> bytes:
    """UTF-8 bytes of ``text``; lone surrogates (not encodable) become U+FFFD."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode()


def _bytes_field(tag: bytes, data: bytes) -> bytes:
    size = len(data)
    return tag + (_SMALL[size] if size < 1024 else _varint_slow(size)) + data


class Unencodable(ValueError):
    """A value OTLP's AnyValue cannot carry (int out of int64 range, unsupported type)."""


def _warn_unencodable(key: object, value: object) -> None:
    warn_once(
        "unencodable-attribute",
        "vaquero: attribute %r has a value OTLP cannot carry (%s: %.60r); it is left out of "
        "exported spans. Use a str, bool, float, bytes, an int within the 64-bit range, or a "
        "sequence of these.",
        key,
        type(value).__name__,
        value,
    )


# --- values ------------------------------------------------------------------------------------
def any_value(value: Any) -> bytes:
    """The body of an ``AnyValue`` message for ``value``, as the stock encoder types it.

    The isinstance order is the stock encoder's (bool before int, str and bytes before
    Sequence) so subclasses land in the same field. Raises :class:`Unencodable`.
    """
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _bytes_field(b"\x0a", _utf8(value))
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise Unencodable(value)
        return b"\x18" + _varint(value & _M64)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, bytes):
        return _bytes_field(b"\x3a", value)
    if isinstance(value, Sequence):
        inner = b"".join([_bytes_field(b"\x0a", any_value(item)) for item in value])
        return _bytes_field(b"\x2a", inner)
    if isinstance(value, Mapping):
        inner = b"".join([_bytes_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items()])
        return _bytes_field(b"\x32", inner)
    raise Unencodable(value)


_KEYS: dict[str, bytes] = {}


def _key(key: str) -> bytes:
    """``KeyValue.key`` (field 1), tag and length included, cached per key."""
    cached = _KEYS.get(key)
    if cached is None:
        if not isinstance(key, str):
            raise Unencodable(key)
        if len(_KEYS) >= _CACHE_LIMIT:
            _KEYS.clear()
        cached = _KEYS[key] = _bytes_field(b"\x0a", _utf8(key))
    return cached


def _key_value(key: str, value: Any) -> bytes:
    return _key(key) + _bytes_field(b"\x12", any_value(value))


# Recent (key, value) pairs, encoded with their field tag, per tag and per value type
# (1, 1.0 and True are equal as dict keys but encode differently).
_CACHED_TYPES = (str, int, float, bool)
_ATTR_CACHES: dict[bytes, dict[type, dict[tuple[str, Any], bytes]]] = {}


def _caches_for(tag: bytes) -> dict[type, dict[tuple[str, Any], bytes]]:
    caches = _ATTR_CACHES.get(tag)
    if caches is None:
        caches = _ATTR_CACHES[tag] = {kind: {} for kind in _CACHED_TYPES}
    return caches


def _scalar_attribute(tag: bytes, key: str, value: Any) -> bytes | None:
    """A ``tag``-ged ``KeyValue`` field for a str/int/float/bool value, remembered for reuse.

    None when the value cannot be carried (an int outside int64, an unencodable key).
    """
    try:
        body = _key_value(key, value)
    except Exception:
        _warn_unencodable(key, value)
        return None
    entry = tag + _varint(len(body)) + body
    if type(value) is not str or len(value) <= _CACHED_VALUE_MAX:
        cache = _caches_for(tag)[type(value)]
        if len(cache) >= _PAIR_CACHE_LIMIT:
            cache.clear()
        cache[(key, value)] = entry
    return entry


def _attributes(parts: list[bytes], tag: bytes, items: Iterable[tuple[str, Any]]) -> None:
    """Append each attribute as a ``tag``-ged ``KeyValue`` field to ``parts``."""
    caches = _ATTR_CACHES.get(tag) or _caches_for(tag)
    for key, value in items:
        cache = caches.get(type(value))
        if cache is not None:
            entry = cache.get((key, value))
            if entry is None:
                entry = _scalar_attribute(tag, key, value)
                if entry is None:
                    continue
            parts.append(entry)
            continue
        try:
            body = _key_value(key, value)
        except Exception:  # Unencodable, or whatever else the stock encoder also refuses
            _warn_unencodable(key, value)
            continue
        parts.append(tag)
        parts.append(_varint(len(body)))
        parts.append(body)


# --- span model access -------------------------------------------------------------------------
def _items(attributes: Any) -> Iterable[tuple[str, Any]]:
    """The (key, value) pairs of an attribute mapping, its plain dict's when it has one.

    ``BoundedAttributes`` iterates by copying its dict under a lock, then looks every key up
    again through ``__getitem__``; a finished span's attributes no longer change.
    """
    if type(attributes) is dict:
        return attributes.items()
    inner = plain_attributes(attributes)
    if inner is not None:
        return inner.items()
    if not attributes:
        return ()
    return attributes.items()  # type: ignore[no-any-return]


def _dropped(container: Any) -> int:
    dropped = getattr(container, "dropped", 0)
    return dropped if type(dropped) is int else 0


# --- spans -------------------------------------------------------------------------------------
_KIND = {kind: b"\x30" + bytes((kind.value + 1,)) for kind in SpanKind}
_FLAGS_LOCAL = b"\x85\x01" + struct.pack("<I", 0x100)  # SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE
_FLAGS_REMOTE = b"\x85\x01" + struct.pack("<I", 0x300)  # ... and CONTEXT_IS_REMOTE
_LINK_FLAGS_LOCAL = b"\x35" + struct.pack("<I", 0x100)
_LINK_FLAGS_REMOTE = b"\x35" + struct.pack("<I", 0x300)
_STATUS_NO_MESSAGE = {0: b"\x7a\x00", 1: b"\x7a\x02\x18\x01", 2: b"\x7a\x02\x18\x02"}
_NAMES: dict[str, bytes] = {}


def _name(name: str) -> bytes:
    """``Span.name`` (field 5) with its framing; span names are few, so they are cached."""
    cached = _NAMES.get(name)
    if cached is None:
        cached = _bytes_field(b"\x2a", _utf8(name)) if name else b""
        if len(name) <= _CACHED_VALUE_MAX:
            if len(_NAMES) >= _CACHE_LIMIT:
                _NAMES.clear()
            _NAMES[name] = cached
    return cached


def _trace_state(state: Any) -> str:
    return ",".join([f"{key}={value}" for key, value in state.items()])


def _status(status: Any) -> bytes:
    if status is None:
        return b""
    code = status.status_code.value
    description = status.description
    if not description:
        cached = _STATUS_NO_MESSAGE.get(code)
        if cached is not None:
            return cached
    body = (_bytes_field(b"\x12", _utf8(description)) if description else b"") + (
        b"\x18" + _varint(code & _M64) if code else b""
    )
    return _bytes_field(b"\x7a", body)


def _event(event: Any) -> bytes:
    parts: list[bytes] = []
    timestamp = event.timestamp
    if timestamp:
        parts.append(b"\x09" + _FIXED64.pack(timestamp))
    if event.name:
        parts.append(_bytes_field(b"\x12", _utf8(event.name)))
    attributes = event.attributes
    _attributes(parts, b"\x1a", _items(attributes))
    dropped = _dropped(attributes)
    if dropped:
        parts.append(b"\x20" + _varint(dropped))
    return _bytes_field(b"\x5a", b"".join(parts))


def _link(link: Any) -> bytes:
    context = link.context
    trace_id = context.trace_id
    parts = [_LINK_IDS.pack(b"\x0a\x10", trace_id >> 64, trace_id & _M64, b"\x12\x08",
                            context.span_id)]
    state = context.trace_state
    if state:
        text = _trace_state(state)
        if text:
            parts.append(_bytes_field(b"\x1a", _utf8(text)))
    attributes = link.attributes
    _attributes(parts, b"\x22", _items(attributes))
    dropped = _dropped(attributes)
    if dropped:
        parts.append(b"\x28" + _varint(dropped))
    parts.append(_LINK_FLAGS_REMOTE if context.is_remote else _LINK_FLAGS_LOCAL)
    return _bytes_field(b"\x6a", b"".join(parts))


def encode_span(span: ReadableSpan) -> bytes:
    """One ``Span`` message as a ``ScopeSpans.spans`` field (tag and length included)."""
    return _encode_fields(export_fields(span))


_KIND_BY_ID = {id(kind): encoded for kind, encoded in _KIND.items()}
# Status objects are immutable, and the SDK gives every span the same default one: encodings
# by identity, each entry holding its object so that its id cannot be reused meanwhile.
_STATUSES: dict[int, tuple[object, bytes]] = {}


def _encode_fields(fields: ExportFields) -> bytes:
    (trace_id, span_id, state, parent_id, parent_remote, name, kind, start, end, items,
     dropped_attributes, events, links, status, _, _, dropped_events, dropped_links) = fields
    parts = [_IDS.pack(b"\x0a\x10", trace_id >> 64, trace_id & _M64, b"\x12\x08", span_id)]
    if state is not DEFAULT_TRACE_STATE and state:
        text = _trace_state(state)
        if text:
            parts.append(_bytes_field(b"\x1a", _utf8(text)))
    if parent_id is not None:
        parts.append(_PARENT.pack(b"\x22\x08", parent_id))
    encoded_name = _NAMES.get(name)
    parts.append(_name(name) if encoded_name is None else encoded_name)
    encoded_kind = _KIND_BY_ID.get(id(kind))
    parts.append(_KIND[kind] if encoded_kind is None else encoded_kind)
    if start and end:
        parts.append(_TIMES.pack(0x39, start, 0x41, end))
    else:
        if start:
            parts.append(b"\x39" + _FIXED64.pack(start))
        if end:
            parts.append(b"\x41" + _FIXED64.pack(end))
    _attributes(parts, b"\x4a", items)
    if dropped_attributes:
        parts.append(b"\x50" + _varint(dropped_attributes))
    if events:
        for event in events:
            parts.append(_event(event))
    if dropped_events:
        parts.append(b"\x60" + _varint(dropped_events))
    if links:
        for link in links:
            parts.append(_link(link))
    if dropped_links:
        parts.append(b"\x70" + _varint(dropped_links))
    cached = _STATUSES.get(id(status))
    if cached is not None and cached[0] is status:
        parts.append(cached[1])
    else:
        encoded_status = _status(status)
        if len(_STATUSES) >= _WRAPPERS_LIMIT:
            _STATUSES.clear()
        _STATUSES[id(status)] = (status, encoded_status)
        parts.append(encoded_status)
    parts.append(_FLAGS_REMOTE if parent_remote else _FLAGS_LOCAL)
    body = b"".join(parts)
    size = len(body)
    return b"\x12" + (_SMALL[size] if size < 1024 else _varint_slow(size)) + body


# --- resources and scopes ----------------------------------------------------------------------
# Encoded wrappers by object identity. An entry holds the object itself, so its id cannot be
# reused by another object while the entry lives; resources and scopes are immutable.
_WRAPPERS: dict[int, tuple[object, bytes, bytes]] = {}
_WRAPPERS_LIMIT = 256


def _resource_wrapper(resource: Any) -> tuple[bytes, bytes]:
    """(``ResourceSpans`` fields before the scope spans, fields after), cached by identity."""
    entry = _WRAPPERS.get(id(resource))
    if entry is not None and entry[0] is resource:
        return entry[1], entry[2]
    parts: list[bytes] = []
    _attributes(parts, b"\x0a", _items(resource.attributes if resource is not None else None))
    head = _bytes_field(b"\x0a", b"".join(parts))
    schema_url = resource.schema_url if resource is not None else None
    tail = _bytes_field(b"\x1a", _utf8(schema_url)) if schema_url else b""
    _remember(resource, head, tail)
    return head, tail


def _scope_wrapper(scope: Any) -> tuple[bytes, bytes]:
    """(``ScopeSpans`` fields before the spans, fields after), cached by identity."""
    entry = _WRAPPERS.get(id(scope))
    if entry is not None and entry[0] is scope:
        return entry[1], entry[2]
    parts: list[bytes] = []
    schema_url = None
    if scope is not None:
        if scope.name:
            parts.append(_bytes_field(b"\x0a", _utf8(scope.name)))
        if scope.version:
            parts.append(_bytes_field(b"\x12", _utf8(scope.version)))
        _attributes(parts, b"\x1a", _items(getattr(scope, "attributes", None)))
        schema_url = scope.schema_url
    head = _bytes_field(b"\x0a", b"".join(parts))
    tail = _bytes_field(b"\x1a", _utf8(schema_url)) if schema_url else b""
    if scope is not None:
        _remember(scope, head, tail)
    return head, tail


def _remember(owner: object, head: bytes, tail: bytes) -> None:
    if len(_WRAPPERS) >= _WRAPPERS_LIMIT:
        _WRAPPERS.clear()
    _WRAPPERS[id(owner)] = (owner, head, tail)


class _Group:
    """Spans of one resource (or one scope within it), in first-seen order."""

    __slots__ = ("head", "members", "owner", "tail")

    def __init__(self, owner: object, head: bytes, tail: bytes) -> None:
        self.owner = owner
        self.head = head
        self.tail = tail
        self.members: dict[int, Any] = {}


_NOTHING = object()
# Framing a wrapper can add on top of its own fields: a tag and a length of up to 5 bytes.
_FRAME = 6


def encode_requests(
    spans: Iterable[ReadableSpan], limit: int | None = None
) -> tuple[list[tuple[list[ReadableSpan], bytes]], list[ReadableSpan]]:
    """Encode ``spans`` into requests of at most ``limit`` bytes each (no limit: one request).

    Returns ``([(spans_in_request, request_bytes), ...], oversized)``; ``oversized`` are
    spans that alone, with their resource and scope, exceed ``limit`` and so can never be
    sent. Spans are grouped by resource, then scope, as the stock encoder groups them:
    equal (not only identical) resources and scopes share one group, in first-seen order.
    """
    chunks: list[tuple[list[ReadableSpan], bytes]] = []
    oversized: list[ReadableSpan] = []
    resources: dict[int, _Group] = {}  # id -> group, equal resources aliased to one group
    chunk: list[ReadableSpan] = []
    encoded: list[bytes] = []
    keys: list[tuple[_Group, _Group]] = []
    chunk_size = 0
    seen: set[int] = set()  # groups whose wrappers the current chunk already pays for
    last_resource: object = _NOTHING
    last_scope: object = _NOTHING
    pair = (_Group(None, b"", b""), _Group(None, b"", b""))
    pair_in_chunk: tuple[_Group, _Group] | None = None
    for span in spans:
        fields = export_fields(span)
        data = _encode_fields(fields)
        resource = fields[14]
        scope = fields[15]
        if resource is not last_resource or scope is not last_scope:
            last_resource, last_scope = resource, scope
            rgroup = resources.get(id(resource))
            if rgroup is None:
                rgroup = _find_equal(resources, resource) or _Group(
                    resource, *_resource_wrapper(resource)
                )
                resources[id(resource)] = rgroup
            sgroup = rgroup.members.get(id(scope))
            if sgroup is None:
                sgroup = _find_equal(rgroup.members, scope) or _Group(
                    scope, *_scope_wrapper(scope)
                )
                rgroup.members[id(scope)] = sgroup
            pair = (rgroup, sgroup)
        if limit is not None:
            extra = len(data)
            rgroup, sgroup = pair
            if pair_in_chunk is not pair:
                if id(rgroup) not in seen:
                    extra += len(rgroup.head) + len(rgroup.tail) + _FRAME
                if id(sgroup) not in seen:
                    extra += len(sgroup.head) + len(sgroup.tail) + _FRAME
            if chunk and chunk_size + extra > limit:
                chunks.append((chunk, _assemble(encoded, keys)))
                chunk, encoded, keys, chunk_size, seen = [], [], [], 0, set()
                pair_in_chunk = None
                extra = len(data) + len(rgroup.head) + len(rgroup.tail) + len(sgroup.head)
                extra += len(sgroup.tail) + 2 * _FRAME
            if not chunk and extra > limit:
                oversized.append(span)
                continue
            if pair_in_chunk is not pair:
                seen.add(id(rgroup))
                seen.add(id(sgroup))
                pair_in_chunk = pair
            chunk_size += extra
        chunk.append(span)
        encoded.append(data)
        keys.append(pair)
    if chunk:
        chunks.append((chunk, _assemble(encoded, keys)))
    return chunks, oversized


def _find_equal(groups: Mapping[int, _Group], owner: object) -> _Group | None:
    """A group whose owner equals ``owner`` (the stock encoder groups by equality)."""
    if owner is None:
        return None
    for group in groups.values():
        other = group.owner
        if other is not None and other is not owner:
            try:
                if other == owner:
                    return group
            except Exception:  # an odd __eq__ keeps its own group
                pass
    return None


def _assemble(encoded: list[bytes], keys: list[tuple[_Group, _Group]]) -> bytes:
    """The request bytes: spans nested under their scope, under their resource."""
    if keys.count(keys[0]) == len(keys):  # one resource, one scope: the usual request
        rgroup, sgroup = keys[0]
        scope_body = b"".join([sgroup.head, *encoded, sgroup.tail])
        return _bytes_field(
            b"\x0a", rgroup.head + _bytes_field(b"\x12", scope_body) + rgroup.tail
        )
    tree: dict[int, tuple[_Group, dict[int, tuple[_Group, list[bytes]]]]] = {}
    for data, (rgroup, sgroup) in zip(encoded, keys, strict=True):
        scopes = tree.get(id(rgroup))
        if scopes is None:
            scopes = tree[id(rgroup)] = (rgroup, {})
        members = scopes[1].get(id(sgroup))
        if members is None:
            members = scopes[1][id(sgroup)] = (sgroup, [])
        members[1].append(data)
    out: list[bytes] = []
    for rgroup, scopes_by_id in tree.values():
        scope_fields = [
            _bytes_field(b"\x12", b"".join([sgroup.head, *datas, sgroup.tail]))
            for sgroup, datas in scopes_by_id.values()
        ]
        out.append(_bytes_field(b"\x0a", b"".join([rgroup.head, *scope_fields, rgroup.tail])))
    return b"".join(out)


def encode_request(spans: Sequence[ReadableSpan]) -> bytes:
    """``ExportTraceServiceRequest`` bytes for ``spans``, all in one request."""
    chunks, _ = encode_requests(spans)
    return b"".join([payload for _, payload in chunks])
