"""The module-level functions of the public API that are not spans or decorators."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vaquero._config import NOT_PASSED, NotPassed
from vaquero._pipeline import install as _setup


def init(
    service_name: str | NotPassed | None = NOT_PASSED,
    *,
    disabled: bool | NotPassed | None = NOT_PASSED,
    resource_attributes: Mapping[str, str] | str | NotPassed | None = NOT_PASSED,
    agent_name: str | NotPassed | None = NOT_PASSED,
    propagate_agent: bool | NotPassed | None = NOT_PASSED,
    exporters: Sequence[str] | str | NotPassed | None = NOT_PASSED,
    protocol: str | NotPassed | None = NOT_PASSED,
    endpoint: str | NotPassed | None = NOT_PASSED,
    headers: Mapping[str, str] | str | NotPassed | None = NOT_PASSED,
    timeout: float | NotPassed | None = NOT_PASSED,
    compression: str | NotPassed | None = NOT_PASSED,
    insecure: bool | NotPassed | None = NOT_PASSED,
    certificate: str | os.PathLike[str] | NotPassed | None = NOT_PASSED,
    client_key: str | os.PathLike[str] | NotPassed | None = NOT_PASSED,
    client_certificate: str | os.PathLike[str] | NotPassed | None = NOT_PASSED,
    sampler: str | NotPassed | None = NOT_PASSED,
    sample_rate: float | NotPassed | None = NOT_PASSED,
    console: bool | NotPassed | None = NOT_PASSED,
    traces_file: str | os.PathLike[str] | NotPassed | None = NOT_PASSED,
    schedule_delay_ms: float | NotPassed | None = NOT_PASSED,
    export_timeout_ms: float | NotPassed | None = NOT_PASSED,
    max_queue_size: int | NotPassed | None = NOT_PASSED,
    max_export_batch_size: int | NotPassed | None = NOT_PASSED,
    attribute_value_length: int | NotPassed | None = NOT_PASSED,
    shutdown_timeout: float | NotPassed | None = NOT_PASSED,
    scrub: bool | NotPassed | None = NOT_PASSED,
    scrub_patterns: Sequence[str] | str | NotPassed | None = NOT_PASSED,
    scrub_allow: Sequence[str] | str | NotPassed | None = NOT_PASSED,
    scrub_callback: Callable[[Any], object] | NotPassed | None = NOT_PASSED,
    pii: str | NotPassed | None = NOT_PASSED,
    pii_key: str | NotPassed | None = NOT_PASSED,
    capture_content: str | NotPassed | None = NOT_PASSED,
    semconv_opt_in: Sequence[str] | str | NotPassed | None = NOT_PASSED,
    metrics_exporter: str | NotPassed | None = NOT_PASSED,
    metric_export_interval_ms: float | NotPassed | None = NOT_PASSED,
    metrics_protocol: str | NotPassed | None = NOT_PASSED,
    metrics_endpoint: str | NotPassed | None = NOT_PASSED,
    metrics_headers: Mapping[str, str] | str | NotPassed | None = NOT_PASSED,
    metrics_timeout: float | NotPassed | None = NOT_PASSED,
    metrics_compression: str | NotPassed | None = NOT_PASSED,
    metrics_insecure: bool | NotPassed | None = NOT_PASSED,
    metrics_certificate: str | os.PathLike[str] | NotPassed | None = NOT_PASSED,
    metrics_client_key: str | os.PathLike[str] | NotPassed | None = NOT_PASSED,
    metrics_client_certificate: str | os.PathLike[str] | NotPassed | None = NOT_PASSED,
) -> None:
    """Configure tracing once; every argument falls back to its environment variable.

    Optional: without ``init()`` the first span configures everything from the environment.
    An argument left out, or passed as None, is taken from its variable (``VAQUERO_*`` over
    ``OTEL_*``), else its default; the README's configuration table lists them all. Calling
    ``init()`` again with the same settings does nothing; with different settings it warns
    and names the settings in force (a provider cannot be swapped under live spans).

    Args:
        service_name: ``service.name``; default: ``OTEL_SERVICE_NAME``, then ``service.name``
            in the resource attributes, then the program's name.
        disabled: True makes every vaquero call a cheap no-op (``OTEL_SDK_DISABLED``).
        resource_attributes: extra resource attributes, a dict or ``"k=v,k2=v2"``; added to
            ``OTEL_RESOURCE_ATTRIBUTES``.
        agent_name: ``gen_ai.agent.name`` on the resource, for a one-agent process.
        propagate_agent: False keeps agent names inside the process; by default the current
            one travels as W3C baggage to every instrumented downstream call.
        exporters: names from ``otlp``, ``console``, ``vaquero_console``, ``vaquero_file``,
            ``none`` (``OTEL_TRACES_EXPORTER``).
        protocol: ``"grpc"`` or ``"http/protobuf"``.
        endpoint: the collector's URL; ``/v1/traces`` is appended for HTTP.
        headers: sent with every export, a dict or ``"k=v,k2=v2"``; printable ASCII only.
        timeout: seconds one export request may take (at most 600; more is clamped).
        compression: ``"none"`` or ``"gzip"``.
        insecure: True for plaintext gRPC; default: from the endpoint's scheme.
        certificate: path of the PEM CA bundle that verifies the collector.
        client_key: path of the PEM private key for mutual TLS.
        client_certificate: path of the PEM client certificate for mutual TLS.
        sampler: one of OpenTelemetry's sampler names (``OTEL_TRACES_SAMPLER``).
        sample_rate: ratio from 0 to 1; alone, it selects ``parentbased_traceidratio``.
        console: True adds the console tree exporter.
        traces_file: path of an OTLP-JSON-lines file that receives every span.
        schedule_delay_ms: the export queue's wait between batches, in milliseconds.
        export_timeout_ms: the most one export may take, in milliseconds (caps ``timeout``).
        max_queue_size: spans waiting for export; beyond it spans are dropped and counted.
        max_export_batch_size: spans per export request.
        attribute_value_length: the longest string attribute kept whole.
        shutdown_timeout: the seconds exit may wait for export (at most 600).
        scrub: False switches secret scrubbing off.
        scrub_patterns: extra regular expressions for secret attribute keys.
        scrub_allow: attribute keys never scrubbed.
        scrub_callback: ``f(match) -> str | None``, the replacement for one finding.
        pii: ``"keep"``, ``"hash"`` or ``"drop"`` e-mail-like keys and values.
        pii_key: the HMAC key of ``pii="hash"``; never printed.
        capture_content: ``"no_content"``, ``"span_only"``, ``"event_only"`` or
            ``"span_and_event"`` (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``):
            with ``span_only``/``span_and_event`` tool spans record their arguments and
            result unless their own ``capture_args``/``capture_result`` say otherwise.
        semconv_opt_in: convention categories (``OTEL_SEMCONV_STABILITY_OPT_IN``);
            ``gen_ai_latest_experimental`` names agent, workflow and tool spans as the GenAI
            conventions do.
        metrics_exporter: ``"otlp"``, ``"console"`` or ``"none"`` for the GenAI duration
            histograms (``OTEL_METRICS_EXPORTER``); a MeterProvider the application
            installed is used instead.
        metric_export_interval_ms: the wait between metric exports, in milliseconds.
        metrics_protocol: as ``protocol``, for metrics (default: ``protocol``).
        metrics_endpoint: as ``endpoint``, for metrics; ``/v1/metrics`` is appended for HTTP
            (default: ``endpoint`` on the metrics path).
        metrics_headers: as ``headers``, for metrics (default: ``headers``).
        metrics_timeout: as ``timeout``, for metrics (default: ``timeout``).
        metrics_compression: as ``compression``, for metrics (default: ``compression``).
        metrics_insecure: as ``insecure``, for metrics (default: ``insecure``).
        metrics_certificate: as ``certificate``, for metrics (default: ``certificate``).
        metrics_client_key: as ``client_key``, for metrics (default: ``client_key``).
        metrics_client_certificate: as ``client_certificate``, for metrics (default:
            ``client_certificate``).

    Raises:
        vaquero.ConfigError: an argument vaquero cannot use, named with what it accepts.
            Nothing else is raised for any argument value; a bad environment value only
            warns, so an operator's typo never takes the application down.
    """
    _setup.init(
        service_name=service_name,
        disabled=disabled,
        resource_attributes=resource_attributes,
        agent_name=agent_name,
        propagate_agent=propagate_agent,
        exporters=exporters,
        protocol=protocol,
        endpoint=endpoint,
        headers=headers,
        timeout=timeout,
        compression=compression,
        insecure=insecure,
        certificate=certificate,
        client_key=client_key,
        client_certificate=client_certificate,
        sampler=sampler,
        sample_rate=sample_rate,
        console=console,
        traces_file=traces_file,
        schedule_delay_ms=schedule_delay_ms,
        export_timeout_ms=export_timeout_ms,
        max_queue_size=max_queue_size,
        max_export_batch_size=max_export_batch_size,
        attribute_value_length=attribute_value_length,
        shutdown_timeout=shutdown_timeout,
        scrub=scrub,
        scrub_patterns=scrub_patterns,
        scrub_allow=scrub_allow,
        scrub_callback=scrub_callback,
        pii=pii,
        pii_key=pii_key,
        capture_content=capture_content,
        semconv_opt_in=semconv_opt_in,
        metrics_exporter=metrics_exporter,
        metric_export_interval_ms=metric_export_interval_ms,
        metrics_protocol=metrics_protocol,
        metrics_endpoint=metrics_endpoint,
        metrics_headers=metrics_headers,
        metrics_timeout=metrics_timeout,
        metrics_compression=metrics_compression,
        metrics_insecure=metrics_insecure,
        metrics_certificate=metrics_certificate,
        metrics_client_key=metrics_client_key,
        metrics_client_certificate=metrics_client_certificate,
    )


def flush(timeout: float = 5.0) -> bool:
    """Export everything recorded so far; True only if all of it was delivered in ``timeout``.

    ``math.inf`` waits as long as it takes.
    """
    try:
        return _setup.flush(timeout)
    except Exception:
        return False


def shutdown(timeout: float | None = None) -> None:
    """Flush and stop exporting, within ``timeout`` seconds (default: the shutdown budget)."""
    try:
        _setup.shutdown(timeout)
    except Exception:
        pass
