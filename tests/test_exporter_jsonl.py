"""The OTLP/JSON-lines file exporter: valid OTLP on every line, safe appends, no raising."""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from google.protobuf.json_format import Parse
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind

from vaquero.exporters.jsonl import JsonLinesSpanExporter

REPO = Path(__file__).resolve().parents[1]
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def _provider(exporter: object, service: str = "svc") -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[arg-type]
    return provider


def _finished_spans(count: int = 3) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = _provider(memory)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root"):
        for index in range(count - 1):
            with tracer.start_as_current_span("child", attributes={"i": index}):
                pass
    return list(memory.get_finished_spans())


def _lines(path: Path) -> list[str]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return data.decode("utf-8").splitlines()


def _hex_ids_to_base64(node: object) -> None:
    """protobuf's JSON parser wants bytes as base64; OTLP/JSON writes ids as hex."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)


def _as_proto(line: str) -> TracesData:
    document = json.loads(line)
    _hex_ids_to_base64(document)
    message = TracesData()
    Parse(json.dumps(document), message)
    return message


def _all_spans(message: TracesData) -> list:  # type: ignore[type-arg]
    return [s for rs in message.resource_spans for ss in rs.scope_spans for s in ss.spans]


def test_each_span_is_a_valid_otlp_json_line(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    exporter = JsonLinesSpanExporter(path)
    provider = _provider(exporter)
    tracer = provider.get_tracer("scope.a", "1.2.3")
    attributes = {
        "s": "text",
        "b": True,
        "i": 7,
        "big": 2**62,
        "d": 2.5,
        "nan": math.nan,
        "strings": ["x", "y"],
        "ints": [1, 2],
        "unicode": "héllo ✓ 漢字",
    }
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        other = parent.get_span_context()
    with tracer.start_as_current_span("work", attributes=attributes, links=[Link(other, {"l": 1})]):
        try:
            with tracer.start_as_current_span("fails"):
                raise ValueError("boom")
        except ValueError:
            pass
    provider.shutdown()

    lines = _lines(path)
    assert len(lines) == 3  # SimpleSpanProcessor exports one span per batch: one line each
    documents = [json.loads(line) for line in lines]
    for document in documents:
        (resource_spans,) = document["resourceSpans"]
        assert {"key": "service.name", "value": {"stringValue": "svc"}} in (
            resource_spans["resource"]["attributes"]
        )
        (scope_spans,) = resource_spans["scopeSpans"]
        assert scope_spans["scope"] == {"name": "scope.a", "version": "1.2.3"}
        (span,) = scope_spans["spans"]
        assert HEX32.match(span["traceId"]) and HEX16.match(span["spanId"])
        assert isinstance(span["startTimeUnixNano"], str) and span["startTimeUnixNano"].isdigit()
        assert int(span["endTimeUnixNano"]) >= int(span["startTimeUnixNano"])

    parent_span, failing, work = (
        d["resourceSpans"][0]["scopeSpans"][0]["spans"][0] for d in documents
    )
    assert parent_span["kind"] == 2  # SPAN_KIND_SERVER as an integer
    assert failing["parentSpanId"] == work["spanId"] and HEX16.match(failing["parentSpanId"])
    assert failing["status"] == {"code": 2, "message": "ValueError: boom"}
    values = {a["key"]: a["value"] for a in work["attributes"]}
    assert values["s"] == {"stringValue": "text"}
    assert values["b"] == {"boolValue": True}
    assert values["i"] == {"intValue": "7"}
    assert values["big"] == {"intValue": str(2**62)}
    assert values["d"] == {"doubleValue": 2.5}
    assert values["nan"] == {"doubleValue": "NaN"}
    assert values["strings"] == {
        "arrayValue": {"values": [{"stringValue": "x"}, {"stringValue": "y"}]}
    }
    assert values["ints"] == {"arrayValue": {"values": [{"intValue": "1"}, {"intValue": "2"}]}}
    assert values["unicode"] == {"stringValue": "héllo ✓ 漢字"}
    assert work["links"][0]["spanId"] == parent_span["spanId"]

    # The same lines are valid OTLP: protobuf's own JSON parser accepts them unchanged in meaning.
    protos = [_as_proto(line) for line in lines]
    failing_pb = _all_spans(protos[1])[0]
    assert failing_pb.status.code == 2 and failing_pb.status.message == "ValueError: boom"
    (event,) = failing_pb.events
    assert event.name == "exception"
    event_attrs = {a.key: a.value.string_value for a in event.attributes}
    assert event_attrs["exception.type"] == "ValueError"
    assert event_attrs["exception.message"] == "boom"
    work_pb = _all_spans(protos[2])[0]
    kinds = {a.key: a.value.WhichOneof("value") for a in work_pb.attributes}
    assert kinds == {
        "s": "string_value",
        "b": "bool_value",
        "i": "int_value",
        "big": "int_value",
        "d": "double_value",
        "nan": "double_value",
        "strings": "array_value",
        "ints": "array_value",
        "unicode": "string_value",
    }
    pb_values = {a.key: a.value for a in work_pb.attributes}
    assert pb_values["big"].int_value == 2**62
    assert math.isnan(pb_values["nan"].double_value)
    assert work_pb.span_id.hex() == work["spanId"]
    assert work_pb.trace_id.hex() == work["traceId"]
    assert work_pb.links[0].span_id.hex() == parent_span["spanId"]


def test_one_batch_is_one_line_grouped_by_resource_then_scope(tmp_path: Path) -> None:
    memory = InMemorySpanExporter()
    first = _provider(memory, service="one")
    second = _provider(memory, service="two")
    for provider in (first, second):
        for scope in ("a", "b"):
            with provider.get_tracer(scope).start_as_current_span(f"op-{scope}"):
                pass
    spans = memory.get_finished_spans()
    assert len(spans) == 4

    path = tmp_path / "batch.jsonl"
    exporter = JsonLinesSpanExporter(path)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    (line,) = _lines(path)
    message = _as_proto(line)
    services = [
        {a.key: a.value.string_value for a in rs.resource.attributes}["service.name"]
        for rs in message.resource_spans
    ]
    assert sorted(services) == ["one", "two"]
    for resource_spans in message.resource_spans:
        assert [ss.scope.name for ss in resource_spans.scope_spans] == ["a", "b"]
        assert [len(ss.spans) for ss in resource_spans.scope_spans] == [1, 1]


def test_lone_surrogate_still_writes_a_valid_utf8_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    provider = _provider(JsonLinesSpanExporter(path))
    with provider.get_tracer("t").start_as_current_span("odd", attributes={"v": "a\ud800b"}):
        pass
    (line,) = _lines(path)  # decoding as UTF-8 inside _lines is the assertion
    (attribute,) = json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
    assert attribute == {"key": "v", "value": {"stringValue": "a\ud800b"}}


_WRITER = textwrap.dedent(
    """
    import sys
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from vaquero.exporters.jsonl import JsonLinesSpanExporter

    path, writer, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"writer": writer}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("w")
    for index in range(4):
        # ~9 KB per line: well past PIPE_BUF, so only whole-write appends keep lines intact
        with tracer.start_as_current_span("s", attributes={"pad": writer * 2200, "i": index}):
            pass
    spans = memory.get_finished_spans()
    exporter = JsonLinesSpanExporter(path)
    failures = sum(exporter.export(spans).name != "SUCCESS" for _ in range(batches))
    sys.exit(1 if failures else 0)
    """
)


def test_two_processes_append_whole_lines_to_one_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "shared.jsonl"  # parents are created on first write
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), name, "2000"], env=env)
        for name in ("A", "B")
    ]
    assert [writer.wait(timeout=90) for writer in writers] == [0, 0]

    lines = _lines(path)
    assert len(lines) == 4000
    per_writer = {"A": 0, "B": 0}
    for line in lines:
        resource_spans = json.loads(line)["resourceSpans"][0]
        resource = {a["key"]: a["value"] for a in resource_spans["resource"]["attributes"]}
        writer = resource["writer"]["stringValue"]
        spans = resource_spans["scopeSpans"][0]["spans"]
        assert len(spans) == 4
        assert spans[0]["attributes"][0]["value"]["stringValue"] == writer * 2200
        per_writer[writer] += 1
    assert per_writer == {"A": 2000, "B": 2000}


def test_unwritable_path_fails_with_one_warning_and_no_exception(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    target = blocker / "traces.jsonl"
    exporter = JsonLinesSpanExporter(target)
    spans = _finished_spans()
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        results = [exporter.export(spans) for _ in range(3)]
    assert results == [SpanExportResult.FAILURE] * 3
    records = [r for r in caplog.records if r.name == "vaquero"]
    assert len(records) == 1
    assert str(target) in records[0].getMessage()
    assert "VAQUERO_TRACES_FILE" in records[0].getMessage()
    assert exporter.dropped_spans == 3 * len(spans)
    assert blocker.read_text() == "not a directory"


def test_file_deleted_while_running_is_recreated(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    exporter = JsonLinesSpanExporter(path)
    spans = _finished_spans(1)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    path.unlink()
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert len(_lines(path)) == 1


def test_after_shutdown_export_fails_and_flush_is_immediate(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    exporter = JsonLinesSpanExporter(path)
    spans = _finished_spans(1)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert exporter.force_flush(timeout_millis=0) is True
    exporter.shutdown()
    assert exporter.export(spans) is SpanExportResult.FAILURE
    assert len(_lines(path)) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_writes_its_own_lines_even_if_forked_mid_export(tmp_path: Path) -> None:
    path = tmp_path / "fork.jsonl"
    exporter = JsonLinesSpanExporter(path)
    spans = _finished_spans(1)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    # Fork while another thread would be inside export(): the child must not inherit a held lock.
    exporter._lock.acquire()
    pid = os.fork()
    if pid == 0:  # child: report through the exit code only, never return into pytest
        code = 1
        try:
            signal.alarm(20)  # a deadlock fails the test instead of hanging it
            ok = all(exporter.export(spans) is SpanExportResult.SUCCESS for _ in range(2))
            code = 0 if ok else 2
        finally:
            os._exit(code)
    exporter._lock.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    lines = _lines(path)
    assert len(lines) == 4
    assert all(json.loads(line)["resourceSpans"] for line in lines)
