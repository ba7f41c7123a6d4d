"""The console tree exporter: exact layout, buffering across batches, bounds, colour, width."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import pty
import re
import struct
import sys
import termios
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from vaquero.exporters.console import ConsoleTreeSpanExporter

MS = 1_000_000
T0 = 1_700_000_000_000 * MS
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class SequentialIds(IdGenerator):
    """Trace ids that start with a known prefix, so headers can be asserted exactly."""

    def __init__(self) -> None:
        self._next = 0

    def generate_span_id(self) -> int:
        self._next += 1
        return self._next

    def generate_trace_id(self) -> int:
        self._next += 1
        return (0xABCDEF12 << 96) | self._next


def _tracer(exporter: object) -> trace.Tracer:
    provider = TracerProvider(id_generator=SequentialIds())
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[arg-type]
    return provider.get_tracer("test")


def _start(
    tracer: trace.Tracer,
    name: str,
    start_ms: float,
    parent: trace.Span | None = None,
    **attributes: object,
) -> trace.Span:
    context = trace.set_span_in_context(parent) if parent is not None else None
    return tracer.start_span(
        name,
        context=context,
        start_time=T0 + int(start_ms * MS),
        attributes={k.replace("__", "."): v for k, v in attributes.items()},  # type: ignore[misc]
    )


def _end(span: trace.Span, end_ms: float) -> None:
    span.end(end_time=T0 + int(end_ms * MS))


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def _known_trace(tracer: trace.Tracer) -> None:
    root = _start(
        tracer,
        "checkout",
        0,
        gen_ai__agent__name="planner",
        gen_ai__operation__name="invoke",
        vaquero__kind="workflow",
        user__id=42,
    )
    fetch = _start(tracer, "fetch", 10, root, gen_ai__agent__name="planner", db__system="postgres")
    query = _start(tracer, "query", 20, fetch)
    pay = _start(tracer, "pay", 150, root, gen_ai__agent__name="payer")
    _end(query, 100)
    pay.set_status(Status(StatusCode.ERROR, "card declined"))
    _end(pay, 1150)  # ends before its earlier-started sibling: order must follow start time
    _end(fetch, 130)
    _end(root, 1200)


KNOWN_TREE = [
    "trace abcdef12 checkout 1.20s",
    "  checkout 1.20s ✓ agent=planner user.id=42",
    "  ├─ fetch 120ms ✓ db.system=postgres",
    "  │  └─ query 80ms ✓",
    "  └─ pay 1.00s ✗ ERROR: card declined agent=payer",
]


def test_known_trace_prints_this_exact_tree() -> None:
    stream = io.StringIO()
    tracer = _tracer(ConsoleTreeSpanExporter(stream, color=False, width=100))
    _known_trace(tracer)
    assert _lines(stream) == KNOWN_TREE


def test_nothing_is_printed_until_the_root_ends() -> None:
    stream = io.StringIO()
    tracer = _tracer(ConsoleTreeSpanExporter(stream, color=False, width=100))
    root = _start(tracer, "root", 0)
    child = _start(tracer, "child", 1, root)
    _end(child, 2)  # its own batch, before the root's
    assert stream.getvalue() == ""
    _end(root, 3)
    assert _lines(stream) == ["trace abcdef12 root 3.0ms", "  root 3.0ms ✓", "  └─ child 1.0ms ✓"]


def _collect(build: object) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    build(_tracer(memory))  # type: ignore[operator]
    return list(memory.get_finished_spans())


def test_root_in_a_later_batch_and_any_order_within_a_batch() -> None:
    spans = _collect(_known_trace)
    by_name = {span.name: span for span in spans}
    exporter = ConsoleTreeSpanExporter(stream := io.StringIO(), color=False, width=100)
    assert exporter.export([by_name["pay"], by_name["query"]]) is SpanExportResult.SUCCESS
    assert stream.getvalue() == ""
    # root first, then a child it is waiting for, in one batch: still one whole tree
    assert exporter.export([by_name["checkout"], by_name["fetch"]]) is SpanExportResult.SUCCESS
    assert _lines(stream) == KNOWN_TREE


def test_child_ending_after_its_root_is_printed_as_a_late_continuation() -> None:
    stream = io.StringIO()
    tracer = _tracer(ConsoleTreeSpanExporter(stream, color=False, width=100))
    root = _start(tracer, "ingest", 0)
    background = _start(tracer, "upload", 5, root)
    inner = _start(tracer, "put", 6, background)
    _end(root, 10)
    _end(inner, 20)  # waits: its parent has not been printed yet
    _end(background, 30)
    assert _lines(stream) == [
        "trace abcdef12 ingest 10ms",
        "  ingest 10ms ✓",
        "trace abcdef12 ingest (continued)",
        "  … late span: upload 25ms ✓",
        "  └─ put 14ms ✓",
    ]


def test_remote_parent_makes_a_local_root() -> None:
    stream = io.StringIO()
    tracer = _tracer(ConsoleTreeSpanExporter(stream, color=False, width=100))
    remote = SpanContext(0xABCDEF12 << 96 | 99, 77, is_remote=True, trace_flags=TraceFlags(1))
    span = _start(tracer, "consume", 0, NonRecordingSpan(remote))
    _end(span, 2)
    assert _lines(stream) == ["trace abcdef12 consume 2.0ms", "  consume 2.0ms ✓"]


def test_error_marks_fall_back_to_the_recorded_exception() -> None:
    stream = io.StringIO()
    tracer = _tracer(ConsoleTreeSpanExporter(stream, color=False, width=100))
    root = _start(tracer, "root", 0)
    bare = _start(tracer, "bare", 1, root)
    bare.set_status(Status(StatusCode.ERROR))
    _end(bare, 2)
    raised = _start(tracer, "raised", 3, root)
    raised.record_exception(KeyError("missing"))
    raised.set_status(Status(StatusCode.ERROR))
    _end(raised, 4)
    ok = _start(tracer, "ok", 5, root)
    ok.set_status(Status(StatusCode.OK))
    _end(ok, 6)
    _end(root, 7)
    assert _lines(stream)[2:] == [
        "  ├─ bare 1.0ms ✗ ERROR",
        "  ├─ raised 1.0ms ✗ ERROR: KeyError: 'missing'",
        "  └─ ok 1.0ms ✓",
    ]


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_every_line_is_clipped_to_the_width() -> None:
    stream = io.StringIO()
    tracer = _tracer(ConsoleTreeSpanExporter(stream, color=False, width=30))
    root = _start(tracer, "a-rather-long-workflow-name-" * 3, 0, note="x" * 200)
    child = _start(tracer, "漢字" * 20, 1, root)
    _end(child, 2)
    _end(root, 3)
    lines = _lines(stream)
    assert len(lines) == 3
    assert all(_display_width(line) <= 30 for line in lines)
    assert all(line.endswith("…") for line in lines)
    assert lines[1].startswith("  a-rather-long-workflow-name")


def test_long_attribute_values_are_clipped_and_only_three_shown() -> None:
    stream = io.StringIO()
    tracer = _tracer(ConsoleTreeSpanExporter(stream, color=False, width=160))
    span = _start(tracer, "op", 0, a="y" * 100, b=True, c=[1, 2], d="never shown")
    _end(span, 1)
    assert _lines(stream)[1] == f"  op 1.0ms ✓ a={'y' * 39}… b=True c=[1,2]"


def test_colour_only_when_asked_or_on_a_terminal() -> None:
    plain, coloured = io.StringIO(), io.StringIO()
    _known_trace(_tracer(ConsoleTreeSpanExporter(plain, width=100)))  # StringIO: not a TTY
    _known_trace(_tracer(ConsoleTreeSpanExporter(coloured, color=True, width=100)))
    assert "\x1b" not in plain.getvalue()
    assert "\x1b[31m" in coloured.getvalue() and "\x1b[32m" in coloured.getvalue()
    assert ANSI.sub("", coloured.getvalue()) == plain.getvalue()


@contextmanager
def _pty(columns: int) -> Iterator[tuple[io.TextIOWrapper, int]]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    stream = open(slave, "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    try:
        yield stream, master
    finally:
        stream.close()
        os.close(master)


def _read_pty(master: int) -> str:
    os.set_blocking(master, False)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_real_terminal_gets_colour_unless_no_color_and_width_is_capped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    with _pty(columns=300) as (stream, master):
        tracer = _tracer(ConsoleTreeSpanExporter(stream))
        _end(_start(tracer, "n" * 400, 0), 1)
        output = _read_pty(master)
    assert "\x1b[1m" in output
    lines = ANSI.sub("", output).splitlines()
    assert [len(line) for line in lines] == [160, 160]

    monkeypatch.setenv("NO_COLOR", "1")
    with _pty(columns=50) as (stream, master):
        tracer = _tracer(ConsoleTreeSpanExporter(stream))
        _end(_start(tracer, "n" * 400, 0), 1)
        output = _read_pty(master)
    assert "\x1b" not in output
    assert [len(line) for line in output.splitlines()] == [50, 50]


def test_default_stream_is_stderr_at_write_time(monkeypatch: pytest.MonkeyPatch) -> None:
    tracer = _tracer(ConsoleTreeSpanExporter(color=False))
    replaced = io.StringIO()
    monkeypatch.setattr(sys, "stderr", replaced)
    _end(_start(tracer, "late-bound", 0), 1)
    assert _lines(replaced) == ["trace abcdef12 late-bound 1.0ms", "  late-bound 1.0ms ✓"]


def test_control_characters_cannot_reach_the_terminal() -> None:
    stream = io.StringIO()
    tracer = _tracer(ConsoleTreeSpanExporter(stream, color=False, width=100))
    _end(_start(tracer, "a\x1b[31mb\nc", 0, v="x\ry"), 1)
    assert _lines(stream) == ["trace abcdef12 a [31mb c 1.0ms", '  a [31mb c 1.0ms ✓ v="x y"']


def _orphans(trace_count: int, spans_per_trace: int) -> list[list[ReadableSpan]]:
    """Children whose root never ends, one list per trace."""
    memory = InMemorySpanExporter()
    tracer = _tracer(memory)
    for index in range(trace_count):
        root = _start(tracer, f"root{index}", 0)
        for child in range(spans_per_trace):
            _end(_start(tracer, f"t{index}-c{child}", child, root), child + 1)
    spans = list(memory.get_finished_spans())
    return [spans[i : i + spans_per_trace] for i in range(0, len(spans), spans_per_trace)]


def test_too_many_buffered_traces_flushes_the_oldest_as_incomplete() -> None:
    stream = io.StringIO()
    exporter = ConsoleTreeSpanExporter(stream, color=False, width=100, max_traces=2)
    first, second, third = _orphans(3, 2)
    exporter.export(first)
    exporter.export(second)
    assert stream.getvalue() == ""
    assert exporter.export(third) is SpanExportResult.SUCCESS
    assert _lines(stream) == [
        "trace abcdef12 t0-c0 2.0ms (incomplete: root not seen)",
        "  … t0-c0 1.0ms ✓",
        "  … t0-c1 1.0ms ✓",
    ]


def test_too_many_buffered_spans_flushes_too() -> None:
    stream = io.StringIO()
    exporter = ConsoleTreeSpanExporter(stream, color=False, width=100, max_spans=5)
    (only,) = _orphans(1, 6)
    exporter.export(only[:5])
    assert stream.getvalue() == ""
    exporter.export(only[5:])
    lines = _lines(stream)
    assert lines[0].endswith("(incomplete: root not seen)")
    assert len(lines) == 7


def test_shutdown_prints_what_is_buffered_then_refuses_more() -> None:
    stream = io.StringIO()
    exporter = ConsoleTreeSpanExporter(stream, color=False, width=100)
    first, second = _orphans(2, 1)
    exporter.export(first)
    assert exporter.force_flush(timeout_millis=1000) is True
    assert _lines(stream)[0] == "trace abcdef12 t0-c0 1.0ms (incomplete: root not seen)"
    exporter.export(second)
    exporter.shutdown()
    assert _lines(stream)[2:] == [
        "trace abcdef12 t1-c0 1.0ms (incomplete: root not seen)",
        "  … t1-c0 1.0ms ✓",
    ]
    assert exporter.export(first) is SpanExportResult.FAILURE
    assert len(_lines(stream)) == 4


def test_broken_stream_fails_quietly_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    stream.close()
    exporter = ConsoleTreeSpanExporter(stream, color=False)
    spans = _collect(_known_trace)
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        assert exporter.export(spans) is SpanExportResult.FAILURE
        assert exporter.export(spans) is SpanExportResult.FAILURE
    assert len([r for r in caplog.records if r.name == "vaquero"]) == 1
