"""The module-level functions of the public API that are not spans or decorators."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from vaquero._pipeline import install as _setup


def init(
    service_name: str | None = None,
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | str | None = None,
    exporters: Sequence[str] | str | None = None,
    sample_rate: float | None = None,
    resource_attributes: Mapping[str, str] | str | None = None,
    console: bool | None = None,
    traces_file: str | os.PathLike[str] | None = None,
    agent_name: str | None = None,
    **options: Any,
) -> None:
    """Configure tracing once; every argument falls back to its standard environment variable.

    Calling it again with the same settings does nothing; with different settings it warns
    and names the settings in force (a provider cannot be swapped under live spans). A bad
    argument raises :class:`vaquero.ConfigError` naming it; a bad environment value only
    warns, so an operator's typo never takes the application down.
    Further options: ``timeout``, ``compression``, ``insecure``, ``certificate``,
    ``client_key``, ``client_certificate``, ``shutdown_timeout``, ``max_queue_size``,
    ``max_export_batch_size``, ``schedule_delay_ms``, ``attribute_value_length``,
    ``scrub``, ``scrub_patterns``, ``scrub_allow``, ``scrub_callback``, ``pii``, ``disabled``.
    """
    _setup.init(
        service_name=service_name,
        endpoint=endpoint,
        protocol=protocol,
        headers=headers,
        exporters=exporters,
        sample_rate=sample_rate,
        resource_attributes=resource_attributes,
        console=console,
        traces_file=traces_file,
        agent_name=agent_name,
        **options,
    )


def flush(timeout: float = 5.0) -> bool:
    """Export everything recorded so far; True only if all of it was delivered in ``timeout``."""
    try:
        return _setup.flush(timeout)
    except Exception:
        return False


def shutdown(timeout: float | None = None) -> None:
    """Flush and stop exporting, within ``timeout`` seconds (default: the shutdown budget)."""
    try:
        _setup.shutdown(timeout)
    except Exception:
        pass
