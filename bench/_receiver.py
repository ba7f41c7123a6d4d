"""A counting OTLP/trace receiver (gRPC + HTTP) that runs in its own process.

``tests/otlp_receiver.py`` keeps every span as a flattened record so tests can assert on
it; at benchmark rates that bookkeeping costs more than the exporter being measured, and in
the same process it would also compete with the exporter for the GIL. This receiver only
parses each request with the proto's own types and counts spans, in a separate process, so
the throughput numbers describe the sending side.

Protocol on stdio: it prints ``READY grpc=<port> http=<port>``; each line ``count`` read from
stdin is answered with the number of spans received so far; EOF stops it.
"""

from __future__ import annotations

import http.server
import sys
import threading
from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import (
    TraceServiceServicer,
    add_TraceServiceServicer_to_server,
)

_lock = threading.Lock()
_count = 0


def _add(request: ExportTraceServiceRequest) -> None:
    global _count
    spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    with _lock:
        _count += spans


class _Service(TraceServiceServicer):
    def Export(
        self, request: ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> ExportTraceServiceResponse:
        _add(request)
        return ExportTraceServiceResponse()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the exporter's session expects

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        _add(request)
        payload = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def main() -> int:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    add_TraceServiceServicer_to_server(_Service(), server)  # type: ignore[no-untyped-call]
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(f"READY grpc={grpc_port} http={httpd.server_address[1]}", flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            with _lock:
                print(_count, flush=True)
    server.stop(grace=None)
    httpd.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
