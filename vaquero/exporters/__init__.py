"""Local span exporters: a terminal tree for people, an OTLP/JSON-lines file for tools.

Both run on the SDK's export thread and never raise out of ``export()``; the network
exporters (OTLP gRPC/HTTP) come from the OpenTelemetry packages themselves.
"""

from vaquero.exporters.console import ConsoleTreeSpanExporter
from vaquero.exporters.jsonl import JsonLinesSpanExporter
from vaquero.exporters.otlp_json import encode_spans_json

__all__ = ["ConsoleTreeSpanExporter", "JsonLinesSpanExporter", "encode_spans_json"]
