"""Carry a workflow's trace across queues, events and processes (W3C Trace Context).

``inject()`` writes ``traceparent``/``tracestate`` (and baggage) into a plain dict that
can travel inside any message; ``extract()`` turns such a dict back into a Context that
``vaquero.span(name, parent=...)`` continues, or that ``links=[...]`` points at.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate


def inject(carrier: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Write the current trace context into ``carrier`` (a new dict if None) and return it."""
    target: dict[str, str] = {} if carrier is None else carrier  # type: ignore[assignment]
    try:
        propagate.inject(target)
    except Exception:
        pass
    return target


def extract(carrier: Mapping[str, Any]) -> otel_context.Context:
    """The Context a carrier written by :func:`inject` describes (empty if it holds none)."""
    try:
        return propagate.extract(carrier, otel_context.Context())
    except Exception:
        return otel_context.Context()
