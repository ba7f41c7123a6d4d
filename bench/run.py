"""vaquero's performance claims, measured against hand-written OpenTelemetry in one run.

    python bench/run.py            # full run (a few minutes)
    python bench/run.py --quick    # smaller counts, for a smoke check
    python bench/run.py --profile  # also print a cProfile of vaquero's span hot path

Every ratio is vaquero / baseline measured in this process, interleaved (A B A B ...), as
the median of several rounds: absolute numbers move with the machine, the ratios should
not. Sections:

* app-thread cost: ``vaquero.span`` / ``@vaquero.trace`` / nested agent children against
  ``tracer.start_as_current_span`` on the *same* SDK provider (vaquero's own, built by
  ``build_provider``: agent-name processor + a batch queue in front of a discarding
  exporter), so both sides pay the same processors and only the API layer differs;
* disabled cost (``OTEL_SDK_DISABLED=true``, in a fresh subprocess): a span with one
  attribute against a bare function call;
* export throughput to a real OTLP receiver (another process) over gRPC and HTTP: vaquero
  with scrubbing against the SDK's ``BatchSpanProcessor`` with the same exporter and batch
  settings; dropped spans are always counted and printed;
* CPU per delivered span (``_cpu_side.py``): the whole process's CPU time, app and export
  threads, to produce and deliver spans with 3 attributes to the receiver, each side in
  its own process, nothing dropped;
* start-up (``startup``): ``import vaquero`` + first span against the raw SDK's imports,
  setup and first span, whole processes (CPU), byte-code cached as when installed;
* memory per queued span (tracemalloc, exporter blocked) and peak RSS for 1,000,000 spans
  with the collector down (subprocess, closed port);
* exit overhead with nothing listening (gRPC and HTTP), whole processes against the same
  program with ``OTEL_SDK_DISABLED=true``, see ``bench/bench_exit.py``;
* peers (logfire, traceloop-sdk, langfuse) when installed, see ``bench/peers.py``.

No timing assertion lives in the test suite; this script is where the numbers are.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import socket
import statistics
import subprocess
import sys
import textwrap
import time
import tracemalloc
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from _harness import (  # noqa: E402 - the path above makes the package importable
    BlockingExporter,
    Case,
    Comparison,
    DiscardingExporter,
    compare,
    format_table,
    interleave,
    produce,
    shutdown_provider,
)
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter  # noqa: E402

import vaquero  # noqa: E402
from vaquero._agent import AGENT_NAME, INVOKE_AGENT, OPERATION_NAME  # noqa: E402
from vaquero._config import Settings, load_settings  # noqa: E402
from vaquero._pipeline import install as _setup  # noqa: E402
from vaquero._pipeline.queue import ExportQueue  # noqa: E402

CHILDREN = 5


# --- pipelines -------------------------------------------------------------------------------
def vaquero_provider(exporter: SpanExporter, **overrides: Any) -> tuple[TracerProvider, Settings]:
    """vaquero's own provider (agent processor included), one ExportQueue -> ``exporter``."""
    _setup.reset_for_tests()
    settings = load_settings(
        {"exporters": ["none"], "service_name": "bench", **overrides}, environ={}
    )
    provider = _setup.build_provider(settings)  # installs vaquero's tracer for span()/trace()
    queue = ExportQueue(
        exporter,
        max_queue_size=settings.max_queue_size,
        max_export_batch_size=settings.max_export_batch_size,
        schedule_delay_s=settings.schedule_delay_ms / 1000.0,
    )
    provider.add_span_processor(queue)
    runtime = _setup.runtime()
    assert runtime is not None
    runtime.queues.append(queue)
    return provider, settings


# --- app-thread cost -------------------------------------------------------------------------
def span_cases(raw: trace.Tracer) -> tuple[Case, Case]:
    span, start = vaquero.span, raw.start_as_current_span
    return (
        Case("vaquero.span + 3 attrs", lambda n: produce(span, n)),
        Case("otel span + 3 attrs", lambda n: produce(start, n)),
    )


def _drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends, without an event loop's per-step cost."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("benchmark coroutine suspended")


def decorator_cases(raw: trace.Tracer) -> list[tuple[str, Case, Case]]:
    @vaquero.trace
    def v_sync(x: int) -> int:
        return x + 1

    @raw.start_as_current_span("o_sync")
    def o_sync(x: int) -> int:
        return x + 1

    @vaquero.trace
    async def v_async(x: int) -> int:
        return x + 1

    @raw.start_as_current_span("o_async")
    async def o_async(x: int) -> int:
        return x + 1

    @vaquero.trace
    class VService:
        def handle(self, x: int) -> int:
            return x + 1

    class OService:
        @raw.start_as_current_span("OService.handle")
        def handle(self, x: int) -> int:
            return x + 1

    def loop_of(func: Callable[[int], Any]) -> Callable[[int], None]:
        def run(n: int) -> None:
            for i in range(n):
                func(i)

        return run

    def async_loop_of(func: Callable[[int], Coroutine[Any, Any, int]]) -> Callable[[int], None]:
        def run(n: int) -> None:
            for i in range(n):
                _drive(func(i))

        return run

    return [
        ("@trace sync function", Case("v", loop_of(v_sync)), Case("o", loop_of(o_sync))),
        (
            "@trace async function",
            Case("v", async_loop_of(v_async)),
            Case("o", async_loop_of(o_async)),
        ),
        (
            "@trace class method",
            Case("v", loop_of(VService().handle)),
            Case("o", loop_of(OService().handle)),
        ),
    ]


def nested_cases(raw: trace.Tracer) -> tuple[Case, Case]:
    """An agent span with 5 children. The raw side writes the agent name on every child
    by hand, because that is what vaquero's propagation produces."""
    span = vaquero.span
    start = raw.start_as_current_span
    agent_attrs = {AGENT_NAME: "planner", OPERATION_NAME: INVOKE_AGENT}
    child_attrs = {AGENT_NAME: "planner"}

    def vaquero_loop(n: int) -> None:
        for _ in range(n):
            with span("planner", agent_name="planner"):
                for i in range(CHILDREN):
                    with span("step") as s:
                        s.set_attribute("step.index", i)

    def otel_loop(n: int) -> None:
        for _ in range(n):
            with start("planner", attributes=agent_attrs):
                for i in range(CHILDREN):
                    with start("step", attributes=child_attrs) as s:
                        s.set_attribute("step.index", i)

    return Case("v", vaquero_loop), Case("o", otel_loop)


def app_thread_section(n: int, rounds: int) -> list[Comparison]:
    provider, _ = vaquero_provider(DiscardingExporter())
    raw = provider.get_tracer("bench.raw")
    rows: list[Comparison] = []
    v, o = span_cases(raw)
    interleave([v, o], n, rounds)
    rows.append(compare("span + 3 set_attribute", v, o, 0.80))  # issue 14
    for label, v, o in decorator_cases(raw):
        interleave([v, o], n, rounds)
        rows.append(compare(label, v, o, 0.80))  # issue 14
    v, o = nested_cases(raw)
    interleave([v, o], max(1, n // (CHILDREN + 1)), rounds)
    rows.append(compare(f"agent span + {CHILDREN} children", v, o, 0.90))
    _setup.reset_for_tests()
    shutdown_provider(provider)
    return rows


def profile_span(n: int) -> None:
    """cProfile of the vaquero span loop, to find what still costs on the hot path."""
    import cProfile
    import pstats

    provider, _ = vaquero_provider(DiscardingExporter())
    v, _o = span_cases(provider.get_tracer("bench.raw"))
    nested, _o = nested_cases(provider.get_tracer("bench.raw"))
    profiler = cProfile.Profile()
    profiler.runcall(v.loop, n)
    profiler.runcall(nested.loop, n // 6)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(18)
    _setup.reset_for_tests()
    shutdown_provider(provider)


# --- disabled --------------------------------------------------------------------------------
DISABLED_SCRIPT = """
import json, sys
sys.path.insert(0, {bench!r}); sys.path.insert(0, {root!r})
from _harness import Case, interleave
import vaquero
span = vaquero.span

def bare(x):
    return x

def vaquero_loop(n):
    for i in range(n):
        with span("op") as s:
            s.set_attribute("k", i)

def bare_loop(n):
    for i in range(n):
        bare(i)

v, b = Case("v", vaquero_loop), Case("b", bare_loop)
interleave([v, b], {n}, {rounds})
print(json.dumps({{"vaquero": v.median_ns, "bare": b.median_ns,
                  "disabled": vaquero._pipeline.install.is_disabled()}}))
"""


def disabled_section(n: int, rounds: int) -> Comparison:
    code = DISABLED_SCRIPT.format(bench=str(BENCH), root=str(ROOT), n=n, rounds=rounds)
    env = _clean_env(OTEL_SDK_DISABLED="true")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["disabled"]:
        raise RuntimeError("OTEL_SDK_DISABLED=true did not disable vaquero in the subprocess")
    return Comparison(
        "disabled: span + 1 attr vs bare call", result["vaquero"], result["bare"], 8.0
    )


def _clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VAQUERO_"))}
    env.update(overrides)
    return env


# --- export throughput -----------------------------------------------------------------------
class Receiver:
    """The counting receiver in ``_receiver.py``, in its own process."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(BENCH / "_receiver.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_clean_env(),
        )
        assert self._proc.stdout is not None
        ready = self._proc.stdout.readline().split()
        if not ready or ready[0] != "READY":
            raise RuntimeError(f"receiver did not start: {ready}")
        ports = dict(item.split("=") for item in ready[1:])
        # (OTEL_EXPORTER_OTLP_PROTOCOL, endpoint) for each transport the receiver serves
        self.endpoints = [
            ("grpc", f"http://127.0.0.1:{ports['grpc']}"),
            ("http/protobuf", f"http://127.0.0.1:{ports['http']}"),
        ]

    def count(self) -> int:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("count\n")
        self._proc.stdin.flush()
        return int(self._proc.stdout.readline())

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait(10)


def _raw_otlp_exporter(protocol: str, endpoint: str) -> SpanExporter:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter(endpoint=endpoint.removeprefix("http://"), insecure=True)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter(endpoint=endpoint + "/v1/traces")


def _produce_vaquero(n: int) -> None:
    produce(vaquero.span, n)


def _produce_raw(tracer: trace.Tracer, n: int) -> None:
    produce(tracer.start_as_current_span, n)


def _throughput_vaquero(rx: Receiver, protocol: str, endpoint: str, n: int) -> dict[str, float]:
    _setup.reset_for_tests()
    settings = load_settings(
        {
            "exporters": ["otlp"],
            "protocol": protocol,
            "endpoint": endpoint,
            "service_name": "bench",
            "scrub": True,
            "max_queue_size": n,
        },
        environ={},
    )
    provider = _setup.build_provider(settings)
    runtime = _setup.runtime()
    assert runtime is not None and runtime.queues
    before = rx.count()
    start = time.perf_counter()
    _produce_vaquero(n)
    flushed = _setup.flush(60.0)
    elapsed = time.perf_counter() - start
    delivered = rx.count() - before
    drops = sum(q.drops.total for q in runtime.queues)
    _setup.shutdown(5.0)
    _setup.reset_for_tests()
    del provider
    return {
        "delivered": delivered,
        "dropped_reported": drops,
        "lost": n - delivered,
        "flushed": flushed,
        "rate": delivered / elapsed,
    }


def _throughput_raw(rx: Receiver, protocol: str, endpoint: str, n: int) -> dict[str, float]:
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    processor = BatchSpanProcessor(
        _raw_otlp_exporter(protocol, endpoint),
        max_queue_size=n,
        max_export_batch_size=512,
        schedule_delay_millis=1000,
    )
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench.raw")
    before = rx.count()
    start = time.perf_counter()
    _produce_raw(tracer, n)
    flushed = provider.force_flush(60_000)
    elapsed = time.perf_counter() - start
    delivered = rx.count() - before
    shutdown_provider(provider)
    return {
        "delivered": delivered,
        "dropped_reported": -1,  # the SDK's BatchSpanProcessor only logs drops
        "lost": n - delivered,
        "flushed": flushed,
        "rate": delivered / elapsed,
    }


def throughput_section(n: int, rounds: int) -> tuple[list[Comparison], list[str]]:
    rx = Receiver()
    rows: list[Comparison] = []
    notes: list[str] = []
    try:
        for protocol, endpoint in rx.endpoints:
            runs: dict[str, list[dict[str, float]]] = {"vaquero": [], "raw OTel": []}
            for index in range(rounds):
                order = ["vaquero", "raw OTel"] if index % 2 == 0 else ["raw OTel", "vaquero"]
                for who in order:
                    measure = _throughput_vaquero if who == "vaquero" else _throughput_raw
                    runs[who].append(measure(rx, protocol, endpoint, n))
            v_runs, o_runs = runs["vaquero"], runs["raw OTel"]
            v_rate = sorted(r["rate"] for r in v_runs)[len(v_runs) // 2]
            o_rate = sorted(r["rate"] for r in o_runs)[len(o_runs) // 2]
            rows.append(
                Comparison(
                    f"OTLP {protocol} spans/s delivered", v_rate, o_rate, 1.0,
                    higher_is_better=True, unit="spans/s",
                )
            )
            for who, side in runs.items():
                lost = sum(int(r["lost"]) for r in side)
                reported = sum(int(r["dropped_reported"]) for r in side)
                counted = (
                    f"{reported} counted as dropped by the processor"
                    if reported >= 0
                    else "the processor does not count drops"
                )
                notes.append(
                    f"{protocol} {who}: {rounds} x {n:,} spans offered, {lost:,} not delivered "
                    f"({counted})"
                )
    finally:
        rx.close()
    return rows, notes


# --- CPU per delivered span ------------------------------------------------------------------
def _cpu_run(
    rx: Receiver, who: str, protocol: str, endpoint: str, n: int
) -> tuple[float, float]:
    """CPU seconds per delivered span for one side, in a fresh process (``_cpu_side.py``),
    and the producing (app) thread's share of it."""
    before = rx.count()
    out = subprocess.run(
        [sys.executable, str(BENCH / "_cpu_side.py"), who, protocol, endpoint, str(n)],
        env=_clean_env(), capture_output=True, text=True, check=True, timeout=600,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    delivered = rx.count() - before
    expected = result["n"] + result["warmup"]
    if delivered != expected or not result["flushed"]:
        raise RuntimeError(
            f"cpu {who} {protocol}: {delivered} of {expected} spans delivered; not a valid run"
        )
    return float(result["cpu_s"]) / n, float(result["app_thread_cpu_s"]) / n


def cpu_section(n: int, rounds: int) -> tuple[list[Comparison], list[str]]:
    """Total process CPU (app and export threads) per delivered span, vaquero / raw SDK.

    Each run is its own process (vaquero's side with its defaults: scrubbing on), against
    the counting receiver in a third process; every span must arrive. Rounds alternate
    which side goes first; the ratio is the median of the per-round ratios.
    """
    rx = Receiver()
    rows: list[Comparison] = []
    notes: list[str] = []
    try:
        for protocol, endpoint in rx.endpoints:
            # a Case per side (named as _cpu_side.py's argument), and its app-thread samples
            sides: dict[str, tuple[Case, list[float]]] = {
                name: (Case(name, lambda _n: None), []) for name in ("vaquero", "raw")
            }
            v_case, o_case = sides["vaquero"][0], sides["raw"][0]
            for index in range(rounds):
                for name in ("vaquero", "raw") if index % 2 == 0 else ("raw", "vaquero"):
                    case, app_samples = sides[name]
                    total, app = _cpu_run(rx, name, protocol, endpoint, n)
                    case.samples.append(total * 1e9)
                    app_samples.append(app * 1e9)
            rows.append(
                compare(f"CPU per delivered span, OTLP {protocol}", v_case, o_case, 0.5)
            )
            for name, (case, app_samples) in sides.items():
                notes.append(
                    f"{protocol} {name}: {case.median_ns / 1000:.1f} us per span, of which the "
                    f"app thread {statistics.median(app_samples) / 1000:.1f} us (the rest: "
                    "export thread and transport)"
                )
    finally:
        rx.close()
    return rows, notes


# --- start-up --------------------------------------------------------------------------------
STARTUP_VAQUERO = """
import os
import vaquero
with vaquero.span("first"):
    pass
os._exit(0)  # the exit is another section's subject
"""

STARTUP_RAW = """
import os
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
if os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    exporter = OTLPSpanExporter(endpoint=os.environ["BENCH_TARGET"], insecure=True)
else:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    exporter = OTLPSpanExporter(endpoint=os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] + "/v1/traces")
provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
provider.add_span_processor(BatchSpanProcessor(exporter))
trace.set_tracer_provider(provider)
with trace.get_tracer("bench").start_as_current_span("first"):
    pass
os._exit(0)
"""


def _child_cpu(code: str, env: dict[str, str]) -> float:
    """User + system CPU seconds of one fresh interpreter running ``code``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def startup_section(rounds: int) -> list[Comparison]:
    """``import vaquero`` + first span against the raw SDK's imports + setup + first span.

    Whole processes, CPU time (user + system), interleaved; both with byte-code caching as
    an installed package has it (a private cache directory, warmed by an untimed run).
    """
    import tempfile

    port = _closed_port()
    rows: list[Comparison] = []
    with tempfile.TemporaryDirectory() as cache:
        for protocol in ("grpc", "http/protobuf"):
            env = _clean_env(
                OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
                OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
                OTEL_SERVICE_NAME="bench",
                BENCH_TARGET=f"127.0.0.1:{port}",
                PYTHONPYCACHEPREFIX=cache,
            )
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            v_case, o_case = Case("vaquero", lambda _n: None), Case("raw", lambda _n: None)
            for code in (STARTUP_VAQUERO, STARTUP_RAW):  # writes the byte-code caches
                _child_cpu(code, env)
            for index in range(rounds):
                order = [v_case, o_case] if index % 2 == 0 else [o_case, v_case]
                for case in order:
                    code = STARTUP_VAQUERO if case is v_case else STARTUP_RAW
                    case.samples.append(_child_cpu(code, env) * 1e9)
            row = compare(f"import + first span, {protocol} (process CPU)", v_case, o_case, 1.2)
            rows.append(
                Comparison(row.label, row.subject_ns / 1e6, row.baseline_ns / 1e6, row.target,
                           unit="ms", paired_ratio=row.paired_ratio)
            )
    return rows


# --- memory ----------------------------------------------------------------------------------
Pipeline = tuple[TracerProvider, Callable[[int], None]]


def _queued_bytes(make: Callable[[], Pipeline], n: int) -> float:
    provider, produce = make()
    produce(16)  # first-use allocations (worker thread, caches) are not per-span cost
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    produce(n)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    shutdown_provider(provider)
    return (after - before) / n


def memory_section(n: int) -> Comparison:
    def vaquero_side() -> Pipeline:
        provider, _ = vaquero_provider(BlockingExporter(), max_queue_size=n + 1024)
        return provider, _produce_vaquero

    def raw_side() -> Pipeline:
        provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
        provider.add_span_processor(
            BatchSpanProcessor(BlockingExporter(), max_queue_size=n + 1024)
        )
        tracer = provider.get_tracer("bench.raw")
        return provider, lambda count: _produce_raw(tracer, count)

    v_bytes = _queued_bytes(vaquero_side, n)
    _setup.reset_for_tests()
    o_bytes = _queued_bytes(raw_side, n)
    return Comparison(
        "memory per queued span (exporter blocked)", v_bytes, o_bytes, 1.0, unit="B"
    )


RSS_SCRIPT = """
import json, logging, resource, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
logging.disable(logging.CRITICAL)  # the SDK logs one line per dropped span
from _harness import produce
N = {n}
def peak_kib():
    # VmHWM is this process's own peak; ru_maxrss survives exec on Linux and would report
    # the (larger) parent's peak in a child started from it.
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if {vaquero!r}:
    import vaquero
    from vaquero._pipeline import install as _setup
    start_span = vaquero.span
    with start_span("warm-up"):  # configure (lazily, from the environment) before measuring
        pass
    base = peak_kib()
    start = time.perf_counter()
    produce(start_span, N)
    elapsed = time.perf_counter() - start
    stats = _setup.export_stats()
    dropped = sum(v["dropped_queue_full"] + v["dropped_export_failed"] for v in stats.values())
else:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint="127.0.0.1:{port}", insecure=True)))
    tracer = provider.get_tracer("bench.raw")
    base = peak_kib()
    start = time.perf_counter()
    produce(tracer.start_as_current_span, N)
    elapsed = time.perf_counter() - start
    dropped = -1
peak = peak_kib()
print(json.dumps({{"base_kib": base, "peak_kib": peak, "seconds": elapsed, "dropped": dropped}}))
sys.stdout.flush()
import os
os._exit(0)  # the point is the memory while the collector is down, not the exit budget
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there any more


def rss_section(n: int) -> list[str]:
    port = _closed_port()
    lines = []
    for who, is_vaquero in (("vaquero", True), ("raw OTel BatchSpanProcessor", False)):
        code = RSS_SCRIPT.format(
            root=str(ROOT), bench=str(BENCH), n=n, vaquero=is_vaquero, port=port
        )
        env = _clean_env(
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}", OTEL_SERVICE_NAME="bench"
        )
        out = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=env, capture_output=True, text=True, check=True, timeout=600,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        dropped = "not counted by the SDK" if r["dropped"] < 0 else f"{r['dropped']:,} counted"
        lines.append(
            f"{who}: {n:,} spans, collector down (closed port {port}): peak RSS "
            f"{r['peak_kib'] / 1024:.1f} MiB (after setup {r['base_kib'] / 1024:.1f} MiB), "
            f"{r['seconds']:.1f} s, dropped {dropped}"
        )
    return lines


# --- report ----------------------------------------------------------------------------------
def machine() -> str:
    from importlib.metadata import version

    packages = ", ".join(
        f"{name} {version(name)}"
        for name in ("opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-grpc", "grpcio",
                     "protobuf")
    )
    return (
        f"{time.strftime('%Y-%m-%d')} | nproc {os.cpu_count()} | {platform.machine()} | "
        f"Python {platform.python_version()} | vaquero {vaquero.__version__} | {packages}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller counts (smoke check)")
    parser.add_argument("--profile", action="store_true", help="cProfile the span hot path")
    parser.add_argument(
        "--json", metavar="FILE",
        help="also write every ratio (case, vaquero, baseline, ratio, target, met) to FILE",
    )
    parser.add_argument(
        "--only",
        choices=["app", "disabled", "throughput", "cpu", "startup", "memory", "exit", "peers"],
        action="append",
        help="run only these sections (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)  # per-drop log lines
    quick = args.quick
    n, rounds = (3_000, 7) if quick else (5_000, 31)
    only = set(
        args.only
        or ["app", "disabled", "throughput", "cpu", "startup", "memory", "exit", "peers"]
    )

    print(f"# vaquero benchmark ({'quick' if quick else 'full'})\n\n{machine()}\n", flush=True)
    rows: list[Comparison] = []
    if "app" in only:
        rows += app_thread_section(n, rounds)
        print(format_table(rows), "\n", flush=True)
    if "disabled" in only:
        rows.append(disabled_section(n * 10, rounds))
        print(format_table(rows[-1:]), "\n", flush=True)
    notes: list[str] = []
    if "throughput" in only:
        t_rows, notes = throughput_section(10_000 if quick else 50_000, 3 if quick else 5)
        rows += t_rows
        print(format_table(t_rows), "\n", "\n".join(notes), "\n", sep="\n", flush=True)
    if "cpu" in only:
        c_rows, c_notes = cpu_section(10_000 if quick else 30_000, 3 if quick else 5)
        rows += c_rows
        print(format_table(c_rows), "\n", "\n".join(c_notes), "\n", sep="\n", flush=True)
    if "startup" in only:
        s_rows = startup_section(5 if quick else 15)
        rows += s_rows
        print(format_table(s_rows), "\n", flush=True)
    if "memory" in only:
        rows.append(memory_section(5_000 if quick else 20_000))
        print(format_table(rows[-1:]), flush=True)
        for line in rss_section(200_000 if quick else 1_000_000):
            print(line, flush=True)
        print()
    if "exit" in only:
        from bench_exit import exit_section

        e_rows, e_notes = exit_section(5 if quick else 9)
        rows += e_rows
        print(format_table(e_rows), "\n", "\n".join(e_notes), "\n", sep="\n", flush=True)
    if "peers" in only:
        subprocess.run(
            [sys.executable, str(BENCH / "peers.py")] + (["--quick"] if quick else []),
            env=_clean_env(), check=False,
        )
    if args.profile:
        profile_span(n)
    print("\n## all ratios\n")
    print(format_table(rows))
    missed = [row.label for row in rows if not row.met]
    print(f"\ntargets missed: {missed}" if missed else "\nall targets met")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": machine(),
            "quick": quick,
            "rows": [
                {
                    "case": row.label, "vaquero": row.subject_ns, "baseline": row.baseline_ns,
                    "unit": row.unit, "ratio": row.ratio, "target": row.target,
                    "higher_is_better": row.higher_is_better, "met": row.met,
                }
                for row in rows
            ],
            "missed": missed,
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
