"""Group a stream of spans into whole traces while keeping memory bounded.

Spans of one trace arrive spread over many lines, interleaved with other traces, usually
children before parents (an SDK exports a span when it *ends*, and a parent ends last). We
cannot hold a million spans until the end of the file, so traces are handed on as soon as they
can be, and memory is capped no matter how the input is ordered:

* **Complete-looking traces are finalised after a grace window.** A trace looks complete when it
  has a root (a span without a parent) and every parent its spans name has arrived. Because a
  late span (a fire-and-forget task that outlives its parent) can still follow, the trace is
  handed on only after ``grace_spans`` more spans have been read without it changing; a span
  that arrives meanwhile simply re-arms the window.
* **Open traces are capped.** When more than ``max_open_traces`` traces or
  ``max_buffered_spans`` spans are buffered, the trace first seen longest ago is finalised as it
  stands. A span whose parent never arrived becomes the root of an incomplete run there.
* **Only compact tuples are buffered** (:class:`Span`), never the decoded JSON dicts.

A span that arrives after its trace was finalised starts a new fragment of that trace; that
fragment's spans name a parent that is gone, so they surface as roots of incomplete runs rather
than being silently merged into statistics already computed.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from vaquero.analysis._span import Span

__all__ = ["TraceAssembler"]

DEFAULT_MAX_OPEN_TRACES = 20_000
DEFAULT_MAX_BUFFERED_SPANS = 250_000
DEFAULT_GRACE_SPANS = 10_000


class _OpenTrace:
    """The spans of one trace seen so far, and what they still wait for."""

    __slots__ = ("ready_stamp", "roots", "spans", "unresolved")

    def __init__(self) -> None:
        self.spans: dict[str, Span] = {}
        self.unresolved: set[str] = set()  # parent ids named by a span but not yet seen
        self.roots = 0
        self.ready_stamp = -1  # spans-seen count when it last became complete-looking


class TraceAssembler:
    """Feed spans with :meth:`add`; finished traces are passed to ``emit`` as span lists."""

    def __init__(
        self,
        emit: Callable[[list[Span]], None],
        *,
        max_open_traces: int = DEFAULT_MAX_OPEN_TRACES,
        max_buffered_spans: int = DEFAULT_MAX_BUFFERED_SPANS,
        grace_spans: int = DEFAULT_GRACE_SPANS,
    ) -> None:
        self._emit = emit
        self._max_open = max(1, max_open_traces)
        self._max_buffered = max(1, max_buffered_spans)
        self._grace = max(0, grace_spans)
        self._open: OrderedDict[str, _OpenTrace] = OrderedDict()
        self._ready: deque[tuple[int, str]] = deque()
        self._buffered = 0
        self._seen = 0
        self.evicted_traces = 0
        self.duplicate_spans = 0

    def add_many(self, spans: Iterable[Span]) -> None:
        for span in spans:
            self.add(span)

    def add(self, span: Span) -> None:
        trace = self._open.get(span.trace_id)
        if trace is None:
            trace = self._open[span.trace_id] = _OpenTrace()
        elif span.span_id in trace.spans:
            self.duplicate_spans += 1  # the same span exported twice (retry, two sources)
            return
        trace.spans[span.span_id] = span
        self._buffered += 1
        self._seen += 1
        trace.unresolved.discard(span.span_id)
        parent = span.parent_id
        if parent is None:
            trace.roots += 1
        elif parent not in trace.spans:
            trace.unresolved.add(parent)
        if trace.roots and not trace.unresolved:
            trace.ready_stamp = self._seen
            self._ready.append((self._seen, span.trace_id))
        else:
            trace.ready_stamp = -1
        ready = self._ready
        if ready and self._seen - ready[0][0] >= self._grace:
            self._finalise_ready()
        while len(self._open) > self._max_open or self._buffered > self._max_buffered:
            trace_id, _ = next(iter(self._open.items()))
            self.evicted_traces += 1
            self._finalise(trace_id)

    def flush(self) -> None:
        """End of input: hand on every trace still open, complete or not."""
        while self._open:
            self._finalise(next(iter(self._open)))
        self._ready.clear()

    def _finalise_ready(self) -> None:
        ready = self._ready
        while ready and self._seen - ready[0][0] >= self._grace:
            stamp, trace_id = ready.popleft()
            trace = self._open.get(trace_id)
            if trace is not None and trace.ready_stamp == stamp:
                self._finalise(trace_id)

    def _finalise(self, trace_id: str) -> None:
        trace = self._open.pop(trace_id)
        self._buffered -= len(trace.spans)
        self._emit(list(trace.spans.values()))
