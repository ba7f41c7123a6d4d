"""Benchmark ``vaquero.analysis`` on a large generated trace file.

Generates N spans (default 1,000,000) of workflow traces shaped like the seed's examples
(sequential registration, fan-out batch processing, a state machine), written the way a
BatchSpanProcessor exports them: spans in end order, concurrent traces interleaved, up to 512
spans per OTLP JSON line. Then, in this process:

1. runs the full analysis and reports spans/second and peak RSS (``ru_maxrss``);
2. as a baseline, times only ``json.loads`` over every line, the floor any JSON-lines reader
   pays, and prints the ratio analysis / baseline.

Usage: python bench/bench_analyze.py [--spans N] [--keep FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import tempfile
import time
from collections.abc import Iterator

from vaquero.analysis import analyze

MS = 1_000_000
BATCH = 512
CONCURRENT = 24
Plan = list[tuple[str, int, int, int, bool]]  # name, parent index (-1 root), start ms, end ms, err


def _registration(rng: random.Random) -> tuple[str, Plan]:
    plan: Plan = []
    t = 0
    for step in ("data_validation", "duplicate_check", "user_creation", "welcome_email",
                 "analytics_update"):
        dur = rng.randint(2, 40)
        plan.append((step, 0, t, t + dur, False))
        if step == "user_creation":
            plan.append(("db_insert", len(plan), t + 1, t + dur - 1, False))
        t += dur
    failed = rng.random() < 0.1
    if failed:
        name, parent, a, b, _ = plan[1]
        plan[1] = (name, parent, a, b, True)
    return "user_registration_workflow", [("user_registration_workflow", -1, 0, t, failed)] + [
        (n, p + 1 if p > 0 else 0, a, b, e) for n, p, a, b, e in plan]


def _batch(rng: random.Random) -> tuple[str, Plan]:
    plan: Plan = [("batch_processing_workflow", -1, 0, 0, False)]
    val = rng.randint(5, 20)
    plan.append(("batch_validation", 0, 0, val, False))
    plan.append(("parallel_processing", 0, val, 0, False))
    processing = len(plan) - 1
    end = val
    for _chunk in range(3):
        c_start = val + rng.randint(0, 3)
        plan.append(("batch_chunk", processing, c_start, 0, False))
        chunk = len(plan) - 1
        t = c_start
        for _user in range(2):
            dur = rng.randint(3, 15)
            plan.append(("process_user", chunk, t, t + dur, False))
            t += dur
        plan[chunk] = ("batch_chunk", processing, c_start, t, False)
        end = max(end, t)
    plan[processing] = ("parallel_processing", 0, val, end, False)
    end += rng.randint(1, 5)
    plan.append(("result_aggregation", 0, end - 3, end, False))
    plan[0] = ("batch_processing_workflow", -1, 0, end, False)
    return "parallel_processing_workflow", plan


def _state_machine(rng: random.Random) -> tuple[str, Plan]:
    plan: Plan = [("state_machine_execution", -1, 0, 0, False)]
    t = 0
    states = ("pending", "validating", "processing", "completing", "completed")
    for old, new in itertools.pairwise(states):
        dur = rng.randint(4, 30)
        plan.append((f"state_transition_{old}_to_{new}", 0, t, t + dur, False))
        plan.append(("data_processing", len(plan) - 1, t + 1, t + dur - 1, False))
        t += dur
    failed = rng.random() < 0.25
    plan[0] = ("state_machine_execution", -1, 0, t, failed)
    if failed:
        name, parent, a, b, _ = plan[-1]
        plan[-1] = (name, parent, a, b, True)
    return "state_machine_workflow", plan


def _trace_spans(trace_no: int, base_ns: int, rng: random.Random) -> list[dict[str, object]]:
    agent, plan = rng.choice((_registration, _batch, _state_machine))(rng)
    trace_id = f"{rng.getrandbits(128):032x}"
    span_ids = [f"{rng.getrandbits(64) or 1:016x}" for _ in plan]
    start = base_ns + trace_no * 7 * MS
    attributes = [{"key": "gen_ai.agent.name", "value": {"stringValue": agent}},
                  {"key": "workflow_id", "value": {"stringValue": f"wf_{trace_no}"}}]
    spans = []
    for index, (name, parent, a, b, err) in enumerate(plan):
        span: dict[str, object] = {
            "traceId": trace_id, "spanId": span_ids[index], "name": name, "kind": 1,
            "startTimeUnixNano": str(start + a * MS), "endTimeUnixNano": str(start + b * MS),
            "attributes": attributes, "status": {},
        }
        if parent >= 0:
            span["parentSpanId"] = span_ids[parent]
        if err:
            span["status"] = {"code": 2, "message": "step failed"}
            span["events"] = [{"name": "exception", "timeUnixNano": str(start + b * MS),
                               "attributes": [{"key": "exception.type",
                                               "value": {"stringValue": "ValueError"}}]}]
        spans.append(span)
    spans.sort(key=lambda s: int(str(s["endTimeUnixNano"])))  # exported as they end
    return spans


def _interleaved_spans(total: int, rng: random.Random) -> Iterator[dict[str, object]]:
    base = time.time_ns() - 86400 * 1_000_000_000
    active: list[list[dict[str, object]]] = []
    produced = trace_no = 0
    # Past ``total`` no new trace starts, but open ones finish: no artificial orphans at the end.
    while active or produced < total:
        while produced < total and len(active) < CONCURRENT:
            active.append(_trace_spans(trace_no, base, rng))
            trace_no += 1
        pick = rng.randrange(len(active))
        spans = active[pick]
        yield spans.pop(0)
        produced += 1
        if not spans:
            active.pop(pick)


def generate(path: str, total: int, seed: int = 7) -> int:
    """Write about ``total`` spans (whole traces only) to ``path``; returns the line count."""
    rng = random.Random(seed)
    lines = 0
    batch: list[dict[str, object]] = []
    service = {"key": "service.name", "value": {"stringValue": "bench"}}
    resource_block: dict[str, object] = {"attributes": [service]}
    with open(path, "w", encoding="utf-8") as out:
        for span in _interleaved_spans(total, rng):
            batch.append(span)
            if len(batch) == BATCH:
                out.write(_line(resource_block, batch))
                lines += 1
                batch = []
        if batch:
            out.write(_line(resource_block, batch))
            lines += 1
    return lines


def _line(resource_block: dict[str, object], spans: list[dict[str, object]]) -> str:
    doc = {"resourceSpans": [{"resource": resource_block,
                              "scopeSpans": [{"scope": {"name": "vaquero"}, "spans": spans}]}]}
    return json.dumps(doc, separators=(",", ":")) + "\n"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--keep", metavar="FILE", help="write the trace file here and keep it")
    args = parser.parse_args()

    handle, path = tempfile.mkstemp(suffix=".jsonl") if not args.keep else (None, args.keep)
    if handle is not None:
        os.close(handle)
    try:
        began = time.perf_counter()
        lines = generate(path, args.spans)
        size_mb = os.path.getsize(path) / 1e6
        print(f"generated ~{args.spans:,} spans in {lines:,} lines ({size_mb:,.0f} MB) "
              f"in {time.perf_counter() - began:.1f} s; peak RSS so far {_peak_rss_mb():.0f} MB")

        began = time.perf_counter()
        result = analyze(path)
        analysis_s = time.perf_counter() - began
        runs = sum(w.runs for w in result.workflows)
        print(f"analysis: {result.spans_read:,} spans, {runs:,} runs, "
              f"{len(result.workflows)} workflows in {analysis_s:.2f} s = "
              f"{result.spans_read / analysis_s:,.0f} spans/s; peak RSS {_peak_rss_mb():.0f} MB")

        began = time.perf_counter()
        with open(path, "rb") as source:
            for line in source:
                json.loads(line)
        baseline_s = time.perf_counter() - began
        print(f"baseline json.loads of every line: {baseline_s:.2f} s = "
              f"{result.spans_read / baseline_s:,.0f} spans/s")
        print(f"ratio analysis / baseline: {analysis_s / baseline_s:.2f}x")
    finally:
        if not args.keep:
            os.unlink(path)


if __name__ == "__main__":
    main()
