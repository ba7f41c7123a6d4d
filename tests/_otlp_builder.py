"""Build OTLP JSON lines by hand for the analysis tests: spans as vaquero writes them."""

from __future__ import annotations

import json
from pathlib import Path

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def span(trace: int, span_id: int, parent: int | None, name: str, start_ms: float,
         end_ms: float, *, agent: str | None = None, invoke: bool = False,
         error: str | None = None, message: str | None = None, kind: int = 1,
         attributes: dict | None = None) -> dict:
    """One span; ``invoke`` marks an agent set on the span itself, as vaquero writes it
    (``gen_ai.operation.name = invoke_agent``); ``agent`` alone is an inherited name.
    ``kind`` is the OTLP SpanKind number (2 server, 3 client); ``attributes`` more
    attributes (str or int values), such as an HTTP instrumentation writes."""
    extra = attributes or {}
    attributes = [
        {"key": key, "value": {"intValue": str(value)} if isinstance(value, int)
         else {"stringValue": value}}
        for key, value in extra.items()
    ]
    if agent is not None:
        attributes.append({"key": "gen_ai.agent.name", "value": {"stringValue": agent}})
    if invoke:
        attributes.append({"key": "gen_ai.operation.name",
                           "value": {"stringValue": "invoke_agent"}})
    raw: dict = {
        "traceId": f"{trace:032x}", "spanId": f"{span_id:016x}", "name": name, "kind": kind,
        "startTimeUnixNano": str(T0 + int(start_ms * MS)),
        "endTimeUnixNano": str(T0 + int(end_ms * MS)),
        "attributes": attributes, "status": {},
    }
    if parent is not None:
        raw["parentSpanId"] = f"{parent:016x}"
    if error is not None or message is not None:
        raw["status"] = {"code": 2, "message": message or ""}
        if error is not None:
            raw["events"] = [{"name": "exception", "timeUnixNano": raw["endTimeUnixNano"],
                              "attributes": [{"key": "exception.type",
                                              "value": {"stringValue": error}}]}]
    return raw


def line(spans: list[dict], service: str = "svc") -> str:
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "vaquero"}, "spans": spans}]}]}) + "\n"


def write(path: Path, *lines_of_spans: list[dict]) -> Path:
    path.write_text("".join(line(spans) for spans in lines_of_spans))
    return path
