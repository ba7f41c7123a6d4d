"""``loads`` for trace lines: orjson when it is installed, the standard library otherwise.

Parsing is the largest single cost of ``vaquero analyze`` on a big file (measured in
``bench/bench_analyze.py``): orjson parses the same OTLP lines in about half the time of
``json.loads``. It stays optional (``pip install 'vaquero[fast]'``): the results are identical
either way, only the speed differs. orjson is stricter than the standard library (no bare
``NaN``, no integers past 64 bits), so a line it rejects is handed to ``json.loads``: what the
standard library accepts is accepted, and what it rejects fails with its own message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["PARSER", "loads"]

loads: Callable[[bytes | str], Any]
try:
    import orjson  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # the stdlib fallback: same results, slower
    loads = json.loads
    PARSER = "json"
else:
    _fast = orjson.loads
    _slow = json.loads

    def _orjson_then_json(text: bytes | str) -> Any:
        try:
            return _fast(text)
        except ValueError:
            return _slow(text)

    loads = _orjson_then_json
    PARSER = "orjson"
