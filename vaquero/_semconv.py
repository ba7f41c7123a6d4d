"""Every attribute and event name vaquero writes or reads, defined once.

OpenTelemetry semantic conventions where one exists (``gen_ai.*``, ``exception.*``,
``service.name``, ``error.type``); vaquero's own under ``vaquero.*`` and the workflow
helpers' under ``workflow.*``. The console tree, the test fixture, the analysis and the
workflow helpers all read these constants, so a rename happens here or nowhere.
"""

from __future__ import annotations

# --- GenAI agent, workflow and tool conventions ----------------------------------------------
# open-telemetry/semantic-conventions-genai (Development), read at e9de14b (2026-12): the
# ``gen_ai.invocation.internal`` span (operation invoke_agent / invoke_workflow), the
# ``execute_tool`` span, and their duration metrics.
AGENT_NAME = "gen_ai.agent.name"
OPERATION_NAME = "gen_ai.operation.name"
INVOKE_AGENT = "invoke_agent"
INVOKE_WORKFLOW = "invoke_workflow"
EXECUTE_TOOL = "execute_tool"
WORKFLOW_NAME = "gen_ai.workflow.name"
TOOL_NAME = "gen_ai.tool.name"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_DESCRIPTION = "gen_ai.tool.description"
TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT = "gen_ai.tool.call.result"
CONVERSATION_ID = "gen_ai.conversation.id"
INVOCATION_IS_NESTED = "gen_ai.invocation.is_nested"

# --- GenAI metrics (histograms, seconds) -------------------------------------------------------
# One histogram for agent and workflow runs (told apart by gen_ai.operation.name): the spec
# replaced gen_ai.invoke_agent.duration and gen_ai.workflow.duration with it (PR #571).
INVOCATION_DURATION = "gen_ai.invocation.duration"
INVOCATION_BUCKETS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)
EXECUTE_TOOL_DURATION = "gen_ai.execute_tool.duration"
EXECUTE_TOOL_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
DURATION_UNIT = "s"
# The attribute OpenTelemetry's metrics SDK specification gives the overflow series of a
# cardinality limit.
METRIC_OVERFLOW = "otel.metric.overflow"

# --- content capture and convention versions (OpenTelemetry Python contrib's switches) --------
CAPTURE_MESSAGE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
CAPTURE_MODES = ("no_content", "span_only", "event_only", "span_and_event")
CAPTURE_ON_SPANS = ("span_only", "span_and_event")
SEMCONV_OPT_IN_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"
GEN_AI_LATEST = "gen_ai_latest_experimental"

# --- exceptions and errors (OpenTelemetry) ----------------------------------------------------
EXCEPTION_EVENT = "exception"
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"
EXCEPTION_STACKTRACE = "exception.stacktrace"
EXCEPTION_ESCAPED = "exception.escaped"
ERROR_TYPE = "error.type"

# --- resource ---------------------------------------------------------------------------------
SERVICE_NAME = "service.name"
DISTRO_NAME = "telemetry.distro.name"
DISTRO_VERSION = "telemetry.distro.version"

# --- HTTP spans of other instrumentations (read by the analysis) ------------------------------
# The stable HTTP conventions first, then the older names the contrib instrumentations still
# write by default (``OTEL_SEMCONV_STABILITY_OPT_IN`` unset).
HTTP_REQUEST_METHOD = "http.request.method"
HTTP_METHOD_OLD = "http.method"
URL_TEMPLATE = "url.template"
URL_FULL = "url.full"
HTTP_URL_OLD = "http.url"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
NET_PEER_NAME_OLD = "net.peer.name"
# opentelemetry-instrumentation-asgi's spans for each ASGI message (``GET /x http send``)
ASGI_EVENT_TYPE = "asgi.event.type"

# --- vaquero's own ----------------------------------------------------------------------------
ARG_PREFIX = "vaquero.arg."
RESULT = "vaquero.result"
CANCELLED = "vaquero.cancelled"
INTERRUPTED = "vaquero.interrupted"
SCRUBBED_KEYS = "vaquero.scrubbed_keys"
DOCTOR = "vaquero.doctor"

# --- workflow helpers (vaquero.workflow) ------------------------------------------------------
WORKFLOW_STATE = "workflow.state"
TRANSITION_EVENT = "workflow.transition"
TRANSITION_FROM = "workflow.transition.from"
TRANSITION_TO = "workflow.transition.to"
TRANSITION_REASON = "workflow.transition.reason"

DECISION_PREFIX = "workflow.decision."
DECISION_EVENT = "workflow.decision"
DECISION_NAME = "workflow.decision.name"
DECISION_BRANCH = "workflow.decision.branch"
DECISION_REASON = "workflow.decision.reason"
DECISION_INPUT_PREFIX = "workflow.decision.input."

PARALLEL_TOTAL = "workflow.parallel.total"
PARALLEL_SUCCEEDED = "workflow.parallel.succeeded"
PARALLEL_FAILED = "workflow.parallel.failed"
PARALLEL_CANCELLED = "workflow.parallel.cancelled"
PARALLEL_LIMIT = "workflow.parallel.limit"
PARALLEL_SLOWEST_INDEX = "workflow.parallel.slowest_index"
PARALLEL_SLOWEST_S = "workflow.parallel.slowest_s"

RETRY_ATTEMPT = "workflow.retry.attempt"
RETRY_MAX_ATTEMPTS = "workflow.retry.max_attempts"
RETRY_BACKOFF_S = "workflow.retry.backoff_s"
RETRY_EXHAUSTED = "workflow.retry.exhausted"
RETRY_RETRYABLE = "workflow.retry.retryable"

TIMEOUT_S = "workflow.timeout_s"
TIMED_OUT = "workflow.timed_out"
