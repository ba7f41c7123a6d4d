"""Record an exception on a span whatever the exception does, keeping what matters of it.

The SDK's ``Span.record_exception`` calls ``str(exception)``; an exception whose
``__str__`` raises then raises out of vaquero's close path and the span is never ended,
so the user's failure is the one thing not recorded. And a traceback longer than the
attribute length limit is cut at its *end* by the SDK (with a warning per error), so the
line naming the exception, the most useful line there is, is the one that goes.

This module builds the same ``exception`` event (the OpenTelemetry semantic-convention
attribute names) itself: every step that calls user code is guarded, and a long traceback
keeps its head and its *last* frames with the exception line, the middle replaced by one
line saying how much was left out. The event goes through ``add_event``, the public API.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any, Final

from vaquero import _bounded_json
from vaquero._bounded_json import safe_str, type_name
from vaquero._semconv import (
    EXCEPTION_ESCAPED,
    EXCEPTION_EVENT,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
)

_HEAD_SHARE: Final = 0.25  # of the budget; the rest keeps the end, where the error is
_OMITTED: Final = "\n  …[{} characters of traceback omitted]…\n"


def exception_type(exc: BaseException) -> str:
    """``module.QualName`` as the SDK spells it (builtins unqualified)."""
    kind = type(exc)
    try:
        module = kind.__module__
        qualname = kind.__qualname__
    except Exception:
        return type_name(exc)
    return f"{module}.{qualname}" if module and module != "builtins" else qualname


def exception_message(exc: BaseException) -> str:
    """``str(exc)``, or a placeholder naming the type when ``__str__`` raises."""
    try:
        text = str(exc)
    except Exception:
        return f"<unprintable {type_name(exc)}>"
    return text if type(text) is str else safe_str(text)


def stacktrace(exc: BaseException, limit: int | None = None) -> str:
    """The formatted traceback, shaped to ``limit`` characters (see :func:`shape`)."""
    try:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        text = f"{exception_type(exc)}: {exception_message(exc)}\n(traceback unavailable)"
    return shape(text, _bounded_json.max_length() if limit is None else limit)


def shape(text: str, limit: int) -> str:
    """``text`` within ``limit``: its head and its tail, cut at line ends where possible.

    The tail gets three quarters of the room because Python prints the innermost frames
    and the exception line last; the head keeps where the failure entered the code.
    """
    if len(text) <= limit:
        return text
    note_room = len(_OMITTED.format(len(text)))
    room = max(0, limit - note_room)
    head_room = int(room * _HEAD_SHARE)
    tail_room = room - head_room
    head = text[:head_room]
    cut = head.rfind("\n")
    if cut > head_room // 2:
        head = head[: cut + 1]
    tail = text[len(text) - tail_room :] if tail_room else ""
    start = tail.find("\n")
    if 0 <= start < len(tail) // 2:
        tail = tail[start + 1 :]
    omitted = len(text) - len(head) - len(tail)
    return head.rstrip("\n") + _OMITTED.format(omitted) + tail


def exception_attributes(
    exc: BaseException, escaped: bool, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The event's attributes; ``extra`` (already converted) overrides, as in the SDK."""
    attributes: dict[str, Any] = {
        EXCEPTION_TYPE: exception_type(exc),
        EXCEPTION_MESSAGE: _bounded_json.truncate(exception_message(exc)),
        EXCEPTION_STACKTRACE: stacktrace(exc),
        EXCEPTION_ESCAPED: str(escaped),
    }
    if extra:
        attributes.update(extra)
    return attributes


def record_exception(
    span: Any, exc: BaseException, escaped: bool, extra: Mapping[str, Any] | None = None
) -> None:
    """Add the ``exception`` event to ``span``; raises only if ``add_event`` itself does."""
    span.add_event(EXCEPTION_EVENT, exception_attributes(exc, escaped, extra))
