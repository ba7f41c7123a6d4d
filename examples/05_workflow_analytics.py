"""Workflow analytics: record finished workflows, then look for slow or unreliable ones.

The guide's ``WorkflowAnalytics``, runnable: ``python examples/05_workflow_analytics.py``.
It is synchronous code: ``@vaquero.trace`` on the class gives each public method a span, and
the private helpers it calls simply run inside those spans.
"""

from __future__ import annotations

import time

import _sim as sim

import vaquero


@vaquero.trace(agent_name="workflow_analytics")
class WorkflowAnalytics:
    """Analyze workflow performance and patterns."""

    def __init__(self):
        self.workflow_metrics = []
        self.step_durations = {}
        self.failure_patterns = {}

    def record_workflow_completion(self, workflow_id: str, workflow_type: str,
                                   duration: float, success: bool, steps_completed: int):
        """Record workflow completion for analysis."""
        with vaquero.span("workflow_completion_recording") as span:
            span.set_attribute("workflow_id", workflow_id)
            span.set_attribute("workflow_type", workflow_type)
            span.set_attribute("duration_seconds", duration)
            span.set_attribute("success", success)
            span.set_attribute("steps_completed", steps_completed)

            metric = {
                "workflow_id": workflow_id,
                "workflow_type": workflow_type,
                "duration": duration,
                "success": success,
                "steps_completed": steps_completed,
                "timestamp": time.time(),
            }

            self.workflow_metrics.append(metric)

            # Track success rates by type
            if workflow_type not in self.step_durations:
                self.step_durations[workflow_type] = []

            if success:
                self.step_durations[workflow_type].append(duration)

            span.set_attribute("metric_recorded", True)

    def analyze_workflow_performance(self) -> dict:
        """Analyze workflow performance patterns."""
        with vaquero.span("workflow_performance_analysis") as span:
            if not self.workflow_metrics:
                return {"error": "No workflow metrics available"}

            # Group by workflow type
            workflows_by_type = {}
            for metric in self.workflow_metrics:
                workflow_type = metric["workflow_type"]
                if workflow_type not in workflows_by_type:
                    workflows_by_type[workflow_type] = []
                workflows_by_type[workflow_type].append(metric)

            analysis = {
                "total_workflows": len(self.workflow_metrics),
                "workflow_types": {},
                "performance_insights": [],
            }

            for workflow_type, workflows in workflows_by_type.items():
                successful_workflows = [w for w in workflows if w["success"]]
                avg_duration = (
                    sum(w["duration"] for w in successful_workflows) / len(successful_workflows)
                    if successful_workflows else 0
                )

                type_analysis = {
                    "count": len(workflows),
                    "successful": len(successful_workflows),
                    "success_rate": len(successful_workflows) / len(workflows) if workflows else 0,
                    "avg_duration": avg_duration,
                    "total_steps_completed": sum(w["steps_completed"] for w in workflows),
                }

                analysis["workflow_types"][workflow_type] = type_analysis

                # Generate insights
                if type_analysis["success_rate"] < 0.8:  # Less than 80% success rate
                    analysis["performance_insights"].append({
                        "type": "low_success_rate",
                        "workflow_type": workflow_type,
                        "current_rate": type_analysis["success_rate"],
                        "recommendation": f"Review {workflow_type} workflow for reliability issues",
                    })

                if avg_duration > 30:  # More than 30 seconds
                    analysis["performance_insights"].append({
                        "type": "slow_workflow",
                        "workflow_type": workflow_type,
                        "avg_duration": avg_duration,
                        "recommendation": (
                            f"Optimize {workflow_type} workflow for better performance"
                        ),
                    })

            span.set_attribute("analysis_complete", True)
            span.set_attribute("insights_generated", len(analysis["performance_insights"]))

            return analysis


# Simulated history: (workflow type, typical seconds, success rate, steps)
_PROFILES = [
    ("user_registration", 4.0, 0.95, 5),
    ("batch_processing", 45.0, 0.85, 3),
    ("state_machine", 8.0, 0.6, 4),
]


@vaquero.trace(agent_name="workflow_analytics")
def nightly_analytics_run(runs_per_type: int = 5) -> dict:
    """Feed a day of finished workflows into the analytics, then analyse them."""
    analytics = WorkflowAnalytics()
    for workflow_type, typical_s, success_rate, steps in _PROFILES:
        for n in range(runs_per_type):
            success = sim.rng.random() < success_rate
            analytics.record_workflow_completion(
                workflow_id=f"{workflow_type}_{n:03d}",
                workflow_type=workflow_type,
                duration=round(sim.rng.uniform(0.5, 1.5) * typical_s, 2),
                success=success,
                steps_completed=steps if success else sim.rng.randrange(steps),
            )
    return analytics.analyze_workflow_performance()


def main(seed: int | None = None) -> None:
    sim.seed(seed)
    analysis = nightly_analytics_run()
    print(f"analysed {analysis['total_workflows']} workflows")
    for insight in analysis["performance_insights"]:
        print(f"  {insight['type']}: {insight['recommendation']}")


if __name__ == "__main__":
    main(sim.seed_from_argv())
