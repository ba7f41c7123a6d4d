"""One side of the CPU-per-delivered-span benchmark, alone in its own process.

    python bench/_cpu_side.py {vaquero|raw} {grpc|http/protobuf} <endpoint> <n>

Prints one JSON line: the process CPU time (``time.process_time``: every thread of the
process, the application's and the export thread's, gRPC's own threads included) spent to
produce ``n`` spans with 3 attributes each and deliver them, from the first span to a
flush that returned; and, for the breakdown, the producing thread's own share of it.
A warm-up batch is produced and flushed first, so imports, channel
setup and first-use caches are not counted. Delivery is checked by the caller against
the receiver's count: a run that lost spans is not a valid measurement.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _harness import produce  # noqa: E402 - bench/ is this script's own directory

WARMUP = 2_000


def _measure(
    start: Callable[[str], Any], flush: Callable[[float], bool], n: int
) -> tuple[float, float, bool]:
    """Warm up and flush, then the process's CPU (and the producing thread's) for ``n``
    spans through ``start`` and a flush that returned: the same steps for both sides."""
    produce(start, WARMUP)
    flush(60.0)
    begin, app = time.process_time(), time.thread_time()
    produce(start, n)
    app = time.thread_time() - app
    ok = flush(120.0)
    return time.process_time() - begin, app, ok


def vaquero_side(protocol: str, endpoint: str, n: int) -> tuple[float, float, bool]:
    import vaquero
    from vaquero._pipeline import install as _setup

    vaquero.init(
        "bench",
        exporters=["otlp"],
        protocol=protocol,
        endpoint=endpoint,
        max_queue_size=n + WARMUP,
    )
    return _measure(vaquero.span, _setup.flush, n)


def raw_side(protocol: str, endpoint: str, n: int) -> tuple[float, float, bool]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

    exporter: SpanExporter
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint.removeprefix("http://"), insecure=True)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        exporter = HttpExporter(endpoint=endpoint + "/v1/traces")
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=n + WARMUP))
    tracer = provider.get_tracer("bench.raw")
    return _measure(
        tracer.start_as_current_span, lambda seconds: provider.force_flush(int(seconds * 1000)), n
    )


def main(argv: list[str]) -> int:
    who, protocol, endpoint, n = argv[0], argv[1], argv[2], int(argv[3])
    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)
    measure = vaquero_side if who == "vaquero" else raw_side
    cpu, app, flushed = measure(protocol, endpoint, n)
    result = {"cpu_s": cpu, "app_thread_cpu_s": app, "flushed": flushed, "n": n, "warmup": WARMUP}
    print(json.dumps(result), flush=True)
    import os

    os._exit(0)  # teardown is not part of the cost per span


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
