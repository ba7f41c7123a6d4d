"""The base class ``opentelemetry-instrument`` expects of a configurator entry point.

Part of :mod:`vaquero._otel_compat` (read its docstring first): private OpenTelemetry
details, each checked before use, each with its public fallback.
"""

from __future__ import annotations

from typing import Any


def base_configurator() -> type:
    """The SDK's ``_BaseConfigurator``, or a one-method stand-in if that module moved."""
    try:
        from opentelemetry.sdk._configuration import _BaseConfigurator
    except ImportError:  # the private module moved: the protocol is one method

        class _PublicConfigurator:
            def configure(self, **kwargs: Any) -> None:
                self._configure(**kwargs)

            def _configure(self, **kwargs: Any) -> None:  # pragma: no cover - overridden
                raise NotImplementedError

        return _PublicConfigurator
    return _BaseConfigurator
