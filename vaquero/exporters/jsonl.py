"""Append spans to a local file, one OTLP/JSON ``TracesData`` object per line.

Why one ``os.write`` per line on an ``O_APPEND`` descriptor: several processes (workers, forked
children, test runs) may append to the same file, and a line must never be torn by another
process's line. On Linux, a ``write(2)`` to a regular file opened with ``O_APPEND`` moves to the
end and writes under the inode lock, so whole writes from different processes do not interleave
on local file systems (ext4, xfs, btrfs, tmpfs). Looping over a short write would give that up,
because the second chunk is a separate append that another process can precede. The limits:
POSIX itself only promises atomicity for pipes up to ``PIPE_BUF``; NFS emulates ``O_APPEND`` on
the client and can interleave between hosts; a single write is capped near 2 GiB; and a short
write (disk full, ``RLIMIT_FSIZE``) can still leave a partial line, which we then finish
best-effort and report. Readers should skip a line that does not parse.

No buffering in user space: each batch reaches the kernel inside ``export()``, so a crash loses
at most the batch in flight and ``force_flush`` has nothing to wait for.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import weakref
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from vaquero.exporters.otlp_json import encode_spans_json

__all__ = ["JsonLinesSpanExporter"]

_logger = logging.getLogger("vaquero")

_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
_FILE_MODE = 0o644
_SHUTDOWN_WAIT_SECONDS = 5.0


def encode_line(spans: Sequence[ReadableSpan]) -> bytes:
    """One complete line: compact JSON, UTF-8, newline-terminated.

    Non-ASCII text stays as UTF-8 (prompts in any language stay readable and small); a string
    holding a lone surrogate cannot be UTF-8, so that rare batch falls back to ``\\u`` escapes.
    """
    document = encode_spans_json(spans)
    try:
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=True)
        return (text + "\n").encode("ascii")


class JsonLinesSpanExporter(SpanExporter):
    """Write each exported batch as one line of OTLP/JSON to ``path``.

    The file descriptor stays open between batches and is reopened in a forked child (so each
    process owns its own descriptor and lock) and when the file was deleted or rotated.
    Every failure is turned into ``SpanExportResult.FAILURE`` plus one warning per exporter:
    this runs on the SDK's export thread, where an exception would only be logged as a stack
    trace on every batch.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = os.fspath(path)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = os.getpid()
        self._shutdown = False
        self._warned: set[str] = set()
        self.dropped_spans = 0
        """Spans that could not be written; read by diagnostics such as ``vaquero doctor``."""
        if hasattr(os, "register_at_fork"):
            weak_reset = weakref.WeakMethod(self._reset_after_fork)

            def _after_in_child() -> None:
                reset = weak_reset()
                if reset is not None:
                    reset()

            os.register_at_fork(after_in_child=_after_in_child)

    @property
    def path(self) -> str:
        return self._path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        if self._shutdown:
            return SpanExportResult.FAILURE
        try:
            line = encode_line(spans)
        except Exception as error:  # the export thread must never see it
            return self._fail(len(spans), f"could not encode {len(spans)} spans: {error!r}")
        if os.getpid() != self._pid:
            # A fork that bypassed ``os.register_at_fork`` hooks; never share the parent's lock.
            self._reset_after_fork()
        with self._lock:
            try:
                self._write(line)
            except Exception as error:  # OSError in practice; nothing may reach the SDK
                self._close_fd()
                reason = getattr(error, "strerror", None) or error
                return self._fail(
                    len(spans),
                    f"cannot write traces to {self._path!r} ({reason}); "
                    "set VAQUERO_TRACES_FILE to a writable path",
                )
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Return True at once: nothing is buffered in user space, so within any
        ``timeout_millis`` every exported batch has already reached the kernel."""
        return True

    def shutdown(self) -> None:
        """Close the file; waits at most a few seconds for a write stuck in the kernel (NFS)."""
        self._shutdown = True
        if self._lock.acquire(timeout=_SHUTDOWN_WAIT_SECONDS):
            try:
                self._close_fd()
            finally:
                self._lock.release()

    def _write(self, line: bytes) -> None:
        fd = self._open()
        written = os.write(fd, line)
        if written == len(line):
            return
        # A short write already broke atomicity; finishing the line keeps the file parseable
        # from the next line on, which is worth more than the bytes of this one.
        self._warn_once("short", f"vaquero: short write to {self._path!r}; a line may be torn")
        view = memoryview(line)[written:]
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(f"write returned {written}")
            view = view[written:]

    def _open(self) -> int:
        if self._fd is not None and not self._fd_is_at_path(self._fd):
            self._close_fd()
        if self._fd is None:
            parent = os.path.dirname(self._path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            self._fd = os.open(self._path, _OPEN_FLAGS, _FILE_MODE)
        return self._fd

    def _fd_is_at_path(self, fd: int) -> bool:
        """False once the file was deleted or rotated away, so new lines go where people look.

        Two ``stat`` calls per batch are noise next to encoding the batch.
        """
        try:
            at_path = os.stat(self._path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (at_path.st_dev, at_path.st_ino) == (held.st_dev, held.st_ino)

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _reset_after_fork(self) -> None:
        """In a child: a fresh lock (the parent's may have been held mid-export) and own fd."""
        self._lock = threading.Lock()
        self._close_fd()
        self._pid = os.getpid()

    def _fail(self, count: int, message: str) -> SpanExportResult:
        self.dropped_spans += count
        self._warn_once("failure", f"vaquero: {message}; spans are being dropped")
        return SpanExportResult.FAILURE

    def _warn_once(self, kind: str, message: str) -> None:
        """One warning per kind of trouble: a dead disk must not flood the application's log."""
        if kind not in self._warned:
            self._warned.add(kind)
            _logger.warning(message)
