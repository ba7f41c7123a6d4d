"""Seams of the stock OTLP exporters: pre-encoded requests, their loggers, their status.

Part of :mod:`vaquero._otel_compat` (read its docstring first): private OpenTelemetry
details, each checked before use, each with its public fallback.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Any

# Set by vaquero._otel_compat.use_public_fallbacks() (tests): every detail off.
_public_only = False


def _code_names(func: object) -> tuple[str, ...]:
    code = getattr(func, "__code__", None)
    return tuple(code.co_names) if code is not None else ()


def preencoded_grpc_exporter(
    payload_of: Callable[[Sequence[Any]], bytes], stub: type
) -> type | None:
    """The stock gRPC span exporter sending ``payload_of(batch)`` through ``stub``; or None.

    ``OTLPExporterMixin`` creates its client as ``self._stub(self._channel)`` in
    ``_initialize_channel_and_stub`` (at start and on every reconnect) and sends
    ``self._client.Export(request=self._translate_data(data), ...)``; the subclass swaps in a
    stub without a request serializer and translates a batch to its bytes. Checked on the
    installed code (present from 1.40.0 to 1.45.1 at least).
    """
    if _public_only:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.grpc import exporter as mixin_module
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    except ImportError:
        return None
    mixin = getattr(mixin_module, "OTLPExporterMixin", None)
    init_stub = getattr(mixin, "_initialize_channel_and_stub", None)
    if "_translate_data" not in _code_names(getattr(mixin, "_export", None)):
        return None
    if not {"_stub", "_client", "_channel"} <= set(_code_names(init_stub)):
        return None
    if "_translate_data" not in vars(OTLPSpanExporter):
        return None

    class PreEncodedGrpcSpanExporter(OTLPSpanExporter):
        """gRPC OTLP span exporter whose requests are already-encoded bytes."""

        accepts_encoded = True

        def _initialize_channel_and_stub(self) -> None:
            self._stub = stub
            super()._initialize_channel_and_stub()  # type: ignore[no-untyped-call]

        def _translate_data(self, data: Sequence[Any]) -> Any:
            return payload_of(data)

    return PreEncodedGrpcSpanExporter


def preencoded_http_exporter(encode_spans: Callable[[Sequence[Any]], Any]) -> type | None:
    """The stock HTTP span exporter with its ``encode_spans`` call bound to ``encode_spans``.

    ``OTLPSpanExporter.export`` calls the module-level ``encode_spans(spans)`` and then
    ``.SerializePartialToString()`` (1.40.0 to 1.45.1). The subclass's ``export`` is the
    stock function's own code object with that one global rebound; the stock module and
    every other exporter instance are untouched. None when the code no longer fits.
    """
    if _public_only:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        return None
    export = vars(OTLPSpanExporter).get("export")
    if not isinstance(export, types.FunctionType):
        return None
    code = export.__code__
    if "encode_spans" not in code.co_names or code.co_freevars:
        return None
    if "encode_spans" not in export.__globals__:
        return None
    rebound = types.FunctionType(
        code,
        {**export.__globals__, "encode_spans": encode_spans},
        export.__name__,
        export.__defaults__,
        export.__closure__,
    )
    rebound.__kwdefaults__ = export.__kwdefaults__
    rebound.__qualname__ = export.__qualname__
    rebound.__doc__ = export.__doc__

    class PreEncodedHttpSpanExporter(OTLPSpanExporter):
        """HTTP OTLP span exporter whose requests are already-encoded bytes."""

        accepts_encoded = True

    setattr(PreEncodedHttpSpanExporter, "export", rebound)  # noqa: B010 - a method, rebound
    return PreEncodedHttpSpanExporter


# Loggers of the OTLP exporters whose per-retry lines vaquero replaces with one warning;
# ``_common`` is a private module of the HTTP exporter (absent loggers cost nothing).
OTLP_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
)


def grpc_status_in_log_record(record: Any) -> str | None:
    """The gRPC status name a stock OTLP gRPC exporter's log record carries, or None.

    The exporter keeps a failed attempt's status to itself and only logs it, as an argument
    of its retry and failure lines (not a documented format). Without it (another layout),
    vaquero reports the record's own words instead of a classified status.
    """
    args = getattr(record, "args", None)
    if not isinstance(args, tuple):
        return None
    for arg in args:
        if type(arg).__name__ == "StatusCode" and isinstance(getattr(arg, "name", None), str):
            return str(arg.name)
    return None
