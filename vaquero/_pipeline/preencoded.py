"""The stock OTLP exporters, sending requests that vaquero's encoder already wrote.

Retry, backoff, compression, TLS, headers, timeouts and the exporters' own metrics stay
the stock exporters' (``opentelemetry-exporter-otlp-proto-grpc`` / ``-http``); only the
step that turns spans into request bytes changes. The batch handed to ``export`` is an
:class:`EncodedBatch`: the spans themselves (so everything that counts or inspects them
still works) plus ``payload``, the request bytes. A plain sequence of spans still works
and is encoded by :mod:`vaquero._pipeline.encoder` on the spot.

Each seam relies on a detail of the exporters' internals, kept and checked in
:mod:`vaquero._otel_compat` (verified in 1.40.0 to 1.45.1); when a check fails,
:func:`encoder_seam_available` says so and the stock exporter and encoder are used
unchanged:

* gRPC: ``OTLPExporterMixin`` builds its client with ``self._stub(self._channel)`` in
  ``_initialize_channel_and_stub`` (also on reconnect) and sends
  ``self._client.Export(request=self._translate_data(data), ...)``. The subclass installs a
  ``TraceService`` stub whose request serializer is ``None`` (gRPC's documented "request
  goes unserialized"), and ``_translate_data`` returns the bytes.
* HTTP: ``OTLPSpanExporter.export`` calls the module-level ``encode_spans(spans)`` and
  then ``.SerializePartialToString()``. The subclass's ``export`` is the stock function's
  own code with ``encode_spans`` bound to a shim that hands back the payload; nothing in
  the stock module, nor any other exporter instance, is changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from vaquero._otel_compat import preencoded_grpc_exporter, preencoded_http_exporter
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


def grpc_exporter_class() -> type | None:
    """The stock gRPC span exporter, sending pre-encoded bytes; None when the seam is gone."""
    return preencoded_grpc_exporter(payload_of, _BytesTraceServiceStub)


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


def http_exporter_class() -> type | None:
    """The stock HTTP span exporter, sending pre-encoded bytes; None when the seam is gone."""
    return preencoded_http_exporter(_encode_spans_shim)


def encoder_seam_available(protocol: str) -> bool:
    """Whether the installed exporter for ``protocol`` can send vaquero-encoded requests."""
    if protocol == "grpc":
        return grpc_exporter_class() is not None
    return http_exporter_class() is not None
