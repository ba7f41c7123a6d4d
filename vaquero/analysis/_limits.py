"""Every bound the analysis keeps, in one place, each with the reason for its size.

The promise (README, "Safety"): ``vaquero analyze`` and ``vaquero report`` stay within about
150 MB of memory on any input of up to a million spans, whatever its shape, and never die on
one bad record. Each limit below closes one shape that would otherwise grow without bound;
``bench/bench_analyze.py --memory-only`` measures the worst of them next to the plain
million-span file. What a limit leaves out is always counted and said, never silently lost.
"""

from __future__ import annotations

__all__ = [
    "MAX_FAILURE_PATTERNS",
    "MAX_KEPT_SPANS",
    "MAX_NOTICES",
    "MAX_RECORD_BYTES",
    "MAX_STEPS",
    "MAX_TRACE_SPANS",
    "MAX_WORKFLOWS",
]

# One JSON line (or pretty-printed document, or Jaeger answer) is parsed whole, and parsed
# JSON costs several times its text. A million spans in lines at this bound peak at 122 MB
# (bench/bench_analyze.py --shapes; 8 MiB lines took 152 MB, 16 MiB 170 MB and more), and it
# still holds the Collector's default batch of 8,192 spans at up to 750 bytes each.
MAX_RECORD_BYTES = 6 << 20
# Workflows with rows of their own. Past this many distinct (agent, name) pairs the names
# almost certainly carry ids (``GET /user/1234``); every later one is folded into one row.
MAX_WORKFLOWS = 500
# Step names per workflow with rows of their own; the rest fold into one row likewise.
MAX_STEPS = 200
# Distinct (failure, step) patterns counted per workflow (messages that carry ids again).
MAX_FAILURE_PATTERNS = 200
# Spans of one trace: a trace is looked at whole, so this bounds the largest thing in memory.
MAX_TRACE_SPANS = 50_000
# Spans of all the example traces a report keeps for its waterfalls, together (a waterfall
# draws at most 300 rows, a page 20,000): past it, the later examples are not kept, and said.
MAX_KEPT_SPANS = 50_000
# Notices kept for the user (one per failing Jaeger service, ...); the rest are counted.
MAX_NOTICES = 20
