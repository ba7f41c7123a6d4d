"""Helpers for the patterns workflows repeat: state transitions, decisions, parallel groups,
retries and timeouts.

Each helper replaces a block the workflow-orchestration guide writes by hand (a span per
transition, a gather-and-count, a ``wait_for`` with flags) with one call that records the
same facts under fixed, low-cardinality names, so every workflow reads the same way in
Jaeger and in ``vaquero analyze``. None of them is required: the hand-written style keeps
working, and the helpers mix with it freely.

What is recorded (values stay small; ids and free text belong in your own attributes):

====================================  =========  ============================================
name                                  where      meaning
====================================  =========  ============================================
``workflow.state``                    attribute  the state after the latest :func:`transition`
``workflow.transition``               event      ``workflow.transition.from`` / ``.to`` /
                                                 ``.reason``
``workflow.decision.<name>``          attribute  the branch :func:`decision` took
``workflow.decision``                 event      ``workflow.decision.name`` / ``.branch`` /
                                                 ``.reason`` / ``.input.<key>``
``workflow.parallel.total``           attribute  members of a :func:`parallel` group, plus
                                                 ``.succeeded`` ``.failed`` ``.cancelled``
                                                 ``.limit`` ``.slowest_index`` ``.slowest_s``
``workflow.retry.attempt``            attribute  on each attempt span of :func:`retry`, with
                                                 ``.max_attempts``; a failed attempt also has
                                                 ``error.type``, the recorded exception, and
                                                 ``.backoff_s`` (wait before the next try) or
                                                 ``.exhausted`` / ``.retryable=false``
``workflow.timeout_s``                attribute  the budget of a :func:`timeout` span, and
                                                 ``workflow.timed_out=true`` when it fired
====================================  =========  ============================================

Why a small ``retry`` here rather than a ``tenacity`` integration: what users need to see is
each attempt as its own span (how long it took, what it raised, how long we then waited),
and that needs control of the call itself, which tenacity's ``before_sleep``/``after``
callbacks do not give (they run after the attempt, outside any span of it). A callback
integration would also make an optional extra a requirement for the guide's examples. The
helper below is ~60 lines, works on functions and coroutines alike, and adds no dependency;
users already on tenacity can keep it and wrap the retried call in ``vaquero.span``.
"""

from __future__ import annotations

import enum
import functools
import inspect
import random
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

if TYPE_CHECKING or sys.version_info < (3, 11):
    # asyncio costs ~15 ms to import and a synchronous program never needs it: the async
    # helpers below import it where they run (by then it is loaded).
    import asyncio

from vaquero._semconv import (
    DECISION_BRANCH,
    DECISION_EVENT,
    DECISION_INPUT_PREFIX,
    DECISION_NAME,
    DECISION_PREFIX,
    DECISION_REASON,
    ERROR_TYPE,
    PARALLEL_CANCELLED,
    PARALLEL_FAILED,
    PARALLEL_LIMIT,
    PARALLEL_SLOWEST_INDEX,
    PARALLEL_SLOWEST_S,
    PARALLEL_SUCCEEDED,
    PARALLEL_TOTAL,
    RETRY_ATTEMPT,
    RETRY_BACKOFF_S,
    RETRY_EXHAUSTED,
    RETRY_MAX_ATTEMPTS,
    RETRY_RETRYABLE,
    TIMED_OUT,
    TIMEOUT_S,
    TRANSITION_EVENT,
    TRANSITION_FROM,
    TRANSITION_REASON,
    TRANSITION_TO,
)
from vaquero._semconv import (
    WORKFLOW_STATE as STATE,
)
from vaquero._spans import Span, current_span, span
from vaquero._wrappers import span_name

__all__ = ["decision", "parallel", "retry", "timeout", "transition"]

P = ParamSpec("P")
R = TypeVar("R")



# --- state machines and decisions ------------------------------------------------------------
def _state_value(state: Any) -> Any:
    """An Enum member records as its value (``"processing"``), falling back to its name."""
    if isinstance(state, enum.Enum):
        value = state.value
        return value if isinstance(value, (str, int, float, bool)) else state.name
    return state


def transition(
    from_state: Any, to_state: Any, *, reason: str | None = None, span: Span | None = None
) -> None:
    """Record a state change as a ``workflow.transition`` event and update ``workflow.state``.

    An event rather than a span because a transition is an instant: a span per transition
    (the guide's style, which keeps working) doubles the span count and its duration is
    really the duration of the work done on entering the state. Call it where the workflow's
    own span is current (or pass ``span=``), so that one span holds the whole state history
    in order and its ``workflow.state`` attribute always shows where the workflow stopped.

    Args:
        from_state: the state left (an Enum, a string, anything printable); None for the
            initial state, entered from nowhere.
        to_state: the state entered; becomes the span's ``workflow.state``.
        reason: why, recorded on the event as ``workflow.transition.reason``.
        span: the span to record on; the current span when None.
    """
    target = span if span is not None else current_span()
    attributes = {TRANSITION_TO: _state_value(to_state)}
    if from_state is not None:  # None: the initial state, entered from nowhere
        attributes[TRANSITION_FROM] = _state_value(from_state)
    if reason is not None:
        attributes[TRANSITION_REASON] = reason
    target.add_event(TRANSITION_EVENT, attributes)
    target.set_attribute(STATE, _state_value(to_state))


def decision(name: str, branch: Any, *, reason: str | None = None, **inputs: Any) -> Any:
    """Record which ``branch`` the decision point ``name`` took, why, and on what inputs.

    The attribute ``workflow.decision.<name>`` makes traces searchable by branch in Jaeger;
    the event keeps the reason and the inputs next to the moment the choice was made.
    Returns ``branch`` so it can sit inline: ``if decision("route", pick(x)) == "fast": ...``.
    """
    target = current_span()
    value = _state_value(branch)
    target.set_attribute(DECISION_PREFIX + str(name), value)
    attributes: dict[str, Any] = {DECISION_NAME: str(name), DECISION_BRANCH: value}
    if reason is not None:
        attributes[DECISION_REASON] = reason
    for key, item in inputs.items():
        attributes[DECISION_INPUT_PREFIX + key] = item
    target.add_event(DECISION_EVENT, attributes)
    return branch


# --- parallel groups --------------------------------------------------------------------------
async def parallel(
    *aws: Awaitable[Any],
    name: str = "parallel",
    return_exceptions: bool = True,
    limit: int | None = None,
    **attributes: Any,
) -> list[Any]:
    """Run ``aws`` concurrently under one span ``name`` and return results like ``gather``.

    Records how many members succeeded, failed and were cancelled and which one was slowest,
    which is what the guide's gather-then-count blocks compute by hand. ``limit`` caps how
    many run at once (a semaphore), for rate-limited backends. Keyword arguments become
    attributes of the group span. Member failures with ``return_exceptions=True`` are results,
    not errors of the group, so the group span is not marked ERROR for them.

    With ``return_exceptions=False`` the first failure cancels the members still running and
    is raised once they have stopped (``asyncio.gather`` would leave them running, outliving
    the span and its counts). Cancelling the group cancels every member the same way.
    """
    import asyncio

    if limit is not None and limit < 1:
        raise ValueError(f"workflow.parallel(limit={limit!r}): expected a positive integer.")
    async with span(name, attributes) as group:
        group.set_attribute(PARALLEL_TOTAL, len(aws))
        if limit is not None:
            group.set_attribute(PARALLEL_LIMIT, limit)
        semaphore = asyncio.Semaphore(limit) if limit is not None else None
        durations: list[float | None] = [None] * len(aws)
        tasks = [
            asyncio.create_task(_run_member(aw, index, semaphore, durations))
            for index, aw in enumerate(aws)
        ]
        try:
            if return_exceptions:
                return list(await asyncio.gather(*tasks, return_exceptions=True))
            return await _fail_fast(tasks)
        finally:
            await _stop(tasks)
            _record_outcome(group, tasks, durations)


async def _run_member(
    aw: Awaitable[Any],
    index: int,
    semaphore: asyncio.Semaphore | None,
    durations: list[float | None],
) -> Any:
    started = False
    try:
        if semaphore is not None:
            await semaphore.acquire()
        try:
            started = True
            begin = time.perf_counter()
            try:
                return await aw
            finally:
                durations[index] = time.perf_counter() - begin
        finally:
            if semaphore is not None:
                semaphore.release()
    finally:
        if not started and inspect.iscoroutine(aw):
            aw.close()  # cancelled while queued: no "coroutine was never awaited" warning


async def _fail_fast(tasks: list[asyncio.Task[Any]]) -> list[Any]:
    import asyncio

    if not tasks:
        return []
    await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in tasks:  # lowest index first, so the error raised does not depend on timing
        if not task.done():
            continue
        if task.cancelled():
            raise asyncio.CancelledError
        error = task.exception()
        if error is not None:
            raise error
    return [task.result() for task in tasks]


async def _stop(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel members still running and wait for them, so none outlives the group span."""
    import asyncio

    pending = [task for task in tasks if not task.done()]
    if not pending:
        return
    for task in pending:
        task.cancel()
    await asyncio.wait(pending)


def _record_outcome(
    group: Span, tasks: list[asyncio.Task[Any]], durations: list[float | None]
) -> None:
    done = [task for task in tasks if task.done()]
    cancelled = sum(1 for task in done if task.cancelled())
    failed = sum(1 for task in done if not task.cancelled() and task.exception() is not None)
    attributes: dict[str, Any] = {
        PARALLEL_SUCCEEDED: len(tasks) - failed - cancelled,
        PARALLEL_FAILED: failed,
        PARALLEL_CANCELLED: cancelled,
    }
    measured = [(took, index) for index, took in enumerate(durations) if took is not None]
    if measured:
        slowest, index = max(measured)
        attributes[PARALLEL_SLOWEST_INDEX] = index
        attributes[PARALLEL_SLOWEST_S] = round(slowest, 6)
    group.set_attributes(attributes)


# --- retries ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _RetryPolicy:
    """When to retry and how long to wait; also what each attempt span records."""

    name: str | None
    attempts: int
    backoff: float
    multiplier: float
    max_backoff: float
    jitter: float
    retry_on: tuple[type[BaseException], ...] | Callable[[BaseException], bool]

    def retryable(self, exc: BaseException) -> bool:
        if isinstance(self.retry_on, tuple):
            return isinstance(exc, self.retry_on)
        try:
            return bool(self.retry_on(exc))
        except Exception:
            return False

    def delay(self, attempt: int) -> float:
        base = min(self.max_backoff, self.backoff * self.multiplier ** (attempt - 1))
        if self.jitter:
            base *= 1.0 + random.uniform(-self.jitter, self.jitter)
        return max(0.0, base)

    def attempt_span(self, func: Callable[..., Any], attempt: int) -> Any:
        return span(
            self.name or span_name(func),
            {RETRY_ATTEMPT: attempt, RETRY_MAX_ATTEMPTS: self.attempts},
        )

    def after_failure(self, handle: Span, exc: BaseException, attempt: int) -> float | None:
        """Mark the failed attempt; the delay before the next one, or None to give up."""
        handle.set_attribute(ERROR_TYPE, type(exc).__qualname__)
        if not self.retryable(exc):
            handle.set_attribute(RETRY_RETRYABLE, False)
            return None
        if attempt >= self.attempts:
            handle.set_attribute(RETRY_EXHAUSTED, True)
            return None
        wait = self.delay(attempt)
        handle.set_attribute(RETRY_BACKOFF_S, round(wait, 6))
        return wait


@overload
def retry(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def retry(
    *,
    attempts: int = 3,
    backoff: float = 0.1,
    multiplier: float = 2.0,
    max_backoff: float = 10.0,
    jitter: float = 0.1,
    retry_on: Iterable[type[BaseException]] | Callable[[BaseException], bool] = (Exception,),
    name: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def retry(
    func: Callable[..., Any] | None = None,
    /,
    *,
    attempts: int = 3,
    backoff: float = 0.1,
    multiplier: float = 2.0,
    max_backoff: float = 10.0,
    jitter: float = 0.1,
    retry_on: Iterable[type[BaseException]] | Callable[[BaseException], bool] = (Exception,),
    name: str | None = None,
) -> Any:
    """Retry a function or coroutine function, one span per attempt.

    Each attempt is a span (``name``, default the function's name) with
    ``workflow.retry.attempt``; a failed one carries its exception and either the backoff
    before the next attempt or why there is none, so a trace shows every try and every wait.
    The wait after attempt *n* is ``backoff * multiplier**(n-1)``, capped at ``max_backoff``,
    spread by ±``jitter`` (a fraction) so that many clients failing together do not retry in
    lockstep. ``retry_on`` is a tuple of exception types or a predicate. Only ``Exception``
    subclasses are retried: cancellation and ``KeyboardInterrupt`` always pass straight through.
    Use it bare (``@retry``) or configured (``@retry(attempts=5)``).
    """
    if attempts < 1:
        raise ValueError(f"workflow.retry(attempts={attempts!r}): expected at least 1.")
    if backoff < 0 or max_backoff < 0 or multiplier < 0 or not 0 <= jitter <= 1:
        raise ValueError("workflow.retry(): backoff, multiplier and max_backoff must be >= 0 "
                         "and jitter between 0 and 1.")
    policy = _RetryPolicy(
        name=name,
        attempts=attempts,
        backoff=backoff,
        multiplier=multiplier,
        max_backoff=max_backoff,
        jitter=jitter,
        retry_on=retry_on if callable(retry_on) else tuple(retry_on),
    )

    def decorate(target: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(target):
            return _retry_async(policy, target)
        return _retry_sync(policy, target)

    return decorate if func is None else decorate(func)


def _retry_sync(policy: _RetryPolicy, func: Callable[..., R]) -> Callable[..., R]:
    @functools.wraps(func)
    def retried(*args: Any, **kwargs: Any) -> R:
        attempt = 1
        while True:
            wait: float | None = None
            try:
                with policy.attempt_span(func, attempt) as handle:
                    try:
                        return func(*args, **kwargs)
                    except Exception as exc:
                        wait = policy.after_failure(handle, exc, attempt)
                        raise
            except Exception:
                if wait is None:
                    raise
            time.sleep(wait)
            attempt += 1

    return retried


def _retry_async(
    policy: _RetryPolicy, func: Callable[..., Coroutine[Any, Any, R]]
) -> Callable[..., Coroutine[Any, Any, R]]:
    @functools.wraps(func)
    async def retried(*args: Any, **kwargs: Any) -> R:
        import asyncio

        attempt = 1
        while True:
            wait: float | None = None
            try:
                async with policy.attempt_span(func, attempt) as handle:
                    try:
                        return await func(*args, **kwargs)
                    except Exception as exc:
                        wait = policy.after_failure(handle, exc, attempt)
                        raise
            except Exception:
                if wait is None:
                    raise
            await asyncio.sleep(wait)
            attempt += 1

    return retried


# --- timeouts ---------------------------------------------------------------------------------
def timeout(seconds: float | None, *, name: str = "timeout") -> _TimeoutScope:
    """``async with workflow.timeout(5, name="fetch") as span:`` a span with a deadline.

    The span carries ``workflow.timeout_s``; when the deadline passes, the block is
    cancelled, the span gets ``workflow.timed_out=true`` (and ERROR) and the standard
    ``TimeoutError`` is raised, so callers catch what they would catch from
    ``asyncio.timeout``/``wait_for``. A ``TimeoutError`` raised by the block itself is not
    marked as the deadline firing. ``seconds=None`` means no deadline.
    """
    if seconds is not None and seconds < 0:
        raise ValueError(f"workflow.timeout({seconds!r}): expected a number of seconds >= 0.")
    return _TimeoutScope(seconds, name)


class _TimeoutScope:
    """Span + deadline. On 3.11+ the deadline is ``asyncio.timeout``; 3.10 has no such
    context manager (``wait_for`` only wraps an awaitable, not a block), so there the same
    scheme is done by hand: cancel the task at the deadline, turn that cancellation into
    ``TimeoutError`` on exit."""

    __slots__ = ("_deadline", "_name", "_scope", "_seconds")

    def __init__(self, seconds: float | None, name: str) -> None:
        self._seconds = seconds
        self._name = name
        self._scope: Any = None
        self._deadline: Any = None

    async def __aenter__(self) -> Span:
        attributes = {TIMEOUT_S: self._seconds} if self._seconds is not None else None
        self._scope = span(self._name, attributes)
        handle: Span = self._scope.__enter__()
        self._deadline = _deadline(self._seconds)
        await self._deadline.__aenter__()
        return handle

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        try:
            await self._deadline.__aexit__(exc_type, exc, tb)
        except TimeoutError as error:
            if self._deadline.expired():
                self._scope.set_attribute(TIMED_OUT, True)
            self._scope.__exit__(type(error), error, error.__traceback__)
            raise
        except BaseException as error:
            self._scope.__exit__(type(error), error, error.__traceback__)
            raise
        self._scope.__exit__(exc_type, exc, tb)
        return False


def _deadline(seconds: float | None) -> Any:
    import asyncio

    if sys.version_info >= (3, 11):
        return asyncio.timeout(seconds)
    return _LegacyDeadline(seconds)  # pragma: no cover - Python 3.10 only


if sys.version_info >= (3, 11):
    _DeadlineExceeded: type[TimeoutError] = TimeoutError
else:  # pragma: no cover - Python 3.10 only

    class _DeadlineExceeded(asyncio.TimeoutError, TimeoutError):
        """On 3.10 ``asyncio.TimeoutError`` (what ``wait_for`` raises and the guide catches) is
        not yet the builtin ``TimeoutError``; this is both, so either ``except`` works."""


class _LegacyDeadline:
    """What ``asyncio.timeout`` does, for 3.10: cancel at the deadline, report TimeoutError."""

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._fired = False
        self._timer: asyncio.TimerHandle | None = None

    def expired(self) -> bool:
        return self._fired

    async def __aenter__(self) -> _LegacyDeadline:
        import asyncio

        if self._seconds is not None:
            task = asyncio.current_task()
            if task is not None:
                self._timer = asyncio.get_running_loop().call_later(
                    self._seconds, self._fire, task
                )
        return self

    def _fire(self, task: asyncio.Task[Any]) -> None:
        self._fired = True
        task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        import asyncio

        if self._timer is not None:
            self._timer.cancel()
        if self._fired and exc_type is asyncio.CancelledError:
            raise _DeadlineExceeded from exc
