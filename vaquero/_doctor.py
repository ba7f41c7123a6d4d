"""``vaquero doctor``: show the effective configuration and prove the path to the collector.

It answers the first question of every tracing setup ("why don't I see my spans?") by
sending one real span with the same exporter the application would build, and turning the
failure into a reason and a fix instead of a stack trace.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from vaquero._config import ConfigError, Settings, load_settings
from vaquero._pipeline.exporters import build_otlp_exporter, probe_endpoint
from vaquero._pipeline.install import build_resource
from vaquero._redact import mask_endpoint
from vaquero._semconv import DOCTOR

DOCTOR_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 2.0


def add_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="print the effective configuration and send one test span to the collector",
        description="Print the effective configuration (secrets masked), send one test span "
        "to the configured OTLP endpoint, and report success or the reason and the fix.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


class _Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def _test_span(settings: Settings) -> ReadableSpan:
    keep = _Keep()
    provider = TracerProvider(resource=build_resource(settings), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(keep))
    with provider.get_tracer(DOCTOR).start_as_current_span(DOCTOR) as span:
        span.set_attribute(DOCTOR, True)
    return keep.spans[0]


def _send(settings: Settings, span: ReadableSpan) -> bool:
    exporter = build_otlp_exporter(settings)
    exporter.notice.warn_once = lambda: None  # type: ignore[method-assign]
    outcome: list[bool] = []

    def attempt() -> None:
        try:
            outcome.append(exporter.export([span]) is SpanExportResult.SUCCESS)
        except Exception:
            outcome.append(False)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(DOCTOR_TIMEOUT_S + 1.0)
    return bool(outcome and outcome[0])


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"vaquero doctor: {exc}", file=sys.stderr)
        return 2
    report: dict[str, Any] = {"settings": settings.describe()}
    if "otlp" not in settings.exporters:
        report["otlp"] = "not configured (OTEL_TRACES_EXPORTER does not include otlp)"
        _print(report, args.json)
        return 0
    from dataclasses import replace

    probe = replace(settings, timeout=min(settings.timeout, DOCTOR_TIMEOUT_S))
    span = _test_span(settings)
    trace_id = format(span.context.trace_id, "032x") if span.context else "?"
    problem = probe_endpoint(settings.endpoint, PROBE_TIMEOUT_S)
    delivered = problem is None and _send(probe, span)
    report["endpoint"] = mask_endpoint(settings.endpoint)
    report["protocol"] = settings.protocol
    if delivered:
        report["result"] = "ok"
        report["message"] = (
            f"test span delivered (trace id {trace_id}); in Jaeger, look under service "
            f"{settings.service_name!r} for the span 'vaquero.doctor'."
        )
        _print(report, args.json)
        return 0
    report["result"] = "failed"
    if problem is not None:
        report["reason"] = problem
        report["fix"] = (
            "start the collector (`docker compose up -d` in the vaquero repository) or point "
            "OTEL_EXPORTER_OTLP_ENDPOINT at a running one."
        )
    else:
        report["reason"] = "the endpoint accepted a connection but refused the export"
        report["fix"] = (
            "check OTEL_EXPORTER_OTLP_PROTOCOL against the port (gRPC is 4317, HTTP 4318), the "
            "TLS settings (https:// needs a certificate the collector accepts) and the headers."
        )
    _print(report, args.json)
    return 1


def _print(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    print("vaquero doctor")
    print("  effective configuration:")
    for key, value in report["settings"].items():
        print(f"    {key} = {value!r}")
    for key in ("otlp", "endpoint", "protocol", "result", "message", "reason", "fix"):
        if key in report:
            print(f"  {key}: {report[key]}")
