"""Compare workflows with a baseline: the CI gate behind ``analyze CURRENT --baseline B``.

A workflow is matched by its identity (run span name, agent), the same identity the
statistics group by, so runs match across files whatever else changed. A baseline is another
trace source, or the ``--json`` output of an earlier ``analyze`` (what a CI job keeps as an
artifact). Only workflows present on both sides are compared; the others are listed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vaquero.analysis._result import AnalysisResult, Regression

__all__ = [
    "DEFAULT_MAX_P95_INCREASE",
    "DEFAULT_MAX_SUCCESS_DROP",
    "Comparison",
    "Reference",
    "compare",
    "read_json_baseline",
    "references_of",
]

DEFAULT_MAX_P95_INCREASE = 0.2
DEFAULT_MAX_SUCCESS_DROP = 0.05
_EPSILON = 1e-9  # success rates are rounded to 4 places: do not fire on float noise
_MAX_JSON_BASELINE_BYTES = 64 * 1024 * 1024

Identity = tuple[str, str | None]  # (workflow name, agent)


@dataclass(frozen=True)
class Reference:
    """What a baseline says about one workflow."""

    p95_ms: float
    success_rate: float
    runs: int


@dataclass(frozen=True)
class Comparison:
    """The outcome: regressions, and the workflows only one side has."""

    regressions: tuple[Regression, ...]
    compared: int
    only_in_current: tuple[Identity, ...]
    only_in_baseline: tuple[Identity, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "only_in_current": [{"workflow": n, "agent": a} for n, a in self.only_in_current],
            "only_in_baseline": [{"workflow": n, "agent": a} for n, a in self.only_in_baseline],
        }


def references_of(result: AnalysisResult) -> dict[Identity, Reference]:
    """What ``result`` says about each workflow, keyed by (name, agent)."""
    return {(w.name, w.agent): Reference(w.p95_ms, w.success_rate, w.runs)
            for w in result.workflows}


def read_json_baseline(path: str) -> dict[Identity, Reference] | None:
    """The workflows of an earlier ``analyze --json`` output, or ``None`` if ``path`` is not one.

    Sniffs cheaply: only a regular file starting with ``{`` whose top level has a
    ``workflows`` list (and no ``resourceSpans``) counts; anything else is a trace source.
    """
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > _MAX_JSON_BASELINE_BYTES:
            return None
        with open(path, "rb") as handle:
            head = handle.read(64).lstrip()
            if not head.startswith(b"{"):
                return None
            handle.seek(0)
            document = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or "resourceSpans" in document:
        return None
    workflows = document.get("workflows")
    if not isinstance(workflows, list):
        return None
    references: dict[Identity, Reference] = {}
    for item in workflows:
        try:
            identity = (str(item["name"]), item.get("agent"))
            references[identity] = Reference(float(item["duration_ms"]["p95"]),
                                             float(item["success_rate"]), int(item["runs"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None  # not our format after all
    return references


def compare(
    current: Mapping[Identity, Reference],
    baseline: Mapping[Identity, Reference],
    *,
    max_p95_increase: float = DEFAULT_MAX_P95_INCREASE,
    max_success_drop: float = DEFAULT_MAX_SUCCESS_DROP,
) -> Comparison:
    """Regressions: p95 rose by more than ``max_p95_increase`` (a fraction of the baseline's
    p95), or the success rate fell by more than ``max_success_drop`` (absolute, 0.05 = 5
    points)."""
    regressions: list[Regression] = []
    shared = sorted(set(current) & set(baseline), key=_order)
    for identity in shared:
        now, then = current[identity], baseline[identity]
        name, agent = identity
        if now.p95_ms > then.p95_ms * (1 + max_p95_increase) + _EPSILON:
            regressions.append(Regression(name, agent, "p95_ms", then.p95_ms, now.p95_ms))
        if then.success_rate - now.success_rate > max_success_drop + _EPSILON:
            regressions.append(Regression(name, agent, "success_rate", then.success_rate,
                                          now.success_rate))
    return Comparison(
        regressions=tuple(regressions),
        compared=len(shared),
        only_in_current=tuple(sorted(set(current) - set(baseline), key=_order)),
        only_in_baseline=tuple(sorted(set(baseline) - set(current), key=_order)),
    )


def _order(identity: Identity) -> tuple[str, str]:
    return identity[0], identity[1] or ""
