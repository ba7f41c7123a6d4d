"""Turn any Python value into a valid OpenTelemetry attribute value, boundedly, never raising.

Users hand spans whatever they have: dicts, dataclasses, pydantic models, enums, objects
whose ``__repr__`` explodes. The stock SDK drops (and warns about) most of these, and its
behaviour has changed between releases, so vaquero converts before the SDK sees a value.
The rules, applied in order:

1. ``str``, ``bool``, ``float`` and ``int`` stay native, and so do their subclasses
   (``IntEnum``, ``IntFlag``, ``HTTPStatus``, ``numpy.float64``: reduced to the base
   type) and numpy-style scalars (``numpy.int64(7)`` -> ``7``; numpy is never imported).
   Strings longer than the limit (8 KiB by default, ``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``)
   are cut and end with ``…[truncated N chars]``.
2. An ``int`` outside the signed 64-bit range (what OTLP can carry) becomes its decimal
   string. ``NaN``, ``inf`` and ``-inf`` become the strings ``"NaN"``, ``"Infinity"`` and
   ``"-Infinity"`` (the spelling of protobuf's JSON mapping), because JSON-based backends
   reject the raw values.
3. A ``list`` (or a one-dimensional numpy-style array) whose items are all ``str``, all
   ``bool``, all ``int`` (in range) or all ``float`` (finite) stays a native array; an
   empty list stays an empty array. Arrays are bounded: at most 1,000 items (a longer
   string array ends with ``"…"``; a number array cannot carry a marker and is just cut,
   with one warning per process), and a string array at most 16 times the length limit in
   total. Only the kept head is examined, so a list of a million ids costs what a list of
   a thousand does, and can no longer make its span too large to export.
4. Everything else becomes a deterministic, compact JSON string that always parses (the
   export-side scrubber reads it back as structure, so a nested ``password`` key is
   found): ``None`` -> ``null``; dicts keep insertion order with non-string keys converted
   by ``str()``; tuples and mixed lists become arrays; sets and frozensets become arrays
   sorted by their JSON text; ``bytes`` are decoded as UTF-8 with invalid bytes escaped;
   dataclasses become objects of their fields; pydantic models use
   ``model_dump(mode="json")``; enums their ``value``; dates, times, UUIDs, decimals and
   paths their ``str()``; multi-dimensional arrays nested lists; any other sequence an
   array. Any other object becomes its ``repr()``, used directly rather than JSON-quoted.
5. Traversal is bounded: a reference cycle becomes ``"<cycle>"``, nesting deeper than 64
   becomes ``"<max depth>"``, a container longer than 1,000 items keeps the first 1,000
   and ends with ``"…"``, and a ``__repr__`` (or ``model_dump``) that raises gives
   ``"<unrepresentable TypeName>"``. The JSON text is written within the length limit as it
   goes (:mod:`vaquero._bounded_json`): conversion stops when the limit is reached, so its
   cost is bounded by the output, and a cut container ends with ``"…"``.
6. Keys: a non-string key is converted by ``str()``; an empty key becomes ``"_"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from vaquero import _bounded_json
from vaquero._bounded_json import (
    ELLIPSIS,
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    MAX_ITEMS,
    json_safe_float,
    max_length,
    plain_scalar,
    set_max_length,
    truncate,
)
from vaquero._diagnostics import warn_once
from vaquero._state import STATE

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "AttributeValue",
    "json_safe_float",
    "max_length",
    "normalize_attributes",
    "set_max_length",
    "to_attribute_key",
    "to_attribute_value",
    "truncate",
]

AttributeValue = str | bool | int | float | list[str] | list[bool] | list[int] | list[float]

STRING_ARRAY_BUDGET: Final = 16  # a string array holds at most this many times the limit


def _warn_cut(length: int) -> None:
    """One line per process: a cut array is expected data shaping, not a fault per span."""
    warn_once(
        "list-attribute-cut",
        "vaquero: a list attribute of %d items was cut to its first %d (further cuts are "
        "not reported). Record a summary (a count, a sample) for long lists.",
        length,
        MAX_ITEMS,
    )


def _native_list(value: Any) -> list[Any] | None:
    """A valid, bounded homogeneous OTel array for ``value`` (a list), else None.

    Only the kept head is examined: a list's length is known without walking it.
    """
    if not value:
        return []
    length = len(value)
    head = value if length <= MAX_ITEMS else value[:MAX_ITEMS]
    first = type(head[0])
    if first not in (str, bool, int, float):
        return None
    for item in head:
        if type(item) is not first:
            return None
    if first is int:
        for item in head:
            if not INT64_MIN <= item <= INT64_MAX:
                return None
    elif first is float:
        for item in head:
            if not math.isfinite(item):
                return None
    elif first is str:
        return _bounded_strings(head, length)
    if length > MAX_ITEMS:
        _warn_cut(length)
        return list(head)
    return value  # type: ignore[no-any-return]


def _bounded_strings(head: list[str], length: int) -> list[str]:
    limit = STATE.max_attribute_length
    budget = STRING_ARRAY_BUDGET * limit
    total = 0
    out = head
    for index, item in enumerate(head):
        size = len(item)
        if size > limit or total + size > budget:
            out = _cut_strings(head, index, limit, budget)
            break
        total += size
    if length > MAX_ITEMS and out is head:
        out = [*head[: MAX_ITEMS - 1], ELLIPSIS]
    if length > MAX_ITEMS:
        _warn_cut(length)
    return out


def _cut_strings(head: list[str], start: int, limit: int, budget: int) -> list[str]:
    """From ``start`` on, truncate long items and stop (with ``"…"``) at the total budget."""
    out = list(head[:start])
    total = sum(len(item) for item in out)
    for item in head[start:]:
        item = truncate(item, limit)
        if total + len(item) > budget:
            out.append(ELLIPSIS)
            return out
        out.append(item)
        total += len(item)
    return out


def to_attribute_value(value: Any) -> AttributeValue:
    """Convert ``value`` per the module rules. Never raises."""
    kind = type(value)
    if kind is str:
        return value if len(value) <= STATE.max_attribute_length else truncate(value)
    if kind is bool:
        return bool(value)
    if kind is int:
        return value if INT64_MIN <= value <= INT64_MAX else str(value)
    if kind is float:
        return json_safe_float(value)
    try:
        if kind is list:
            native = _native_list(value)
            if native is not None:
                return native
        scalar = plain_scalar(value)
        if scalar is None:
            return "null"
        if scalar is not _bounded_json._NOT_SCALAR:
            return to_attribute_value(scalar)  # now an exact type: no second round
        ndim = _bounded_json._array_ndim(value)
        if ndim == 1:
            items, _ = _bounded_json.array_head(value, 1, MAX_ITEMS + 1)
            native = _native_list(items)
            if native is not None:
                return native
        if not _bounded_json.is_container(value):
            return truncate(_bounded_json.safe_repr(value))
        return _bounded_json.encode(value, STATE.max_attribute_length)
    except Exception:  # the rules above are meant to be total; this is the last guard
        return f"<unrepresentable {_bounded_json.type_name(value)}>"


def to_attribute_key(key: Any) -> str:
    return _bounded_json.attribute_key(key)


def normalize_attributes(attributes: Mapping[Any, Any] | None) -> dict[str, AttributeValue]:
    """A new dict of converted keys and values; an unusable mapping gives what it could."""
    if not attributes:
        return {}
    result: dict[str, AttributeValue] = {}
    try:
        for key, value in attributes.items():
            result[to_attribute_key(key)] = to_attribute_value(value)
    except Exception:  # a user Mapping whose iteration raises
        pass
    return result
