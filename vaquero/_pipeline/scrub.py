"""Secret and PII scrubbing for finished spans, applied on the export thread.

Scrubbing runs on finished spans inside the export queue, so the application thread pays
nothing for it, and it sees every span: vaquero's own and those of any other
instrumentation (HTTP clients that record ``Authorization`` headers, database clients
that record connection strings, exception events whose message quotes a token).

What is looked at: span attributes, event attributes, link attributes and the status
description. The span *name* is not: names are meant to be low-cardinality operation
names (docs/design.md), so a secret in a name is an instrumentation bug, and rewriting names
would break grouping in every backend. Resource attributes are process-wide configuration
set by the operator and are left alone too. Integer and float values are not scanned
(only a key rule can catch them): ids and timestamps would otherwise look like numbers.

Key rules
---------
A key is normalised first: camelCase is split (``apiKey`` -> ``api_key``,
``XAPIKey`` -> ``xapi_key``), it is lower-cased, and runs of ``_ - . / : space`` become one
``_``. One precompiled regex then decides; verdicts are cached per key because attribute
keys are low-cardinality. A key is scrubbed (whole value replaced) when it contains:

* ``password``, ``passwd``, ``passphrase`` (also ``pass_word``...) anywhere (``db_password``,
  ``userPassword``), or the word ``pwd``. ``pass`` alone is *kept*: test results use it.
* ``secret``, ``secrets``, ``secretkey``, ``secrettoken`` not followed by a letter
  (``client_secret``, ``clientSecret``, ``aws_secret_access_key``); ``secretary`` is kept.
* ``token`` not followed by a letter (``token``, ``access_token``, ``refreshToken``,
  ``id_token``, ``bearer_token``, ``api_token``, ``auth_token``, ``csrftoken``), except
  when followed by a count-like word: ``token_count``, ``token.type``, ``token_usage``,
  ``token_limit``, ``token_budget``, ``token_index``, ``token_length``, ``token_ids``...
  Plural ``tokens`` is always kept: token *counts* (``gen_ai.usage.input_tokens``,
  ``max_tokens``, ``tokens_used``) are the most useful GenAI attributes there are.
* ``api_key``/``apikey``/``api_keys`` anywhere (``x-api-key``, ``OPENAI_API_KEY``), and
  ``access_key``, ``private_key``, ``priv_key``, ``signing_key``, ``encryption_key``,
  ``master_key``, ``client_key``. A bare ``key`` is *kept* (``primary_key``, ``cache_key``,
  ``sort_key``, ``idempotency_key``, ``keyboard``, ``monkey``): those name data, not
  credentials.
* ``auth`` or ``authorization`` as a whole word that either ends the key or is followed by
  ``header``/``token``/``key``/``secret``/``cookie``/``value``/``string`` (``auth``,
  ``x-auth``, ``auth_header``, ``http.request.header.authorization``,
  ``proxy_authorization``). Kept: ``author``, ``author_name``, ``authored_by``,
  ``authority``, ``auth_type``, ``auth_method``, ``oauth_provider``, ``authenticated``.
* ``credential``/``credentials`` anywhere, and the words ``cred``/``creds``.
* ``session`` as the last word, or ``session``/``sess`` followed by ``id``, ``token``,
  ``key``, ``cookie``, ``secret`` (``session_id``, ``sessionid``, ``JSESSIONID``,
  ``PHPSESSID``, ``session_token``). Kept: ``session_count``, ``session.duration``.
* ``cookie``/``cookies`` ending the key or followed by ``header``/``value``/``string``/
  ``jar`` (``cookie``, ``set-cookie``, ``http.response.header.set_cookie``).
  Kept: ``cookie_count``, ``cookie_name``.
* ``csrf``, ``xsrf``, ``jwt`` anywhere; ``bearer`` as a word.
* ``ssn`` as a word (``classname`` is kept), ``social_security``.
* ``credit_card``, ``card_number``/``card_num``/``card_no``, ``cc_number``/``cc_num``
  (``acc_number`` is kept), ``cvv``/``cvc`` as words.

Value rules
-----------
String values (and strings inside sequence values) are scanned, and only the matching part
of a longer string is replaced:

* ``Bearer <credential>`` / ``Basic <credential>``: the credential (8+ characters with a
  digit, or 20+ characters) is replaced, the scheme word is kept for context.
* JWTs: three base64url segments, the first starting ``eyJ``.
* Well-known key shapes: ``sk-...`` (OpenAI, Anthropic), ``sk_live_``/``rk_test_``...
  (Stripe), ``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_`` and ``github_pat_`` (GitHub),
  ``AKIA``/``ASIA`` + 16 (AWS), ``xox[abposr]-`` (Slack), ``AIza`` (Google), ``glpat-``
  (GitLab), and PEM ``-----BEGIN ... PRIVATE KEY-----`` blocks.
* The password in a URL's userinfo (``postgres://app:hunter2@db/x`` keeps the user).
* Card numbers: 13-19 digits, optionally grouped by spaces or dashes, starting with 2-6
  (the issuer ranges of Visa, Mastercard, Amex, Discover, JCB, UnionPay) and passing the
  Luhn check. The leading-digit rule keeps epoch timestamps (which start with 1) from
  being redacted one time in ten by chance.

Strings shorter than the shortest possible match, and strings holding none of the literals
every rule needs (``_SECRET_TRIGGER``, 13 digits, ``@``), are not scanned further: a clean
ten-attribute span costs about four copies of its attribute dict (bench/bench_scrub.py).
Nested mapping values (OTel's extended attributes) get the key rules too, named
``outer.inner``.

PII
---
``pii`` governs e-mail addresses: keys ending in ``email``/``e_mail``/``email_address``
(``user_email``, ``recipient_email``) and e-mail-shaped substrings of any string value.
The default is ``keep``: the seed's own workflows record ``user_email`` for debugging, and
whether an address may leave the process is the operator's policy, not ours. ``hash``
replaces each address with ``hmac-sha256:<16 hex>`` keyed by ``pii_key`` (stable across
processes that share the key, so traces still correlate by user); without a key a random
per-process key is used and a warning says hashes will not correlate across processes.
``drop`` removes the attribute when the key is e-mail-like or the whole value is an
address; an address embedded in a longer string becomes the marker. PII handling is
independent of ``enabled`` (which governs secrets): an operator who asked for ``hash`` or
``drop`` gets it even with secret scrubbing switched off.

Configuration
-------------
``allow_keys`` are exact keys that are never touched (neither key nor value rules).
``extra_patterns`` are regexes searched case-insensitively in the *raw* key; a match is
scrubbed like a built-in key rule (an invalid pattern is a ValueError at construction).
``callback(ScrubMatch)`` runs for every secret found (not for PII, which ``pii`` governs)
and returns the replacement text, or None for the marker; returning the original value
keeps it. A callback that raises or returns a non-string gets the marker and one warning.

Output and failure policy
-------------------------
A replaced value becomes :data:`MARKER`; the span gets :data:`SCRUBBED_KEYS_ATTRIBUTE`, the
sorted list of the places that changed (``password``, ``events[exception].exception.message``,
``links[0].token``, ``status.description``), never their values. Spans that need no change
are passed through as the same object; only changed spans are rebuilt as new
``ReadableSpan`` objects, keeping dropped-attribute/event/link counts.

Scrubbing fails *closed*: if checking one attribute raises, that attribute becomes the
marker; if a whole span cannot be rebuilt, the span is not exported. Either is counted
(:attr:`Scrubber.internal_errors`) and warned about once per kind on the ``vaquero``
logger. A secret that leaks because a regex misbehaved is worse than a missing attribute,
and nothing raises into the export thread.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, Status
from opentelemetry.util.types import AnyValue

from vaquero._otel_compat import (
    frozen_attributes,
    has_no_events,
    has_no_links,
    instrumentation_info,
    plain_attributes,
    span_attributes,
)
from vaquero._semconv import SCRUBBED_KEYS

logger = logging.getLogger("vaquero")

MARKER: Final = "[REDACTED]"
SCRUBBED_KEYS_ATTRIBUTE: Final = SCRUBBED_KEYS
PiiMode = Literal["keep", "hash", "drop"]
_T = TypeVar("_T")

_EMAIL_RULE: Final = "email"
_ALLOW: Final = "<allow>"  # key verdict: never touch (identity-compared)
_KEY_CACHE_MAX: Final = 4096
_MAX_DEPTH: Final = 8  # nested AnyValue mappings/sequences deeper than this fail closed


@dataclass(frozen=True)
class ScrubMatch:
    """One secret found, handed to the user's callback.

    ``where`` names the place (an attribute key, ``events[NAME].KEY``, ``links[I].KEY`` or
    ``status.description``); ``rule`` says why (``key:password``, ``value:jwt``,
    ``key:extra``); ``value`` is the whole attribute value for a key rule and the matched
    text for a value rule.
    """

    where: str
    rule: str
    value: AnyValue


ScrubCallback = Callable[[ScrubMatch], object]


class _Drop:
    """Sentinel: remove this attribute."""


_DROP: Final = _Drop()

# --- key rules -------------------------------------------------------------------------------

_CAMEL_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SEPARATORS = re.compile(r"[\s_.\-/:]+")

_KEY_RULES: Final[dict[str, str]] = {
    "password": r"pass_?(?:word|wd|phrase)|(?<![a-z])pwd(?![a-z])",
    "secret": r"secret(?:s|key|token)?(?![a-z])",
    "token": (
        r"token(?![a-z])(?!_(?:count|counts|type|types|usage|limit|limits|budget|index|idx"
        r"|position|pos|len|length|ids|num|number|logprob|logprobs)(?![a-z]))"
    ),
    "api_key": r"api_?keys?(?![a-z])",
    "credential_key": (r"(?:access|private|priv|signing|encryption|master|client)_?keys?(?![a-z])"),
    "auth": (
        r"(?<![a-z])auth(?:orization)?(?:_?(?:header|token|key|secret|cookie|value|string))?$"
        r"|(?<![a-z])auth(?:orization)?_?(?:header|token|key|secret|cookie)(?![a-z])"
    ),
    "credential": r"credentials?(?![a-z])|(?<![a-z])creds?(?![a-z])",
    "session": (r"(?<![a-z])session$|sess(?:ion)?_?(?:id|token|key|cookie|secret)(?![a-z])"),
    "cookie": r"cookies?(?:_?(?:header|value|string|jar))?$",
    "csrf": r"csrf|xsrf",
    "jwt": r"jwt",
    "bearer": r"(?<![a-z])bearer(?![a-z])",
    "ssn": r"(?<![a-z])ssn(?![a-z])|social_?security",
    "credit_card": (
        r"credit_?card|card_?(?:number|num|no)(?![a-z])|(?<![a-z])cc_?(?:number|num|no)(?![a-z])"
        r"|(?<![a-z])(?:cvv|cvc)2?(?![a-z])"
    ),
    _EMAIL_RULE: r"(?<![a-z])e_?mails?(?:_?addr(?:ess)?(?:es)?)?$",
}
_KEY_RE: Final = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _KEY_RULES.items()))


def normalize_key(key: str) -> str:
    """Fold case, camelCase and separators so one regex covers every spelling of a key."""
    key = _CAMEL_ACRONYM.sub(r"\1_\2", key)
    key = _CAMEL.sub(r"\1_\2", key)
    return _SEPARATORS.sub("_", key.lower()).strip("_")


# --- value rules -----------------------------------------------------------------------------

_B64URL = r"[A-Za-z0-9_-]"
_TOKEN_CHARS = r"[A-Za-z0-9\-._~+/]"
_SECRET_VALUE_RULES: Final[dict[str, str]] = {
    "private_key": (
        r"-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z ]*PRIVATE KEY-----|\Z)"
    ),
    "bearer": (
        rf"(?<![A-Za-z])(?:[Bb]earer|BEARER|Basic)\s+(?P<scheme_cred>"
        rf"(?={_TOKEN_CHARS}*\d){_TOKEN_CHARS}{{8,}}=*|{_TOKEN_CHARS}{{20,}}=*)"
    ),
    "jwt": rf"(?<![A-Za-z0-9_-])eyJ{_B64URL}{{5,}}\.{_B64URL}{{2,}}\.{_B64URL}*",
    "api_key": (
        r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}"
        r"|(?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"
        r"|(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{30,}"
        r"|(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{30,}"
        r"|(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])"
        r"|(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}"
        r"|(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}"
        r"|(?<![A-Za-z0-9])glpat-[0-9A-Za-z_-]{20,}"
    ),
    "url_password": r"(?<=://)[^\s/:@]*:(?P<url_pw>[^\s/@]+)@",
    "card": r"(?<![\d.-])[2-6]\d(?:[ -]?\d){11,17}(?!\d)",
}
_EMAIL_VALUE_RULE: Final = (
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"(?![A-Za-z0-9-])"
)
_EMAIL_FULL: Final = re.compile(_EMAIL_VALUE_RULE)
_HASHED: Final = re.compile(r"hmac-sha256:[0-9a-f]{16}")
# Cheap necessary conditions for the value rules above. The full alternation costs ~0.15 us
# per character (lookbehinds at every position); this one starts every branch with a literal,
# so the regex engine skips ahead in C to the few candidate characters (~4 us per 1,000
# characters of prose). Every other secret rule needs one of these literals, a URL password
# needs "://" and "@", a card needs 13 digits, an address needs "@". Keep them in step.
_SECRET_TRIGGER: Final = re.compile(
    r"Bearer|bearer|BEARER|Basic|yJ|k-|k_|gh[pousr]_|github_pat_|AKIA|ASIA|xox|AIza|glpat-"
    r"|-----BEGIN"
)
_DIGITS: Final = b"0123456789"
_MIN_CARD_DIGITS: Final = 13
# Shortest string any rule can match: "Bearer " + 8 is longer, a card is 13 digits, a URL
# password "a://:b@" is 7; an address "a@b.cd" is 6.
_MIN_SECRET_LEN: Final = 7
_MIN_EMAIL_LEN: Final = 6


def _value_regex(secrets_on: bool, emails_on: bool) -> re.Pattern[str] | None:
    parts = [f"(?P<{n}>{rx})" for n, rx in _SECRET_VALUE_RULES.items()] if secrets_on else []
    if emails_on:
        parts.append(f"(?P<{_EMAIL_RULE}>{_EMAIL_VALUE_RULE})")
    return re.compile("|".join(parts)) if parts else None


def luhn_ok(digits: str) -> bool:
    """The card-number checksum; rejects 9 in 10 random digit strings."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# --- process-wide state ----------------------------------------------------------------------

_process_key_lock = threading.Lock()
_process_key: bytes | None = None


def _random_process_key() -> bytes:
    """One random HMAC key per process, so hashes at least correlate within the process."""
    global _process_key
    with _process_key_lock:
        if _process_key is None:
            _process_key = secrets.token_bytes(32)
            logger.warning(
                "vaquero: pii='hash' without VAQUERO_PII_KEY; using a random per-process key, "
                "so hashed values will not correlate across processes or restarts."
            )
        return _process_key


class Scrubber:
    """Replace secrets (and, on request, e-mail addresses) in finished spans."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        extra_patterns: Sequence[str] = (),
        allow_keys: Sequence[str] = (),
        callback: ScrubCallback | None = None,
        pii: PiiMode = "keep",
        pii_key: bytes | None = None,
    ) -> None:
        if pii not in ("keep", "hash", "drop"):
            raise ValueError(f"pii must be 'keep', 'hash' or 'drop', not {pii!r}")
        if pii_key is not None and not pii_key:
            raise ValueError("pii_key must be non-empty bytes (or None)")
        self._secrets_on = bool(enabled)
        self._pii: PiiMode = pii
        self._active = self._secrets_on or pii != "keep"
        self._extra = _compile_extra(extra_patterns)
        self._allow = frozenset(allow_keys)
        self._callback = callback
        self._pii_key = pii_key
        if pii == "hash" and pii_key is None:
            self._pii_key = _random_process_key()
        self._value_re = _value_regex(self._secrets_on, pii != "keep")
        self._min_len = _MIN_EMAIL_LEN if pii != "keep" else _MIN_SECRET_LEN
        self._key_cache: dict[str, str] = {}
        self._hash_cache: dict[str, str] = {}
        self._warned: set[str] = set()
        self._errors = 0

    @property
    def internal_errors(self) -> int:
        """How many attributes or spans failed closed because scrubbing itself failed."""
        return self._errors

    # --- public entry points -------------------------------------------------------------------
    def scrub_spans(self, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        """Scrubbed spans, in order; unchanged spans are the very objects passed in."""
        if not self._active:
            return spans if isinstance(spans, list) else list(spans)
        out: list[ReadableSpan] = []
        for span in spans:
            try:
                out.append(self._scrub_span(span))
            except Exception:
                self._fail("span", "vaquero: could not scrub a span; it was not exported.")
        return out

    def scrub_attributes(
        self, attributes: Mapping[str, AnyValue]
    ) -> tuple[dict[str, AnyValue], list[str]]:
        """A scrubbed copy of ``attributes`` and the sorted keys that changed."""
        found: list[str] = []
        if not self._active:
            return dict(attributes), found
        new = self._scrub_mapping(attributes, "", found, 0)
        return dict(attributes if new is None else new), sorted(set(found))

    # --- spans -----------------------------------------------------------------------------------
    def _scrub_span(self, span: ReadableSpan) -> ReadableSpan:
        found: list[str] = []
        attrs = span_attributes(span)
        new_attrs = self._scrub_mapping(attrs, "", found, 0)
        new_events = None if has_no_events(span) else self._scrub_events(span, found)
        new_links = None if has_no_links(span) else self._scrub_links(span, found)
        status = span.status
        new_status = None
        if status.description:
            desc = self._scrub_str("status.description", status.description, found)
            if desc is not status.description:
                new_status = Status(status.status_code, MARKER if isinstance(desc, _Drop) else desc)
        if not found:
            return span
        merged = dict(attrs if new_attrs is None else new_attrs)
        previous = merged.get(SCRUBBED_KEYS_ATTRIBUTE)
        keys = set(found)
        if isinstance(previous, (tuple, list)):
            keys.update(str(k) for k in previous)
        merged[SCRUBBED_KEYS_ATTRIBUTE] = tuple(sorted(keys))
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=frozen_attributes(merged, span.dropped_attributes),
            events=_bounded_list(span.events, span.dropped_events)
            if new_events is None
            else new_events,
            links=_bounded_list(span.links, span.dropped_links) if new_links is None else new_links,
            kind=span.kind,
            instrumentation_info=instrumentation_info(span),
            status=status if new_status is None else new_status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def _scrub_events(self, span: ReadableSpan, found: list[str]) -> BoundedList[Event] | None:
        events = span.events
        changed = False
        rebuilt: list[Event] = []
        for event in events:
            new = None
            if event.attributes:
                attrs = plain_attributes(event.attributes) or event.attributes
                new = self._scrub_mapping(attrs, f"events[{event.name}].", found, 0)
            if new is None:
                rebuilt.append(event)
                continue
            changed = True
            dropped = getattr(event, "dropped_attributes", 0)
            rebuilt.append(Event(event.name, frozen_attributes(new, dropped), event.timestamp))
        return _bounded_list(rebuilt, span.dropped_events) if changed else None

    def _scrub_links(self, span: ReadableSpan, found: list[str]) -> BoundedList[Link] | None:
        changed = False
        rebuilt: list[Link] = []
        for i, link in enumerate(span.links):
            new = None
            if link.attributes:
                attrs = plain_attributes(link.attributes) or link.attributes
                new = self._scrub_mapping(attrs, f"links[{i}].", found, 0)
            if new is None:
                rebuilt.append(link)
                continue
            changed = True
            dropped = getattr(link, "dropped_attributes", 0)
            rebuilt.append(Link(link.context, frozen_attributes(new, dropped)))
        return _bounded_list(rebuilt, span.dropped_links) if changed else None

    # --- attributes ------------------------------------------------------------------------------
    def _scrub_mapping(
        self, attrs: Mapping[str, AnyValue], prefix: str, found: list[str], depth: int
    ) -> dict[str, AnyValue] | None:
        """A changed copy of ``attrs``, or None when nothing needed changing (the cheap path).

        The loop settles the common case (a known clean key with a number or an innocent
        string) inline, because per-call overhead is most of the cost at ten attributes a
        span; only exact built-in types take that path, so it cannot raise.
        """
        out: dict[str, AnyValue] | None = None
        cache = self._key_cache
        min_len = self._min_len
        for key, value in attrs.items():
            rule = cache.get(key)
            if rule is None:
                rule = self._key_rule(key)
            if rule is _ALLOW:
                continue
            if not rule:
                kind = type(value)
                if kind is str:
                    if len(value) < min_len or not self._suspicious(value):  # type: ignore[arg-type]
                        continue
                elif kind is int or kind is float or kind is bool:
                    continue
            where = prefix + key
            try:
                new = self._scrub_item(rule, where, value, found, depth)
            except Exception:
                self._fail("attribute", "vaquero: scrubbing an attribute failed; it was redacted.")
                found.append(where)
                new = MARKER
            if new is value:
                continue
            if out is None:
                out = dict(attrs)
            if isinstance(new, _Drop):
                del out[key]
            else:
                out[key] = new
        return out

    def _scrub_item(
        self, rule: str, where: str, value: AnyValue, found: list[str], depth: int
    ) -> AnyValue | _Drop:
        if rule == _EMAIL_RULE:
            return self._pii_whole(where, value, found)
        if rule:
            return self._replace_whole(where, rule, value, found)
        return self._scan(where, value, found, depth)

    def _key_rule(self, key: str) -> str:
        """What to do with a key's value, cached because keys repeat: ``_ALLOW`` (leave it),
        ``""`` (scan the value) or the name of the key rule that replaces it."""
        if key in self._allow or key == SCRUBBED_KEYS_ATTRIBUTE:
            rule = _ALLOW
        else:
            m = _KEY_RE.search(normalize_key(key))
            rule = (m.lastgroup or "") if m is not None else ""
            if not rule and self._extra is not None and self._extra.search(key):
                rule = "extra"
            switched_off = self._pii == "keep" if rule == _EMAIL_RULE else not self._secrets_on
            if rule and switched_off:
                rule = ""  # the rule's family is off: the value is still scanned
        if len(self._key_cache) >= _KEY_CACHE_MAX:
            self._key_cache.clear()  # a key explosion must not grow memory without bound
        self._key_cache[key] = rule
        return rule

    def _replace_whole(self, where: str, rule: str, value: AnyValue, found: list[str]) -> AnyValue:
        if value == MARKER:
            return value  # scrubbed before (idempotent)
        new = self._replacement(ScrubMatch(where, f"key:{rule}", value))
        if new == value:
            return value  # the callback chose to keep it
        found.append(where)
        return new

    def _pii_whole(self, where: str, value: AnyValue, found: list[str]) -> AnyValue | _Drop:
        if self._pii == "drop":
            found.append(where)
            return _DROP
        if isinstance(value, str) and _HASHED.fullmatch(value):
            return value  # hashed before (idempotent)
        if isinstance(value, str):
            new: AnyValue = self._hash(value)
        elif isinstance(value, (tuple, list)):
            new = tuple(self._hash(v) if isinstance(v, str) else v for v in value)
        else:
            return value  # a count or flag under an e-mail key is not an address
        found.append(where)
        return new

    def _scan(self, where: str, value: AnyValue, found: list[str], depth: int) -> AnyValue | _Drop:
        if isinstance(value, str):
            return self._scrub_str(where, value, found)
        if isinstance(value, (tuple, list)):
            if depth >= _MAX_DEPTH:
                found.append(where)
                return MARKER
            items = []
            changed = False
            for item in value:
                new = self._scan(where, item, found, depth + 1)
                if new is not item:
                    changed = True
                    new = MARKER if isinstance(new, _Drop) else new
                items.append(new)
            return tuple(items) if changed else value
        if isinstance(value, Mapping):
            if depth >= _MAX_DEPTH:
                found.append(where)
                return MARKER
            nested = self._scrub_mapping(value, where + ".", found, depth + 1)
            return value if nested is None else nested
        return value

    def _scrub_str(self, where: str, text: str, found: list[str]) -> str | _Drop:
        """Replace the secret parts of ``text``; the same object back when it is clean."""
        pattern = self._value_re
        if pattern is None or len(text) < self._min_len or not self._suspicious(text):
            return text
        if pattern.search(text) is None:
            return text
        if self._pii == "drop" and _EMAIL_FULL.fullmatch(text):
            found.append(where)
            return _DROP
        new = pattern.sub(lambda m: self._on_value_match(where, m), text)
        if new == text:
            return text  # e.g. digits that failed the Luhn check
        found.append(where)
        return new

    def _suspicious(self, text: str) -> bool:
        """Whether ``text`` could hold anything the value rules match (see _SECRET_TRIGGER)."""
        if self._pii != "keep" and "@" in text:
            return True
        if not self._secrets_on:
            return False
        if _SECRET_TRIGGER.search(text) is not None or ("@" in text and "://" in text):
            return True
        if len(text) < _MIN_CARD_DIGITS:
            return False
        raw = text.encode("utf-8", "surrogatepass")
        return len(raw) - len(raw.translate(None, _DIGITS)) >= _MIN_CARD_DIGITS

    def _on_value_match(self, where: str, m: re.Match[str]) -> str:
        rule = m.lastgroup or ""
        whole = m.group(0)
        if rule == _EMAIL_RULE:
            return self._hash(whole) if self._pii == "hash" else MARKER
        if rule == "card" and not luhn_ok(re.sub(r"[ -]", "", whole)):
            return whole
        inner = "scheme_cred" if rule == "bearer" else "url_pw" if rule == "url_password" else ""
        start, end = m.span(inner) if inner else m.span()
        secret = m.string[start:end]
        new = self._replacement(ScrubMatch(where, f"value:{rule}", secret))
        if not isinstance(new, str):
            new = MARKER
        base = m.start()
        return whole[: start - base] + new + whole[end - base :]

    def _replacement(self, match: ScrubMatch) -> AnyValue:
        """The callback's replacement, or the marker; a failing callback costs only a warning."""
        if self._callback is None:
            return MARKER
        try:
            new = self._callback(match)
        except Exception:
            self._fail("callback", "vaquero: the scrubbing callback raised; using the marker.")
            return MARKER
        if new is None:
            return MARKER
        if not isinstance(new, str):
            self._fail("callback_type", "vaquero: the scrubbing callback must return str or None.")
            return MARKER
        return new

    def _hash(self, text: str) -> str:
        """Keyed, so a dictionary of known addresses cannot reverse it; cached because the
        same few addresses recur on span after span."""
        hashed = self._hash_cache.get(text)
        if hashed is None:
            key = self._pii_key or _random_process_key()
            digest = hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256)
            hashed = "hmac-sha256:" + digest.hexdigest()[:16]
            if len(self._hash_cache) >= _KEY_CACHE_MAX:
                self._hash_cache.clear()
            self._hash_cache[text] = hashed
        return hashed

    def _fail(self, kind: str, message: str) -> None:
        """Count and warn once per kind; the exception's text is not logged (it may quote
        the very value being scrubbed), only its type."""
        self._errors += 1
        if kind not in self._warned:
            self._warned.add(kind)
            exc = sys.exc_info()[1]
            logger.warning("%s (%s)", message, type(exc).__name__ if exc else "no exception")


def _compile_extra(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """Users' key patterns as one case-insensitive regex; a bad one is a clear config error."""
    if isinstance(patterns, str):
        patterns = (patterns,)
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"invalid scrub pattern {p!r}: {exc}") from None
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def _bounded_list(items: Sequence[_T], dropped: int) -> BoundedList[_T]:
    """Events/links in the SDK's container, so ``dropped_events``/``dropped_links`` survive."""
    bounded = BoundedList.from_seq(None, items)
    bounded.dropped = dropped
    return bounded
