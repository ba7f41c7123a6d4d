"""Parse the ``--since`` look-back window (``90s``, ``15m``, ``2h``, ``1d``, ``1w``).

A window reaches back at most :data:`MAX_WINDOW_NS` (100 years): further would start before
any trace was written, and soon before what a date type (and Jaeger's query) can hold.
"""

from __future__ import annotations

import re

__all__ = ["MAX_WINDOW_NS", "check_window_ns", "parse_duration_ns"]

MAX_WINDOW_NS = 36500 * 86400 * 1_000_000_000

_UNIT_NS = {
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
    "w": 7 * 86400 * 1_000_000_000,
}
# At most 20 digits each side of the point: no window needs more, and float() of 400 digits
# is infinity.
_PATTERN = re.compile(r"^\s*(\d{1,20}(?:\.\d{1,20})?)\s*(ms|s|m|h|d|w)\s*$", re.IGNORECASE)


def parse_duration_ns(text: str) -> int:
    """Nanoseconds in ``text``; raises ``ValueError`` with the accepted forms otherwise."""
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"invalid duration {text[:40]!r}: use a number and a unit, e.g. 90s, 15m, 2h, 1d, 1w"
        )
    number, unit = match.groups()
    return check_window_ns(float(number) * _UNIT_NS[unit.lower()], repr(text[:40]))


def check_window_ns(window: float, shown: str) -> int:
    """``window`` as whole nanoseconds if it is between 0 and 100 years; ``ValueError``
    naming ``shown`` (how the user wrote it) otherwise."""
    if not 0 <= window <= MAX_WINDOW_NS:  # also false for NaN
        raise ValueError(f"--since {shown} reaches back more than 100 years, further than any "
                         "trace: "
                         "use a shorter window, at most 36500d")
    return int(window)
