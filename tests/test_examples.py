"""Each example runs as a program and produces the span tree its author meant."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, clean_env, file_env

EXAMPLES = ROOT / "examples"
ERROR = 2  # OTLP StatusCode.STATUS_CODE_ERROR


@dataclass
class Node:
    name: str
    span_id: str
    trace_id: str
    parent_id: str | None
    start: int
    status: int
    attrs: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    links: list[tuple[str, str]]
    children: list[Node] = field(default_factory=list)

    def child_names(self) -> list[str]:
        return [child.name for child in self.children]

    def only(self, name: str) -> Node:
        (found,) = [child for child in self.children if child.name == name]
        return found

    def walk(self) -> list[Node]:
        return [self, *(node for child in self.children for node in child.walk())]


def _value(wrapper: dict[str, Any]) -> Any:
    (kind, value), = wrapper.items() or [("none", None)]
    return int(value) if kind == "intValue" else value


def _attrs(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["key"]: _value(item["value"]) for item in items}


def _load_roots(path: Path) -> list[Node]:
    """The OTLP/JSON-lines file as trees of :class:`Node`, roots in start order."""
    nodes = {}
    for line in path.read_text().splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    nodes[span["spanId"]] = Node(
                        name=span["name"],
                        span_id=span["spanId"],
                        trace_id=span["traceId"],
                        parent_id=span.get("parentSpanId"),
                        start=int(span["startTimeUnixNano"]),
                        status=span.get("status", {}).get("code", 0),
                        attrs=_attrs(span.get("attributes", [])),
                        events=[(e["name"], _attrs(e.get("attributes", [])))
                                for e in span.get("events", [])],
                        links=[(link["traceId"], link["spanId"]) for link in span.get("links", [])],
                    )
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.parent_id or "")
        (parent.children if parent else roots).append(node)
    for node in nodes.values():
        node.children.sort(key=lambda child: child.start)
    return sorted(roots, key=lambda root: root.start)


def _run(example: str, tmp_path: Path) -> tuple[list[Node], str]:
    traces = tmp_path / "traces.jsonl"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / example), "--seed", "1"],
        env=file_env(traces),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return _load_roots(traces), result.stdout


def _assert_agent(root: Node, agent: str) -> None:
    for node in root.walk():
        assert node.attrs.get("gen_ai.agent.name") == agent, node.name


def _assert_retried_call(step: Node, name: str) -> None:
    """A step whose call went through workflow.retry: attempts 1..n, only the last succeeded."""
    attempts = [child for child in step.children if child.name == name]
    assert [a.attrs["workflow.retry.attempt"] for a in attempts] == list(
        range(1, len(attempts) + 1)
    )
    assert attempts[-1].status != ERROR
    for failed in attempts[:-1]:
        assert failed.status == ERROR
        assert failed.attrs["error.type"] == "TransientError"
        assert "workflow.retry.backoff_s" in failed.attrs


STEPS = ["data_validation", "duplicate_check", "user_creation", "welcome_email", "analytics_update"]


def test_sequential_registration(tmp_path: Path):
    roots, stdout = _run("01_sequential_registration.py", tmp_path)
    assert [root.name for root in roots] == ["register_user_workflow"] * 3
    assert "rejected taken@example.com" in stdout
    ada, grace, taken = roots
    for done in (ada, grace):
        _assert_agent(done, "user_registration_workflow")
        flow = done.only("user_registration_workflow")
        assert flow.child_names() == STEPS
        assert flow.attrs["workflow_completed"] is True
        assert flow.only("duplicate_check").attrs["workflow.decision.duplicate_check"] == "create"
        _assert_retried_call(flow.only("user_creation"), "create_user_in_database")
        _assert_retried_call(flow.only("welcome_email"), "send_welcome_email")
    assert taken.status == ERROR
    flow = taken.only("user_registration_workflow")
    assert flow.child_names() == ["data_validation", "duplicate_check"]
    check = flow.only("duplicate_check")
    assert check.status == ERROR
    assert check.attrs["workflow.decision.duplicate_check"] == "reject"
    assert check.attrs["user_exists"] is True


def test_parallel_batch(tmp_path: Path):
    roots, stdout = _run("02_parallel_batch.py", tmp_path)
    (root,) = roots
    assert root.name == "process_user_batch"
    assert "processed 12/12 users" in stdout
    _assert_agent(root, "parallel_processing_workflow")
    flow = root.only("batch_processing_workflow")
    assert flow.child_names() == ["batch_validation", "parallel_processing", "result_aggregation"]
    validation = flow.only("batch_validation")
    assert validation.child_names() == ["validate_single_user"] * 12
    assert validation.attrs["workflow.parallel.total"] == 12
    assert validation.attrs["workflow.parallel.succeeded"] == 12
    processing = flow.only("parallel_processing")
    assert processing.child_names() == ["batch_chunk", "batch_chunk"]
    assert processing.attrs["workflow.parallel.limit"] == 4
    assert sorted(c.attrs["chunk_size"] for c in processing.children) == [2, 10]
    users = [user for chunk in processing.children for user in chunk.children]
    assert [user.name for user in users] == ["process_user"] * 12
    for user in users:
        _assert_retried_call(user, "process_single_user")
    assert flow.only("result_aggregation").attrs["total_users_processed"] == 12


def test_state_machine(tmp_path: Path):
    roots, _ = _run("03_state_machine.py", tmp_path)
    assert [root.name for root in roots] == ["StateMachineWorkflow.execute"] * 2
    completed, failed = roots
    for root in roots:
        _assert_agent(root, "state_machine_workflow")

    run = completed.only("state_machine_execution")
    assert run.child_names() == [
        "state_transition_pending_to_validating",
        "state_transition_validating_to_processing",
        "state_transition_processing_to_completing",
        "state_transition_completing_to_completed",
    ]
    assert run.attrs["workflow.state"] == "completed"
    transitions = [attrs for name, attrs in run.events if name == "workflow.transition"]
    assert [t["workflow.transition.to"] for t in transitions] == [
        "pending", "validating", "processing", "completing", "completed",
    ]
    processing = run.children[1].only("data_processing").only("process_complex_data")
    assert processing.attrs["workflow.timeout_s"] == 1.0
    assert "workflow.timed_out" not in processing.attrs

    assert failed.status == ERROR
    run = failed.only("state_machine_execution")
    assert run.child_names() == [
        "state_transition_pending_to_validating",
        "state_transition_pending_to_failed",
    ]
    assert run.children[0].status == ERROR
    assert run.children[1].child_names() == ["workflow_failure_handling"]
    assert run.attrs["workflow.state"] == "failed"


def test_event_driven(tmp_path: Path):
    roots, stdout = _run("04_event_driven.py", tmp_path)
    assert [root.name for root in roots] == [
        "publish_events", "EventDrivenWorkflow.start_workflow",
    ]
    assert "6 events handled" in stdout
    producer, consumer = roots
    _assert_agent(producer, "event_source")
    _assert_agent(consumer, "event_driven_workflow")
    assert consumer.trace_id != producer.trace_id
    published = producer.children
    assert [p.attrs["event_type"] for p in published] == [
        "user_action", "system_event", "external_trigger", "user_action",
    ]

    loops = consumer.only("workflow_initialization").children
    assert [loop.name for loop in loops] == ["event_processing_loop"] * 7
    handlers = [loop.children[0] for loop in loops[:-1]]
    assert [h.name for h in handlers] == [
        "event_handler_user_action",
        "event_handler_system_event",
        "event_handler_external_trigger",
        "event_handler_user_action",
        "event_handler_user_action_completed",
        "event_handler_user_action_completed",
    ]
    # Each of the first four handlers links to the publish_event span that emitted its event.
    for handler, source in zip(handlers[:4], published):
        assert handler.links == [(producer.trace_id, source.span_id)]
    # Follow-ups link to the span that generated them, inside the workflow's own trace.
    generators = [
        node for node in consumer.walk() if node.name == "follow_up_event_generation"
    ]
    assert [h.links for h in handlers[4:]] == [
        [(consumer.trace_id, g.span_id)] for g in generators
    ]
    assert handlers[0].attrs["workflow.decision.event_route"] == "user_action"
    assert loops[-1].attrs["workflow_completed"] is True


def test_workflow_analytics(tmp_path: Path):
    roots, stdout = _run("05_workflow_analytics.py", tmp_path)
    (root,) = roots
    assert root.name == "nightly_analytics_run"
    assert "analysed 15 workflows" in stdout
    _assert_agent(root, "workflow_analytics")
    assert root.child_names() == (
        ["WorkflowAnalytics.record_workflow_completion"] * 15
        + ["WorkflowAnalytics.analyze_workflow_performance"]
    )
    for record in root.children[:-1]:
        assert record.child_names() == ["workflow_completion_recording"]
        assert record.children[0].attrs["metric_recorded"] is True
    analysis = root.children[-1].only("workflow_performance_analysis")
    assert analysis.attrs["analysis_complete"] is True
    printed = [line for line in stdout.splitlines() if line.startswith("  ")]
    assert analysis.attrs["insights_generated"] == len(printed)


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("[0-9]*.py")))
def test_every_example_has_a_main_and_runs_quietly(example: str, tmp_path: Path):
    source = (EXAMPLES / example).read_text()
    assert "def main(" in source and 'if __name__ == "__main__":' in source
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / example)],
        env=clean_env(OTEL_TRACES_EXPORTER="none"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
