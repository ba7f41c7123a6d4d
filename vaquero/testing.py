"""Assert on the spans your own code emits: ``capture_spans()`` and the ``vaquero_spans`` fixture.

Like ``structlog.testing.capture_logs``: spans are collected synchronously as they end,
in the test's own process, whatever exporters are configured, so a test never waits on an
export thread. Registered as a pytest plugin through the ``pytest11`` entry point.
"""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

from vaquero._config import OPTIONS
from vaquero._pipeline import install as _setup
from vaquero._semconv import AGENT_NAME
from vaquero._state import STATE

__all__ = [
    "CapturedSpan",
    "CapturedSpans",
    "Measurement",
    "capture_measurements",
    "capture_spans",
    "quiet_test_run",
]

try:  # pytest is optional: the plugin half only exists when it is installed
    import pytest
except ImportError:  # pragma: no cover
    pytest = None  # type: ignore[assignment]


@dataclass
class CapturedSpan:
    """A finished span in plain Python terms, with links to its captured parent and children."""

    name: str
    attributes: dict[str, Any]
    status: str
    status_description: str | None
    trace_id: str
    span_id: str
    parent_span_id: str | None
    events: list[tuple[str, dict[str, Any]]]
    links: list[tuple[str, str]]
    kind: str
    start_ns: int
    end_ns: int
    parent: CapturedSpan | None = None
    children: list[CapturedSpan] = field(default_factory=list)

    @property
    def agent(self) -> str | None:
        """The span's ``gen_ai.agent.name`` (its own or inherited), or None outside agents."""
        value = self.attributes.get(AGENT_NAME)
        return value if isinstance(value, str) else None

    @property
    def duration_s(self) -> float:
        """Wall-clock duration in seconds, from the span's own start and end timestamps."""
        return (self.end_ns - self.start_ns) / 1e9

    def event_names(self) -> list[str]:
        """The names of the span's events in the order they were added."""
        return [name for name, _ in self.events]

    def __repr__(self) -> str:
        return f"<CapturedSpan {self.name!r} status={self.status}>"


def _convert(span: ReadableSpan) -> CapturedSpan:
    ctx = span.get_span_context()
    assert ctx is not None  # a finished SDK span always has its context
    parent = span.parent
    return CapturedSpan(
        name=span.name,
        attributes=dict(span.attributes or {}),
        status=span.status.status_code.name,
        status_description=span.status.description,
        trace_id=format(ctx.trace_id, "032x"),
        span_id=format(ctx.span_id, "016x"),
        parent_span_id=format(parent.span_id, "016x") if parent is not None else None,
        events=[(event.name, dict(event.attributes or {})) for event in span.events],
        links=[
            (format(link.context.trace_id, "032x"), format(link.context.span_id, "016x"))
            for link in span.links
        ],
        kind=span.kind.name,
        start_ns=span.start_time or 0,
        end_ns=span.end_time or 0,
    )


class CapturedSpans:
    """The spans finished inside a :func:`capture_spans` block, in the order they ended."""

    def __init__(self) -> None:
        self._raw: list[ReadableSpan] = []
        self._lock = threading.Lock()
        self._cache: list[CapturedSpan] | None = None

    def _add(self, span: ReadableSpan) -> None:
        with self._lock:
            self._raw.append(span)
            self._cache = None

    @property
    def spans(self) -> list[CapturedSpan]:
        """The captured spans, each linked to its captured parent and children."""
        with self._lock:
            if self._cache is None:
                converted = [_convert(span) for span in self._raw]
                by_id = {span.span_id: span for span in converted}
                for span in converted:
                    parent = by_id.get(span.parent_span_id or "")
                    if parent is not None:
                        span.parent = parent
                        parent.children.append(span)
                for span in converted:
                    span.children.sort(key=lambda child: child.start_ns)
                self._cache = converted
            return list(self._cache)

    def __iter__(self) -> Iterator[CapturedSpan]:
        return iter(self.spans)

    def __len__(self) -> int:
        with self._lock:
            return len(self._raw)

    def names(self) -> list[str]:
        """Every captured span's name, in the order the spans ended."""
        return [span.name for span in self.spans]

    def named(self, name: str) -> list[CapturedSpan]:
        """Every captured span called ``name`` (possibly none), in the order they ended."""
        return [span for span in self.spans if span.name == name]

    def one(self, name: str) -> CapturedSpan:
        """The single span called ``name``; fails loudly when there are none or several."""
        found = self.named(name)
        if len(found) != 1:
            raise AssertionError(f"expected one span named {name!r}, found {len(found)}: "
                                 f"{self.names()}")
        return found[0]

    def roots(self) -> list[CapturedSpan]:
        """The spans whose parent was not captured: trace roots, or continuations of
        remote parents."""
        return [span for span in self.spans if span.parent is None]

    def tree(self) -> str:
        """An indented outline (names only), handy in assertion messages."""
        lines: list[str] = []

        def walk(span: CapturedSpan, depth: int) -> None:
            lines.append("  " * depth + span.name)
            for child in span.children:
                walk(child, depth + 1)

        for root in sorted(self.roots(), key=lambda s: s.start_ns):
            walk(root, 0)
        return "\n".join(lines)

    def clear(self) -> None:
        """Forget what was captured so far; capturing goes on."""
        with self._lock:
            self._raw.clear()
            self._cache = None


class _CaptureProcessor(SpanProcessor):
    """Installed once per provider; hands each finished span to the active captures."""

    def __init__(self) -> None:
        self.active: list[CapturedSpans] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        for capture in tuple(self.active):
            capture._add(span)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_processor_lock = threading.Lock()


def _capture_processor() -> _CaptureProcessor:
    _setup.get_tracer()
    current = _setup.runtime()
    provider = current.provider if current is not None else None
    if not isinstance(provider, TracerProvider):
        raise RuntimeError(
            "vaquero.testing.capture_spans() needs an OpenTelemetry SDK TracerProvider; "
            "tracing is disabled (OTEL_SDK_DISABLED=true) or another provider is installed."
        )
    with _processor_lock:
        processor = getattr(provider, "_vaquero_capture", None)
        if processor is None:
            processor = _CaptureProcessor()
            provider.add_span_processor(processor)
            provider._vaquero_capture = processor  # type: ignore[attr-defined]
        return processor


@contextmanager
def capture_spans() -> Iterator[CapturedSpans]:
    """Collect every span that ends inside the block, in this process, synchronously.

    Works whatever exporters are configured (it adds a processor to vaquero's provider, or
    to the application's own SDK provider), and blocks may nest: each sees the spans that
    ended while it was open.

    Returns:
        A context manager yielding :class:`CapturedSpans`.
    """
    processor = _capture_processor()
    captured = CapturedSpans()
    processor.active.append(captured)
    try:
        yield captured
    finally:
        processor.active.remove(captured)


def _exporting_was_asked_for(environ: Mapping[str, str]) -> bool:
    """Does the environment name an exporter or an OTLP endpoint (the rows of both)?"""
    variables = [variable for option in OPTIONS if option.name in _EXPORT_CHOICES
                 for variable in option.env]
    return any(environ.get(variable, "").strip() for variable in variables)


_EXPORT_CHOICES = ("exporters", "endpoint")


def quiet_test_run(environ: Mapping[str, str] | None = None) -> bool:
    """Make a test run export nowhere unless ``environ`` names an exporter or an endpoint.

    A test suite's spans are for its assertions (``vaquero_spans``): with vaquero's OTLP
    default every run would try ``localhost:4317`` and end by warning that spans were
    dropped. So unless ``environ`` (``os.environ`` when None) names an exporter or an
    endpoint *when the first span configures vaquero*, that configuration gets
    ``exporters=["none"]``; ``OTEL_TRACES_EXPORTER``, an ``OTEL_EXPORTER_OTLP_*ENDPOINT``,
    ``VAQUERO_TRACES_FILE``, ``VAQUERO_CONSOLE`` and an explicit ``vaquero.init()`` still
    do what they say.

    Returns:
        True when ``environ`` asks for no export now (the quiet default applies).
    """

    def arguments() -> Mapping[str, Any]:
        asked = _exporting_was_asked_for(os.environ if environ is None else environ)
        return {} if asked else {"exporters": ["none"]}

    _setup.set_implicit_arguments(arguments)
    return bool(arguments())


@dataclass(frozen=True)
class Measurement:
    """One GenAI duration measurement: the histogram's name, the seconds, the attributes."""

    name: str
    seconds: float
    attributes: dict[str, Any]


@contextmanager
def capture_measurements() -> Iterator[list[Measurement]]:
    """Collect the GenAI duration measurements (``gen_ai.invocation.duration``,
    ``gen_ai.execute_tool.duration``) taken inside the block, in this process.

    Works with any metrics configuration, ``OTEL_METRICS_EXPORTER=none`` included: the
    measurements are read where vaquero's spans leave them, and handed on to the metrics
    pipeline (if any) when the block ends, so nothing is lost to it.

    Returns:
        A context manager yielding the list, filled as runs end.
    """
    from vaquero._semconv import EXECUTE_TOOL_DURATION, INVOCATION_DURATION

    names = (INVOCATION_DURATION, EXECUTE_TOOL_DURATION)
    _setup.get_tracer()
    previous = STATE.measurements
    captured: list[Measurement] = []

    class _Tee(collections.deque):  # type: ignore[type-arg]
        def append(self, item: Any) -> None:
            slot, seconds, attributes = item
            captured.append(Measurement(names[slot], seconds, dict(attributes)))
            if previous is not None:
                previous.append(item)

    STATE.measurements = _Tee()
    try:
        yield captured
    finally:
        STATE.measurements = previous


if pytest is not None:

    def pytest_configure(config: pytest.Config) -> None:
        """The plugin's first hook: a test run exports nowhere unless asked to."""
        quiet_test_run()

    @pytest.fixture
    def vaquero_spans() -> Iterator[CapturedSpans]:
        """The spans the test emitted: ``vaquero_spans.one("step").attributes[...]``."""
        with capture_spans() as captured:
            yield captured
