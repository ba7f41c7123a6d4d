"""Shared pieces of the benchmark: interleaved timing, the discarding exporter, pipelines.

Why interleave: on a shared or thermally throttled machine, a benchmark that runs all of A
and then all of B measures the machine's mood as much as the code. Running A, B, A, B ...
and taking medians per case makes both sides see the same noise, and the ratio is computed
from numbers measured minutes apart at most, in the same process.
"""

from __future__ import annotations

import gc
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

Loop = Callable[[int], object]  # runs the measured operation n times

# The workload every comparison measures: a span named "llm.call" with these 3 attributes.
ATTRS = (("llm.model", "gpt-4o-mini"), ("retry.count", 2), ("score", 0.75))


def produce(start: Callable[[str], ContextManager[Any]], n: int) -> None:
    """``n`` spans of the workload through ``start`` (``vaquero.span`` or a tracer's
    ``start_as_current_span``): both sides of a comparison run this very loop."""
    (k1, v1), (k2, v2), (k3, v3) = ATTRS
    for _ in range(n):
        with start("llm.call") as s:
            s.set_attribute(k1, v1)
            s.set_attribute(k2, v2)
            s.set_attribute(k3, v3)


class DiscardingExporter(SpanExporter):
    """Accepts every batch and keeps nothing but a count: the cheapest possible sink."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


class BlockingExporter(SpanExporter):
    """Blocks every export until released, so spans pile up in the processor's queue."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


@dataclass
class Case:
    """One measured operation; ``samples`` holds ns per operation, one entry per round."""

    name: str
    loop: Loop
    samples: list[float] = field(default_factory=list)

    @property
    def median_ns(self) -> float:
        return statistics.median(self.samples)


def time_loop(loop: Loop, n: int) -> float:
    """ns per operation for one run of ``loop(n)`` (garbage collected first, kept enabled)."""
    gc.collect()
    start = time.perf_counter_ns()
    loop(n)
    return (time.perf_counter_ns() - start) / n


def interleave(cases: Sequence[Case], n: int, rounds: int, warmup: int = 1) -> None:
    """Run each case ``rounds`` times in A B A B order (after ``warmup`` untimed rounds)."""
    for _ in range(warmup):
        for case in cases:
            case.loop(max(1, n // 4))
    for index in range(rounds):
        # Alternate which side goes first so neither always follows the other's garbage.
        ordered = cases if index % 2 == 0 else list(reversed(cases))
        for case in ordered:
            case.samples.append(time_loop(case.loop, n))


@dataclass(frozen=True)
class Comparison:
    """A measured case against its baseline, with the target the ratio must meet."""

    label: str
    subject_ns: float
    baseline_ns: float
    target: float
    higher_is_better: bool = False
    unit: str = "ns/op"
    paired_ratio: float | None = None  # median of per-round ratios, when rounds were paired

    @property
    def ratio(self) -> float:
        if self.paired_ratio is not None:
            return self.paired_ratio
        return self.subject_ns / self.baseline_ns if self.baseline_ns else float("inf")

    @property
    def met(self) -> bool:
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target


def compare(label: str, subject: Case, baseline: Case, target: float) -> Comparison:
    """Medians per side, and the ratio as the median of the per-round ratios.

    A round's two samples are taken back to back, so their ratio cancels slow drift
    (frequency scaling, a noisy neighbour) that a ratio of overall medians would keep.
    """
    pairs = [a / b for a, b in zip(subject.samples, baseline.samples, strict=True) if b]
    return Comparison(
        label,
        subject.median_ns,
        baseline.median_ns,
        target,
        paired_ratio=statistics.median(pairs) if pairs else None,
    )


def format_table(rows: Sequence[Comparison]) -> str:
    """A Markdown table, so the output can be pasted into RESULTS.md as it is."""
    lines = [
        "| case | vaquero | baseline | ratio | target | met |",
        "|---|---:|---:|---:|---:|:---:|",
    ]
    for row in rows:
        sign = ">=" if row.higher_is_better else "<="
        lines.append(
            f"| {row.label} | {row.subject_ns:,.0f} {row.unit} | {row.baseline_ns:,.0f} {row.unit}"
            f" | {row.ratio:.2f}x | {sign} {row.target:g}x | {'yes' if row.met else 'NO'} |"
        )
    return "\n".join(lines)


def shutdown_provider(provider: TracerProvider) -> None:
    """Shut a benchmark provider down; the benchmark outlives many of them."""
    try:
        provider.shutdown()
    except Exception:  # a benchmark report is still worth having
        pass
