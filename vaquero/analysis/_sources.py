"""Stream spans out of a trace source: a JSONL file (plain, gzip or zstd), stdin, or Jaeger.

Files are read line by line and never loaded whole, so memory does not grow with file size.
Bad lines are a fact of life (a process killed mid-write leaves half a line), so they are
skipped and counted, and the first few are kept with their line numbers for the user; the rest
of the file is still analysed. What is *not* tolerated is a source that is not OTLP at all:
analysing it would print an empty, misleading report, so it raises ``AnalysisInputError``
(with a pointer to the v3 API when the input is Jaeger's own v1 JSON).

Two shapes besides JSON lines are accepted:

* **One pretty-printed document** (``jq .`` output, a UI download): recognised when the first
  line opens a JSON value without closing it. That input is parsed whole, as one or more
  documents back to back (or a JSON array of them); it is the one case that is held in memory.
* **A compressed file cut short**: what was read is kept and analysed, and a notice says after
  which line reading stopped, instead of throwing the partial work away.

Anything the user must know about what was *not* read goes to ``ReadStats.notices``.

Nothing in the input can make reading cost unbounded memory: a line longer than
``MAX_RECORD_BYTES`` is skipped and reported at its line number (and, as the very first thing
in the input, means the input is not JSON lines at all: ``/dev/zero``), and so is a
pretty-printed document past that size, with the command that turns it into lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from vaquero.analysis._compression import FILE_FIX, Line, OverLong, Truncated, open_input
from vaquero.analysis._decode import decode_traces_data, traces_data_of
from vaquero.analysis._jaeger import DEFAULT_LOOKBACK_NS, JaegerOptions, fetch_traces_documents
from vaquero.analysis._json import back_to_back, loads
from vaquero.analysis._limits import MAX_NOTICES, MAX_RECORD_BYTES
from vaquero.analysis._span import Span
from vaquero.analysis.errors import AnalysisInputError

__all__ = ["FILE_FIX", "MAX_REPORTED_PROBLEMS", "ReadStats", "is_url", "read_spans"]

MAX_REPORTED_PROBLEMS = 5
# Lines longer than this ask for room before they are parsed (see ReadStats.make_room).
_LONG_RECORD = 1 << 20
# How many non-empty lines may go by without one OTLP document before we call the file foreign.
_SNIFF_LINES = 100
# A pretty-printer breaks lines right after these; a JSON line never ends with one.
_OPENERS = (b"{", b"[", b",", b":")
_V1_HINT = ("It looks like Jaeger's v1 JSON (traceID/spans/processes, from /api/traces or the "
            "UI's download), which is not OTLP. Read the same traces over Jaeger's OTLP-shaped "
            "API instead: vaquero analyze http://JAEGER:16686 (Jaeger 1.53 or later).")
_SPLIT_FIX = ("split it into one line per resource first: "
              "jq -c '.resourceSpans[] | {resourceSpans: [.]}' FILE > traces.jsonl")


@dataclass
class ReadStats:
    """What reading saw, for the summary line, the malformed-line report and the notices."""

    spans_read: int = 0
    malformed_lines: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    hidden_notices: int = 0
    # Called with a record's length before a long one is parsed, so that whoever holds the
    # spans read so far can make room for the parse (the engine: SpanStore.make_room).
    make_room: Callable[[int], None] | None = None

    def bad_line(self, line_no: int, reason: str) -> None:
        self.malformed_lines += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append((line_no, reason))

    def notice(self, text: str) -> None:
        """Something not read (a Jaeger limit, a failed service, a cut-off file).

        The first :data:`MAX_NOTICES` are kept word for word, the rest only counted (a
        Jaeger with ten thousand failing services must not grow this without bound).
        """
        if len(self.notices) < MAX_NOTICES:
            self.notices.append(text)
        else:
            self.hidden_notices += 1

    def closing_notices(self) -> tuple[str, ...]:
        """The notices, with one more saying how many were left out."""
        if not self.hidden_notices:
            return tuple(self.notices)
        return (*self.notices, f"{self.hidden_notices:,} more warnings like these were left "
                               "out.")


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def read_spans(
    source: str,
    stats: ReadStats,
    *,
    since_ns: int | None,
    now_ns: int,
    jaeger: JaegerOptions | None = None,
) -> Iterator[list[Span]]:
    """Yield spans in batches (one per input line or Jaeger answer), updating ``stats``."""
    if is_url(source):
        lookback = since_ns if since_ns is not None else DEFAULT_LOOKBACK_NS
        yield from _read_jaeger(source, stats, max(0, now_ns - lookback), now_ns, jaeger)
    else:
        yield from _read_file(source, stats)


def _read_jaeger(
    base: str, stats: ReadStats, start_min: int, start_max: int, options: JaegerOptions | None
) -> Iterator[list[Span]]:
    # A trace that crosses services comes back once per service, and a trace on a paging
    # window's edge comes back twice: keep the first copy only.
    seen_traces: set[str] = set()
    documents = fetch_traces_documents(base, start_min_ns=start_min, start_max_ns=start_max,
                                       options=options, notice=stats.notice)
    for answer_no, document in enumerate(documents, 1):
        data = traces_data_of(document)
        if data is None:
            stats.bad_line(answer_no, "Jaeger answer holds no OTLP resourceSpans")
            continue
        batch: list[Span] = []
        problems = decode_traces_data(data, batch)
        if problems:
            stats.bad_line(answer_no, _summarise(problems))
        fresh = [span for span in batch if span.trace_id not in seen_traces]
        seen_traces.update(span.trace_id for span in fresh)
        stats.spans_read += len(fresh)
        yield fresh


def _read_file(source: str, stats: ReadStats,
               max_record: int = MAX_RECORD_BYTES) -> Iterator[list[Span]]:
    opened = open_input(source, max_record)
    reader = _Reader(source, stats, max_record)
    try:
        yield from reader.read(opened.lines, opened.kind)
    except OSError as err:  # an I/O error mid-read on an uncompressed file
        raise AnalysisInputError(f"{source}: read failed ({err}). {FILE_FIX}") from None
    finally:
        opened.close()


class _Reader:
    """Line-by-line (or whole-document) decoding of one file, with its bookkeeping."""

    def __init__(self, source: str, stats: ReadStats, max_record: int) -> None:
        self.source = source
        self.stats = stats
        self.max_record = max_record
        self.told_split = False
        self.seen_otlp = False
        self.jaeger_v1 = False
        self.line_no = 0
        self.bytes_read = 0

    def read(self, lines: Iterator[Line], kind: str) -> Iterator[list[Span]]:
        try:
            yield from self._lines(self._counted(lines))
        except Truncated as err:
            self.stats.notice(
                f"{self.source}: {err} after line {self.line_no:,} ({self.bytes_read:,} bytes "
                f"once decompressed); the lines before were analysed, the rest could not be "
                "read."
            )
        self._check_was_otlp()

    def _counted(self, lines: Iterator[Line]) -> Iterator[Line]:
        for line in lines:
            self.line_no += 1
            self.bytes_read += line.size if isinstance(line, OverLong) else len(line)
            yield line

    def _over_long(self) -> None:
        """An over-long line: skipped and reported, or the end if nothing was OTLP yet."""
        limit = f"{self.max_record >> 20} MiB" if self.max_record >= 1 << 20 else (
            f"{self.max_record:,} bytes")
        if not self.seen_otlp:
            raise AnalysisInputError(
                f"{self.source} is not OTLP JSON lines: line {self.line_no:,} runs past "
                f"{limit} without a line break, and no line before it held a TracesData "
                f"object. {FILE_FIX}")
        self.stats.bad_line(self.line_no, f"longer than {limit}, more than one line may "
                                          "hold; skipped")
        if not self.told_split:
            self.told_split = True
            self.stats.notice(f"{self.source}: lines over {limit} were skipped (each is read "
                              f"whole, in memory); {_SPLIT_FIX}, or send smaller batches (the "
                              "Collector's batch processor: send_batch_max_size).")

    def _lines(self, lines: Iterator[Line]) -> Iterator[list[Span]]:
        non_empty = 0
        for line in lines:
            if isinstance(line, OverLong):
                non_empty += 1
                self._over_long()
                continue
            stripped = line.strip()
            if not stripped:
                continue
            non_empty += 1
            if non_empty == 1 and stripped.endswith(_OPENERS):
                yield from self._whole_document(line, lines)
                return
            if len(line) > _LONG_RECORD and self.stats.make_room is not None:
                self.stats.make_room(len(line))
            try:
                document = loads(line)  # orjson when installed; errors are json's
            except ValueError as err:
                self.stats.bad_line(self.line_no, f"invalid JSON ({_json_reason(err)})")
            else:
                batch = self._document(document, self.line_no)
                if batch is not None:
                    yield batch
            if not self.seen_otlp and non_empty >= _SNIFF_LINES:
                return

    def _whole_document(self, first: bytes, rest: Iterable[Line]) -> Iterator[list[Span]]:
        """A pretty-printed document (or several back to back, as ``jq .`` prints them)."""
        first_line = self.line_no
        parts, size = [first], len(first)
        for line in rest:
            size += line.size if isinstance(line, OverLong) else len(line)
            if size > self.max_record or isinstance(line, OverLong):
                raise AnalysisInputError(
                    f"{self.source}: the pretty-printed JSON starting at line {first_line:,} is "
                    f"over {self.max_record >> 20} MiB, more than vaquero reads as one "
                    f"document; {_SPLIT_FIX}")
            parts.append(line)
        if self.stats.make_room is not None:
            self.stats.make_room(size)
        text = b"".join(parts).decode("utf-8", errors="replace")
        del parts
        documents = back_to_back(text)
        while True:
            try:
                position, document = next(documents)
            except StopIteration:
                return
            except json.JSONDecodeError as err:
                at = first_line + text.count("\n", 0, err.pos)
                self.stats.bad_line(at, f"invalid JSON ({err.msg}); the rest of the document "
                                        "was not read")
                return
            line_no = first_line + text.count("\n", 0, position)
            for item in document if isinstance(document, list) else (document,):
                batch = self._document(item, line_no)
                if batch is not None:
                    yield batch

    def _document(self, document: Any, line_no: int) -> list[Span] | None:
        data = traces_data_of(document)
        if data is None:
            if _looks_like_jaeger_v1(document):
                self.jaeger_v1 = True
            self.stats.bad_line(line_no, "not an OTLP TracesData object (no resourceSpans)")
            return None
        self.seen_otlp = True
        batch: list[Span] = []
        problems = decode_traces_data(data, batch)
        if problems:
            self.stats.bad_line(line_no, _summarise(problems))
        self.stats.spans_read += len(batch)
        return batch

    def _check_was_otlp(self) -> None:
        if self.seen_otlp or not self.stats.malformed_lines:
            return
        if self.jaeger_v1:
            raise AnalysisInputError(f"{self.source} is not OTLP JSON. {_V1_HINT}")
        raise AnalysisInputError(
            f"{self.source} is not OTLP JSON: none of its first "
            f"{min(self.stats.malformed_lines, _SNIFF_LINES)} lines holds a TracesData "
            f"object with resourceSpans. {FILE_FIX}"
        )


def _looks_like_jaeger_v1(document: Any, depth: int = 0) -> bool:
    """Jaeger's v1 trace JSON: ``{"data": [trace]}``, one trace, a list of them, or a span.

    Looks at most four levels down: that is where v1 keeps its spans, and a deeper nesting
    must not cost a frame per level.
    """
    if depth > 3:
        return False
    if isinstance(document, list):
        return any(_looks_like_jaeger_v1(item, depth + 1) for item in document[:3])
    if not isinstance(document, dict):
        return False
    data = document.get("data")
    if isinstance(data, list):
        return any(_looks_like_jaeger_v1(item, depth + 1) for item in data[:3])
    return "traceID" in document and ("spans" in document or "operationName" in document)


def _json_reason(err: ValueError) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"{err.msg} at character {err.pos + 1}"
    return str(err)[:80]


def _summarise(problems: list[str]) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"span skipped: {problems[0]}{more}"
