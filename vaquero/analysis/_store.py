"""Hold every span until the input ends, grouped by trace, in bounded memory.

Why wait for the end: spans of one trace can be anywhere in the input (two services' files
concatenated, a late fire-and-forget span, a file still being appended to). Any rule that
hands a trace on "once it looks complete" makes the numbers depend on line order. So the
analysis reads everything first and looks at a trace only once all of its spans are in.

How memory stays bounded: spans are kept in memory, grouped by trace id, until
``memory_spans`` of them are buffered. Past that, the buffer is *spilled*: every trace's spans
go to one of ``partitions`` temporary files chosen by a hash of the trace id, so all spans of a
trace always land in the same file, whichever batch they came in. At the end each file is read
back on its own and its traces handed on, so memory holds one file's spans at a time. A file
that is itself larger than ``memory_spans`` is split again with another hash seed before it is
read. The files are plain ``marshal`` chunks in a private temporary directory, deleted when
the store is closed.

One trace cannot be split across files, so one trace of a million spans would be a million
spans in memory: a trace holds at most ``MAX_TRACE_SPANS`` spans, the ones past that are
counted (``dropped_spans``, ``capped_traces``) and left out, and the caller says so.

Traces come out in an order fixed by the data (hash partition, then first appearance within
it); the statistics built on them are order-free sums and sorted lists, so the result is the
same for any order of the input lines.
"""

from __future__ import annotations

import itertools
import marshal
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from vaquero.analysis._limits import MAX_TRACE_SPANS
from vaquero.analysis._span import Span

__all__ = ["DEFAULT_MEMORY_SPANS", "SpanStore"]

# About 380 bytes a span in memory (tuple, ids, ints): 120,000 spans is ~45 MB, which keeps
# a 1,000,000-span analysis under 100 MB of RSS (bench/bench_analyze.py --memory-only).
DEFAULT_MEMORY_SPANS = 120_000
DEFAULT_PARTITIONS = 32
_MAX_DEPTH = 4  # re-split an oversized file at most this often (one huge trace cannot split)
# Spans per marshal chunk: what reading a file back (or re-splitting it) holds at once, as
# tuples and as the Span copies made of them, whatever one spill wrote.
_CHUNK_SPANS = 8192
_new_tuple = tuple.__new__

Group = tuple[str, list[Span]]


class _Partition:
    """One spill file and how many spans it holds."""

    __slots__ = ("depth", "handle", "path", "spans")

    def __init__(self, path: str, depth: int) -> None:
        self.path = path
        self.depth = depth
        self.spans = 0
        self.handle: IO[bytes] | None = None

    def write(self, spans: Iterable[Sequence[Any]]) -> None:
        """Append ``spans`` in chunks of at most :data:`_CHUNK_SPANS` plain tuples."""
        if self.handle is None:
            self.handle = open(self.path, "ab")  # noqa: SIM115 - closed by close()
        # Plain-tuple copies (marshal refuses NamedTuples) are made one chunk at a time.
        records = map(tuple, spans)
        while True:
            chunk = list(itertools.islice(records, _CHUNK_SPANS))
            if not chunk:
                return
            # Length-prefixed: marshal.loads on one bytes object is several times faster
            # than marshal.load pulling from a file object piece by piece. Version 2 writes no
            # back-references: faster to write, and the files are ours alone.
            data = marshal.dumps(chunk, 2)
            self.handle.write(len(data).to_bytes(8, "little"))
            self.handle.write(data)
            self.spans += len(chunk)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def chunks(self) -> Iterator[list[tuple[Any, ...]]]:
        self.close()
        if not self.spans:
            return
        with open(self.path, "rb") as handle:
            read = handle.read
            while True:
                header = read(8)
                if len(header) < 8:
                    return
                yield marshal.loads(read(int.from_bytes(header, "little")))


class SpanStore:
    """Add spans with :meth:`add`; iterate :meth:`traces` once the input has ended."""

    def __init__(
        self,
        *,
        memory_spans: int = DEFAULT_MEMORY_SPANS,
        partitions: int = DEFAULT_PARTITIONS,
        directory: str | None = None,
        trace_spans: int = MAX_TRACE_SPANS,
    ) -> None:
        self._memory_spans = max(1, memory_spans)
        self._fanout = max(2, partitions)
        self._directory = directory
        self._groups: defaultdict[str, list[Span]] = defaultdict(list)
        self._buffered = 0
        self._spill_dir: str | None = None
        self._partitions: list[_Partition] = []
        # leaf files in reading order, each with the in-memory traces that belong to it
        self._done: list[tuple[_Partition, list[Group]]] | None = None
        self._shares_used = False
        self.spills = 0
        self._trace_cap = max(1, trace_spans)
        self.dropped_spans = 0  # spans past the per-trace bound, left out
        self.capped_traces: set[str] = set()  # at most (spans read / bound) ids

    @property
    def spilled(self) -> bool:
        """True once anything went to disk (the README's bounded-memory promise)."""
        return self._spill_dir is not None

    def add(self, spans: Sequence[Span]) -> None:
        """Hold ``spans`` under their trace ids; spill to disk once the bound is passed."""
        groups = self._groups
        for span in spans:
            groups[span[0]].append(span)  # a defaultdict: the cheapest grouping in Python
        self._buffered += len(spans)
        if self._buffered > self._memory_spans:
            self._spill()

    def make_room(self, record_bytes: int) -> None:
        """Spill now if the spans held, plus parsing a record of ``record_bytes``, would pass
        the bound: parsed JSON costs about seven times its text, a held span about 380 bytes,
        so a record costs about a fiftieth of its length in spans. Only long records ask."""
        if self._buffered and self._buffered + record_bytes // 50 > self._memory_spans:
            self._spill()

    def traces(self, *, again: bool = False) -> Iterator[Group]:
        """Every trace id with all of its spans (duplicates included), in a data-fixed order.

        Once anything was spilled, the spans still in memory are not written out: each
        joins its partition's file as that file is read, and is let go after it, so memory
        falls as the walk goes. Pass ``again=True`` to be able to walk a second time (the
        report fetches the traces it draws): then everything goes to disk first.
        """
        cap = self._trace_cap
        if self._spill_dir is None:
            for trace, spans in self._groups.items():
                if len(spans) > cap:
                    self._capped(trace, len(spans) - cap)
                    del spans[cap:]
                yield trace, spans
            return
        if self._done is None:
            if again and self._groups:
                self._spill()
            self._done = self._plan()
        elif self._shares_used:
            raise RuntimeError("a second walk needs traces(again=True) on the first")
        self._shares_used = not again
        for index, (partition, share) in enumerate(self._done):
            groups = self._group(partition.chunks())
            for trace, spans in share:
                held = groups[trace]
                room = cap - len(held)
                if room < len(spans):
                    self._capped(trace, len(spans) - max(room, 0))
                held.extend(spans[:max(room, 0)])
            if not again:
                self._done[index] = (partition, [])  # let the in-memory share go
            yield from groups.items()

    def _capped(self, trace: str, dropped: int) -> None:
        self.dropped_spans += dropped
        self.capped_traces.add(trace)

    def _group(self, chunks: Iterable[list[tuple[Any, ...]]]) -> defaultdict[str, list[Span]]:
        """Spans read back from a file, grouped by trace, each trace held to the bound."""
        groups: defaultdict[str, list[Span]] = defaultdict(list)
        new = _new_tuple
        cap = self._trace_cap
        for chunk in chunks:
            for record in chunk:
                held = groups[record[0]]
                if len(held) < cap:
                    held.append(new(Span, record))
                else:
                    self._capped(record[0], 1)
        return groups

    def _plan(self) -> list[tuple[_Partition, list[Group]]]:
        """Pair each file to read with the in-memory traces that hash to it."""
        shares: list[list[Group]] = [[] for _ in self._partitions]
        sizes = [0] * len(self._partitions)
        fanout = len(self._partitions)
        for trace, spans in self._groups.items():
            index = hash(trace) % fanout
            shares[index].append((trace, spans))
            sizes[index] += len(spans)
        self._groups = defaultdict(list)
        self._buffered = 0
        # What stays in memory, plus the largest file read next to it, must fit the bound.
        budget = self._memory_spans - max(partition.spans for partition in self._partitions)
        kept = 0
        plan: list[tuple[_Partition, list[Group]]] = []
        for partition, share, size in zip(self._partitions, shares, sizes, strict=True):
            if share and kept + size <= budget:
                kept += size
            elif share:
                partition.write(span for _, spans in share for span in spans)
                share = []
            if partition.spans > self._memory_spans and partition.depth < _MAX_DEPTH:
                plan.extend((leaf, []) for leaf in self._leaves([partition]))  # split it
            else:
                plan.append((partition, share))
        return plan

    def close(self) -> None:
        """Delete the spill files; safe to call twice."""
        for partition in self._partitions + [leaf for leaf, _ in self._done or []]:
            partition.close()
        if self._spill_dir is not None:
            shutil.rmtree(self._spill_dir, ignore_errors=True)
            self._spill_dir = None
        self._groups = defaultdict(list)

    def __enter__(self) -> SpanStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- spilling ----------------------------------------------------------------------------

    def _spill(self) -> None:
        if self._spill_dir is None:
            self._spill_dir = tempfile.mkdtemp(prefix="vaquero-analyze-", dir=self._directory)
            self._partitions = self._new_partitions(0, "p")
        self.spills += 1
        _scatter(self._groups.items(), self._partitions, 0)
        self._groups = defaultdict(list)
        self._buffered = 0

    def _new_partitions(self, depth: int, stem: str) -> list[_Partition]:
        assert self._spill_dir is not None
        return [_Partition(os.path.join(self._spill_dir, f"{stem}{index}"), depth)
                for index in range(self._fanout)]

    def _leaves(self, partitions: list[_Partition]) -> Iterator[_Partition]:
        """The files to read, splitting any that would not fit in memory on its own."""
        for index, partition in enumerate(partitions):
            partition.close()
            if partition.spans <= self._memory_spans or partition.depth >= _MAX_DEPTH:
                yield partition
                continue
            depth = partition.depth + 1
            children = self._new_partitions(depth, f"{os.path.basename(partition.path)}.{index}.")
            for chunk in partition.chunks():
                _scatter(_group([chunk]).items(), children, depth)
            os.unlink(partition.path)
            partition.spans = 0
            yield from self._leaves(children)


def _scatter(groups: Iterable[Group], partitions: list[_Partition], depth: int) -> None:
    """Write each trace's spans to the partition its id hashes to (seeded by ``depth``).

    Plain-tuple copies (marshal refuses NamedTuples) are made one chunk at a time, so the
    extra memory while spilling is one chunk's worth, not the whole buffer's.
    """
    fanout = len(partitions)
    by_partition: list[list[list[Span]]] = [[] for _ in partitions]
    for trace, spans in groups:
        key = hash(trace) if depth == 0 else hash((depth, trace))
        by_partition[key % fanout].append(spans)
    for partition, members in zip(partitions, by_partition, strict=True):
        if members:
            partition.write(span for spans in members for span in spans)


def _group(chunks: Iterable[list[tuple[Any, ...]]]) -> defaultdict[str, list[Span]]:
    groups: defaultdict[str, list[Span]] = defaultdict(list)
    new = _new_tuple
    for chunk in chunks:
        for record in chunk:
            groups[record[0]].append(new(Span, record))
    return groups
