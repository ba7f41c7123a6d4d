"""Small wording rules every text and HTML output of the analysis shares.

``1 workflow`` and ``2 workflows``; a sub-millisecond duration that does not print as
``0.0``; a long name cut at a word boundary, not in the middle of a word.
"""

from __future__ import annotations

__all__ = ["count", "cut", "ms"]

_BREAKS = " /_.-:"


def count(number: int, noun: str) -> str:
    """``number`` and ``noun``, plural unless the number is 1 (every noun here takes -s)."""
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def ms(value: float) -> str:
    """Milliseconds: one decimal from 1 ms up, three below (``0.042``), so none reads 0.0."""
    if value == 0 or abs(value) >= 1:
        return f"{value:,.1f}"
    return f"{value:.3f}"


def cut(text: str, width: int) -> str:
    """``text`` on one line in at most ``width`` characters, ending in ``…`` if cut.

    The cut falls after the last separator (space, ``/``, ``_``, ``.``, ``-``, ``:``) in
    the second half of the room, so ``user_registration_workflow`` becomes
    ``user_registration_…`` rather than ``user_registration_wor…``.
    """
    text = text.replace("\r", " ").replace("\n", " ")
    if len(text) <= width:
        return text
    room = max(width - 1, 0)
    head = text[:room]
    boundary = max(head.rfind(mark) for mark in _BREAKS)
    if boundary + 1 >= room // 2 and boundary >= 0:
        head = head[: boundary + 1]
    return head.rstrip() + "…"
