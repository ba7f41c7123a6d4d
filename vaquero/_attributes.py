"""Turn any Python value into a valid OpenTelemetry attribute value, boundedly, never raising.

Users hand spans whatever they have: dicts, dataclasses, pydantic models, enums, objects
whose ``__repr__`` explodes. The stock SDK drops (and warns about) most of these, and its
behaviour has changed between releases, so vaquero converts before the SDK sees a value.
The rules, applied in order:

1. ``str``, ``bool``, ``float`` and ``int`` stay native. Strings longer than the limit
   (8 KiB by default, ``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``) are cut and end with
   ``…[truncated N chars]``.
2. An ``int`` outside the signed 64-bit range (what OTLP can carry) becomes its decimal
   string. ``NaN``, ``inf`` and ``-inf`` become the strings ``"NaN"``, ``"Infinity"`` and
   ``"-Infinity"`` (the spelling of protobuf's JSON mapping), because JSON-based backends
   reject the raw values.
3. A ``list`` whose items are all ``str``, all ``bool``, all ``int`` (in range) or all
   ``float`` (finite) stays a native array; an empty list stays an empty array.
4. Everything else becomes a deterministic, compact JSON string: ``None`` -> ``null``;
   dicts keep insertion order with non-string keys converted by ``str()``; tuples and mixed
   lists become arrays; sets and frozensets become arrays sorted by their JSON text;
   ``bytes`` are decoded as UTF-8 with invalid bytes escaped; dataclasses become objects of
   their fields; pydantic models use ``model_dump(mode="json")``; enums their ``value``;
   dates, times, UUIDs, decimals and paths their ``str()``; any other object its
   ``repr()``. If the result is a plain string (an enum's value, a repr), it is used
   directly rather than JSON-quoted.
5. Traversal is bounded: a reference cycle becomes ``"<cycle>"``, nesting deeper than 64
   becomes ``"<max depth>"``, a container longer than 1,000 items keeps the first 1,000
   and ends with ``"…"``, and a ``__repr__`` (or ``model_dump``) that raises gives
   ``"<unrepresentable TypeName>"``. The JSON text is then cut to the length limit.
6. Keys: a non-string key is converted by ``str()``; an empty key becomes ``"_"``.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import pathlib
import uuid
from collections.abc import Mapping
from typing import Any

AttributeValue = str | bool | int | float | list[str] | list[bool] | list[int] | list[float]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_DEPTH = 64
MAX_ITEMS = 1000
_TRUNCATION_MARK = "…[truncated {} chars]"

_max_length = 8 * 1024


def set_max_length(limit: int) -> None:
    """Set the string limit once at configuration time (read on the hot path as a global)."""
    global _max_length
    _max_length = max(16, int(limit))


def max_length() -> int:
    return _max_length


def truncate(text: str) -> str:
    """Cut ``text`` to the limit, saying how much was cut."""
    limit = _max_length
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    mark = _TRUNCATION_MARK.format(cut)
    keep = max(0, limit - len(mark))
    return text[:keep] + _TRUNCATION_MARK.format(len(text) - keep)


def json_safe_float(value: float) -> float | str:
    """NaN and infinities are not JSON numbers; proto3's JSON mapping spells them as strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _native_list(value: list[Any]) -> list[Any] | None:
    """The list itself if it is a valid homogeneous OTel array, else None."""
    if not value:
        return value
    first = type(value[0])
    if first not in (str, bool, int, float):
        return None
    for item in value:
        if type(item) is not first:
            return None
    if first is int:
        for item in value:
            if not INT64_MIN <= item <= INT64_MAX:
                return None
    elif first is float:
        for item in value:
            if not math.isfinite(item):
                return None
    elif first is str:
        limit = _max_length
        if any(len(item) > limit for item in value):
            return [truncate(item) for item in value]
    return value


def to_attribute_value(value: Any) -> AttributeValue:
    """Convert ``value`` per the module rules. Never raises."""
    kind = type(value)
    if kind is str:
        return value if len(value) <= _max_length else truncate(value)
    if kind is bool:
        return bool(value)
    if kind is int:
        return value if INT64_MIN <= value <= INT64_MAX else str(value)
    if kind is float:
        return json_safe_float(value)
    if kind is list:
        native = _native_list(value)
        if native is not None:
            return native
    try:
        converted = _jsonable(value, 0, set())
        if isinstance(converted, str):
            return truncate(converted)
        if isinstance(converted, (bool, int, float)):
            return to_attribute_value(converted)
        return truncate(json.dumps(converted, ensure_ascii=False, separators=(",", ":")))
    except Exception:  # the rules above are meant to be total; this is the last guard
        return f"<unrepresentable {_type_name(value)}>"


def to_attribute_key(key: Any) -> str:
    if type(key) is str and key:
        return key
    text = key if isinstance(key, str) else _safe_str(key)
    return text or "_"


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


def _type_name(value: Any) -> str:
    try:
        return type(value).__qualname__
    except Exception:
        return "object"


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unrepresentable {_type_name(value)}>"


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {_type_name(value)}>"


_STR_LIKE = (datetime.datetime, datetime.date, datetime.time, uuid.UUID, decimal.Decimal,
             pathlib.PurePath)


def _jsonable(value: Any, depth: int, active: set[int]) -> Any:
    """A JSON-serialisable tree for ``value``; ``active`` holds ids on the current path."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value if INT64_MIN <= value <= INT64_MAX else str(value)
    if isinstance(value, float):
        return json_safe_float(value)
    if depth >= MAX_DEPTH:
        return "<max depth>"
    if isinstance(value, enum.Enum):
        return _jsonable(value.value, depth + 1, active)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value[:_max_length]).decode("utf-8", "backslashreplace")
    if isinstance(value, _STR_LIKE):
        return _safe_str(value)
    marker = id(value)
    if marker in active:
        return "<cycle>"
    active.add(marker)
    try:
        return _jsonable_container(value, depth, active)
    finally:
        active.discard(marker)


def _jsonable_container(value: Any, depth: int, active: set[int]) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= MAX_ITEMS:
                out["…"] = f"{len(value) - MAX_ITEMS} more"
                break
            out[to_attribute_key(key)] = _jsonable(item, depth + 1, active)
        return out
    if isinstance(value, (list, tuple)):
        items = [_jsonable(item, depth + 1, active) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append("…")
        return items
    if isinstance(value, (set, frozenset)):
        converted = [_jsonable(item, depth + 1, active) for item in value]
        converted.sort(key=lambda item: json.dumps(item, ensure_ascii=False, sort_keys=True))
        if len(converted) > MAX_ITEMS:
            converted = [*converted[:MAX_ITEMS], "…"]
        return converted
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _jsonable(getattr(value, f.name, None), depth + 1, active)
            for f in dataclasses.fields(value)
        }
    dump = getattr(type(value), "model_dump", None)
    if callable(dump):
        try:
            return _jsonable(dump(value, mode="json"), depth + 1, active)
        except Exception:
            return f"<unrepresentable {_type_name(value)}>"
    return _safe_repr(value)
