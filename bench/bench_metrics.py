"""What the GenAI duration metrics add to an agent run on the app thread, measured.

    python bench/bench_metrics.py            # a few seconds
    python bench/bench_metrics.py --quick

One workload, an agent span with 5 child spans (one ``gen_ai.invocation.duration``
measurement per run), interleaved (A B A B ..., the order flipping every round) on the same
provider, three clocks per round: the app thread's CPU time (``time.thread_time``, the
budget), its wall time (which also pays for the drain thread whenever the two contend for
the GIL, as they do in this tight loop and rarely in an application waiting on models), and
the whole process's CPU (every thread: the total the metrics cost, wherever it runs).

* **metrics off**: no meter records anything (``OTEL_METRICS_EXPORTER=none``);
* **metrics on**: vaquero's path: the run leaves its measurement on the deque and the drain
  thread records it into a real SDK histogram (its GIL time counts against the app, as it
  would in production);
* **recorded on the app thread** (for reference): the same measurement recorded into the
  histogram synchronously, which is what deferring it avoids.

Issue 21's budget: metrics on / metrics off at most 1.10.
"""

from __future__ import annotations

import argparse
import collections
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from _harness import DiscardingExporter  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from run import vaquero_provider  # noqa: E402

import vaquero  # noqa: E402
from vaquero import _metrics  # noqa: E402
from vaquero._pipeline import install  # noqa: E402
from vaquero._state import STATE  # noqa: E402


def agent_children(n: int) -> None:
    span = vaquero.span
    for _ in range(n):
        with span("agent", agent_name="a"):
            for _ in range(5):
                with span("child"):
                    pass


class _RecordNow:
    """A sink that records each measurement at once, on the thread that ends the run."""

    def __init__(self, runtime: _metrics.MetricsRuntime) -> None:
        self.instruments = runtime.instruments

    def append(self, item: tuple[int, float, Any]) -> None:
        slot, seconds, attributes = item
        self.instruments[slot].record(seconds, attributes)

    def __len__(self) -> int:
        return 0


def with_sink(make_sink: Any) -> Any:
    def run(n: int) -> None:
        saved = STATE.measurements
        STATE.measurements = make_sink()
        try:
            agent_children(n)
        finally:
            STATE.measurements = saved

    return run


def measure(run: Any, n: int, drains: bool) -> tuple[float, float, float]:
    """ns per agent run: app-thread CPU, wall, process CPU (the deque drained inside)."""
    gc.collect()
    thread0, wall0, process0 = time.thread_time_ns(), time.perf_counter_ns(), time.process_time_ns()
    run(n)
    thread1, wall1 = time.thread_time_ns(), time.perf_counter_ns()
    if drains:
        _metrics.drain()  # what the drain thread had left: process CPU counts all of it
    process1 = time.process_time_ns()
    return (thread1 - thread0) / n, (wall1 - wall0) / n, (process1 - process0) / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, rounds = (500, 5) if args.quick else (4_000, 15)
    vaquero_provider(DiscardingExporter())
    runtime = _metrics.MetricsRuntime(
        MeterProvider(metric_readers=[InMemoryMetricReader()]), owned=False
    )
    STATE.metrics = runtime
    deferred: collections.deque[Any] = collections.deque()
    STATE.measurements = deferred
    _metrics._start_drain_thread(runtime)
    cases = {
        "metrics off": (with_sink(lambda: None), False),
        "metrics on (vaquero)": (with_sink(lambda: deferred), True),
        "recorded on the app thread": (with_sink(lambda: _RecordNow(runtime)), False),
    }
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in cases}
    for run, _ in cases.values():
        run(max(1, n // 4))  # warm-up
    for index in range(rounds):
        order = list(cases) if index % 2 == 0 else list(reversed(cases))
        for name in order:
            run, drains = cases[name]
            samples[name].append(measure(run, n, drains))
    print("| agent run + 5 children | app-thread CPU | ratio | wall | ratio | process CPU |"
          " ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base = samples["metrics off"]
    for name, rows in samples.items():
        cells = []
        for clock in range(3):
            median = statistics.median(row[clock] for row in rows)
            ratio = statistics.median(a[clock] / b[clock] for a, b in zip(rows, base, strict=True))
            cells.append(f"{median:,.0f} ns | {ratio:.3f}x")
        print(f"| {name} | " + " | ".join(cells) + " |")
    runtime.stopped = True
    install.reset_for_tests()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
