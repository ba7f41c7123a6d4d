"""``loads`` for trace lines: orjson when it is installed, the standard library otherwise.

Parsing is the largest single cost of ``vaquero analyze`` on a big file (measured in
``bench/bench_analyze.py``): orjson parses the same OTLP lines in about half the time of
``json.loads``. It stays optional (``pip install 'vaquero[fast]'``): the results are identical
either way, only the speed differs. orjson is stricter than the standard library (no bare
``NaN``, no integers past 64 bits), so a line it rejects is handed to ``json.loads``: what the
standard library accepts is accepted, and what it rejects fails with its own message.

Nesting deeper than the parser's stack (``[[[[...`` a hundred thousand deep) is a
``ValueError`` like any other bad JSON, never a ``RecursionError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["PARSER", "TooDeep", "back_to_back", "loads"]

_TOO_DEEP = "nested too deeply"


class TooDeep(ValueError):
    """The JSON nests deeper than the parser can follow."""


_json_loads = json.loads  # bound now: whoever rebinds json.loads later is not called back


def _stdlib_loads(text: bytes | str) -> Any:
    try:
        return _json_loads(text)
    except RecursionError:
        raise TooDeep(_TOO_DEEP) from None


loads: Callable[[bytes | str], Any]
try:
    import orjson  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # the stdlib fallback: same results, slower
    loads = _stdlib_loads
    PARSER = "json"
else:
    _fast = orjson.loads

    def _orjson_then_json(text: bytes | str) -> Any:
        try:
            return _fast(text)
        except ValueError:
            return _stdlib_loads(text)

    loads = _orjson_then_json
    PARSER = "orjson"


def back_to_back(text: str, separators: str = " \t\r\n") -> Iterator[tuple[int, Any]]:
    """Each JSON document of ``text`` (several may follow each other, as ``jq .`` or a
    streamed HTTP body writes them) with the position it starts at, skipping
    ``separators`` between them. Raises ``json.JSONDecodeError`` where a document is bad,
    after yielding every document before it."""
    decoder = json.JSONDecoder()
    position, size = 0, len(text)
    while True:
        while position < size and text[position] in separators:
            position += 1
        if position >= size:
            return
        start = position
        try:
            document, position = decoder.raw_decode(text, position)
        except RecursionError:
            raise json.JSONDecodeError(_TOO_DEEP, text, start) from None
        yield start, document
