"""Every string a span carries made valid UTF-8, once, on the export side.

The same pass as scrubbing makes every string valid UTF-8, also with scrubbing switched off (it
is the one export-side look at every string): a lone surrogate (``os.fsdecode`` of a non-UTF-8
file name) in a span or event name, an attribute key or value, the status, the resource or the
scope becomes U+FFFD. The OTLP encoders raise on one and drop the *whole batch*. Keys and the
resource/scope are checked once (cached); values cost one ``isascii()``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.util.types import AnyValue

from vaquero._pipeline.scrub_rules import _KEY_CACHE_MAX

__all__ = ["Utf8Guard", "repair_text"]

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_REPAIRED: Final = "\x00utf8"  # entry in ``found``: a string was repaired (not a secret)


class Utf8Guard:
    """The resource and scope of a span with valid UTF-8 strings, remembered per object:
    one process has one resource and a handful of scopes."""

    def __init__(self) -> None:
        self._resources: dict[int, tuple[Resource, Resource]] = {}
        self._scopes: dict[int, tuple[InstrumentationScope, InstrumentationScope]] = {}
        self.clean_resource: Resource | None = None  # the last resource found valid
        self.clean_scope: InstrumentationScope | None = None

    def valid_resource(self, resource: Resource | None, found: list[str]) -> Resource | None:
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
            self.clean_resource = resource
        return cached[1]

    def valid_scope(
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
            self.clean_scope = scope
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
