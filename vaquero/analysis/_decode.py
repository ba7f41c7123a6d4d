"""Turn one OTLP/JSON ``TracesData`` document into compact :class:`Span` records.

Writers disagree on details the OTLP/JSON spec leaves to protobuf's JSON mapping, so this is
deliberately lenient about *encoding* and strict about *meaning*:

* ids arrive as lowercase hex (the OTLP/JSON rule, what vaquero and the Collector write) or as
  base64 (protobuf's default JSON mapping for ``bytes``). The field's byte length tells them
  apart without guessing: hex is exactly 2x the bytes long and only hex digits; anything else is
  tried as base64 and must decode to exactly that many bytes.
* 64-bit integers arrive as decimal strings or as JSON numbers.
* ``status.code`` arrives as an int, a digit string, or the enum name (``STATUS_CODE_ERROR``).
* Jaeger's ``/api/v3/traces`` wraps the document as ``{"result": {...}}``.

A span missing what the statistics cannot do without (ids, times) is skipped and reported to
the caller as a problem, never guessed at. The same holds for a value no writer produces but
an attacker can: a time that is not a finite number of nanoseconds in ``[0, 2**63)`` (the
analysis keeps times in ``array('q')`` columns), whatever JSON sits in any field. Names are
cut to :data:`MAX_NAME_CHARS` so that one span costs a bounded amount of memory whatever its
writer did, and nothing here recurses into the data, so any nesting is safe.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from vaquero._semconv import (
    AGENT_NAME,
    EXCEPTION_TYPE,
    INVOKE_AGENT,
    INVOKE_WORKFLOW,
    OPERATION_NAME,
    WORKFLOW_NAME,
)
from vaquero.analysis._http import HTTP_KEYS, ROLE_STEP, classify
from vaquero.analysis._span import Span

__all__ = ["AGENT_ATTRIBUTE", "INVOKE_AGENT", "MAX_NAME_CHARS", "OPERATION_ATTRIBUTE",
           "decode_traces_data", "short_repr", "traces_data_of"]

# Span, agent and failure names longer than this are cut (with an ellipsis): a real name is
# far shorter, and a megabyte "name" must not be held once per workflow, step and span.
MAX_NAME_CHARS = 256
# Times are nanoseconds since the epoch in ``array('q')``: [0, 2**63) is what fits (up to 2262).
_TIME_LIMIT = 1 << 63

AGENT_ATTRIBUTE = AGENT_NAME
# vaquero writes operation ``invoke_agent`` on the span an agent runs in, and only the inherited
# agent name on the spans below it: this is how a file tells an agent from its descendants.
OPERATION_ATTRIBUTE = OPERATION_NAME
WORKFLOW_ATTRIBUTE = WORKFLOW_NAME
_NULL_SPAN_ID = "0000000000000000"
_EXCEPTION_TYPE = EXCEPTION_TYPE
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_STATUS_ERROR = 2
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "UNSET": 0, "STATUS_CODE_OK": 1, "OK": 1,
                 "STATUS_CODE_ERROR": 2, "ERROR": 2}
# Names repeat (a few dozen span and agent names across a million spans): equal names share
# one string object, which is most of a span's memory. Not ``sys.intern``, which keeps every
# string for the life of the process: a million distinct names (ids in them) would all stay.
# This table is emptied when it passes _SHARED_MAX, between documents.
_SHARED: dict[str, str] = {}
_SHARED_MAX = 20_000
_intern = _SHARED.setdefault
_new_tuple = tuple.__new__


def traces_data_of(document: Any) -> dict[str, Any] | None:
    """Return the ``TracesData`` dict inside ``document``, or ``None`` if it is not one.

    Accepts the bare form and Jaeger's ``{"result": ...}`` wrapper.
    """
    if not isinstance(document, dict):
        return None
    if "resourceSpans" in document:
        return document
    inner = document.get("result")
    if isinstance(inner, dict) and "resourceSpans" in inner:
        return inner
    return None


def decode_traces_data(data: dict[str, Any], out: list[Span]) -> list[str]:
    """Append every usable span of ``data`` to ``out``; return one reason per span skipped.

    Appending to a caller-owned list instead of returning a new one keeps the per-line cost at
    one list the reader reuses. Equal ids within the document share one string object (a
    trace's id repeats on each of its spans, a parent's span id on each child): the analysis
    holds every span until the input ends, and this is about a quarter of a span's memory.
    """
    problems: list[str] = []
    ids: dict[str, str] = {}
    if len(_SHARED) > _SHARED_MAX:
        _SHARED.clear()
    resource_spans = data.get("resourceSpans")
    if not isinstance(resource_spans, list):
        return ["resourceSpans is not a list"]
    for resource_block in resource_spans:
        if not isinstance(resource_block, dict):
            problems.append("a resourceSpans entry is not an object")
            continue
        scope_blocks = resource_block.get("scopeSpans")
        if scope_blocks is None:  # the pre-1.0 OTLP name, still written by old collectors
            scope_blocks = resource_block.get("instrumentationLibrarySpans", [])
        if not isinstance(scope_blocks, list):
            problems.append("scopeSpans is not a list")
            continue
        for scope_block in scope_blocks:
            spans = scope_block.get("spans", []) if isinstance(scope_block, dict) else None
            if not isinstance(spans, list):
                problems.append("spans is not a list")
                continue
            append = out.append
            for raw in spans:
                span = _decode_common(raw, ids)
                if span is not None:
                    append(span)
                    continue
                span_or_problem = _decode_span(raw)
                if isinstance(span_or_problem, str):
                    problems.append(span_or_problem)
                else:
                    append(span_or_problem)
    return problems


def _decode_common(raw: Any, ids: dict[str, str]) -> Span | None:
    """The shape nearly every writer produces, decoded with the fewest operations.

    Hex ids of the right length, decimal-string (or integer) times, a name: anything else
    returns ``None`` and takes :func:`_decode_span`, the lenient path that also explains
    what is wrong. Subscripts instead of ``dict.get`` and no per-field type juggling: this
    runs a million times for a million spans.
    """
    try:
        trace_id = raw["traceId"]
        span_id = raw["spanId"]
        start = int(raw["startTimeUnixNano"])
        end = int(raw["endTimeUnixNano"])
        name = raw["name"]
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if (type(trace_id) is not str or len(trace_id) != 32 or type(span_id) is not str
            or len(span_id) != 16 or type(name) is not str or not name
            or len(name) > MAX_NAME_CHARS or not 0 <= start < _TIME_LIMIT
            or not 0 <= end < _TIME_LIMIT):
        return None
    share = ids.setdefault
    trace_id = share(trace_id, trace_id)
    span_id = share(span_id, span_id)
    parent_id = raw.get("parentSpanId")
    if parent_id:
        if type(parent_id) is not str or len(parent_id) != 16:
            return None
        parent_id = None if parent_id == _NULL_SPAN_ID else share(parent_id, parent_id)
    else:
        parent_id = None
    if end < start:
        end = start

    agent: str | None = None
    http: dict[str, str] | None = None
    operation: Any = None
    workflow: Any = None
    attributes = raw.get("attributes")
    if attributes:
        try:
            for item in attributes:
                key = item["key"]
                if key == AGENT_ATTRIBUTE:
                    value = item["value"]["stringValue"]
                    agent = _shared_name(value) if type(value) is str and value else None
                elif key == OPERATION_ATTRIBUTE:
                    operation = item["value"]["stringValue"]
                elif key == WORKFLOW_ATTRIBUTE:
                    workflow = item["value"].get("stringValue")
                elif key in HTTP_KEYS:
                    http = _with_http(http, key, item)
        except (KeyError, TypeError, AttributeError):
            return None
    invokes_agent = operation == INVOKE_AGENT
    workflow = _workflow_of(operation, workflow)
    role = ROLE_STEP
    if http is not None:
        name, role = classify(raw.get("kind"), name, http)

    error = False
    failure: str | None = None
    message: str | None = None
    status = raw.get("status")
    if status:
        try:
            code = status.get("code")
        except AttributeError:
            return None
        if code == _STATUS_ERROR or (code is not None and _status_code(code) == _STATUS_ERROR):
            error = True
            message, failure = _failure(status, raw.get("events"))
    # tuple.__new__ skips NamedTuple's Python-level __new__: measurable at a million spans.
    return _new_tuple(Span, (trace_id, span_id, parent_id, _intern(name, name), start, end, error,
                             agent, failure, message, invokes_agent, role, workflow))


def _decode_span(raw: Any) -> Span | str:
    """Decode one span dict, or return why it cannot be used.

    This runs once per span, so the common shape (hex ids of the right length, decimal-string
    times) is tested first with the cheapest checks; anything else takes the lenient path.
    A string of exactly the hex length is taken as the id as written: base64 ids never have
    that length, and a garbled id of that length still groups its spans consistently.
    """
    if type(raw) is not dict:
        return "a span is not an object"
    get = raw.get
    trace_id = get("traceId")
    if type(trace_id) is not str or len(trace_id) != 32:
        trace_id = _normalise_id(trace_id, 16)
        if trace_id is None:
            return f"bad traceId {short_repr(get('traceId'))}"
    span_id = get("spanId")
    if type(span_id) is not str or len(span_id) != 16:
        span_id = _normalise_id(span_id, 8)
        if span_id is None:
            return f"bad spanId {short_repr(get('spanId'))}"
    parent_raw = get("parentSpanId")
    parent_id: str | None = None
    if parent_raw:
        if type(parent_raw) is str and len(parent_raw) == 16:
            parent_id = parent_raw
        else:
            parent_id = _normalise_id(parent_raw, 8)
            if parent_id is None:
                return f"bad parentSpanId {short_repr(parent_raw)}"
        if parent_id == _NULL_SPAN_ID:
            parent_id = None
    start_raw = get("startTimeUnixNano")
    end_raw = get("endTimeUnixNano")
    start, end = _to_int(start_raw), _to_int(end_raw)
    if start is None or end is None:
        return "missing or bad startTimeUnixNano/endTimeUnixNano"
    if not (0 <= start < _TIME_LIMIT and 0 <= end < _TIME_LIMIT):
        return (f"startTimeUnixNano/endTimeUnixNano {short_repr(start_raw)}/"
                f"{short_repr(end_raw)} is not a time between 1970 and 2262")
    if end < start:
        end = start  # a clock step backwards must not produce negative durations
    name = get("name")
    name = _shared_name(name) if type(name) is str and name else "(unnamed)"

    agent: str | None = None
    http: dict[str, str] | None = None
    operation: str | None = None
    workflow: str | None = None
    attributes = get("attributes")
    if attributes and type(attributes) is list:
        # One pass for every key: attribute lists can be long (HTTP, DB, user attributes).
        for item in attributes:
            if type(item) is not dict:
                continue
            key = item.get("key")
            if key == AGENT_ATTRIBUTE:
                value = _string_value(item)
                agent = _shared_name(value) if value else None
            elif key == OPERATION_ATTRIBUTE:
                operation = _string_value(item)
            elif key == WORKFLOW_ATTRIBUTE:
                workflow = _string_value(item)
            elif key in HTTP_KEYS:
                http = _with_http(http, key, item)
    invokes_agent = operation == INVOKE_AGENT
    workflow = _workflow_of(operation, workflow)
    role = ROLE_STEP
    if http is not None:
        name, role = classify(get("kind"), name, http)

    error = False
    failure: str | None = None
    message: str | None = None
    status = get("status")
    if status and type(status) is dict:
        code = status.get("code")
        if code == _STATUS_ERROR or (code is not None and _status_code(code) == _STATUS_ERROR):
            error = True
            message, failure = _failure(status, get("events"))
    # tuple.__new__ skips NamedTuple's Python-level __new__: measurable at a million spans.
    return _new_tuple(Span, (trace_id, span_id, parent_id, name, start, end, error, agent,
                             failure, message, invokes_agent, role, workflow))


def _with_http(http: dict[str, str] | None, key: str, item: Any) -> dict[str, str] | None:
    """``http`` with the HTTP attribute ``item`` added (created on the first one), for
    ``_http.classify``; unchanged when the value is neither text nor an integer."""
    text = _scalar_text(item)
    if text is None:
        return http
    if http is None:
        http = {}
    http[key] = text
    return http


def _scalar_text(item: Any) -> str | None:
    """An attribute's string or integer value as text (ports are ``intValue``); else None."""
    value = item.get("value") if type(item) is dict else None
    if type(value) is not dict:
        return None
    text = value.get("stringValue")
    if type(text) is str:
        return text
    number = value.get("intValue")
    if type(number) in (str, int) and str(number).isdigit():
        return str(number)
    return None


def _workflow_of(operation: object, workflow: object) -> str | None:
    """The workflow a span invokes: its ``gen_ai.workflow.name`` on an ``invoke_workflow``
    span (a run, grouped under that name), else None."""
    if operation != INVOKE_WORKFLOW or type(workflow) is not str or not workflow:
        return None
    return _shared_name(workflow)


def _shared_name(text: str) -> str:
    """``text`` cut to :data:`MAX_NAME_CHARS`, as the one object all equal names share."""
    text = _cut(text)
    return _intern(text, text)


def _cut(text: str) -> str:
    """``text``, or its head and an ellipsis when it is over :data:`MAX_NAME_CHARS`."""
    return text if len(text) <= MAX_NAME_CHARS else text[:MAX_NAME_CHARS - 1] + "…"


def short_repr(value: Any) -> str:
    """A repr of a JSON value for a problem message: at most about 60 characters, and its
    cost bounded whatever the value's size or nesting (``repr`` of a deep list recurses)."""
    if isinstance(value, str):
        return repr(value[:60])
    if value is None or isinstance(value, (bool, int, float)):
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 200 else "<int>"
        return text[:60]
    return f"<a JSON {'object' if isinstance(value, dict) else 'array'}>"


def _failure(status: dict[str, Any], events: Any) -> tuple[str | None, str | None]:
    """``(message, failure)`` of an ERROR span: the status message (a string only, cut to 300
    characters) and what the failure is counted as (exception type, else the message)."""
    raw = status.get("message")
    message = raw[:300] if type(raw) is str and raw else None
    failure = _exception_type(events) or message
    return message, (_shared_name(failure) if failure is not None else None)


def _string_value(item: dict[str, Any]) -> str | None:
    value = item.get("value")
    if type(value) is dict:
        text = value.get("stringValue")
        if type(text) is str:
            return text
    return None


def _normalise_id(value: Any, n_bytes: int) -> str | None:
    """Lowercase hex for a hex or base64 id of ``n_bytes`` bytes; ``None`` if it is neither."""
    if type(value) is not str or not value:
        return None
    if len(value) == 2 * n_bytes and _HEX_DIGITS.issuperset(value):
        return value if value.islower() or value.isdigit() else value.lower()
    padded = value + "=" * (-len(value) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        try:
            raw = base64.urlsafe_b64decode(padded)
        except (binascii.Error, ValueError):
            return None
    if len(raw) != n_bytes:
        return None
    return raw.hex()


def _to_int(value: Any) -> int | None:
    """An OTLP int64: a decimal string or a JSON number (bools are not numbers here).

    ``None`` for anything else, infinities, NaN and over-long digit strings included.
    """
    kind = type(value)
    if kind is int:
        return value  # type: ignore[no-any-return]
    try:
        if kind is str:
            if len(value) > 40:  # no time has that many digits; int() would refuse past 4300
                return None
            try:
                return int(value)
            except ValueError:
                return int(float(value))
        if kind is float:
            return int(value)
    except (ValueError, OverflowError):  # "x", "nan", "inf", 1e999
        return None
    return None


def _status_code(code: Any) -> int:
    if isinstance(code, int):
        return code
    if isinstance(code, str):
        if code.isdigit() and len(code) < 10:
            return int(code)
        return _STATUS_NAMES.get(code.upper(), 0)
    return 0


def _string_attribute(attributes: Any, key: str) -> str | None:
    """The string value of ``key`` in an OTLP ``KeyValue`` list, if present."""
    if not isinstance(attributes, list):
        return None
    for item in attributes:
        if isinstance(item, dict) and item.get("key") == key:
            value = item.get("value")
            if isinstance(value, dict):
                text = value.get("stringValue")
                if isinstance(text, str):
                    return text
            return None
    return None


def _exception_type(events: Any) -> str | None:
    """``exception.type`` of the last ``exception`` event: the one that ended the span."""
    if not isinstance(events, list):
        return None
    found: str | None = None
    for event in events:
        if isinstance(event, dict) and event.get("name") == "exception":
            found = _string_attribute(event.get("attributes"), _EXCEPTION_TYPE) or found
    return found
