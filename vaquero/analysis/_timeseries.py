"""The time axis: one bucket width for the whole data set, chosen from round durations.

Every workflow gets the same buckets (aligned to multiples of the width since the epoch), so
the report can draw their charts on one shared axis and a reader can compare them by eye.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_BUCKETS", "TimeAxis", "choose_axis"]

MAX_BUCKETS = 60
_MS = 1_000_000
_S = 1000 * _MS
# Round widths a person reads at a glance: 1-2-5 below a minute, clock units above.
_WIDTHS = (
    [m * 10**e * _MS for e in range(0, 4) for m in (1, 2, 5)]
    + [s * _S for s in (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                        43200, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)]
)


@dataclass(frozen=True)
class TimeAxis:
    """``count`` buckets of ``width_ns``, the first starting at ``origin_ns``."""

    origin_ns: int
    width_ns: int
    count: int

    def index(self, time_ns: int) -> int:
        """The bucket holding ``time_ns`` (clamped to the axis)."""
        position = (time_ns - self.origin_ns) // self.width_ns
        return 0 if position < 0 else min(position, self.count - 1)


def choose_axis(first_ns: int, last_ns: int, max_buckets: int = MAX_BUCKETS) -> TimeAxis:
    """The smallest round width that covers ``[first_ns, last_ns]`` in ``max_buckets``."""
    last_ns = max(last_ns, first_ns)
    width = _WIDTHS[-1]
    for candidate in _WIDTHS:
        origin = first_ns - first_ns % candidate
        if (last_ns - origin) // candidate + 1 <= max_buckets:
            width = candidate
            break
    else:  # longer than the largest width allows: stretch it
        span = last_ns - (first_ns - first_ns % width)
        width = -(-span // (max_buckets - 1)) if max_buckets > 1 else span + 1
    origin = first_ns - first_ns % width
    return TimeAxis(origin, width, (last_ns - origin) // width + 1)
