"""Exit overhead with nothing listening: whole processes, against OTEL_SDK_DISABLED=true.

Issue 14 item 1: a short program that made spans must not pay the shutdown budget when no
collector runs. The target is a *difference*: the same program with the collector's port
closed costs at most 0.3 s more than with ``OTEL_SDK_DISABLED=true``, over gRPC and HTTP.

Each side is a fresh interpreter timed from spawn to exit (what a user's shell sees), run
interleaved (disabled, none, grpc, http, disabled, ...) and summarised by the median. The
``OTEL_TRACES_EXPORTER=none`` side separates what setup costs (imports, provider) from what
the exit itself costs with a dead collector.

    python bench/bench_exit.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _harness import Comparison, format_table

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.3

PROGRAM = """
import vaquero
for i in range(20):
    with vaquero.span("step", i=i, note="n" * 32):
        pass
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VAQUERO_"))}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(overrides)
    return env


def _wall(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, check=True)
    return time.perf_counter() - started


def exit_section(runs: int) -> tuple[list[Comparison], list[str]]:
    """Rows (ms, vaquero side vs disabled) and notes with the differences."""
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    sides = {
        "disabled": _env(OTEL_SDK_DISABLED="true"),
        "none": _env(OTEL_TRACES_EXPORTER="none"),
        "grpc": _env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_PROTOCOL="grpc"),
        "http": _env(
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf"
        ),
    }
    _wall(sides["disabled"])  # warm the file cache before anything counts
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, env in sides.items():
            samples[name].append(_wall(env))
    median = {name: statistics.median(values) for name, values in samples.items()}
    base = median["disabled"]
    rows = []
    notes = []
    for name, label in (
        ("none", "exit: exporters none, whole process vs disabled"),
        ("grpc", "exit: gRPC, nothing listening, whole process vs disabled"),
        ("http", "exit: HTTP, nothing listening, whole process vs disabled"),
    ):
        rows.append(
            Comparison(label, median[name] * 1e3, base * 1e3, (base + TARGET_S) / base, unit="ms")
        )
        notes.append(
            f"{name}: median {median[name]:.3f} s vs disabled {base:.3f} s: "
            f"+{median[name] - base:.3f} s (target <= +{TARGET_S} s for grpc/http; "
            f"{runs} runs each, interleaved)"
        )
    notes.append(
        "the 'none' row is setup alone (imports, provider, no exporter): the grpc/http rows "
        "minus it is what a dead collector adds at exit"
    )
    return rows, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    rows, notes = exit_section(args.runs)
    print(format_table(rows))
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
