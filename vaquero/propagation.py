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

__all__ = ["extract", "inject"]


def inject(carrier: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Write the current trace context into a carrier dict that can travel in any message.

    Args:
        carrier: a dict to write into (kept keys stay), or None for a new one.

    Returns:
        The carrier: ``traceparent`` (and ``tracestate``) for the current span, and
        ``baggage`` carrying the current agent name unless ``propagate_agent`` is off.
        Outside any span it writes nothing. Never raises.
    """
    target: dict[str, str] = {} if carrier is None else carrier  # type: ignore[assignment]
    try:
        propagate.inject(target)
    except Exception:
        pass
    return target


def extract(carrier: Mapping[str, Any]) -> otel_context.Context:
    """The Context a carrier written by :func:`inject` describes.

    Args:
        carrier: a mapping of propagation headers, e.g. a dict from :func:`inject` or an
            incoming message's headers.

    Returns:
        A Context that ``vaquero.span(name, parent=...)`` continues or ``links=[...]``
        points at; an empty Context (a new trace) when the carrier holds nothing usable.
        Never raises.
    """
    try:
        return propagate.extract(carrier, otel_context.Context())
    except Exception:
        return otel_context.Context()
