"""Benchmark ``vaquero analyze`` side by side with DuckDB on a generated trace file.

Generates N spans (default 300,000) of workflow traces shaped like the seed's examples
(sequential registration, fan-out batch processing, a state machine), written the way a
BatchSpanProcessor exports them: spans in end order, concurrent traces interleaved, up to 512
spans per OTLP JSON line. Then, each in a fresh subprocess, interleaved (A B, B A, ...):

* ``vaquero analyze`` (the whole analysis: steps, critical path, failures, time buckets),
  in one process as the CLI runs it, parsing with orjson when it is installed; and, when
  orjson is installed, once more with the standard library's json;
* DuckDB (optional, ``pip install duckdb``; never a vaquero dependency) with 2 threads:
  ``read_json_auto`` + ``unnest``, per-workflow run count, success rate and nearest-rank p95,
  a far smaller job than vaquero's.

It prints each round's wall time, CPU time and peak RSS (VmHWM), and the median per-round
ratio vaquero / DuckDB, so that load from other processes on the machine cancels out. The
two sides' per-workflow runs, success rates and p95 are checked to agree.

``--shapes`` measures the memory bound instead (README, "Safety"): peak RSS of ``analyze``
and of ``report`` on the worst input shapes found (issue 19), each next to the plain
N-span file in the same run: N distinct root names (un-templated routes), N distinct step
names in one workflow, one trace of N spans, 1,000-span traces under 500 names (each one a
report's example trace), lines just under the longest read whole (6 MiB), a gzip holding
one 1 GiB line, and ``/dev/zero``. The bound is
150 MB for up to 1,000,000 spans, whatever the shape.

Usage: python bench/bench_analyze.py [--spans N] [--rounds R] [--memory-only] [--shapes]
       [--keep FILE]
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

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


def _shape_names(path: str, total: int) -> None:
    """One-span traces, each root named after its id: ``GET /user/<id>``."""
    with open(path, "w", encoding="utf-8") as out:
        for start in range(0, total, BATCH):
            spans = [_plain_span(i + 1, 1, None, f"GET /user/{i}", i)
                     for i in range(start, min(total, start + BATCH))]
            out.write(_line({}, spans))


def _shape_steps(path: str, total: int) -> None:
    """Traces of 100 spans under one workflow, every step name different."""
    with open(path, "w", encoding="utf-8") as out:
        for trace in range(total // 100):
            spans = [_plain_span(trace + 1, 1, None, "checkout", trace * 1000, 100)]
            spans += [_plain_span(trace + 1, i + 2, 1, f"fetch item {trace * 100 + i}",
                                  trace * 1000 + i) for i in range(99)]
            out.write(_line({}, spans))


def _shape_one_trace(path: str, total: int) -> None:
    """One trace of ``total`` spans, all children of its root."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(_line({}, [_plain_span(1, 1, None, "export_all", 0, total + 1)]))
        for start in range(1, total, BATCH):
            out.write(_line({}, [_plain_span(1, i + 1, 1, "row", i)
                                 for i in range(start, min(total, start + BATCH))]))


def _shape_big_examples(path: str, total: int) -> None:
    """Traces of 1,000 spans under 500 root names: every one is some workflow's example."""
    with open(path, "w", encoding="utf-8") as out:
        for trace in range(total // 1000):
            spans = [_plain_span(trace + 1, 1, None, f"job {trace % 500}", trace * 10, 5000)]
            spans += [_plain_span(trace + 1, i + 2, 1, "work", trace * 10 + i % 4000)
                      for i in range(999)]
            out.write(_line({}, spans))


def _shape_longest_lines(path: str, total: int) -> None:
    """Lines just under the longest vaquero reads (MAX_RECORD_BYTES), each parsed whole."""
    from vaquero.analysis._limits import MAX_RECORD_BYTES

    with open(path, "w", encoding="utf-8") as out:
        spans: list[dict[str, object]] = []
        for index in range(total):
            span = _plain_span(index // 10 + 1, index % 10 + 1,
                               None if index % 10 == 0 else 1, "step", index % 100_000)
            span["attributes"] = [{"key": "k", "value": {"stringValue": "v"}}]
            spans.append(span)
            if len(spans) % 1000 == 0 and len(_line({}, spans)) > MAX_RECORD_BYTES - 300_000:
                out.write(_line({}, spans))
                spans = []
        if spans:
            out.write(_line({}, spans))


def _shape_long_line(path: str, _total: int) -> None:
    """A gzip of about 1 MB holding one 1 GiB line between two good ones."""
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(_line({}, [_plain_span(1, 1, None, "before", 0)]).encode())
        chunk = b" " * (1 << 24)
        out.write(b"[")
        for _ in range(64):
            out.write(chunk)
        out.write(b"]\n")
        out.write(_line({}, [_plain_span(2, 1, None, "after", 0)]).encode())


def _plain_span(trace: int, span: int, parent: int | None, name: str, start_ms: int,
                duration_ms: int = 1) -> dict[str, object]:
    base = 1_700_000_000_000 + start_ms
    out: dict[str, object] = {
        "traceId": f"{trace:032x}", "spanId": f"{span:016x}", "name": name,
        "startTimeUnixNano": str(base * MS), "endTimeUnixNano": str((base + duration_ms) * MS)}
    if parent is not None:
        out["parentSpanId"] = f"{parent:016x}"
    return out


SHAPES = {"distinct root names": _shape_names, "distinct step names": _shape_steps,
          "one trace": _shape_one_trace, "500 workflows, big examples": _shape_big_examples,
          "lines at the 6 MiB bound": _shape_longest_lines,
          "1 GiB line in 1 MB gzip": _shape_long_line}


def _shapes(spans: int) -> None:
    """Peak RSS of analyze and report per shape, each next to the plain file's."""
    print(f"peak RSS (VmHWM) of one process, {spans:,} spans per shape; bound 150 MB")
    print(f"{'shape':28} {'analyze MB':>10} {'report MB':>10} {'x plain':>8}")
    with tempfile.TemporaryDirectory() as directory:
        plain = os.path.join(directory, "plain.jsonl")
        generate(plain, spans)
        rows = [("plain (the seed's workflows)", plain)]
        for name, make in SHAPES.items():
            path = os.path.join(directory, name.replace(" ", "_"))
            make(path, spans)
            rows.append((name, path))
        rows.append(("/dev/zero", "/dev/zero"))
        baseline = 0.0
        for name, path in rows:
            measured = [_run_child("vaquero", path, variant) for variant in ("cli", "report")]
            analyze_mb, report_mb = (float(m["rss"]) for m in measured)  # type: ignore[arg-type]
            baseline = baseline or max(analyze_mb, report_mb)
            print(f"{name:28} {analyze_mb:10.0f} {report_mb:10.0f} "
                  f"{max(analyze_mb, report_mb) / baseline:8.2f}")
            if path != "/dev/zero":
                os.unlink(path)


def _vmhwm_mb() -> float:
    """This process's own peak RSS (ru_maxrss would include an exec'd parent's)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for row in status:
            if row.startswith("VmHWM:"):
                return int(row.split()[1]) / 1024
    return float("nan")


def _child_vaquero(path: str, variant: str) -> dict[str, object]:
    """``cli``: as ``vaquero analyze`` runs, with orjson when it is installed. ``stdlib``:
    orjson hidden (the standard library's json)."""
    if variant == "stdlib":
        sys.modules["orjson"] = None  # type: ignore[assignment]  # as if not installed
    import vaquero.analysis._json as fast_json

    # Until the reader calls _json.loads itself, route its json.loads there (a no-op after).
    json.loads = fast_json.loads  # type: ignore[assignment]
    from vaquero.analysis import AnalysisInputError, analyze, write_report

    began, cpu = time.perf_counter(), time.process_time()
    try:
        if variant == "report":
            with tempfile.TemporaryDirectory() as directory:
                result = write_report(path, os.path.join(directory, "r.html"))
        else:
            result = analyze(path)
    except AnalysisInputError:  # /dev/zero: what it cost to find out is the figure
        return {"wall": time.perf_counter() - began, "cpu": time.process_time() - cpu,
                "rss": _vmhwm_mb(), "worker_rss": 0, "spans": 0, "summary": {},
                "parser": fast_json.PARSER}
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    summary = {w.name: [w.runs, w.success_rate, w.p95_ms] for w in result.workflows}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall": wall, "cpu": cpu + children.ru_utime + children.ru_stime,
            "rss": _vmhwm_mb(), "worker_rss": children.ru_maxrss / 1024,
            "spans": result.spans_read, "summary": summary, "parser": fast_json.PARSER}


_DUCKDB_QUERY = """
WITH rs AS (SELECT unnest(resourceSpans) AS r
            FROM read_json_auto(?, format='newline_delimited', maximum_object_size=1000000000)),
ss AS (SELECT unnest(r.scopeSpans) AS s FROM rs),
sp AS (SELECT unnest(s.spans) AS x FROM ss),
runs AS (
  SELECT x.name AS name,
         CAST(x.endTimeUnixNano AS BIGINT) - CAST(x.startTimeUnixNano AS BIGINT) AS dur,
         coalesce(x.status.code, 0) = 2 AS failed
  FROM sp WHERE x.parentSpanId IS NULL OR x.parentSpanId = ''),
ranked AS (
  SELECT name, dur, failed, row_number() OVER (PARTITION BY name ORDER BY dur) AS rank,
         count(*) OVER (PARTITION BY name) AS n FROM runs)
SELECT name, max(n) AS runs, round(1 - avg(failed::INT), 4) AS success_rate,
       max(CASE WHEN rank = CAST(ceil(0.95 * n) AS BIGINT) THEN dur END) / 1e6 AS p95_ms
FROM ranked GROUP BY name
"""


def _child_duckdb(path: str) -> dict[str, object]:
    import duckdb

    began, cpu = time.perf_counter(), time.process_time()
    connection = duckdb.connect()
    connection.execute("SET threads TO 2")
    rows = connection.execute(_DUCKDB_QUERY, [path]).fetchall()
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    summary = {name: [runs, success, p95] for name, runs, success, p95 in rows}
    return {"wall": wall, "cpu": cpu, "rss": _vmhwm_mb(), "summary": summary}


def _run_child(kind: str, path: str, variant: str = "cli") -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--variant", variant, path],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _importable(module: str) -> bool:
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          check=False)
    return proc.returncode == 0


def _compare(path: str, rounds: int) -> None:
    sides = ["vaquero/cli"]
    if _importable("orjson"):
        sides.append("vaquero/stdlib")
    have_duckdb = _importable("duckdb")
    if have_duckdb:
        sides.append("duckdb")
    else:
        print("duckdb not installed: pip install duckdb (bench only) for the side-by-side")
    samples: dict[str, list[dict[str, object]]] = {side: [] for side in sides}
    for round_no in range(rounds):
        order = sides if round_no % 2 == 0 else list(reversed(sides))
        for side in order:
            if side == "duckdb":
                sample = _run_child("duckdb", path)
            else:
                sample = _run_child("vaquero", path, side.split("/")[1])
            samples[side].append(sample)
            worker = (f" (+ worker {sample['worker_rss']:.0f} MB)"
                      if float(sample.get("worker_rss", 0)) > 0 else "")  # type: ignore[arg-type]
            print(f"  round {round_no + 1} {side:15} wall {sample['wall']:6.2f} s  "
                  f"cpu {sample['cpu']:6.2f} s  peak RSS {sample['rss']:6.0f} MB{worker}")
    print()
    for side in sides:
        walls = [float(s["wall"]) for s in samples[side]]  # type: ignore[arg-type]
        rss = max(float(s["rss"]) for s in samples[side])  # type: ignore[arg-type]
        print(f"{side:15} median wall {statistics.median(walls):6.2f} s, peak RSS {rss:.0f} MB")
    if have_duckdb:
        duck = samples["duckdb"]
        for side in sides[:-1]:
            ratios = [float(v["wall"]) / float(d["wall"])  # type: ignore[arg-type]
                      for v, d in zip(samples[side], duck, strict=True)]
            cpu = [float(v["cpu"]) / float(d["cpu"])  # type: ignore[arg-type]
                   for v, d in zip(samples[side], duck, strict=True)]
            print(f"ratio {side} / duckdb: wall {statistics.median(ratios):.2f}x "
                  f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}), "
                  f"cpu {statistics.median(cpu):.2f}x")
        ours = samples[sides[0]][0]["summary"]
        theirs = duck[0]["summary"]
        same = ours == theirs
        print(f"per-workflow runs / success rate / p95 agree with DuckDB: {same}")
        if not same:
            print(f"  vaquero {ours}\n  duckdb  {theirs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-only", action="store_true",
                        help="one vaquero run, print its peak RSS (e.g. with --spans 1000000)")
    parser.add_argument("--shapes", action="store_true",
                        help="peak RSS of analyze and report on the worst input shapes")
    parser.add_argument("--keep", metavar="FILE", help="write the trace file here and keep it")
    parser.add_argument("--child", choices=["vaquero", "duckdb"], help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="cli", help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        sample = (_child_duckdb(args.path) if args.child == "duckdb"
                  else _child_vaquero(args.path, args.variant))
        print(json.dumps(sample))
        return

    if args.shapes:
        _shapes(args.spans)
        return
    if args.keep and os.path.exists(args.keep):
        path, made = args.keep, False
        print(f"using {path} ({os.path.getsize(path) / 1e6:,.0f} MB)")
    else:
        handle, path = tempfile.mkstemp(suffix=".jsonl") if not args.keep else (None, args.keep)
        if handle is not None:
            os.close(handle)
        made = True
        began = time.perf_counter()
        lines = generate(path, args.spans)
        print(f"generated ~{args.spans:,} spans in {lines:,} lines "
              f"({os.path.getsize(path) / 1e6:,.0f} MB) in {time.perf_counter() - began:.1f} s")
    try:
        if args.memory_only:
            for variant in ("cli",):
                sample = _run_child("vaquero", path, variant)
                print(f"vaquero/{variant}: {sample['spans']:,} spans, wall "
                      f"{sample['wall']:.2f} s, peak RSS {sample['rss']:.0f} MB")
        else:
            _compare(path, args.rounds)
    finally:
        if made and not args.keep:
            os.unlink(path)


if __name__ == "__main__":
    main()
