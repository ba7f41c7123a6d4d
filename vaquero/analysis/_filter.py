"""``--workflow NAME``: which runs it keeps, and the error when it keeps none.

A filter is the gate of a CI job (``analyze b.jsonl --baseline a.jsonl --workflow checkout``):
a typo that matches nothing must not pass as "0 workflows compared, 0 regressions". So a name
that matches no run of the source at all (before ``--since``: a workflow that exists but ran
too long ago is an honest empty answer) is an :class:`AnalysisInputError` listing the
workflows the source does hold, closest first, so the fix is a copy and paste.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from vaquero.analysis.errors import AnalysisInputError

__all__ = ["MAX_LISTED", "WorkflowNames", "matches", "no_such_workflow"]

MAX_LISTED = 20  # workflows named in the message; the rest are counted
_MAX_REMEMBERED = 1_000  # distinct (agent, name) pairs kept for the message: bounded memory


def matches(wanted: str, name: str, agent: str | None) -> bool:
    """A run is kept when its span name or its agent name is ``wanted``."""
    return name == wanted or agent == wanted


class WorkflowNames:
    """The distinct workflows seen (bounded), and whether the filter matched any run."""

    __slots__ = ("matched", "seen", "wanted")

    def __init__(self, wanted: str | None) -> None:
        self.wanted = wanted
        self.matched = wanted is None
        self.seen: dict[tuple[str, str | None], None] = {}

    def saw(self, name: str, agent: str | None) -> bool:
        """Note one run; whether it passes the filter."""
        wanted = self.wanted
        if wanted is None:
            return True
        if len(self.seen) < _MAX_REMEMBERED:
            self.seen.setdefault((name, agent), None)
        if matches(wanted, name, agent):
            self.matched = True
            return True
        return False

    def check(self, source: str) -> None:
        """Raise the filter's error if it matched no run of ``source``."""
        if not self.matched and self.wanted is not None:
            raise no_such_workflow(self.wanted, source, self.seen)


def no_such_workflow(
    wanted: str, source: str, workflows: Iterable[tuple[str, str | None]]
) -> AnalysisInputError:
    """The error for a ``--workflow`` that names nothing in ``source``."""
    available = sorted(set(workflows), key=lambda item: (item[0], item[1] or ""))
    if not available:
        return AnalysisInputError(
            f"--workflow {wanted!r} matches nothing: {source} holds no workflow runs at all."
        )
    names = {name for name, _ in available} | {agent for _, agent in available if agent}
    close = difflib.get_close_matches(wanted, sorted(names), n=3, cutoff=0.6)
    listed = [f"{name} (agent {agent})" if agent and agent != name else name
              for name, agent in available[:MAX_LISTED]]
    more = len(available) - len(listed)
    suffix = f", and {more} more" if more > 0 else ""
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    return AnalysisInputError(
        f"--workflow {wanted!r} matches no workflow (by span name or agent name) in {source}."
        f"{hint} Its workflows: {', '.join(listed)}{suffix}."
    )
