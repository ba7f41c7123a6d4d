"""The one error type the analysis raises for bad input.

Everything a user can get wrong about *what* they asked us to read (a missing file, a file that
is not OTLP JSON, a Jaeger that does not answer) becomes an ``AnalysisInputError`` whose message
names the problem and the fix. The CLI turns it into one line on stderr and exit code 2, so the
user never sees a traceback for a mistake that is theirs to fix.
"""

from __future__ import annotations

__all__ = ["AnalysisInputError"]


class AnalysisInputError(Exception):
    """The trace source cannot be read; ``str(err)`` is a complete, user-facing sentence."""
