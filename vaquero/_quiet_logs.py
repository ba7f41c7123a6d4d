"""One line per kind of OpenTelemetry limit warning per process, not one per occurrence.

The SDK's attribute store logs a warning for *every* attribute it truncates or evicts: a
span given 10,000 attributes printed ~9,900 identical lines into the host's logs, and
every long traceback added a truncation line. The first occurrence is useful (it names
the limit that bit); the rest is noise that can bury the application's own logging. This
filter, installed once on the SDK's ``opentelemetry.attributes`` logger when vaquero
configures tracing, lets each message template through once and counts the rest.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

LIMIT_LOGGERS: Final = ("opentelemetry.attributes",)
_MAX_KINDS: Final = 256  # distinct templates remembered; past this, everything passes
_SUFFIX: Final = " (vaquero shows this once per process; later occurrences are counted.)"


class OncePerKind(logging.Filter):
    """Pass each distinct message template once; count what it holds back."""

    def __init__(self) -> None:
        super().__init__("vaquero-once-per-kind")
        self._seen: dict[object, int] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        kind = record.msg if isinstance(record.msg, str) else type(record.msg)
        with self._lock:
            count = self._seen.get(kind)
            if count is None:
                if len(self._seen) >= _MAX_KINDS:
                    return True
                self._seen[kind] = 0
                first = True
            else:
                self._seen[kind] = count + 1
                first = False
        if first and isinstance(record.msg, str):
            record.msg = record.msg + _SUFFIX
        return first

    def suppressed(self) -> int:
        """How many records were held back, all kinds together."""
        with self._lock:
            return sum(self._seen.values())


def install() -> OncePerKind:
    """Install the filter on every limit logger (idempotent); returns the one in use."""
    found: OncePerKind | None = None
    for name in LIMIT_LOGGERS:
        log = logging.getLogger(name)
        for existing in log.filters:
            if isinstance(existing, OncePerKind):
                found = existing
        if found is None:
            found = OncePerKind()
        if found not in log.filters:
            log.addFilter(found)
    assert found is not None
    return found
