"""Percentiles by the nearest-rank method.

The p-th percentile of n sorted values is the value at rank ``ceil(p/100 * n)`` (1-based): the
smallest observed value with at least p% of the values at or below it. Chosen over linear
interpolation because it always reports a duration that really happened, needs no float
arithmetic on the ranks, and gives the exact values a test can compute by hand. With few runs
the high percentiles equal the maximum, which is the honest answer for few runs.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["nearest_rank"]


def nearest_rank(sorted_values: Sequence[int], percent: int) -> int:
    """The ``percent``-th percentile of ascending ``sorted_values`` (0 if there are none)."""
    count = len(sorted_values)
    if count == 0:
        return 0
    rank = -(-percent * count // 100)  # ceil without floats
    return sorted_values[min(max(rank, 1), count) - 1]
