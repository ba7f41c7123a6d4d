"""The compact span record the whole analysis works on.

A decoded OTLP span dict costs kilobytes (attribute lists, events, nested dicts); to keep a
million-span analysis well under 500 MB we keep only the handful of fields the statistics and
the waterfall need, in a tuple. Strings that repeat (span names, agent names) are interned by
the decoder so that a million spans share a few dozen name objects.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Span"]


class Span(NamedTuple):
    """One finished span, reduced to what the analysis needs.

    ``failure`` is only set on spans whose status is ERROR: the ``exception.type`` of the last
    ``exception`` event, else the status message, else ``None``. ``message`` is the ERROR
    status description (cut to 300 characters), shown on the report's waterfall.

    ``invokes_agent`` is true when the span says it *is* an agent invocation
    (``gen_ai.operation.name = invoke_agent``), as opposed to carrying the agent name it
    inherited from an enclosing agent, which vaquero stamps on every descendant span.

    ``role`` says what an HTTP instrumentation's span is to a workflow (``_http``): an
    ordinary step (0), a request entering the service (1) or transport plumbing (2).
    ``workflow`` is the ``gen_ai.workflow.name`` of a workflow invocation
    (``gen_ai.operation.name = invoke_workflow``), None on every other span.
    """

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    error: bool
    agent: str | None
    failure: str | None
    message: str | None = None
    invokes_agent: bool = False
    role: int = 0
    workflow: str | None = None
