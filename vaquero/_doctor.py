"""``vaquero doctor``: show the effective configuration and prove the path to the collector.

It answers the first question of every tracing setup ("why don't I see my spans?") by
sending one real span with the same exporter the application would build, and turning the
failure into a reason and a fix instead of a stack trace.

It speaks of the configured OTLP endpoint, whatever backend that is; Jaeger is named only
when a Jaeger query API actually answers (see :func:`find_jaeger`). The endpoint probes live
here, not on the export path, because only a person waiting at a terminal may block on them.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import urllib.parse
import urllib.request
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from vaquero._config import ConfigError, Settings, load_settings
from vaquero._pipeline.exporters import build_otlp_exporter, is_loopback
from vaquero._pipeline.install import build_resource
from vaquero._redact import mask_endpoint
from vaquero._semconv import DOCTOR
from vaquero._stack import JAEGER_UI, PROMETHEUS_UI, VAQUERO_ALERTS

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
    parser.add_argument(
        "--jaeger",
        metavar="URL",
        help="Jaeger's UI/query URL to point you to after delivery (default: "
        f"{JAEGER_UI} when the endpoint is on this machine and Jaeger answers there)",
    )
    parser.add_argument(
        "--prometheus",
        metavar="URL",
        help="Prometheus to check for the workflow alerts (default: "
        f"{PROMETHEUS_UI} when the endpoint is on this machine and Prometheus answers there)",
    )
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
    # Doctor reports a failure in its own words, so the exporter's "cannot deliver" warning
    # (meant for an application's log) stays silent here.
    exporter = build_otlp_exporter(settings, announce_failures=False)
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
    report: dict[str, Any] = {"settings": settings.describe(), "metrics": _metrics_side(settings)}
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
    shown = report["endpoint"] = mask_endpoint(settings.endpoint)
    report["protocol"] = settings.protocol
    local = endpoint_is_local(settings.endpoint)
    if delivered:
        report["result"] = "ok"
        jaeger = find_jaeger(args.jaeger, local)
        where = (
            f"under service {settings.service_name!r}, the span {DOCTOR!r} (trace id {trace_id})"
        )
        prometheus = check_prometheus(getattr(args, "prometheus", None), local)
        if prometheus is not None:
            report["prometheus"] = prometheus
        if jaeger is not None:
            report["jaeger"] = jaeger
            report["message"] = (
                f"test span delivered to the OTLP endpoint {shown}. Jaeger answers "
                f"at {jaeger}: look {where}."
            )
        else:
            report["message"] = (
                f"test span delivered to the OTLP endpoint {shown}. In the backend "
                f"behind it, look {where}."
            )
        _print(report, args.json)
        return 0
    report["result"] = "failed"
    if problem is not None:
        report["reason"] = problem
        report["fix"] = (
            (
                "start a collector on this machine: `vaquero stack init` writes an OpenTelemetry "
                "Collector + Jaeger stack, then run `docker compose up -d` there; or point "
                "OTEL_EXPORTER_OTLP_ENDPOINT at a running collector."
            )
            if local
            else (
                "check that the OTLP backend at that address is running and reachable from "
                "this machine (firewall, DNS, port), or point OTEL_EXPORTER_OTLP_ENDPOINT at "
                "one that is."
            )
        )
    else:
        report["reason"] = "the endpoint accepted a connection but refused the export"
        report["fix"] = (
            "check OTEL_EXPORTER_OTLP_PROTOCOL against the port (gRPC is 4317, HTTP 4318), the "
            "TLS settings (https:// needs a certificate the collector accepts) and the headers."
        )
    _print(report, args.json)
    return 1


def _metrics_side(settings: Settings) -> str:
    """One line on where the GenAI duration histograms go, with a reachability probe.

    No test measurement is sent: it would count as a run in the user's histograms.
    """
    from opentelemetry import metrics

    provider = metrics.get_meter_provider()
    if type(provider).__name__ != "_ProxyMeterProvider":
        return "the application's own MeterProvider (used as it is)"
    if settings.metrics_exporter != "otlp":
        return f"OTEL_METRICS_EXPORTER={settings.metrics_exporter}"
    shown = mask_endpoint(settings.metrics_endpoint)
    problem = probe_endpoint(settings.metrics_endpoint, PROBE_TIMEOUT_S)
    where = f"OTLP {settings.metrics_protocol} to {shown}, every " \
        f"{settings.metric_export_interval_ms / 1000:g} s"
    return f"{where}: reachable" if problem is None else f"{where}: {problem}"


def probe_endpoint(endpoint: str, timeout: float) -> str | None:
    """None when a TCP connection to the endpoint opens, else a sentence saying why not.

    Used where a person is waiting for an answer (``vaquero doctor``, ``vaquero demo``),
    never on an application's path: it blocks for up to ``timeout``.
    """
    try:
        parsed = urllib.parse.urlparse(endpoint)
        host = parsed.hostname
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        return f"{mask_endpoint(endpoint)!r} is not a URL with a valid port"
    if not host:
        return f"{mask_endpoint(endpoint)!r} names no host"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.gaierror:
        return f"the host {host!r} cannot be resolved"
    except ConnectionRefusedError:
        return f"nothing is listening at {host}:{port}"
    except OSError as exc:
        return f"{host}:{port} cannot be reached ({exc.strerror or exc})"


def endpoint_is_local(endpoint: str) -> bool:
    """Whether the endpoint names this machine (localhost or a loopback address)."""
    try:
        host = urllib.parse.urlparse(endpoint).hostname
    except ValueError:
        return False
    return is_loopback(host or "")


def find_jaeger(explicit: str | None, local: bool) -> str | None:
    """The base URL of a Jaeger that answers, or None: doctor names Jaeger only when it is there.

    An OTLP endpoint can be any backend, so "look in Jaeger" is only said when a Jaeger query
    API actually answers: at ``explicit`` (``--jaeger``) when given, otherwise at the stack's
    UI address, and only when the endpoint is on this machine (the ``vaquero stack init``
    layout), because probing a port on a remote host the user never named is not ours to do.
    """
    url = explicit or (JAEGER_UI if local else None)
    if url is None:
        return None
    url = url.rstrip("/")
    return url if answers_as_jaeger(url, PROBE_TIMEOUT_S) else None


def answers_as_jaeger(base_url: str, timeout: float) -> bool:
    """True when ``base_url`` serves Jaeger v2's query API (``/api/v3/services`` lists services).

    A TCP connect is not enough: anything may listen on 16686. The proxy variables are
    ignored, because the question is about this URL, not about a proxy in front of it.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{base_url}/api/v3/services", timeout=timeout) as response:
            document = json.loads(response.read(1_000_000))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and isinstance(document.get("services"), list)


def check_prometheus(explicit: str | None, local: bool) -> str | None:
    """One sentence on the stack's Prometheus, or None when there is none to speak of.

    Like Jaeger, Prometheus is only probed where the user named it or where ``vaquero stack
    init`` puts it (this machine). An explicit URL that does not answer is worth a sentence;
    a default one that does not answer just means the user runs no Prometheus.
    """
    url = (explicit or (PROMETHEUS_UI if local else "")).rstrip("/")
    if not url:
        return None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/api/v1/rules?type=alert", timeout=PROBE_TIMEOUT_S) as answer:
            document = json.loads(answer.read(5_000_000))
        groups = document["data"]["groups"]
        alerts = {rule["name"] for group in groups for rule in group.get("rules", [])}
    except (OSError, ValueError, KeyError, TypeError):
        if explicit:
            return f"no Prometheus answers at {url} (its /api/v1/rules)"
        return None
    missing = sorted(set(VAQUERO_ALERTS) - alerts)
    if missing:
        return (f"Prometheus answers at {url} but has not loaded {', '.join(missing)}: mount "
                "deploy/prometheus-rules.yaml (vaquero stack init writes it) in its rule_files")
    return f"Prometheus answers at {url} with the workflow alerts {', '.join(VAQUERO_ALERTS)}"


def _print(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    print("vaquero doctor")
    print("  effective configuration:")
    for key, value in report["settings"].items():
        print(f"    {key} = {value!r}")
    keys = ("otlp", "endpoint", "protocol", "result", "jaeger", "prometheus", "message", "reason",
            "fix", "metrics")
    for key in keys:
        if key in report:
            print(f"  {key}: {report[key]}")
