"""A real OTLP/trace receiver for tests: gRPC and HTTP on 127.0.0.1, built on opentelemetry-proto.

Why this exists: the wire is the contract between vaquero and a Collector, so the tests prove it
against the protocol's own service definitions (``TraceServiceServicer`` and
``ExportTraceServiceRequest``) on real sockets, not against mocks of the SDK exporters. The
receiver can also misbehave on purpose (fail the next N calls, go down and come back on the same
port, demand TLS or mTLS), because exporters are judged by how they behave when the collector is
not healthy.

It also runs as a standalone process (``python tests/otlp_receiver.py --out spans.jsonl``) so that
subprocess tests and benchmarks in other processes can export to it and read back what arrived.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import gzip
import http.server
import ipaddress
import json
import signal
import socket
import ssl
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import (
    MetricsServiceServicer,
    add_MetricsServiceServicer_to_server,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import (
    TraceServiceServicer,
    add_TraceServiceServicer_to_server,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

TRACES_PATH = "/v1/traces"
METRICS_PATH = "/v1/metrics"
LOOPBACK = "127.0.0.1"

# ---------------------------------------------------------------------------------------------
# What the receiver hands back to tests
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    """One export call as it reached the receiver, accepted or deliberately failed.

    ``compression`` and ``compressed_size`` describe the HTTP body as it was on the wire. For gRPC
    both are ``None``: grpc core decompresses messages and strips ``grpc-encoding`` before Python
    sees the call, so only ``uncompressed_size`` is knowable there.
    """

    transport: str  # "grpc" | "http"
    request: ExportTraceServiceRequest
    headers: Mapping[str, str]  # lower-cased header / metadata keys
    compression: str | None  # HTTP Content-Encoding ("gzip", "deflate", "identity"); gRPC: None
    compressed_size: int | None
    uncompressed_size: int
    accepted: bool  # False when fail_next() made this call fail


@dataclass(frozen=True)
class EventRecord:
    name: str
    time_unix_nano: int
    attributes: dict[str, Any]


@dataclass(frozen=True)
class LinkRecord:
    trace_id: str
    span_id: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class SpanRecord:
    """A span flattened into plain Python values, so tests compare dicts and strings."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str  # "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER" or "UNSPECIFIED"
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: dict[str, Any]
    status_code: str  # "UNSET", "OK" or "ERROR"
    status_message: str
    events: list[EventRecord]
    links: list[LinkRecord]
    resource: dict[str, Any]
    scope_name: str
    transport: str

    def to_json(self) -> str:
        """One JSON line; bytes attribute values become hex so the line stays valid JSON."""
        return json.dumps(asdict(self), default=_json_default, sort_keys=True)


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def any_value_to_python(value: AnyValue) -> Any:
    """Turn an OTLP AnyValue into the Python value a test would write in an assertion."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value_to_python(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return attributes_to_dict(value.kvlist_value.values)
    return getattr(value, which)


def attributes_to_dict(attributes: Sequence[KeyValue]) -> dict[str, Any]:
    return {kv.key: any_value_to_python(kv.value) for kv in attributes}


def _kind_name(kind: int) -> str:
    return Span.SpanKind.Name(kind).removeprefix("SPAN_KIND_")  # type: ignore[no-any-return]


def _status_name(code: int) -> str:
    return Status.StatusCode.Name(code).removeprefix("STATUS_CODE_")  # type: ignore[no-any-return]


def flatten_request(request: ExportTraceServiceRequest, transport: str) -> list[SpanRecord]:
    """Flatten the resource -> scope -> span nesting of one request into span records."""
    records: list[SpanRecord] = []
    for resource_spans in request.resource_spans:
        resource = attributes_to_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                records.append(
                    SpanRecord(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        kind=_kind_name(span.kind),
                        start_time_unix_nano=span.start_time_unix_nano,
                        end_time_unix_nano=span.end_time_unix_nano,
                        attributes=attributes_to_dict(span.attributes),
                        status_code=_status_name(span.status.code),
                        status_message=span.status.message,
                        events=[
                            EventRecord(e.name, e.time_unix_nano, attributes_to_dict(e.attributes))
                            for e in span.events
                        ],
                        links=[
                            LinkRecord(
                                lk.trace_id.hex(),
                                lk.span_id.hex(),
                                attributes_to_dict(lk.attributes),
                            )
                            for lk in span.links
                        ],
                        resource=dict(resource),
                        scope_name=scope_spans.scope.name,
                        transport=transport,
                    )
                )
    return records


# ---------------------------------------------------------------------------------------------
# TLS material for tests
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsMaterial:
    """PEM files of a throwaway CA, a server cert for 127.0.0.1/localhost and a client cert.

    ``client_auth`` makes the receiver demand a client certificate signed by the CA (mTLS).
    """

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_auth: bool = False


def make_tls_material(tmp_path: Path, client_auth: bool = False) -> TlsMaterial:
    """Write ca.pem, server.pem/server-key.pem and client.pem/client-key.pem under tmp_path.

    EC P-256 keys keep generation fast enough to do per test.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    not_before, not_after = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name("vaquero test CA"))
        .issuer_name(name("vaquero test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(
        common_name: str, usage: x509.ObjectIdentifier, san: list[x509.GeneralName]
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(common_name))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    server_cert, server_key = leaf(
        "localhost",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))],
    )
    client_cert, client_key = leaf("vaquero test client", ExtendedKeyUsageOID.CLIENT_AUTH, [])

    tmp_path.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    material = TlsMaterial(
        ca_cert=tmp_path / "ca.pem",
        server_cert=tmp_path / "server.pem",
        server_key=tmp_path / "server-key.pem",
        client_cert=tmp_path / "client.pem",
        client_key=tmp_path / "client-key.pem",
        client_auth=client_auth,
    )
    material.ca_cert.write_bytes(ca_cert.public_bytes(pem))
    material.server_cert.write_bytes(server_cert.public_bytes(pem))
    material.client_cert.write_bytes(client_cert.public_bytes(pem))
    write_key(server_key, material.server_key)
    write_key(client_key, material.client_key)
    return material


# ---------------------------------------------------------------------------------------------
# The receiver
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistogramPoint:
    """One histogram data point of an accepted metrics export, flattened."""

    transport: str
    name: str
    unit: str
    attributes: dict[str, Any]
    count: int
    sum: float
    bucket_counts: tuple[int, ...]
    explicit_bounds: tuple[float, ...]
    resource: dict[str, Any]
    scope: str
    temporality: int


def flatten_metrics(request: ExportMetricsServiceRequest, transport: str) -> list[HistogramPoint]:
    points = []
    for resource_metrics in request.resource_metrics:
        resource = attributes_to_dict(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.WhichOneof("data") != "histogram":
                    continue
                for point in metric.histogram.data_points:
                    points.append(
                        HistogramPoint(
                            transport=transport,
                            name=metric.name,
                            unit=metric.unit,
                            attributes=attributes_to_dict(point.attributes),
                            count=point.count,
                            sum=point.sum,
                            bucket_counts=tuple(point.bucket_counts),
                            explicit_bounds=tuple(point.explicit_bounds),
                            resource=resource,
                            scope=scope_metrics.scope.name,
                            temporality=metric.histogram.aggregation_temporality,
                        )
                    )
    return points


@dataclass
class _Failures:
    """Pending injected failures; shared by both transports so "the next n calls" means any."""

    remaining: int = 0
    grpc_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    http_status: int = 503
    retry_after_s: int = 0


@dataclass
class _State:
    lock: threading.Condition = field(default_factory=threading.Condition)
    requests: list[ReceivedRequest] = field(default_factory=list)
    spans: list[SpanRecord] = field(default_factory=list)
    failures: _Failures = field(default_factory=_Failures)
    metric_requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    metric_names: set[str] = field(default_factory=set)
    histograms: list[HistogramPoint] = field(default_factory=list)


SpanSink = Callable[[list[SpanRecord]], None]


class OtlpReceiver:
    """gRPC (:attr:`grpc_endpoint`) and HTTP (:attr:`http_endpoint` + ``/v1/traces``) receiver.

    Ports are chosen by the OS on first start and kept across :meth:`stop` / :meth:`start`, so a
    test can take "the collector" down and bring it back where the exporter expects it.
    """

    def __init__(
        self,
        tls: TlsMaterial | None = None,
        grpc_port: int = 0,
        http_port: int = 0,
        on_spans: SpanSink | None = None,
    ) -> None:
        self._tls = tls
        self._grpc_port = grpc_port
        self._http_port = http_port
        self._on_spans = on_spans
        self._state = _State()
        self._grpc_server: grpc.Server | None = None
        self._http_server: _HttpServer | None = None
        self._http_thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> OtlpReceiver:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._grpc_server is not None

    def start(self) -> None:
        """Start both servers (again), on the ports of the first start."""
        if self.running:
            return
        self._grpc_server, self._grpc_port = self._start_grpc()
        self._http_server = _HttpServer(
            (LOOPBACK, self._http_port), self._tls, self._record, self._record_metrics
        )
        self._http_port = self._http_server.server_address[1]
        self._http_thread = threading.Thread(
            target=self._http_server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"otlp-receiver-http-{self._http_port}",
            daemon=True,
        )
        self._http_thread.start()

    def stop(self) -> None:
        """Close listeners and every open connection, as a crashed collector would."""
        if self._grpc_server is not None:
            self._grpc_server.stop(grace=None).wait()
            self._grpc_server = None
        if self._http_server is not None:
            self._http_server.shutdown()
            self._http_server.close_all()
            self._http_server = None
        if self._http_thread is not None:
            self._http_thread.join(timeout=5)
            self._http_thread = None

    def _start_grpc(self) -> tuple[grpc.Server, int]:
        # so_reuseport off: a restarted receiver must own its port, not share it with a stray one.
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="otlp-receiver-grpc"),
            options=[("grpc.so_reuseport", 0)],
        )
        add_TraceServiceServicer_to_server(_TraceService(self._record), server)  # type: ignore[no-untyped-call]
        add_MetricsServiceServicer_to_server(_MetricsService(self._record_metrics), server)  # type: ignore[no-untyped-call]
        address = f"{LOOPBACK}:{self._grpc_port}"
        if self._tls is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, _grpc_server_credentials(self._tls))
        if port == 0:
            raise OSError(f"gRPC receiver could not bind {address}")
        server.start()
        return server, port

    # -- endpoints --------------------------------------------------------------------------

    @property
    def _scheme(self) -> str:
        return "http" if self._tls is None else "https"

    @property
    def grpc_port(self) -> int:
        return self._grpc_port

    @property
    def http_port(self) -> int:
        return self._http_port

    @property
    def grpc_endpoint(self) -> str:
        return f"{self._scheme}://{LOOPBACK}:{self._grpc_port}"

    @property
    def http_endpoint(self) -> str:
        """Base URL; traces go to ``http_endpoint + "/v1/traces"`` (:attr:`http_traces_url`)."""
        return f"{self._scheme}://{LOOPBACK}:{self._http_port}"

    @property
    def http_traces_url(self) -> str:
        return self.http_endpoint + TRACES_PATH

    # -- what arrived -----------------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every export call so far, including the ones failed on purpose (``accepted=False``)."""
        with self._state.lock:
            return list(self._state.requests)

    def spans(self) -> list[SpanRecord]:
        """Spans of accepted calls only, in arrival order: a retried span appears once."""
        with self._state.lock:
            return list(self._state.spans)

    def wait_for_spans(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least n spans were accepted; False if the timeout passed first."""
        with self._state.lock:
            return self._state.lock.wait_for(lambda: len(self._state.spans) >= n, timeout)

    def no_more_spans_than(self, n: int, within: float = 1.0) -> bool:
        """True if no more than ``n`` spans arrive within ``within`` seconds.

        The negative counterpart of :meth:`wait_for_spans`: it returns as soon as an extra span
        arrives (a duplicate), so a slow machine makes it wait longer, never pass wrongly the
        way a fixed sleep followed by a count can.
        """
        with self._state.lock:
            extra = self._state.lock.wait_for(lambda: len(self._state.spans) > n, within)
        return not extra

    @property
    def http_metrics_url(self) -> str:
        return self.http_endpoint + METRICS_PATH

    def metric_requests(self) -> list[tuple[str, dict[str, str]]]:
        """(transport, headers) of every metrics export received."""
        with self._state.lock:
            return list(self._state.metric_requests)

    def metric_names(self) -> set[str]:
        """The name of every metric received, of any kind."""
        with self._state.lock:
            return set(self._state.metric_names)

    def histograms(self, name: str | None = None) -> list[HistogramPoint]:
        """Every histogram point received (cumulative exports repeat a series), in order."""
        with self._state.lock:
            return [p for p in self._state.histograms if name is None or p.name == name]

    def latest_histograms(self, name: str) -> list[HistogramPoint]:
        """The last point received of each series (attribute set) of ``name``."""
        latest: dict[tuple[tuple[str, str], ...], HistogramPoint] = {}
        for point in self.histograms(name):
            key = tuple(sorted((k, repr(v)) for k, v in point.attributes.items()))
            latest[key] = point
        return list(latest.values())

    def wait_for_histogram_count(self, name: str, count: int, timeout: float = 10.0) -> bool:
        """Block until the latest points of ``name`` sum to at least ``count`` measurements."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(p.count for p in self.latest_histograms(name)) >= count:
                return True
            time.sleep(0.05)
        return sum(p.count for p in self.latest_histograms(name)) >= count

    def _record_metrics(
        self, transport: str, request: ExportMetricsServiceRequest, headers: Mapping[str, str]
    ) -> None:
        with self._state.lock:
            self._state.metric_requests.append((transport, dict(headers)))
            self._state.metric_names.update(
                metric.name
                for resource_metrics in request.resource_metrics
                for scope_metrics in resource_metrics.scope_metrics
                for metric in scope_metrics.metrics
            )
            self._state.histograms.extend(flatten_metrics(request, transport))
            self._state.lock.notify_all()

    def clear(self) -> None:
        with self._state.lock:
            self._state.requests.clear()
            self._state.spans.clear()
            self._state.metric_requests.clear()
            self._state.metric_names.clear()
            self._state.histograms.clear()

    # -- fault injection --------------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        grpc_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
        http_status: int = 503,
        retry_after_s: int = 0,
    ) -> None:
        """Fail the next n export calls (either transport), then succeed again.

        Failures carry the hints a collector sends when it wants a retry: ``Retry-After`` for
        HTTP and a ``google.rpc.RetryInfo`` trailer for gRPC, both set to retry_after_s, so the
        stock exporters retry promptly instead of sleeping through their exponential backoff.
        """
        with self._state.lock:
            self._state.failures = _Failures(n, grpc_code, http_status, retry_after_s)

    # -- shared request path ----------------------------------------------------------------

    def _record(
        self,
        transport: str,
        request: ExportTraceServiceRequest,
        headers: Mapping[str, str],
        compression: str | None,
        compressed_size: int | None,
    ) -> _Failures | None:
        """Record one call; return the failure to answer with, or None to accept it."""
        with self._state.lock:
            failures = self._state.failures
            fail = failures.remaining > 0
            if fail:
                failures.remaining -= 1
            self._state.requests.append(
                ReceivedRequest(
                    transport=transport,
                    request=request,
                    headers=dict(headers),
                    compression=compression,
                    compressed_size=compressed_size,
                    uncompressed_size=request.ByteSize(),
                    accepted=not fail,
                )
            )
            if fail:
                return failures
            records = flatten_request(request, transport)
            self._state.spans.extend(records)
            self._state.lock.notify_all()
        if self._on_spans is not None and records:
            self._on_spans(records)
        return None


def _grpc_server_credentials(tls: TlsMaterial) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [(tls.server_key.read_bytes(), tls.server_cert.read_bytes())],
        root_certificates=tls.ca_cert.read_bytes() if tls.client_auth else None,
        require_client_auth=tls.client_auth,
    )


Recorder = Callable[
    [str, ExportTraceServiceRequest, Mapping[str, str], str | None, int | None], _Failures | None
]


MetricsRecorder = Callable[[str, ExportMetricsServiceRequest, Mapping[str, str]], None]


class _MetricsService(MetricsServiceServicer):
    """The proto's own metrics servicer: every request is recorded and accepted."""

    def __init__(self, record: MetricsRecorder) -> None:
        self._record = record

    def Export(  # noqa: N802 - name fixed by the generated servicer
        self, request: ExportMetricsServiceRequest, context: grpc.ServicerContext
    ) -> ExportMetricsServiceResponse:
        metadata = {
            key.lower(): _metadata_text(value) for key, value in context.invocation_metadata()
        }
        self._record("grpc", request, metadata)
        return ExportMetricsServiceResponse()


class _TraceService(TraceServiceServicer):
    """The proto's own servicer; Export() is the only method OTLP/gRPC trace defines."""

    def __init__(self, record: Recorder) -> None:
        self._record = record

    def Export(  # noqa: N802 - name fixed by the generated servicer
        self, request: ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> ExportTraceServiceResponse:
        metadata = {
            key.lower(): _metadata_text(value) for key, value in context.invocation_metadata()
        }
        failure = self._record("grpc", request, metadata, None, None)
        if failure is not None:
            retry = RetryInfo(retry_delay=Duration(seconds=failure.retry_after_s))
            context.set_trailing_metadata(
                (("google.rpc.retryinfo-bin", retry.SerializeToString()),)
            )
            context.abort(failure.grpc_code, "failure injected by OtlpReceiver.fail_next")
        return ExportTraceServiceResponse()


def _metadata_text(value: str | bytes) -> str:
    return value.hex() if isinstance(value, bytes) else value


# ---------------------------------------------------------------------------------------------
# HTTP transport
# ---------------------------------------------------------------------------------------------


class _HttpServer(http.server.ThreadingHTTPServer):
    """Threaded HTTP(S) server that can drop its keep-alive connections on stop.

    TLS handshakes happen in the per-connection thread (not in accept()), so a client that
    stalls or is refused under mTLS cannot hold up other connections.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        tls: TlsMaterial | None,
        record: Recorder,
        record_metrics: MetricsRecorder,
    ) -> None:
        self.record = record
        self.record_metrics = record_metrics
        self.ssl_context = _http_ssl_context(tls) if tls is not None else None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _OtlpHttpHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        sock: socket.socket = request
        with self._connections_lock:
            self._connections.add(sock)
        try:
            if self.ssl_context is not None:
                try:
                    sock = self.ssl_context.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    return  # refused handshake (e.g. no client cert under mTLS): just close
            super().finish_request(sock, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connections cut by stop() are expected; don't print tracebacks for them."""

    def close_all(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server_close()


def _http_ssl_context(tls: TlsMaterial) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.server_cert, tls.server_key)
    if tls.client_auth:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(tls.ca_cert))
    return context


class _OtlpHttpHandler(http.server.BaseHTTPRequestHandler):
    """POST /v1/traces with protobuf or OTLP JSON bodies, optionally gzip/deflate encoded."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the exporters' connection pools expect
    server: _HttpServer

    def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # keep-alive: drain
        if self.path.split("?", 1)[0] == METRICS_PATH:
            self._metrics(body)
            return
        if self.path.split("?", 1)[0] != TRACES_PATH:
            self._reply(404, "text/plain", b"only POST /v1/traces is served\n")
            return
        encoding = (self.headers.get("Content-Encoding") or "identity").lower()
        content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        is_json = content_type == "application/json"
        try:
            request = _parse_body(_decode_body(body, encoding), is_json)
        except (ValueError, OSError, zlib.error, DecodeError, json_format.ParseError) as exc:
            self._reply(400, "text/plain", f"bad OTLP request: {exc}\n".encode())
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        failure = self.server.record("http", request, headers, encoding, len(body))
        if failure is not None:
            self._reply(
                failure.http_status,
                "text/plain",
                b"failure injected by OtlpReceiver.fail_next\n",
                {"Retry-After": str(failure.retry_after_s)},
            )
            return
        response = ExportTraceServiceResponse()
        if is_json:
            self._reply(200, "application/json", json_format.MessageToJson(response).encode())
        else:
            self._reply(200, "application/x-protobuf", response.SerializeToString())

    def _metrics(self, body: bytes) -> None:
        encoding = (self.headers.get("Content-Encoding") or "identity").lower()
        request = ExportMetricsServiceRequest()
        try:
            request.ParseFromString(_decode_body(body, encoding))
        except (ValueError, OSError, zlib.error, DecodeError) as exc:
            self._reply(400, "text/plain", f"bad OTLP metrics request: {exc}\n".encode())
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.server.record_metrics("http", request, headers)
        self._reply(200, "application/x-protobuf",
                    ExportMetricsServiceResponse().SerializeToString())

    def _reply(
        self,
        status: int,
        content_type: str,
        payload: bytes,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Stay quiet: test output should show test failures, not access logs."""


def _decode_body(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "identity":
        return body
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


_HEX_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})


def _parse_body(body: bytes, is_json: bool) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    if not is_json:
        request.ParseFromString(body)
        return request
    # OTLP JSON writes ids as hex where protobuf's JSON mapping expects base64.
    json_format.ParseDict(_hex_ids_to_base64(json.loads(body)), request)
    return request


def _hex_ids_to_base64(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                base64.b64encode(bytes.fromhex(value)).decode()
                if key in _HEX_ID_KEYS and isinstance(value, str)
                else _hex_ids_to_base64(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    return node


# ---------------------------------------------------------------------------------------------
# Standalone process
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _jsonl_sink(path: Path) -> Iterator[SpanSink]:
    lock = threading.Lock()
    with path.open("a", encoding="utf-8") as out:

        def write(records: list[SpanRecord]) -> None:
            with lock:
                out.writelines(record.to_json() + "\n" for record in records)
                out.flush()

        yield write


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGTERM/SIGINT, appending each received span to --out as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--grpc-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--http-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file to append to")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with (
        _jsonl_sink(args.out) as sink,
        OtlpReceiver(grpc_port=args.grpc_port, http_port=args.http_port, on_spans=sink) as rx,
    ):
        print(f"READY grpc={rx.grpc_port} http={rx.http_port}", flush=True)
        while not stop.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
