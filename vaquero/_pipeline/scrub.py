"""Secret and PII scrubbing for finished spans, applied on the export thread.

Scrubbing runs on finished spans inside the export queue, so the application thread pays
nothing for it, and it sees every span: vaquero's own and those of any other
instrumentation (HTTP clients that record ``Authorization`` headers, database clients
that record connection strings, exception events whose message quotes a token).

What is looked at: span attributes, event attributes, link attributes, the status
description, and span and event names. Names are meant to be low-cardinality operation
names (docs/design.md), but a token inside an f-string span name is common; names get the
free-text value rules only (no key rules: a name is not a key), and the verdict is cached per
name, because names repeat, so a clean name costs one dict lookup. Resource attributes are
process-wide configuration set by the operator and are left alone. Integer and float values
are not scanned (only a key rule can catch them): ids and timestamps would otherwise look like
numbers.

The same pass makes every string valid UTF-8, also with scrubbing switched off (it is the
one export-side look at every string): a lone surrogate (``os.fsdecode`` of a non-UTF-8
file name) in a span or event name, an attribute key or value, the status, the resource or
the scope becomes U+FFFD. The OTLP encoders raise on one and drop the *whole batch*. Keys
and the resource/scope are checked once (cached); values cost one ``isascii()``.

Key rules
---------
A key is normalised first: camelCase is split (``apiKey`` -> ``api_key``,
``XAPIKey`` -> ``xapi_key``), it is lower-cased, and runs of ``_ - . / : space`` become one
``_``. One precompiled regex then decides; verdicts are cached per key because attribute
keys are low-cardinality. A key is scrubbed (whole value replaced) when it contains:

* ``password``, ``passwd``, ``passphrase``, ``passcode`` (also ``pass_word``...) anywhere
  (``db_password``, ``userPassword``), or the words ``pwd``, ``pw``, ``otp``/``totp``/``hotp``.
  ``pass`` alone is *kept*: test results use it.
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
  ``master_key``, ``client_key``, ``account_key`` (Azure's ``AccountKey``). A bare ``key``
  is *kept* (``primary_key``, ``cache_key``, ``sort_key``, ``idempotency_key``,
  ``keyboard``, ``monkey``): those name data, not credentials.
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
* connection strings and DSNs, which carry credentials: the word ``dsn``,
  ``connection_string``/``conn_str``/``connection_uri``/``connection_url``,
  ``database_url``/``db_url``/``db_uri`` (``db.connection_string`` included). Kept:
  ``connection_count``, ``connection_id``, ``connection_pool``, ``dsname``.
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
  ``AKIA``/``ASIA`` + 16 (AWS), ``xox[abposr]-``/``xapp-`` (Slack), ``AIza`` and ``ya29.``
  (Google), ``glpat-``/``glptt-``/``gldt-``/``glrt-``... and ``glsa_`` (GitLab, Grafana),
  ``npm_`` (npm), ``hf_`` (Hugging Face), ``pypi-AgE`` (PyPI), ``shpat_``... (Shopify),
  ``SG.`` (SendGrid), ``dop_v1_`` (DigitalOcean), ``hvs.`` (Vault), ``whsec_`` (Stripe
  webhooks), ``dapi`` (Databricks), ``ATATT`` (Atlassian), ``PMAK-`` (Postman), each with
  the length its issuer gives it (so ``hf_model_name`` stays), and armored private keys:
  PEM ``-----BEGIN ... PRIVATE KEY-----`` and PGP ``-----BEGIN PGP PRIVATE KEY BLOCK-----``.
* The password in a URL's userinfo (``postgres://app:hunter2@db/x`` keeps the user), up
  to the *last* ``@`` before the host (``user:p@ss@host`` loses ``p@ss``).
* Key/value text: ``password=…``, ``token: …``, ``Authorization: Bearer …``,
  ``"api_key": "…"``, ``?access_token=…&`` (query parameters), ``'secret': '…'``: the
  value goes when the *key* is secret by the key rules (so ``token_count=5``, ``page=2``
  and ``author: bob`` stay). A harmless key gives its value back to the other rules.
* JSON text (``{`` or ``[`` first, with a key-rule stem before some ``:``): parsed and
  scrubbed as structure, so key rules reach nested keys at any depth, and
  ``[[name, value], ...]`` lists (ASGI/WSGI headers) are read as names and values. This is
  how a dict, dataclass, pydantic model or captured argument is scrubbed: vaquero's
  converter always writes JSON that parses (:mod:`vaquero._bounded_json`). Text that does
  not parse (a user's cut JSON) still gets the key/value rule.
* Card numbers: 13-19 digits, optionally grouped by spaces or dashes, starting with 2-6
  (the issuer ranges of Visa, Mastercard, Amex, Discover, JCB, UnionPay) and passing the
  Luhn check. The leading-digit rule keeps epoch timestamps (which start with 1) from
  being redacted one time in ten by chance.

Strings shorter than the shortest possible match, and strings holding none of the literals
every rule needs (``_SECRET_TRIGGER``, 13 digits, ``@``, a ``=``/``:`` with a key stem
before it), are not scanned further: a clean ten-attribute span costs about five copies of
its attribute dict (bench/bench_scrub.py).
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

import functools
import hashlib
import hmac
import json
import logging
import re
import secrets
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
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
from vaquero._state import STATE

logger = logging.getLogger("vaquero")

MARKER: Final = "[REDACTED]"
SCRUBBED_KEYS_ATTRIBUTE: Final = SCRUBBED_KEYS
PiiMode = Literal["keep", "hash", "drop"]
_T = TypeVar("_T")

_EMAIL_RULE: Final = "email"
_ALLOW: Final = "<allow>"  # key verdict: never touch (identity-compared)
_BAD_KEY: Final = "<invalid utf-8>"  # key verdict: the key itself must be repaired
_KEY_CACHE_MAX: Final = 4096
_INNOCENT_MAX_LEN: Final = 128  # longer values are rarely repeated: not remembered
_MAX_DEPTH: Final = 8  # nested AnyValue mappings/sequences deeper than this fail closed
# Parsed JSON text is walked as deep as vaquero's converter nests (64) and a little more;
# only deeper than that does a subtree fail closed.
_JSON_MAX_DEPTH: Final = 72


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
    "password": (
        r"pass_?(?:word|wd|phrase|code)|(?<![a-z])pwd?(?![a-z])|(?<![a-z])[th]?otp(?![a-z])"
    ),
    "secret": r"secret(?:s|key|token)?(?![a-z])",
    "token": (
        r"token(?![a-z])(?!_(?:count|counts|type|types|usage|limit|limits|budget|index|idx"
        r"|position|pos|len|length|ids|num|number|logprob|logprobs)(?![a-z]))"
    ),
    "api_key": r"api_?keys?(?![a-z])",
    "credential_key": (
        r"(?:access|private|priv|signing|encryption|master|client|account)_?keys?(?![a-z])"
    ),
    "auth": (
        r"(?<![a-z])auth(?:orization)?(?:_?(?:header|token|key|secret|cookie|value|string))?$"
        r"|(?<![a-z])auth(?:orization)?_?(?:header|token|key|secret|cookie)(?![a-z])"
    ),
    "credential": r"credentials?(?![a-z])|(?<![a-z])creds?(?![a-z])",
    "session": (r"(?<![a-z])session$|sess(?:ion)?_?(?:id|token|key|cookie|secret)(?![a-z])"),
    "cookie": r"cookies?(?:_?(?:header|value|string|jar))?$",
    "csrf": r"csrf|xsrf",
    "jwt": r"jwt",
    "dsn": (
        r"(?<![a-z])dsn(?![a-z])|(?<![a-z])conn(?:ection)?_?(?:str(?:ing)?|uri|url)s?(?![a-z])"
        r"|(?<![a-z])(?:database|db)_?(?:url|uri)(?![a-z])"
    ),
    "bearer": r"(?<![a-z])bearer(?![a-z])",
    "ssn": r"(?<![a-z])ssn(?![a-z])|social_?security",
    "credit_card": (
        r"credit_?card|card_?(?:number|num|no)(?![a-z])|(?<![a-z])cc_?(?:number|num|no)(?![a-z])"
        r"|(?<![a-z])(?:cvv|cvc)2?(?![a-z])"
    ),
    "signature": r"(?<![a-z])sig(?![a-z])|^signature$|(?:amz|goog)_signature",
    _EMAIL_RULE: r"(?<![a-z])e_?mails?(?:_?addr(?:ess)?(?:es)?)?$",
}


@functools.cache
def _key_regex() -> re.Pattern[str]:
    """All key rules as one regex, compiled on the first key not yet in a scrubber's cache:
    ~4 ms that ``import vaquero`` and the first span need not pay."""
    return re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _KEY_RULES.items()))


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
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
        r"(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)"
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
        r"|(?<![A-Za-z0-9])gl(?:pat|ptt|dt|rt|cbt|imt|soat|ffct|agent|oas)-[0-9A-Za-z_-]{20,}"
        r"|(?<![A-Za-z0-9])glsa_[A-Za-z0-9_]{32,}"
        r"|(?<![A-Za-z0-9])xapp-[0-9A-Za-z-]{10,}"
        r"|(?<![A-Za-z0-9])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"
        r"|(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}"
        r"|(?<![A-Za-z0-9])ya29\.[0-9A-Za-z_-]{20,}"
        r"|(?<![A-Za-z0-9])pypi-AgE[A-Za-z0-9_-]{50,}"
        r"|(?<![A-Za-z0-9])shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"
        r"|(?<![A-Za-z0-9])SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"
        r"|(?<![A-Za-z0-9])dop_v1_[a-f0-9]{64}"
        r"|(?<![A-Za-z0-9])hvs\.[A-Za-z0-9_-]{24,}"
        r"|(?<![A-Za-z0-9])whsec_[A-Za-z0-9+/=]{24,}"
        r"|(?<![A-Za-z0-9])dapi[0-9a-f]{32}(?![0-9a-f])"
        r"|(?<![A-Za-z0-9])ATATT[A-Za-z0-9_=-]{20,}"
        r"|(?<![A-Za-z0-9])PMAK-[0-9a-f]{24}-[0-9a-f]{34}"
    ),
    # The password runs to the *last* "@" before the host, so "p@ss@host" loses "p@ss".
    "url_password": (
        r"(?<=://)[^\s/?#:@]*:(?P<url_pw>[^\s/?#]+)@"
        r"(?=[A-Za-z0-9.\-\[\]:%_]*(?![A-Za-z0-9.\-\[\]:%_@]))"
    ),
    "card": r"(?<![\d.-])[2-6]\d(?:[ -]?\d){11,17}(?!\d)",
    # key=value, key: value, "key": "value", ?key=value&: the value goes when the *key* is
    # secret by the key rules above (decided in code, so look-alikes such as token_count=5
    # stay). An authorization scheme word before the value is kept for context.
    "kv": (
        r"(?<![A-Za-z0-9_.\-])(?P<kv_key>[A-Za-z_][A-Za-z0-9_.\-]{0,63})[\"']?[ \t]*"
        r"(?:=|:(?!//))[ \t]*(?:(?i:bearer|basic|token|digest)[ \t]+)?"
        r"(?P<kv_val>\"(?:[^\"\\\n]|\\.){1,4096}\"|'[^'\n]{1,4096}'"
        r"|[^\s\"'&#;,<>(){}\[\]]{1,4096})"
    ),
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
    r"Bearer|bearer|BEARER|Basic|yJ|k-|k_|gh[pousr]_|github_pat_|AKIA|ASIA|xox|AIza|gl[a-z]{1,5}-"
    r"|-----BEGIN|glsa_|xapp-|npm_|hf_|ya29\.|pypi-|shp[a-z]{2}_|SG\.|dop_v1_|hvs\.|whsec_|dapi"
    r"|ATATT|PMAK-"
)
# Key/value text needs a separator and, in the few characters before it, a stem of some key
# rule (all of them contain one of these). Only windows before separators are lower-cased
# and searched, so a long clean message costs a few ``find`` calls.
_KV_STEMS: Final = re.compile(
    r"pass|pw|otp|secret|token|key|auth|cred|sess|cookie|srf|jwt|bearer|ssn|social|card|cc|cv"
    r"|sig|dsn|conn|database|db_u|dbu"
)
_KV_WINDOW: Final = 72  # the longest key the kv rule takes (64) plus quotes and blanks
_KV_MAX_SEPARATORS: Final = 32  # past this many, just scan the text
_JSON_START: Final = frozenset("{[")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_REPAIRED: Final = "\x00utf8"  # entry in ``found``: a string was repaired (not a secret)
_DIGITS: Final = b"0123456789"
_MIN_CARD_DIGITS: Final = 13
# Shortest string any rule can match: "Bearer " + 8 is longer, a card is 13 digits, a URL
# password "a://:b@" is 7, a key/value "pwd=x" 5; an address "a@b.cd" is 6.
_MIN_SECRET_LEN: Final = 5  # "pwd=x"
_MIN_EMAIL_LEN: Final = 6


@functools.cache
def _value_regex(secrets_on: bool, emails_on: bool) -> re.Pattern[str] | None:
    """The value rules switched on, as one regex; compiled on the first suspicious string."""
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


def _random_process_key() -> bytes:
    """One random HMAC key per process, so hashes at least correlate within the process."""
    with _process_key_lock:
        if STATE.scrub_process_key is None:
            STATE.scrub_process_key = secrets.token_bytes(32)
            logger.warning(
                "vaquero: pii='hash' without VAQUERO_PII_KEY; using a random per-process key, "
                "so hashed values will not correlate across processes or restarts."
            )
        return STATE.scrub_process_key


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
        self._extra = _compile_extra(extra_patterns)
        self._allow = frozenset(allow_keys)
        self._callback = callback
        self._pii_key = pii_key
        if pii == "hash" and pii_key is None:
            self._pii_key = _random_process_key()
        self._scan_values = self._secrets_on or pii != "keep"
        self._min_len = _MIN_EMAIL_LEN if pii != "keep" else _MIN_SECRET_LEN
        self._key_cache: dict[str, str] = {}
        # Attribute values repeat (model names, statuses, agent names): remember the verdict.
        self._innocent: dict[str, bool] = {}
        self._hash_cache: dict[str, str] = {}
        # span/event name -> (what it becomes, whether a rule changed it): names repeat
        self._names: dict[str, tuple[str, bool]] = {}
        self._warned: set[str] = set()
        self._errors = 0
        self._resources: dict[int, tuple[Resource, Resource]] = {}
        self._scopes: dict[int, tuple[InstrumentationScope, InstrumentationScope]] = {}
        self._clean_resource: Resource | None = None  # the last resource found valid
        self._clean_scope: InstrumentationScope | None = None

    @property
    def internal_errors(self) -> int:
        """How many attributes or spans failed closed because scrubbing itself failed."""
        return self._errors

    # --- public entry points -------------------------------------------------------------------
    def scrub_spans(self, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        """Scrubbed spans, in order; unchanged spans are the very objects passed in.

        This runs even with secrets and PII switched off: it is also where every string is
        made valid UTF-8, once, on the export thread.
        """
        out: list[ReadableSpan] = []
        same = True
        for span in spans:
            try:
                new = self._scrub_span(span)
            except Exception:
                self._fail("span", "vaquero: could not scrub a span; it was not exported.")
                same = False
                continue
            same = same and new is span
            out.append(new)
        return spans if same and type(spans) is list else out

    def scrub_attributes(
        self, attributes: Mapping[str, AnyValue]
    ) -> tuple[dict[str, AnyValue], list[str]]:
        """A scrubbed copy of ``attributes`` and the sorted keys that changed."""
        found: list[str] = []
        new = self._scrub_mapping(attributes, "", found, 0)
        return dict(attributes if new is None else new), sorted(set(found) - {_REPAIRED})

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
        name = self._scrub_name("name", span.name, found)
        resource: Resource | None = span.resource
        scope = span.instrumentation_scope
        if resource is not self._clean_resource:  # one process: almost always the same one
            resource = self._valid_resource(resource, found)
        if scope is not self._clean_scope:
            scope = self._valid_scope(scope, found)
        if not found:
            return span
        merged = dict(attrs if new_attrs is None else new_attrs)
        keys = set(found)
        keys.discard(_REPAIRED)
        previous = merged.get(SCRUBBED_KEYS_ATTRIBUTE)
        if isinstance(previous, (tuple, list)):
            keys.update(str(k) for k in previous)
        if keys:
            merged[SCRUBBED_KEYS_ATTRIBUTE] = tuple(sorted(keys))
        return ReadableSpan(
            name=name,
            context=span.context,
            parent=span.parent,
            resource=resource,
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
            instrumentation_scope=scope,
        )

    def _valid_resource(self, resource: Resource | None, found: list[str]) -> Resource | None:
        """The resource with valid UTF-8 strings; checked once per resource object."""
        if resource is None:
            return None
        cached = self._resources.get(id(resource))
        if cached is None or cached[0] is not resource:
            attrs = dict(resource.attributes)
            fixed = self._valid_attributes(attrs)
            clean = resource if fixed is None else Resource(fixed, resource.schema_url)
            if len(self._resources) >= _KEY_CACHE_MAX:
                self._resources.clear()
            cached = self._resources[id(resource)] = (resource, clean)
        if cached[1] is not resource:
            found.append(_REPAIRED)
        else:
            self._clean_resource = resource
        return cached[1]

    def _valid_scope(
        self, scope: InstrumentationScope | None, found: list[str]
    ) -> InstrumentationScope | None:
        if scope is None:
            return None
        cached = self._scopes.get(id(scope))
        if cached is None or cached[0] is not scope:
            texts = (scope.name, scope.version or "", scope.schema_url or "")
            attrs = dict(scope.attributes or {})
            fixed = self._valid_attributes(attrs)
            clean = scope
            if fixed is not None or any(_SURROGATE.search(t) for t in texts):
                clean = InstrumentationScope(
                    repair_text(scope.name),
                    None if scope.version is None else repair_text(scope.version),
                    None if scope.schema_url is None else repair_text(scope.schema_url),
                    fixed if fixed is not None else scope.attributes,
                )
            if len(self._scopes) >= _KEY_CACHE_MAX:
                self._scopes.clear()
            cached = self._scopes[id(scope)] = (scope, clean)
        if cached[1] is not scope:
            found.append(_REPAIRED)
        else:
            self._clean_scope = scope
        return cached[1]

    @staticmethod
    def _valid_attributes(attrs: Mapping[str, AnyValue]) -> dict[str, AnyValue] | None:
        """A copy with every string key and value valid UTF-8, or None if all were."""

        def fix(value: AnyValue) -> AnyValue:
            if isinstance(value, str):
                return repair_text(value)
            if isinstance(value, (list, tuple)):
                return type(value)(fix(item) for item in value)
            return value

        if not any(_invalid_text(k) or _invalid_text(v) for k, v in attrs.items()):
            return None
        return {repair_text(k): fix(v) for k, v in attrs.items()}

    def _scrub_events(self, span: ReadableSpan, found: list[str]) -> BoundedList[Event] | None:
        events = span.events
        changed = False
        rebuilt: list[Event] = []
        for event in events:
            new = None
            name = self._scrub_name(f"events[{len(rebuilt)}].name", event.name, found)
            if event.attributes:
                attrs = plain_attributes(event.attributes) or event.attributes
                new = self._scrub_mapping(attrs, f"events[{name}].", found, 0)
            if new is None and name is event.name:
                rebuilt.append(event)
                continue
            changed = True
            dropped = getattr(event, "dropped_attributes", 0)
            kept = event.attributes if new is None else frozen_attributes(new, dropped)
            rebuilt.append(Event(name, kept, event.timestamp))
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
        innocent = self._innocent
        bad_keys: list[str] | None = None
        for key, value in attrs.items():
            rule = cache.get(key)
            if rule is None:
                rule = self._key_rule(key)
            if rule is _ALLOW:
                continue
            if rule is _BAD_KEY:
                bad_keys = [key] if bad_keys is None else [*bad_keys, key]
                continue
            if not rule:
                kind = type(value)
                if kind is str:
                    text: str = value  # type: ignore[assignment]
                    if innocent.get(text) or self._is_innocent(text):
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
        if bad_keys is not None:
            out = dict(attrs) if out is None else out
            for key in bad_keys:
                value = out.pop(key)
                found.append(_REPAIRED)
                fixed = self._scrub_mapping({repair_text(key): value}, prefix, found, depth)
                out.update(fixed if fixed is not None else {repair_text(key): value})
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
        elif not key.isascii() and _SURROGATE.search(key) is not None:
            rule = _BAD_KEY
        else:
            m = _key_regex().search(normalize_key(key))
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

    def _scrub_name(self, where: str, name: str, found: list[str]) -> str:
        """A span or event name through the value rules (and made valid UTF-8), the verdict
        cached per name: the same object back when nothing changed."""
        known = self._names.get(name)
        if known is None:
            scratch: list[str] = []
            new = self._scrub_str(where, name, scratch)
            text = MARKER if isinstance(new, _Drop) else new
            known = (text, any(place != _REPAIRED for place in scratch))
            if text is not name and not known[1]:
                found.append(_REPAIRED)
            if len(self._names) >= _KEY_CACHE_MAX:
                self._names.clear()
            self._names[name] = known
        elif known[0] is not name and not known[1]:
            found.append(_REPAIRED)
        if known[1]:
            found.append(where)
        return known[0]

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

    def _scrub_str(
        self, where: str, text: str, found: list[str], depth: int = 0
    ) -> str | _Drop:
        """Replace the secret parts of ``text``; the same object back when it is clean.

        Whatever happens, the result is valid UTF-8: lone surrogates (``os.fsdecode`` makes
        them from undecodable file names) become U+FFFD, because the OTLP encoders reject
        them and would drop the whole batch.
        """
        new: str | _Drop = text
        if (
            self._scan_values
            and len(text) >= self._min_len
            and self._suspicious(text)
        ):
            new = self._scrub_secret_text(where, text, found, depth)
        if isinstance(new, str) and not new.isascii() and _SURROGATE.search(new) is not None:
            found.append(_REPAIRED)
            new = repair_text(new)
        return new

    def _scrub_secret_text(
        self, where: str, text: str, found: list[str], depth: int
    ) -> str | _Drop:
        if (
            self._secrets_on
            and depth < _MAX_DEPTH
            and text[:1] in _JSON_START
            and self._kv_candidate(text)
        ):
            structured = self._scrub_json_text(where, text, found, depth)
            if structured is not None:
                return structured
        pattern = _value_regex(self._secrets_on, self._pii != "keep")
        assert pattern is not None  # _scan_values: some rule is on
        if pattern.search(text) is None:
            return text
        if self._pii == "drop" and _EMAIL_FULL.fullmatch(text):
            found.append(where)
            return _DROP
        new = self._substitute(where, text, pattern)
        if new == text:
            return text  # e.g. digits that failed the Luhn check, look-alike keys
        found.append(where)
        return new

    def _is_innocent(self, text: str) -> bool:
        """Whether a string value under a scanned key needs nothing done: too short or free
        of every trigger, and valid UTF-8. Remembered for short strings (bounded, cleared
        when full): attribute values repeat across spans, the scan would run for each."""
        verdict = (len(text) < self._min_len or not self._suspicious(text)) and (
            text.isascii() or _SURROGATE.search(text) is None
        )
        if verdict and len(text) <= _INNOCENT_MAX_LEN:
            if len(self._innocent) >= _KEY_CACHE_MAX:
                self._innocent.clear()
            self._innocent[text] = True
        return verdict

    def _substitute(self, where: str, text: str, pattern: re.Pattern[str]) -> str:
        """``pattern.sub`` by hand, so a key/value match whose key is harmless gives its
        value back to the search (``note=Bearer abc...`` still finds the bearer)."""
        parts: list[str] = []
        done = 0
        pos = 0
        while True:
            m = pattern.search(text, pos)
            if m is None:
                break
            if m.lastgroup == "kv" and not self._kv_secret(m.group("kv_key")):
                pos = m.end("kv_key")  # search on from the key's end: the value may hide one
                continue
            parts.append(text[done : m.start()])
            parts.append(self._on_value_match(where, m))
            done = pos = m.end()
            if pos == m.start():  # never loop on an empty match
                pos += 1
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)

    def _kv_secret(self, key: str) -> bool:
        rule = self._key_cache.get(key)
        if rule is None:
            rule = self._key_rule(key)
        return bool(rule) and rule is not _ALLOW and rule != _EMAIL_RULE

    def _kv_candidate(self, text: str) -> bool:
        """Whether some ``key=``/``key:`` in ``text`` could have a secret key (see _KV_STEMS)."""
        if self._extra is not None:
            return "=" in text or ":" in text
        seen = 0
        for sep in "=:":
            index = text.find(sep)
            while index != -1:
                if sep == ":" and text.startswith("//", index + 1):  # a URL's scheme
                    index = text.find(sep, index + 1)
                    continue
                seen += 1
                if seen > _KV_MAX_SEPARATORS:
                    return _KV_STEMS.search(text.lower()) is not None
                window = text[max(0, index - _KV_WINDOW) : index].lower()
                if _KV_STEMS.search(window) is not None:
                    return True
                index = text.find(sep, index + 1)
        return False

    def _scrub_json_text(
        self, where: str, text: str, found: list[str], depth: int
    ) -> str | None:
        """JSON text (vaquero's own conversion of dicts, dataclasses, captured arguments, or
        the user's) scrubbed as structure: key rules reach nested keys. None: not JSON."""
        try:
            tree = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(tree, (dict, list)):
            return None
        before = len(found)
        new = self._scrub_tree(where, tree, found, depth + 1)
        if len(found) == before:
            return text
        if isinstance(new, _Drop):
            return MARKER
        return json.dumps(new, ensure_ascii=False, separators=(",", ":"))

    def _scrub_tree(self, where: str, node: object, found: list[str], depth: int) -> object:
        """A scrubbed copy of a parsed JSON node (the node itself when nothing changed)."""
        if isinstance(node, str):
            return self._scrub_str(where, node, found, depth)
        if depth >= _JSON_MAX_DEPTH and isinstance(node, (dict, list)):
            found.append(where)
            return MARKER
        if isinstance(node, dict):
            out: dict[str, object] | None = None
            for key, value in node.items():
                rule = self._key_cache.get(key)
                if rule is None:
                    rule = self._key_rule(key)
                if rule is _ALLOW:
                    continue
                place = f"{where}.{key}"
                new: object
                if rule:
                    new = self._scrub_item(rule, place, value, found, depth)
                else:
                    new = self._scrub_tree(place, value, found, depth + 1)
                if new is value:
                    continue
                if out is None:
                    out = dict(node)
                if isinstance(new, _Drop):
                    del out[key]
                else:
                    out[key] = new
            return node if out is None else out
        if isinstance(node, list):
            if _is_pair_list(node):
                return self._scrub_pair_list(where, node, found, depth)
            items: list[object] | None = None
            for index, item in enumerate(node):
                new_item = self._scrub_tree(where, item, found, depth + 1)
                if new_item is item:
                    continue
                if items is None:
                    items = list(node)
                items[index] = MARKER if isinstance(new_item, _Drop) else new_item
            return node if items is None else items
        return node

    def _scrub_pair_list(
        self, where: str, node: list[list[object]], found: list[str], depth: int
    ) -> object:
        """``[[name, value], ...]`` (ASGI/WSGI headers): each value under its name's rule."""
        out: list[object] | None = None
        for index, (name, value) in enumerate(node):
            assert isinstance(name, str)
            rule = self._key_cache.get(name)
            if rule is None:
                rule = self._key_rule(name)
            if rule is _ALLOW:
                continue
            place = f"{where}.{name}"
            new: object
            if rule:
                new = self._scrub_item(rule, place, value, found, depth)  # type: ignore[arg-type]
            else:
                new = self._scrub_tree(place, value, found, depth + 1)
            if new is value:
                continue
            if out is None:
                out = list(node)
            out[index] = [name, MARKER if isinstance(new, _Drop) else new]
        return node if out is None else out

    def _suspicious(self, text: str) -> bool:
        """Whether ``text`` could hold anything the value rules match (see _SECRET_TRIGGER)."""
        if self._pii != "keep" and "@" in text:
            return True
        if not self._secrets_on:
            return False
        if _SECRET_TRIGGER.search(text) is not None or ("@" in text and "://" in text):
            return True
        if ("=" in text or ":" in text) and self._kv_candidate(text):
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
        inner = {"bearer": "scheme_cred", "url_password": "url_pw", "kv": "kv_val"}.get(rule, "")
        start, end = m.span(inner) if inner else m.span()
        secret = m.string[start:end]
        quote = secret[:1] if rule == "kv" and secret[:1] in "\"'" else ""
        if quote:  # keep the quotes: JSON and reprs stay well-formed
            start, end, secret = start + 1, end - 1, secret[1:-1]
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


def repair_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD, so it encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def _invalid_text(value: object) -> bool:
    """Whether ``value`` (a string or a sequence of values) holds a lone surrogate."""
    if isinstance(value, str):
        return not value.isascii() and _SURROGATE.search(value) is not None
    if isinstance(value, (list, tuple)):
        return any(_invalid_text(item) for item in value)
    return False


def _is_pair_list(node: list[object]) -> bool:
    """``[[str, value], ...]``: how headers look once an ASGI scope is converted."""
    return bool(node) and all(
        isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) for pair in node
    )

