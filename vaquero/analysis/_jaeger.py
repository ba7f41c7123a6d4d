"""A client for Jaeger's ``/api/v3`` HTTP API (the OTLP-shaped one), for every version since 1.53.

Two calls are needed: list the services, then search each service's traces in a time window.
What differs between versions, and how this module copes:

* **Parameter names.** Jaeger 1.53 to 2.18 read only the snake_case names
  (``query.start_time_min``, ``query.num_traces``); 2.19 made camelCase
  (``query.startTimeMin``, ``query.searchDepth``) canonical and kept snake_case as deprecated
  aliases. Both spellings are sent, so old versions read the one they know and a future
  version that drops the aliases still finds the canonical names.
* **Answer shape.** One ``{"result": TracesData}`` document, or (grpc-gateway, and upstream's
  plan for large answers) a stream of such chunks one after another. Both are read.
* **The search limit.** A search returns at most ``search_depth`` traces. When an answer is
  full, the window is split in two and each half is searched again, until every window comes
  back below the limit. A window too short to split that is still full is reported with its
  count, never passed off as complete.
* **Errors.** Jaeger explains a refused query in ``{"error": {"message": ...}}``; that text is
  shown. A failing service is reported and the others are still read; only when *every* search
  fails does the run stop, since an empty analysis would then mislead.

The stdlib's urllib is enough and keeps vaquero free of an HTTP dependency. The transport
rules (``_transport``): ``--timeout`` is a deadline for each whole request, an answer holds at most
``MAX_RECORD_BYTES`` (an answer past it is asked for again with a smaller search depth, which
also splits the window), and ``--jaeger-header`` credentials never follow a redirect to
another origin; a redirect that changed the origin is said, with whose data is being read.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from vaquero.analysis import _transport
from vaquero.analysis._json import back_to_back, loads
from vaquero.analysis._limits import MAX_RECORD_BYTES
from vaquero.analysis.errors import AnalysisInputError

__all__ = [
    "DEFAULT_LOOKBACK_NS",
    "DEFAULT_SEARCH_DEPTH",
    "DEFAULT_TIMEOUT_S",
    "JaegerOptions",
    "fetch_traces_documents",
    "parse_header",
]

DEFAULT_LOOKBACK_NS = 24 * 3600 * 1_000_000_000
DEFAULT_SEARCH_DEPTH = 1000
DEFAULT_TIMEOUT_S = 10.0
# Below this a window is not split further: a thousand traces starting within one millisecond
# is a search depth problem, not a paging one.
MIN_WINDOW_NS = 1_000_000
_MIN_DEPTH = 20
_MAX_MESSAGE = 300
_FIX = ("Start Jaeger (`vaquero stack init`, then `docker compose up -d` there) or pass its "
        "query URL, e.g. "
        "http://localhost:16686, or analyse a JSONL trace file instead.")

Notice = Callable[[str], None]


@dataclass(frozen=True)
class JaegerOptions:
    """How to talk to Jaeger: extra request headers (auth), timeout, traces per search."""

    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = DEFAULT_TIMEOUT_S
    search_depth: int = DEFAULT_SEARCH_DEPTH


def parse_header(text: str) -> tuple[str, str]:
    """``"Name=Value"`` or ``"Name: Value"`` -> ``(name, value)``; ``ValueError`` otherwise."""
    colon, equals = text.find(":"), text.find("=")
    cuts = [i for i in (colon, equals) if i > 0]
    if not cuts:
        raise ValueError(f"--jaeger-header {text!r} is not NAME=VALUE "
                         "(e.g. --jaeger-header 'Authorization=Bearer TOKEN')")
    cut = min(cuts)
    name, value = text[:cut].strip(), text[cut + 1:].strip()
    if not name or any(ch.isspace() for ch in name):
        raise ValueError(f"--jaeger-header {text!r}: {name!r} is not a header name")
    return name, value


class _HttpFailure(Exception):
    """A search Jaeger refused; ``str()`` is a sentence with Jaeger's own message."""


class _TooLarge(_HttpFailure):
    """An answer over the size bound; a smaller search may fit."""


def fetch_traces_documents(
    base_url: str,
    *,
    start_min_ns: int,
    start_max_ns: int,
    options: JaegerOptions | None = None,
    notice: Notice | None = None,
) -> Iterator[Any]:
    """Yield decoded ``{"result": ...}`` documents covering every trace of every service.

    ``notice`` receives one sentence per thing the user must know about what was *not* read
    (a service that failed, a window still at the search limit).
    """
    opts = options or JaegerOptions()
    tell = notice or (lambda _text: None)
    base = base_url.rstrip("/")
    client = _Client(base, opts, tell)
    services = client.services()
    failures: list[str] = []
    searched = 0
    for service in services:
        searched += 1
        try:
            yield from _Search(client, service, tell).window(start_min_ns, start_max_ns)
        except _HttpFailure as err:
            failures.append(str(err))
            tell(f"{err} Its traces are missing from this analysis; the other services "
                 "were still read.")
    if searched and len(failures) == searched:
        raise AnalysisInputError(
            f"every trace search failed; the first: {failures[0]} Jaeger is running there, so "
            "its own message above (and its log) says what to fix."
        )


class _Client:
    """GETs against one Jaeger, with the user's headers and timeout."""

    def __init__(self, base: str, options: JaegerOptions, notice: Notice | None = None,
                 max_bytes: int = MAX_RECORD_BYTES) -> None:
        self.base = base
        self.options = options
        self.depth = max(1, options.search_depth)
        self.max_bytes = max_bytes
        self._notice = notice or (lambda _text: None)
        self._redirected: set[tuple[str, str, int | None]] = set()

    def services(self) -> list[str]:
        try:
            documents = self._get("/api/v3/services")
        except _HttpFailure as err:
            raise AnalysisInputError(
                f"{err} Is {self.base} Jaeger's query URL (port 16686, Jaeger 1.53 or later)?"
            ) from None
        doc = documents[0] if documents else None
        services = doc.get("services") if isinstance(doc, dict) else None
        if isinstance(doc, dict) and isinstance(doc.get("result"), dict):
            services = doc["result"].get("services")
        if not isinstance(services, list):
            raise AnalysisInputError(
                f"{self.base} answered /api/v3/services without a service list: is this "
                f"Jaeger's query URL (port 16686, Jaeger 1.53 or later)? {_FIX}"
            )
        return [service for service in services if isinstance(service, str) and service]

    def search(self, service: str, start_min_ns: int, start_max_ns: int) -> list[Any]:
        """One search; an HTTP 400/500 that blames the depth is retried with a smaller one."""
        while True:
            query = urllib.parse.urlencode(_search_params(
                service, start_min_ns, start_max_ns, self.depth))
            try:
                return self._get(f"/api/v3/traces?{query}")
            except _HttpFailure as err:
                too_large = isinstance(err, _TooLarge)
                if (not too_large and "depth" not in str(err).lower()) or (
                        self.depth <= _MIN_DEPTH):
                    raise
                self.depth = max(_MIN_DEPTH, self.depth // 4)

    def _get(self, path: str) -> list[Any]:
        """GET and decode; ``[]`` for HTTP 404 (Jaeger's "nothing found")."""
        url = self.base + path
        headers = {"Accept": "application/json", **dict(self.options.headers)}
        try:
            body = _transport.get(url, headers=headers, timeout=self.options.timeout,
                             max_bytes=self.max_bytes, on_redirect=self._moved)
        except _transport.HttpStatus as err:
            if err.code == 404:
                return []
            detail = _error_message(err.body)
            said = f": {detail}" if detail else ""
            hint = (" (check --jaeger-header credentials)" if err.code in (401, 403) else "")
            what = _describe(path)
            raise _HttpFailure(
                f"Jaeger at {self.base} answered HTTP {err.code} to {what}{said}{hint}."
            ) from None
        except _transport.TooLarge as err:
            raise _TooLarge(
                f"Jaeger at {self.base} answered {_describe(path)} with {err}, more than "
                f"{self.max_bytes >> 20} MiB, the most one answer may hold, even at search "
                f"depth {self.depth}."
            ) from None
        except _transport.Timeout:
            raise AnalysisInputError(
                f"Jaeger at {self.base} did not answer within {self.options.timeout:g}s "
                f"(raise --timeout if it is just slow). {_FIX}"
            ) from None
        except _transport.Unreachable as err:
            raise AnalysisInputError(
                f"cannot reach Jaeger at {self.base} ({err}). {_FIX}") from None
        documents = json_documents(body)
        if documents is None:
            raise AnalysisInputError(
                f"{url} did not answer with JSON: is {self.base} Jaeger's query URL? {_FIX}"
            )
        return documents

    def _moved(self, old: str, new: str) -> None:
        """A redirect to another origin: said once per origin (the data is that origin's)."""
        origin = _transport.origin_of(new)
        if origin in self._redirected:
            return
        self._redirected.add(origin)
        target = urllib.parse.urlsplit(new)
        where = f"{target.scheme}://{target.netloc}"
        sent = (" The --jaeger-header headers were not sent there." if self.options.headers
                else "")
        self._notice(f"Jaeger at {self.base} redirected {urllib.parse.urlsplit(old).path} to "
                     f"another origin, {where}: what was read from there is that server's "
                     f"data.{sent}")


class _Search:
    """Read one service's traces over a window, splitting it while answers are full."""

    def __init__(self, client: _Client, service: str, notice: Notice) -> None:
        self.client = client
        self.service = service
        self.notice = notice

    def window(self, low: int, high: int) -> Iterator[Any]:
        pending = [(low, high)]
        while pending:
            lo, hi = pending.pop()
            documents = self.client.search(self.service, lo, hi)
            count = _count_traces(documents)
            if count >= self.client.depth and hi - lo >= 2 * MIN_WINDOW_NS:
                middle = lo + (hi - lo) // 2
                # Later half popped last: the walk goes oldest to newest, like a file would.
                pending.append((middle, hi))
                pending.append((lo, middle))
                continue
            if count >= self.client.depth:
                self.notice(
                    f"Jaeger's search limit was hit: service {self.service!r} returned "
                    f"{count} traces (the limit) starting between {_rfc3339(lo)} and "
                    f"{_rfc3339(hi)}, a window too short to split; more traces there were not "
                    "read (raise --jaeger-search-depth)."
                )
            for document in documents:
                failure = _stream_error(document)
                if failure is None:
                    yield document
                else:  # grpc-gateway reports an error met mid-stream as a chunk of its own
                    self.notice(f"Jaeger reported an error while streaming service "
                                f"{self.service!r}: {failure}. Traces after it are missing.")


def _stream_error(document: Any) -> str | None:
    if isinstance(document, dict) and "result" not in document and "error" in document:
        return _error_message(json.dumps(document).encode()) or "no message"
    return None


def json_documents(body: bytes) -> list[Any] | None:
    """One JSON document, or a stream of them back to back (``{"result":..}{"result":..}``).

    ``None`` when the body does not start with JSON at all; a stream cut short keeps the
    documents before the cut.
    """
    try:
        return [loads(body)]
    except ValueError:
        pass
    documents: list[Any] = []
    try:
        for _, document in back_to_back(body.decode("utf-8", errors="replace"), " \t\r\n,"):
            documents.append(document)
    except ValueError:
        pass  # a stream cut short: the documents before the cut
    return documents or None


def _search_params(service: str, low: int, high: int, depth: int) -> list[tuple[str, str]]:
    start_min, start_max = _rfc3339(low), _rfc3339(high)
    return [
        # Canonical since Jaeger 2.19.
        ("query.serviceName", service),
        ("query.startTimeMin", start_min),
        ("query.startTimeMax", start_max),
        ("query.searchDepth", str(depth)),
        # The only names Jaeger 1.53 to 2.18 read; deprecated aliases from 2.19 on.
        ("query.service_name", service),
        ("query.start_time_min", start_min),
        ("query.start_time_max", start_max),
        ("query.num_traces", str(depth)),
    ]


def _count_traces(documents: Sequence[Any]) -> int:
    """Distinct trace ids across the answer's chunks (a trace may span several)."""
    seen: set[Any] = set()
    for document in documents:
        data = document.get("result", document) if isinstance(document, dict) else None
        blocks = data.get("resourceSpans") if isinstance(data, dict) else None
        for block in blocks if isinstance(blocks, list) else ():
            scopes = block.get("scopeSpans") if isinstance(block, dict) else None
            for scope in scopes if isinstance(scopes, list) else ():
                spans = scope.get("spans") if isinstance(scope, dict) else None
                for span in spans if isinstance(spans, list) else ():
                    if isinstance(span, dict):
                        trace_id = span.get("traceId")
                        if isinstance(trace_id, str):
                            seen.add(trace_id)
    return len(seen)


def _error_message(body: bytes) -> str:
    """Jaeger's ``{"error": {"message": ...}}`` text, else the body's first line."""
    documents = json_documents(body) or []
    for document in documents:
        if isinstance(document, dict):
            error = document.get("error", document)
            message = error.get("message") if isinstance(error, dict) else None
            if isinstance(message, str):
                return message[:_MAX_MESSAGE]
            if isinstance(error, str):
                return error[:_MAX_MESSAGE]
    text = body.decode("utf-8", errors="replace").strip()
    return text.splitlines()[0][:_MAX_MESSAGE] if text else ""


def _describe(path: str) -> str:
    if path.startswith("/api/v3/traces?"):
        query = urllib.parse.parse_qs(path.split("?", 1)[1])
        service = query.get("query.serviceName", ["?"])[0]
        return f"the trace search for service {service!r}"
    return path


def _rfc3339(ns: int) -> str:
    moment = datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ns % 1_000_000_000:09d}Z"
