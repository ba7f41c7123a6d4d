"""One HTTP GET with the rules a client holding the user's credentials must keep.

``urllib.request.urlopen`` alone breaks three of them, and a hostile or broken server can
exploit each:

* **Credentials stay with their origin.** urllib's redirect handler copies every header to
  wherever a ``302`` points, so an ``Authorization`` given for one host was sent to another.
  Here the caller's headers follow a redirect only within the same origin (scheme, host,
  port); across origins they are dropped, and ``on_redirect`` is told each time the origin
  changed, so the caller can say whose data it is reading.
* **A deadline, not a per-read timeout.** urllib's ``timeout`` bounds each socket read, so a
  server that drips one byte every half second never trips it. Here the whole request
  (connection, headers, every redirect, the body) must finish within ``timeout``: a timer
  shuts the socket down when the time is up, which ends any read in progress.
* **A bounded answer.** ``response.read()`` holds whatever the server sends, an endless chunked
  body included. Here the body is read in pieces and refused past ``max_bytes``.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["HttpStatus", "Timeout", "TooLarge", "Unreachable", "get", "origin_of"]

_PIECE = 1 << 16
_MAX_ERROR_BODY = 1 << 16


class HttpStatus(Exception):
    """The server answered with an HTTP error status; ``body`` is the start of its text."""

    def __init__(self, code: int, body: bytes) -> None:
        super().__init__(f"HTTP {code}")
        self.code = code
        self.body = body


class Timeout(Exception):
    """The request did not finish within its deadline."""


class TooLarge(Exception):
    """The answer is larger than the caller allows; ``str()`` says how large."""


class Unreachable(Exception):
    """No answer at all (refused, no such host, reset); ``str()`` is the reason."""


def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


class _Guard:
    """The sockets of one request, and the timer that shuts them when the deadline passes."""

    def __init__(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(timeout, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def adopt(self, sock: socket.socket) -> None:
        with self._lock:
            if self.expired:
                raise TimeoutError("deadline passed")
            self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            try:  # the plain socket's shutdown, also under TLS: it ends a blocked read
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass


def _guarded(base: type[http.client.HTTPConnection], guard: _Guard) -> Any:
    """A connection class of ``base`` whose sockets the guard can shut."""

    class Guarded(base):  # type: ignore[misc,valid-type]
        def connect(self) -> None:
            remaining = guard.remaining()
            if remaining <= 0:
                raise TimeoutError("deadline passed")
            current = getattr(self, "timeout", None)
            self.timeout = min(current, remaining) if current else remaining
            super().connect()
            guard.adopt(self.sock)

    return Guarded


class _HttpHandler(urllib.request.HTTPHandler):
    def __init__(self, guard: _Guard) -> None:
        super().__init__()
        self._connection = _guarded(http.client.HTTPConnection, guard)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)


class _HttpsHandler(urllib.request.HTTPSHandler):
    def __init__(self, guard: _Guard) -> None:
        super().__init__()
        self._connection = _guarded(http.client.HTTPSConnection, guard)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req,
                            context=getattr(self, "_context", None))


class _Redirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirect rules, but the caller's headers never leave their origin."""

    def __init__(self, start: str, secret: Mapping[str, str],
                 on_redirect: Callable[[str, str], None]) -> None:
        super().__init__()
        self._origin = origin_of(start)
        self._secret = {name.lower() for name in secret}
        self._on_redirect = on_redirect

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is None:
            return None
        fp.close()  # urllib would read the redirect's body whole, however long, to drain it
        if origin_of(new.full_url) == self._origin:
            return new
        for name in list(new.headers):
            if name.lower() in self._secret:
                del new.headers[name]
        self._on_redirect(req.full_url, new.full_url)
        return new


def get(url: str, *, headers: Mapping[str, str], timeout: float, max_bytes: int,
        on_redirect: Callable[[str, str], None]) -> bytes:
    """The body of ``url``, within ``timeout`` seconds in all and at most ``max_bytes``.

    ``headers`` other than ``Accept`` are taken as credentials: sent to ``url``'s origin
    only. Raises :class:`HttpStatus`, :class:`Timeout`, :class:`TooLarge` or
    :class:`Unreachable`.
    """
    guard = _Guard(timeout)
    secret = {name: value for name, value in headers.items() if name.lower() != "accept"}
    opener = urllib.request.build_opener(
        _HttpHandler(guard), _HttpsHandler(guard), _Redirects(url, secret, on_redirect))
    request = urllib.request.Request(url, headers=dict(headers))
    guard.start()
    try:
        with opener.open(request, timeout=timeout) as response:
            return _read_bounded(response, max_bytes, guard)
    except urllib.error.HTTPError as err:
        raise HttpStatus(err.code, _read_start(err)) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        if guard.expired or isinstance(err, TimeoutError) or isinstance(reason, TimeoutError):
            raise Timeout() from None
        raise Unreachable(str(reason)) from None
    finally:
        guard.cancel()


def _read_bounded(response: Any, max_bytes: int, guard: _Guard) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"{int(declared):,} bytes (Content-Length)")
    pieces: list[bytes] = []
    size = 0
    while True:
        piece = response.read1(_PIECE)
        if not piece:
            if guard.expired:
                raise TimeoutError("deadline passed")
            return b"".join(pieces)
        size += len(piece)
        if size > max_bytes:
            raise TooLarge(f"more than {max_bytes:,} bytes")
        pieces.append(piece)


def _read_start(err: urllib.error.HTTPError) -> bytes:
    """The first 64 KiB of an error answer's body (what is needed to show its message)."""
    try:
        return err.read(_MAX_ERROR_BODY)
    except (OSError, http.client.HTTPException, ValueError):
        return b""
