"""The seed's two performance rules, with its recommendation wording.

The seed (``WorkflowAnalytics.analyze_workflow_performance``) flags a workflow type whose
success rate is below 0.8 and one whose average duration is above 30 s, where the average is
taken over *successful* runs only (0 when none succeeded). We keep both definitions, and make
the two thresholds parameters so a team can tune them without forking the rules.
"""

from __future__ import annotations

from collections.abc import Iterable

from vaquero.analysis._result import Insight, WorkflowStats

__all__ = ["DEFAULT_MIN_SUCCESS_RATE", "DEFAULT_SLOW_SECONDS", "derive_insights"]

DEFAULT_MIN_SUCCESS_RATE = 0.8
DEFAULT_SLOW_SECONDS = 30.0


def derive_insights(
    workflows: Iterable[WorkflowStats],
    *,
    min_success_rate: float = DEFAULT_MIN_SUCCESS_RATE,
    slow_seconds: float = DEFAULT_SLOW_SECONDS,
) -> list[Insight]:
    insights: list[Insight] = []
    for workflow in workflows:
        if workflow.success_rate < min_success_rate:
            insights.append(Insight(
                type="low_success_rate",
                workflow=workflow.name,
                agent=workflow.agent,
                recommendation=f"Review {workflow.name} workflow for reliability issues",
                details={"current_rate": workflow.success_rate, "threshold": min_success_rate},
            ))
        if workflow.mean_success_s > slow_seconds:
            insights.append(Insight(
                type="slow_workflow",
                workflow=workflow.name,
                agent=workflow.agent,
                recommendation=f"Optimize {workflow.name} workflow for better performance",
                details={"avg_duration": workflow.mean_success_s, "threshold": slow_seconds},
            ))
    return insights
