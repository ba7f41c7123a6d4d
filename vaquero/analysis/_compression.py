"""Open a trace file or stdin as a stream of lines, whatever compression it arrived in.

Compression is recognised by content, never by name (rotated logs lose their suffix, stdin has
none):

* gzip (``1f 8b``): the stdlib, also on stdin.
* zstd stream (``28 b5 2f fd``): one or more frames of JSON lines, what the Collector's file
  exporter writes with native compression enabled.
* length-prefixed zstd frames (a 4-byte big-endian length, then a frame): what the Collector's
  file exporter writes for ``format: json`` + ``compression: zstd`` by default. Each frame holds
  one ``TracesData`` document, handed on as one "line".

zstd needs the optional ``zstandard`` package (or Python 3.14's ``compression.zstd``); without
either, the user gets one sentence saying what to install or how to decompress by hand.

A compressed file cut short (a copy interrupted, a disk full) raises :class:`Truncated` from the
line iterator at the point where data stops; everything before it has already been handed on,
so the caller can keep and analyse it.

No line is ever read whole past ``max_record`` bytes (``/dev/zero``, a 1 GiB line in a 1 MB
gzip): the iterator hands on an :class:`OverLong` in its place, and skips the rest of that
line only once asked for the next one, so a caller that gives up reads no further.
"""

from __future__ import annotations

import gzip
import importlib
import io
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

from vaquero.analysis._limits import MAX_RECORD_BYTES
from vaquero.analysis.errors import AnalysisInputError

__all__ = ["FILE_FIX", "Opened", "OverLong", "Truncated", "open_input"]

FILE_FIX = ("Pass the OTLP JSON-lines file vaquero's file exporter or the Collector's file "
            "exporter wrote (one TracesData object per line; gzip or zstd is fine), '-' for "
            "stdin, or a Jaeger query URL such as http://localhost:16686.")

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 16
# zstd input is fed this much at a time: a block header and one RLE byte can stand for 128 KiB,
# so 64 KiB of hostile input could decompress to 2 GiB in one call; 512 bytes to 16 MiB at most.
_SLICE = 512
_ZSTD_FIX = ("pip install zstandard (or: pip install 'vaquero[zstd]'), or decompress it first: "
             "zstd -d FILE")


class Truncated(Exception):
    """Compressed data ended early or is corrupt; ``str()`` says how."""


class OverLong:
    """Stands for a record longer than the bound; ``size`` is how much of it was seen."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


Line = bytes | OverLong


class Opened:
    """A source opened for reading: its lines, what compression it had, and how to close it."""

    def __init__(self, lines: Iterator[Line], kind: str, closers: list[Callable[[], Any]]):
        self.lines = lines
        self.kind = kind
        self._closers = closers

    def close(self) -> None:
        for close in self._closers:
            try:
                close()
            except OSError:
                pass


def open_input(source: str, max_record: int = MAX_RECORD_BYTES) -> Opened:
    """Open ``source`` (a path, or ``"-"`` for stdin); raises ``AnalysisInputError``.

    Lines (or length-prefixed records) over ``max_record`` bytes come out as :class:`OverLong`.
    """
    closers: list[Callable[[], Any]] = []
    if source == "-":
        stdin: Any = sys.stdin.buffer
        raw: IO[bytes] = stdin if hasattr(stdin, "peek") else io.BufferedReader(stdin)
    else:
        raw = _open_file(source)
        closers.append(raw.close)
    try:
        head = raw.peek(8)[:8]  # type: ignore[attr-defined]
        if len(head) < 8:  # a pipe may hand over fewer bytes at first: wait for eight
            head = raw.read(8)
            raw = io.BufferedReader(_Prefixed(head, raw), buffer_size=_CHUNK)
    except OSError as err:
        raw.close()
        raise AnalysisInputError(f"{source}: cannot read ({err.strerror or err}).") from None
    if head[:2] == _GZIP_MAGIC:
        unpacked = gzip.GzipFile(fileobj=raw, mode="rb")
        closers.insert(0, unpacked.close)
        return Opened(_guarded(_bounded_lines(unpacked, max_record), "gzip"), "gzip", closers)
    if head[:4] == _ZSTD_MAGIC:
        reader = io.BufferedReader(_ZstdStream(raw, _zstd_factory(source)), buffer_size=_CHUNK)
        return Opened(_guarded(_bounded_lines(reader, max_record), "zstd"), "zstd", closers)
    if len(head) >= 8 and head[4:8] == _ZSTD_MAGIC:
        return Opened(_prefixed_frames(raw, _zstd_factory(source), max_record), "zstd", closers)
    return Opened(_bounded_lines(raw, max_record), "plain", closers)


def _bounded_lines(stream: IO[bytes] | gzip.GzipFile, limit: int) -> Iterator[Line]:
    """The lines of ``stream``, none held past ``limit`` bytes (see the module docstring)."""
    readline = stream.readline
    while True:
        line = readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        yield OverLong(len(line))
        while line and not line.endswith(b"\n"):  # the rest of it, a chunk at a time
            line = readline(_CHUNK)


class _Prefixed(io.RawIOBase):
    """``prefix`` then the rest of ``raw``: the sniffed bytes put back in front."""

    def __init__(self, prefix: bytes, raw: IO[bytes]) -> None:
        super().__init__()
        self._prefix = prefix
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        chunk = self._raw.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


def _open_file(source: str) -> IO[bytes]:
    try:
        return open(source, "rb")
    except FileNotFoundError:
        raise AnalysisInputError(f"{source}: no such file. {FILE_FIX}") from None
    except IsADirectoryError:
        raise AnalysisInputError(f"{source} is a directory, not a trace file. {FILE_FIX}") from None
    except OSError as err:
        raise AnalysisInputError(
            f"{source}: cannot open ({err.strerror or err}). Check its permissions. {FILE_FIX}"
        ) from None


def _guarded(lines: Iterator[Line], kind: str) -> Iterator[Line]:
    """Re-raise the decompressors' many end-of-data errors as one :class:`Truncated`."""
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except (EOFError, zlib.error, gzip.BadGzipFile, _ZstdError) as err:
            raise Truncated(f"the {kind} data ends early or is corrupt ({err})") from None
        yield line


class _ZstdError(Exception):
    """Any failure inside the zstd decompressor."""


def _zstd_factory(source: str) -> Callable[[], Any]:
    """A maker of zstd decompress objects (``decompress``/``eof``/``unused_data``)."""
    try:
        zstandard: Any = importlib.import_module("zstandard")
    except ImportError:
        pass
    else:
        return lambda: zstandard.ZstdDecompressor().decompressobj()
    try:
        stdlib_zstd: Any = importlib.import_module("compression.zstd")
    except ImportError:
        raise AnalysisInputError(
            f"{source} is zstd-compressed, and reading zstd needs the optional zstandard "
            f"package: {_ZSTD_FIX}."
        ) from None
    return stdlib_zstd.ZstdDecompressor  # type: ignore[no-any-return]


class _ZstdStream(io.RawIOBase):
    """Decompressed bytes of consecutive zstd frames, read in chunks (never the whole file)."""

    def __init__(self, raw: IO[bytes], make: Callable[[], Any]) -> None:
        super().__init__()
        self._raw = raw
        self._make = make
        self._decoder = make()
        self._fed = False
        self._pending = memoryview(b"")
        self._input = memoryview(b"")
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._at >= len(self._input):
                chunk = self._raw.read(_CHUNK)
                if not chunk:
                    if self._fed and not self._decoder.eof:
                        raise _ZstdError("the last zstd frame is incomplete")
                    return 0
                self._input, self._at = memoryview(chunk), 0
            piece = bytes(self._input[self._at:self._at + _SLICE])
            self._at += len(piece)
            self._pending = memoryview(self._decompress(piece))
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _decompress(self, chunk: bytes) -> bytes:
        out = []
        while chunk:
            if self._decoder.eof:
                self._decoder = self._make()
            self._fed = True
            try:
                out.append(self._decoder.decompress(chunk))
            except Exception as err:  # zstandard.ZstdError and friends share no base
                raise _ZstdError(str(err)) from None
            chunk = self._decoder.unused_data if self._decoder.eof else b""
        return b"".join(out)


def _prefixed_frames(raw: IO[bytes], make: Callable[[], Any], limit: int) -> Iterator[Line]:
    """One decompressed document per ``<uint32 length><zstd frame>`` record."""
    while True:
        header = raw.read(4)
        if not header:
            return
        if len(header) < 4:
            raise Truncated("the file ends inside a record's 4-byte length")
        (size,) = struct.unpack(">I", header)
        if size > limit:
            yield OverLong(size)
            left = size
            while left > 0:
                chunk = raw.read(min(left, _CHUNK))
                if not chunk:
                    raise Truncated(f"a {size:,}-byte zstd record is cut off")
                left -= len(chunk)
            continue
        frame = raw.read(size)
        if len(frame) < size:
            raise Truncated(f"a {size:,}-byte zstd record is cut off after {len(frame):,} bytes")
        decoder = make()
        parts: list[bytes] = []
        held = 0
        for at in range(0, size, _SLICE):
            try:
                part = decoder.decompress(frame[at:at + _SLICE])
            except Exception as err:  # zstandard.ZstdError and friends share no base
                raise Truncated(f"a zstd record is corrupt ({err})") from None
            held += len(part)
            if held > limit:
                break
            parts.append(part)
            if decoder.eof:
                break
        if held > limit:
            yield OverLong(held)  # decompressed past the bound: the rest is not unpacked
            continue
        if not decoder.eof:
            raise Truncated("a zstd record is incomplete")
        yield b"".join(parts)
