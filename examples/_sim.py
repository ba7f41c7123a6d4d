"""Simulated services shared by the examples: latency, transient failures, a seedable RNG.

The workflow guide leaves helpers such as ``validate_user_data`` undefined; the examples
define them on top of these few primitives so that every run looks like real traffic (uneven
step durations, the odd failure that a retry absorbs) while finishing in well under a second.
Pass ``--seed N`` to an example (or ``vaquero demo --seed N``) to make a run repeatable.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Sequence

rng = random.Random()


class TransientError(ConnectionError):
    """A failure worth retrying: a timeout, a 503, a dropped connection."""


def seed(value: int | None) -> None:
    """Make the simulation repeatable (``None``: a fresh random run)."""
    rng.seed(value)


def seed_from_argv(argv: Sequence[str] | None = None) -> int | None:
    """The ``N`` of ``--seed N`` on the command line, if given."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--seed" in args:
        index = args.index("--seed")
        if index + 1 < len(args):
            return int(args[index + 1])
    return None


async def latency(low_ms: float = 5, high_ms: float = 30) -> None:
    """Wait like a network call would: a random few milliseconds."""
    await asyncio.sleep(rng.uniform(low_ms, high_ms) / 1000)


def flaky(failure_rate: float, service: str) -> None:
    """Raise :class:`TransientError` with probability ``failure_rate``."""
    if rng.random() < failure_rate:
        raise TransientError(f"{service} is temporarily unavailable")
