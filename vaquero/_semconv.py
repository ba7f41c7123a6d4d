"""Every attribute and event name vaquero writes or reads, defined once.

OpenTelemetry semantic conventions where one exists (``gen_ai.*``, ``exception.*``,
``service.name``, ``error.type``); vaquero's own under ``vaquero.*`` and the workflow
helpers' under ``workflow.*``. The console tree, the test fixture, the analysis and the
workflow helpers all read these constants, so a rename happens here or nowhere.
"""

from __future__ import annotations

# --- GenAI agent conventions -----------------------------------------------------------------
AGENT_NAME = "gen_ai.agent.name"
OPERATION_NAME = "gen_ai.operation.name"
INVOKE_AGENT = "invoke_agent"

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
