"""The scrubber's rules: which keys are secret, which text is, and the limits of the search.

Pure data and pure functions, no state: :mod:`vaquero._pipeline.scrub_values` applies them to
values, :mod:`vaquero._pipeline.scrub` to whole spans. ``tests/data/secret_keys.json`` is the
one table of keys both these rules and the Collector's ``attributes/redact-secrets`` pattern
answer to.

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
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Final

__all__ = ["luhn_ok", "normalize_key"]

_EMAIL_RULE: Final = "email"
_KEY_CACHE_MAX: Final = 4096
_INNOCENT_MAX_LEN: Final = 128  # longer values are rarely repeated: not remembered
_MAX_DEPTH: Final = 8  # nested AnyValue mappings/sequences deeper than this fail closed
# Parsed JSON text is walked as deep as vaquero's converter nests (64) and a little more;
# only deeper than that does a subtree fail closed.
_JSON_MAX_DEPTH: Final = 72

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
