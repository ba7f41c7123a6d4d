"""Build the exporters that ``OTEL_TRACES_EXPORTER`` (or ``init(exporters=...)``) names.

The OTLP exporters are the SDK's own, configured explicitly from :class:`Settings` so that
the environment is parsed once, by vaquero, with its error messages. Their per-retry log
lines are folded into one actionable warning that names the endpoint.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from vaquero._config import Settings
from vaquero._diagnostics import warn_once
from vaquero._otel_compat import OTLP_EXPORTER_LOGGERS
from vaquero._pipeline.split import DEFAULT_LIMIT_BYTES, split_batch
from vaquero._redact import mask_endpoint

logger = logging.getLogger("vaquero")

DEFAULT_TRACES_FILE = "vaquero-traces.jsonl"

_OTLP_LOGGERS = OTLP_EXPORTER_LOGGERS


class UnreachableCollectorNotice(logging.Filter):
    """Replace the OTLP exporters' per-batch, per-retry warnings with one clear warning.

    With no collector running the stock exporters log a line for every retry of every
    batch; a user sees a wall of tracebacks and no fix. This filter swallows those records
    and, the first time, logs one warning that says what is wrong and what to do.
    """

    def __init__(self, endpoint: str, protocol: str, *, announce: bool = True) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.protocol = protocol
        self._warned = threading.Event()
        if not announce:  # the caller reports failures itself (``vaquero doctor``)
            self._warned.set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            self.warn_once()
        return False

    def warn_once(self) -> None:
        if self._warned.is_set():
            return
        self._warned.set()
        start = (
            # A pip user has no repository: the stack files ship inside the package.
            "Start one on this machine (`vaquero stack init`, then `docker compose up -d` "
            "there)"
            if _names_this_machine(self.endpoint)
            else "Check that it is running and reachable from here"
        )
        logger.warning(
            "vaquero: cannot deliver spans to the OTLP collector at %s (%s); spans are being "
            "dropped. %s, point OTEL_EXPORTER_OTLP_ENDPOINT at a running collector, or set "
            "OTEL_TRACES_EXPORTER=none (or vaquero_console / vaquero_file) to stop exporting.",
            mask_endpoint(self.endpoint),
            self.protocol,
            start,
        )


class OtlpExporter(SpanExporter):
    """The SDK's OTLP exporter plus vaquero's single warnings, request splitting and fork care.

    * Batches are split (:mod:`~vaquero._pipeline.split`) so no request exceeds the gRPC 4 MiB
      message limit; a span too large to ever be delivered is dropped, counted in ``oversized`` and
      reported once.
    * In a forked child the parent's transport (gRPC channel, pooled keep-alive HTTP
      connections) is shared with the parent and must not be used; ``rebuild`` makes a fresh
      one on the child's first export. The parent's object is kept, never closed or collected
      in the child, because tearing down a foreign channel there can hang.
    """

    def __init__(
        self,
        inner: SpanExporter,
        notice: UnreachableCollectorNotice,
        rebuild: Callable[[], SpanExporter] | None = None,
        max_request_bytes: int = DEFAULT_LIMIT_BYTES,
    ) -> None:
        self.inner = inner
        self.notice = notice
        self.oversized = 0
        self._rebuild = rebuild
        self._pid = os.getpid()
        self._inherited: list[SpanExporter] = []
        self._max_request_bytes = max_request_bytes
        self._warned_oversized = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._pid != os.getpid():
            self._fresh_transport()
        chunks, oversized = split_batch(spans, self._max_request_bytes)
        if oversized:
            self._drop_oversized(len(oversized))
        result = SpanExportResult.SUCCESS
        for chunk in chunks:
            if self.inner.export(chunk) is not SpanExportResult.SUCCESS:
                result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self.notice.warn_once()
        return result

    def _fresh_transport(self) -> None:
        self._pid = os.getpid()
        if self._rebuild is not None:
            self._inherited.append(self.inner)
            self.inner = self._rebuild()

    def _drop_oversized(self, count: int) -> None:
        self.oversized += count
        if not self._warned_oversized:
            self._warned_oversized = True
            logger.warning(
                "vaquero: dropped %d span(s) whose encoded size alone exceeds the %d-byte OTLP "
                "request limit; reduce the size or number of their attributes and events.",
                count,
                self._max_request_bytes,
            )

    def shutdown(self) -> None:
        if self._pid == os.getpid():
            self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    with open(path, "rb") as handle:
        return handle.read()


def _export_timeout_s(settings: Settings) -> float:
    """An export may take OTEL_EXPORTER_OTLP_TIMEOUT, never more than OTEL_BSP_EXPORT_TIMEOUT.

    Never 0: the gRPC exporter reads OTEL_EXPORTER_OTLP_TIMEOUT itself for a falsy timeout.
    """
    return max(0.001, min(settings.timeout, settings.export_timeout_ms / 1000.0))


class _ExactHeaders(dict[str, str]):
    """Headers the SDK's OTLP exporters use as they are, even when there are none.

    Given an empty (falsy) mapping the gRPC exporter, and the HTTP one up to at least SDK
    1.40, read OTEL_EXPORTER_OTLP_HEADERS themselves, unvalidated: a header vaquero rejected
    (``%0A`` in a value) would reach gRPC's C core or fail every HTTP request anyway.
    """

    def __bool__(self) -> bool:
        return True


def _is_insecure(settings: Settings) -> bool:
    if settings.insecure is not None:
        return settings.insecure
    return urllib.parse.urlparse(settings.endpoint).scheme != "https"


def build_otlp_exporter(settings: Settings, *, announce_failures: bool = True) -> OtlpExporter:
    """The OTLP exporter the settings describe, its retry noise folded into one warning.

    ``announce_failures=False`` keeps even that warning back, for a caller that reports
    delivery failures in its own words (``vaquero doctor``).
    """
    notice = UnreachableCollectorNotice(
        settings.endpoint, settings.protocol, announce=announce_failures
    )
    for name in _OTLP_LOGGERS:
        target = logging.getLogger(name)
        for existing in list(target.filters):
            if isinstance(existing, UnreachableCollectorNotice):
                target.removeFilter(existing)
        target.addFilter(notice)
    _warn_if_cleartext(settings)
    build = _grpc_exporter if settings.protocol == "grpc" else _http_exporter
    return OtlpExporter(build(settings), notice, rebuild=lambda: build(settings))


def _warn_if_cleartext(settings: Settings) -> None:
    """Warn once per endpoint when spans and headers would cross a network unencrypted.

    Loopback stays quiet (the usual local collector or sidecar), and so does an explicit
    ``insecure`` setting: the user already chose.
    """
    parsed = urllib.parse.urlparse(settings.endpoint)
    if parsed.scheme != "http" or settings.insecure is not None:
        return
    if is_loopback(parsed.hostname or ""):
        return
    warn_once(
        f"cleartext:{mask_endpoint(settings.endpoint)}",
        "vaquero: the OTLP endpoint %s is not on this machine and uses http://: spans and "
        "headers (including any credentials) cross the network in clear text. Use https://, "
        "or set OTEL_EXPORTER_OTLP_INSECURE=true to confirm this is intended.",
        mask_endpoint(settings.endpoint),
    )


def _names_this_machine(endpoint: str) -> bool:
    try:
        return is_loopback(urllib.parse.urlparse(endpoint).hostname or "")
    except ValueError:
        return False


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost`` or a loopback address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    # Explicit even for "none": given None, the exporter parses OTEL_EXPORTER_OTLP_COMPRESSION
    # itself and raises for a value vaquero already reported and replaced.
    compression = (
        grpc.Compression.Gzip if settings.compression == "gzip" else grpc.Compression.NoCompression
    )
    return OTLPSpanExporter(
        endpoint=target,
        insecure=insecure,
        credentials=credentials,
        # gRPC metadata keys must be lower-case; an upper-case key fails every export.
        headers=_ExactHeaders({key.lower(): value for key, value in settings.headers.items()}),
        timeout=_export_timeout_s(settings),
        compression=compression,
    )


def _http_exporter(settings: Settings) -> SpanExporter:
    import requests
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    session = _exact_session(requests, settings)
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
        headers=_ExactHeaders(settings.headers),
        timeout=_export_timeout_s(settings),
        compression=(
            Compression.Gzip if settings.compression == "gzip" else Compression.NoCompression
        ),
    )


# Headers the SDK's HTTP exporter sets itself and that must stay.
_SDK_HTTP_HEADERS = frozenset({"content-type", "content-encoding", "user-agent"})


def _exact_session(requests: Any, settings: Settings) -> Any:
    """A requests session that sends the headers and TLS files vaquero resolved, only those.

    The SDK's HTTP exporter merges OTEL_EXPORTER_OTLP_*HEADERS into every request and reads
    the certificate variables itself when given none, unvalidated: a header vaquero rejected
    (a ``%0A`` in a value) or a CA file it reported unreadable would fail every export, and
    an ``init(headers=...)`` would not replace the variable's headers as documented.
    """
    headers = {key.lower(): value for key, value in settings.headers.items()}
    verify: bool | str = settings.certificate or True
    pair = (settings.client_certificate, settings.client_key)
    cert = pair if all(pair) else settings.client_certificate

    class ExactSession(requests.Session):  # type: ignore[misc]
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            sent = {
                key: value
                for key, value in (kwargs.get("headers") or {}).items()
                if key.lower() in _SDK_HTTP_HEADERS
            }
            sent.update(headers)
            kwargs.update(headers=sent, verify=verify, cert=cert)
            return super().request(method, url, *args, **kwargs)

    return ExactSession()


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

