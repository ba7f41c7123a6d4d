"""Event-driven workflow: events arrive on a queue and carry their producer's trace context.

The guide's ``EventDrivenWorkflow``, runnable: ``python examples/04_event_driven.py``.
Its "simplified" queue is a real ``asyncio.Queue`` here. Each event carries
``vaquero.inject()`` from the span that produced it, and its handler span *links* to that
producer (``links=[...]``): the producer and the workflow stay separate traces, yet Jaeger
can jump from a handler to the code that emitted its event.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import _sim as sim

import vaquero
from vaquero import workflow


# --- the simulated services the guide leaves undefined ----------------------------------------
async def process_user_action(user_id: str, action_type: str) -> str:
    await sim.latency()
    return f"{action_type}_ok"


async def handle_system_event(details: dict) -> None:
    await sim.latency(2, 10)


async def process_external_trigger(trigger_data: dict) -> None:
    await sim.latency(10, 30)


# --- the guide's workflow ---------------------------------------------------------------------
@dataclass
class WorkflowEvent:
    """Event in a workflow execution."""

    event_type: str
    payload: dict[str, Any]
    timestamp: float
    source: str
    trace_context: dict[str, str] = field(default_factory=dict)  # vaquero.inject() output


@vaquero.trace(agent_name="event_driven_workflow")
class EventDrivenWorkflow:
    """Workflow driven by events with comprehensive tracing."""

    def __init__(self, workflow_id: str, inbox: asyncio.Queue[WorkflowEvent]):
        self.workflow_id = workflow_id
        self.events_processed = []
        self.current_state = "initialized"
        self.inbox = inbox

    async def start_workflow(self):
        """Start the event-driven workflow."""
        with vaquero.span("workflow_initialization") as span:
            span.set_attribute("workflow_id", self.workflow_id)
            span.set_attribute("workflow_type", "event_driven")

            # Initialize workflow state
            self.current_state = "running"
            span.set_attribute("initialization_successful", True)

            # Start event processing loop
            await self._process_events()

    async def _process_events(self):
        """Process workflow events."""
        while self.current_state == "running":
            with vaquero.span("event_processing_loop") as span:
                span.set_attribute("current_state", self.current_state)

                # Get next event
                event = await self._get_next_event()

                if event:
                    await self._handle_event(event)
                    self.events_processed.append(event)
                    span.set_attribute("event_processed", True)
                else:
                    # No more events, workflow complete
                    self.current_state = "completed"
                    span.set_attribute("workflow_completed", True)
                    break

    async def _handle_event(self, event: WorkflowEvent):
        """Handle a specific workflow event."""
        with vaquero.span(
            f"event_handler_{event.event_type}", links=[event.trace_context]
        ) as span:
            span.set_attribute("event_type", event.event_type)
            span.set_attribute("event_source", event.source)
            span.set_attribute("event_timestamp", event.timestamp)

            # Route to appropriate handler
            workflow.decision("event_route", event.event_type, source=event.source)
            if event.event_type == "user_action":
                await self._handle_user_action(event)
            elif event.event_type == "system_event":
                await self._handle_system_event(event)
            elif event.event_type == "external_trigger":
                await self._handle_external_trigger(event)
            elif event.event_type == "user_action_completed":
                span.set_attribute("follow_up_of", event.payload["original_action"])
            else:
                span.set_attribute("event_handled", False)
                span.set_attribute("unknown_event_type", event.event_type)

    async def _handle_user_action(self, event: WorkflowEvent):
        """Handle user action events."""
        with vaquero.span("user_action_processing") as span:
            user_id = event.payload.get("user_id")
            action_type = event.payload.get("action_type")

            span.set_attribute("user_id", user_id)
            span.set_attribute("action_type", action_type)

            # Process user action
            result = await process_user_action(user_id, action_type)
            span.set_attribute("action_processed", True)

            # Generate follow-up events
            await self._generate_follow_up_events("user_action_completed", {
                "user_id": user_id,
                "original_action": action_type,
                "result": result,
            })

    async def _handle_system_event(self, event: WorkflowEvent):
        """Handle system-generated events."""
        with vaquero.span("system_event_processing") as span:
            event_details = event.payload

            span.set_attribute("system_event_details", str(event_details))

            # Process system event
            await handle_system_event(event_details)
            span.set_attribute("system_event_handled", True)

    async def _handle_external_trigger(self, event: WorkflowEvent):
        """Handle external trigger events."""
        with vaquero.span("external_trigger_processing") as span:
            trigger_data = event.payload

            span.set_attribute("trigger_source", trigger_data.get("source"))

            # Process external trigger
            await process_external_trigger(trigger_data)
            span.set_attribute("trigger_processed", True)

    async def _generate_follow_up_events(self, event_type: str, payload: dict):
        """Generate follow-up events for workflow continuation."""
        with vaquero.span("follow_up_event_generation") as span:
            span.set_attribute("generated_event_type", event_type)

            follow_up_event = WorkflowEvent(
                event_type=event_type,
                payload=payload,
                timestamp=time.time(),
                source="workflow_engine",
                trace_context=vaquero.inject(),
            )

            # Queue follow-up event for processing
            await self._queue_event(follow_up_event)
            span.set_attribute("follow_up_event_queued", True)

    async def _get_next_event(self) -> WorkflowEvent | None:
        """Get next event from the queue; None once it stays empty."""
        await asyncio.sleep(0.005)  # Simulate polling delay
        try:
            return self.inbox.get_nowait()
        except asyncio.QueueEmpty:
            return None

    async def _queue_event(self, event: WorkflowEvent):
        """Queue event for processing."""
        await self.inbox.put(event)


# --- where events come from -------------------------------------------------------------------
@vaquero.trace(agent_name="event_source")
async def publish_events(inbox: asyncio.Queue[WorkflowEvent]) -> None:
    """A separate producer (a web app, a scheduler, a webhook) emitting events."""
    incoming = [
        ("user_action", {"user_id": "user123", "action_type": "login"}, "user_interface"),
        ("system_event", {"kind": "cache_warmed", "keys": 1200}, "scheduler"),
        ("external_trigger", {"source": "payments_webhook"}, "webhook"),
        ("user_action", {"user_id": "user123", "action_type": "logout"}, "user_interface"),
    ]
    for event_type, payload, source in incoming:
        with vaquero.span("publish_event", event_type=event_type):
            await sim.latency(1, 4)
            await inbox.put(
                WorkflowEvent(event_type, payload, time.time(), source, vaquero.inject())
            )


async def _run() -> None:
    inbox: asyncio.Queue[WorkflowEvent] = asyncio.Queue()
    await publish_events(inbox)
    run = EventDrivenWorkflow("evt_wf_001", inbox)
    await run.start_workflow()
    print(f"{run.workflow_id}: {run.current_state}, {len(run.events_processed)} events handled")


def main(seed: int | None = None) -> None:
    sim.seed(seed)
    asyncio.run(_run())


if __name__ == "__main__":
    main(sim.seed_from_argv())
