"""What the private OpenTelemetry details in the ``vaquero/_otel_compat`` package buy, measured.

    python bench/bench_compat.py            # a few seconds
    python bench/bench_compat.py --quick

The same vaquero workloads run interleaved (A B A B ...) on the same provider, once on the
fast paths and once under ``use_public_fallbacks()`` (what an SDK whose layout vaquero does
not recognise gets). The ratio fast / public is the share of the cost the private details
leave; ``docs/architecture.md`` quotes it. Re-run it when moving the OpenTelemetry range.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from _harness import Case, DiscardingExporter, compare, interleave  # noqa: E402
from run import vaquero_provider  # noqa: E402

import vaquero  # noqa: E402
from vaquero import _otel_compat  # noqa: E402
from vaquero._pipeline import install  # noqa: E402


def span_with_attributes(n: int) -> None:
    span = vaquero.span
    for _ in range(n):
        with span("llm.call") as s:
            s.set_attribute("llm.model", "gpt-4o-mini")
            s.set_attribute("retry.count", 2)
            s.set_attribute("score", 0.75)


def agent_children(n: int) -> None:
    span = vaquero.span
    for _ in range(n):
        with span("agent", agent_name="a"):
            for _ in range(5):
                with span("child"):
                    pass


def public(loop):  # type: ignore[no-untyped-def]
    def run(n: int) -> None:
        with _otel_compat.use_public_fallbacks():
            loop(n)

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, rounds = (2_000, 5) if args.quick else (20_000, 9)
    vaquero_provider(DiscardingExporter())
    print("| workload | fast paths | public API only | ratio |")
    print("|---|---:|---:|---:|")
    for label, loop, count in [
        ("span + 3 set_attribute", span_with_attributes, n),
        ("agent span + 5 children (agent stamp)", agent_children, max(1, n // 6)),
    ]:
        fast, slow = Case("fast", loop), Case("public", public(loop))
        interleave([fast, slow], count, rounds)
        row = compare(label, fast, slow, 1.0)
        print(
            f"| {label} | {row.subject_ns:,.0f} ns | {row.baseline_ns:,.0f} ns"
            f" | {row.ratio:.2f}x |"
        )
    install.reset_for_tests()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
