"""vaquero.workflow: transitions, decisions, parallel groups, retries and timeouts."""

from __future__ import annotations

import asyncio
import enum

import pytest

import vaquero
from vaquero import workflow
from vaquero.testing import capture_spans


class State(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"


# --- transitions and decisions --------------------------------------------------------------
def test_transitions_are_events_in_order_and_state_stays_current():
    with capture_spans() as spans:
        with vaquero.span("order_workflow"):
            workflow.transition(None, State.PENDING)
            workflow.transition(State.PENDING, State.RUNNING, reason="payment received")
            with vaquero.span("step"):
                pass
            workflow.transition(State.RUNNING, State.DONE)
    run = spans.one("order_workflow")
    assert run.attributes["workflow.state"] == "done"
    events = [attrs for name, attrs in run.events if name == "workflow.transition"]
    assert [(e.get("workflow.transition.from"), e["workflow.transition.to"]) for e in events] == [
        (None, "pending"),
        ("pending", "running"),
        ("running", "done"),
    ]
    assert events[1]["workflow.transition.reason"] == "payment received"
    assert "workflow.transition.reason" not in events[2]
    assert spans.one("step").events == []


def test_transition_can_target_an_explicit_span_and_names_non_scalar_enums():
    class Phase(enum.Enum):
        A = (1, 2)
        B = (3, 4)

    with capture_spans() as spans:
        with vaquero.span("workflow") as run:
            with vaquero.span("inner"):
                workflow.transition(Phase.A, Phase.B, span=run)
    run_span = spans.one("workflow")
    assert run_span.attributes["workflow.state"] == "B"
    assert run_span.event_names() == ["workflow.transition"]
    assert spans.one("inner").events == []


def test_decision_records_branch_reason_and_inputs_and_returns_the_branch():
    with capture_spans() as spans:
        with vaquero.span("router"):
            taken = workflow.decision("route", "fast_path", reason="small order", items=2)
    assert taken == "fast_path"
    router = spans.one("router")
    assert router.attributes["workflow.decision.route"] == "fast_path"
    ((name, attrs),) = router.events
    assert name == "workflow.decision"
    assert attrs == {
        "workflow.decision.name": "route",
        "workflow.decision.branch": "fast_path",
        "workflow.decision.reason": "small order",
        "workflow.decision.input.items": 2,
    }


def test_helpers_outside_any_span_do_nothing_and_do_not_raise():
    workflow.transition("a", "b")
    assert workflow.decision("d", State.DONE) is State.DONE


# --- parallel --------------------------------------------------------------------------------
async def _value(value: int) -> int:
    async with vaquero.span("member", index=value):
        await asyncio.sleep(0)
        return value * 10


async def _boom(message: str) -> int:
    await asyncio.sleep(0)
    raise ValueError(message)


async def _self_cancel() -> int:
    raise asyncio.CancelledError


def test_parallel_returns_like_gather_and_counts_outcomes():
    async def main() -> list[object]:
        async with vaquero.span("batch"):
            return await workflow.parallel(
                _value(1), _boom("bad"), _value(3), _self_cancel(), name="members", kind="demo"
            )

    with capture_spans() as spans:
        results = asyncio.run(main())
    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], ValueError)
    assert isinstance(results[3], asyncio.CancelledError)
    group = spans.one("members")
    assert group.parent is spans.one("batch")
    assert group.status == "UNSET"  # member failures are results, not a group failure
    attrs = group.attributes
    assert attrs["kind"] == "demo"
    assert attrs["workflow.parallel.total"] == 4
    assert attrs["workflow.parallel.succeeded"] == 2
    assert attrs["workflow.parallel.failed"] == 1
    assert attrs["workflow.parallel.cancelled"] == 1
    assert "workflow.parallel.limit" not in attrs
    assert all(member.parent is group for member in spans.named("member"))


def test_parallel_reports_the_slowest_member():
    async def main() -> None:
        others_done = asyncio.Event()
        remaining = [3]

        async def waits_for_others() -> str:
            await others_done.wait()
            return "slow"

        async def quick() -> str:
            await asyncio.sleep(0)
            remaining[0] -= 1
            if remaining[0] == 0:
                others_done.set()
            return "quick"

        # Index 0 starts first and can only finish after every other member: the slowest.
        results = await workflow.parallel(waits_for_others(), quick(), quick(), quick())
        assert results == ["slow", "quick", "quick", "quick"]

    with capture_spans() as spans:
        asyncio.run(main())
    attrs = spans.one("parallel").attributes
    assert attrs["workflow.parallel.slowest_index"] == 0
    assert attrs["workflow.parallel.slowest_s"] >= 0


def test_parallel_limit_caps_concurrency():
    in_flight = 0
    peak = 0

    async def member(i: int) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(3):
            await asyncio.sleep(0)
        in_flight -= 1
        return i

    with capture_spans() as spans:
        results = asyncio.run(workflow.parallel(*(member(i) for i in range(10)), limit=3))
    assert results == list(range(10))
    assert peak == 3
    attrs = spans.one("parallel").attributes
    assert attrs["workflow.parallel.limit"] == 3
    assert attrs["workflow.parallel.succeeded"] == 10


def test_parallel_rejects_a_bad_limit():
    with pytest.raises(ValueError, match="limit"):
        asyncio.run(workflow.parallel(limit=0))


def test_parallel_with_no_members():
    with capture_spans() as spans:
        assert asyncio.run(workflow.parallel()) == []
        assert asyncio.run(workflow.parallel(return_exceptions=False)) == []
    for group in spans.named("parallel"):
        assert group.attributes["workflow.parallel.total"] == 0


def test_fail_fast_raises_the_first_error_and_cancels_the_rest():
    never = asyncio.Event()
    stopped: list[str] = []

    async def hangs() -> None:
        try:
            await never.wait()
        finally:
            stopped.append("hangs")

    async def main() -> None:
        await workflow.parallel(hangs(), _boom("first"), return_exceptions=False, name="ff")

    with capture_spans() as spans:
        with pytest.raises(ValueError, match="first"):
            asyncio.run(main())
    assert stopped == ["hangs"]
    group = spans.one("ff")
    assert group.status == "ERROR"
    assert group.attributes["workflow.parallel.failed"] == 1
    assert group.attributes["workflow.parallel.cancelled"] == 1
    assert group.attributes["workflow.parallel.succeeded"] == 0


def test_limit_with_queued_members_cancelled_leaves_no_unawaited_coroutines(recwarn):
    never = asyncio.Event()

    async def hangs() -> None:
        await never.wait()

    async def main() -> None:
        await workflow.parallel(
            _boom("stop"), hangs(), hangs(), hangs(), limit=2, return_exceptions=False
        )

    with capture_spans() as spans:
        with pytest.raises(ValueError, match="stop"):
            asyncio.run(main())
    assert spans.one("parallel").attributes["workflow.parallel.cancelled"] == 3
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


def test_cancelling_the_group_cancels_every_member():
    never = asyncio.Event()
    started = asyncio.Event

    async def main() -> None:
        ready = started()

        async def member() -> None:
            ready.set()
            await never.wait()

        task = asyncio.create_task(workflow.parallel(member(), member(), name="grp"))
        await ready.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with capture_spans() as spans:
        asyncio.run(main())
    group = spans.one("grp")
    assert group.attributes["workflow.parallel.cancelled"] == 2
    assert group.attributes["vaquero.cancelled"] is True
    assert group.status == "UNSET"


# --- retries ---------------------------------------------------------------------------------
def test_sync_retry_records_every_attempt():
    calls = []

    @workflow.retry(attempts=4, backoff=0.0, jitter=0.0, retry_on=(ConnectionError,))
    def fetch(key: str) -> str:
        calls.append(key)
        if len(calls) < 3:
            raise ConnectionError(f"try {len(calls)}")
        return key.upper()

    with capture_spans() as spans:
        with vaquero.span("caller"):
            assert fetch("k") == "K"
    attempts = spans.named("fetch")
    assert [a.attributes["workflow.retry.attempt"] for a in attempts] == [1, 2, 3]
    assert all(a.attributes["workflow.retry.max_attempts"] == 4 for a in attempts)
    assert all(a.parent is spans.one("caller") for a in attempts)
    first, second, third = attempts
    for failed in (first, second):
        assert failed.status == "ERROR"
        assert failed.attributes["error.type"] == "ConnectionError"
        assert failed.attributes["workflow.retry.backoff_s"] == 0.0
        assert "exception" in failed.event_names()
    assert third.status == "UNSET"
    assert "workflow.retry.backoff_s" not in third.attributes


def test_async_retry_gives_up_after_the_last_attempt():
    @workflow.retry(attempts=2, backoff=0.0, name="flaky_call")
    async def flaky() -> None:
        await asyncio.sleep(0)
        raise TimeoutError("still down")

    with capture_spans() as spans:
        with pytest.raises(TimeoutError, match="still down"):
            asyncio.run(flaky())
    first, last = spans.named("flaky_call")
    assert "workflow.retry.exhausted" not in first.attributes
    assert last.attributes["workflow.retry.exhausted"] is True
    assert last.status == "ERROR"
    assert "workflow.retry.backoff_s" not in last.attributes


def test_non_retryable_errors_stop_at_once():
    calls = []

    @workflow.retry(attempts=5, backoff=0.0, retry_on=lambda exc: "transient" in str(exc))
    def op() -> None:
        calls.append(1)
        raise ValueError("permanent")

    with capture_spans() as spans:
        with pytest.raises(ValueError):
            op()
    assert len(calls) == 1
    (attempt,) = spans.named("op")
    assert attempt.attributes["workflow.retry.retryable"] is False


def test_bare_retry_and_backoff_growth():
    @workflow.retry
    def ok() -> int:
        return 7

    assert ok() == 7
    calls = []

    @workflow.retry(attempts=3, backoff=0.001, multiplier=3.0, max_backoff=0.002, jitter=0.0)
    def twice() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("x")
        return "done"

    with capture_spans() as spans:
        assert twice() == "done"
    waits = [s.attributes.get("workflow.retry.backoff_s") for s in spans]
    assert waits == [0.001, 0.002, None]  # 0.001 * 3 capped at max_backoff


def test_cancellation_is_never_retried():
    calls = []

    @workflow.retry(attempts=3, backoff=0.0)
    async def cancelled() -> None:
        calls.append(1)
        raise asyncio.CancelledError

    with capture_spans():
        with pytest.raises(asyncio.CancelledError):
            asyncio.run(cancelled())
    assert calls == [1]


def test_retry_rejects_bad_settings():
    with pytest.raises(ValueError):
        workflow.retry(attempts=0)
    with pytest.raises(ValueError):
        workflow.retry(jitter=2.0)


# --- timeouts --------------------------------------------------------------------------------
def test_timeout_fires_marks_the_span_and_raises_timeout_error():
    async def main() -> None:
        async with workflow.timeout(0.01, name="slow_call") as handle:
            handle.set_attribute("target", "inventory")
            await asyncio.Event().wait()  # never set: only the deadline can end this

    with capture_spans() as spans:
        with pytest.raises(TimeoutError):
            asyncio.run(main())
    call = spans.one("slow_call")
    assert call.attributes["workflow.timeout_s"] == 0.01
    assert call.attributes["workflow.timed_out"] is True
    assert call.attributes["target"] == "inventory"
    assert call.status == "ERROR"
    assert "vaquero.cancelled" not in call.attributes


def test_timeout_that_does_not_fire_leaves_no_mark():
    async def main() -> str:
        async with workflow.timeout(30, name="fast_call"):
            async with vaquero.span("inside"):
                return "ok"

    with capture_spans() as spans:
        assert asyncio.run(main()) == "ok"
    call = spans.one("fast_call")
    assert call.attributes == {"workflow.timeout_s": 30}
    assert call.status == "UNSET"
    assert spans.one("inside").parent is call


def test_a_timeout_error_from_the_block_is_not_the_deadline():
    async def main() -> None:
        async with workflow.timeout(None, name="own_error"):
            raise TimeoutError("upstream said so")

    with capture_spans() as spans:
        with pytest.raises(TimeoutError, match="upstream"):
            asyncio.run(main())
    call = spans.one("own_error")
    assert "workflow.timed_out" not in call.attributes
    assert "workflow.timeout_s" not in call.attributes
    assert call.status == "ERROR"


def test_other_errors_pass_through_a_timeout():
    async def main() -> None:
        async with workflow.timeout(30):
            raise KeyError("k")

    with capture_spans() as spans:
        with pytest.raises(KeyError):
            asyncio.run(main())
    assert spans.one("timeout").status == "ERROR"


def test_timeout_rejects_negative_seconds():
    with pytest.raises(ValueError):
        workflow.timeout(-1)


def test_the_python_310_deadline_behaves_like_asyncio_timeout():
    """3.10 has no asyncio.timeout; its stand-in is plain asyncio, so it is checked here too."""

    async def main() -> None:
        async with workflow._LegacyDeadline(30) as deadline:
            await asyncio.sleep(0)
        assert not deadline.expired()
        async with workflow._LegacyDeadline(0.01) as deadline:
            await asyncio.Event().wait()

    with pytest.raises(TimeoutError) as caught:
        asyncio.run(main())
    assert isinstance(caught.value, asyncio.TimeoutError)
    assert isinstance(caught.value.__cause__, asyncio.CancelledError)
