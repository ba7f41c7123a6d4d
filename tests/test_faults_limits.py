"""Size limits: request splitting, attribute length and count caps, clear-text endpoints.

What crossed the wire is read back from a real OTLP receiver; the programs under test run in
fresh interpreters. The batch splitter itself is also checked directly against the real OTLP
encoder, since "never over the limit" is a property of the encoding.
"""

from __future__ import annotations

import logging

import pytest
from conftest import clean_env, run_python
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otlp_receiver import OtlpReceiver

from vaquero._pipeline.exporters import OtlpExporter, UnreachableCollectorNotice
from vaquero._pipeline.split import GRPC_MAX_MESSAGE_BYTES, encoded_size, split_batch

MiB = 1024 * 1024




def _env(rx: OtlpReceiver, **extra: str) -> dict[str, str]:
    return clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=rx.grpc_endpoint, **extra)


def _sdk_spans(count: int, value_size: int, **extra_attrs: object) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("limits")
    for i in range(count):
        with tracer.start_as_current_span(f"s{i}") as span:
            span.set_attribute("payload", "é" * (value_size // 2) + "x" * (value_size // 2))
            for key, value in extra_attrs.items():
                span.set_attribute(key, value)  # type: ignore[arg-type]
    return list(memory.get_finished_spans())


# --- the splitter ------------------------------------------------------------
def test_split_keeps_every_chunk_under_the_limit_and_the_order():
    spans = _sdk_spans(300, 8 * 1024, n=1, ratio=0.5, flags=[True, False])
    limit = 512 * 1024
    chunks, oversized = split_batch(spans, limit)
    assert oversized == []
    assert len(chunks) > 1
    assert [span for chunk in chunks for span in chunk] == spans
    assert all(encoded_size(chunk) <= limit for chunk in chunks)


def test_split_leaves_a_small_batch_whole():
    spans = _sdk_spans(20, 100)
    assert split_batch(spans) == ([spans], [])


def test_split_sets_aside_a_span_too_large_on_its_own():
    spans = _sdk_spans(3, 1000)
    big = _sdk_spans(1, 20_000)[0]
    chunks, oversized = split_batch([spans[0], big, spans[1], spans[2]], 10_000)
    assert oversized == [big]
    assert [span for chunk in chunks for span in chunk] == spans


def test_otlp_exporter_drops_and_counts_an_oversized_span_and_warns_once(caplog):
    inner = InMemorySpanExporter()
    notice = UnreachableCollectorNotice("x", "grpc")
    exporter = OtlpExporter(inner, notice, max_request_bytes=10_000)
    small = _sdk_spans(2, 100)
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        for _ in range(2):
            assert exporter.export([small[0], _sdk_spans(1, 20_000)[0], small[1]]).name == "SUCCESS"
    assert exporter.oversized == 2
    assert len(inner.get_finished_spans()) == 4
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "exceeds the 10000-byte" in caplog.records[0].message


# --- over the wire ------------------------------------------------------------
def test_a_five_megabyte_batch_arrives_in_requests_under_four_mebibytes(rx):
    code = """
        import vaquero
        for i in range(600):
            with vaquero.span("bulky", i=i, payload="p" * 8100):
                pass
    """
    env = _env(rx, OTEL_BSP_MAX_EXPORT_BATCH_SIZE="600", OTEL_BSP_MAX_QUEUE_SIZE="600")
    result = run_python(code, env=env, timeout=40)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert rx.wait_for_spans(600, timeout=20)
    assert sorted(span.attributes["i"] for span in rx.spans()) == list(range(600))
    requests = rx.requests
    assert sum(request.uncompressed_size for request in requests) > 4 * MiB  # it had to split
    assert all(request.accepted for request in requests)
    assert max(request.uncompressed_size for request in requests) < GRPC_MAX_MESSAGE_BYTES


def test_a_five_megabyte_value_is_capped_at_the_receiver(rx):
    code = """
        import vaquero
        from opentelemetry import trace
        with vaquero.span("vaquero-api", big="v" * 5_000_000):
            with trace.get_tracer("raw").start_as_current_span("otel-api") as span:
                span.set_attribute("big", "o" * 5_000_000)
    """
    result = run_python(code, env=_env(rx), timeout=40)
    assert result.returncode == 0, result.stderr
    assert rx.wait_for_spans(2, timeout=20)
    sizes = {span.name: len(span.attributes["big"]) for span in rx.spans()}
    assert set(sizes) == {"vaquero-api", "otel-api"}
    assert all(0 < size < 9 * 1024 for size in sizes.values()), sizes


def test_attribute_event_and_link_counts_are_capped_with_dropped_counts(rx):
    code = """
        import vaquero
        from opentelemetry import trace
        from opentelemetry.trace import Link, SpanContext, TraceFlags
        linked = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1))
        links = [Link(linked, {"n": n}) for n in range(200)]
        tracer = trace.get_tracer("raw")
        vaquero.init()  # vaquero's provider, with its limits, serves the raw OTel API too
        with tracer.start_as_current_span("crowded", links=links) as span:
            for n in range(200):
                span.set_attribute(f"a{n}", n)
                span.add_event(f"e{n}")
    """
    result = run_python(code, env=_env(rx), timeout=40)
    assert result.returncode == 0, result.stderr
    assert rx.wait_for_spans(1, timeout=20)
    [record] = [s for s in rx.spans() if s.name == "crowded"]
    assert len(record.attributes) == 128
    assert len(record.events) == 128
    assert len(record.links) == 128
    [wire] = [
        span
        for request in rx.requests
        for resource_spans in request.request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
        if span.name == "crowded"
    ]
    assert wire.dropped_attributes_count == 72
    assert wire.dropped_events_count == 72
    assert wire.dropped_links_count == 72


# --- clear-text endpoints ------------------------------------------------------------
CLEARTEXT = "clear text"


@pytest.mark.parametrize(
    ("endpoint", "extra", "warned"),
    [
        ("http://10.1.2.3:4318", {}, True),
        ("http://collector.example:4318", {}, True),
        ("http://10.1.2.3:4318", {"OTEL_EXPORTER_OTLP_INSECURE": "true"}, False),
        ("https://10.1.2.3:4318", {}, False),
        ("http://127.0.0.2:4318", {}, False),
        ("http://localhost:4318", {}, False),
        ("http://[::1]:4318", {}, False),
    ],
)
def test_non_loopback_http_endpoint_warns_once(endpoint, extra, warned):
    code = """
        from vaquero import _config
        from vaquero._pipeline import exporters as _exporters
        settings = _config.load_settings({})
        _exporters.build_otlp_exporter(settings)
        _exporters.build_otlp_exporter(settings)
    """
    env = clean_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf", **extra
    )
    result = run_python(code, env=env, timeout=40)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count(CLEARTEXT) == (1 if warned else 0), result.stderr

