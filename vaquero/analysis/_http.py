"""What a span of an HTTP instrumentation is to a workflow: a request, plumbing, or a call.

Services put other instrumentations' spans around and inside workflow runs, and read
naively they drown the runs (issue 20 item 7):

* **Requests.** An HTTP server span (kind SERVER with a request method) whose trace holds
  no agent is a *request-only* run: ``GET /health``, ``GET /docs``. When the source holds
  agent runs, those are the workflows, and request-only runs are counted, not listed
  (``_aggregate``); a source without agents keeps them as its workflows.
* **Plumbing.** opentelemetry-instrumentation-asgi opens a span per ASGI message
  (``GET /search http send``, marked ``asgi.event.type``): transport, not a step. Such a
  span with no children is dropped; its time is its parent's own time.
* **Calls.** An HTTP client span is named by the HTTP conventions ``{method}`` alone when
  no ``url.template`` is known, so every outgoing call was one step ``GET``. A client span
  whose name is the bare method reads as ``{method} {url.template}``, else
  ``{method} {host[:port]}`` (from ``server.address``/``server.port``, else the URL; never
  its userinfo), as the conventions allow for the low-cardinality target.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from vaquero._semconv import (
    ASGI_EVENT_TYPE,
    HTTP_METHOD_OLD,
    HTTP_REQUEST_METHOD,
    HTTP_URL_OLD,
    NET_PEER_NAME_OLD,
    SERVER_ADDRESS,
    SERVER_PORT,
    URL_FULL,
    URL_TEMPLATE,
)

if TYPE_CHECKING:
    from vaquero.analysis._span import Span

__all__ = ["HTTP_KEYS", "ROLE_PLUMBING", "ROLE_REQUEST", "ROLE_STEP", "classify",
           "without_plumbing"]

ROLE_STEP = 0  # an ordinary span
ROLE_REQUEST = 1  # an HTTP server span: a request entering the service
ROLE_PLUMBING = 2  # a transport message inside a request

# The attributes the classification reads; the decoder collects only these.
HTTP_KEYS = frozenset({
    ASGI_EVENT_TYPE, HTTP_METHOD_OLD, HTTP_REQUEST_METHOD, HTTP_URL_OLD, NET_PEER_NAME_OLD,
    SERVER_ADDRESS, SERVER_PORT, URL_FULL, URL_TEMPLATE,
})
_SERVER = 2  # OTLP SpanKind numbers
_CLIENT = 3
_KIND_NAMES = {"SPAN_KIND_SERVER": _SERVER, "SPAN_KIND_CLIENT": _CLIENT,
               "SERVER": _SERVER, "CLIENT": _CLIENT}
_DEFAULT_PORTS = {"80", "443"}
_OTHER_METHOD = "_OTHER"  # a method the instrumentation does not know
_MAX_TARGET = 200


def classify(kind: object, name: str, http: Mapping[str, str]) -> tuple[str, int]:
    """The span's step name and role, from its kind, name and :data:`HTTP_KEYS` values."""
    if ASGI_EVENT_TYPE in http:
        return name, ROLE_PLUMBING
    method = http.get(HTTP_REQUEST_METHOD) or http.get(HTTP_METHOD_OLD)
    if not method:
        return name, ROLE_STEP
    if isinstance(kind, str):
        span_kind: object = _KIND_NAMES.get(kind) or (int(kind) if kind.isdigit() else 0)
    else:
        span_kind = kind
    if span_kind == _SERVER:
        return name, ROLE_REQUEST
    if span_kind == _CLIENT and name in (method, "HTTP", f"HTTP {method}"):
        target = http.get(URL_TEMPLATE) or _host(http)
        if target:
            shown = "HTTP" if method == _OTHER_METHOD else method  # as the conventions name it
            return sys.intern(f"{shown} {target[:_MAX_TARGET]}"), ROLE_STEP
    return name, ROLE_STEP


def _host(http: Mapping[str, str]) -> str | None:
    """``host[:port]`` the client called, the port left out when it is 80 or 443."""
    host = http.get(SERVER_ADDRESS) or http.get(NET_PEER_NAME_OLD)
    port = http.get(SERVER_PORT)
    if not host:
        url = http.get(URL_FULL) or http.get(HTTP_URL_OLD)
        if not url:
            return None
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, (str(parts.port) if parts.port else None)
        except ValueError:
            return None
        if not host:
            return None
        if ":" in host:  # an IPv6 literal keeps its brackets next to a port
            host = f"[{host}]"
    return host if not port or port in _DEFAULT_PORTS else f"{host}:{port}"


_ROLE = attrgetter("role")


def without_plumbing(spans: Sequence[Span]) -> Sequence[Span]:
    """The spans minus plumbing spans nothing hangs under (``spans`` itself if none)."""
    if ROLE_PLUMBING not in map(_ROLE, spans):
        return spans
    parents = {span.parent_id for span in spans}
    return [span for span in spans if span.role != ROLE_PLUMBING or span.span_id in parents]
