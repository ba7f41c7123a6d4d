"""Print each finished trace to the terminal as one compact, indented tree.

Spans reach an exporter in the order they *end*, children before parents and split across
batches, so a tree can only be drawn once its root has ended. Spans are therefore held per
trace until the root arrives; anything that can never complete (a root in another process
that never propagated back, a crash) is bounded by ``max_traces``/``max_spans`` and printed as
an incomplete tree when evicted or at ``force_flush``/``shutdown``, so output is late at worst,
never lost and never unbounded.

A typical tree (``width=60``, no colour)::

    trace 4bf92f35 checkout 1.20s
      checkout 1.20s ✓ agent=planner user.id=42
      ├─ fetch 120ms ✓ db.system=postgres
      └─ pay 1.00s ✗ ERROR: card declined agent=payer
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from vaquero._semconv import AGENT_NAME, EXCEPTION_MESSAGE, EXCEPTION_TYPE

__all__ = ["ConsoleTreeSpanExporter"]

_logger = logging.getLogger("vaquero")

AGENT_KEY = AGENT_NAME
# Namespaces that are either shown another way (agent) or are plumbing, not the story.
_HIDDEN_PREFIXES = ("gen_ai.", "vaquero.", "code.")
_MAX_ATTRIBUTES = 3
_MAX_VALUE_CHARS = 40
_MAX_STATUS_CHARS = 80
_MAX_TERMINAL_WIDTH = 160
_PIPE_WIDTH = 100
_MIN_WIDTH = 20
_INDENT = "  "

_BOLD, _DIM, _RED, _GREEN, _CYAN = "\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[32m", "\x1b[36m"
_RESET = "\x1b[0m"
# Span names and values come from user data; a raw ESC or newline would let them restyle
# or break the terminal, so every C0/C1 control character prints as a space.
_CONTROL = {code: " " for code in [*range(0x20), *range(0x7F, 0xA0)]}

Segment = tuple[str, str]  # (text, ANSI style; "" = plain)
Line = list[Segment]


@dataclass
class _Printed:
    """What is remembered about a trace already drawn, so late children can be placed."""

    root_name: str
    span_ids: set[int] = field(default_factory=set)


class ConsoleTreeSpanExporter(SpanExporter):
    """Draw one tree per trace on ``stream`` (``sys.stderr`` at write time when ``None``).

    ``color=None`` colours only a TTY without ``NO_COLOR``; ``width=None`` follows the terminal
    (capped at 160) or uses 100 for pipes and files. Resolving these at write time keeps
    output right when the application swaps ``sys.stderr`` (pytest, daemons) after setup.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        color: bool | None = None,
        width: int | None = None,
        max_traces: int = 1000,
        max_spans: int = 10000,
    ) -> None:
        self._stream = stream
        self._color = color
        self._width = width
        self._max_traces = max(1, max_traces)
        self._max_spans = max(1, max_spans)
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, dict[int, ReadableSpan]] = OrderedDict()
        self._pending_spans = 0
        self._printed: OrderedDict[int, _Printed] = OrderedDict()
        self._printed_spans = 0
        self._shutdown = False
        self._warned = False

    # -- SpanExporter -------------------------------------------------------------------

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        try:
            with self._lock:
                blocks = self._accept(spans)
                return self._emit(blocks)
        except Exception as error:  # the export thread must never see it
            self._warn_once(f"vaquero: console exporter failed: {error!r}")
            return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Print every buffered trace now, as incomplete trees; waits at most ``timeout_millis``."""
        if not self._lock.acquire(timeout=max(0.0, timeout_millis / 1000)):
            return False
        try:
            blocks = [self._render_incomplete(tid) for tid in list(self._pending)]
            return self._emit(blocks) is SpanExportResult.SUCCESS
        except Exception as error:  # flushing runs at exit; it must not break the exit
            self._warn_once(f"vaquero: console exporter failed: {error!r}")
            return False
        finally:
            self._lock.release()

    def shutdown(self) -> None:
        """Print what is still buffered; bounded by the lock wait and the buffer limits."""
        if not self._shutdown:
            self._shutdown = True
            self.force_flush(timeout_millis=5000)

    # -- buffering ----------------------------------------------------------------------

    def _accept(self, spans: Sequence[ReadableSpan]) -> list[list[Line]]:
        """Buffer the whole batch first, so a root and a late child in one batch form one tree."""
        touched: dict[int, None] = {}
        for span in spans:
            context = span.context
            if context is None:
                continue
            bucket = self._pending.get(context.trace_id)
            if bucket is None:
                bucket = self._pending[context.trace_id] = {}
            if context.span_id not in bucket:
                self._pending_spans += 1
            bucket[context.span_id] = span
            touched[context.trace_id] = None
        blocks: list[list[Line]] = []
        for trace_id in touched:
            blocks.extend(self._complete(trace_id))
        while self._pending and (
            len(self._pending) > self._max_traces or self._pending_spans > self._max_spans
        ):
            blocks.append(self._render_incomplete(next(iter(self._pending))))
        return blocks

    def _complete(self, trace_id: int) -> list[list[Line]]:
        """Draw every subtree of ``trace_id`` whose top is now known: a root or a late child."""
        bucket = self._pending[trace_id]
        printed = self._printed.get(trace_id)
        done = printed.span_ids if printed else set()
        roots: list[ReadableSpan] = []
        late: list[ReadableSpan] = []
        for span in bucket.values():
            parent = span.parent
            if parent is None or (parent.is_remote and parent.span_id not in bucket):
                roots.append(span)
            elif parent.span_id in done:
                late.append(span)
        blocks: list[list[Line]] = []
        children = _children_index(bucket.values())
        for root in sorted(roots, key=_start_key):
            members = _subtree([root], children)
            lines = [_header(trace_id, root.name, _total_duration(members))]
            lines.extend(_draw([root], children, top_marker=""))
            blocks.append(lines)
            self._take(trace_id, root.name, members)
        late = [span for span in late if _span_id(span) in bucket]  # not drawn under a root
        if late:
            late.sort(key=_start_key)
            members = _subtree(late, children)
            root_name = printed.root_name if printed else "?"
            lines = [_header(trace_id, root_name, None, note="(continued)")]
            lines.extend(_draw(late, children, top_marker="… late span: "))
            blocks.append(lines)
            self._take(trace_id, root_name, members)
        return blocks

    def _render_incomplete(self, trace_id: int) -> list[Line]:
        """Draw a trace whose root never came: each orphan subtree marked with ``…``."""
        bucket = self._pending[trace_id]
        spans = list(bucket.values())
        children = _children_index(spans)
        tops = sorted(
            (s for s in spans if s.parent is None or s.parent.span_id not in bucket),
            key=_start_key,
        )
        reached = _subtree(tops, children)
        if len(reached) < len(spans):  # parent cycles from broken propagation: show them anyway
            seen = {_span_id(s) for s in reached}
            tops.extend(sorted((s for s in spans if _span_id(s) not in seen), key=_start_key))
        printed = self._printed.get(trace_id)
        name = printed.root_name if printed else (tops[0].name if tops else "?")
        note = "(continued, incomplete)" if printed else "(incomplete: root not seen)"
        lines = [_header(trace_id, name, _total_duration(spans), note=note)]
        lines.extend(_draw(tops, children, top_marker="… "))
        self._take(trace_id, name, spans)
        return lines

    def _take(self, trace_id: int, root_name: str, spans: Iterable[ReadableSpan]) -> None:
        """Move drawn spans out of the buffer and remember their ids, both within bounds."""
        bucket = self._pending[trace_id]
        printed = self._printed.get(trace_id)
        if printed is None:
            printed = self._printed[trace_id] = _Printed(root_name)
        self._printed.move_to_end(trace_id)
        for span in spans:
            span_id = _span_id(span)
            if bucket.pop(span_id, None) is not None:
                self._pending_spans -= 1
            if span_id not in printed.span_ids:
                printed.span_ids.add(span_id)
                self._printed_spans += 1
        if not bucket:
            del self._pending[trace_id]
        while self._printed and (
            len(self._printed) > self._max_traces or self._printed_spans > self._max_spans
        ):
            _, forgotten = self._printed.popitem(last=False)
            self._printed_spans -= len(forgotten.span_ids)

    # -- output -------------------------------------------------------------------------

    def _emit(self, blocks: list[list[Line]]) -> SpanExportResult:
        if not blocks:
            return SpanExportResult.SUCCESS
        stream = self._stream if self._stream is not None else sys.stderr
        tty = _isatty(stream)
        color = self._color if self._color is not None else tty and not os.environ.get("NO_COLOR")
        width = self._width if self._width is not None else _terminal_width(stream, tty)
        width = max(_MIN_WIDTH, width)
        text = "".join(
            _format_line(line, width, color) + "\n" for block in blocks for line in block
        )
        try:
            # One write per export keeps a tree in one piece next to the app's own output.
            stream.write(text)
            stream.flush()
        except Exception as error:  # closed stream, broken pipe: drop, do not crash the thread
            self._warn_once(f"vaquero: console exporter cannot write to {stream!r}: {error!r}")
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def _warn_once(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            _logger.warning(message)


# -- tree shape --------------------------------------------------------------------------


def _span_id(span: ReadableSpan) -> int:
    context = span.context
    return context.span_id if context is not None else 0


def _start_key(span: ReadableSpan) -> tuple[int, str]:
    return (span.start_time or 0, span.name)


def _children_index(spans: Iterable[ReadableSpan]) -> dict[int, list[ReadableSpan]]:
    index: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        if span.parent is not None:
            index.setdefault(span.parent.span_id, []).append(span)
    for siblings in index.values():
        siblings.sort(key=_start_key)
    return index


def _subtree(
    tops: list[ReadableSpan], children: dict[int, list[ReadableSpan]]
) -> list[ReadableSpan]:
    """All spans under ``tops``; iterative and cycle-safe, since ids come from the wire."""
    seen: set[int] = set()
    out: list[ReadableSpan] = []
    stack = list(reversed(tops))
    while stack:
        span = stack.pop()
        span_id = _span_id(span)
        if span_id in seen:
            continue
        seen.add(span_id)
        out.append(span)
        stack.extend(reversed(children.get(span_id, ())))
    return out


def _total_duration(spans: Iterable[ReadableSpan]) -> int | None:
    starts = [s.start_time for s in spans if s.start_time]
    ends = [s.end_time for s in spans if s.end_time] if starts else []
    if not starts or not ends:
        return None
    return max(ends) - min(starts)


def _draw(
    tops: list[ReadableSpan], children: dict[int, list[ReadableSpan]], *, top_marker: str
) -> list[Line]:
    """Lines for the forest under ``tops``, depth first, siblings in start order."""
    lines: list[Line] = []
    seen: set[int] = set()
    # (span, guide drawn before it, indent for its children, agent in effect above it)
    stack: list[tuple[ReadableSpan, str, str, str | None]] = [
        (top, top_marker, "", None) for top in reversed(tops)
    ]
    while stack:
        span, guide, indent, parent_agent = stack.pop()
        span_id = _span_id(span)
        if span_id in seen:
            continue
        seen.add(span_id)
        agent = _agent(span)
        lines.append(_span_line(span, guide, agent if agent != parent_agent else None))
        kids = children.get(span_id, [])
        # Past the widest line nothing more shows, so stop growing guides (deep chains).
        deep = len(indent) > _MAX_TERMINAL_WIDTH
        for position in range(len(kids) - 1, -1, -1):
            last = position == len(kids) - 1
            child_guide = indent + ("└─ " if last else "├─ ")
            child_indent = indent if deep else indent + ("   " if last else "│  ")
            stack.append((kids[position], child_guide, child_indent, agent or parent_agent))
    return lines


# -- one line ----------------------------------------------------------------------------


def _header(trace_id: int, name: str, duration: int | None, note: str = "") -> Line:
    text = f"trace {trace_id:032x}"[: len("trace ") + 8] + " " + _clean(name)
    if duration is not None:
        text += " " + _format_duration(duration)
    if note:
        text += " " + note
    return [(text, _BOLD)]


def _span_line(span: ReadableSpan, guide: str, agent: str | None) -> Line:
    line: Line = [(_INDENT + guide, _DIM), (_clean(span.name), _BOLD)]
    duration = span.end_time - span.start_time if span.end_time and span.start_time else None
    line.append((" " + _format_duration(duration), ""))
    if span.status.status_code is StatusCode.ERROR:
        message = _error_message(span)
        line.append((" ✗ ERROR" + (": " + message if message else ""), _RED))
    else:
        line.append((" ✓", _GREEN))
    if agent:
        line.append((" agent=" + _clip_chars(_clean(agent), _MAX_VALUE_CHARS), _CYAN))
    shown = 0
    for key, value in (span.attributes or {}).items():
        if shown == _MAX_ATTRIBUTES:
            break
        if key.startswith(_HIDDEN_PREFIXES):
            continue
        line.append((f" {_clean(key)}={_format_value(value)}", _DIM))
        shown += 1
    return line


def _agent(span: ReadableSpan) -> str | None:
    value = (span.attributes or {}).get(AGENT_KEY)
    return value if isinstance(value, str) and value else None


def _error_message(span: ReadableSpan) -> str:
    """The status text, else the recorded exception, so a bare ERROR still says what broke."""
    message = span.status.description or ""
    if not message:
        for event in span.events:
            if event.name == "exception" and event.attributes:
                kind = event.attributes.get(EXCEPTION_TYPE, "")
                text = event.attributes.get(EXCEPTION_MESSAGE, "")
                message = f"{kind}: {text}" if kind and text else str(kind or text)
                break
    return _clip_chars(_clean(message), _MAX_STATUS_CHARS)


def _format_value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        text = "[" + ",".join(str(item) for item in value[:8]) + ("…" if len(value) > 8 else "")
        text += "]"
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    text = _clip_chars(_clean(text), _MAX_VALUE_CHARS)
    if isinstance(value, str) and (not text or " " in text):
        text = f'"{text}"'
    return text


def _format_duration(ns: int | None) -> str:
    if ns is None or ns < 0:
        return "?"
    if ns < 999_500:
        return f"{ns / 1_000:.0f}µs"
    ms = ns / 1_000_000
    if ms < 9.95:
        return f"{ms:.1f}ms"
    if ms < 999.5:
        return f"{ms:.0f}ms"
    seconds = ms / 1_000
    if seconds < 59.995:
        return f"{seconds:.2f}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:04.1f}s"


def _clean(text: str) -> str:
    return text.translate(_CONTROL)


def _clip_chars(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- width and colour --------------------------------------------------------------------


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _text_width(text: str) -> int:
    return len(text) if text.isascii() else sum(_char_width(c) for c in text)


def _format_line(line: Line, width: int, color: bool) -> str:
    """Clip to ``width`` terminal columns (ending in ``…``), then colour what is left."""
    if sum(_text_width(text) for text, _ in line) > width:
        line = [*_clip_line(line, width - 1), ("…", "")]
    if not color:
        return "".join(text for text, _ in line)
    return "".join(f"{style}{text}{_RESET}" if style else text for text, style in line if text)


def _clip_line(line: Line, budget: int) -> Line:
    out: Line = []
    for text, style in line:
        size = _text_width(text)
        if size <= budget:
            out.append((text, style))
            budget -= size
            continue
        kept: list[str] = []
        for char in text:
            char_size = _char_width(char)
            if char_size > budget:
                break
            kept.append(char)
            budget -= char_size
        out.append(("".join(kept), style))
        break
    return out


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except Exception:  # closed or exotic streams: treat as not a terminal
        return False


def _terminal_width(stream: TextIO, tty: bool) -> int:
    if not tty:
        return _PIPE_WIDTH
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return _PIPE_WIDTH
    # A terminal that never had its size set (fresh pty, some CI runners) reports 0 columns.
    return min(columns, _MAX_TERMINAL_WIDTH) if columns > 0 else _PIPE_WIDTH
