"""Inputs people have: zstd (both Collector layouts), gzip and zstd on stdin, pretty-printed
documents, Jaeger v1 JSON (refused with a hint), and compressed files cut short."""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaquero.analysis import AnalysisInputError, analyze

zstandard = pytest.importorskip("zstandard")

FIXTURES = Path(__file__).parent / "fixtures" / "analysis"
PLAIN = FIXTURES / "workflows.jsonl"
REPO = Path(__file__).resolve().parent.parent


def _baseline() -> dict:
    return analyze(PLAIN).to_dict()


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "vaquero.analysis", *args], input=stdin,
                          capture_output=True, cwd=REPO, timeout=120)


def _lines() -> list[bytes]:
    return [line for line in PLAIN.read_bytes().splitlines(keepends=True) if line.strip()]


def test_zstd_stream_reads_like_the_plain_file(tmp_path: Path) -> None:
    packed = tmp_path / "traces.jsonl.zst"
    # Several frames, as a writer that flushes per batch produces.
    compressor = zstandard.ZstdCompressor()
    packed.write_bytes(b"".join(compressor.compress(line) for line in _lines()))
    assert analyze(packed).to_dict() == _baseline()


def test_collector_length_prefixed_zstd_records(tmp_path: Path) -> None:
    """The Collector's file exporter default for format json + compression zstd."""
    packed = tmp_path / "collector.json"  # the exporter keeps the .json name
    compressor = zstandard.ZstdCompressor()
    records = []
    for line in _lines():
        frame = compressor.compress(line.strip())
        records.append(struct.pack(">I", len(frame)) + frame)
    packed.write_bytes(b"".join(records))
    assert analyze(packed).to_dict() == _baseline()


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_compressed_stdin(kind: str) -> None:
    data = PLAIN.read_bytes()
    packed = gzip.compress(data) if kind == "gzip" else zstandard.ZstdCompressor().compress(data)
    proc = _cli("analyze", "-", "--json", stdin=packed)
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout) == _baseline()


def test_missing_zstandard_is_one_clear_message(tmp_path: Path) -> None:
    packed = tmp_path / "traces.jsonl.zst"
    packed.write_bytes(zstandard.ZstdCompressor().compress(PLAIN.read_bytes()))
    script = ("import sys; sys.modules['zstandard'] = None; "
              "sys.modules['compression.zstd'] = None; "
              "from vaquero.analysis.__main__ import main; sys.exit(main())")
    proc = subprocess.run([sys.executable, "-c", script, "analyze", str(packed)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "zstd-compressed" in proc.stderr and "pip install zstandard" in proc.stderr


@pytest.mark.parametrize("indent", [2, None])
def test_one_pretty_printed_document(tmp_path: Path, indent: int | None) -> None:
    merged = {"resourceSpans": [block for line in _lines()
                                for block in json.loads(line)["resourceSpans"]]}
    path = tmp_path / "download.json"
    path.write_text(json.dumps(merged, indent=indent or 2))
    assert analyze(path).to_dict() == _baseline()


def test_pretty_printed_document_on_stdin() -> None:
    merged = {"resourceSpans": [block for line in _lines()
                                for block in json.loads(line)["resourceSpans"]]}
    proc = _cli("analyze", "-", "--json", stdin=json.dumps(merged, indent=4).encode())
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout) == _baseline()


def test_jq_style_stream_of_pretty_documents_and_arrays(tmp_path: Path) -> None:
    documents = [json.loads(line) for line in _lines()]
    path = tmp_path / "jq.json"
    path.write_text("\n".join(json.dumps(doc, indent=2) for doc in documents) + "\n")
    assert analyze(path).to_dict() == _baseline()
    array = tmp_path / "array.json"
    array.write_text(json.dumps(documents, indent=1))
    assert analyze(array).to_dict() == _baseline()


@pytest.mark.parametrize("shape", ["ui", "api", "span_lines"])
def test_jaeger_v1_json_gets_a_hint(tmp_path: Path, shape: str) -> None:
    span = {"traceID": "ab" * 8, "spanID": "cd" * 8, "operationName": "checkout",
            "references": [], "startTime": 1_700_000_000_000_000, "duration": 1200,
            "tags": [], "processID": "p1"}
    trace = {"traceID": "ab" * 8, "spans": [span], "processes": {"p1": {"serviceName": "x"}}}
    path = tmp_path / "jaeger-v1.json"
    if shape == "ui":
        path.write_text(json.dumps({"data": [trace]}, indent=2))
    elif shape == "api":
        path.write_text(json.dumps({"data": [trace], "total": 0, "limit": 0, "errors": None}))
    else:
        path.write_text(json.dumps(span) + "\n" + json.dumps(span) + "\n")
    with pytest.raises(AnalysisInputError, match="Jaeger's v1 JSON") as caught:
        analyze(path)
    assert "vaquero analyze http://" in str(caught.value)


def _zstd_stream(data: bytes) -> bytes:
    compressor = zstandard.ZstdCompressor()
    lines = data.splitlines(keepends=True)
    return b"".join(compressor.compress(b"".join(lines[i:i + 4]))
                    for i in range(0, len(lines), 4))


def _zstd_records(data: bytes) -> bytes:
    compressor = zstandard.ZstdCompressor()
    frames = [compressor.compress(line.strip()) for line in data.splitlines() if line.strip()]
    return b"".join(struct.pack(">I", len(frame)) + frame for frame in frames)


@pytest.mark.parametrize("kind", ["gzip", "zstd", "zstd records"])
def test_every_cut_of_a_compressed_file_keeps_what_was_read(tmp_path: Path, kind: str) -> None:
    """The class, not the example: cut the file at many points; never an error, never more
    than the whole, and a notice naming the line whenever something was lost."""
    data = PLAIN.read_bytes() * 8
    packed = {"gzip": gzip.compress, "zstd": _zstd_stream,
              "zstd records": _zstd_records}[kind](data)
    whole = analyze(PLAIN).spans_read * 8
    path = tmp_path / f"cut.{kind.replace(' ', '-')}"
    seen = []
    for cut in range(len(packed) // 20, len(packed) - 1, max(1, len(packed) // 23)):
        path.write_bytes(packed[:cut])
        result = analyze(path)
        assert result.spans_read < whole
        (notice,) = result.notices
        assert "after line" in notice
        assert f"{kind} data ends early" in notice or "zstd record" in notice
        assert "file ends inside" in notice or "cut off" in notice or "data ends" in notice
        seen.append(result.spans_read)
    assert seen == sorted(seen) and seen[-1] > 0


@pytest.mark.parametrize("kind", ["gzip", "zstd", "plain"])
def test_stdin_that_trickles_in_is_still_recognised(kind: str, monkeypatch: pytest.MonkeyPatch,
                                                   ) -> None:
    """A pipe can hand over its first byte alone; the format must not be guessed from it."""
    data = PLAIN.read_bytes()
    packed = {"gzip": gzip.compress, "zstd": zstandard.ZstdCompressor().compress,
              "plain": bytes}[kind](data)
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        with os.fdopen(write_fd, "wb") as out:
            out.write(packed[:1])
            out.flush()
            time.sleep(0.2)
            out.write(packed[1:])

    thread = threading.Thread(target=writer)
    thread.start()
    with os.fdopen(read_fd, "rb") as pipe:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(pipe))
        result = analyze("-")
    thread.join()
    assert result.to_dict() == _baseline()


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                  max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(documents=st.lists(_json_values, max_size=6),
       gaps=st.lists(st.sampled_from(["", " ", "\n", "\r\n", "\t", ",", ",\n"]), min_size=7,
                     max_size=7),
       indent=st.sampled_from([None, 2]), garbage=st.booleans())
def test_back_to_back_documents_are_read_in_order_up_to_the_first_bad_one(
    documents: list[object], gaps: list[str], indent: int | None, garbage: bool
) -> None:
    """The one reader of concatenated JSON (pretty-printed files, Jaeger's streamed
    chunks): every document with the position it starts at, then the error where a bad one
    starts, never a document after it."""
    from vaquero.analysis._json import back_to_back

    text, starts = "", []
    for document, gap in zip(documents, gaps, strict=False):
        text += gap
        starts.append(len(text))
        text += json.dumps(document, indent=indent)
        if not isinstance(document, (dict, list)):
            text += " "  # a bare number or literal needs a boundary before the next
    if garbage:
        text += "{not json} " + json.dumps({"after": 1})
    read = []
    try:
        for start, document in back_to_back(text, " \t\r\n,"):
            read.append((start, document))
    except json.JSONDecodeError as error:
        assert garbage
        assert text[error.pos - 1 : error.pos + 8].find("not json") >= 0
    else:
        assert not garbage
    assert read == list(zip(starts, documents, strict=True))


def test_a_bad_document_in_a_pretty_stream_is_reported_at_its_line(tmp_path: Path) -> None:
    documents = [json.loads(line) for line in _lines()]
    head = "\n".join(json.dumps(doc, indent=2) for doc in documents)
    path = tmp_path / "cut.json"
    path.write_text(head + "\n{\n  \"resourceSpans\": [oops]\n}\n" + json.dumps(documents[0]))
    result = analyze(path)
    assert result.spans_read == analyze_lines_count(documents)
    ((line, message),) = result.problems
    assert line == head.count("\n") + 3  # the line holding "oops"
    assert "the rest of the document was not read" in message


def analyze_lines_count(documents: list[dict]) -> int:
    return sum(len(scope["spans"]) for doc in documents for block in doc["resourceSpans"]
               for scope in block["scopeSpans"])
