"""Any Python value as compact JSON text no longer than a budget, at a cost bounded by it.

Why not ``json.dumps`` and then cut? Cutting costs the whole encoding first (a 1000x1000
matrix took seconds to encode before being cut to 8 KiB) and leaves broken JSON, which the
export-side scrubber could then no longer read as structure: a ``password`` key nested in
a cut payload would travel unrecognised. This encoder writes piece by piece and stops at
the budget, so its cost is proportional to its output, and it always closes what it
opened, so the result always parses: a container that did not fit ends with ``"…"`` (an
object with ``"…":"…"``), a string that did not fit ends with ``…[truncated N chars]``.

It also owns the scalar rules every converter shares (:func:`plain_scalar`): numeric
subclasses (``IntEnum``, ``IntFlag``, ``HTTPStatus``, ``numpy.float64``) and numpy-style
zero-dimensional values are numbers, not reprs. numpy is never imported: arrays and
scalars are recognised by shape (``ndim`` plus ``item``/``tolist``), and an array is
sliced *before* ``tolist()`` so a million elements are never copied to keep a thousand.
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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any, Final

from vaquero._state import STATE

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
MAX_DEPTH: Final = 64
MAX_ITEMS: Final = 1000
TRUNCATION_MARK: Final = "…[truncated {} chars]"
ELLIPSIS: Final = "…"

_NOT_SCALAR: Final = object()
_STR_LIKE = (datetime.datetime, datetime.date, datetime.time, uuid.UUID, decimal.Decimal,
             pathlib.PurePath)
_SEQ_CLOSE: Final = len(',"…"') + 1  # what a cut array still needs: the marker and "]"
_MAP_CLOSE: Final = len(',"…":"…"') + 1
_MIN_STRING_ROOM: Final = 24  # below this a cut string would be all marker: drop it instead


def json_safe_float(value: float) -> float | str:
    """NaN and infinities are not JSON numbers; proto3's JSON mapping spells them as strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def type_name(value: Any) -> str:
    try:
        return type(value).__qualname__
    except Exception:
        return "object"


def safe_str(value: Any) -> str:
    """``str(value)``, or a placeholder naming the type when that raises."""
    return _render(str, value)


def safe_repr(value: Any) -> str:
    """``repr(value)``, or a placeholder naming the type when that raises."""
    return _render(repr, value)


def _render(render: Callable[[Any], str], value: Any) -> str:
    # a str subclass (whose methods user code may override) becomes a plain str
    try:
        text = render(value)
        return text if type(text) is str else str.__str__(text)
    except Exception:
        return f"<unrepresentable {type_name(value)}>"


def _array_ndim(value: Any) -> int | None:
    """The dimension count of a numpy-style array or scalar, or None for anything else.

    Only objects that have an integer ``ndim`` *and* the method the caller will use are
    accepted, so an unrelated object with an ``item`` method is never called.
    """
    ndim = getattr(type(value), "ndim", None)
    if ndim is None:
        return None
    ndim = getattr(value, "ndim", None)
    if type(ndim) is not int:
        return None
    method = "item" if ndim == 0 else "tolist"
    return ndim if callable(getattr(value, method, None)) else None


def plain_scalar(value: Any) -> Any:
    """``value`` as an exact ``None``/``bool``/``int``/``float``/``str``, or ``_NOT_SCALAR``.

    Subclasses are reduced through the base type's own method (``int.__int__``,
    ``float.__float__``, ``str.__str__``), never through an override that might raise or
    recurse. Out-of-range ints become their decimal text, non-finite floats their spelling.
    """
    kind = type(value)
    if value is None or kind is bool:
        return value
    if kind is str:
        return value
    if kind is int:
        return value if INT64_MIN <= value <= INT64_MAX else int.__repr__(value)
    if kind is float:
        return json_safe_float(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return plain_scalar(int.__int__(value))
    if isinstance(value, float):
        return json_safe_float(float.__float__(value))
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, enum.Enum):
        inner = value.value
        return plain_scalar(inner) if not isinstance(inner, enum.Enum) else safe_str(inner)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value[:max_length()]).decode("utf-8", "backslashreplace")
    if isinstance(value, _STR_LIKE):
        return safe_str(value)
    if _array_ndim(value) == 0:
        item = value.item()
        if type(item) in (bool, int, float, str):
            return plain_scalar(item)
        return safe_str(item)
    return _NOT_SCALAR


# The length limit lives in STATE (one value for the encoder and the attribute converter,
# reset with everything else); the hot path reads STATE.max_attribute_length directly.


def set_max_length(limit: int) -> None:
    """Set the string limit once at configuration time."""
    STATE.max_attribute_length = max(16, int(limit))


def max_length() -> int:
    """The attribute value length limit in force (``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``)."""
    return STATE.max_attribute_length


def truncate(text: str, limit: int | None = None) -> str:
    """Cut ``text`` to ``limit`` characters (the configured limit by default), saying how
    much was cut."""
    if limit is None:
        limit = STATE.max_attribute_length
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(TRUNCATION_MARK.format(len(text))))
    return text[:keep] + TRUNCATION_MARK.format(len(text) - keep)


def array_head(value: Any, ndim: int, count: int) -> tuple[Iterable[Any], bool]:
    """The first ``count`` elements of a numpy-style array, sliced before ``tolist()``."""
    total = len(value)
    head = value[:count]
    items = head.tolist() if ndim == 1 else head
    return items, total > count


class _Writer:
    """Appends JSON pieces while tracking what is left of the budget."""

    __slots__ = ("active", "left", "parts")

    def __init__(self, budget: int) -> None:
        self.parts: list[str] = []
        self.left = budget
        self.active: set[int] = set()

    def put(self, text: str) -> None:
        self.parts.append(text)
        self.left -= len(text)

    def rollback(self, size: int, left: int) -> None:
        del self.parts[size:]
        self.left = left

    # --- values ---------------------------------------------------------------------------
    def value(self, value: Any, depth: int, reserve: int) -> bool:
        """Write ``value`` leaving ``reserve`` characters free; False if nothing fitted."""
        kind = type(value)
        if kind is not dict and kind is not list and kind is not tuple:  # those: no scalar
            try:
                scalar = plain_scalar(value)
            except Exception:
                scalar = f"<unrepresentable {type_name(value)}>"
            if scalar is not _NOT_SCALAR:
                return self.scalar(scalar, reserve)
        if depth >= MAX_DEPTH:
            return self.scalar("<max depth>", reserve)
        marker = id(value)
        if marker in self.active:
            return self.scalar("<cycle>", reserve)
        self.active.add(marker)
        size, left = len(self.parts), self.left
        try:
            return self.container(value, depth, reserve)
        except Exception:  # a user container whose iteration or model_dump raises
            self.rollback(size, left)
            return self.scalar(f"<unrepresentable {type_name(value)}>", reserve)
        finally:
            self.active.discard(marker)

    def scalar(self, value: Any, reserve: int) -> bool:
        room = self.left - reserve
        if type(value) is str:
            text = encode_basestring(value) if len(value) < room else ""
            if not text or len(text) > room:
                text = self._cut(value, room)
        elif value is None:
            text = "null"
        elif type(value) is bool:
            text = "true" if value else "false"
        elif type(value) is float:
            text = float.__repr__(value)
        else:
            text = int.__repr__(value)
        if len(text) > room:
            return False
        self.put(text)
        return True

    @staticmethod
    def _cut(value: str, room: int) -> str:
        """The longest prefix of ``value`` whose encoding, with the mark, fits ``room``."""
        if room < _MIN_STRING_ROOM:
            return encode_basestring(value[:room])  # "fits" only if value is tiny
        keep = room
        while keep > 0:
            cut = len(value) - keep
            text = encode_basestring(value[:keep] + TRUNCATION_MARK.format(cut))
            if len(text) <= room:
                return text
            keep -= len(text) - room
        return encode_basestring(TRUNCATION_MARK.format(len(value)))

    def container(self, value: Any, depth: int, reserve: int) -> bool:
        flat = _flat_json(value, self.left - reserve)
        if flat is not None:  # a small flat leaf container: written by the C encoder
            self.put(flat)
            return True
        if isinstance(value, Mapping):
            return self.mapping(value.items(), depth, reserve)
        if isinstance(value, (list, tuple)):
            return self.sequence(value[: MAX_ITEMS + 1], len(value) > MAX_ITEMS, depth, reserve)
        if isinstance(value, (set, frozenset)):
            return self.sequence(self._sorted_head(value), len(value) > MAX_ITEMS, depth, reserve)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = ((f.name, getattr(value, f.name, None)) for f in dataclasses.fields(value))
            return self.mapping(fields, depth, reserve)
        dump = getattr(type(value), "model_dump", None)
        if callable(dump):
            return self.value(dump(value, mode="json"), depth + 1, reserve)
        ndim = _array_ndim(value)
        if ndim is not None and ndim >= 1:
            room = self.left - reserve
            if room < _SEQ_CLOSE + 1:
                return False  # decided before anything is copied out of the array
            # every item takes at least two characters ("0,"): never copy more than fit
            items, more = array_head(value, ndim, min(MAX_ITEMS, room // 2 + 1))
            return self.sequence(items, more, depth, reserve)
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
            return self.sequence(value[: MAX_ITEMS + 1], len(value) > MAX_ITEMS, depth, reserve)
        return self.scalar(safe_repr(value), reserve)

    @staticmethod
    def _sorted_head(value: Iterable[Any]) -> list[Any]:
        """A set's first items in a stable order: sorted by a short encoding of each."""
        head = [item for _, item in zip(range(MAX_ITEMS), value, strict=False)]

        def key(item: Any) -> str:
            probe = _Writer(256)
            probe.value(item, MAX_DEPTH - 2, 0)
            return "".join(probe.parts)

        head.sort(key=key)
        return head

    def sequence(self, items: Iterable[Any], more: bool, depth: int, reserve: int) -> bool:
        return self._container(items, "[]", _SEQ_CLOSE, '"…"', more, depth, reserve, self.value)

    def mapping(self, items: Iterator[Any] | Iterable[Any], depth: int, reserve: int) -> bool:
        return self._container(items, "{}", _MAP_CLOSE, '"…":"…"', False, depth, reserve,
                               self._entry)

    def _entry(self, pair: tuple[Any, Any], depth: int, reserve: int) -> bool:
        """One ``"key":value`` of an object; False (nothing kept) when it does not fit."""
        key, item = pair
        name = encode_basestring(key if type(key) is str and key else attribute_key(key))
        if len(name) + 1 > self.left - reserve:
            return False
        self.put(name)
        self.put(":")
        return self.value(item, depth, reserve)

    def _container(
        self, entries: Iterable[Any], brackets: str, close: int, marker: str, cut: bool,
        depth: int, reserve: int, write: Callable[[Any, int, int], bool],
    ) -> bool:
        """An array or object of at most ``MAX_ITEMS`` entries, each written by ``write``;
        an entry that does not fit is rolled back and the container ends with ``marker``
        (also when ``cut`` says the caller already left items out)."""
        if self.left - reserve < close + 1:
            return False
        self.put(brackets[0])
        inner = reserve + close
        count = 0
        for entry in entries:
            if count >= MAX_ITEMS:
                cut = True
                break
            size, left = len(self.parts), self.left
            if count:
                self.put(",")
            if not write(entry, depth + 1, inner):
                self.rollback(size, left)
                cut = True
                break
            count += 1
        if cut:
            self.put("," + marker if count else marker)
        self.put(brackets[1])
        return True


def is_container(value: Any) -> bool:
    """Whether :class:`_Writer` gives ``value`` structure (otherwise it is its ``repr()``)."""
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return True
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return True
    if callable(getattr(type(value), "model_dump", None)):
        return True
    ndim = _array_ndim(value)
    if ndim is not None and ndim >= 1:
        return True
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def attribute_key(key: Any) -> str:
    """A non-empty string key: other types through ``str()``, an empty key as ``"_"``."""
    if type(key) is str and key:
        return key
    text = str.__str__(key) if isinstance(key, str) else safe_str(key)
    return text or "_"


_FLAT_MAX: Final = 32  # items a container may have for the C encoder's fast path
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _flat_json(value: Any, budget: int) -> str | None:
    """The JSON text of a small flat dict/list/tuple of plain scalars, by the C encoder.

    The commonest captured values (a few keyword arguments, a short list of ids) need no
    budget-keeping walk: when every item is an exact scalar the stdlib encoder gives the
    same text as :class:`_Writer`, in C. Anything else answers None (take the walk).
    """
    kind = type(value)
    if kind is dict:
        if len(value) > _FLAT_MAX:
            return None
        items = value.values()
        for key in value:
            if type(key) is not str or not key:
                return None
    elif kind is list or kind is tuple:
        if len(value) > _FLAT_MAX:
            return None
        items = value
    else:
        return None
    for item in items:
        item_kind = type(item)
        if item_kind is str or item_kind is bool or item is None:
            continue
        if item_kind is int:
            if not INT64_MIN <= item <= INT64_MAX:
                return None
        elif item_kind is not float or item - item != 0.0:  # not a finite float
            return None
    text: str = _dumps(value)
    return text if len(text) <= budget else None


def encode(value: Any, budget: int) -> str:
    """``value`` as JSON text of at most ``budget`` characters (which always parses)."""
    flat = _flat_json(value, budget)
    if flat is not None:
        return flat
    writer = _Writer(max(budget, _MAP_CLOSE + 2))
    if not writer.value(value, 0, 0):
        return encode_basestring(f"<unrepresentable {type_name(value)}>")[:budget]
    return "".join(writer.parts)
