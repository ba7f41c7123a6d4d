"""Scrubbing values: attribute mappings, strings, JSON text; replacement, PII and failure.

:class:`ValueScrubber` applies the rules of :mod:`vaquero._pipeline.scrub_rules` to one value
at a time; :class:`vaquero._pipeline.scrub.Scrubber` builds on it to walk whole spans.

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
"""

from __future__ import annotations

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
from typing import Final, Literal

from opentelemetry.util.types import AnyValue

from vaquero._pipeline.scrub_rules import (
    _DIGITS,
    _EMAIL_FULL,
    _EMAIL_RULE,
    _HASHED,
    _INNOCENT_MAX_LEN,
    _JSON_MAX_DEPTH,
    _JSON_START,
    _KEY_CACHE_MAX,
    _KV_MAX_SEPARATORS,
    _KV_STEMS,
    _KV_WINDOW,
    _MAX_DEPTH,
    _MIN_CARD_DIGITS,
    _MIN_EMAIL_LEN,
    _MIN_SECRET_LEN,
    _SECRET_TRIGGER,
    _compile_extra,
    _key_regex,
    _value_regex,
    luhn_ok,
    normalize_key,
)
from vaquero._pipeline.scrub_utf8 import _REPAIRED, _SURROGATE, repair_text
from vaquero._semconv import SCRUBBED_KEYS
from vaquero._state import STATE

__all__ = ["MARKER", "SCRUBBED_KEYS_ATTRIBUTE", "PiiMode", "ScrubCallback", "ScrubMatch",
           "ValueScrubber"]

logger = logging.getLogger("vaquero")

MARKER: Final = "[REDACTED]"
SCRUBBED_KEYS_ATTRIBUTE: Final = SCRUBBED_KEYS
PiiMode = Literal["keep", "hash", "drop"]

_ALLOW: Final = "<allow>"  # key verdict: never touch (identity-compared)
_BAD_KEY: Final = "<invalid utf-8>"  # key verdict: the key itself must be repaired


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


class ValueScrubber:
    """Secrets (and, on request, e-mail addresses) out of attribute values; see the module
    docstring. Keeps the per-key and per-value caches, the failure count and the warnings."""

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
        self._warned: set[str] = set()
        self._errors = 0

    @property
    def internal_errors(self) -> int:
        """How many attributes or spans failed closed because scrubbing itself failed."""
        return self._errors

    # --- public entry point ------------------------------------------------------------------
    def scrub_attributes(
        self, attributes: Mapping[str, AnyValue]
    ) -> tuple[dict[str, AnyValue], list[str]]:
        """A scrubbed copy of ``attributes`` and the sorted keys that changed."""
        found: list[str] = []
        new = self._scrub_mapping(attributes, "", found, 0)
        return dict(attributes if new is None else new), sorted(set(found) - {_REPAIRED})

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


def _is_pair_list(node: list[object]) -> bool:
    """``[[str, value], ...]``: how headers look once an ASGI scope is converted."""
    return bool(node) and all(
        isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) for pair in node
    )
