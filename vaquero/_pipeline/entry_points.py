"""vaquero's exporters as the stock OpenTelemetry configurator builds them.

With ``opentelemetry-distro`` installed beside vaquero, ``opentelemetry-instrument`` may
run the SDK's own configurator instead of vaquero's (the loader takes whichever entry
point it finds first). That configurator looks exporters up by name in the
``opentelemetry_traces_exporter`` entry-point group and builds each with no arguments, so
``OTEL_TRACES_EXPORTER=vaquero_file`` (or ``vaquero_console``) resolves to these classes.
Each reads its settings from the environment, as the stock configurator does, and scrubs
every batch before it leaves, as vaquero's own pipeline does: scrubbing holds on every
exporter vaquero builds, whoever installs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from vaquero._config import load_settings
from vaquero._diagnostics import warn_once
from vaquero._pipeline.exporters import DEFAULT_TRACES_FILE
from vaquero._pipeline.install import build_scrubber

__all__ = ["ConsoleExporterFromEnvironment", "FileExporterFromEnvironment"]


class _ScrubbingExporter(SpanExporter):
    """Scrub each batch, then hand it to ``inner``; a failing scrub drops the batch."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner
        self._scrub = build_scrubber(load_settings())

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._scrub is not None:
            try:
                spans = self._scrub(spans)
            except Exception:
                warn_once(
                    f"entry-point-scrub:{type(self).__name__}",
                    "vaquero: scrubbing failed in %s; the batch was dropped, not sent unscrubbed.",
                    type(self).__name__,
                    exc_info=True,
                )
                return SpanExportResult.FAILURE
        return self._inner.export(spans)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self._inner.shutdown()


class FileExporterFromEnvironment(_ScrubbingExporter):
    """``OTEL_TRACES_EXPORTER=vaquero_file`` under the stock configurator: the JSON-lines
    file named by ``VAQUERO_TRACES_FILE`` (default ``vaquero-traces.jsonl``), scrubbed."""

    def __init__(self, **_stock_arguments: Any) -> None:
        from vaquero.exporters.jsonl import JsonLinesSpanExporter

        settings = load_settings()
        super().__init__(JsonLinesSpanExporter(settings.traces_file or DEFAULT_TRACES_FILE))


class ConsoleExporterFromEnvironment(_ScrubbingExporter):
    """``OTEL_TRACES_EXPORTER=vaquero_console`` under the stock configurator: the terminal
    tree on stderr, scrubbed."""

    def __init__(self, **_stock_arguments: Any) -> None:
        from vaquero.exporters.console import ConsoleTreeSpanExporter

        super().__init__(ConsoleTreeSpanExporter())
