"""Every runnable snippet of the seed documentation, executed verbatim.

The code blocks are read from ``shared/seed/workflow-orchestration.md`` (the copy in
``tests/fixtures/seed`` is used when the shared folder is not beside the checkout, and must
not drift from it). Only the helper functions the documentation leaves undefined are stubbed.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest

import vaquero
from vaquero.testing import CapturedSpan, capture_spans

ROOT = Path(__file__).resolve().parent.parent
SHARED_SEED = ROOT.parent / "shared" / "seed" / "workflow-orchestration.md"
VENDORED_SEED = Path(__file__).parent / "fixtures" / "seed" / "workflow-orchestration.md"


def _seed_text() -> str:
    return (SHARED_SEED if SHARED_SEED.exists() else VENDORED_SEED).read_text(encoding="utf-8")


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", _seed_text(), flags=re.S)


def _block(marker: str) -> str:
    found = [block for block in _blocks() if marker in block]
    assert len(found) == 1, f"expected one seed block containing {marker!r}"
    return found[0]


def _load(marker: str, **stubs: Any) -> types.ModuleType:
    """Execute one seed block as a module of its own, with stubs for undefined helpers."""
    name = "seed_" + re.sub(r"\W", "_", marker)
    module = types.ModuleType(name)
    module.__dict__.update({"time": time, "asyncio": asyncio, "vaquero": vaquero}, **stubs)
    sys.modules[name] = module
    exec(compile(_block(marker), f"<seed {marker}>", "exec"), module.__dict__)
    return module


def _child_names(span: CapturedSpan) -> list[str]:
    return [child.name for child in span.children]


def test_vendored_seed_copy_matches_the_shared_seed():
    if not SHARED_SEED.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert VENDORED_SEED.read_text(encoding="utf-8") == SHARED_SEED.read_text(encoding="utf-8")


def test_seed_has_the_blocks_this_file_runs():
    assert len(_blocks()) == 11


# --- Simple Sequential Workflow ----------------------------------------------------------------
SEQUENTIAL = "async def register_user_workflow(user_data: dict) -> dict:"


async def _validate_user_data(data: dict) -> dict:
    if "@" not in data.get("email", ""):
        raise ValueError("invalid email")
    return {"email": data["email"], "name": data.get("name", "")}


async def _no_existing_user(email: str) -> None:
    return None


async def _existing_user(email: str) -> dict:
    return {"id": "u-1"}


async def _create_user(data: dict) -> str:
    return "u-42"


async def _send_email(user_id: str, email: str) -> bool:
    return True


async def _update_analytics(user_id: str, event: str) -> None:
    return None


SEQUENTIAL_STUBS = {
    "validate_user_data": _validate_user_data,
    "create_user_in_database": _create_user,
    "send_welcome_email": _send_email,
    "update_user_analytics": _update_analytics,
}


def test_sequential_workflow_produces_one_span_per_step():
    seed = _load(SEQUENTIAL, check_existing_user=_no_existing_user,
                 **SEQUENTIAL_STUBS)
    with capture_spans() as spans:
        result = asyncio.run(seed.register_user_workflow({"email": "a@example.com"}))
    assert result["status"] == "completed" and result["user_id"] == "u-42"
    root = spans.one("register_user_workflow")
    assert root.parent is None
    assert root.attributes["gen_ai.agent.name"] == "user_registration_workflow"
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    workflow = spans.one("user_registration_workflow")
    assert workflow.parent is root
    assert _child_names(workflow) == [
        "data_validation", "duplicate_check", "user_creation", "welcome_email",
        "analytics_update",
    ]
    assert all(span.agent == "user_registration_workflow" for span in spans)
    assert spans.one("data_validation").attributes["validated_fields"] == ("email", "name")
    assert spans.one("user_creation").attributes["created_user_id"] == "u-42"
    assert workflow.attributes["final_user_id"] == "u-42"
    assert all(span.status == "UNSET" for span in spans)


def test_sequential_workflow_failure_marks_the_failing_step_and_propagates():
    seed = _load(SEQUENTIAL, check_existing_user=_existing_user,
                 **SEQUENTIAL_STUBS)
    with capture_spans() as spans:
        with pytest.raises(ValueError, match="User already exists"):
            asyncio.run(seed.register_user_workflow({"email": "a@example.com"}))
    check = spans.one("duplicate_check")
    assert check.status == "ERROR"
    assert check.attributes["user_exists"] is True
    assert check.attributes["existing_user_id"] == "u-1"
    assert spans.named("user_creation") == []
    assert spans.one("register_user_workflow").status == "ERROR"
    assert len(check.events) == 1


def test_sequential_workflow_validation_error_is_recorded_on_the_validation_step():
    seed = _load(SEQUENTIAL, check_existing_user=_no_existing_user,
                 **SEQUENTIAL_STUBS)
    with capture_spans() as spans:
        with pytest.raises(ValueError, match="invalid email"):
            asyncio.run(seed.register_user_workflow({"email": "nope"}))
    validation = spans.one("data_validation")
    assert validation.attributes["validation_successful"] is False
    assert validation.attributes["validation_error"] == "invalid email"
    assert validation.status == "ERROR"


# --- Parallel Workflow Execution ---------------------------------------------------------------
async def _validate_single_user(user: dict) -> dict:
    await asyncio.sleep(0)
    return user


async def _process_single_user(user: dict) -> dict:
    await asyncio.sleep(0)
    return {"id": user["id"], "ok": True}


def test_parallel_workflow_nests_every_chunk_under_its_creator():
    seed = _load("async def process_user_batch",
                 validate_single_user=_validate_single_user,
                 process_single_user=_process_single_user)
    users = [{"id": i, "email": f"u{i}@example.com"} for i in range(25)]
    with capture_spans() as spans:
        result = asyncio.run(seed.process_user_batch(users))
    assert result["processed_users"] == 25 and result["batch_results"] == 3
    processing = spans.one("parallel_processing")
    chunks = [spans.one(f"batch_chunk_{n}") for n in range(3)]
    assert all(chunk.parent is processing for chunk in chunks)
    for index in range(25):
        user_span = spans.one(f"process_user_{index}")
        assert user_span.parent is chunks[index // 10]
        assert user_span.attributes["user_id"] == index
        assert user_span.agent == "parallel_processing_workflow"
    assert processing.attributes["successful_batches"] == 3
    assert spans.one("result_aggregation").attributes["total_users_processed"] == 25
    assert spans.one("batch_processing_workflow").parent is spans.one("process_user_batch")


def test_parallel_workflow_validation_failure():
    async def failing_validation(user: dict) -> dict:
        if user["id"] == 3:
            raise ValueError("bad user")
        return user

    seed = _load("async def process_user_batch", validate_single_user=failing_validation,
                 process_single_user=_process_single_user)
    users = [{"id": i, "email": f"u{i}@example.com"} for i in range(5)]
    with capture_spans() as spans:
        with pytest.raises(ValueError, match="Validation failed for 1 users"):
            asyncio.run(seed.process_user_batch(users))
    validation = spans.one("batch_validation")
    assert validation.attributes["validation_failures"] == 1
    assert validation.attributes["validation_successful"] is False
    assert validation.status == "ERROR"


# --- State Machine Workflows -------------------------------------------------------------------
async def _noop(*args: Any) -> None:
    return None


STATE_STUBS = {
    "process_complex_data": _noop,
    "save_workflow_results": _noop,
    "notify_workflow_completion": _noop,
    "log_workflow_failure": _noop,
}


def test_state_machine_records_every_transition():
    seed = _load("class StateMachineWorkflow", **STATE_STUBS)
    with capture_spans() as spans:
        result = asyncio.run(
            seed.StateMachineWorkflow("wf-1", {"required_field": 1}).execute()
        )
    assert result["final_state"] == "completed" and result["state_transitions"] == 4
    root = spans.one("StateMachineWorkflow.execute")
    assert root.agent == "state_machine_workflow" and root.parent is None
    execution = spans.one("state_machine_execution")
    assert _child_names(execution) == [
        "state_transition_pending_to_validating",
        "state_transition_validating_to_processing",
        "state_transition_processing_to_completing",
        "state_transition_completing_to_completed",
    ]
    assert _child_names(spans.one("state_transition_pending_to_validating")) == [
        "data_validation"
    ]
    assert _child_names(spans.one("state_transition_completing_to_completed")) == [
        "workflow_finalization"
    ]
    assert execution.attributes["final_state"] == "completed"
    assert all(span.agent == "state_machine_workflow" for span in spans)
    private = [name for name in spans.names() if "._" in name]
    assert private == []


def test_state_machine_failure_transitions_to_failed_and_propagates():
    seed = _load("class StateMachineWorkflow", **STATE_STUBS)
    with capture_spans() as spans:
        with pytest.raises(ValueError, match="Missing required field"):
            asyncio.run(seed.StateMachineWorkflow("wf-2", {}).execute())
    failed_transition = spans.one("state_transition_pending_to_validating")
    assert failed_transition.status == "ERROR"
    assert spans.one("state_transition_pending_to_failed").children[0].name == (
        "workflow_failure_handling"
    )
    execution = spans.one("state_machine_execution")
    assert execution.attributes["workflow_successful"] is False
    assert execution.attributes["failure_state"] == "failed"
    assert spans.one("StateMachineWorkflow.execute").status == "ERROR"


# --- Event-Driven Workflows --------------------------------------------------------------------
def test_event_driven_workflow_loops_until_no_events_remain():
    async def process_user_action(user_id: str, action: str) -> dict:
        return {"user_id": user_id, "action": action}

    seed = _load("class EventDrivenWorkflow", process_user_action=process_user_action,
                 handle_system_event=_noop, process_external_trigger=_noop)
    with capture_spans() as spans:
        asyncio.run(seed.EventDrivenWorkflow("ev-1").start_workflow())
    root = spans.one("EventDrivenWorkflow.start_workflow")
    assert root.agent == "event_driven_workflow"
    init = spans.one("workflow_initialization")
    loops = spans.named("event_processing_loop")
    assert len(loops) == 4 and all(loop.parent is init for loop in loops)
    handlers = spans.named("event_handler_user_action")
    assert len(handlers) == 3
    for handler in handlers:
        assert handler.parent.name == "event_processing_loop"
        assert handler.attributes["event_source"] == "user_interface"
        action = handler.children[0]
        assert action.name == "user_action_processing"
        assert _child_names(action) == ["follow_up_event_generation"]
    last = max(loops, key=lambda span: span.start_ns)
    assert last.attributes["workflow_completed"] is True


# --- Workflow Analytics ------------------------------------------------------------------------
def test_workflow_analytics_methods_are_spans_with_insights():
    seed = _load("class WorkflowAnalytics")
    with capture_spans() as spans:
        analytics = seed.WorkflowAnalytics()
        for index, success in enumerate([True, False, False, True]):
            analytics.record_workflow_completion(f"wf{index}", "registration", 45.0, success, 5)
        analysis = analytics.analyze_workflow_performance()
    assert {insight["type"] for insight in analysis["performance_insights"]} == {
        "low_success_rate", "slow_workflow",
    }
    records = spans.named("WorkflowAnalytics.record_workflow_completion")
    assert len(records) == 4
    assert all(r.children[0].name == "workflow_completion_recording" for r in records)
    analysis_span = spans.one("workflow_performance_analysis")
    assert analysis_span.attributes["insights_generated"] == 2
    assert analysis_span.agent == "workflow_analytics"


# --- Common issues: state tracker, parallel tracking, timeouts ---------------------------------
def test_state_tracker_snippet():
    holder = types.SimpleNamespace(current_state="idle")
    seed = _load("def track_state_changes", self=holder, new_state="busy")
    with capture_spans() as spans:
        seed.track_state_changes()
    assert holder.current_state == "busy"
    change = spans.one("state_change")
    assert change.attributes["state_change"] == "idle_to_busy"
    assert change.agent == "state_tracker"


def test_parallel_execution_tracking_snippet_counts_failures():
    seed = _load("async def execute_parallel_tasks")

    async def ok() -> int:
        return 1

    async def bad() -> int:
        raise RuntimeError("task failed")

    async def main() -> None:
        await seed.execute_parallel_tasks([ok(), bad(), ok()])  # the snippet returns nothing

    with capture_spans() as spans:
        asyncio.run(main())
    execution = spans.one("parallel_execution")
    assert execution.attributes["successful_tasks"] == 2
    assert execution.attributes["failed_tasks"] == 1
    assert execution.parent is spans.one("execute_parallel_tasks")


def test_timeout_snippet_marks_the_span_and_raises_timeout_error():
    seed = _load("async def execute_with_timeout")

    async def slow() -> None:
        with vaquero.span("slow_work"):
            await asyncio.sleep(5)

    async def fast() -> str:
        return "fast"

    with capture_spans() as spans:
        assert asyncio.run(seed.execute_with_timeout(fast, timeout_seconds=5)) == "fast"
        with pytest.raises(asyncio.TimeoutError):
            asyncio.run(seed.execute_with_timeout(slow, timeout_seconds=0.05))
    protected = spans.named("timeout_protected_execution")
    assert [p.attributes.get("execution_successful") for p in protected] == [True, False]
    timed_out = protected[1]
    assert timed_out.attributes["timeout_occurred"] is True
    assert timed_out.attributes["timeout_seconds"] == 0.05
    assert timed_out.status == "ERROR"
    slow_work = spans.one("slow_work")
    assert slow_work.attributes["vaquero.cancelled"] is True
    assert slow_work.parent is timed_out
