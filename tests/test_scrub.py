"""Secret and PII scrubbing: key rules, value rules, span rebuilding and the failure policy.

Spans come from a private SDK TracerProvider with an in-memory exporter, the same objects the
export queue hands to the scrubber; vaquero's core is not imported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode

from vaquero._pipeline import scrub as _scrub
from vaquero._pipeline.scrub import MARKER, SCRUBBED_KEYS_ATTRIBUTE, Scrubber, ScrubMatch, luhn_ok
from vaquero._state import STATE

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
OPENAI_KEY = "sk-proj-" + "a1B2c3D4e5" * 4
GITHUB_PAT = "ghp_" + "A1b2C3d4E5f6" * 3
VISA = "4111111111111111"
VISA_BAD_LUHN = "4111111111111112"


@pytest.fixture
def make_spans() -> Iterator[Any]:
    """Finish spans on a private provider and return what an exporter would receive."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=20))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test-scrub")

    def make(*specs: dict[str, Any]) -> list[ReadableSpan]:
        exporter.clear()
        for spec in specs:
            links = [Link(ctx, attrs) for ctx, attrs in spec.get("links", [])]
            with tracer.start_as_current_span(
                spec.get("name", "step"),
                links=links,
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                span.set_attributes(spec.get("attributes", {}))
                for name, attrs in spec.get("events", []):
                    span.add_event(name, attrs)
                if "status" in spec:
                    span.set_status(Status(StatusCode.ERROR, spec["status"]))
        return list(exporter.get_finished_spans())

    yield make
    provider.shutdown()


def one(scrubber: Scrubber, key: str, value: Any) -> tuple[Any, list[str]]:
    attrs, keys = scrubber.scrub_attributes({key: value})
    return attrs.get(key, "<dropped>"), keys


# --- key rules ---------------------------------------------------------------------------------

# One table for vaquero's key rules and the Collector's pattern (tests/test_stack_config.py).
_TABLE = json.loads((Path(__file__).parent / "data" / "secret_keys.json").read_text())
SCRUBBED_KEYS: list[str] = _TABLE["scrubbed"]
KEPT_KEYS: list[str] = _TABLE["kept"]


@pytest.mark.parametrize("key", SCRUBBED_KEYS)
def test_secret_keys_are_scrubbed(key: str) -> None:
    value, keys = one(Scrubber(), key, "plain-value")
    assert value == MARKER
    assert keys == [key]


@pytest.mark.parametrize("key", KEPT_KEYS)
def test_lookalike_keys_are_kept(key: str) -> None:
    value, keys = one(Scrubber(), key, "plain-value")
    assert value == "plain-value"
    assert keys == []


def test_key_rule_scrubs_any_value_type() -> None:
    scrubber = Scrubber()
    attrs, keys = scrubber.scrub_attributes(
        {"ssn": 123456789, "api_keys": ("a", "b"), "gen_ai.usage.input_tokens": 812}
    )
    assert attrs == {"ssn": MARKER, "api_keys": MARKER, "gen_ai.usage.input_tokens": 812}
    assert keys == ["api_keys", "ssn"]


def test_key_verdicts_are_cached_and_bounded() -> None:
    scrubber = Scrubber()
    for i in range(_scrub._KEY_CACHE_MAX + 10):
        scrubber.scrub_attributes({f"field_{i}": 1})
    assert 0 < len(scrubber._key_cache) <= _scrub._KEY_CACHE_MAX
    # a cleared cache still answers correctly
    assert one(scrubber, "password", "x") == (MARKER, ["password"])


def test_innocent_value_verdicts_are_remembered_per_value_only() -> None:
    """A value found clean once is not scanned again, yet a secret key still redacts it and
    a suspicious value is never remembered as clean."""
    scrubber = Scrubber()
    for _ in range(3):
        assert one(scrubber, "llm.model", "gpt-4o-mini") == ("gpt-4o-mini", [])
    assert "gpt-4o-mini" in scrubber._innocent
    assert one(scrubber, "password", "gpt-4o-mini") == (MARKER, ["password"])
    secret = "Authorization: Bearer abc123def456ghi789 sent"
    for _ in range(2):
        assert one(scrubber, "note", secret)[0] == "Authorization: Bearer [REDACTED] sent"
    assert secret not in scrubber._innocent
    for i in range(_scrub._KEY_CACHE_MAX + 10):
        scrubber.scrub_attributes({"note": f"plain value number {i}"})
    assert 0 < len(scrubber._innocent) <= _scrub._KEY_CACHE_MAX


# --- value rules -------------------------------------------------------------------------------

VALUE_CASES = [
    ("Authorization: Bearer abc123def456ghi789 sent", "Authorization: Bearer [REDACTED] sent"),
    ("retry with bearer AbCdEfGhIjKlMnOpQrStUv", "retry with bearer [REDACTED]"),
    ("Basic dXNlcjpwYXNzd29yZA==", "Basic [REDACTED]"),
    (f"401 for token {JWT} at login", "401 for token [REDACTED] at login"),
    (JWT, MARKER),
    (f"OPENAI_API_KEY={OPENAI_KEY}", "OPENAI_API_KEY=[REDACTED]"),
    ("sk-ant-api03-" + "x" * 40, MARKER),
    ("stripe sk_live_" + "a1" * 12, "stripe [REDACTED]"),
    (f"clone with {GITHUB_PAT}", "clone with [REDACTED]"),
    ("github_pat_" + "A1_" * 12, MARKER),
    ("aws AKIAIOSFODNN7EXAMPLE key", "aws [REDACTED] key"),
    ("xoxb-1234567890-abcdefghijkl", MARKER),
    ("AIza" + "Sy" * 17 + "X", MARKER),
    ("glpat-" + "ab12" * 5, MARKER),
    ("postgres://app:hunter2@db:5432/orders", "postgres://app:[REDACTED]@db:5432/orders"),
    ("redis://:s3cr3t@cache:6379/0", "redis://:[REDACTED]@cache:6379/0"),
    (
        "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\nok",
        "key:\n[REDACTED]\nok",
    ),
    (f"paid with {VISA} today", "paid with [REDACTED] today"),
    ("card 4111 1111 1111 1111.", "card [REDACTED]."),
    ("card 5555-5555-5555-4444", "card [REDACTED]"),
    ("amex 378282246310005", "amex [REDACTED]"),
]

CLEAN_VALUES = [
    "ok",
    "gpt-4o-mini",
    "order-12345",
    "https://api.example.com/v1/chat/completions?stream=true",
    "Bearer authentication required",
    "the bearer of bad news",
    "task-abcdefghijklmnopqrstuvwxyz0123",
    f"card {VISA_BAD_LUHN} declined",
    "epoch 1712345678907 ms",  # 13 digits, Luhn-valid, but starts with 1: a timestamp
    "nanos 1712345678901234563",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736",
    "mail bob@example.com about it",  # pii defaults to keep
]


@pytest.mark.parametrize(("value", "expected"), VALUE_CASES)
def test_secret_values_are_replaced_in_place(value: str, expected: str) -> None:
    new, keys = one(Scrubber(), "message", value)
    assert new == expected
    assert keys == ["message"]


@pytest.mark.parametrize("value", CLEAN_VALUES)
def test_clean_values_are_untouched(value: str) -> None:
    new, keys = one(Scrubber(), "message", value)
    assert new is value
    assert keys == []


def test_epoch_timestamp_used_above_is_luhn_valid() -> None:
    """Guards the clean-value cases: only the issuer-digit rule keeps them."""
    assert luhn_ok("1712345678907")
    assert luhn_ok("1712345678901234563")


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        (VISA, True),
        ("5555555555554444", True),
        ("378282246310005", True),
        ("6011111111111117", True),
        (VISA_BAD_LUHN, False),
        ("5555555555554445", False),
        ("378282246310006", False),
    ],
)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_ok(digits) is valid
    new, _ = one(Scrubber(), "note", f"n={digits}")
    assert (new == f"n={MARKER}") is valid


def test_strings_inside_sequences_are_scanned() -> None:
    value = ("fine", f"Bearer {JWT}", "also fine")
    new, keys = one(Scrubber(), "http.request.header.x_forwarded", value)
    assert new == ("fine", f"Bearer {MARKER}", "also fine")
    assert keys == ["http.request.header.x_forwarded"]


def test_numbers_are_not_scanned() -> None:
    assert one(Scrubber(), "order.id", 4111111111111111) == (4111111111111111, [])


# --- spans -------------------------------------------------------------------------------------


def test_span_event_link_and_status_are_scrubbed(make_spans: Any) -> None:
    (linked,) = make_spans({"name": "upstream"})
    (span,) = make_spans(
        {
            "name": "call-api",
            "attributes": {"api_key": "k-123", "gen_ai.usage.input_tokens": 12, "step": "fetch"},
            "events": [
                ("exception", {"exception.message": f"401: Bearer {JWT}", "exception.type": "E"}),
                ("retry", {"attempt": 2}),
            ],
            "links": [(linked.context, {"link.token": "abc"})],
            "status": f"rejected {OPENAI_KEY}",
        }
    )
    (out,) = Scrubber().scrub_spans([span])

    assert out is not span
    assert out.attributes["api_key"] == MARKER
    assert out.attributes["gen_ai.usage.input_tokens"] == 12
    assert out.attributes["step"] == "fetch"
    assert out.events[0].attributes == {
        "exception.message": f"401: Bearer {MARKER}",
        "exception.type": "E",
    }
    assert out.events[1] is span.events[1]  # untouched events pass through
    assert out.links[0].attributes == {"link.token": MARKER}
    assert out.links[0].context == linked.context
    assert out.status.status_code is StatusCode.ERROR
    assert out.status.description == f"rejected {MARKER}"
    assert out.attributes[SCRUBBED_KEYS_ATTRIBUTE] == (
        "api_key",
        "events[exception].exception.message",
        "links[0].link.token",
        "status.description",
    )
    # never the values
    assert all(JWT not in k and "k-123" not in k for k in out.attributes[SCRUBBED_KEYS_ATTRIBUTE])
    # the original span is not modified
    assert span.attributes["api_key"] == "k-123"


def test_rebuilt_span_keeps_identity_timing_and_counts(make_spans: Any) -> None:
    attrs = {f"a{i}": i for i in range(25)}  # limit is 20: 5 dropped
    attrs["password"] = "hunter2"
    (span,) = make_spans({"attributes": attrs, "events": [("e", {"x": 1})]})
    assert span.dropped_attributes == 6
    (out,) = Scrubber().scrub_spans([span])

    assert out is not span
    assert out.dropped_attributes == span.dropped_attributes
    assert out.dropped_events == span.dropped_events
    assert out.dropped_links == span.dropped_links
    for field in (
        "name",
        "context",
        "parent",
        "kind",
        "start_time",
        "end_time",
        "resource",
        "instrumentation_scope",
    ):
        assert getattr(out, field) == getattr(span, field), field
    assert out.events == span.events
    # what an OTLP exporter would do with it must work and carry the dropped count
    request = encode_spans([out])
    encoded = request.resource_spans[0].scope_spans[0].spans[0]
    assert encoded.dropped_attributes_count == 6
    assert {kv.key for kv in encoded.attributes} >= {"password", SCRUBBED_KEYS_ATTRIBUTE}


def test_unchanged_spans_pass_through_as_the_same_objects(make_spans: Any) -> None:
    spans = make_spans(
        {"attributes": {"gen_ai.usage.output_tokens": 7, "url": "https://example.com/x"}},
        {"attributes": {"password": "pw"}},
        {"events": [("log", {"message": "all good"})], "status": "timeout after 30s"},
    )
    out = Scrubber().scrub_spans(spans)
    assert len(out) == 3
    assert out[0] is spans[0]
    assert out[1] is not spans[1]
    assert out[2] is spans[2]


def test_scrubbing_twice_changes_nothing_more(make_spans: Any) -> None:
    (span,) = make_spans({"attributes": {"token": "t", "note": f"Bearer {JWT}"}})
    scrubber = Scrubber()
    (first,) = scrubber.scrub_spans([span])
    (second,) = scrubber.scrub_spans([first])
    assert second is first


def test_span_name_gets_the_free_text_rules(make_spans: Any) -> None:
    """A token in an f-string span name (issue 19): the value rules apply, key rules do not
    (a name is not a key), and a clean name leaves the span as it was."""
    (span,) = make_spans({"name": f"Bearer {JWT}"})
    (out,) = Scrubber().scrub_spans([span])
    assert out.name == f"Bearer {MARKER}"
    assert out.attributes[SCRUBBED_KEYS_ATTRIBUTE] == ("name",)
    (clean,) = make_spans({"name": "password reset"})
    (same,) = Scrubber().scrub_spans([clean])
    assert same is clean


def test_disabled_is_a_no_op_returning_the_same_list(make_spans: Any) -> None:
    spans = make_spans({"attributes": {"password": "hunter2", "user_email": "a@b.io"}})
    scrubber = Scrubber(enabled=False)
    assert scrubber.scrub_spans(spans) is spans
    assert spans[0].attributes["password"] == "hunter2"
    assert scrubber.scrub_attributes({"password": "x"}) == ({"password": "x"}, [])


def test_disabled_secrets_still_honour_an_explicit_pii_policy() -> None:
    scrubber = Scrubber(enabled=False, pii="drop")
    attrs, keys = scrubber.scrub_attributes(
        {"password": "hunter2", "user_email": "a@b.io", "note": f"Bearer {JWT}"}
    )
    assert attrs == {"password": "hunter2", "note": f"Bearer {JWT}"}
    assert keys == ["user_email"]


# --- configuration -----------------------------------------------------------------------------


def test_allow_keys_are_never_scrubbed() -> None:
    scrubber = Scrubber(allow_keys=["session_id", "debug.header"], pii="drop")
    attrs, keys = scrubber.scrub_attributes(
        {"session_id": "s-1", "debug.header": f"Bearer {JWT}", "sessionid": "s-2"}
    )
    assert attrs == {"session_id": "s-1", "debug.header": f"Bearer {JWT}", "sessionid": MARKER}
    assert keys == ["sessionid"]


def test_extra_patterns_match_keys_case_insensitively() -> None:
    scrubber = Scrubber(extra_patterns=[r"^internal\.", r"customer_ref$"])
    attrs, keys = scrubber.scrub_attributes(
        {"Internal.Note": "x", "order.customer_ref": "c-9", "internal_note": "y"}
    )
    assert attrs == {"Internal.Note": MARKER, "order.customer_ref": MARKER, "internal_note": "y"}
    assert keys == ["Internal.Note", "order.customer_ref"]


def test_invalid_extra_pattern_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"invalid scrub pattern '\(unclosed'"):
        Scrubber(extra_patterns=["(unclosed"])


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"pii": "mask"}, "pii"), ({"pii_key": b""}, "pii_key")]
)
def test_bad_options_are_clear_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Scrubber(**kwargs)


def test_callback_chooses_the_replacement() -> None:
    seen: list[ScrubMatch] = []

    def callback(match: ScrubMatch) -> str | None:
        seen.append(match)
        if match.rule == "key:password":
            return "<pw>"
        if match.where == "keep_me":
            return match.value  # type: ignore[return-value]
        return None

    attrs, keys = Scrubber(callback=callback).scrub_attributes(
        {"password": "hunter2", "note": f"auth Bearer {JWT} end", "keep_me": f"x {JWT}"}
    )
    assert attrs == {
        "password": "<pw>",
        "note": f"auth Bearer {MARKER} end",
        "keep_me": f"x {JWT}",
    }
    assert keys == ["note", "password"]
    assert ScrubMatch("password", "key:password", "hunter2") in seen
    assert ScrubMatch("note", "value:bearer", JWT) in seen
    assert ScrubMatch("keep_me", "value:jwt", JWT) in seen


def test_raising_callback_falls_back_to_marker_and_warns_once(
    make_spans: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def callback(match: ScrubMatch) -> str:
        raise RuntimeError(f"boom {match.value}")

    scrubber = Scrubber(callback=callback)
    spans = make_spans({"attributes": {"password": "hunter2"}}, {"attributes": {"token": "t0ken"}})
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        out = scrubber.scrub_spans(spans)
    assert [s.attributes.get("password", s.attributes.get("token")) for s in out] == [MARKER] * 2
    warnings = [r for r in caplog.records if r.name == "vaquero"]
    assert len(warnings) == 1
    assert "callback" in warnings[0].getMessage()
    assert "hunter2" not in caplog.text and "t0ken" not in caplog.text
    assert scrubber.internal_errors == 2


def test_callback_returning_a_non_string_uses_the_marker() -> None:
    attrs, keys = Scrubber(callback=lambda m: 42).scrub_attributes({"secret": "s"})
    assert attrs == {"secret": MARKER}
    assert keys == ["secret"]


# --- PII ---------------------------------------------------------------------------------------

PII_ATTRS = {
    "user_email": "ada@example.com",
    "recipient_email": "bob@example.org",
    "note": "sent to ada@example.com yesterday",
    "contact": "carol@example.net",
    "email_verified": True,
}


def test_pii_keep_is_the_default() -> None:
    attrs, keys = Scrubber().scrub_attributes(PII_ATTRS)
    assert attrs == PII_ATTRS
    assert keys == []


def test_pii_hash_is_deterministic_per_key() -> None:
    a1, keys = Scrubber(pii="hash", pii_key=b"k1").scrub_attributes(PII_ATTRS)
    a2, _ = Scrubber(pii="hash", pii_key=b"k1").scrub_attributes(PII_ATTRS)
    b, _ = Scrubber(pii="hash", pii_key=b"k2").scrub_attributes(PII_ATTRS)

    assert a1 == a2
    h = a1["user_email"]
    assert isinstance(h, str)
    assert h.startswith("hmac-sha256:")
    assert len(h) == len("hmac-sha256:") + 16
    assert b["user_email"] != h
    # the same address hashes the same wherever it appears
    assert a1["note"] == f"sent to {h} yesterday"
    assert a1["contact"] != h and str(a1["contact"]).startswith("hmac-sha256:")
    assert a1["email_verified"] is True
    assert keys == ["contact", "note", "recipient_email", "user_email"]
    # hashing again is a no-op
    again, again_keys = Scrubber(pii="hash", pii_key=b"k1").scrub_attributes(a1)
    assert again == a1 and again_keys == []


def test_pii_hash_without_key_warns_once_and_correlates_in_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(STATE, "scrub_process_key", None)
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        first, _ = Scrubber(pii="hash").scrub_attributes({"email": "ada@example.com"})
        second, _ = Scrubber(pii="hash").scrub_attributes({"email": "ada@example.com"})
    assert first == second
    assert str(first["email"]).startswith("hmac-sha256:")
    assert sum("VAQUERO_PII_KEY" in r.getMessage() for r in caplog.records) == 1


def test_pii_drop_removes_attributes_and_lists_them(make_spans: Any) -> None:
    (span,) = make_spans({"attributes": PII_ATTRS})
    (out,) = Scrubber(pii="drop").scrub_spans([span])
    assert dict(out.attributes) == {
        "note": f"sent to {MARKER} yesterday",
        "email_verified": True,
        SCRUBBED_KEYS_ATTRIBUTE: ("contact", "note", "recipient_email", "user_email"),
    }


# --- failure policy ----------------------------------------------------------------------------


class _HostileStr(str):
    """A real str subclass whose length cannot be taken: scrubbing it must fail closed."""

    def __len__(self) -> int:
        raise RuntimeError("no length")


def test_internal_error_fails_closed_for_that_attribute(caplog: pytest.LogCaptureFixture) -> None:
    scrubber = Scrubber()
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        for _ in range(3):
            attrs, keys = scrubber.scrub_attributes({"note": _HostileStr("x"), "step": "fetch"})
    assert attrs == {"note": MARKER, "step": "fetch"}
    assert keys == ["note"]
    assert scrubber.internal_errors == 3
    assert len([r for r in caplog.records if r.name == "vaquero"]) == 1


def test_a_span_that_cannot_be_scrubbed_is_not_exported(
    make_spans: Any, caplog: pytest.LogCaptureFixture
) -> None:
    good = make_spans({"attributes": {"step": "ok"}})
    broken = ReadableSpan(name="broken", status=None)  # type: ignore[arg-type]
    scrubber = Scrubber()
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        out = scrubber.scrub_spans([broken, *good])
    assert out == good
    assert scrubber.internal_errors == 1
    assert "not exported" in caplog.text


def test_scrub_spans_accepts_any_sequence(make_spans: Any) -> None:
    spans: Sequence[ReadableSpan] = tuple(make_spans({"attributes": {"step": "ok"}}))
    assert Scrubber().scrub_spans(spans) == list(spans)
    assert Scrubber(enabled=False).scrub_spans(spans) == list(spans)


def test_nested_mappings_get_key_and_value_rules() -> None:
    value = {"user": "ada", "auth": {"password": "pw", "hint": f"Bearer {JWT}"}, "n": 3}
    new, keys = one(Scrubber(), "request.body", value)
    assert new == {"user": "ada", "auth": MARKER, "n": 3}
    assert keys == ["request.body.auth"]
    new, keys = one(Scrubber(), "request.body", {"cfg": {"api_key": "k", "region": "eu"}})
    assert new == {"cfg": {"api_key": MARKER, "region": "eu"}}
    assert keys == ["request.body.cfg.api_key"]
