"""One frozen :class:`Settings` object, resolved once from every configuration source.

Precedence: ``init()`` keyword arguments > ``VAQUERO_*`` variables > standard ``OTEL_*``
variables > defaults. Every variable is named exactly once, as a constant, so a reader can
grep for it and the ``vaquero doctor`` output can list them.

Bad values are treated differently by source, on purpose:

* a bad *keyword argument* is a programming error visible at the call site, so ``init()``
  raises :class:`ConfigError` naming the argument and the accepted values;
* a bad *environment value* must never take a production service down (an operator typo
  should cost telemetry, not the application), so it is reported once as a warning naming
  the variable, the value and the fix, and the default is used instead.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from vaquero._redact import mask_url

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


class ConfigError(ValueError):
    """A configuration value vaquero cannot use; the message names it and the fix."""


@dataclass(frozen=True)
class Settings:
    """Everything vaquero needs to build its pipeline, resolved once.

    Frozen so that two ``init()`` calls can be compared field by field and a running
    pipeline can never be mutated behind its back.
    """

    disabled: bool = False
    service_name: str = "python"
    agent_name: str | None = None
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    exporters: tuple[str, ...] = ("otlp",)
    protocol: str = "grpc"
    endpoint: str = DEFAULT_GRPC_ENDPOINT
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    compression: str = "none"
    insecure: bool | None = None
    certificate: str | None = None
    client_key: str | None = None
    client_certificate: str | None = None
    sampler: str = "parentbased_always_on"
    sampler_arg: float | None = None
    console: bool = False
    traces_file: str | None = None
    schedule_delay_ms: float = 1000.0
    export_timeout_ms: float = 30000.0
    max_queue_size: int = 2048
    max_export_batch_size: int = 512
    attribute_value_length: int = DEFAULT_ATTRIBUTE_VALUE_LENGTH
    shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S
    scrub: bool = True
    scrub_patterns: tuple[str, ...] = ()
    scrub_allow: tuple[str, ...] = ()
    scrub_callback: Callable[[Any], object] | None = None
    pii: str = "keep"
    pii_key: str | None = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        """The settings as a printable dict, with header values and endpoint userinfo masked."""
        shown: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "headers":
                value = {key: "***" for key in value}
            elif name == "endpoint":
                value = mask_url(value)
            elif name == "pii_key" and value is not None:
                value = "***"
            elif isinstance(value, Mapping):
                value = dict(value)
            shown[name] = value
        return shown


def _warn_bad_env(name: str, raw: str, expected: str, default: object) -> None:
    logger.warning(
        "vaquero: ignoring %s=%r: expected %s. Using the default (%r); fix or unset %s.",
        name,
        raw,
        expected,
        default,
        name,
    )


T = TypeVar("T")


class _Resolver:
    """Reads one value from kwargs, then the environment, then a default.

    Keeps the precedence and the error policy (raise for kwargs, warn for env) in one place.
    """

    def __init__(self, overrides: Mapping[str, Any], environ: Mapping[str, str]) -> None:
        self._overrides = overrides
        self._env = environ

    def env(self, *names: str) -> tuple[str, str] | None:
        """The first set (non-empty) variable among ``names``, most specific first."""
        for name in names:
            raw = self._env.get(name)
            if raw is not None and raw.strip() != "":
                return name, raw.strip()
        return None

    def get(
        self,
        arg: str | None,
        env_names: tuple[str, ...],
        parse: Callable[[str], T],
        default: T,
        expected: str,
    ) -> T:
        """``arg`` is the ``init()`` keyword that may override the variables (None: none may)."""
        value = self._overrides.get(arg) if arg is not None else None
        if value is not None:
            try:
                return parse(value if isinstance(value, str) else str(_check_type(value, default)))
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"vaquero.init({arg}={value!r}): expected {expected}.") from exc
        found = self.env(*env_names)
        if found is None:
            return default
        name, raw = found
        try:
            return parse(raw)
        except (ValueError, TypeError):
            _warn_bad_env(name, raw, expected, default)
            return default


def _check_type(value: Any, default: Any) -> Any:
    if default is None or isinstance(value, type(default)):
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    raise TypeError(type(value).__name__)


def parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(raw)


def _readable_file(raw: str) -> str:
    """A TLS file is checked here, so a typo is named at configuration, not at first export."""
    path = os.path.expanduser(raw)
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ValueError(raw)
    return path


def _parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _parse_non_negative_float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value) or value < 0:
        raise ValueError(raw)
    return value


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        lowered = raw.strip().lower()
        if lowered not in options:
            raise ValueError(raw)
        return lowered

    return parse


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


def _parse_exporters(raw: str) -> tuple[str, ...]:
    names = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    if not names or any(name not in EXPORTER_NAMES for name in names):
        raise ValueError(raw)
    if "none" in names:
        return ("none",) if len(names) == 1 else tuple(n for n in names if n != "none")
    return names


def _parse_sample_rate(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError(raw)
    return value


def default_service_name() -> str:
    """The program's name, so Jaeger never shows ``unknown_service``."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    base = os.path.basename(argv0)
    if base.endswith(".py"):
        base = base[:-3]
    if base in ("", "-c", "-m", "__main__", "python", "python3"):
        return "python"
    return base


def _exporter_list(value: Any) -> tuple[str, ...]:
    try:
        if isinstance(value, str):
            return _parse_exporters(value)
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return _parse_exporters(",".join(value))
    except ValueError:
        pass
    raise ConfigError(
        f"vaquero.init(exporters={value!r}): expected a list of names from {EXPORTER_NAMES}."
    )


def _mapping_arg(arg: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        try:
            return parse_key_value_list(value)
        except ValueError as exc:
            raise ConfigError(f"vaquero.init({arg}={value!r}): expected 'k=v,k2=v2'.") from exc
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    raise ConfigError(f"vaquero.init({arg}={value!r}): expected a dict of strings.")


KNOWN_ARGS = frozenset(
    {
        "service_name",
        "agent_name",
        "endpoint",
        "protocol",
        "headers",
        "exporters",
        "sample_rate",
        "resource_attributes",
        "console",
        "traces_file",
        "timeout",
        "compression",
        "insecure",
        "certificate",
        "client_key",
        "client_certificate",
        "shutdown_timeout",
        "max_queue_size",
        "max_export_batch_size",
        "schedule_delay_ms",
        "attribute_value_length",
        "scrub",
        "scrub_patterns",
        "scrub_allow",
        "scrub_callback",
        "pii",
        "disabled",
    }
)


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Resolve :class:`Settings`; raises :class:`ConfigError` only for bad ``overrides``."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(overrides) - KNOWN_ARGS
    if unknown:
        raise ConfigError(
            f"vaquero.init() got unknown argument(s) {sorted(unknown)}; "
            f"accepted: {sorted(KNOWN_ARGS)}."
        )
    env = os.environ if environ is None else environ
    r = _Resolver(overrides, env)

    disabled = r.get("disabled", (OTEL_SDK_DISABLED,), parse_bool, False, "true or false")

    resource_attributes: dict[str, str] = {}
    found = r.env(OTEL_RESOURCE_ATTRIBUTES)
    if found:
        try:
            resource_attributes = parse_key_value_list(found[1])
        except ValueError:
            _warn_bad_env(found[0], found[1], "'key=value,key2=value2'", {})
    if "resource_attributes" in overrides:
        resource_attributes.update(
            _mapping_arg("resource_attributes", overrides["resource_attributes"])
        )

    service_name = overrides.get("service_name")
    if service_name is not None and not isinstance(service_name, str):
        raise ConfigError(f"vaquero.init(service_name={service_name!r}): expected a string.")
    if not service_name:
        env_service = r.env(OTEL_SERVICE_NAME)
        service_name = (
            env_service[1]
            if env_service
            else resource_attributes.get("service.name") or default_service_name()
        )

    agent_name = overrides.get("agent_name")
    if agent_name is None:
        env_agent = r.env(VAQUERO_AGENT_NAME)
        agent_name = env_agent[1] if env_agent else None

    if "exporters" in overrides:
        exporters = _exporter_list(overrides["exporters"])
    else:
        exporters = r.get(
            None, (OTEL_TRACES_EXPORTER,), _parse_exporters, ("otlp",),
            f"a comma-separated list from {EXPORTER_NAMES}",
        )

    protocol = r.get(
        "protocol",
        (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL),
        _choice(PROTOCOLS),
        "grpc",
        f"one of {PROTOCOLS}",
    )
    endpoint = _resolve_endpoint(r, overrides, protocol)

    headers: dict[str, str] = {}
    found = r.env(OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_HEADERS)
    if found:
        try:
            headers = parse_key_value_list(found[1])
        except ValueError:
            # The raw value may hold a token: never echo it.
            logger.warning(
                "vaquero: ignoring %s: expected 'key=value,key2=value2' (URL-encoded). "
                "Sending no headers; fix the variable.",
                found[0],
            )
    if "headers" in overrides:
        headers = _mapping_arg("headers", overrides["headers"])

    timeout_ms = r.get(
        None,
        (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, OTEL_EXPORTER_OTLP_TIMEOUT),
        _parse_non_negative_float,
        10000.0,
        "a number of milliseconds",
    )
    timeout_s = timeout_ms / 1000.0
    if overrides.get("timeout") is not None:
        timeout_s = _number_arg("timeout", overrides["timeout"])

    sampler = r.get(
        None, (OTEL_TRACES_SAMPLER,), _choice(SAMPLERS), "parentbased_always_on",
        f"one of {SAMPLERS}",
    )
    sampler_arg = r.get(
        None, (OTEL_TRACES_SAMPLER_ARG,), _parse_sample_rate, None, "a number from 0 to 1"
    )
    if "sample_rate" in overrides:
        sampler = "parentbased_traceidratio"
        sampler_arg = _number_arg("sample_rate", overrides["sample_rate"])
        if not 0.0 <= sampler_arg <= 1.0:
            raise ConfigError(
                f"vaquero.init(sample_rate={sampler_arg!r}): expected a number from 0 to 1."
            )

    pii_key = r.env(VAQUERO_PII_KEY)  # a secret: kept out of describe() and repr()
    traces_file = overrides.get("traces_file")
    if traces_file is None:
        env_file = r.env(VAQUERO_TRACES_FILE)
        traces_file = env_file[1] if env_file else None
    else:
        traces_file = os.fspath(traces_file)

    return Settings(
        disabled=disabled,
        service_name=service_name,
        agent_name=agent_name,
        resource_attributes=resource_attributes,
        exporters=exporters,
        protocol=protocol,
        endpoint=endpoint,
        headers=headers,
        timeout_s=timeout_s,
        compression=r.get(
            "compression",
            (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, OTEL_EXPORTER_OTLP_COMPRESSION),
            _choice(COMPRESSIONS), "none", f"one of {COMPRESSIONS}",
        ),
        insecure=r.get(
            "insecure", (OTEL_EXPORTER_OTLP_TRACES_INSECURE, OTEL_EXPORTER_OTLP_INSECURE),
            parse_bool, None, "true or false",
        ),
        certificate=r.get(
            "certificate",
            (OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, OTEL_EXPORTER_OTLP_CERTIFICATE),
            _readable_file, None, "the path of a readable PEM file",
        ),
        client_key=r.get(
            "client_key", (OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY, OTEL_EXPORTER_OTLP_CLIENT_KEY),
            _readable_file, None, "the path of a readable PEM file",
        ),
        client_certificate=r.get(
            "client_certificate",
            (OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE),
            _readable_file, None, "the path of a readable PEM file",
        ),
        sampler=sampler,
        sampler_arg=sampler_arg,
        console=r.get("console", (VAQUERO_CONSOLE,), parse_bool, False, "true or false"),
        traces_file=traces_file,
        schedule_delay_ms=r.get(
            "schedule_delay_ms", (OTEL_BSP_SCHEDULE_DELAY,), _parse_non_negative_float, 1000.0,
            "a number of milliseconds",
        ),
        export_timeout_ms=r.get(
            None, (OTEL_BSP_EXPORT_TIMEOUT,), _parse_non_negative_float, 30000.0,
            "a number of milliseconds",
        ),
        max_queue_size=r.get(
            "max_queue_size", (OTEL_BSP_MAX_QUEUE_SIZE,), _parse_positive_int, 2048,
            "a positive integer",
        ),
        max_export_batch_size=r.get(
            "max_export_batch_size", (OTEL_BSP_MAX_EXPORT_BATCH_SIZE,), _parse_positive_int, 512,
            "a positive integer",
        ),
        attribute_value_length=r.get(
            "attribute_value_length",
            (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT),
            _parse_positive_int, DEFAULT_ATTRIBUTE_VALUE_LENGTH, "a positive integer",
        ),
        shutdown_timeout_s=r.get(
            "shutdown_timeout", (VAQUERO_SHUTDOWN_TIMEOUT,), _parse_non_negative_float,
            DEFAULT_SHUTDOWN_TIMEOUT_S, "a number of seconds",
        ),
        scrub=r.get("scrub", (VAQUERO_SCRUB,), parse_bool, True, "true or false"),
        scrub_patterns=_scrub_patterns(r, overrides),
        scrub_allow=_string_list(r, overrides, "scrub_allow", VAQUERO_SCRUB_ALLOW),
        scrub_callback=_callable_arg(overrides, "scrub_callback"),
        pii=r.get("pii", (VAQUERO_PII,), _choice(PII_MODES), "keep", f"one of {PII_MODES}"),
        pii_key=pii_key[1] if pii_key else None,
    )


def _string_list(
    r: _Resolver, overrides: Mapping[str, Any], arg: str, env_name: str
) -> tuple[str, ...]:
    """A list argument, or a comma-separated variable."""
    value = overrides.get(arg)
    if value is None:
        found = r.env(env_name)
        return tuple(p.strip() for p in found[1].split(",") if p.strip()) if found else ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"vaquero.init({arg}={value!r}): expected a list of strings.")
    return tuple(value)


def _scrub_patterns(r: _Resolver, overrides: Mapping[str, Any]) -> tuple[str, ...]:
    """Extra secret-key regexes; one that does not compile is named, with where it came from."""
    patterns = _string_list(r, overrides, "scrub_patterns", VAQUERO_SCRUB_PATTERNS)
    bad = [p for p in patterns if not _compiles(p)]
    if not bad:
        return patterns
    if "scrub_patterns" in overrides:
        raise ConfigError(
            f"vaquero.init(scrub_patterns=...): {bad[0]!r} is not a valid regular expression."
        )
    logger.warning(
        "vaquero: ignoring %s entries that are not valid regular expressions: %s. The others "
        "apply; fix or remove the bad ones.",
        VAQUERO_SCRUB_PATTERNS,
        bad,
    )
    return tuple(p for p in patterns if p not in bad)


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _callable_arg(overrides: Mapping[str, Any], arg: str) -> Callable[[Any], object] | None:
    value = overrides.get(arg)
    if value is not None and not callable(value):
        raise ConfigError(f"vaquero.init({arg}={value!r}): expected a function.")
    return value


def _number_arg(arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"vaquero.init({arg}={value!r}): expected a finite number.")
    if value < 0:
        raise ConfigError(f"vaquero.init({arg}={value!r}): expected a number >= 0.")
    return float(value)


def _resolve_endpoint(r: _Resolver, overrides: Mapping[str, Any], protocol: str) -> str:
    """Apply the OTLP exporter spec's endpoint rules for the chosen protocol.

    The signal-specific variable is used as is; the generic one gets ``/v1/traces``
    appended for HTTP. An ``init(endpoint=...)`` is treated like the generic variable
    unless it already ends with the traces path.
    """
    explicit = overrides.get("endpoint")
    if explicit is not None:
        if not isinstance(explicit, str) or not _looks_like_url(explicit):
            raise ConfigError(
                f"vaquero.init(endpoint={explicit!r}): expected a URL such as "
                f"'{DEFAULT_GRPC_ENDPOINT}'."
            )
        return _with_traces_path(explicit, protocol)
    specific = r.env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    if specific and _looks_like_url(specific[1]):
        return specific[1]
    generic = r.env(OTEL_EXPORTER_OTLP_ENDPOINT)
    if generic and _looks_like_url(generic[1]):
        return _with_traces_path(generic[1], protocol)
    default = DEFAULT_GRPC_ENDPOINT if protocol == "grpc" else DEFAULT_HTTP_ENDPOINT
    for bad in (specific, generic):
        if bad:
            _warn_bad_env(bad[0], bad[1], "a URL such as 'http://localhost:4317'", default)
    return default


def _looks_like_url(value: str) -> bool:
    parsed = urllib.parse.urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.hostname)


def _with_traces_path(base: str, protocol: str) -> str:
    if protocol == "grpc" or base.rstrip("/").endswith(HTTP_TRACES_PATH):
        return base
    return base.rstrip("/") + HTTP_TRACES_PATH
