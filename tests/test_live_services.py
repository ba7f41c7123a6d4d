"""Two real services under ``opentelemetry-instrument``, through the real Collector into Jaeger.

tests/test_service_mesh.py runs the same FastAPI + httpx pair against a file and against the
loopback OTLP receiver; here the spans take the path a user's do, and the assertions are
made on what Jaeger stored: one trace per request across both services, the backend's
server span under the frontend's httpx client span, the frontend's agent (W3C baggage) on
every backend span, nothing lost after SIGTERM.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from live_stack import Stack, unique_service
from test_service_mesh import REQUESTS, _check_traces, _run_mesh, apps  # noqa: F401

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.timeout(300)]


def _as_mesh_span(span: dict[str, Any], trace: dict[str, Any], role: dict[str, str]) -> dict:
    tags = {tag["key"]: tag["value"] for tag in span.get("tags", [])}
    parents = [r["spanID"] for r in span.get("references", []) if r["refType"] == "CHILD_OF"]
    service = trace["processes"][span["processID"]]["serviceName"]
    return {
        "name": span["operationName"], "traceId": span["traceID"], "spanId": span["spanID"],
        "parentSpanId": parents[0] if parents else None, "attrs": tags,
        "service": role[service], "kind": str(tags.get("span.kind", "")).upper(),
    }


def test_two_instrumented_services_make_one_trace_per_request_in_jaeger(
    live_stack: Stack, apps: Path  # noqa: F811
) -> None:
    names = {"orders": unique_service("live-orders"),
             "inventory": unique_service("live-inventory")}
    env = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": live_stack.otlp_grpc}
    _run_mesh(apps, {"orders": env, "inventory": env}, names)

    role = {service: name for name, service in names.items()}
    live_stack.wait_for_spans(names["inventory"], REQUESTS)
    # every trace the frontend took part in (its readiness probe's too), whole
    traces = {t["traceID"]: t for t in live_stack.traces(names["orders"])}
    spans = [_as_mesh_span(span, trace, role)
             for trace in traces.values() for span in trace["spans"]]
    _check_traces(spans)
