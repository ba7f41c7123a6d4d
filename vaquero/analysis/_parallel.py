"""Two processes for one analysis: this one reads and decodes, a forked worker groups and folds.

Why: on a big file the reading side (JSON parsing and decoding, in ``_sources`` and
``_decode``) and the statistics side (grouping, spilling, per-trace walks) each cost about
half of the time, and a machine with two cores can overlap them. The worker is forked, so it
starts at once with everything imported; only the CLI asks for it (a library call never forks
the host application), and only for a regular file big enough to repay the fork, on a
machine with a core to spare (the worker costs about a third more CPU in all: spans are
marshalled across a pipe).

Spans cross the pipe as ``marshal`` chunks of plain tuples, tens of thousands per message. The
worker answers with the folded result, pickled. If the worker fails, the error is raised here;
if reading fails here, the worker is stopped.
"""

from __future__ import annotations

import marshal
import multiprocessing
import os
import pickle
import sys
import traceback
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from typing import Any

from vaquero.analysis._fold import Folded, fold
from vaquero.analysis._sources import ReadStats
from vaquero.analysis._span import Span
from vaquero.analysis._store import SpanStore

__all__ = ["MIN_PARALLEL_BYTES", "can_fork", "fold_in_worker"]

MIN_PARALLEL_BYTES = 32 * 1024 * 1024  # below this the fork and the pipe cost more than they save
_CHUNK_SPANS = 8_192
# The forked worker starts out sharing the reader's pages (counted in both RSS figures) and
# holds chunks in transit: it keeps fewer spans in memory so that the two together stay
# within what one process would use.
_WORKER_SHARE = 0.7
_new_tuple = tuple.__new__


def can_fork(source: str) -> bool:
    """Worth it and safe: a regular file of some size, on Linux, with a core free.

    The two processes only overlap if a second core is idle: on a busy machine shipping the
    spans across costs more than it saves (measured in ``bench/bench_analyze.py``), so the
    one-minute load average must leave a core spare.
    """
    try:
        big = os.path.isfile(source) and os.path.getsize(source) >= MIN_PARALLEL_BYTES
        load = os.getloadavg()[0]
    except OSError:
        return False
    cores = os.cpu_count() or 1
    # Linux only: fork is the platform default there; macOS deems it unsafe.
    return big and cores > 1 and load <= cores - 1.5 and sys.platform.startswith("linux")


def fold_in_worker(
    spans: Iterable[list[Span]],
    stats: ReadStats,
    progress: Callable[[int], None] | None,
    *,
    memory_spans: int,
    workflow: str | None,
    started_after_ns: int | None,
    keep_traces: bool,
) -> Folded:
    """Send every span of ``spans`` to a forked worker; return what it folded them into."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=True)
    worker = context.Process(
        target=_work, name="vaquero-analyze",
        args=(sender, max(1, int(memory_spans * _WORKER_SHARE)), workflow, started_after_ns,
              keep_traces),
        daemon=True,
    )
    worker.start()
    sender.close()
    try:
        pending: list[tuple[Any, ...]] = []
        for batch in spans:
            pending.extend(map(tuple, batch))  # marshal takes plain tuples, not NamedTuples
            if len(pending) >= _CHUNK_SPANS:
                receiver.send_bytes(marshal.dumps(pending, 2))
                pending = []
            if progress is not None:
                progress(stats.spans_read)
        if pending:
            receiver.send_bytes(marshal.dumps(pending, 2))
        receiver.send_bytes(b"")  # end of input
        outcome = pickle.loads(receiver.recv_bytes())
    except BaseException:
        worker.terminate()
        raise
    finally:
        worker.join(timeout=10)
        receiver.close()
    if isinstance(outcome, str):
        raise RuntimeError(f"the analysis worker failed:\n{outcome}")
    assert isinstance(outcome, Folded)
    return outcome


def _work(connection: Connection, memory_spans: int, workflow: str | None,
          started_after_ns: int | None, keep_traces: bool) -> None:
    """The worker: receive span chunks until an empty message, fold, send the result back."""
    import gc

    gc.disable()
    try:
        with SpanStore(memory_spans=memory_spans) as store:
            add = store.add
            new = _new_tuple
            while True:
                data = connection.recv_bytes()
                if not data:
                    break
                add([new(Span, record) for record in marshal.loads(data)])
            folded = fold(store, workflow=workflow, started_after_ns=started_after_ns,
                          keep_traces=keep_traces)
        answer = pickle.dumps(folded, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # reported to the parent, which raises it
        answer = pickle.dumps(traceback.format_exc())
    try:
        connection.send_bytes(answer)
    finally:
        connection.close()
