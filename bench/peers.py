"""Peers side by side: the same span (3 attributes) through logfire, traceloop-sdk and langfuse.

These packages are not vaquero dependencies and must not be installed into the project's
environment (they pin their own OpenTelemetry versions). Run this file with the interpreter
of a separate virtualenv that has them plus vaquero (see bench/README.md); any peer that is
not importable is reported as skipped. Each peer runs in its own subprocess, because each
installs its own global TracerProvider, and every peer exports nowhere (no network): what is
compared is the app-thread cost of one span.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# Each snippet defines ``one()``: a single span with three attributes, exporting nowhere.
SNIPPETS: dict[str, tuple[str, str]] = {
    "vaquero": (
        "vaquero",
        """
import vaquero
def one():
    with vaquero.span("llm.call") as s:
        s.set_attribute("llm.model", "gpt-4o-mini")
        s.set_attribute("retry.count", 2)
        s.set_attribute("score", 0.75)
""",
    ),
    "raw OpenTelemetry": (
        "opentelemetry.sdk",
        """
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
class Discard(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(Discard()))
tracer = provider.get_tracer("bench")
def one():
    with tracer.start_as_current_span("llm.call") as s:
        s.set_attribute("llm.model", "gpt-4o-mini")
        s.set_attribute("retry.count", 2)
        s.set_attribute("score", 0.75)
""",
    ),
    "logfire": (
        "logfire",
        """
import logfire
# inspect_arguments=False: the snippet runs under -c, where logfire cannot read the source
# and would warn and fall back on every span.
logfire.configure(send_to_logfire=False, console=False, inspect_arguments=False)
def one():
    with logfire.span("llm.call", **{"llm.model": "gpt-4o-mini"}) as s:
        s.set_attribute("retry.count", 2)
        s.set_attribute("score", 0.75)
""",
    ),
    "traceloop-sdk": (
        "traceloop.sdk",
        """
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from traceloop.sdk import Traceloop
from traceloop.sdk.decorators import task
from opentelemetry import trace
class Discard(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS
Traceloop.init(app_name="bench", exporter=Discard(), telemetry_enabled=False)
@task(name="llm.call")
def call():
    s = trace.get_current_span()
    s.set_attribute("llm.model", "gpt-4o-mini")
    s.set_attribute("retry.count", 2)
    s.set_attribute("score", 0.75)
def one():
    call()
""",
    ),
    "langfuse": (
        "langfuse",
        """
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from langfuse import Langfuse, observe
class Discard(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS
client = Langfuse(public_key="pk-bench", secret_key="sk-bench", host="http://127.0.0.1:9",
                  span_exporter=Discard())
@observe(name="llm.call")
def call():
    client.update_current_span(
        metadata={"llm.model": "gpt-4o-mini", "retry.count": 2, "score": 0.75}
    )
def one():
    call()
""",
    ),
}

RUNNER = """
import json, sys, time
sys.path.insert(0, {root!r})
{snippet}
for _ in range(2000):
    one()
samples = []
for _ in range({rounds}):
    start = time.perf_counter_ns()
    for _ in range({n}):
        one()
    samples.append((time.perf_counter_ns() - start) / {n})
samples.sort()
print(json.dumps({{"ns": samples[len(samples) // 2]}}))
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VAQUERO_"))}
    env.update(OTEL_TRACES_EXPORTER="none", LOGFIRE_SEND_TO_LOGFIRE="false")
    return env


def _has_module(python: str, module: str) -> bool:
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([python, "-c", probe], env=_env(), capture_output=True).returncode == 0


def measure_once(name: str, python: str, n: int, rounds: int) -> float:
    """Median ns per span of one fresh process running the peer's snippet."""
    _, snippet = SNIPPETS[name]
    code = RUNNER.format(root=str(ROOT), snippet=snippet, n=n, rounds=rounds)
    out = subprocess.run(
        [python, "-c", code], env=_env(), capture_output=True, text=True, timeout=300, check=True
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["ns"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--python", action="append", default=[], metavar="PEER=INTERPRETER",
        help="run PEER with another interpreter, e.g. logfire=/tmp/peer-logfire/bin/python "
        "(peers pin their own OpenTelemetry, so each may need its own virtualenv)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per library")
    args = parser.parse_args(argv)
    n, rounds = (2_000, 5) if args.quick else (10_000, 9)
    interpreters = dict(item.split("=", 1) for item in args.python)
    runnable: dict[str, str] = {}
    notes: dict[str, str] = {}
    for name, (module, _) in SNIPPETS.items():
        python = interpreters.get(name, sys.executable)
        if _has_module(python, module.split(".")[0]):
            runnable[name] = python
        else:
            notes[name] = f"skipped: `{module.split('.')[0]}` not importable by {python}"
    samples: dict[str, list[float]] = {name: [] for name in runnable}
    for _ in range(args.repeat):  # alternate libraries so drift hits all alike
        for name, python in runnable.items():
            try:
                samples[name].append(measure_once(name, python, n, rounds))
            except (subprocess.SubprocessError, ValueError, KeyError, IndexError) as exc:
                detail = getattr(exc, "stderr", "") or str(exc)
                last = detail.strip().splitlines()[-1] if detail.strip() else type(exc).__name__
                notes[name] = f"failed: {last[:120]}"
    medians = {
        name: sorted(values)[len(values) // 2]
        for name, values in samples.items()
        if values and name not in notes
    }
    print("## peers (one span, 3 attributes, exporting nowhere; separate processes)\n")
    print("| library | median ns/span | vaquero / library |\n|---|---:|---:|")
    ours = medians.get("vaquero")
    for name in SNIPPETS:
        if name in medians:
            ratio = f"{ours / medians[name]:.2f}x" if ours else "n/a"
            print(f"| {name} | {medians[name]:,.0f} | {ratio} |")
        else:
            print(f"| {name} | {notes.get(name, 'not measured')} | |")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
