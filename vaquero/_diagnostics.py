"""How vaquero speaks about itself: warn once, contain internal errors, count what it drops.

A tracing library runs inside someone else's program, so every fault of its own is
contained (the host never sees an exception vaquero caused) and every message it prints is
printed once per process, however often its cause repeats: a collector that is down or a
hostile value must cost one line of the host's log, not one per span.

Containment must not hide vaquero's own bugs from vaquero's test suite, so
:func:`internal_error` re-raises when ``VAQUERO_STRICT_INTERNAL_ERRORS=1`` is set (the
test suite sets it; tests that inject faults on purpose unset it).
"""

from __future__ import annotations

import logging
import os
import sys

from vaquero._state import STATE

__all__ = [
    "STRICT_ENV",
    "count_drop",
    "drop_counts",
    "internal_error",
    "logger",
    "warn_once",
]

logger = logging.getLogger("vaquero")

STRICT_ENV = "VAQUERO_STRICT_INTERNAL_ERRORS"


def warn_once(key: str, message: str, *args: object, exc_info: bool = False) -> bool:
    """Log ``message % args`` as a warning the first time ``key`` is seen; True if it was."""
    warned = STATE.warned
    if key in warned:
        return False
    warned.add(key)
    logger.warning(message, *args, exc_info=exc_info)
    return True


def internal_error(what: str) -> None:
    """Report a fault inside vaquero while ``what``: one log line per process, never raised.

    Call it from an ``except`` block. Under ``VAQUERO_STRICT_INTERNAL_ERRORS=1`` the
    exception is re-raised instead, so the test suite fails on vaquero's own bugs.
    """
    if os.environ.get(STRICT_ENV) == "1" and sys.exc_info()[1] is not None:
        raise
    warn_once(
        "internal-error",
        "vaquero: internal error while %s; tracing continues.",
        what,
        exc_info=True,
    )


def count_drop(reason: str, count: int = 1) -> None:
    """Count spans lost outside an export queue (reported with the queues' drops at exit)."""
    drops = STATE.drops
    drops[reason] = drops.get(reason, 0) + count


def drop_counts() -> dict[str, int]:
    """A copy of the counts from :func:`count_drop`, by reason."""
    return dict(STATE.drops)
