"""Configuration as one table: every option is one row of :data:`OPTIONS`.

A row names the ``init()`` argument (which is also the :class:`Settings` field), the
environment variables that set it (the standard ``OTEL_*`` name wherever OpenTelemetry has
one, a ``VAQUERO_*`` name only where it has none), how text from a variable is parsed, how
an argument value is checked, the default and a one-line description. ``load_settings`` is a
loop over the table, ``init()``'s signature and the README's configuration table are checked
against it by the tests, so an option cannot exist in one place and be missing in another.

Precedence: ``init()`` argument > ``VAQUERO_*`` variable > ``OTEL_*`` variable > default.
Within a row the most specific variable comes first (``..._TRACES_...`` before the generic one).

Bad values are treated differently by source, on purpose:

* a bad *argument* is a programming error visible at the call site, so ``init()`` raises
  :class:`ConfigError` (and nothing else, whatever the value) naming the argument and what it
  accepts;
* a bad *environment value* must never take a production service down (an operator typo
  should cost telemetry, not the application), so it gives one warning per process naming
  the variable, what is wrong and the value in force (the next variable of the row, else the
  default). Values that are only out of range (a timeout of ``1e10``) are clamped to the
  nearest usable value, with the same single warning.

Secrets never appear in a message: header values and the PII key are hidden, and the
userinfo of an endpoint URL (``http://user:password@host``) is masked by
:func:`mask_endpoint` wherever an endpoint is shown.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from vaquero._config_values import (
    EXPORTER_NAMES,
    Adjusted,
    Rejected,
    arg_bool,
    arg_callable,
    arg_choice,
    arg_duration,
    arg_endpoint,
    arg_exporters,
    arg_file,
    arg_headers,
    arg_mapping,
    arg_path,
    arg_patterns,
    arg_positive_int,
    arg_sample_rate,
    arg_strings,
    arg_text,
    as_is,
    hidden_text,
    hide,
    hide_values,
    mask_url,
    parse_bool,
    parse_choice,
    parse_duration,
    parse_endpoint,
    parse_exporters,
    parse_headers,
    parse_key_value_list,
    parse_list,
    parse_path,
    parse_patterns,
    parse_positive_int,
    parse_sample_rate,
    parse_text,
    readable_file,
    shown,
    shown_url,
)
from vaquero._diagnostics import warn_once
from vaquero._redact import mask_endpoint as mask_endpoint  # part of this API
from vaquero._semconv import CAPTURE_MESSAGE_CONTENT_ENV, CAPTURE_MODES, SEMCONV_OPT_IN_ENV

# --- standard OpenTelemetry variables -------------------------------------------------------
OTEL_SDK_DISABLED = "OTEL_SDK_DISABLED"
OTEL_SERVICE_NAME = "OTEL_SERVICE_NAME"
OTEL_RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"
OTEL_TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"
OTEL_TRACES_SAMPLER = "OTEL_TRACES_SAMPLER"
OTEL_TRACES_SAMPLER_ARG = "OTEL_TRACES_SAMPLER_ARG"
OTEL_EXPORTER_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
OTEL_EXPORTER_OTLP_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
OTEL_EXPORTER_OTLP_HEADERS = "OTEL_EXPORTER_OTLP_HEADERS"
OTEL_EXPORTER_OTLP_TRACES_HEADERS = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
OTEL_EXPORTER_OTLP_TIMEOUT = "OTEL_EXPORTER_OTLP_TIMEOUT"
OTEL_EXPORTER_OTLP_TRACES_TIMEOUT = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
OTEL_EXPORTER_OTLP_COMPRESSION = "OTEL_EXPORTER_OTLP_COMPRESSION"
OTEL_EXPORTER_OTLP_TRACES_COMPRESSION = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
OTEL_EXPORTER_OTLP_INSECURE = "OTEL_EXPORTER_OTLP_INSECURE"
OTEL_EXPORTER_OTLP_TRACES_INSECURE = "OTEL_EXPORTER_OTLP_TRACES_INSECURE"
OTEL_EXPORTER_OTLP_CERTIFICATE = "OTEL_EXPORTER_OTLP_CERTIFICATE"
OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE = "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"
OTEL_EXPORTER_OTLP_CLIENT_KEY = "OTEL_EXPORTER_OTLP_CLIENT_KEY"
OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY = "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY"
OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"
OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE = "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE"
OTEL_BSP_SCHEDULE_DELAY = "OTEL_BSP_SCHEDULE_DELAY"
OTEL_BSP_EXPORT_TIMEOUT = "OTEL_BSP_EXPORT_TIMEOUT"
OTEL_BSP_MAX_QUEUE_SIZE = "OTEL_BSP_MAX_QUEUE_SIZE"
OTEL_BSP_MAX_EXPORT_BATCH_SIZE = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"
OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT = "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT"
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT = CAPTURE_MESSAGE_CONTENT_ENV
OTEL_SEMCONV_STABILITY_OPT_IN = SEMCONV_OPT_IN_ENV
OTEL_METRICS_EXPORTER = "OTEL_METRICS_EXPORTER"
OTEL_METRIC_EXPORT_INTERVAL = "OTEL_METRIC_EXPORT_INTERVAL"
OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
OTEL_EXPORTER_OTLP_METRICS_PROTOCOL = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
OTEL_EXPORTER_OTLP_METRICS_HEADERS = "OTEL_EXPORTER_OTLP_METRICS_HEADERS"
OTEL_EXPORTER_OTLP_METRICS_TIMEOUT = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"
OTEL_EXPORTER_OTLP_METRICS_COMPRESSION = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION"
OTEL_EXPORTER_OTLP_METRICS_INSECURE = "OTEL_EXPORTER_OTLP_METRICS_INSECURE"
OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE = "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE"
OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY = "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY"
OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE = "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE"

# --- vaquero's own, only where OpenTelemetry has no name ------------------------------------
VAQUERO_AGENT_NAME = "VAQUERO_AGENT_NAME"
VAQUERO_PROPAGATE_AGENT = "VAQUERO_PROPAGATE_AGENT"
VAQUERO_CONSOLE = "VAQUERO_CONSOLE"
VAQUERO_TRACES_FILE = "VAQUERO_TRACES_FILE"
VAQUERO_SHUTDOWN_TIMEOUT = "VAQUERO_SHUTDOWN_TIMEOUT"
VAQUERO_SCRUB = "VAQUERO_SCRUB"
VAQUERO_SCRUB_PATTERNS = "VAQUERO_SCRUB_PATTERNS"
VAQUERO_SCRUB_ALLOW = "VAQUERO_SCRUB_ALLOW"
VAQUERO_PII = "VAQUERO_PII"
VAQUERO_PII_KEY = "VAQUERO_PII_KEY"

DEFAULT_GRPC_ENDPOINT = "http://localhost:4317"
DEFAULT_HTTP_ENDPOINT = "http://localhost:4318/v1/traces"
HTTP_TRACES_PATH = "/v1/traces"
HTTP_METRICS_PATH = "/v1/metrics"
METRICS_EXPORTERS = ("otlp", "console", "none")
DEFAULT_ATTRIBUTE_VALUE_LENGTH = 8 * 1024
DEFAULT_SHUTDOWN_TIMEOUT_S = 2.0

# Every duration is clamped to ten minutes: longer than any orchestrator's grace period, far
# below what the timers accept (``threading.TIMEOUT_MAX``; ``1e10`` s overflowed at exit).
MAX_DURATION_S = 600.0
# What "wait without limit" (``flush(math.inf)``) means to a timer: 11.6 days, still far
# below ``threading.TIMEOUT_MAX`` on every platform.
UNBOUNDED_WAIT_S = 1e6

PROTOCOLS = ("grpc", "http/protobuf")
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
PII_MODES = ("keep", "hash", "drop")
COMPRESSIONS = ("none", "gzip")


class NotPassed(enum.Enum):
    """The type of :data:`NOT_PASSED`: an ``init()`` argument the caller left out."""

    NOT_PASSED = "NOT_PASSED"

    def __repr__(self) -> str:
        return "NOT_PASSED"


NOT_PASSED: Final = NotPassed.NOT_PASSED
"""The default of every ``init()`` argument: "not passed, use the environment"."""


class ConfigError(ValueError):
    """A configuration value vaquero cannot use; the message names it and the fix."""


@dataclass(frozen=True)
class Settings:
    """Everything vaquero needs to build its pipeline, resolved once.

    Frozen so that two ``init()`` calls can be compared field by field and a running
    pipeline can never be mutated behind its back. One field per row of :data:`OPTIONS`, in
    the same order (a test checks it).
    """

    disabled: bool = False
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    service_name: str = "python"
    agent_name: str | None = None
    propagate_agent: bool = True
    exporters: tuple[str, ...] = ("otlp",)
    protocol: str = "grpc"
    endpoint: str = DEFAULT_GRPC_ENDPOINT
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    compression: str = "none"
    insecure: bool | None = None
    certificate: str | None = None
    client_key: str | None = None
    client_certificate: str | None = None
    sampler: str = "parentbased_always_on"
    sample_rate: float | None = None
    console: bool = False
    traces_file: str | None = None
    schedule_delay_ms: float = 1000.0
    export_timeout_ms: float = 30000.0
    max_queue_size: int = 2048
    max_export_batch_size: int = 512
    attribute_value_length: int = DEFAULT_ATTRIBUTE_VALUE_LENGTH
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT_S
    scrub: bool = True
    scrub_patterns: tuple[str, ...] = ()
    scrub_allow: tuple[str, ...] = ()
    scrub_callback: Callable[[Any], object] | None = None
    pii: str = "keep"
    pii_key: str | None = None
    capture_content: str = "no_content"
    semconv_opt_in: tuple[str, ...] = ()
    metrics_exporter: str = "otlp"
    metric_export_interval_ms: float = 60000.0
    metrics_protocol: str = "grpc"
    metrics_endpoint: str = DEFAULT_GRPC_ENDPOINT
    metrics_headers: Mapping[str, str] = field(default_factory=dict)
    metrics_timeout: float = 10.0
    metrics_compression: str = "none"
    metrics_insecure: bool | None = None
    metrics_certificate: str | None = None
    metrics_client_key: str | None = None
    metrics_client_certificate: str | None = None

    def describe(self) -> dict[str, Any]:
        """The settings as a printable dict; header values, PII key and endpoint userinfo masked."""
        return {option.name: option.show(getattr(self, option.name)) for option in OPTIONS}

    def __repr__(self) -> str:
        """The masked view of :meth:`describe`: a logged ``Settings`` leaks no credential."""
        shown = ", ".join(f"{name}={value!r}" for name, value in self.describe().items())
        return f"Settings({shown})"


def _arg_service_name(value: object) -> str | NotPassed:
    """An empty name means "not passed": the environment and the program's name apply."""
    return arg_text(value) or NOT_PASSED


# --- the table ---------------------------------------------------------------------------------
Resolved = Mapping[str, Any]


@dataclass(frozen=True)
class Option:
    """One configuration option: one ``init()`` argument, one ``Settings`` field, one row.

    * ``name``: the argument and the field; ``env``: its variables, most specific first
      (none for an option only code can set, such as a callback).
    * ``parse`` turns a variable's (stripped, non-empty) text into the field's value and
      ``accept`` checks an argument; both raise to reject and raise ``Adjusted`` to clamp.
      ``expected`` says what they accept, for messages.
    * ``default``, or ``default_from`` computing it from the rows resolved before this one;
      ``finish`` adjusts a value by where it came from (the endpoint's path rules);
      ``arg_extends_env``: the argument adds to the variable instead of replacing it.
    * ``doc`` and ``default_doc`` are the README's columns; ``show`` and ``show_text``
      render a value and a raw text for messages and ``describe()`` without secrets.
    """

    name: str
    env: tuple[str, ...]
    parse: Callable[[str], Any] | None
    accept: Callable[[Any], Any]
    default: Any
    expected: str
    doc: str
    default_doc: str = ""
    default_from: Callable[[Resolved], Any] | None = None
    finish: Callable[[Any, str, Resolved], Any] | None = None
    arg_extends_env: bool = False
    show: Callable[[Any], Any] = as_is
    show_text: Callable[[str], str] = shown


def _service_name_default(resolved: Resolved) -> str:
    return str(resolved["resource_attributes"].get("service.name") or default_service_name())


def _endpoint_default(resolved: Resolved) -> str:
    return DEFAULT_GRPC_ENDPOINT if resolved["protocol"] == "grpc" else DEFAULT_HTTP_ENDPOINT


def _endpoint_finish(value: str, source: str, resolved: Resolved) -> str:
    """The OTLP spec's rule: the signal-specific variable is used verbatim; the generic one
    (and ``init(endpoint=...)``) gets ``/v1/traces`` appended for HTTP unless already there."""
    if source == OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or resolved["protocol"] == "grpc":
        return value
    if value.rstrip("/").endswith(HTTP_TRACES_PATH):
        return value
    return value.rstrip("/") + HTTP_TRACES_PATH


_BOOL = "true or false"
_PEM = "the path of a readable PEM file"


def _metrics_endpoint_default(resolved: Resolved) -> str:
    """The traces endpoint, on the metrics path for HTTP; the default when the protocols
    differ (a gRPC address is no HTTP URL)."""
    traces = str(resolved["endpoint"])
    if resolved["metrics_protocol"] != resolved["protocol"]:
        traces = _endpoint_default({"protocol": resolved["metrics_protocol"]})
    if resolved["metrics_protocol"] == "grpc":
        return traces
    if traces.rstrip("/").endswith(HTTP_TRACES_PATH):
        traces = traces.rstrip("/")[: -len(HTTP_TRACES_PATH)]
    return traces.rstrip("/") + HTTP_METRICS_PATH


def _metrics_endpoint_finish(value: str, source: str, resolved: Resolved) -> str:
    """The OTLP rule for metrics: the signal-specific variable verbatim, ``/v1/metrics``
    appended to the argument for HTTP."""
    if source == OTEL_EXPORTER_OTLP_METRICS_ENDPOINT or resolved["metrics_protocol"] == "grpc":
        return value
    if value.rstrip("/").endswith(HTTP_METRICS_PATH):
        return value
    return value.rstrip("/") + HTTP_METRICS_PATH


def _metrics_exporter_default(resolved: Resolved) -> str:
    """Metrics follow the spans: a program that keeps its spans off OTLP (a file, the
    console, none) is not told about a collector it never asked for."""
    return "otlp" if "otlp" in resolved["exporters"] else "none"


_CAPTURE_BOOLEANS = {"true": "span_only", "false": "no_content"}


def _parse_capture(raw: str) -> str:
    """A content-capture mode; ``true``/``false`` are the boolean form the contrib GenAI
    instrumentations read when the latest conventions are not opted into."""
    lowered = raw.strip().lower()
    return parse_choice(CAPTURE_MODES)(_CAPTURE_BOOLEANS.get(lowered, lowered))


def _accept_capture(value: object) -> str:
    if isinstance(value, bool):
        return "span_only" if value else "no_content"
    return _parse_capture(arg_text(value))


def _like_traces(name: str, traces_row: Option, specific: str) -> Option:
    """A metrics row that parses like its traces row and, unset, takes the traces value (so
    the generic ``OTEL_EXPORTER_OTLP_*`` variables and the traces arguments apply to both)."""
    return Option(
        name, (specific,), traces_row.parse, traces_row.accept, None, traces_row.expected,
        doc=f"as `{traces_row.name}`, for the GenAI duration metrics",
        default_doc=f"`{traces_row.name}`",
        default_from=lambda resolved: resolved[traces_row.name],
        show=traces_row.show,
        show_text=traces_row.show_text,
    )


def _milliseconds(name: str, variable: str, default: float, doc: str) -> Option:
    """A batch processor duration: milliseconds in the variable and the argument, from
    1 ms to the longest wait vaquero allows, clamped with a warning in the argument too."""
    return Option(
        name, (variable,),
        parse_duration(1.0, MAX_DURATION_S * 1000, "ms"),
        arg_duration(MAX_DURATION_S * 1000, "ms", True), default, "a number of milliseconds",
        doc=doc,
        default_doc=f"{default:g} ms",
    )


# fmt: off
OPTIONS: tuple[Option, ...] = (
    Option(
        "disabled", (OTEL_SDK_DISABLED,), parse_bool, arg_bool, False, _BOOL,
        doc="`true`: every vaquero call is a cheap no-op and no thread starts",
        default_doc="`false`",
    ),
    Option(
        "resource_attributes", (OTEL_RESOURCE_ATTRIBUTES,), parse_key_value_list, arg_mapping,
        {}, "'key=value,key2=value2' (URL-encoded) or a dict of strings",
        doc="extra resource attributes, `k=v,k2=v2`; the argument adds to the variable",
        arg_extends_env=True,
    ),
    Option(
        "service_name", (OTEL_SERVICE_NAME,), parse_text, _arg_service_name, None, "a string",
        doc="`service.name` (never `unknown_service`)",
        default_doc="`service.name` from the resource attributes, else the program's name",
        default_from=_service_name_default,
    ),
    Option(
        "agent_name", (VAQUERO_AGENT_NAME,), parse_text, arg_text, None, "a string",
        doc="resource attribute `gen_ai.agent.name`, for a one-agent process",
    ),
    Option(
        "propagate_agent", (VAQUERO_PROPAGATE_AGENT,), parse_bool, arg_bool, True, _BOOL,
        doc="`false` keeps agent names inside the process; `true` sends the current one as "
        "W3C baggage (`gen_ai.agent.name`) to every instrumented downstream call, third "
        "parties included",
        default_doc="`true`",
    ),
    Option(
        "exporters", (OTEL_TRACES_EXPORTER,), parse_exporters, arg_exporters, ("otlp",),
        f"a comma-separated list (or a list) of names from {EXPORTER_NAMES}",
        doc="`otlp`, `console` (the SDK's JSON dump), `vaquero_console` (trees), "
        "`vaquero_file` (OTLP JSON lines), `none`",
        default_doc="`otlp`",
    ),
    Option(
        "protocol", (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL),
        parse_choice(PROTOCOLS), arg_choice(PROTOCOLS), "grpc", f"one of {PROTOCOLS}",
        doc="`grpc` or `http/protobuf`",
        default_doc="`grpc`",
    ),
    Option(
        "endpoint", (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT),
        parse_endpoint, arg_endpoint, None, "a URL such as 'http://localhost:4317'",
        doc="per the OTLP spec, the generic variable and the argument get `/v1/traces` "
        "appended for HTTP; userinfo (`user:password@`) is never printed",
        default_doc="`http://localhost:4317` (gRPC), `http://localhost:4318/v1/traces` (HTTP)",
        default_from=_endpoint_default,
        finish=_endpoint_finish,
        show=mask_url,
        show_text=shown_url,
    ),
    Option(
        "headers", (OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_HEADERS),
        parse_headers, arg_headers, {},
        "'key=value,key2=value2' (URL-encoded) or a dict, values printable ASCII",
        doc="`k=v,k2=v2`, URL-encoded; values must be printable ASCII and are never printed",
        show=hide_values,
        show_text=hidden_text,
    ),
    Option(
        "timeout", (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, OTEL_EXPORTER_OTLP_TIMEOUT),
        parse_duration(0.001, MAX_DURATION_S, "s"), arg_duration(MAX_DURATION_S, "s", False),
        10.0, "a number of seconds (of milliseconds in the variables)",
        doc="per export request: seconds in the argument, milliseconds in the variables; "
        "at most 600 s",
        default_doc="10 s",
    ),
    Option(
        "compression", (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, OTEL_EXPORTER_OTLP_COMPRESSION),
        parse_choice(COMPRESSIONS), arg_choice(COMPRESSIONS), "none",
        f"one of {COMPRESSIONS}",
        doc="`none` or `gzip`",
        default_doc="`none`",
    ),
    Option(
        "insecure", (OTEL_EXPORTER_OTLP_TRACES_INSECURE, OTEL_EXPORTER_OTLP_INSECURE),
        parse_bool, arg_bool, None, _BOOL,
        doc="plaintext gRPC",
        default_doc="from the scheme",
    ),
    Option(
        "certificate", (OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, OTEL_EXPORTER_OTLP_CERTIFICATE),
        readable_file, arg_file, None, _PEM,
        doc="TLS with a custom CA",
    ),
    Option(
        "client_key", (OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY, OTEL_EXPORTER_OTLP_CLIENT_KEY),
        readable_file, arg_file, None, _PEM,
        doc="mTLS: the client's private key",
    ),
    Option(
        "client_certificate",
        (OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE),
        readable_file, arg_file, None, _PEM,
        doc="mTLS: the client's certificate",
    ),
    Option(
        "sampler", (OTEL_TRACES_SAMPLER,), parse_choice(SAMPLERS), arg_choice(SAMPLERS),
        "parentbased_always_on", f"one of {SAMPLERS}",
        doc="the head sampler; `init(sample_rate=r)` alone means `parentbased_traceidratio`",
        default_doc="`parentbased_always_on`",
    ),
    Option(
        "sample_rate", (OTEL_TRACES_SAMPLER_ARG,), parse_sample_rate, arg_sample_rate, None,
        "a number from 0 to 1",
        doc="the ratio of the `traceidratio` samplers",
        default_doc="1.0",
    ),
    Option(
        "console", (VAQUERO_CONSOLE,), parse_bool, arg_bool, False, _BOOL,
        doc="add the console tree exporter",
        default_doc="`false`",
    ),
    Option(
        "traces_file", (VAQUERO_TRACES_FILE,), parse_path, arg_path, None, "a file path",
        doc="add the OTLP-JSON-lines file exporter writing there",
        default_doc="none; `./vaquero-traces.jsonl` when the exporters name `vaquero_file`",
    ),
    _milliseconds(
        "schedule_delay_ms", OTEL_BSP_SCHEDULE_DELAY, 1000.0,
        "the export queue's wait between batches; at most 600000 ms",
    ),
    _milliseconds(
        "export_timeout_ms", OTEL_BSP_EXPORT_TIMEOUT, 30000.0,
        "caps `timeout` for one export; at most 600000 ms",
    ),
    Option(
        "max_queue_size", (OTEL_BSP_MAX_QUEUE_SIZE,), parse_positive_int, arg_positive_int,
        2048, "a positive integer",
        doc="spans waiting for export; a full queue drops and counts",
        default_doc="2048",
    ),
    Option(
        "max_export_batch_size", (OTEL_BSP_MAX_EXPORT_BATCH_SIZE,), parse_positive_int,
        arg_positive_int, 512, "a positive integer",
        doc="spans per export request",
        default_doc="512",
    ),
    Option(
        "attribute_value_length",
        (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT),
        parse_positive_int, arg_positive_int, DEFAULT_ATTRIBUTE_VALUE_LENGTH,
        "a positive integer",
        doc="longer strings are cut with a `…[truncated N chars]` marker",
        default_doc="8192",
    ),
    Option(
        "shutdown_timeout", (VAQUERO_SHUTDOWN_TIMEOUT,),
        parse_duration(1.0, MAX_DURATION_S, "s"), arg_duration(MAX_DURATION_S, "s", True),
        DEFAULT_SHUTDOWN_TIMEOUT_S, "a number of seconds",
        doc="the most exit may wait for export, even with the collector gone; at most 600 s",
        default_doc="2 s",
    ),
    Option(
        "scrub", (VAQUERO_SCRUB,), parse_bool, arg_bool, True, _BOOL,
        doc="secret scrubbing on the export side (rules in `vaquero/_pipeline/scrub.py`)",
        default_doc="`true`",
    ),
    Option(
        "scrub_patterns", (VAQUERO_SCRUB_PATTERNS,), parse_patterns, arg_patterns, (),
        "a list of regular expressions (comma-separated in the variable)",
        doc="extra regexes for secret attribute keys; a bad one in the variable is skipped",
    ),
    Option(
        "scrub_allow", (VAQUERO_SCRUB_ALLOW,), parse_list, arg_strings, (),
        "a list of attribute keys (comma-separated in the variable)",
        doc="attribute keys never scrubbed",
    ),
    Option(
        "scrub_callback", (), None, arg_callable, None, "a function",
        doc="`f(match) -> str | None`: the replacement for one finding (None: the marker)",
    ),
    Option(
        "pii", (VAQUERO_PII,), parse_choice(PII_MODES), arg_choice(PII_MODES), "keep",
        f"one of {PII_MODES}",
        doc="`keep`, `hash` (keyed HMAC, the key is `pii_key`) or `drop` e-mail-like keys and "
        "values. `keep` is the default because the guide's own workflows record `user_email` "
        "for debugging; what to do with PII is the operator's policy",
        default_doc="`keep`",
    ),
    Option(
        "pii_key", (VAQUERO_PII_KEY,), parse_text, arg_text, None, "a string",
        doc="the HMAC key of `pii=hash`; never printed",
        show=hide,
        show_text=hidden_text,
    ),
    Option(
        "capture_content", (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,),
        _parse_capture, _accept_capture, "no_content",
        f"one of {CAPTURE_MODES} (any case), or true / false",
        doc="`span_only` / `span_and_event`: tool spans record their arguments and result "
        "(`gen_ai.tool.call.arguments` / `.result`, bounded JSON, scrubbed) unless "
        "`capture_args` / `capture_result` say otherwise; `no_content`, `event_only`: they "
        "do not; `true` / `false` (the contrib instrumentations' older form) mean "
        "`span_only` / `no_content`",
        default_doc="`no_content`",
    ),
    Option(
        "semconv_opt_in", (OTEL_SEMCONV_STABILITY_OPT_IN,), parse_list, arg_strings, (),
        "a comma-separated list (or a list) of convention categories",
        doc="`gen_ai_latest_experimental` names agent, workflow and tool spans as the GenAI "
        "conventions do (`invoke_agent {name}`, `invoke_workflow {name}`, "
        "`execute_tool {name}`); other values are ignored",
        default_doc="none: the names you chose",
    ),
    Option(
        "metrics_exporter", (OTEL_METRICS_EXPORTER,), parse_choice(METRICS_EXPORTERS),
        arg_choice(METRICS_EXPORTERS), None, f"one of {METRICS_EXPORTERS}",
        doc="where the GenAI duration histograms go: `otlp`, `console` or `none`; a "
        "MeterProvider the application installed is used instead, as it is",
        default_doc="`otlp` when spans go over OTLP, else `none`",
        default_from=_metrics_exporter_default,
    ),
    _milliseconds(
        "metric_export_interval_ms", OTEL_METRIC_EXPORT_INTERVAL, 60000.0,
        "the wait between metric exports; at most 600000 ms",
    ),
)
# fmt: on


def _option(name: str) -> Option:
    return next(option for option in OPTIONS if option.name == name)


_METRICS_LIKE_TRACES = (
    ("metrics_protocol", "protocol", OTEL_EXPORTER_OTLP_METRICS_PROTOCOL),
    ("metrics_endpoint", "endpoint", OTEL_EXPORTER_OTLP_METRICS_ENDPOINT),
    ("metrics_headers", "headers", OTEL_EXPORTER_OTLP_METRICS_HEADERS),
    ("metrics_timeout", "timeout", OTEL_EXPORTER_OTLP_METRICS_TIMEOUT),
    ("metrics_compression", "compression", OTEL_EXPORTER_OTLP_METRICS_COMPRESSION),
    ("metrics_insecure", "insecure", OTEL_EXPORTER_OTLP_METRICS_INSECURE),
    ("metrics_certificate", "certificate", OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE),
    ("metrics_client_key", "client_key", OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY),
    ("metrics_client_certificate", "client_certificate",
     OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE),
)


def _metrics_rows() -> tuple[Option, ...]:
    """The OTLP rows of the metrics exporter: the traces rows' rules, the METRICS variable
    first, else the traces value."""
    rows = []
    for name, traces_name, specific in _METRICS_LIKE_TRACES:
        row = _like_traces(name, _option(traces_name), specific)
        if name == "metrics_endpoint":
            row = dataclasses.replace(
                row,
                doc="as `endpoint`, for the GenAI duration metrics; the argument gets "
                "`/v1/metrics` appended for HTTP",
                default_doc="`endpoint`, with `/v1/metrics` for HTTP",
                default_from=_metrics_endpoint_default,
                finish=_metrics_endpoint_finish,
            )
        rows.append(row)
    return tuple(rows)


OPTIONS = OPTIONS + _metrics_rows()
OPTION_NAMES: Final = tuple(option.name for option in OPTIONS)


# --- resolution --------------------------------------------------------------------------------
def default_service_name() -> str:
    """The program's name, so Jaeger never shows ``unknown_service``."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    base = os.path.basename(argv0)
    if base.endswith(".py"):
        base = base[:-3]
    if base in ("", "-c", "-m", "__main__", "python", "python3"):
        return "python"
    return base


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Resolve :class:`Settings` from ``overrides`` (``init()`` arguments) over ``environ``.

    An override that is None or :data:`NOT_PASSED` counts as not passed.

    Raises:
        ConfigError: for an unknown or unusable override, and for nothing else; the
            environment only ever causes warnings (at most one per variable).
    """
    passed = {
        name: value
        for name, value in (overrides or {}).items()
        if value is not None and value is not NOT_PASSED
    }
    unknown = sorted(set(passed) - set(OPTION_NAMES))
    if unknown:
        raise ConfigError(
            f"vaquero.init() got unknown argument(s) {unknown}; accepted: {sorted(OPTION_NAMES)}."
        )
    env = os.environ if environ is None else environ
    resolved: dict[str, Any] = {}
    for option in OPTIONS:
        resolved[option.name] = _resolve(option, passed, env, resolved)
    if "sample_rate" in passed and "sampler" not in passed:
        resolved["sampler"] = "parentbased_traceidratio"
    return Settings(**resolved)


def _resolve(
    option: Option, passed: Mapping[str, Any], env: Mapping[str, str], resolved: Resolved
) -> Any:
    """One row: the argument if passed, else the first usable variable, else the default.

    Each unusable variable gives one warning, issued once the value in force is known.
    """
    value: Any = NOT_PASSED
    source = "init()"
    if option.name in passed:
        value = _accept(option, passed[option.name])
    unusable: list[tuple[str, str, str]] = []
    if value is NOT_PASSED or option.arg_extends_env:
        found = _from_environment(option, env, unusable)
        if found is not None and value is NOT_PASSED:
            value, source = found
        elif found is not None:
            value = {**found[0], **value}
    if value is NOT_PASSED:
        value, source = _default(option, resolved), "the default"
    elif option.finish is not None:
        value = option.finish(value, source, resolved)
    for name, text, problem in unusable:
        in_force = shown(option.show(value))
        warn_once(
            _warning_key(name, env[name]),
            "vaquero: ignoring %s=%s: %s. Using %s; fix or unset %s.",
            name,
            text,
            problem,
            f"the default ({in_force})" if source == "the default" else f"{in_force} from {source}",
            name,
        )
    return value


def _default(option: Option, resolved: Resolved) -> Any:
    if option.default_from is not None:
        return option.default_from(resolved)
    default = option.default
    return dict(default) if isinstance(default, dict) else default


def _accept(option: Option, value: object) -> Any:
    """An ``init()`` argument's value, or :class:`ConfigError`; no other exception escapes."""
    try:
        return option.accept(value)
    except Adjusted as adjusted:
        warn_once(
            f"config:init:{option.name}={_shown_arg(option, value)}",
            "vaquero: adjusting vaquero.init(%s=%s): %s. Using %s.",
            option.name,
            _shown_arg(option, value),
            adjusted.problem,
            shown(option.show(adjusted.value)),
        )
        return adjusted.value
    except Exception as exc:
        problem = str(exc) if isinstance(exc, Rejected) else f"expected {option.expected}"
        raise ConfigError(
            f"vaquero.init({option.name}={_shown_arg(option, value)}): {problem}."
        ) from None


def _shown_arg(option: Option, value: object) -> str:
    """The argument as a message may quote it: masked, short, and never raising."""
    if option.show in (hide, hide_values):
        return "<value hidden>"
    try:
        return option.show_text(str.__str__(value)) if isinstance(value, str) else shown(value)
    except Exception:
        return f"<{type(value).__name__}>"


def _from_environment(
    option: Option, env: Mapping[str, str], unusable: list[tuple[str, str, str]]
) -> tuple[Any, str] | None:
    """The first variable of the row that holds a usable value, and its name.

    Unusable ones are appended to ``unusable`` as (variable, text to show, problem); a value
    used only once adjusted is reported here, with the value in force.
    """
    if option.parse is None:
        return None
    for name in option.env:
        raw = env.get(name)
        if not isinstance(raw, str) or raw.strip() == "":
            continue
        text, note = _valid_text(raw.strip())
        try:
            value = option.parse(text)
        except Adjusted as adjusted:
            value, note = adjusted.value, _joined(note, adjusted.problem)
        except Exception as exc:
            problem = str(exc) if isinstance(exc, Rejected) else f"expected {option.expected}"
            unusable.append((name, option.show_text(raw), _joined(note, problem)))
            continue
        if note:
            warn_once(
                _warning_key(name, raw),
                "vaquero: adjusting %s=%s: %s. Using %s; fix or unset %s.",
                name,
                option.show_text(raw),
                note,
                shown(option.show(value)),
                name,
            )
        return value, name
    return None


def _warning_key(variable: str, raw: str) -> str:
    """Once per variable and value; the value only as a hash, so no secret is kept around."""
    return f"config:{variable}:{hash(raw):x}"


def _valid_text(raw: str) -> tuple[str, str]:
    """Text every later stage can encode: undecodable bytes become U+FFFD, with a note."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        fixed = raw.encode("utf-8", "surrogateescape" if _escaped(raw) else "replace")
        return (
            fixed.decode("utf-8", "replace"),
            "not valid UTF-8 (the bad bytes were replaced with U+FFFD)",
        )
    return raw, ""


def _escaped(raw: str) -> bool:
    """True when every surrogate is one ``os.environ`` made of an undecodable byte."""
    return all("\udc80" <= ch <= "\udcff" for ch in raw if "\ud800" <= ch <= "\udfff")


def _joined(first: str, second: str) -> str:
    return f"{first}; {second}" if first and second else first or second


# --- the README's configuration table ------------------------------------------------------------
def markdown_table() -> str:
    """The README's configuration table, generated from :data:`OPTIONS` (a test compares)."""
    lines = [
        "| `init()` argument | variables | default | effect |",
        "|---|---|---|---|",
    ]
    for option in OPTIONS:
        variables = ", ".join(f"`{name}`" for name in option.env)
        doc = option.doc.replace("|", "\\|")
        lines.append(f"| `{option.name}` | {variables} | {option.default_doc} | {doc} |")
    return "\n".join(lines) + "\n"

