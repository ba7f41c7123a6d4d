"""Build the exporters that ``OTEL_TRACES_EXPORTER`` (or ``init(exporters=...)``) names.

The OTLP exporters are the SDK's own, configured explicitly from :class:`Settings` so that
the environment is parsed once, by vaquero, with its error messages. Their per-retry log
lines are folded into one actionable warning that names the endpoint.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from vaquero._config import Settings

logger = logging.getLogger("vaquero")

_OTLP_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
)


class UnreachableCollectorNotice(logging.Filter):
    """Replace the OTLP exporters' per-batch, per-retry warnings with one clear warning.

    With no collector running the stock exporters log a line for every retry of every
    batch; a user sees a wall of tracebacks and no fix. This filter swallows those records
    and, the first time, logs one warning that says what is wrong and what to do.
    """

    def __init__(self, endpoint: str, protocol: str) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.protocol = protocol
        self._warned = threading.Event()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            self.warn_once()
        return False

    def warn_once(self) -> None:
        if self._warned.is_set():
            return
        self._warned.set()
        logger.warning(
            "vaquero: cannot deliver spans to the OTLP collector at %s (%s); spans are being "
            "dropped. Start one (`docker compose up -d` in the vaquero repository), point "
            "OTEL_EXPORTER_OTLP_ENDPOINT at a running collector, or set "
            "OTEL_TRACES_EXPORTER=none (or vaquero_console / vaquero_file) to stop exporting.",
            self.endpoint,
            self.protocol,
        )


class OtlpExporter(SpanExporter):
    """The SDK's OTLP exporter plus vaquero's single 'collector unreachable' warning."""

    def __init__(self, inner: SpanExporter, notice: UnreachableCollectorNotice) -> None:
        self.inner = inner
        self.notice = notice

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        if result is not SpanExportResult.SUCCESS:
            self.notice.warn_once()
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    with open(path, "rb") as handle:
        return handle.read()


def _is_insecure(settings: Settings) -> bool:
    if settings.insecure is not None:
        return settings.insecure
    return urllib.parse.urlparse(settings.endpoint).scheme != "https"


def build_otlp_exporter(settings: Settings) -> OtlpExporter:
    notice = UnreachableCollectorNotice(settings.endpoint, settings.protocol)
    for name in _OTLP_LOGGERS:
        target = logging.getLogger(name)
        for existing in list(target.filters):
            if isinstance(existing, UnreachableCollectorNotice):
                target.removeFilter(existing)
        target.addFilter(notice)
    build = _grpc_exporter if settings.protocol == "grpc" else _http_exporter
    inner = build(settings)
    return OtlpExporter(inner, notice)


def _grpc_exporter(settings: Settings) -> SpanExporter:
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    parsed = urllib.parse.urlparse(settings.endpoint)
    target = parsed.netloc or settings.endpoint
    insecure = _is_insecure(settings)
    credentials = None
    if not insecure:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(settings.certificate),
            private_key=_read(settings.client_key),
            certificate_chain=_read(settings.client_certificate),
        )
    compression = grpc.Compression.Gzip if settings.compression == "gzip" else None
    return OTLPSpanExporter(
        endpoint=target,
        insecure=insecure,
        credentials=credentials,
        # gRPC metadata keys must be lower-case; an upper-case key fails every export.
        headers={key.lower(): value for key, value in settings.headers.items()},
        timeout=settings.timeout_s,
        compression=compression,
    )


def _http_exporter(settings: Settings) -> SpanExporter:
    import requests
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    session = requests.Session()
    if settings.certificate:
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's CA; the
        # certificate the user configured for OTLP must win, so ignore those variables.
        session.trust_env = False
    return OTLPSpanExporter(
        session=session,
        endpoint=settings.endpoint,
        certificate_file=settings.certificate,
        client_key_file=settings.client_key,
        client_certificate_file=settings.client_certificate,
        headers=dict(settings.headers),
        timeout=settings.timeout_s,
        compression=(
            Compression.Gzip if settings.compression == "gzip" else Compression.NoCompression
        ),
    )


def build_exporters(settings: Settings) -> list[tuple[str, SpanExporter]]:
    """(name, exporter) pairs for every exporter the settings ask for."""
    names = list(settings.exporters)
    if settings.console and "vaquero_console" not in names:
        names.append("vaquero_console")
    if settings.traces_file and "vaquero_file" not in names:
        names.append("vaquero_file")
    exporters: list[tuple[str, SpanExporter]] = []
    for name in names:
        exporter = _build_one(name, settings)
        if exporter is not None:
            exporters.append((name, exporter))
    return exporters


def _build_one(name: str, settings: Settings) -> SpanExporter | None:
    if name == "none":
        return None
    if name == "otlp":
        return build_otlp_exporter(settings)
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "vaquero_console":
        from vaquero.exporters.console import ConsoleTreeSpanExporter

        return ConsoleTreeSpanExporter()
    if name == "vaquero_file":
        from vaquero.exporters.jsonl import JsonLinesSpanExporter

        return JsonLinesSpanExporter(settings.traces_file or DEFAULT_TRACES_FILE)
    raise ValueError(name)


DEFAULT_TRACES_FILE = "vaquero-traces.jsonl"
