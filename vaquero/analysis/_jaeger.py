"""A minimal client for Jaeger's ``/api/v3`` HTTP API (the OTLP-shaped one Jaeger v2 serves).

Only two calls are needed: list the services, then search each service's traces in a time
window. Jaeger answers the search with one OTLP ``TracesData`` wrapped as ``{"result": ...}``,
and with HTTP 404 when the search matched nothing, which is "no traces", not an error.

The stdlib's urllib is enough for two GETs and keeps vaquero free of an HTTP dependency; every
request has a timeout so an unresponsive Jaeger fails fast with a message instead of hanging.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from vaquero.analysis.errors import AnalysisInputError

__all__ = ["DEFAULT_LOOKBACK_NS", "fetch_traces_documents"]

DEFAULT_LOOKBACK_NS = 24 * 3600 * 1_000_000_000
DEFAULT_SEARCH_DEPTH = 1000
DEFAULT_TIMEOUT_S = 10.0
_FIX = ("Start Jaeger (`vaquero stack init`, then `docker compose up -d` there) or pass its "
        "query URL, e.g. "
        "http://localhost:16686, or analyse a JSONL trace file instead.")


def fetch_traces_documents(
    base_url: str,
    *,
    start_min_ns: int,
    start_max_ns: int,
    search_depth: int = DEFAULT_SEARCH_DEPTH,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Iterator[Any]:
    """Yield the decoded JSON answer of one trace search per service Jaeger knows."""
    base = base_url.rstrip("/")
    services_doc = _get_json(f"{base}/api/v3/services", base, timeout)
    services = services_doc.get("services") if isinstance(services_doc, dict) else None
    if not isinstance(services, list):
        raise AnalysisInputError(
            f"{base_url} answered /api/v3/services without a service list: is this Jaeger's "
            f"query URL (Jaeger v2, port 16686)? {_FIX}"
        )
    for service in services:
        if not isinstance(service, str) or not service:
            continue
        query = urllib.parse.urlencode({
            "query.serviceName": service,
            "query.startTimeMin": _rfc3339(start_min_ns),
            "query.startTimeMax": _rfc3339(start_max_ns),
            "query.searchDepth": str(search_depth),
        })
        document = _get_json(f"{base}/api/v3/traces?{query}", base, timeout)
        if document is not None:
            yield document


def _get_json(url: str, base: str, timeout: float) -> Any:
    """GET ``url`` and decode its JSON body; ``None`` for 404 (Jaeger's "nothing found")."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise AnalysisInputError(
            f"Jaeger at {base} answered HTTP {err.code} for {url}. {_FIX}"
        ) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise AnalysisInputError(f"cannot reach Jaeger at {base} ({reason}). {_FIX}") from None
    try:
        return json.loads(body)
    except ValueError:
        raise AnalysisInputError(
            f"{url} did not answer with JSON: is {base} Jaeger's query URL? {_FIX}"
        ) from None


def _rfc3339(ns: int) -> str:
    moment = datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ns % 1_000_000_000:09d}Z"
