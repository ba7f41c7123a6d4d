"""How one configuration value is read: text parsers, argument checks, safe display.

Each parser turns a variable's text into a value and each ``arg_*`` check turns an
``init()`` argument into one; both raise to reject (:class:`Rejected` says what is wrong,
any other exception means "not what was expected") and raise :class:`Adjusted` to accept a
changed value (a clamped duration, a list without its bad entries) with a warning.
:mod:`vaquero._config` puts them in its table and owns the policy around them (warn for the
environment, :class:`~vaquero.ConfigError` for arguments).

Display helpers live here too, because quoting a bad value is where secrets leak: header
values and keys are hidden, endpoint userinfo is masked, everything is ASCII and short.
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from vaquero._redact import mask_endpoint

EXPORTER_NAMES = ("otlp", "console", "none", "vaquero_console", "vaquero_file")

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})
# The characters of an HTTP header name (RFC 9110 "token"); gRPC metadata keys are a subset
# once lower-cased, which the gRPC exporter does.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A header value gRPC and HTTP both accept: printable ASCII and space, nothing else (a CR or
# LF would split the header; gRPC's C core rejects and logs at every export attempt).
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")
_SHOWN_MAX = 120  # characters of a bad value quoted in a message


# --- parsing text from a variable ------------------------------------------------------------
class Rejected(ValueError):
    """A value that cannot be used; ``str()`` says what is wrong with it."""


class Adjusted(Exception):
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


def parse_text(raw: str) -> str:
    return raw


def parse_choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        lowered = raw.strip().lower()
        if lowered not in options:
            raise ValueError(raw)
        return lowered

    return parse


def parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def parse_duration(scale: float, maximum: float, unit: str) -> Callable[[str], float]:
    """A non-negative number, times ``scale``, clamped to ``maximum`` (``inf`` included)."""

    def parse(raw: str) -> float:
        return _clamped_duration(float(raw) * scale, maximum, unit)

    return parse


def _clamped_duration(value: float, maximum: float, unit: str) -> float:
    if math.isnan(value) or value < 0:
        raise ValueError(value)
    if value > maximum:
        raise Adjusted(maximum, f"above the maximum of {maximum:g} {unit}")
    return value


def parse_sample_rate(raw: str) -> float:
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


def check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names and values every transport accepts; the message never quotes a value."""
    for position, (name, value) in enumerate(headers.items(), start=1):
        if not _HEADER_NAME.fullmatch(name):
            raise Rejected(
                f"header #{position} has a name that is not a valid header name "
                "(letters, digits and !#$%&'*+-.^_`|~ only)"
            )
        if not _HEADER_VALUE.fullmatch(value):
            raise Rejected(
                f"the value of header {name!r} holds a character that is not printable ASCII "
                "(a line break such as %0A, a control or non-ASCII character)"
            )
    return dict(headers)


def parse_headers(raw: str) -> dict[str, str]:
    try:
        headers = parse_key_value_list(raw)
    except ValueError:
        raise Rejected("expected 'key=value,key2=value2' (URL-encoded)") from None
    return check_headers(headers)


def parse_exporters(raw: str) -> tuple[str, ...]:
    names = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    if not names or any(name not in EXPORTER_NAMES for name in names):
        raise ValueError(raw)
    if "none" in names:
        return ("none",) if len(names) == 1 else tuple(n for n in names if n != "none")
    return names


def parse_endpoint(raw: str) -> str:
    """An http(s) URL with a host and a valid port, usable as is by both OTLP exporters."""
    if not raw.isascii() or not raw.isprintable() or " " in raw:
        raise Rejected(
            "expected a URL such as 'http://localhost:4317' (printable ASCII, no spaces; "
            "write an international host name in its xn-- form)"
        )
    try:
        parsed = urllib.parse.urlsplit(raw)
        parsed.port  # noqa: B018 - raises ValueError for a port out of range or not a number
        host = parsed.hostname
    except ValueError as exc:
        raise Rejected(f"not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https") or not host:
        raise Rejected("expected a URL such as 'http://localhost:4317'")
    return raw


def readable_file(raw: str) -> str:
    """A TLS file is checked here, so a typo is named at configuration, not at first export."""
    path = os.path.expanduser(raw)
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ValueError(raw)
    return path


def parse_path(raw: str) -> str:
    os.fsencode(raw)  # raises for text the file system cannot name
    if "\x00" in raw:
        raise ValueError(raw)
    return raw


def parse_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def parse_patterns(raw: str) -> tuple[str, ...]:
    """Extra secret-key regexes: one that does not compile is dropped, the others apply."""
    patterns = parse_list(raw)
    bad = [p for p in patterns if not _compiles(p)]
    if bad:
        raise Adjusted(
            tuple(p for p in patterns if p not in bad),
            f"{shown(bad)} are not valid regular expressions (the others apply)",
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
# it into a ConfigError), or raises Adjusted to clamp with a warning.
def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _utf8(value: str) -> str:
    value.encode("utf-8")  # a lone surrogate would break the exporters' encoders later
    return value


def arg_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return parse_bool(value)
    raise TypeError(value)


def arg_text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return _utf8(value)


def arg_choice(options: tuple[str, ...]) -> Callable[[object], str]:
    parse = parse_choice(options)

    def accept(value: object) -> str:
        return parse(arg_text(value))

    return accept


def arg_positive_int(value: object) -> int:
    if isinstance(value, str):
        return parse_positive_int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise TypeError(value)
    return int(value)


def arg_duration(maximum: float, unit: str, text: bool) -> Callable[[object], float]:
    """A number of ``unit``; ``text`` says whether a numeric string is accepted too."""

    def accept(value: object) -> float:
        if text and isinstance(value, str):
            value = float(value)
        if not _is_number(value):
            raise TypeError(value)
        return _clamped_duration(float(value), maximum, unit)  # type: ignore[arg-type]

    return accept


def arg_sample_rate(value: object) -> float:
    if not _is_number(value):
        raise TypeError(value)
    rate = float(value)  # type: ignore[arg-type]
    if not 0.0 <= rate <= 1.0:
        raise ValueError(value)
    return rate


def arg_mapping(value: object) -> dict[str, str]:
    if isinstance(value, str):
        return parse_key_value_list(value)
    if isinstance(value, Mapping):
        return {_utf8(str(k)): _utf8(str(v)) for k, v in value.items()}
    raise TypeError(value)


def arg_headers(value: object) -> dict[str, str]:
    return check_headers(arg_mapping(value))


def arg_exporters(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return parse_exporters(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return parse_exporters(",".join(value))
    raise TypeError(value)


def arg_endpoint(value: object) -> str:
    return parse_endpoint(arg_text(value))


def arg_path(value: object) -> str:
    path = os.fspath(value)  # type: ignore[call-overload]
    if not isinstance(path, str):
        raise TypeError(value)
    return parse_path(path)


def arg_file(value: object) -> str:
    return readable_file(arg_path(value))


def arg_strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TypeError(value)
    return tuple(_utf8(v) for v in value)


def arg_patterns(value: object) -> tuple[str, ...]:
    patterns = arg_strings(value)
    for pattern in patterns:
        if not _compiles(pattern):
            raise Rejected(f"{shown(pattern)} is not a valid regular expression")
    return patterns


def arg_callable(value: object) -> Callable[[Any], object]:
    if not callable(value):
        raise TypeError(value)
    return value


# --- showing values without leaking them --------------------------------------------------------
def shown(value: object) -> str:
    """A short, ASCII-only, never-raising rendering of any value, for messages."""
    try:
        text = ascii(value)
    except Exception:
        return f"<{type(value).__name__}>"
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 4] + "...'"


def as_is(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


def hide_values(value: Any) -> Any:
    return {key: "***" for key in value} if isinstance(value, Mapping) else "***"


def hide(value: Any) -> Any:
    return None if value is None else "***"


def mask_url(value: Any) -> Any:
    return mask_endpoint(value) if isinstance(value, str) else value


def shown_url(raw: str) -> str:
    return shown(mask_endpoint(raw))


def hidden_text(raw: str) -> str:
    return "<value hidden>"
