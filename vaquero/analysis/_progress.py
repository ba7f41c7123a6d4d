"""A spans-read counter on stderr, shown only to a person watching a terminal.

Redirected or piped stderr (CI logs, ``2> file``) gets nothing: a carriage-return ticker is
noise there. Updates are throttled so a fast read is not slowed by terminal writes.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_INTERVAL_S = 0.25


class Progress:
    """Call with the running span count; call :meth:`done` to clear the line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = _is_tty(self._stream)
        self._last = 0.0
        self._shown = False

    def __call__(self, spans_read: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < _INTERVAL_S:
            return
        self._last = now
        self._stream.write(f"\rvaquero: {spans_read:,} spans read…")
        self._stream.flush()
        self._shown = True

    def done(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or exotic stream
        return False
