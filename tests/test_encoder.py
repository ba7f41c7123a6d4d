"""vaquero's OTLP encoder writes what the stock encoder writes, and the wire carries it intact.

The corpus is generated (hypothesis): spans with every attribute value type, events,
links, statuses, kinds, parents, dropped counts, several resources and scopes (equal but
distinct objects included). Each batch is encoded by vaquero and by
``opentelemetry.exporter.otlp.proto.common.trace_encoder.encode_spans``; vaquero's bytes are
decoded with ``opentelemetry-proto`` and compared message for message. The documented
differences (see ``vaquero/_pipeline/encoder.py``) are asserted on their own.
"""

from __future__ import annotations

import logging
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from vaquero import _otel_compat
from vaquero._config import load_settings
from vaquero._pipeline import exporters as pipeline_exporters
from vaquero._pipeline.encoder import encode_request, encode_requests
from vaquero._pipeline.preencoded import (
    EncodedBatch,
    encoder_seam_available,
    grpc_exporter_class,
    http_exporter_class,
)

INT64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
SCALARS = st.one_of(TEXT, st.booleans(), INT64, FLOATS, st.binary(max_size=8))
ARRAYS = st.one_of(
    st.lists(TEXT, max_size=4),
    st.lists(st.booleans(), max_size=4),
    st.lists(INT64, max_size=4),
    st.lists(FLOATS, max_size=4),
    st.lists(st.one_of(st.none(), TEXT), max_size=4),  # the SDK keeps None inside sequences
).map(tuple)
# What an SDK-cleaned store holds, and what a plain mapping (event/link attributes, not
# cleaned) can hold on top: nested kvlists, lists, None.
CLEAN_VALUES = st.one_of(SCALARS, ARRAYS)
LOOSE_VALUES = st.recursive(
    st.one_of(st.none(), SCALARS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)
    ),
    max_leaves=6,
)
KEYS = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=10)

RESOURCES = [
    Resource({"service.name": "alpha"}),
    Resource({"service.name": "alpha"}),  # equal to the one above, a distinct object
    Resource({"service.name": "beta", "n": 3, "tags": ("a", "b")}, schema_url="https://s/1"),
    Resource({}),
]
SCOPES = [
    InstrumentationScope("lib", "1.0"),
    InstrumentationScope("lib", "1.0"),  # equal, distinct
    InstrumentationScope("other", None, "https://s/2", {"scope.attr": "v", "n": 1}),
    InstrumentationScope("", ""),
    None,
]
TRACE_STATES = [
    TraceState(),
    TraceState([("vendor", "value")]),
    TraceState([("a", "1"), ("b", "2")]),
]


@st.composite
def attribute_maps(draw: st.DrawFn, loose: bool = False) -> object:
    values = LOOSE_VALUES if loose else CLEAN_VALUES
    raw = draw(st.dictionaries(KEYS, values, max_size=5))
    kind = draw(st.sampled_from(["bounded", "plain", "none"]))
    if kind == "none" and not raw:
        return None
    if kind == "bounded" and not loose:
        bounded = BoundedAttributes(maxlen=None, attributes=raw, immutable=False)
        bounded.dropped = draw(st.integers(0, 2**32 - 1))
        return bounded
    return raw


@st.composite
def span_contexts(draw: st.DrawFn) -> SpanContext:
    return SpanContext(
        trace_id=draw(st.integers(1, 2**128 - 1)),
        span_id=draw(st.integers(1, 2**64 - 1)),
        is_remote=draw(st.booleans()),
        trace_flags=TraceFlags(draw(st.sampled_from([0, 1]))),
        trace_state=draw(st.sampled_from(TRACE_STATES)),
    )


@st.composite
def spans(draw: st.DrawFn) -> ReadableSpan:
    events = [
        Event(
            draw(TEXT),
            attributes=draw(attribute_maps(loose=draw(st.booleans()))),
            timestamp=draw(st.integers(1, 2**64 - 1)),
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    links = [
        Link(draw(span_contexts()), attributes=draw(attribute_maps(loose=draw(st.booleans()))))
        for _ in range(draw(st.integers(0, 2)))
    ]
    event_list = BoundedList.from_seq(None, events)
    event_list.dropped = draw(st.integers(0, 1000))
    link_list = BoundedList.from_seq(None, links)
    link_list.dropped = draw(st.integers(0, 1000))
    code = draw(st.sampled_from(list(StatusCode)))
    description = draw(st.one_of(st.none(), TEXT)) if code is StatusCode.ERROR else None
    start = draw(st.one_of(st.none(), st.integers(0, 2**64 - 1)))
    return ReadableSpan(
        name=draw(TEXT),
        context=draw(span_contexts()),
        parent=draw(st.one_of(st.none(), span_contexts())),
        resource=draw(st.sampled_from(RESOURCES)),
        attributes=draw(attribute_maps()),
        events=event_list,
        links=link_list,
        kind=draw(st.sampled_from(list(SpanKind))),
        status=Status(code, description),
        start_time=start,
        end_time=draw(st.one_of(st.none(), st.integers(0, 2**64 - 1))),
        instrumentation_scope=draw(st.sampled_from(SCOPES)),
    )


def _link_states(request: ExportTraceServiceRequest) -> list[str]:
    return [
        link.trace_state
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
        for link in span.links
    ]


def _without_link_states(request: ExportTraceServiceRequest) -> ExportTraceServiceRequest:
    copy = ExportTraceServiceRequest()
    copy.CopyFrom(request)
    for resource_spans in copy.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                for link in span.links:
                    link.ClearField("trace_state")
    return copy


def _stock_keeps_null_values() -> bool:
    """Newer stock encoders write a None value as an empty AnyValue; 1.40's drop the pair.

    vaquero writes the newer form on every SDK; on an older SDK the comparison leaves such
    pairs out of vaquero's side (the only difference between the two stock behaviours).
    """
    span = ReadableSpan(
        name="probe",
        context=SpanContext(1, 1, False),
        links=[Link(SpanContext(1, 1, False), {"null": None})],  # type: ignore[dict-item]
    )
    logging.disable(logging.ERROR)  # 1.40 logs the pair it drops
    try:
        request = encode_spans([span])
    except Exception:
        return False
    finally:
        logging.disable(logging.NOTSET)
    links = request.resource_spans[0].scope_spans[0].spans[0].links
    return bool(links and links[0].attributes)


STOCK_KEEPS_NULLS = _stock_keeps_null_values()


def _without_null_values(request: ExportTraceServiceRequest) -> ExportTraceServiceRequest:
    copy = ExportTraceServiceRequest()
    copy.CopyFrom(request)

    def has_null(value: object) -> bool:
        kind = value.WhichOneof("value")  # type: ignore[attr-defined]
        if kind == "array_value":
            return any(has_null(item) for item in value.array_value.values)  # type: ignore[attr-defined]
        if kind == "kvlist_value":
            return any(has_null(kv.value) for kv in value.kvlist_value.values)  # type: ignore[attr-defined]
        return kind is None

    def strip(attributes: object) -> None:
        # 1.40 drops a pair whose value holds a None anywhere (its encoder raises for it).
        kept = [kv for kv in attributes if not has_null(kv.value)]  # type: ignore[attr-defined]
        del attributes[:]  # type: ignore[attr-defined]
        attributes.extend(kept)  # type: ignore[attr-defined]

    for resource_spans in copy.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                strip(span.attributes)
                for event in span.events:
                    strip(event.attributes)
                for link in span.links:
                    strip(link.attributes)
    return copy


def assert_same_as_stock(batch: list[ReadableSpan], payload: bytes) -> None:
    """``payload`` decodes to the stock encoder's request for ``batch``.

    Compared as deterministic serialisations of the two decoded messages: equal messages
    serialise identically, and unlike ``==`` this also holds for NaN doubles.
    """
    ours = ExportTraceServiceRequest.FromString(payload)
    stock = encode_spans(batch)
    expected_states = [
        ",".join(f"{k}={v}" for k, v in link.context.trace_state.items())
        for span in _grouped(batch)
        for link in span.links
    ]
    assert _link_states(ours) == expected_states
    ours = _without_link_states(ours)
    if not STOCK_KEEPS_NULLS:
        ours = _without_null_values(ours)
    assert ours.SerializeToString(deterministic=True) == stock.SerializeToString(
        deterministic=True
    ), f"vaquero:\n{ours}\nstock:\n{stock}"


def _grouped(batch: list[ReadableSpan]) -> list[ReadableSpan]:
    """Spans in the order a request holds them: by resource, then scope, first seen first."""
    order: dict[object, dict[object, list[ReadableSpan]]] = {}
    for span in batch:
        order.setdefault(span.resource, {}).setdefault(span.instrumentation_scope, []).append(span)
    return [span for scopes in order.values() for group in scopes.values() for span in group]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(spans(), min_size=1, max_size=6))
def test_matches_the_stock_encoder_message_for_message(batch: list[ReadableSpan]) -> None:
    logging.getLogger("opentelemetry").disabled = True  # stock logs each value it refuses
    try:
        assert_same_as_stock(batch, encode_request(batch))
    finally:
        logging.getLogger("opentelemetry").disabled = False


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(spans(), min_size=1, max_size=12), st.integers(200, 3000))
def test_split_requests_stay_under_the_limit_and_lose_nothing(
    batch: list[ReadableSpan], limit: int
) -> None:
    chunks, oversized = encode_requests(batch, limit)
    sent = [span for chunk, _ in chunks for span in chunk]
    assert sorted(map(id, sent + oversized)) == sorted(map(id, batch))
    assert [s for s in batch if any(s is t for t in sent)] == sent  # order kept
    for chunk, payload in chunks:
        assert len(payload) <= limit
        assert_same_as_stock(chunk, payload)
    for span in oversized:
        assert len(encode_request([span])) > limit - 64  # only what cannot fit is refused


def test_the_public_fallback_reads_spans_the_same_way() -> None:
    span = _rich_span()
    fast = encode_request([span])
    with _otel_compat.use_public_fallbacks():
        slow = encode_request([span])
    assert fast == slow
    assert_same_as_stock([span], fast)


def test_the_first_encode_runs_no_resource_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    """The layout probe builds a throwaway span; it must not run the resource detectors (a
    thread pool, which fails at interpreter exit, where a last batch is often the first)."""
    span = _rich_span()

    def detectors_ran(*args, **kwargs):
        raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(Resource, "create", detectors_ran)
    monkeypatch.setattr(_otel_compat.finished_spans, "_export_fast", {})
    assert_same_as_stock([span], encode_request([span]))
    assert _otel_compat.finished_spans._export_fast[ReadableSpan] is True


def test_int64_bounds_and_special_floats_survive() -> None:
    attrs = {
        "min": -(2**63),
        "max": 2**63 - 1,
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "zero": 0,
        "false": False,
        "empty": "",
        "empty_list": (),
        "bytes": b"\x00\xff",
    }
    span = _rich_span(attributes=attrs)
    decoded = ExportTraceServiceRequest.FromString(encode_request([span]))
    values = {
        kv.key: kv.value
        for kv in decoded.resource_spans[0].scope_spans[0].spans[0].attributes
    }
    assert values["min"].int_value == -(2**63)
    assert values["max"].int_value == 2**63 - 1
    assert math.isnan(values["nan"].double_value)
    assert values["inf"].double_value == math.inf and values["ninf"].double_value == -math.inf
    assert values["zero"].HasField("int_value") and values["false"].HasField("bool_value")
    assert values["empty"].HasField("string_value")
    assert values["empty_list"].HasField("array_value")
    if "bytes" in span.attributes:  # SDK 1.40 does not accept bytes attributes at all
        assert values["bytes"].bytes_value == b"\x00\xff"
    assert_same_as_stock([span], encode_request([span]))


def test_an_int_outside_int64_is_left_out_as_stock_does_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from vaquero._pipeline import encoder

    encoder._warned_unencodable = False
    span = _rich_span(attributes={"big": 2**64, "ok": 1, "neg": -(2**63) - 1})
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        logging.getLogger("opentelemetry").disabled = True
        try:
            payload = encode_request([span])
            assert_same_as_stock([span], payload)
            encode_request([span])
        finally:
            logging.getLogger("opentelemetry").disabled = False
    decoded = ExportTraceServiceRequest.FromString(payload)
    keys = [kv.key for kv in decoded.resource_spans[0].scope_spans[0].spans[0].attributes]
    assert keys == ["ok"]
    warnings = [r for r in caplog.records if "cannot carry" in r.getMessage()]
    assert len(warnings) == 1 and "'big'" in warnings[0].getMessage()


def test_lone_surrogates_become_replacement_characters() -> None:
    """Protobuf strings must be UTF-8. The stock encoder raises on a lone surrogate (the span
    name's takes the whole batch down); vaquero writes U+FFFD in its place."""
    span = _rich_span(name="step\ud800", attributes={"k\udfff": "v\ud83d", "ok": "é"})
    with pytest.raises(UnicodeEncodeError):
        encode_spans([span])
    decoded = ExportTraceServiceRequest.FromString(encode_request([span]))
    out = decoded.resource_spans[0].scope_spans[0].spans[0]
    assert out.name == "step\ufffd"
    assert {kv.key: kv.value.string_value for kv in out.attributes} == {
        "k\ufffd": "v\ufffd",
        "ok": "é",
    }


def test_many_resources_and_scopes_group_like_stock() -> None:
    resources = [Resource({"service.name": f"svc{i % 5}"}) for i in range(20)]
    scopes = [InstrumentationScope(f"lib{i % 3}", "1") for i in range(20)]
    batch = [
        _rich_span(resource=resources[i % 20], scope=scopes[(i * 7) % 20], name=f"s{i}")
        for i in range(100)
    ]
    payload = encode_request(batch)
    decoded = ExportTraceServiceRequest.FromString(payload)
    assert len(decoded.resource_spans) == 5
    assert all(len(rs.scope_spans) == 3 for rs in decoded.resource_spans)
    assert_same_as_stock(batch, payload)


def test_seams_exist_in_the_installed_exporters_and_the_switch_falls_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

    assert encoder_seam_available("grpc") and encoder_seam_available("http/protobuf")
    for protocol, endpoint, direct, stock in (
        ("grpc", "http://127.0.0.1:4317", grpc_exporter_class(), Grpc),
        ("http/protobuf", "http://127.0.0.1:4318", http_exporter_class(), Http),
    ):
        settings_ = load_settings(
            {"exporters": ["otlp"], "protocol": protocol, "endpoint": endpoint}, environ={}
        )
        built = pipeline_exporters.build_otlp_exporter(settings_)
        assert type(built.inner).__name__ == direct.__name__
        built.inner.shutdown()
        monkeypatch.setattr(pipeline_exporters, "_DIRECT_ENCODER", False)
        built = pipeline_exporters.build_otlp_exporter(settings_)
        assert type(built.inner) is stock
        built.inner.shutdown()
        monkeypatch.setattr(pipeline_exporters, "_DIRECT_ENCODER", True)
        with _otel_compat.use_public_fallbacks():
            assert not encoder_seam_available(protocol)
            built = pipeline_exporters.build_otlp_exporter(settings_)
            assert type(built.inner) is stock
            built.inner.shutdown()


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_the_receiver_gets_what_the_stock_exporter_sends(
    rx, monkeypatch: pytest.MonkeyPatch, protocol: str, compression: str
) -> None:
    """Same spans through vaquero's encoder and through the stock exporter: identical requests
    at a real receiver, over the stock transport (headers and compression included)."""
    batch = [_rich_span(name=f"wire{i}", resource=RESOURCES[i % 3]) for i in range(40)]
    endpoint = rx.grpc_endpoint if protocol == "grpc" else rx.http_endpoint
    received = []
    for direct in (True, False):
        monkeypatch.setattr(pipeline_exporters, "_DIRECT_ENCODER", direct)
        settings_ = load_settings(
            {
                "exporters": ["otlp"],
                "protocol": protocol,
                "endpoint": endpoint,
                "headers": {"x-tenant": "t1"},
                "compression": compression,
            },
            environ={},
        )
        exporter = pipeline_exporters.build_otlp_exporter(settings_)
        assert getattr(exporter.inner, "accepts_encoded", False) is direct
        rx.clear()
        assert exporter.export(batch).name == "SUCCESS"
        exporter.shutdown()
        assert len(rx.spans()) == len(batch)
        (request,) = rx.requests
        assert request.headers.get("x-tenant") == "t1"
        if protocol != "grpc":
            assert request.compression == ("gzip" if compression == "gzip" else "identity")
        received.append(request.request)
    ours, stock = received
    assert _link_states(ours) and all(_link_states(ours))
    ours = _without_link_states(ours)
    if not STOCK_KEEPS_NULLS:
        ours = _without_null_values(ours)
    assert ours == stock


def test_an_encoded_batch_is_still_the_spans() -> None:
    span = _rich_span()
    batch = EncodedBatch([span], b"payload")
    assert list(batch) == [span] and len(batch) == 1 and batch.payload == b"payload"


def _rich_span(
    name: str = "rich",
    attributes: object = None,
    resource: Resource | None = None,
    scope: InstrumentationScope | None = SCOPES[0],
) -> ReadableSpan:
    context = SpanContext(0x1234, 0x99, False, TraceFlags(1), TraceState([("v", "1")]))
    parent = SpanContext(0x1234, 0x42, True, TraceFlags(1))
    linked = SpanContext(0x77, 0x88, True, TraceFlags(1), TraceState([("l", "2")]))
    attrs = BoundedAttributes(
        maxlen=None,
        attributes=attributes
        if attributes is not None
        else {"s": "é✓", "b": True, "i": -5, "f": 0.5, "a": ("x", "y"), "n": (1, 2)},
    )
    return ReadableSpan(
        name=name,
        context=context,
        parent=parent,
        resource=resource or RESOURCES[0],
        attributes=attrs,
        events=BoundedList.from_seq(
            None, [Event("ev", {"k": "v", "list": [1, None], "map": {"x": 1}}, timestamp=7)]
        ),
        links=BoundedList.from_seq(None, [Link(linked, {"why": "retry"})]),
        kind=SpanKind.CLIENT,
        status=Status(StatusCode.ERROR, "broken"),
        start_time=1_700_000_000_000_000_000,
        end_time=1_700_000_000_000_100_000,
        instrumentation_scope=scope,
    )
