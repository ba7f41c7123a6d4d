"""vaquero's batch span processor: the app thread only enqueues; everything else is bounded.

Why not the SDK's ``BatchSpanProcessor``? Measured on 1.45.1 it falls short of the
contracts vaquero makes to the host application:

* ``force_flush(timeout)`` ignores its timeout and returns ``True`` even when the export
  failed; :meth:`ExportQueue.flush` returns within ``timeout`` and says whether every span
  accepted so far reached the exporter successfully.
* shutdown waits for the exporter's own retry loop (up to 30 s with a dead collector);
  :meth:`ExportQueue.shutdown` shares one deadline across draining and closing.
* a full queue drops spans with a log line per span; here drops are counted and reported
  once, by reason.
* spans in flight when the shutdown budget runs out, and spans ended after shutdown, vanish
  uncounted; here every span accepted is either exported or counted in :class:`DropCounts`.
* with a collector that refuses connections, shutdown sits in the exporter's retry backoff
  for the whole budget; here the queue asks the exporter (``give_up_if_unreachable``) and
  stops waiting once the collector is known to be down: its spans cannot arrive anyway.

It keeps the parts of the SDK design that are right: a bounded deque (atomic appends, no
lock on the app thread), one daemon worker per exporter, and a fork hook so a child never
re-exports its parent's queued spans.
"""

from __future__ import annotations

import collections
import contextvars
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from vaquero._diagnostics import warn_once
from vaquero._otel_compat import suppress_instrumentation
from vaquero._state import STATE

logger = logging.getLogger("vaquero")

BatchTransform = Callable[[Sequence[ReadableSpan]], Sequence[ReadableSpan]]


@dataclass
class DropCounts:
    """Why spans did not reach their destination; reported once at shutdown when non-zero.

    Every span the queue accepted ends up either in ``ExportQueue.exported`` or in exactly
    one of these counters, so the exit report and ``flush()`` can be truthful.
    """

    queue_full: int = 0
    """The queue was at ``max_queue_size`` when the span ended."""
    export_failed: int = 0
    """The exporter reported failure for the span's batch (or raised)."""
    shutdown_budget: int = 0
    """Queued, or in an export still running, when the shutdown budget ran out."""
    transform_failed: int = 0
    """The scrubber failed on the span's batch: dropped rather than sent unscrubbed."""
    unreachable: int = 0
    """Still queued at shutdown while the collector refused connections."""
    rejected: int = 0
    """Dropped by the exporter itself although the batch succeeded (too large to send)."""
    after_shutdown: int = 0
    """Ended after this queue was shut down."""

    @property
    def total(self) -> int:
        """Every span counted here, whatever the reason."""
        return (
            self.queue_full
            + self.export_failed
            + self.shutdown_budget
            + self.transform_failed
            + self.unreachable
            + self.rejected
            + self.after_shutdown
        )

    def by_reason(self) -> dict[str, int]:
        """The non-zero counters, by field name, in a stable order."""
        return {name: count for name, count in vars(self).items() if count}


# How often shutdown looks at the exporter while waiting for the worker, and how long it
# may spend asking whether the collector refuses connections (a loopback refusal takes
# well under a millisecond; a host that does not answer within this is not "known down").
_SHUTDOWN_POLL_S = 0.01
_PROBE_TIMEOUT_S = 0.2


class ExportQueue(SpanProcessor):
    """Queue finished spans and export them in batches on a worker thread."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay_s: float = 1.0,
        transform: BatchTransform | None = None,
        name: str | None = None,
    ) -> None:
        self.exporter = exporter
        self.name = name or type(exporter).__name__
        self._max_queue_size = max_queue_size
        self._batch_size = min(max_export_batch_size, max_queue_size)
        self._delay = schedule_delay_s
        self._transform = transform
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self.drops = DropCounts()
        self.exported = 0
        self._forked_at_ns: int | None = None
        self._reset_worker_state()
        self._shutdown = False
        self._deadline: float | None = None
        self._drops_seen = 0
        self.gave_up = False
        """True once shutdown stopped waiting because the collector refused connections."""
        self.reported_after_shutdown = 0
        """How many ``after_shutdown`` drops the exit report has already mentioned."""
        if hasattr(os, "register_at_fork"):
            weak_self = weakref.ref(self)

            def after_fork_in_child() -> None:
                processor = weak_self()
                if processor is not None:
                    processor._reset_after_fork()

            os.register_at_fork(after_in_child=after_fork_in_child)

    def _reset_worker_state(self) -> None:
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._progress = threading.Condition(threading.Lock())
        self._accepted = 0
        self._handled = 0
        self._failed_batches = 0
        self._in_flight = 0
        self._abandoned = False

    def _reset_after_fork(self) -> None:
        """In a forked child: the parent's queued spans belong to the parent, never re-sent.

        So do the spans that were open at the fork: the child holds copies of them (a fork
        inside a ``with`` block, then ``sys.exit`` in the child, ends the copy), but the
        parent ends and exports the originals, under the same span ids. The process that
        started a span is the one that exports it.
        """
        self._queue.clear()
        self._forked_at_ns = time.time_ns()
        self._reset_worker_state()

    # --- app thread --------------------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None or not context.trace_flags.sampled:
            return
        forked_at = self._forked_at_ns
        if forked_at is not None and (span.start_time or 0) < forked_at:
            return  # started before this process was forked: the parent exports it
        if self._shutdown:
            self.drops.after_shutdown += 1
            if STATE.exited:  # nothing reports it any more: say it now, once
                warn_once(
                    "span-after-exit",
                    "vaquero: span %r ended after vaquero's exit shutdown and was not "
                    "exported: it ended in an atexit handler registered before `import "
                    "vaquero` (atexit runs the last registered first). Import vaquero before "
                    "registering that handler, or end the span before the program exits.",
                    span.name,
                )
            return
        # With a fork hook the child resets ``_thread`` itself, so no getpid() per span.
        if (
            self._thread is None or (not _HAS_FORK_HOOK and self._pid != os.getpid())
        ) and not self._start_worker():
            return
        queue = self._queue
        if len(queue) >= self._max_queue_size:
            self.drops.queue_full += 1
            return
        queue.append(span)
        self._accepted += 1
        if len(queue) >= self._batch_size and not self._wake.is_set():
            self._wake.set()  # set() takes a lock; a busy worker would pay it per span

    def _start_worker(self) -> bool:
        """Start the worker on first use, so disabled or unused pipelines cost no thread."""
        if self._pid != os.getpid():
            self._reset_after_fork()
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(
                    target=self._run, name=f"vaquero-export-{self.name}", daemon=True
                )
                try:
                    # Start from an empty context: the worker is started inside the first
                    # span's end(), and context-propagating thread instrumentation would
                    # otherwise pin that span (and parent the worker's work under it).
                    contextvars.Context().run(thread.start)
                except RuntimeError:  # interpreter shutting down: no new threads
                    return False
                self._thread = thread
        return True

    # --- worker thread -----------------------------------------------------------------------
    def _run(self) -> None:
        # The exporters' own HTTP/gRPC calls must not be traced (that would feed back here).
        with suppress_instrumentation():
            while not self._shutdown:
                self._wake.wait(self._delay)
                self._wake.clear()
                self._export_queued()
            self._export_queued()

    def _export_queued(self) -> None:
        queue = self._queue
        while queue:
            batch: list[ReadableSpan] = []
            with self._progress:
                # Under the lock, so shutdown counts each span once: here, or as left over.
                if self._deadline is not None and time.monotonic() >= self._deadline:
                    return
                try:
                    while len(batch) < self._batch_size:
                        batch.append(queue.popleft())
                except IndexError:
                    pass
                self._in_flight = len(batch)
            outcome = self._export_batch(batch)
            with self._progress:
                if self._abandoned:
                    return  # shutdown gave up on this batch and counted it already
                self._in_flight = 0
                self._handled += len(batch)
                if outcome == _EXPORT_FAILED:
                    self.drops.export_failed += len(batch)
                    self._failed_batches += 1
                elif outcome == _TRANSFORM_FAILED:
                    self.drops.transform_failed += len(batch)
                    self._failed_batches += 1
                else:  # delivered, apart from the spans the exporter itself rejected
                    rejected = min(len(batch), outcome)
                    self.exported += len(batch) - rejected
                    self.drops.rejected += rejected
                self._progress.notify_all()

    def _export_batch(self, batch: list[ReadableSpan]) -> int:
        """Export one batch; the number of spans the exporter rejected, or a failure code.

        Nothing is counted here: the caller counts under the progress lock, after checking
        that shutdown has not already counted this batch as abandoned.
        """
        spans: Sequence[ReadableSpan] = batch
        if self._transform is not None:
            try:
                spans = self._transform(batch)
            except Exception:
                # Fail closed: an unscrubbed batch must not leave the process.
                warn_once(
                    f"transform:{self.name}",
                    "vaquero: a span transform failed in %s; batch dropped.",
                    self.name,
                    exc_info=True,
                )
                return _TRANSFORM_FAILED
        dropped_before = _exporter_drops(self.exporter)
        try:
            result = self.exporter.export(spans)
        except Exception:
            warn_once(
                f"export-raised:{self.name}",
                "vaquero: exporter %s raised; its spans are dropped.",
                self.name,
                exc_info=True,
            )
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            return max(0, _exporter_drops(self.exporter) - dropped_before)
        return _EXPORT_FAILED

    # --- control -----------------------------------------------------------------------------
    def flush(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for every span accepted so far.

        True only if all of them were exported *and* nothing was dropped for any reason
        (full queue, failed export, oversized span) since the previous flush.
        """
        if self._thread is None or self._pid != os.getpid():
            return not self._queue and self._nothing_dropped_since_last_flush()
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._progress:
            target = self._accepted
        self._wake.set()
        with self._progress:
            while self._handled < target:
                remaining = deadline - time.monotonic()
                timed_out = remaining <= 0 or not self._progress.wait(remaining)
                if timed_out and self._handled < target:
                    self._nothing_dropped_since_last_flush()
                    return False
        return self._nothing_dropped_since_last_flush()

    def _nothing_dropped_since_last_flush(self) -> bool:
        total = self.drops.total
        unchanged = total == self._drops_seen
        self._drops_seen = total
        return unchanged

    def export_soon(self) -> None:
        """Have the worker export what is queued now, without waiting for it."""
        if self._thread is not None:
            self._wake.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.flush(timeout_millis / 1000.0)

    def shutdown_within(self, deadline: float) -> None:
        """Drain until the monotonic ``deadline``, then close the exporter; never blocks past it.

        Whatever is not exported by then (queued, or in an export that is still running) is
        counted. Waiting stops early when the exporter knows its collector refuses
        connections (``give_up_if_unreachable``): then the budget would only be spent in the
        exporter's retry backoff.
        """
        if self._shutdown:
            return
        self._deadline = deadline
        self._shutdown = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            self._wait_for_worker(thread, deadline)
        with self._progress:
            self._deadline = min(deadline, time.monotonic())  # the worker takes no new batch
            if thread is not None and thread.is_alive() and self._in_flight:
                self._abandoned = True
                self.drops.shutdown_budget += self._in_flight
                self._in_flight = 0
            left = len(self._queue)
            self._queue.clear()
        if self.gave_up:
            self.drops.unreachable += left
        else:
            self.drops.shutdown_budget += left
        _close_exporter(self.exporter, deadline)

    def _wait_for_worker(self, thread: threading.Thread, deadline: float) -> None:
        give_up = getattr(self.exporter, "give_up_if_unreachable", None)
        while thread.is_alive():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            thread.join(min(_SHUTDOWN_POLL_S, remaining))
            if give_up is None or self.gave_up or not thread.is_alive():
                continue
            probe_for = min(_PROBE_TIMEOUT_S, max(0.0, deadline - time.monotonic()))
            if give_up(probe_for):
                self.gave_up = True
                with self._progress:
                    self._deadline = time.monotonic()  # stop taking batches: none can arrive

    def shutdown(self) -> None:
        self.shutdown_within(time.monotonic() + 30.0)


# Outcomes of ``_export_batch`` other than "delivered, n rejected" (n >= 0).
_EXPORT_FAILED = -1
_TRANSFORM_FAILED = -2


def _exporter_drops(exporter: SpanExporter) -> int:
    """Spans an exporter dropped by itself (vaquero's exporters count them in ``dropped_spans``)."""
    count = getattr(exporter, "dropped_spans", 0)
    return count if type(count) is int else 0


_HAS_FORK_HOOK = hasattr(os, "register_at_fork")


def _close_exporter(exporter: SpanExporter, deadline: float) -> None:
    """Shut the exporter down on a helper thread so a hanging transport cannot block exit."""
    closer = threading.Thread(target=_shutdown_quietly, args=(exporter,), daemon=True)
    try:
        contextvars.Context().run(closer.start)
    except RuntimeError:
        return
    closer.join(max(0.05, deadline - time.monotonic()))


def _shutdown_quietly(exporter: SpanExporter) -> None:
    try:
        exporter.shutdown()
    except Exception:
        logger.debug("vaquero: exporter shutdown raised", exc_info=True)
