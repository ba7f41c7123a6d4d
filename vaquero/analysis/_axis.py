"""Axis ticks and labels shared by the report's charts and waterfalls.

Ticks fall on 1-2-5 steps (0, 20, 40 ms; 0, 0.5, 1 s) so a reader can interpolate; durations
switch unit with magnitude so a label never reads "45,000.0 ms"; clock times are UTC, with the
date only when the range spans days.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

__all__ = ["clock_label", "duration_label", "nice_ticks", "time_ticks"]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` evenly spaced round values covering ``[low, high]``."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high <= low:
        return [low]
    raw_step = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def duration_label(ms: float) -> str:
    """``850 µs``, ``12 ms``, ``1.25 s``, ``2.5 min``: short, unit chosen by size."""
    if ms < 0:
        return "-" + duration_label(-ms)
    if ms == 0:
        return "0"
    if ms < 1:
        return f"{ms * 1000:.0f} µs"
    if ms < 1000:
        return f"{ms:.3g} ms" if ms < 100 else f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.3g} s"
    if ms < 3_600_000:
        return f"{ms / 60_000:.3g} min"
    return f"{ms / 3_600_000:.3g} h"


def time_ticks(start_ns: int, end_ns: int, count: int = 5) -> list[int]:
    """Round clock instants (ns) across ``[start_ns, end_ns]``: whole seconds/minutes/hours."""
    if end_ns <= start_ns:
        return [start_ns]
    span_s = (end_ns - start_ns) / 1e9
    steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
             43200, 86400, 172800, 604800]
    step = next((s for s in steps if span_s / s <= count), steps[-1]) * 1_000_000_000
    first = -(-start_ns // step) * step
    return list(range(first, end_ns + 1, step))


def clock_label(ns: int, span_ns: int) -> str:
    """A UTC clock label precise enough for a range of ``span_ns``."""
    moment = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    if span_ns >= 2 * 86_400 * 1_000_000_000:
        return f"{moment:%m-%d %H:%M}"
    if span_ns >= 600 * 1_000_000_000:
        return f"{moment:%H:%M}"
    return f"{moment:%H:%M:%S}"
