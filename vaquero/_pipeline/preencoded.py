"""The stock OTLP exporters, sending requests that vaquero's encoder already wrote.

Retry, backoff, compression, TLS, headers, timeouts and the exporters' own metrics stay
the stock exporters' (``opentelemetry-exporter-otlp-proto-grpc`` / ``-http``); only the
step that turns spans into request bytes changes. The batch handed to ``export`` is an
:class:`EncodedBatch`: the spans themselves (so everything that counts or inspects them
still works) plus ``payload``, the request bytes. A plain sequence of spans still works
and is encoded by :mod:`vaquero._pipeline.encoder` on the spot.

Each seam relies on a detail of the exporters' internals, checked by
:func:`encoder_seam_available` (verified in 1.40.0 to 1.45.1); when a check fails the
stock exporter and stock encoder are used unchanged:

* gRPC: ``OTLPExporterMixin`` builds its client with ``self._stub(self._channel)`` in
  ``_initialize_channel_and_stub`` (also on reconnect) and sends
  ``self._client.Export(request=self._translate_data(data), ...)``. The subclass installs a
  ``TraceService`` stub whose request serializer is ``None`` (gRPC's documented "request
  goes unserialized"), and ``_translate_data`` returns the bytes.
* HTTP: ``OTLPSpanExporter.export`` calls the module-level ``encode_spans(spans)`` and
  then ``.SerializePartialToString()``. The subclass's ``export`` is the stock function's
  own code with ``encode_spans`` bound to a shim that hands back the payload; nothing in
  the stock module, nor any other exporter instance, is changed.

These are the private OpenTelemetry details of the encoder path; they belong with the
others in the compat module.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from vaquero._pipeline.encoder import encode_request

_EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


class EncodedBatch(list):  # type: ignore[type-arg]
    """Spans of one request, with the request already encoded as ``payload``."""

    __slots__ = ("payload",)

    def __init__(self, spans: Sequence[ReadableSpan], payload: bytes) -> None:
        super().__init__(spans)
        self.payload = payload


def payload_of(spans: Sequence[ReadableSpan]) -> bytes:
    """The request bytes for ``spans``: the pre-encoded payload, or encode them now."""
    payload = getattr(spans, "payload", None)
    if type(payload) is bytes:
        return payload
    return encode_request(spans)


# --- gRPC --------------------------------------------------------------------------------------
def _grpc_seam() -> type | None:
    try:
        from opentelemetry.exporter.otlp.proto.grpc import exporter as mixin_module
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    except ImportError:
        return None
    mixin = getattr(mixin_module, "OTLPExporterMixin", None)
    init_stub = getattr(mixin, "_initialize_channel_and_stub", None)
    export = getattr(mixin, "_export", None)
    if init_stub is None or export is None or "_translate_data" not in _names(export):
        return None
    if "_stub" not in _names(init_stub) or "_client" not in _names(init_stub):
        return None
    if "_translate_data" not in vars(OTLPSpanExporter):
        return None
    return OTLPSpanExporter


def _names(func: Callable[..., Any]) -> tuple[str, ...]:
    code = getattr(func, "__code__", None)
    return tuple(code.co_names) if code is not None else ()


class _BytesTraceServiceStub:
    """``TraceServiceStub`` whose Export takes request bytes (no request serializer)."""

    def __init__(self, channel: Any) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse,
        )

        try:
            self.Export = channel.unary_unary(
                _EXPORT_METHOD,
                request_serializer=None,
                response_deserializer=ExportTraceServiceResponse.FromString,
                _registered_method=True,
            )
        except TypeError:  # a gRPC without registered methods
            self.Export = channel.unary_unary(
                _EXPORT_METHOD,
                request_serializer=None,
                response_deserializer=ExportTraceServiceResponse.FromString,
            )


_grpc_class: type | None = None


def grpc_exporter_class() -> type | None:
    """The stock gRPC span exporter, sending pre-encoded bytes; None when the seam is gone."""
    global _grpc_class
    if _grpc_class is not None:
        return _grpc_class
    base = _grpc_seam()
    if base is None:
        return None

    class PreEncodedGrpcSpanExporter(base):  # type: ignore[valid-type,misc]
        """gRPC OTLP span exporter whose requests are vaquero-encoded bytes."""

        accepts_encoded = True

        def _initialize_channel_and_stub(self) -> None:
            self._stub = _BytesTraceServiceStub
            super()._initialize_channel_and_stub()

        def _translate_data(self, data: Sequence[ReadableSpan]) -> bytes:
            return payload_of(data)

    _grpc_class = PreEncodedGrpcSpanExporter
    return _grpc_class


# --- HTTP --------------------------------------------------------------------------------------
class _Serialized:
    """Stands where the stock HTTP exporter expects the request message."""

    __slots__ = ("_payload",)

    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def SerializePartialToString(self) -> bytes:  # the protobuf method name
        return self._payload

    SerializeToString = SerializePartialToString

    def ByteSize(self) -> int:
        return len(self._payload)


def _encode_spans_shim(spans: Sequence[ReadableSpan]) -> _Serialized:
    return _Serialized(payload_of(spans))


def _http_seam() -> tuple[type, types.FunctionType] | None:
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
    patched = types.FunctionType(
        code,
        {**export.__globals__, "encode_spans": _encode_spans_shim},
        export.__name__,
        export.__defaults__,
        export.__closure__,
    )
    patched.__kwdefaults__ = export.__kwdefaults__
    patched.__qualname__ = export.__qualname__
    patched.__doc__ = export.__doc__
    return OTLPSpanExporter, patched


_http_class: type | None = None


def http_exporter_class() -> type | None:
    """The stock HTTP span exporter, sending pre-encoded bytes; None when the seam is gone."""
    global _http_class
    if _http_class is not None:
        return _http_class
    seam = _http_seam()
    if seam is None:
        return None
    base, export = seam

    class PreEncodedHttpSpanExporter(base):  # type: ignore[valid-type,misc]
        """HTTP OTLP span exporter whose requests are vaquero-encoded bytes."""

        accepts_encoded = True

    PreEncodedHttpSpanExporter.export = export
    _http_class = PreEncodedHttpSpanExporter
    return _http_class


def encoder_seam_available(protocol: str) -> bool:
    """Whether the installed exporter for ``protocol`` can send vaquero-encoded requests."""
    if protocol == "grpc":
        return grpc_exporter_class() is not None
    return http_exporter_class() is not None
