"""Parse the ``--since`` look-back window (``90s``, ``15m``, ``2h``, ``1d``, ``1w``)."""

from __future__ import annotations

import re

__all__ = ["parse_duration_ns"]

_UNIT_NS = {
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
    "w": 7 * 86400 * 1_000_000_000,
}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$", re.IGNORECASE)


def parse_duration_ns(text: str) -> int:
    """Nanoseconds in ``text``; raises ``ValueError`` with the accepted forms otherwise."""
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit, e.g. 90s, 15m, 2h, 1d, 1w"
        )
    number, unit = match.groups()
    return int(float(number) * _UNIT_NS[unit.lower()])
