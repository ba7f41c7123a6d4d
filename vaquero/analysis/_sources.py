"""Stream spans out of a trace source: a JSONL file, a gzipped one, stdin, or Jaeger.

Files are read line by line and never loaded whole, so memory does not grow with file size.
Bad lines are a fact of life (a process killed mid-write leaves half a line), so they are
skipped and counted, and the first few are kept with their line numbers for the user; the rest
of the file is still analysed. What is *not* tolerated is a source that is not OTLP at all:
analysing it would print an empty, misleading report, so it raises ``AnalysisInputError``.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from vaquero.analysis._decode import decode_traces_data, traces_data_of
from vaquero.analysis._jaeger import DEFAULT_LOOKBACK_NS, fetch_traces_documents
from vaquero.analysis._span import Span
from vaquero.analysis.errors import AnalysisInputError

__all__ = ["MAX_REPORTED_PROBLEMS", "ReadStats", "is_url", "read_spans"]

MAX_REPORTED_PROBLEMS = 5
# How many non-empty lines may go by without one OTLP document before we call the file foreign.
_SNIFF_LINES = 100
_GZIP_MAGIC = b"\x1f\x8b"
_ByteStream = IO[bytes] | gzip.GzipFile
_FILE_FIX = ("Pass the OTLP JSON-lines file vaquero's file exporter or the Collector's file "
             "exporter wrote (one TracesData object per line), '-' for stdin, or a Jaeger "
             "query URL such as http://localhost:16686.")


@dataclass
class ReadStats:
    """What reading saw, for the summary line and the malformed-line report."""

    spans_read: int = 0
    malformed_lines: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    def bad_line(self, line_no: int, reason: str) -> None:
        self.malformed_lines += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append((line_no, reason))


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def read_spans(
    source: str, stats: ReadStats, *, since_ns: int | None, now_ns: int
) -> Iterator[list[Span]]:
    """Yield spans in batches (one per input line or Jaeger answer), updating ``stats``."""
    if is_url(source):
        lookback = since_ns if since_ns is not None else DEFAULT_LOOKBACK_NS
        yield from _read_jaeger(source, stats, now_ns - lookback, now_ns)
    else:
        yield from _read_file(source, stats)


def _read_jaeger(
    base: str, stats: ReadStats, start_min: int, start_max: int
) -> Iterator[list[Span]]:
    # A trace that crosses services comes back once per service: keep the first copy only.
    seen_traces: set[str] = set()
    for answer_no, document in enumerate(
        fetch_traces_documents(base, start_min_ns=start_min, start_max_ns=start_max), 1
    ):
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


def _read_file(source: str, stats: ReadStats) -> Iterator[list[Span]]:
    stream = _open(source)
    try:
        yield from _read_lines(stream, source, stats)
    except (OSError, EOFError) as err:  # a truncated/corrupt gzip member, an I/O error mid-read
        raise AnalysisInputError(f"{source}: read failed ({err}). {_FILE_FIX}") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _read_lines(stream: Iterable[bytes], source: str, stats: ReadStats) -> Iterator[list[Span]]:
    seen_otlp = False
    non_empty = 0
    for line_no, line in enumerate(stream, 1):
        if not line.strip():
            continue
        non_empty += 1
        document: Any
        try:
            document = json.loads(line)
        except ValueError as err:
            stats.bad_line(line_no, f"invalid JSON ({_json_reason(err)})")
            document = None
        else:
            data = traces_data_of(document)
            if data is None:
                stats.bad_line(line_no, "not an OTLP TracesData object (no resourceSpans)")
            else:
                seen_otlp = True
                batch: list[Span] = []
                problems = decode_traces_data(data, batch)
                if problems:
                    stats.bad_line(line_no, _summarise(problems))
                stats.spans_read += len(batch)
                yield batch
        if not seen_otlp and non_empty >= _SNIFF_LINES:
            break
    if not seen_otlp and non_empty:
        raise AnalysisInputError(
            f"{source} is not OTLP JSON: none of its first {min(non_empty, _SNIFF_LINES)} lines "
            f"holds a TracesData object with resourceSpans. {_FILE_FIX}"
        )


def _open(source: str) -> _ByteStream:
    if source == "-":
        return sys.stdin.buffer
    try:
        raw = open(source, "rb")  # noqa: SIM115 - closed by _read_file
    except FileNotFoundError:
        raise AnalysisInputError(f"{source}: no such file. {_FILE_FIX}") from None
    except IsADirectoryError:
        raise AnalysisInputError(
            f"{source} is a directory, not a trace file. {_FILE_FIX}"
        ) from None
    except OSError as err:
        raise AnalysisInputError(
            f"{source}: cannot open ({err.strerror or err}). Check its permissions. {_FILE_FIX}"
        ) from None
    try:
        magic = raw.read(2)
        raw.seek(0)
    except OSError as err:
        raw.close()
        raise AnalysisInputError(f"{source}: cannot read ({err.strerror or err}).") from None
    if magic == _GZIP_MAGIC:  # by content, not name: rotated logs are not always named .gz
        raw.close()
        return gzip.GzipFile(source, "rb")
    return raw


def _json_reason(err: ValueError) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"{err.msg} at character {err.pos + 1}"
    return str(err)[:80]


def _summarise(problems: list[str]) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"span skipped: {problems[0]}{more}"
