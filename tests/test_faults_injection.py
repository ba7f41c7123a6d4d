"""Each internal hook is made to raise: the user's results and exceptions stay unchanged,
and at most one log line appears."""

from __future__ import annotations

import logging
import threading

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

import vaquero
from vaquero import _agent, _span_core, _spans
from vaquero._pipeline.queue import ExportQueue
from vaquero._state import STATE
from vaquero.exporters.console import ConsoleTreeSpanExporter
from vaquero.exporters.jsonl import JsonLinesSpanExporter
from vaquero.testing import capture_spans

pytestmark = pytest.mark.usefixtures("contained_faults")


def _explode(*args, **kwargs):
    raise RuntimeError("injected fault")


@pytest.fixture
def fresh_internal_warning(monkeypatch):
    monkeypatch.setattr(STATE, "warned", set())


def _user_workflow() -> str:
    with vaquero.span("user_step", a=1) as span:
        span.set_attribute("value", {"nested": [1, 2]})
        span.set_attributes({"b": 2})
        span.add_event("evt", {"k": "v"})
    return "user result"


def test_attribute_normalisation_raising_never_reaches_user_code(
    monkeypatch, caplog, fresh_internal_warning
):
    monkeypatch.setattr(_spans, "to_attribute_value", _explode)
    monkeypatch.setattr(_spans, "normalize_attributes", _explode)
    with caplog.at_level(logging.WARNING, logger="vaquero"), capture_spans() as spans:
        assert _user_workflow() == "user result"
        assert _user_workflow() == "user result"
    assert spans.names() == ["user_step", "user_step"]
    assert len([r for r in caplog.records if r.name == "vaquero"]) == 1


def test_user_exception_passes_unchanged_when_vaquero_faults(monkeypatch, fresh_internal_warning):
    monkeypatch.setattr(_span_core, "mark_exception", _explode)
    error = KeyError("user's own")

    @vaquero.trace
    def fails():
        raise error

    with capture_spans():
        with pytest.raises(KeyError) as caught:
            fails()
    assert caught.value is error


def test_span_processor_raising_in_on_start_is_contained(monkeypatch):
    monkeypatch.setattr(_agent.otel_context, "get_value", _explode)
    with capture_spans() as spans:
        assert _user_workflow() == "user result"
    assert spans.names() == ["user_step"]


def test_opening_a_span_failing_runs_the_function_untraced(monkeypatch, fresh_internal_warning):
    class BrokenTracer:
        def start_span(self, *args, **kwargs):
            raise RuntimeError("tracer broke")

    monkeypatch.setattr(STATE, "tracer", BrokenTracer())

    @vaquero.trace(agent_name="a")
    def work(x):
        with vaquero.span("inner"):
            return x + 1

    assert work(1) == 2


class _RaisingExporter(SpanExporter):
    def __init__(self) -> None:
        self.calls = 0

    def export(self, spans):
        self.calls += 1
        raise RuntimeError("exporter exploded")

    def shutdown(self):
        raise RuntimeError("shutdown exploded")


class _BrokenStream:
    def write(self, text):
        raise OSError("stream gone")

    def flush(self):
        raise OSError("stream gone")

    def isatty(self):
        return False


@pytest.mark.parametrize(
    "make_exporter",
    [
        lambda tmp: _RaisingExporter(),
        lambda tmp: ConsoleTreeSpanExporter(stream=_BrokenStream(), color=False),
        lambda tmp: JsonLinesSpanExporter(tmp / "a-file" / "under" / "x.jsonl"),
    ],
    ids=["exporter", "console-writer", "file-writer"],
)
def test_export_side_faults_are_counted_and_warned_once(tmp_path, caplog, make_exporter):
    (tmp_path / "a-file").write_text("a regular file blocks the directory")
    queue = ExportQueue(make_exporter(tmp_path), schedule_delay_s=0.01, name="faulty")
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(queue)
    tracer = provider.get_tracer("t")
    with caplog.at_level(logging.WARNING):
        for batch in range(3):
            for _ in range(5):
                with tracer.start_as_current_span(f"s{batch}"):
                    pass
            queue.flush(5.0)
        queue.shutdown_within(__import__("time").monotonic() + 2.0)
    vaquero_lines = [r for r in caplog.records if r.name == "vaquero"]
    assert len(vaquero_lines) <= 1
    assert queue.exported == 0
    assert queue.drops.export_failed + queue.drops.shutdown_budget == 15


def test_logging_handler_that_creates_spans_does_not_deadlock_or_recurse():
    class SpanningHandler(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.depth = 0

        def emit(self, record):
            self.depth += 1
            try:
                if self.depth < 3:
                    with vaquero.span("log_record", message=record.getMessage()):
                        logging.getLogger("app").warning("nested from handler")
            finally:
                self.depth -= 1

    handler = SpanningHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    done = threading.Event()

    def run() -> None:
        with capture_spans() as spans:
            logging.getLogger("app").warning("hello")
            run.names = spans.names()  # type: ignore[attr-defined]
        done.set()

    try:
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        assert done.wait(20), "a span-creating log handler deadlocked"
    finally:
        root.removeHandler(handler)
    assert run.names.count("log_record") == 2  # type: ignore[attr-defined]
