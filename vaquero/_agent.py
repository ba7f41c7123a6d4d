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

from vaquero._otel_compat import set_attribute_if_absent
from vaquero._semconv import AGENT_NAME, INVOKE_AGENT, OPERATION_NAME

__all__ = [
    "AGENT_CONTEXT_KEY",
    "AGENT_NAME",
    "INVOKE_AGENT",
    "OPERATION_NAME",
    "AgentNameSpanProcessor",
    "current_agent",
]


AGENT_CONTEXT_KEY = otel_context.create_key("vaquero.agent_name")


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
            if isinstance(agent, str):
                set_attribute_if_absent(span, AGENT_NAME, agent)
        except Exception:  # never let a processor fault reach the code starting the span
            pass

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
