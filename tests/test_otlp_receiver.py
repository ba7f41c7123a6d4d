"""The test receiver, proven with the stock OTel SDK exporters over real sockets.

Every other wire test trusts this receiver, so here it is checked against exporters nobody in
this project wrote: what they send must come back intact, and the receiver's fault injection,
restart and TLS modes must produce the behaviour a real collector would.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from otlp_receiver import OtlpReceiver, TlsMaterial, make_tls_material

RECEIVER_SCRIPT = Path(__file__).with_name("otlp_receiver.py")
TRANSPORTS = ["grpc", "http"]

MakeTracer = Callable[[SpanExporter], trace.Tracer]


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as rx:
        yield rx


@pytest.fixture
def make_tracer() -> Iterator[MakeTracer]:
    """A private provider per exporter (never the global one), shut down after the test."""
    providers: list[TracerProvider] = []

    def make(exporter: SpanExporter) -> trace.Tracer:
        provider = TracerProvider(resource=Resource.create({"service.name": "receiver-test"}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        providers.append(provider)
        return provider.get_tracer("receiver.test.scope")

    yield make
    for provider in providers:
        provider.shutdown()


def exporter_for(
    transport: str,
    rx: OtlpReceiver,
    tls: TlsMaterial | None = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
) -> SpanExporter:
    """The stock exporter for a transport, trusting the test CA and presenting the client cert."""
    if transport == "grpc":
        credentials = None
        if tls is not None:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=tls.ca_cert.read_bytes(),
                private_key=tls.client_key.read_bytes(),
                certificate_chain=tls.client_cert.read_bytes(),
            )
        return GrpcSpanExporter(
            endpoint=rx.grpc_endpoint, credentials=credentials, headers=headers, timeout=timeout
        )
    if tls is None:
        return HttpSpanExporter(endpoint=rx.http_traces_url, headers=headers, timeout=timeout)
    return HttpSpanExporter(
        endpoint=rx.http_traces_url,
        certificate_file=str(tls.ca_cert),
        client_certificate_file=str(tls.client_cert),
        client_key_file=str(tls.client_key),
        headers=headers,
        timeout=timeout,
    )


def emit_workflow(tracer: trace.Tracer) -> tuple[str, str, str]:
    """A root with a linked, failing child; returns (trace_id, root_id, child_id) as hex."""
    with tracer.start_as_current_span(
        "workflow", kind=SpanKind.SERVER, attributes={"workflow_id": "wf-1"}
    ) as root:
        link = Link(root.get_span_context(), {"link.reason": "follows"})
        with tracer.start_as_current_span(
            "step",
            links=[link],
            attributes={
                "gen_ai.agent.name": "agent-a",
                "retries": 3,
                "ratio": 0.5,
                "ok": False,
                "tags": ["a", "b"],
            },
        ) as child:
            child.add_event("checkpoint", {"stage": "validate", "n": 2})
            child.set_status(Status(StatusCode.ERROR, "step failed"))
    root_ctx, child_ctx = root.get_span_context(), child.get_span_context()
    return (
        f"{root_ctx.trace_id:032x}",
        f"{root_ctx.span_id:016x}",
        f"{child_ctx.span_id:016x}",
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_spans_arrive_intact(
    transport: str, receiver: OtlpReceiver, make_tracer: MakeTracer
) -> None:
    # gRPC metadata keys must be lower-case on the wire; HTTP keys arrive lower-cased by us.
    header = "x-tenant" if transport == "grpc" else "X-Tenant"
    tracer = make_tracer(exporter_for(transport, receiver, headers={header: "acme"}))
    trace_id, root_id, child_id = emit_workflow(tracer)

    assert receiver.wait_for_spans(2, timeout=10)
    spans = {s.name: s for s in receiver.spans()}
    root, child = spans["workflow"], spans["step"]

    assert root.trace_id == child.trace_id == trace_id
    assert (root.span_id, root.parent_span_id, root.kind) == (root_id, None, "SERVER")
    assert (child.span_id, child.parent_span_id, child.kind) == (child_id, root_id, "INTERNAL")
    assert root.attributes == {"workflow_id": "wf-1"}
    assert child.attributes == {
        "gen_ai.agent.name": "agent-a",
        "retries": 3,
        "ratio": 0.5,
        "ok": False,
        "tags": ["a", "b"],
    }
    assert (child.status_code, child.status_message) == ("ERROR", "step failed")
    assert root.status_code == "UNSET"
    assert [(e.name, e.attributes) for e in child.events] == [
        ("checkpoint", {"stage": "validate", "n": 2})
    ]
    assert [(lk.trace_id, lk.span_id, lk.attributes) for lk in child.links] == [
        (trace_id, root_id, {"link.reason": "follows"})
    ]
    assert child.resource["service.name"] == "receiver-test"
    assert child.scope_name == "receiver.test.scope"
    assert child.end_time_unix_nano >= child.start_time_unix_nano > 0
    assert {s.transport for s in receiver.spans()} == {transport}
    assert all(r.headers["x-tenant"] == "acme" for r in receiver.requests)


def test_http_gzip_body_is_decoded_and_sizes_are_recorded(
    receiver: OtlpReceiver, make_tracer: MakeTracer
) -> None:
    tracer = make_tracer(
        HttpSpanExporter(endpoint=receiver.http_traces_url, compression=HttpCompression.Gzip)
    )
    with tracer.start_as_current_span("big", attributes={"payload": "x" * 4000}):
        pass

    assert receiver.wait_for_spans(1, timeout=10)
    assert receiver.spans()[0].attributes["payload"] == "x" * 4000
    (request,) = receiver.requests
    assert request.compression == "gzip"
    assert request.headers["content-encoding"] == "gzip"
    assert request.compressed_size is not None
    assert request.compressed_size < 1000 < 4000 < request.uncompressed_size


def test_grpc_gzip_and_metadata(receiver: OtlpReceiver, make_tracer: MakeTracer) -> None:
    exporter = GrpcSpanExporter(
        endpoint=receiver.grpc_endpoint,
        compression=grpc.Compression.Gzip,
        headers={"authorization": "Bearer t0ken"},
    )
    with make_tracer(exporter).start_as_current_span("compressed"):
        pass

    assert receiver.wait_for_spans(1, timeout=10)
    (request,) = receiver.requests
    assert request.transport == "grpc"
    assert request.headers["authorization"] == "Bearer t0ken"
    assert request.compressed_size is None  # not observable through grpc core
    assert request.uncompressed_size == request.request.ByteSize() > 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_injected_failure_is_retried_and_span_arrives_once(
    transport: str, receiver: OtlpReceiver, make_tracer: MakeTracer
) -> None:
    receiver.fail_next(1)
    tracer = make_tracer(exporter_for(transport, receiver))
    with tracer.start_as_current_span("flaky"):
        pass

    assert receiver.wait_for_spans(1, timeout=10)
    assert [s.name for s in receiver.spans()] == ["flaky"]
    assert [r.accepted for r in receiver.requests] == [False, True]
    rejected, accepted = receiver.requests
    assert rejected.request == accepted.request  # the very same payload was sent again


def test_fail_next_uses_the_requested_codes(receiver: OtlpReceiver) -> None:
    receiver.fail_next(2, grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED, http_status=429)
    with grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel:
        with pytest.raises(grpc.RpcError) as raised:
            TraceServiceStub(channel).Export(  # type: ignore[no-untyped-call]
                ExportTraceServiceRequest(), timeout=5
            )
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    trailers = dict(raised.value.trailing_metadata())
    assert "google.rpc.retryinfo-bin" in trailers

    request = post_raw(receiver, ExportTraceServiceRequest().SerializeToString())
    with pytest.raises(urllib.error.HTTPError) as http_error:
        urllib.request.urlopen(request, timeout=5)
    assert http_error.value.code == 429
    assert http_error.value.headers["Retry-After"] == "0"

    # The budget of two failures is spent: the third call succeeds.
    with urllib.request.urlopen(post_raw(receiver, b""), timeout=5) as response:
        assert response.status == 200
    assert [r.accepted for r in receiver.requests] == [False, False, True]


def post_raw(
    rx: OtlpReceiver, body: bytes, content_type: str = "application/x-protobuf"
) -> urllib.request.Request:
    return urllib.request.Request(
        rx.http_traces_url, data=body, method="POST", headers={"Content-Type": content_type}
    )


def test_http_accepts_otlp_json(receiver: OtlpReceiver) -> None:
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "json.scope"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "from-json",
                                "kind": 2,
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": "1544712661000000000",
                                "attributes": [{"key": "n", "value": {"intValue": "7"}}],
                                "status": {"code": 2, "message": "boom"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    request = post_raw(receiver, json.dumps(body).encode(), "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["Content-Type"] == "application/json"

    (span,) = receiver.spans()
    assert (span.trace_id, span.span_id, span.parent_span_id) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
        "eee19b7ec3c1b173",
    )
    assert (span.name, span.kind, span.attributes) == ("from-json", "SERVER", {"n": 7})
    assert (span.status_code, span.status_message) == ("ERROR", "boom")
    assert (span.resource, span.scope_name) == ({"service.name": "json-svc"}, "json.scope")


def test_http_rejects_garbage_and_unknown_paths(receiver: OtlpReceiver) -> None:
    with pytest.raises(urllib.error.HTTPError) as bad_body:
        urllib.request.urlopen(post_raw(receiver, b"\xff\x00not-protobuf"), timeout=5)
    assert bad_body.value.code == 400

    wrong_path = urllib.request.Request(
        receiver.http_endpoint + "/v1/logs", data=b"", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as not_found:
        urllib.request.urlopen(wrong_path, timeout=5)
    assert not_found.value.code == 404
    assert receiver.requests == []


def test_wait_for_spans_times_out_and_clear_forgets(
    receiver: OtlpReceiver, make_tracer: MakeTracer
) -> None:
    assert receiver.wait_for_spans(1, timeout=0.2) is False
    with make_tracer(exporter_for("http", receiver)).start_as_current_span("one"):
        pass
    assert receiver.wait_for_spans(1, timeout=10)
    assert receiver.no_more_spans_than(1, within=0.2)
    tracer = make_tracer(exporter_for("grpc", receiver))
    with tracer.start_as_current_span("two"):
        pass
    assert receiver.no_more_spans_than(1, within=10) is False  # the second span ends the wait
    receiver.clear()
    assert receiver.spans() == [] and receiver.requests == []


def connection_refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_stop_and_start_on_the_same_port(
    transport: str, receiver: OtlpReceiver, make_tracer: MakeTracer
) -> None:
    endpoints = (receiver.grpc_endpoint, receiver.http_endpoint)
    tracer = make_tracer(exporter_for(transport, receiver, timeout=5))
    with tracer.start_as_current_span("before"):
        pass
    assert receiver.wait_for_spans(1, timeout=10)

    receiver.stop()
    assert not receiver.running
    assert connection_refused(receiver.grpc_port)
    assert connection_refused(receiver.http_port)

    receiver.start()
    assert (receiver.grpc_endpoint, receiver.http_endpoint) == endpoints
    with tracer.start_as_current_span("after"):
        pass
    assert receiver.wait_for_spans(2, timeout=10)
    assert [s.name for s in receiver.spans()] == ["before", "after"]


@pytest.fixture
def no_ca_bundle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's ``verify``, which
    is how the stock HTTP exporter applies ``certificate_file``; with either variable set (as on
    our machines) the test CA would be silently ignored."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.mark.usefixtures("no_ca_bundle_env")
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("client_auth", [False, True], ids=["tls", "mtls"])
def test_tls_and_mtls(
    transport: str, client_auth: bool, tmp_path: Path, make_tracer: MakeTracer
) -> None:
    tls = make_tls_material(tmp_path, client_auth=client_auth)
    with OtlpReceiver(tls=tls) as rx:
        assert rx.grpc_endpoint.startswith("https://")
        assert rx.http_endpoint.startswith("https://")
        tracer = make_tracer(exporter_for(transport, rx, tls=tls))
        with tracer.start_as_current_span("secure"):
            pass
        assert rx.wait_for_spans(1, timeout=10)
        assert rx.spans()[0].name == "secure"


def test_mtls_rejects_grpc_client_without_certificate(tmp_path: Path) -> None:
    tls = make_tls_material(tmp_path, client_auth=True)
    with OtlpReceiver(tls=tls) as rx:
        credentials = grpc.ssl_channel_credentials(root_certificates=tls.ca_cert.read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{rx.grpc_port}", credentials) as channel:
            with pytest.raises(grpc.RpcError) as raised:
                TraceServiceStub(channel).Export(  # type: ignore[no-untyped-call]
                    ExportTraceServiceRequest(), timeout=5
                )
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        assert rx.requests == []


def test_mtls_rejects_http_client_without_certificate(tmp_path: Path) -> None:
    tls = make_tls_material(tmp_path, client_auth=True)
    with OtlpReceiver(tls=tls) as rx:
        context = ssl.create_default_context(cafile=str(tls.ca_cert))
        with pytest.raises(OSError):  # ssl.SSLError, reset or URLError depending on timing
            urllib.request.urlopen(post_raw(rx, b""), timeout=5, context=context)
        assert rx.requests == []

        # The same call with the client certificate goes through, so the refusal above was mTLS.
        context.load_cert_chain(tls.client_cert, tls.client_key)
        with urllib.request.urlopen(post_raw(rx, b""), timeout=5, context=context) as response:
            assert response.status == 200


def test_tls_server_rejects_plaintext_exporter(tmp_path: Path, make_tracer: MakeTracer) -> None:
    tls = make_tls_material(tmp_path)
    with OtlpReceiver(tls=tls) as rx:
        plain = HttpSpanExporter(endpoint=rx.http_traces_url.replace("https", "http"), timeout=2)
        with make_tracer(plain).start_as_current_span("plain"):
            pass  # SimpleSpanProcessor: the export has been attempted (and failed) after this
        assert rx.requests == []


def test_standalone_process_writes_json_lines(tmp_path: Path, make_tracer: MakeTracer) -> None:
    out = tmp_path / "spans.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(RECEIVER_SCRIPT), "--out", str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready[0] == "READY", ready
        ports = dict(part.split("=") for part in ready[1:])
        exporter = HttpSpanExporter(endpoint=f"http://127.0.0.1:{ports['http']}/v1/traces")
        with make_tracer(exporter).start_as_current_span("in-another-process", attributes={"k": 1}):
            pass
        grpc_exporter = GrpcSpanExporter(endpoint=f"http://127.0.0.1:{ports['grpc']}")
        with make_tracer(grpc_exporter).start_as_current_span("over-grpc"):
            pass

        lines: list[str] = []
        for _ in range(100):  # SimpleSpanProcessor exported synchronously; allow the file write
            lines = out.read_text().splitlines() if out.exists() else []
            if len(lines) >= 2:
                break
            time.sleep(0.05)
        records = [json.loads(line) for line in lines]
        assert [(r["name"], r["transport"]) for r in records] == [
            ("in-another-process", "http"),
            ("over-grpc", "grpc"),
        ]
        assert records[0]["attributes"] == {"k": 1}
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
