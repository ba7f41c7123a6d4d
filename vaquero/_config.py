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
  should cost telemetry, not the application), so it gives exactly one warning naming the
  variable, what is wrong and the value in force (the next variable of the row, else the
  default). Values that are only out of range (a timeout of ``1e10``) are clamped to the
  nearest usable value, with the same single warning.

Secrets never appear in a message: header values and the PII key are hidden, and the
userinfo of an endpoint URL (``http://user:password@host``) is masked by
:func:`mask_endpoint` wherever an endpoint is shown.
"""

from __future__ import annotations

import enum
import logging
import math
import os
import re
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

logger = logging.getLogger("vaquero")

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

# --- vaquero's own, only where OpenTelemetry has no name ------------------------------------
VAQUERO_AGENT_NAME = "VAQUERO_AGENT_NAME"
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
DEFAULT_ATTRIBUTE_VALUE_LENGTH = 8 * 1024
DEFAULT_SHUTDOWN_TIMEOUT_S = 2.0

# Every duration is clamped to ten minutes: longer than any orchestrator's grace period, far
# below what the timers accept (``threading.TIMEOUT_MAX``; ``1e10`` s overflowed at exit).
MAX_DURATION_S = 600.0
# What "wait without limit" (``flush(math.inf)``) means to a timer: 11.6 days, still far
# below ``threading.TIMEOUT_MAX`` on every platform.
UNBOUNDED_WAIT_S = 1e6

PROTOCOLS = ("grpc", "http/protobuf")
EXPORTER_NAMES = ("otlp", "console", "none", "vaquero_console", "vaquero_file")
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

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})
# The characters of an HTTP header name (RFC 9110 "token"); gRPC metadata keys are a subset
# once lower-cased, which the gRPC exporter does.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A header value gRPC and HTTP both accept: printable ASCII and space, nothing else (a CR or
# LF would split the header; gRPC's C core rejects and logs at every export attempt).
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")
_SHOWN_MAX = 120  # characters of a bad value quoted in a message


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

    def describe(self) -> dict[str, Any]:
        """The settings as a printable dict: header values, keys and endpoint userinfo masked."""
        return {option.name: option.show(getattr(self, option.name)) for option in OPTIONS}

    def __repr__(self) -> str:
        """The masked view of :meth:`describe`: a logged ``Settings`` leaks no credential."""
        shown = ", ".join(f"{name}={value!r}" for name, value in self.describe().items())
        return f"Settings({shown})"


def mask_endpoint(url: str) -> str:
    """``url`` with any userinfo (``user:password@``) replaced by ``***@``, for printing.

    Works on text that is not a valid URL too (a bad variable is quoted in a warning), and
    masks up to the *last* ``@`` so that a password holding ``@`` or ``/`` is hidden whole.
    Over-masking an odd URL is harmless; printing a credential is not.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" not in rest:
        return url
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}"


# --- parsing text from a variable ------------------------------------------------------------
class _Rejected(ValueError):
    """A value that cannot be used; ``str()`` says what is wrong with it."""


class _Adjusted(Exception):
    """A value usable only once changed (clamped, bad parts dropped); carries the result."""

    def __init__(self, value: object, problem: str) -> None:
        super().__init__(problem)
        self.value = value
        self.problem = problem


def parse_bool(raw: str) -> bool:
    """``true``/``1``/``yes``/``on`` or ``false``/``0``/``no``/``off``, any case."""
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(raw)


def _parse_text(raw: str) -> str:
    return raw


def _parse_choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        lowered = raw.strip().lower()
        if lowered not in options:
            raise ValueError(raw)
        return lowered

    return parse


def _parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _parse_duration(scale: float, maximum: float, unit: str) -> Callable[[str], float]:
    """A non-negative number, times ``scale``, clamped to ``maximum`` (``inf`` included)."""

    def parse(raw: str) -> float:
        return _clamped_duration(float(raw) * scale, maximum, unit)

    return parse


def _clamped_duration(value: float, maximum: float, unit: str) -> float:
    if math.isnan(value) or value < 0:
        raise ValueError(value)
    if value > maximum:
        raise _Adjusted(maximum, f"above the maximum of {maximum:g} {unit}")
    return value


def _parse_sample_rate(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:  # NaN fails this too
        raise ValueError(raw)
    return value


def parse_key_value_list(raw: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` with URL-encoded parts, as OTEL_*_HEADERS and OTEL_RESOURCE_ATTRIBUTES."""
    result: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(item)
        result[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return result


def _check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names and values every transport accepts; the message never quotes a value."""
    for position, (name, value) in enumerate(headers.items(), start=1):
        if not _HEADER_NAME.fullmatch(name):
            raise _Rejected(
                f"header #{position} has a name that is not a valid header name "
                "(letters, digits and !#$%&'*+-.^_`|~ only)"
            )
        if not _HEADER_VALUE.fullmatch(value):
            raise _Rejected(
                f"the value of header {name!r} holds a character that is not printable ASCII "
                "(a line break such as %0A, a control or non-ASCII character)"
            )
    return dict(headers)


def _parse_headers(raw: str) -> dict[str, str]:
    try:
        headers = parse_key_value_list(raw)
    except ValueError:
        raise _Rejected("expected 'key=value,key2=value2' (URL-encoded)") from None
    return _check_headers(headers)


def _parse_exporters(raw: str) -> tuple[str, ...]:
    names = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    if not names or any(name not in EXPORTER_NAMES for name in names):
        raise ValueError(raw)
    if "none" in names:
        return ("none",) if len(names) == 1 else tuple(n for n in names if n != "none")
    return names


def _parse_endpoint(raw: str) -> str:
    """An http(s) URL with a host and a valid port, usable as is by both OTLP exporters."""
    if not raw.isascii() or not raw.isprintable() or " " in raw:
        raise _Rejected(
            "expected a URL such as 'http://localhost:4317' (printable ASCII, no spaces; "
            "write an international host name in its xn-- form)"
        )
    try:
        parsed = urllib.parse.urlsplit(raw)
        parsed.port  # noqa: B018 - raises ValueError for a port out of range or not a number
        host = parsed.hostname
    except ValueError as exc:
        raise _Rejected(f"not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https") or not host:
        raise _Rejected("expected a URL such as 'http://localhost:4317'")
    return raw


def _readable_file(raw: str) -> str:
    """A TLS file is checked here, so a typo is named at configuration, not at first export."""
    path = os.path.expanduser(raw)
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ValueError(raw)
    return path


def _parse_path(raw: str) -> str:
    os.fsencode(raw)  # raises for text the file system cannot name
    if "\x00" in raw:
        raise ValueError(raw)
    return raw


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _parse_patterns(raw: str) -> tuple[str, ...]:
    """Extra secret-key regexes: one that does not compile is dropped, the others apply."""
    patterns = _parse_list(raw)
    bad = [p for p in patterns if not _compiles(p)]
    if bad:
        raise _Adjusted(
            tuple(p for p in patterns if p not in bad),
            f"{_shown(bad)} are not valid regular expressions (the others apply)",
        )
    return patterns


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return False
    return True


# --- checking an init() argument -------------------------------------------------------------
# Each returns the value in the Settings field's type, or raises (anything: the loop turns
# it into a ConfigError), or raises _Adjusted to clamp with a warning.
def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _utf8(value: str) -> str:
    value.encode("utf-8")  # a lone surrogate would break the exporters' encoders later
    return value


def _arg_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return parse_bool(value)
    raise TypeError(value)


def _arg_text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return _utf8(value)


def _arg_service_name(value: object) -> str | NotPassed:
    """An empty name means "not passed": the environment and the program's name apply."""
    return _arg_text(value) or NOT_PASSED


def _arg_choice(options: tuple[str, ...]) -> Callable[[object], str]:
    parse = _parse_choice(options)

    def accept(value: object) -> str:
        return parse(_arg_text(value))

    return accept


def _arg_positive_int(value: object) -> int:
    if isinstance(value, str):
        return _parse_positive_int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise TypeError(value)
    return int(value)


def _arg_duration(maximum: float, unit: str, text: bool) -> Callable[[object], float]:
    """A number of ``unit``; ``text`` says whether a numeric string is accepted too."""

    def accept(value: object) -> float:
        if text and isinstance(value, str):
            value = float(value)
        if not _is_number(value):
            raise TypeError(value)
        return _clamped_duration(float(value), maximum, unit)  # type: ignore[arg-type]

    return accept


def _arg_sample_rate(value: object) -> float:
    if not _is_number(value):
        raise TypeError(value)
    rate = float(value)  # type: ignore[arg-type]
    if not 0.0 <= rate <= 1.0:
        raise ValueError(value)
    return rate


def _arg_mapping(value: object) -> dict[str, str]:
    if isinstance(value, str):
        return parse_key_value_list(value)
    if isinstance(value, Mapping):
        return {_utf8(str(k)): _utf8(str(v)) for k, v in value.items()}
    raise TypeError(value)


def _arg_headers(value: object) -> dict[str, str]:
    return _check_headers(_arg_mapping(value))


def _arg_exporters(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return _parse_exporters(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return _parse_exporters(",".join(value))
    raise TypeError(value)


def _arg_endpoint(value: object) -> str:
    return _parse_endpoint(_arg_text(value))


def _arg_path(value: object) -> str:
    path = os.fspath(value)  # type: ignore[call-overload]
    if not isinstance(path, str):
        raise TypeError(value)
    return _parse_path(path)


def _arg_file(value: object) -> str:
    return _readable_file(_arg_path(value))


def _arg_strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TypeError(value)
    return tuple(_utf8(v) for v in value)


def _arg_patterns(value: object) -> tuple[str, ...]:
    patterns = _arg_strings(value)
    for pattern in patterns:
        if not _compiles(pattern):
            raise _Rejected(f"{_shown(pattern)} is not a valid regular expression")
    return patterns


def _arg_callable(value: object) -> Callable[[Any], object]:
    if not callable(value):
        raise TypeError(value)
    return value


# --- showing values without leaking them --------------------------------------------------------
def _shown(value: object) -> str:
    """A short, ASCII-only, never-raising rendering of any value, for messages."""
    try:
        text = ascii(value)
    except Exception:
        return f"<{type(value).__name__}>"
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 4] + "...'"


def _as_is(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


def _hide_values(value: Any) -> Any:
    return {key: "***" for key in value} if isinstance(value, Mapping) else "***"


def _hide(value: Any) -> Any:
    return None if value is None else "***"


def _mask_url(value: Any) -> Any:
    return mask_endpoint(value) if isinstance(value, str) else value


def _shown_url(raw: str) -> str:
    return _shown(mask_endpoint(raw))


def _hidden_text(raw: str) -> str:
    return "<value hidden>"


# --- the table ---------------------------------------------------------------------------------
Resolved = Mapping[str, Any]


@dataclass(frozen=True)
class Option:
    """One configuration option: one ``init()`` argument, one ``Settings`` field, one row.

    ``parse`` turns a variable's (stripped, non-empty) text into the field's value and
    ``accept`` checks an argument; both raise to reject and raise ``_Adjusted`` to clamp.
    ``default_from`` computes a default from the options resolved before this one, and
    ``finish`` adjusts a value by where it came from (the endpoint's path rules).
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
    show: Callable[[Any], Any] = _as_is
    show_text: Callable[[str], str] = _shown


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
_MS = "a number of milliseconds"

# fmt: off
OPTIONS: tuple[Option, ...] = (
    Option(
        "disabled", (OTEL_SDK_DISABLED,), parse_bool, _arg_bool, False, _BOOL,
        doc="`true`: every vaquero call is a cheap no-op and no thread starts",
        default_doc="`false`",
    ),
    Option(
        "resource_attributes", (OTEL_RESOURCE_ATTRIBUTES,), parse_key_value_list, _arg_mapping,
        {}, "'key=value,key2=value2' (URL-encoded) or a dict of strings",
        doc="extra resource attributes, `k=v,k2=v2`; the argument adds to the variable",
        arg_extends_env=True,
    ),
    Option(
        "service_name", (OTEL_SERVICE_NAME,), _parse_text, _arg_service_name, None, "a string",
        doc="`service.name` (never `unknown_service`)",
        default_doc="`service.name` from the resource attributes, else the program's name",
        default_from=_service_name_default,
    ),
    Option(
        "agent_name", (VAQUERO_AGENT_NAME,), _parse_text, _arg_text, None, "a string",
        doc="resource attribute `gen_ai.agent.name`, for a one-agent process",
    ),
    Option(
        "exporters", (OTEL_TRACES_EXPORTER,), _parse_exporters, _arg_exporters, ("otlp",),
        f"a comma-separated list (or a list) of names from {EXPORTER_NAMES}",
        doc="`otlp`, `console` (the SDK's JSON dump), `vaquero_console` (trees), "
        "`vaquero_file` (OTLP JSON lines), `none`",
        default_doc="`otlp`",
    ),
    Option(
        "protocol", (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL),
        _parse_choice(PROTOCOLS), _arg_choice(PROTOCOLS), "grpc", f"one of {PROTOCOLS}",
        doc="`grpc` or `http/protobuf`",
        default_doc="`grpc`",
    ),
    Option(
        "endpoint", (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT),
        _parse_endpoint, _arg_endpoint, None, "a URL such as 'http://localhost:4317'",
        doc="per the OTLP spec, the generic variable and the argument get `/v1/traces` "
        "appended for HTTP; userinfo (`user:password@`) is never printed",
        default_doc="`http://localhost:4317` (gRPC), `http://localhost:4318/v1/traces` (HTTP)",
        default_from=_endpoint_default,
        finish=_endpoint_finish,
        show=_mask_url,
        show_text=_shown_url,
    ),
    Option(
        "headers", (OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_HEADERS),
        _parse_headers, _arg_headers, {},
        "'key=value,key2=value2' (URL-encoded) or a dict, values printable ASCII",
        doc="`k=v,k2=v2`, URL-encoded; values must be printable ASCII and are never printed",
        show=_hide_values,
        show_text=_hidden_text,
    ),
    Option(
        "timeout", (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, OTEL_EXPORTER_OTLP_TIMEOUT),
        _parse_duration(0.001, MAX_DURATION_S, "s"), _arg_duration(MAX_DURATION_S, "s", False),
        10.0, "a number of seconds (of milliseconds in the variables)",
        doc="per export request: seconds in the argument, milliseconds in the variables; "
        "at most 600 s",
        default_doc="10 s",
    ),
    Option(
        "compression", (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, OTEL_EXPORTER_OTLP_COMPRESSION),
        _parse_choice(COMPRESSIONS), _arg_choice(COMPRESSIONS), "none",
        f"one of {COMPRESSIONS}",
        doc="`none` or `gzip`",
        default_doc="`none`",
    ),
    Option(
        "insecure", (OTEL_EXPORTER_OTLP_TRACES_INSECURE, OTEL_EXPORTER_OTLP_INSECURE),
        parse_bool, _arg_bool, None, _BOOL,
        doc="plaintext gRPC",
        default_doc="from the scheme",
    ),
    Option(
        "certificate", (OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, OTEL_EXPORTER_OTLP_CERTIFICATE),
        _readable_file, _arg_file, None, _PEM,
        doc="TLS with a custom CA",
    ),
    Option(
        "client_key", (OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY, OTEL_EXPORTER_OTLP_CLIENT_KEY),
        _readable_file, _arg_file, None, _PEM,
        doc="mTLS: the client's private key",
    ),
    Option(
        "client_certificate",
        (OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE),
        _readable_file, _arg_file, None, _PEM,
        doc="mTLS: the client's certificate",
    ),
    Option(
        "sampler", (OTEL_TRACES_SAMPLER,), _parse_choice(SAMPLERS), _arg_choice(SAMPLERS),
        "parentbased_always_on", f"one of {SAMPLERS}",
        doc="the head sampler; `init(sample_rate=r)` alone means `parentbased_traceidratio`",
        default_doc="`parentbased_always_on`",
    ),
    Option(
        "sample_rate", (OTEL_TRACES_SAMPLER_ARG,), _parse_sample_rate, _arg_sample_rate, None,
        "a number from 0 to 1",
        doc="the ratio of the `traceidratio` samplers",
        default_doc="1.0",
    ),
    Option(
        "console", (VAQUERO_CONSOLE,), parse_bool, _arg_bool, False, _BOOL,
        doc="add the console tree exporter",
        default_doc="`false`",
    ),
    Option(
        "traces_file", (VAQUERO_TRACES_FILE,), _parse_path, _arg_path, None, "a file path",
        doc="add the OTLP-JSON-lines file exporter writing there",
    ),
    Option(
        "schedule_delay_ms", (OTEL_BSP_SCHEDULE_DELAY,),
        _parse_duration(1.0, MAX_DURATION_S * 1000, "ms"),
        _arg_duration(MAX_DURATION_S * 1000, "ms", True), 1000.0, _MS,
        doc="the export queue's wait between batches; at most 600000 ms",
        default_doc="1000 ms",
    ),
    Option(
        "export_timeout_ms", (OTEL_BSP_EXPORT_TIMEOUT,),
        _parse_duration(1.0, MAX_DURATION_S * 1000, "ms"),
        _arg_duration(MAX_DURATION_S * 1000, "ms", True), 30000.0, _MS,
        doc="caps `timeout` for one export; at most 600000 ms",
        default_doc="30000 ms",
    ),
    Option(
        "max_queue_size", (OTEL_BSP_MAX_QUEUE_SIZE,), _parse_positive_int, _arg_positive_int,
        2048, "a positive integer",
        doc="spans waiting for export; a full queue drops and counts",
        default_doc="2048",
    ),
    Option(
        "max_export_batch_size", (OTEL_BSP_MAX_EXPORT_BATCH_SIZE,), _parse_positive_int,
        _arg_positive_int, 512, "a positive integer",
        doc="spans per export request",
        default_doc="512",
    ),
    Option(
        "attribute_value_length",
        (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT),
        _parse_positive_int, _arg_positive_int, DEFAULT_ATTRIBUTE_VALUE_LENGTH,
        "a positive integer",
        doc="longer strings are cut with a `…[truncated N chars]` marker",
        default_doc="8192",
    ),
    Option(
        "shutdown_timeout", (VAQUERO_SHUTDOWN_TIMEOUT,),
        _parse_duration(1.0, MAX_DURATION_S, "s"), _arg_duration(MAX_DURATION_S, "s", True),
        DEFAULT_SHUTDOWN_TIMEOUT_S, "a number of seconds",
        doc="the most exit may wait for export, even with the collector gone; at most 600 s",
        default_doc="2 s",
    ),
    Option(
        "scrub", (VAQUERO_SCRUB,), parse_bool, _arg_bool, True, _BOOL,
        doc="secret scrubbing on the export side (rules in `vaquero/_scrub.py`)",
        default_doc="`true`",
    ),
    Option(
        "scrub_patterns", (VAQUERO_SCRUB_PATTERNS,), _parse_patterns, _arg_patterns, (),
        "a list of regular expressions (comma-separated in the variable)",
        doc="extra regexes for secret attribute keys; a bad one in the variable is skipped",
    ),
    Option(
        "scrub_allow", (VAQUERO_SCRUB_ALLOW,), _parse_list, _arg_strings, (),
        "a list of attribute keys (comma-separated in the variable)",
        doc="attribute keys never scrubbed",
    ),
    Option(
        "scrub_callback", (), None, _arg_callable, None, "a function",
        doc="`f(match) -> str | None`: the replacement for one finding (None: the marker)",
    ),
    Option(
        "pii", (VAQUERO_PII,), _parse_choice(PII_MODES), _arg_choice(PII_MODES), "keep",
        f"one of {PII_MODES}",
        doc="`keep`, `hash` (keyed HMAC, the key is `pii_key`) or `drop` e-mail-like keys and "
        "values. `keep` is the default because the guide's own workflows record `user_email` "
        "for debugging; what to do with PII is the operator's policy",
        default_doc="`keep`",
    ),
    Option(
        "pii_key", (VAQUERO_PII_KEY,), _parse_text, _arg_text, None, "a string",
        doc="the HMAC key of `pii=hash`; never printed",
        show=_hide,
        show_text=_hidden_text,
    ),
)
# fmt: on
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
    for name, shown, problem in unusable:
        in_force = _shown(option.show(value))
        logger.warning(
            "vaquero: ignoring %s=%s: %s. Using %s; fix or unset %s.",
            name,
            shown,
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
    except _Adjusted as adjusted:
        logger.warning(
            "vaquero: adjusting vaquero.init(%s=%s): %s. Using %s.",
            option.name,
            _shown_arg(option, value),
            adjusted.problem,
            _shown(option.show(adjusted.value)),
        )
        return adjusted.value
    except Exception as exc:
        problem = str(exc) if isinstance(exc, _Rejected) else f"expected {option.expected}"
        raise ConfigError(
            f"vaquero.init({option.name}={_shown_arg(option, value)}): {problem}."
        ) from None


def _shown_arg(option: Option, value: object) -> str:
    """The argument as a message may quote it: masked, short, and never raising."""
    if option.show in (_hide, _hide_values):
        return "<value hidden>"
    try:
        return option.show_text(str.__str__(value)) if isinstance(value, str) else _shown(value)
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
        except _Adjusted as adjusted:
            value, note = adjusted.value, _joined(note, adjusted.problem)
        except Exception as exc:
            problem = str(exc) if isinstance(exc, _Rejected) else f"expected {option.expected}"
            unusable.append((name, option.show_text(raw), _joined(note, problem)))
            continue
        if note:
            logger.warning(
                "vaquero: adjusting %s=%s: %s. Using %s; fix or unset %s.",
                name,
                option.show_text(raw),
                note,
                _shown(option.show(value)),
                name,
            )
        return value, name
    return None


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
