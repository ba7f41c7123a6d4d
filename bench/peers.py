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
import importlib.util
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
logfire.configure(send_to_logfire=False, console=False)
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
from langfuse import Langfuse
client = Langfuse(public_key="pk-bench", secret_key="sk-bench", host="http://127.0.0.1:9",
                  tracing_enabled=True, flush_at=10**9)
def one():
    with client.start_as_current_span(name="llm.call") as s:
        s.update(metadata={"llm.model": "gpt-4o-mini", "retry.count": 2, "score": 0.75})
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


def measure(name: str, n: int, rounds: int) -> str:
    module, snippet = SNIPPETS[name]
    if importlib.util.find_spec(module.split(".")[0]) is None:
        return f"| {name} | skipped: `{module.split('.')[0]}` not installed in {sys.executable} |"
    code = RUNNER.format(root=str(ROOT), snippet=snippet, n=n, rounds=rounds)
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], env=_env(), capture_output=True, text=True,
            timeout=300, check=True,
        )
        ns = json.loads(out.stdout.strip().splitlines()[-1])["ns"]
    except (subprocess.SubprocessError, ValueError, KeyError, IndexError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        last = detail.strip().splitlines()[-1] if detail.strip() else type(exc).__name__
        return f"| {name} | failed: {last[:120]} |"
    return f"| {name} | {ns:,.0f} ns/span |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    n, rounds = (2_000, 5) if args.quick else (10_000, 9)
    print("## peers (one span, 3 attributes, exporting nowhere; separate processes)\n")
    print("| library | median |\n|---|---:|")
    for name in SNIPPETS:
        print(measure(name, n, rounds), flush=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
