"""Agent-name propagation: every span inherits ``gen_ai.agent.name`` from its nearest agent
(and ``gen_ai.conversation.id`` from its nearest ``vaquero.span(conversation_id=...)``, the
same way: context in process, W3C baggage across services, the same switch).

The agent name travels in the OpenTelemetry *context* (not on the span), so spans created
by other instrumentations or by raw ``opentelemetry.trace`` calls inside an agent are
stamped too: the SDK calls :meth:`AgentNameSpanProcessor.on_start` with the parent context
for every span, whoever created it.

Across processes and services it travels as W3C baggage under the same key: entering an
agent also puts its name in the context's baggage, so ``vaquero.inject()`` carriers and the
HTTP/gRPC instrumentations (which inject the global propagators, ``tracecontext,baggage``
by default) carry it, and the receiving side's spans get the caller's agent. Baggage is
sent to every instrumented downstream call, third parties included; ``propagate_agent=False``
(``VAQUERO_PROPAGATE_AGENT=false``) keeps the name inside the process. On the receiving side
an agent of the span's own, or one the receiving process declares as a resource attribute
(``init(agent_name=...)`` / ``VAQUERO_AGENT_NAME``), wins over the caller's.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from vaquero._otel_compat import (
    baggage_entries,
    identity_on_start,
    install_on_ending,
    restore_evicted,
)
from vaquero._semconv import AGENT_NAME, CONVERSATION_ID, INVOKE_AGENT, OPERATION_NAME
from vaquero._state import STATE

__all__ = [
    "AGENT_CONTEXT_KEY",
    "AGENT_NAME",
    "CONVERSATION_CONTEXT_KEY",
    "INVOKE_AGENT",
    "OPERATION_NAME",
    "WORKFLOW_CONTEXT_KEY",
    "AgentNameSpanProcessor",
    "agent_of_span",
    "current_agent",
    "enter_agent",
    "enter_conversation",
    "enter_workflow",
]


AGENT_CONTEXT_KEY = otel_context.create_key("vaquero.agent_name")
# The workflow run a context is inside (in process only): a run inside it is nested.
WORKFLOW_CONTEXT_KEY = otel_context.create_key("vaquero.workflow_name")
# The conversation (gen_ai.conversation.id) a context belongs to: context, like the agent.
CONVERSATION_CONTEXT_KEY = otel_context.create_key("vaquero.conversation_id")
# "Looked for, and there is none": stops the processor from reading the baggage again.
NO_CONVERSATION = ""

# Attributes that say *who* a span belongs to. The SDK evicts the oldest attribute when a
# span exceeds its attribute count limit (128 by default), and these are stamped first, so
# they would be the first to go: an LLM span with 70 messages lost its agent.
IDENTITY_KEYS = frozenset((AGENT_NAME, OPERATION_NAME))
_IDENTITY_SLOT = "_vaquero_identity"


def current_agent(parent_context: Context | None = None) -> str | None:
    value = otel_context.get_value(AGENT_CONTEXT_KEY, parent_context)
    return value if isinstance(value, str) else None


def enter_agent(context: Context, agent_name: str) -> Context:
    """``context`` with ``agent_name`` as the current agent, in process and in baggage.

    The conversation is settled here too, once per agent run: the one in force, else the
    caller's from baggage, else :data:`NO_CONVERSATION`. Every span inside the agent then
    finds its conversation (or its absence) with one context lookup, instead of reading the
    baggage on each of them.
    """
    conversation = context.get(CONVERSATION_CONTEXT_KEY)
    if conversation is None:
        if STATE.propagate_agent:
            conversation = baggage_entries(context).get(CONVERSATION_ID)
        if not isinstance(conversation, str) or not conversation:
            conversation = NO_CONVERSATION
        # One new Context for both values (set_value twice would copy it twice).
        context = Context({**context, CONVERSATION_CONTEXT_KEY: conversation,
                           AGENT_CONTEXT_KEY: agent_name})
    else:
        context = otel_context.set_value(AGENT_CONTEXT_KEY, agent_name, context)
    if STATE.propagate_agent:
        context = baggage.set_baggage(AGENT_NAME, agent_name, context)
    return context


def enter_conversation(context: Context, conversation_id: str) -> Context:
    """``context`` in the conversation ``conversation_id``: every span started in it is
    stamped with ``gen_ai.conversation.id``, and it travels as W3C baggage under the same
    switch as the agent name (``propagate_agent``)."""
    context = otel_context.set_value(CONVERSATION_CONTEXT_KEY, conversation_id, context)
    if STATE.propagate_agent:
        context = baggage.set_baggage(CONVERSATION_ID, conversation_id, context)
    return context


def enter_workflow(context: Context, workflow_name: str) -> Context:
    """``context`` inside the workflow run ``workflow_name`` (in process only)."""
    return otel_context.set_value(WORKFLOW_CONTEXT_KEY, workflow_name, context)


def agent_of_span(span: Any) -> str | None:
    """The agent a span carries (its own or stamped), also after it ended; None if none."""
    try:
        attributes = span.attributes
        value = attributes.get(AGENT_NAME) if attributes else None
    except Exception:
        return None
    return value if isinstance(value, str) else None


def _remote_agent(span: Span, entries: Any) -> str | None:
    """The caller's agent from baggage, unless this process declares its own agent."""
    agent = entries.get(AGENT_NAME)
    if not isinstance(agent, str) or not agent:
        return None
    resource = getattr(span, "resource", None)
    if resource is not None and AGENT_NAME in resource.attributes:
        return None
    return agent


class AgentNameSpanProcessor(SpanProcessor):
    """Stamps the inherited agent name on spans that do not carry one of their own."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            # Every span of every tracer passes here: read the given context directly.
            if parent_context is not None:
                agent = parent_context.get(AGENT_CONTEXT_KEY)
                conversation = parent_context.get(CONVERSATION_CONTEXT_KEY)
            else:
                agent = otel_context.get_value(AGENT_CONTEXT_KEY)
                conversation = otel_context.get_value(CONVERSATION_CONTEXT_KEY)
            if (agent is None or conversation is None) and STATE.propagate_agent:
                entries = baggage_entries(parent_context)
                if entries:
                    if agent is None:
                        agent = _remote_agent(span, entries)
                    if conversation is None:
                        conversation = entries.get(CONVERSATION_ID) or None
            if isinstance(agent, str):  # spans outside any agent pay nothing more
                named = identity_on_start(span, AGENT_NAME, agent)
                # Kept on the span object so the name can be put back at the end if the
                # attribute count limit evicted it meanwhile (restore_identity).
                span.__dict__[_IDENTITY_SLOT] = named
            if conversation and isinstance(conversation, str):  # NO_CONVERSATION: skip
                identity_on_start(span, CONVERSATION_ID, conversation)
        except Exception:  # never let a processor fault reach the code starting the span
            pass

    @staticmethod
    def remember_identity(span: object, agent: str, operation: str) -> None:
        """For an agent's own span, whose name comes with its start attributes (its parent
        context may hold no agent): the same protection as the spans it parents."""
        try:
            span.__dict__[_IDENTITY_SLOT] = (agent, operation)
        except Exception:  # a non-recording span has no room for it, and needs none
            pass

    def restore_identity(self, span: Span) -> None:
        """Between ``end()`` and the exporters: put back evicted identity attributes."""
        try:
            # every span ends through here: a plain dict lookup, no failed getattr
            identity = span.__dict__.get(_IDENTITY_SLOT)
            if identity is None:
                return
            if type(identity) is tuple:  # an agent's own span: (name, operation)
                restore_evicted(span, dict(zip((AGENT_NAME, OPERATION_NAME), identity,
                                               strict=True)), IDENTITY_KEYS)
            else:
                restore_evicted(span, {AGENT_NAME: identity}, IDENTITY_KEYS)
        except Exception:
            pass

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


install_on_ending(AgentNameSpanProcessor, "restore_identity")
