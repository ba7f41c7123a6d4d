"""GenAI roles: what makes a span an agent run, a workflow run or a tool call.

``@vaquero.trace(agent_name=...)``, ``workflow_name=...`` and ``tool_name=...`` (and the
same arguments of ``vaquero.span``) give a span a :class:`Role`. A role is computed once
(at decoration, or once per distinct name for ``vaquero.span``) and carries everything the
app thread needs per run, precomputed: the span's start attributes, the spec's span name
(``invoke_agent {name}`` ...) for ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``,
and the attribute dicts of its duration measurement. A run then costs a dict lookup, not
dict building.

The conventions (open-telemetry/semantic-conventions-genai, Development): agent and
workflow runs are ``gen_ai.invocation.internal`` spans whose ``gen_ai.operation.name`` is
``invoke_agent`` / ``invoke_workflow``, measured by ``gen_ai.invocation.duration`` with
``gen_ai.invocation.is_nested``; tool calls are ``execute_tool`` spans measured by
``gen_ai.execute_tool.duration``. vaquero cannot know ``gen_ai.provider.name`` and does not
invent one.

Cardinality stays bounded: at most :data:`MAX_NAMES` distinct names per kind get measurement
attributes of their own; later names share the spec's overflow series
(``otel.metric.overflow=true``) and one warning names a few of them, since a name built
from an id (``f"agent-{user_id}"``) is the usual cause.
"""

from __future__ import annotations

from typing import Any, Final

from vaquero._diagnostics import warn_once
from vaquero._semconv import (
    AGENT_NAME,
    ERROR_TYPE,
    EXECUTE_TOOL,
    GEN_AI_LATEST,
    INVOCATION_IS_NESTED,
    INVOKE_AGENT,
    INVOKE_WORKFLOW,
    METRIC_OVERFLOW,
    OPERATION_NAME,
    TOOL_NAME,
    WORKFLOW_NAME,
)
from vaquero._state import STATE

__all__ = ["MAX_NAMES", "Role", "role_for", "role_from_options", "spec_span_names"]

AGENT: Final = "agent"
WORKFLOW: Final = "workflow"
TOOL: Final = "tool"

# Which histogram a role's runs go to (an index into the instruments _metrics binds).
INVOCATION_SLOT: Final = 0
TOOL_SLOT: Final = 1

MAX_NAMES: Final = 2000
"""Distinct names per kind with series of their own (the SDK specification's default
cardinality limit; the Python SDK enforces none itself)."""

# Error types with a cached attribute dict per role; beyond it a dict is built per failure.
_MAX_CACHED_ERRORS = 64

_OPERATION = {AGENT: INVOKE_AGENT, WORKFLOW: INVOKE_WORKFLOW, TOOL: EXECUTE_TOOL}
_NAME_KEY = {AGENT: AGENT_NAME, WORKFLOW: WORKFLOW_NAME, TOOL: TOOL_NAME}


class Role:
    """One kind and name of GenAI run, with everything a run needs precomputed."""

    __slots__ = (
        "_base",
        "_errors",
        "_measured",
        "kind",
        "name",
        "operation",
        "slot",
        "spec_span_name",
        "start_attributes",
    )

    def __init__(self, kind: str, name: str, overflow: bool = False) -> None:
        self.kind = kind
        self.name = name
        self.operation = _OPERATION[kind]
        self.slot = TOOL_SLOT if kind == TOOL else INVOCATION_SLOT
        self.start_attributes: dict[str, Any] = {_NAME_KEY[kind]: name, OPERATION_NAME:
                                                 self.operation}
        self.spec_span_name = f"{self.operation} {name}"
        # Measurement attributes by context key (is_nested for runs, the calling agent for
        # tools) and by error type; None is success.
        self._measured: dict[Any, dict[str, Any]] = {}
        self._errors: dict[tuple[Any, str], dict[str, Any]] = {}
        self._base: dict[str, Any]
        if overflow:
            self._base = {OPERATION_NAME: self.operation, METRIC_OVERFLOW: True}
        else:
            self._base = {OPERATION_NAME: self.operation, _NAME_KEY[kind]: name}

    @property
    def is_agent(self) -> bool:
        return self.kind == AGENT

    def measurement_attributes(self, key: Any, error_type: str | None) -> dict[str, Any]:
        """The attributes of one measurement: ``key`` is ``is_nested`` (runs) or the agent
        executing the tool (tools, None outside any agent); ``error_type`` None on success."""
        if error_type is None:
            found = self._measured.get(key)
            if found is None:
                found = self._measured[key] = self._build(key, None)
            return found
        cache_key = (key, error_type)
        found = self._errors.get(cache_key)
        if found is None:
            found = self._build(key, error_type)
            if len(self._errors) < _MAX_CACHED_ERRORS:
                self._errors[cache_key] = found
        return found

    def _build(self, key: Any, error_type: str | None) -> dict[str, Any]:
        attributes = dict(self._base)
        if self.kind == TOOL:
            if isinstance(key, str):
                attributes[AGENT_NAME] = key
        else:
            attributes[INVOCATION_IS_NESTED] = bool(key)
        if error_type is not None:
            attributes[ERROR_TYPE] = error_type
        return attributes


def role_for(kind: str, name: str) -> Role:
    """The shared role of ``kind`` and ``name``; the overflow role past :data:`MAX_NAMES`."""
    roles = STATE.genai_roles
    key = (kind, name)
    role = roles.get(key)
    if role is not None:
        return role  # type: ignore[no-any-return]
    count = STATE.genai_role_counts.get(kind, 0)
    if count >= MAX_NAMES:
        _warn_overflow(kind, name)
        # The span keeps its own name; only its measurements share the overflow series.
        return Role(kind, name, overflow=True)
    STATE.genai_role_counts[kind] = count + 1
    role = roles[key] = Role(kind, name)
    return role


def _warn_overflow(kind: str, name: str) -> None:
    if f"genai-overflow:{kind}" in STATE.warned:
        return  # the usual case past the limit: say it once, cheaply
    examples = [n for (k, n) in list(STATE.genai_roles)[-3:] if k == kind]
    warn_once(
        f"genai-overflow:{kind}",
        "vaquero: more than %d distinct %s names were measured (the latest include %s); "
        "further ones share one overflow series (otel.metric.overflow=true) of the GenAI "
        "duration metrics. A %s name should be a fixed label such as 'planner': put ids in "
        "attributes instead (vaquero.span(..., request_id=...)).",
        MAX_NAMES,
        kind,
        ", ".join(repr(n) for n in [*examples, name]),
        kind,
    )


def role_from_options(
    agent_name: str | None, workflow_name: str | None, tool_name: str | None, where: str
) -> Role | None:
    """The role the options ask for, or None; raises TypeError naming ``where`` if they
    name more than one role or a name is not a non-empty string."""
    if workflow_name is None and tool_name is None and type(agent_name) is str:
        role = STATE.genai_roles.get((AGENT, agent_name))  # vaquero.span(agent_name=...)
        if role is not None:
            return role  # type: ignore[no-any-return]
    given = [
        (kind, value)
        for kind, value in ((AGENT, agent_name), (WORKFLOW, workflow_name), (TOOL, tool_name))
        if value is not None
    ]
    if not given:
        return None
    if len(given) > 1:
        names = ", ".join(f"{kind}_name" for kind, _ in given)
        raise TypeError(
            f"{where}: got {names}; a span is one agent run, one workflow run or one tool "
            "call. Nest them instead (tools inside an agent inside a workflow)."
        )
    kind, value = given[0]
    if not isinstance(value, str) or not value:
        raise TypeError(f"{where}({kind}_name={value!r}): expected a non-empty string.")
    return role_for(kind, value)


def spec_span_names(opt_in: Any) -> bool:
    """True when ``OTEL_SEMCONV_STABILITY_OPT_IN`` (its values, or the raw comma list) holds
    ``gen_ai_latest_experimental``: spans of a role are then named as the spec says."""
    values = opt_in.split(",") if isinstance(opt_in, str) else opt_in
    return GEN_AI_LATEST in (str(value).strip().lower() for value in values)
