"""Agent-name propagation: every span inherits ``gen_ai.agent.name`` from its nearest agent.

The agent name travels in the OpenTelemetry *context* (not on the span), so spans created
by other instrumentations or by raw ``opentelemetry.trace`` calls inside an agent are
stamped too: the SDK calls :meth:`AgentNameSpanProcessor.on_start` with the parent context
for every span, whoever created it.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

AGENT_NAME = "gen_ai.agent.name"
OPERATION_NAME = "gen_ai.operation.name"
INVOKE_AGENT = "invoke_agent"

AGENT_CONTEXT_KEY = otel_context.create_key("vaquero.agent_name")

# Attributes that say *who* a span belongs to. The SDK evicts the oldest attribute when a
# span exceeds its attribute count limit (128 by default), and these are stamped first, so
# they would be the first to go: an LLM span with 70 messages lost its agent.
IDENTITY_KEYS = (AGENT_NAME, OPERATION_NAME)
_IDENTITY_SLOT = "_vaquero_identity"


def current_agent(parent_context: Context | None = None) -> str | None:
    value = otel_context.get_value(AGENT_CONTEXT_KEY, parent_context)
    return value if isinstance(value, str) else None


class AgentNameSpanProcessor(SpanProcessor):
    """Stamps the inherited agent name on spans that do not carry one of their own."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            # Every span of every tracer passes here: read the given context directly.
            if parent_context is not None:
                agent = parent_context.get(AGENT_CONTEXT_KEY)
            else:
                agent = otel_context.get_value(AGENT_CONTEXT_KEY)
            # The SDK's attribute store locks and validates by itself, and nobody else
            # holds a span that is still starting, so skip Span.set_attribute's own lock;
            # its plain dict answers "already named?" without the Mapping protocol.
            store = getattr(span, "_attributes", None)
            known = getattr(store, "_dict", None)
            if type(known) is dict:
                named = known.get(AGENT_NAME)
                if named is None and isinstance(agent, str):
                    store[AGENT_NAME] = named = agent  # type: ignore[index]
                if named is not None:
                    # Kept on the span object (one store) so the identity can be put back
                    # at the end if the attribute limit evicted it meanwhile.
                    setattr(span, _IDENTITY_SLOT, (named, known.get(OPERATION_NAME)))
            elif isinstance(agent, str):
                attributes = span.attributes
                if not attributes or AGENT_NAME not in attributes:
                    span.set_attribute(AGENT_NAME, agent)
        except Exception:  # never let a processor fault reach the code starting the span
            pass

    def _on_ending(self, span: Span) -> None:
        """The SDK's hook between ``end()`` and the exporters (the span is still ours):
        put back identity attributes that the attribute limit evicted."""
        try:
            identity = getattr(span, _IDENTITY_SLOT, None)
            if identity is not None:
                restore_identity(span, dict(zip(IDENTITY_KEYS, identity, strict=True)))
        except Exception:
            pass

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def restore_identity(span: Span, identity: dict[str, object]) -> None:
    """Re-insert evicted identity attributes into an ending span's attribute store.

    Only does work when the store has dropped something. To stay within the limit, each
    restored attribute evicts the oldest attribute that is not an identity one (counted
    as dropped, as the SDK counts its own evictions). Every private SDK detail vaquero
    needs for this is in this one function.
    """
    store = getattr(span, "_attributes", None)
    if not getattr(store, "dropped", 0):
        return
    values = getattr(store, "_dict", None)
    lock = getattr(store, "_lock", None)
    if type(values) is not dict or lock is None:
        return
    with lock:
        for key, value in identity.items():
            if value is None or key in values:
                continue
            maxlen = getattr(store, "maxlen", None)
            if maxlen is not None and len(values) >= maxlen:
                victim = next((k for k in values if k not in IDENTITY_KEYS), None)
                if victim is None:
                    continue
                del values[victim]
                store.dropped += 1  # type: ignore[union-attr]
            values[key] = value
