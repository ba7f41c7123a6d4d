"""Build the exporters that ``OTEL_TRACES_EXPORTER`` (or ``init(exporters=...)``) names.

The OTLP exporters are the SDK's own, configured explicitly from :class:`Settings` so that
the environment is parsed once, by vaquero, with its error messages. Their per-retry log
lines are folded into one actionable warning that names the endpoint.
"""

from __future__ import annotations

import contextvars
import dataclasses
import ipaddress
import logging
import os
import socket
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from vaquero._config import Settings
from vaquero._diagnostics import warn_once
from vaquero._otel_compat import OTLP_EXPORTER_LOGGERS, grpc_status_in_log_record
from vaquero._pipeline.split import DEFAULT_LIMIT_BYTES, split_batch
from vaquero._redact import mask_endpoint
from vaquero._state import STATE

# Private switch: False builds the stock OTLP exporters with the stock encoder (the path
# taken anyway when an installed exporter lacks the seam, see _pipeline/preencoded.py).
_DIRECT_ENCODER = True

logger = logging.getLogger("vaquero")

DEFAULT_TRACES_FILE = "vaquero-traces.jsonl"

_OTLP_LOGGERS = OTLP_EXPORTER_LOGGERS


@dataclass(frozen=True)
class CollectorAnswer:
    """What one failed export attempt got back, in the terms its fix is given in.

    ``kind`` is one of ``unreachable`` (connection refused, unknown host, gRPC
    ``UNAVAILABLE``), ``auth`` (HTTP 401/403, gRPC ``UNAUTHENTICATED``/``PERMISSION_DENIED``),
    ``too_large`` (HTTP 413), ``overloaded`` (HTTP 429, gRPC ``RESOURCE_EXHAUSTED``, which
    also means "request too large"), ``timeout`` and ``other``; ``detail`` is the status as
    the collector spelled it (``HTTP 401 Unauthorized``, ``gRPC UNAUTHENTICATED``).
    """

    kind: str
    detail: str


_GRPC_KINDS = {
    "UNAVAILABLE": "unreachable",
    "UNAUTHENTICATED": "auth",
    "PERMISSION_DENIED": "auth",
    "RESOURCE_EXHAUSTED": "overloaded",
    "DEADLINE_EXCEEDED": "timeout",
}
_HTTP_KINDS = {401: "auth", 403: "auth", 407: "auth", 413: "too_large", 429: "overloaded"}


def answer_from_http(status: int, reason: str | None) -> CollectorAnswer:
    """Classify an HTTP status the collector answered with."""
    detail = f"HTTP {status} {reason}".rstrip() if reason else f"HTTP {status}"
    return CollectorAnswer(_HTTP_KINDS.get(status, "other"), detail)


def answer_from_grpc(code_name: str) -> CollectorAnswer:
    """Classify a gRPC status code (by name, so grpc need not be imported)."""
    return CollectorAnswer(_GRPC_KINDS.get(code_name, "other"), f"gRPC {code_name}")


def answer_from_exception(error: BaseException) -> CollectorAnswer:
    """Classify a transport exception (requests/urllib3/socket) raised by an export attempt."""
    name = type(error).__name__
    if "Timeout" in name:
        return CollectorAnswer("timeout", name)
    if isinstance(error, (ConnectionError, socket.gaierror)) or "Connection" in name:
        return CollectorAnswer("unreachable", name)
    return CollectorAnswer("other", name)


def _answer_in_record(record: logging.LogRecord) -> CollectorAnswer | None:
    """The gRPC status a stock exporter's log record carries among its arguments, if any."""
    status = grpc_status_in_log_record(record)
    return None if status is None else answer_from_grpc(status)


class UnreachableCollectorNotice(logging.Filter):
    """Fold the OTLP exporters' per-retry log lines into one warning that says what to do.

    The stock exporters log a line for every retry of every batch; a user sees a wall of
    tracebacks and no fix. This filter swallows those records, keeps what the collector
    answered (:class:`CollectorAnswer`) and, once spans were actually dropped (never for a
    retry that later succeeded), :meth:`warn_once` logs one warning per kind of answer:
    "nothing listens" gets "start a collector", a refused credential gets "check the
    headers", a 413 gets "lower the batch size". Header values are never printed.
    """

    def __init__(
        self,
        endpoint: str,
        protocol: str,
        *,
        batch_size: int = 512,
        timeout_s: float = 10.0,
        announce: bool = True,
    ) -> None:
        super().__init__()
        self.endpoint = endpoint
        # False: the caller reports failures in its own words (``vaquero doctor``).
        self.announce = announce
        self.protocol = protocol
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.last_answer: CollectorAnswer | None = None
        """What the latest failed attempt got; None once an export succeeded again."""
        self.failed_attempts = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            answer = _answer_in_record(record)
            if answer is not None:
                self.observe(answer)
            elif self.last_answer is None:
                # Not a status (the HTTP session reports those itself): keep the words.
                self.observe(CollectorAnswer("other", record.getMessage()[:200]))
            else:
                self.failed_attempts += 1
        return False

    def observe(self, answer: CollectorAnswer) -> None:
        """Record a failed attempt's answer (from a log record or the HTTP session)."""
        self.last_answer = answer
        self.failed_attempts += 1

    def delivered(self) -> None:
        """An export succeeded: the collector is fine again, whatever failed before."""
        self.last_answer = None

    def warn_once(self) -> None:
        """Spans were dropped: say why, once per kind of answer, with the fix that fits."""
        if not self.announce:
            return
        if f"otlp-metrics:{_netloc(self.endpoint)}" in STATE.warned:
            return  # the metrics' warning already named this collector, and the spans
        answer = self.last_answer or CollectorAnswer("other", "")
        shown = mask_endpoint(self.endpoint)
        detail = answer.detail or "an error"
        if answer.kind == "unreachable":
            message = (
                "vaquero: cannot deliver spans to the OTLP collector at %s (%s); spans are being "
                "dropped. %s, point OTEL_EXPORTER_OTLP_ENDPOINT at a running collector, or set "
                "OTEL_TRACES_EXPORTER=none (or vaquero_console / vaquero_file) to stop exporting."
            )
            start = (
                # A pip user has no repository: the stack files ship inside the package.
                "Start one on this machine (`vaquero stack init`, then `docker compose up -d` "
                "there)"
                if _names_this_machine(self.endpoint)
                else "Check that it is running and reachable from here"
            )
            args: tuple[object, ...] = (shown, self.protocol, start)
        else:
            kind = answer.kind if answer.kind in _ANSWER_NOTICES else "other"
            message = _ANSWER_NOTICES[kind]
            args = (shown, detail)
            if kind in ("too_large", "overloaded"):
                args += (self.batch_size,)
            elif kind == "timeout":
                args += (self.timeout_s,)
        warn_once(f"otlp-answer:{answer.kind}:{self.endpoint}", message, *args)


# What each kind of answer means for the user and its fix: endpoint, detail[, setting].
_ANSWER_NOTICES = {
    "auth": (
        "vaquero: the OTLP collector at %s refused the spans with %s; spans are being dropped. "
        "It expects credentials: set them with OTEL_EXPORTER_OTLP_HEADERS (or "
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS, or init(headers=...)), e.g. "
        "'authorization=Bearer <token>', as your backend documents."
    ),
    "too_large": (
        "vaquero: the OTLP collector at %s rejected a request as too large (%s); spans are "
        "being dropped. Lower OTEL_BSP_MAX_EXPORT_BATCH_SIZE (now %d) or raise the "
        "collector's request size limit."
    ),
    "overloaded": (
        "vaquero: the OTLP collector at %s kept refusing spans with %s (rate limit, quota or "
        "request size) until the retries ran out; spans are being dropped. Lower the span "
        "volume (OTEL_TRACES_SAMPLER_ARG) or OTEL_BSP_MAX_EXPORT_BATCH_SIZE (now %d), or "
        "raise the collector's limits."
    ),
    "timeout": (
        "vaquero: the OTLP collector at %s did not answer in time (%s); spans are being "
        "dropped. Check that it is healthy, or raise OTEL_EXPORTER_OTLP_TIMEOUT (now %.1f s)."
    ),
    "other": (
        "vaquero: the OTLP collector at %s answered %s; spans are being dropped. Its own logs "
        "say why."
    ),
}


class OtlpExporter(SpanExporter):
    """The SDK's OTLP exporter plus vaquero's single warnings, request splitting and fork care.

    * Spans are encoded by :mod:`~vaquero._pipeline.encoder` (a fraction of the stock
      encoder's CPU) and the bytes sent through the stock exporter's own transport
      (:mod:`~vaquero._pipeline.preencoded`); where that seam is missing, the stock
      exporter encodes as usual.
    * Batches are split (by exact encoded size, or :mod:`~vaquero._pipeline.split`'s
      estimate on the stock path) so no request exceeds the gRPC 4 MiB message limit; a
      span too large to ever be delivered is dropped, counted in ``dropped_spans`` (read
      by the export queue, which reports it) and warned about once.
    * At exit, :meth:`give_up_if_unreachable` lets the queue stop waiting for a collector
      that refuses connections: the stock exporters would sit in their retry backoff until
      the whole shutdown budget is gone, for spans that cannot arrive.
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
        self.dropped_spans = 0
        """Spans dropped here although the export call succeeded (too large to ever send)."""
        self._rebuild = rebuild
        self._pid = os.getpid()
        self._inherited: list[SpanExporter] = []
        self._max_request_bytes = max_request_bytes
        self._warned_oversized = False
        self._gave_up = False
        self._closed = False
        self._probed_at_failure = -1

    @property
    def oversized(self) -> int:
        """Spans dropped for their size alone (the only kind ``dropped_spans`` counts today)."""
        return self.dropped_spans

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._gave_up:
            return SpanExportResult.FAILURE
        if self._pid != os.getpid():
            self._fresh_transport()
        requests: Sequence[Any]
        if getattr(self.inner, "accepts_encoded", False):
            # Encode once, split by the exact encoded sizes, hand the bytes to the transport.
            from vaquero._pipeline.encoder import encode_requests
            from vaquero._pipeline.preencoded import EncodedBatch

            encoded, oversized = encode_requests(spans, self._max_request_bytes)
            requests = [EncodedBatch(chunk, payload) for chunk, payload in encoded]
        else:
            requests, oversized = split_batch(spans, self._max_request_bytes)
        if oversized:
            self._drop_oversized(len(oversized))
        result = SpanExportResult.SUCCESS
        for request in requests:
            if self.inner.export(request) is not SpanExportResult.SUCCESS:
                result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.notice.delivered()
        elif not self._gave_up:
            self.notice.warn_once()
        return result

    def give_up_if_unreachable(self, timeout_s: float) -> bool:
        """At shutdown: True, and the exporter's retry wait interrupted, if nothing listens.

        Only after an attempt failed and only when a TCP connection to the endpoint is
        refused (or its host does not resolve) within ``timeout_s``: a slow collector, or
        one that answers with an error, keeps the rest of the shutdown budget. Probes once
        per new failed attempt.
        """
        if self._gave_up:
            return True
        failures = self.notice.failed_attempts
        if failures == 0 or failures == self._probed_at_failure:
            return False
        if self.notice.last_answer is not None and self.notice.last_answer.kind != "unreachable":
            return False
        self._probed_at_failure = failures
        if not refuses_connections(self.notice.endpoint, timeout_s):
            return False
        self._gave_up = True
        self.notice.last_answer = self.notice.last_answer or CollectorAnswer(
            "unreachable", "connection refused"
        )
        self.notice.warn_once()
        self.shutdown()  # the public way to wake the stock exporter from its retry backoff
        return True

    def _fresh_transport(self) -> None:
        self._pid = os.getpid()
        if self._rebuild is not None:
            self._inherited.append(self.inner)
            self.inner = self._rebuild()

    def _drop_oversized(self, count: int) -> None:
        self.dropped_spans += count
        if not self._warned_oversized:
            self._warned_oversized = True
            logger.warning(
                "vaquero: dropped %d span(s) whose encoded size alone exceeds the %d-byte OTLP "
                "request limit; reduce the size or number of their attributes and events.",
                count,
                self._max_request_bytes,
            )

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pid == os.getpid():
            self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def refuses_connections(endpoint: str, timeout_s: float) -> bool:
    """True when the endpoint's host does not resolve or its port refuses TCP connections.

    Runs on a helper thread so that a slow name lookup (not bounded by a socket timeout)
    cannot hold the caller past ``timeout_s``; a host that does not answer in time is *not*
    known to be unreachable.
    """
    try:
        parsed = urllib.parse.urlsplit(endpoint if "//" in endpoint else f"//{endpoint}")
        host = parsed.hostname
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        return False
    if not host:
        return False
    verdict: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                verdict.append(False)
        except (ConnectionRefusedError, socket.gaierror):
            verdict.append(True)
        except OSError:
            verdict.append(False)

    prober = threading.Thread(target=probe, name="vaquero-probe", daemon=True)
    try:
        contextvars.Context().run(prober.start)
    except RuntimeError:
        return False
    prober.join(max(0.0, timeout_s))
    return bool(verdict and verdict[0])


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
        settings.endpoint,
        settings.protocol,
        batch_size=settings.max_export_batch_size,
        timeout_s=_export_timeout_s(settings),
        announce=announce_failures,
    )
    for name in _OTLP_LOGGERS:
        target = logging.getLogger(name)
        for existing in list(target.filters):
            if isinstance(existing, UnreachableCollectorNotice):
                target.removeFilter(existing)
        target.addFilter(notice)
    _warn_if_cleartext(settings)
    build = _grpc_exporter if settings.protocol == "grpc" else _http_exporter
    return OtlpExporter(build(settings, notice), notice, rebuild=lambda: build(settings, notice))


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


def _grpc_exporter(settings: Settings, notice: UnreachableCollectorNotice) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter_class: type[OTLPSpanExporter] = OTLPSpanExporter
    if _DIRECT_ENCODER:
        from vaquero._pipeline.preencoded import grpc_exporter_class

        exporter_class = grpc_exporter_class() or OTLPSpanExporter
    return _grpc_with(exporter_class, settings, notice)  # type: ignore[no-any-return]


def _grpc_with(exporter_class: Any, settings: Settings, notice: UnreachableCollectorNotice) -> Any:
    """A stock gRPC OTLP exporter (spans or metrics) on the endpoint and TLS of ``settings``."""
    import grpc

    del notice  # gRPC statuses reach the notice through the exporter's own log records
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
    return exporter_class(
        endpoint=target,
        insecure=insecure,
        credentials=credentials,
        # gRPC metadata keys must be lower-case; an upper-case key fails every export.
        headers=_ExactHeaders({key.lower(): value for key, value in settings.headers.items()}),
        timeout=_export_timeout_s(settings),
        compression=compression,
    )


def _http_exporter(settings: Settings, notice: UnreachableCollectorNotice) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter_class: type[OTLPSpanExporter] = OTLPSpanExporter
    if _DIRECT_ENCODER:
        from vaquero._pipeline.preencoded import http_exporter_class

        exporter_class = http_exporter_class() or OTLPSpanExporter
    return _http_with(exporter_class, settings, notice)  # type: ignore[no-any-return]


def _http_with(exporter_class: Any, settings: Settings, notice: UnreachableCollectorNotice) -> Any:
    """A stock HTTP OTLP exporter (spans or metrics) with exactly the headers and TLS files
    of ``settings``."""
    import requests
    from opentelemetry.exporter.otlp.proto.http import Compression

    session = _exact_session(requests, settings, notice)
    if settings.certificate:
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's CA; the
        # certificate the user configured for OTLP must win, so ignore those variables.
        session.trust_env = False
    return exporter_class(
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


def _exact_session(
    requests: Any, settings: Settings, notice: UnreachableCollectorNotice
) -> Any:
    """A requests session that sends the headers and TLS files vaquero resolved, only those.

    The SDK's HTTP exporter merges OTEL_EXPORTER_OTLP_*HEADERS into every request and reads
    the certificate variables itself when given none, unvalidated: a header vaquero rejected
    (a ``%0A`` in a value) or a CA file it reported unreadable would fail every export, and
    an ``init(headers=...)`` would not replace the variable's headers as documented.

    It also tells ``notice`` what each failed attempt got back: the stock exporter keeps a
    failed attempt's status to itself (its retry log line names only the reason phrase), and
    the session is the public seam where the status code, or the connection error, is seen.
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

        def send(self, request: Any, **kwargs: Any) -> Any:
            try:
                response = super().send(request, **kwargs)
            except Exception as error:
                notice.observe(answer_from_exception(error))
                raise
            if response.status_code >= 400:
                notice.observe(answer_from_http(response.status_code, response.reason))
            return response

    return ExactSession()


def metrics_view(settings: Settings) -> Settings:
    """``settings`` with the metrics rows in the places of the traces ones, so the metrics
    exporter goes through the very same endpoint, header and TLS code as the spans."""
    return dataclasses.replace(
        settings,
        protocol=settings.metrics_protocol,
        endpoint=settings.metrics_endpoint,
        headers=settings.metrics_headers,
        timeout=settings.metrics_timeout,
        compression=settings.metrics_compression,
        insecure=settings.metrics_insecure,
        certificate=settings.metrics_certificate,
        client_key=settings.metrics_client_key,
        client_certificate=settings.metrics_client_certificate,
    )


def build_otlp_metric_exporter(settings: Settings) -> Any:
    """The OTLP metric exporter of ``settings`` (its metrics rows).

    Its retry lines go through the same collector notice as the spans' (one is attached to
    the exporter loggers when spans are not exported over OTLP), so a missing collector gives
    one warning for both signals.
    """
    view = metrics_view(settings)
    notice = _installed_notice()
    if notice is None:
        notice = UnreachableCollectorNotice(view.endpoint, view.protocol,
                                            timeout_s=view.timeout)
        for name in _OTLP_LOGGERS:
            logging.getLogger(name).addFilter(notice)
    _warn_if_cleartext(view)
    # Spans go to the same collector: one warning, whichever signal fails first, names both.
    shared = "otlp" in settings.exporters and _netloc(settings.endpoint) == _netloc(view.endpoint)
    if view.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        return _grpc_with(_announcing(GrpcMetricExporter, view, notice, shared), view, notice)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return _http_with(_announcing(HttpMetricExporter, view, notice, shared), view, notice)


def _netloc(endpoint: str) -> str:
    try:
        return urllib.parse.urlparse(endpoint).netloc
    except ValueError:
        return endpoint


def _announcing(
    exporter_class: Any, view: Settings, notice: UnreachableCollectorNotice, shared: bool
) -> Any:
    """The stock metric exporter class, saying once when measurements could not be delivered.

    The notice swallows the exporter's own retry lines (as for spans), so a failed export is
    said here instead: once, and not at all when the spans' warning already named the same
    collector (one notice for both signals).
    """
    from opentelemetry.sdk.metrics.export import MetricExportResult

    class AnnouncingMetricExporter(exporter_class):  # type: ignore[misc]
        def export(self, *args: Any, **kwargs: Any) -> Any:
            result = super().export(*args, **kwargs)
            if result is MetricExportResult.FAILURE:
                _announce_metrics_failure(view, notice, shared)
            return result

    return AnnouncingMetricExporter


def _announce_metrics_failure(
    view: Settings, notice: UnreachableCollectorNotice, shared: bool
) -> None:
    netloc = _netloc(view.endpoint)
    if any(key.startswith("otlp-answer:") and netloc in key for key in list(STATE.warned)):
        return  # the spans' warning already named this collector
    answer = notice.last_answer
    detail = answer.detail if answer is not None and answer.detail else "an error"
    what = "spans and GenAI duration metrics" if shared else "GenAI duration metrics"
    warn_once(
        f"otlp-metrics:{netloc}",
        "vaquero: cannot deliver to the OTLP collector at %s (%s, %s); %s are being dropped. "
        "Point OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) at a "
        "running collector, or set OTEL_METRICS_EXPORTER=none.",
        mask_endpoint(view.endpoint),
        view.protocol,
        detail,
        what,
    )


def _installed_notice() -> UnreachableCollectorNotice | None:
    for existing in logging.getLogger(_OTLP_LOGGERS[0]).filters:
        if isinstance(existing, UnreachableCollectorNotice):
            return existing
    return None


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

