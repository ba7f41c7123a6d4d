"""State machine workflow: explicit states, one span per transition, a history on the run span.

The guide's ``StateMachineWorkflow``, runnable: ``python examples/03_state_machine.py``.
Its span-per-transition style is kept as written; ``vaquero.workflow.transition`` additionally
puts every transition, in order, as an event on the ``state_machine_execution`` span and keeps
``workflow.state`` there current, so one span answers "where did this run stop?".
"""

from __future__ import annotations

import asyncio
import time
from enum import Enum

import _sim as sim
from _sim import TransientError

import vaquero
from vaquero import workflow


# --- the simulated services the guide leaves undefined ----------------------------------------
async def process_complex_data(data: dict) -> dict:
    await sim.latency(20, 60)
    return {"rows": len(data), "checksum": sum(map(len, map(str, data.values())))}


@workflow.retry(attempts=4, backoff=0.01, retry_on=(TransientError,))
async def save_workflow_results(workflow_id: str, data: dict) -> None:
    await sim.latency(5, 25)
    sim.flaky(0.3, "results-store")


async def notify_workflow_completion(workflow_id: str) -> None:
    await sim.latency()


async def log_workflow_failure(workflow_id: str, data: dict) -> None:
    await sim.latency(1, 5)


# --- the guide's workflow ---------------------------------------------------------------------
class WorkflowState(Enum):
    PENDING = "pending"
    VALIDATING = "validating"
    PROCESSING = "processing"
    COMPLETING = "completing"
    COMPLETED = "completed"
    FAILED = "failed"


@vaquero.trace(agent_name="state_machine_workflow")
class StateMachineWorkflow:
    """Workflow with explicit state management and transitions."""

    def __init__(self, workflow_id: str, initial_data: dict):
        self.workflow_id = workflow_id
        self.data = initial_data
        self.current_state = WorkflowState.PENDING
        self.state_history = []

    async def execute(self) -> dict:
        """Execute workflow with state transitions."""
        with vaquero.span("state_machine_execution") as workflow_span:
            workflow_span.set_attribute("workflow_id", self.workflow_id)
            workflow_span.set_attribute("initial_state", self.current_state.value)
            workflow.transition(None, self.current_state)

            try:
                # State: PENDING → VALIDATING
                await self._transition_to_state(WorkflowState.VALIDATING)

                # State: VALIDATING → PROCESSING
                await self._transition_to_state(WorkflowState.PROCESSING)

                # State: PROCESSING → COMPLETING
                await self._transition_to_state(WorkflowState.COMPLETING)

                # State: COMPLETING → COMPLETED
                await self._transition_to_state(WorkflowState.COMPLETED)

                workflow_span.set_attribute("final_state", self.current_state.value)
                workflow_span.set_attribute("workflow_successful", True)

                return {
                    "workflow_id": self.workflow_id,
                    "final_state": self.current_state.value,
                    "state_transitions": len(self.state_history),
                    "status": "completed",
                }

            except Exception:
                # State: Any → FAILED
                await self._transition_to_state(WorkflowState.FAILED)
                workflow_span.set_attribute("workflow_successful", False)
                workflow_span.set_attribute("failure_state", self.current_state.value)
                raise

    async def _transition_to_state(self, new_state: WorkflowState):
        """Transition workflow to new state with tracing."""
        old_state = self.current_state

        with vaquero.span(f"state_transition_{old_state.value}_to_{new_state.value}") as span:
            span.set_attribute("from_state", old_state.value)
            span.set_attribute("to_state", new_state.value)
            span.set_attribute("workflow_id", self.workflow_id)

            # Execute state-specific logic
            await self._execute_state_logic(old_state, new_state)

            # Update state
            self.current_state = new_state

            # Record transition
            transition_record = {
                "from_state": old_state.value,
                "to_state": new_state.value,
                "timestamp": time.time(),
                "workflow_id": self.workflow_id,
            }
            self.state_history.append(transition_record)

            span.set_attribute("transition_successful", True)

        # Back on the execution span: record the transition in its history.
        workflow.transition(old_state, new_state)

    async def _execute_state_logic(self, from_state: WorkflowState, to_state: WorkflowState):
        """Execute logic specific to state transition."""
        if to_state == WorkflowState.VALIDATING:
            await self._validate_workflow_data()
        elif to_state == WorkflowState.PROCESSING:
            await self._process_workflow_data()
        elif to_state == WorkflowState.COMPLETING:
            await self._complete_workflow()
        elif to_state == WorkflowState.COMPLETED:
            await self._finalize_workflow()
        elif to_state == WorkflowState.FAILED:
            await self._handle_workflow_failure()

    async def _validate_workflow_data(self):
        """Validate workflow input data."""
        with vaquero.span("data_validation") as span:
            # Validation logic
            if not self.data.get("required_field"):
                raise ValueError("Missing required field")

            span.set_attribute("validation_successful", True)

    async def _process_workflow_data(self):
        """Process workflow data."""
        with vaquero.span("data_processing") as span:
            # Processing logic, bounded: a stuck backend must not hold the workflow forever
            async with workflow.timeout(1.0, name="process_complex_data"):
                await process_complex_data(self.data)
            span.set_attribute("processing_successful", True)

    async def _complete_workflow(self):
        """Complete workflow operations."""
        with vaquero.span("workflow_completion") as span:
            # Completion logic
            await save_workflow_results(self.workflow_id, self.data)
            span.set_attribute("completion_successful", True)

    async def _finalize_workflow(self):
        """Finalize workflow."""
        with vaquero.span("workflow_finalization") as span:
            # Finalization logic
            await notify_workflow_completion(self.workflow_id)
            span.set_attribute("finalization_successful", True)

    async def _handle_workflow_failure(self):
        """Handle workflow failure."""
        with vaquero.span("workflow_failure_handling") as span:
            # Failure handling logic
            await log_workflow_failure(self.workflow_id, self.data)
            span.set_attribute("failure_handled", True)


async def _run() -> None:
    runs = [
        StateMachineWorkflow("wf_001", {"required_field": "invoice-42", "amount": 120}),
        StateMachineWorkflow("wf_002", {"amount": 80}),  # missing required_field: FAILED
    ]
    for run in runs:
        try:
            result = await run.execute()
            print(f"{run.workflow_id}: {result['final_state']} "
                  f"after {result['state_transitions']} transitions")
        except (ValueError, TransientError) as error:
            print(f"{run.workflow_id}: {run.current_state.value} ({error})")


def main(seed: int | None = None) -> None:
    sim.seed(seed)
    asyncio.run(_run())


if __name__ == "__main__":
    main(sim.seed_from_argv())
