"""vaquero carries the context into threads without importing the threading instrumentation,
and defers to that instrumentation when something already loaded it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import clean_env, read_trace_file, run_python
from opentelemetry import context as otel_context

from vaquero._pipeline import thread_context

PROGRAM = """
import sys, threading
from concurrent.futures import ThreadPoolExecutor
{before}
import vaquero

def work(label):
    with vaquero.span(label):
        pass

with vaquero.span("first", agent_name="planner"):
    pool = ThreadPoolExecutor(max_workers=2)
    pool.submit(work, "pooled").result()
    pool.shutdown()
    thread = threading.Thread(target=work, args=("threaded",))
    thread.start(); thread.join()
    timer = threading.Timer(0.0, work, args=("timed",))
    timer.start(); timer.join()
print("instrumentation imported:", "opentelemetry.instrumentation.threading" in sys.modules)
from vaquero._pipeline import thread_context
print("vaquero patches:", thread_context.installed())
"""


def _run(tmp_path: Path, before: str = "") -> tuple[str, dict[str, dict]]:
    traces = tmp_path / "traces.jsonl"
    result = run_python(
        PROGRAM.format(before=before),
        env=clean_env(OTEL_TRACES_EXPORTER="vaquero_file", VAQUERO_TRACES_FILE=str(traces)),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, {span["name"]: span for span in read_trace_file(traces)}


def _assert_children_of_first(spans: dict[str, dict]) -> None:
    first = spans["first"]
    for name in ("pooled", "threaded", "timed"):
        assert spans[name]["traceId"] == first["traceId"], name
        assert spans[name]["parentSpanId"] == first["spanId"], name
        assert spans[name]["attrs"]["gen_ai.agent.name"] == "planner", name


def test_threads_timers_and_pools_keep_the_parent_without_the_instrumentation(tmp_path: Path):
    stdout, spans = _run(tmp_path)
    _assert_children_of_first(spans)
    assert "instrumentation imported: False" in stdout
    assert "vaquero patches: True" in stdout


def test_an_already_loaded_instrumentation_is_used_instead(tmp_path: Path):
    stdout, spans = _run(
        tmp_path, before="import opentelemetry.instrumentation.threading  # as instrument does"
    )
    _assert_children_of_first(spans)
    assert "vaquero patches: False" in stdout


def test_install_is_idempotent_and_uninstall_restores_the_originals():
    was_installed = thread_context.installed()
    thread_context.uninstall()
    originals = (threading.Thread.start, threading.Thread.run, ThreadPoolExecutor.submit)
    try:
        thread_context.install()
        thread_context.install()
        patched = (threading.Thread.start, threading.Thread.run, ThreadPoolExecutor.submit)
        assert all(p is not o for p, o in zip(patched, originals))
        key = otel_context.create_key("probe")
        token = otel_context.attach(otel_context.set_value(key, "outer"))
        try:
            seen: list[object] = []
            worker = threading.Thread(target=lambda: seen.append(otel_context.get_value(key)))
            worker.start()
            worker.join()
            with ThreadPoolExecutor(max_workers=1) as pool:
                seen.append(pool.submit(otel_context.get_value, key).result())
        finally:
            otel_context.detach(token)
        assert seen == ["outer", "outer"]
        thread_context.uninstall()
        assert (threading.Thread.start, threading.Thread.run, ThreadPoolExecutor.submit) == (
            originals
        )
    finally:
        if was_installed:
            thread_context.install()
