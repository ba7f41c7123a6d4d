"""A realistic, deterministic trace file for the report tests: what on-call actually opens.

Two workflows over two hours with an incident in the middle (more failures, slower runs):

* ``research`` agent runs inside ``POST /research`` HTTP requests: ``plan``, a handful of
  ``fetch_page`` calls (one run makes 1,200 of them), ``summarise``; failures are a
  ``TimeoutError`` in ``fetch_page`` and a ``ValueError`` in ``summarise``; one run fails
  with a ``KeyError`` in ``plan`` and also lost a span's parent (an incomplete trace).
* ``billing_workflow`` without an agent: ``charge_card`` then ``send_receipt``; failures are
  ``CardDeclined`` in ``charge_card``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

START_NS = 1_750_000_000 * 1_000_000_000
MS = 1_000_000
HOUR_NS = 3600 * 1_000_000_000
BIG_FANOUT = 1200


class _Trace:
    def __init__(self, number: int) -> None:
        self.trace_id = f"{number:032x}"
        self.number = number
        self.spans: list[dict[str, Any]] = []
        self._next = 1

    def span(self, name: str, start: int, end: int, parent: str | None = None, *,
             agent: str | None = None, error: tuple[str, str] | None = None) -> str:
        span_id = f"{self.number * 4096 + self._next:016x}"  # number * 4096 is the HTTP root
        self._next += 1
        out: dict[str, Any] = {"traceId": self.trace_id, "spanId": span_id, "name": name,
                               "startTimeUnixNano": str(start), "endTimeUnixNano": str(end)}
        if parent:
            out["parentSpanId"] = parent
        if agent:
            out["attributes"] = [
                {"key": "gen_ai.agent.name", "value": {"stringValue": agent}},
                {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}}]
        if error:
            out["status"] = {"code": 2, "message": error[1]}
            out["events"] = [{"name": "exception", "timeUnixNano": str(end), "attributes": [
                {"key": "exception.type", "value": {"stringValue": error[0]}}]}]
        self.spans.append(out)
        return span_id

    def line(self) -> str:
        return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [
            {"spans": self.spans}]}]})


def _research(number: int, start: int, rng: random.Random, incident: bool) -> _Trace:
    trace = _Trace(number)
    http_id = f"{number * 4096:016x}"
    fanout = BIG_FANOUT if number == 7 else rng.randint(3, 6)
    cursor = start + 2 * MS
    kids: list[tuple[str, int, int, tuple[str, str] | None]] = []
    plan_end = cursor + rng.randint(80, 200) * MS
    kids.append(("plan", cursor, plan_end, None))
    cursor = plan_end
    fail = rng.random() < (0.25 if incident else 0.04)
    kind = rng.choice(["timeout", "value"]) if fail else None
    slow = 3 if incident else 1
    for index in range(fanout):
        duration = rng.randint(20, 60 * slow) * MS if fanout < 100 else rng.randint(1, 3) * MS
        error = None
        if kind == "timeout" and index == fanout - 1:
            duration = 2000 * MS
            error = ("TimeoutError", "page fetch timed out after 2s")
        kids.append(("fetch_page", cursor, cursor + duration, error))
        cursor += duration
    if kind != "timeout":
        cursor += rng.randint(0, 400) * MS if rng.random() < 0.2 else 0  # retry backoff
        end = cursor + rng.randint(100, 300) * MS
        error = (("ValueError", "summary was empty: the model returned no text")
                 if kind == "value" else None)
        kids.append(("summarise", cursor, end, error))
        cursor = end
    agent_end = cursor + 3 * MS
    agent_error = (("TimeoutError", "page fetch timed out after 2s") if kind == "timeout"
                   else ("ValueError", "summary was empty") if kind else None)
    trace.spans.append({})  # placeholder for the HTTP root, filled below
    agent_id = trace.span("research_agent", start + 1 * MS, agent_end, http_id,
                          agent="researcher", error=agent_error)
    for name, a, b, error in kids:
        trace.span(name, a, b, agent_id, error=error)
    root: dict[str, Any] = {"traceId": trace.trace_id, "spanId": http_id, "name": "POST /research",
                            "startTimeUnixNano": str(start),
                            "endTimeUnixNano": str(agent_end + 2 * MS)}
    if kind:
        root["status"] = {"code": 2, "message": "HTTP 500"}
    trace.spans[0] = root
    if number == 11:  # a failure seen once, in a run where one span's parent never arrived
        trace.spans[-1]["parentSpanId"] = "00000000deadbeef"
        plan = next(span for span in trace.spans if span.get("name") == "plan")
        for span in (root, trace.spans[1], plan):
            span["status"] = {"code": 2, "message": "'query'"}
        plan["events"] = [{"name": "exception", "timeUnixNano": plan["endTimeUnixNano"],
                           "attributes": [{"key": "exception.type",
                                           "value": {"stringValue": "KeyError"}}]}]
    return trace


def _billing(number: int, start: int, rng: random.Random, incident: bool) -> _Trace:
    trace = _Trace(number)
    declined = rng.random() < (0.3 if incident else 0.05)
    charge_end = start + rng.randint(100, 400 * (2 if incident else 1)) * MS
    end = charge_end + (0 if declined else rng.randint(20, 80) * MS) + 1 * MS
    root = trace.span("billing_workflow", start, end,
                      error=("CardDeclined", "card declined by issuer") if declined else None)
    trace.span("charge_card", start + 1 * MS, charge_end, root,
               error=("CardDeclined", "card declined by issuer") if declined else None)
    if not declined:
        trace.span("send_receipt", charge_end, end - 1 * MS, root)
    return trace


def write_report_traces(path: Path, runs: int = 240, seed: int = 12) -> Path:
    """Write ``runs`` research and ``runs // 2`` billing traces over two hours to ``path``."""
    rng = random.Random(seed)
    lines = []
    for number in range(1, runs + 1):
        start = START_NS + (2 * HOUR_NS) * number // runs
        incident = 0.45 < number / runs < 0.6
        lines.append(_research(number, start, rng, incident).line())
        if number % 2 == 0:
            billing_start = start + 500 * MS
            lines.append(_billing(100_000 + number, billing_start, rng, incident).line())
    path.write_text("\n".join(lines) + "\n")
    return path
