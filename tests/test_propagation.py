"""A trace continues across queues, subprocesses and process pools through inject/extract."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from conftest import file_env, read_trace_file
from opentelemetry import context as otel_context

import vaquero
from vaquero.testing import capture_spans


# --- inject / extract -------------------------------------------------------------------------
def test_inject_outside_a_span_writes_nothing():
    assert vaquero.inject() == {}


def test_inject_writes_w3c_traceparent_into_the_given_carrier():
    with capture_spans(), vaquero.span("producer") as producer:
        carrier = {"existing": "kept"}
        returned = vaquero.inject(carrier)
    assert returned is carrier
    assert carrier["existing"] == "kept"
    version, trace_id, span_id, flags = carrier["traceparent"].split("-")
    assert (version, trace_id, span_id) == ("00", producer.trace_id, producer.span_id)
    assert int(flags, 16) & 0x01  # sampled


def test_extract_gives_a_context_span_parent_accepts():
    with capture_spans() as spans:
        with vaquero.span("producer"):
            carrier = vaquero.inject()
        context = vaquero.extract(carrier)
        assert isinstance(context, otel_context.Context)
        with vaquero.span("from_context", parent=context):
            pass
        with vaquero.span("from_carrier", parent=carrier):
            pass
    producer = spans.one("producer")
    for name in ("from_context", "from_carrier"):
        assert spans.one(name).parent is producer


def test_extract_of_garbage_is_an_empty_context_and_a_new_trace():
    with capture_spans() as spans:
        with vaquero.span("consumer", parent=vaquero.extract({"traceparent": "nonsense"})):
            pass
    assert spans.one("consumer").parent_span_id is None


# --- asyncio.Queue ----------------------------------------------------------------------------
def _queue_round_trip(link: bool) -> Any:
    async def producer(queue: asyncio.Queue[dict[str, Any]]) -> None:
        for n in range(3):
            async with vaquero.span("publish", n=n):
                await queue.put({"n": n, "trace": vaquero.inject()})
        await queue.put({"n": None})

    async def consumer(queue: asyncio.Queue[dict[str, Any]]) -> None:
        while (message := await queue.get())["n"] is not None:
            if link:
                scope = vaquero.span("handle", links=[message["trace"]], n=message["n"])
            else:
                scope = vaquero.span("handle", parent=message["trace"], n=message["n"])
            async with scope:
                await asyncio.sleep(0)

    async def main() -> None:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        # The consumer starts first, outside any span: only the message carries the trace.
        consuming = asyncio.create_task(consumer(queue))
        await producer(queue)
        await consuming

    with capture_spans() as spans:
        asyncio.run(main())
    return spans


def test_a_consumer_continues_the_producers_trace_across_an_asyncio_queue():
    spans = _queue_round_trip(link=False)
    publishes = {s.attributes["n"]: s for s in spans.named("publish")}
    for handle in spans.named("handle"):
        assert handle.parent is publishes[handle.attributes["n"]]
        assert handle.trace_id == publishes[handle.attributes["n"]].trace_id


def test_a_consumer_can_link_to_its_producer_instead():
    spans = _queue_round_trip(link=True)
    publishes = {s.attributes["n"]: s for s in spans.named("publish")}
    handles = spans.named("handle")
    assert len(handles) == 3
    for handle in handles:
        producer = publishes[handle.attributes["n"]]
        assert handle.parent_span_id is None
        assert handle.trace_id != producer.trace_id
        assert handle.links == [(producer.trace_id, producer.span_id)]


# --- a real subprocess ------------------------------------------------------------------------
_CHILD = textwrap.dedent(
    """
    import json, sys
    import vaquero

    message = json.load(sys.stdin)
    if message["mode"] == "parent":
        scope = vaquero.span("child_work", parent=message["trace"], job=message["job"])
    else:
        scope = vaquero.span("child_work", links=[message["trace"]], job=message["job"])
    with scope:
        with vaquero.span("child_step"):
            pass
    """
)


def _run_child(tmp_path: Path, mode: str) -> tuple[Any, list[dict[str, Any]]]:
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    traces = tmp_path / f"child-{mode}.jsonl"
    with capture_spans(), vaquero.span("producer") as producer:
        message = {"mode": mode, "job": 7, "trace": vaquero.inject()}
        result = subprocess.run(
            [sys.executable, str(script)],
            input=json.dumps(message),
            env=file_env(traces),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return producer, read_trace_file(traces)


def test_a_subprocess_continues_the_trace_from_a_carrier_on_stdin(tmp_path: Path):
    producer, spans = _run_child(tmp_path, "parent")
    by_name = {s["name"]: s for s in spans}
    work, step = by_name["child_work"], by_name["child_step"]
    assert work["traceId"] == producer.trace_id
    assert work["parentSpanId"] == producer.span_id
    assert work["attrs"]["job"] == 7
    assert step["parentSpanId"] == work["spanId"]
    assert step["traceId"] == producer.trace_id


def test_a_subprocess_can_link_to_the_producer(tmp_path: Path):
    producer, spans = _run_child(tmp_path, "link")
    work = next(s for s in spans if s["name"] == "child_work")
    assert "parentSpanId" not in work
    assert work["traceId"] != producer.trace_id
    assert [(link["traceId"], link["spanId"]) for link in work["links"]] == [
        (producer.trace_id, producer.span_id)
    ]


# --- process pools and multiprocessing (spawn) ------------------------------------------------
def _pool_worker(carrier: dict[str, str], traces: str, label: str) -> str:
    """Runs in a spawned interpreter: nothing is inherited but the carrier."""
    vaquero.init(exporters=["vaquero_file"], traces_file=traces, service_name="worker")
    with vaquero.span("worker_task", parent=carrier, label=label) as handle:
        span_id = handle.span_id
    vaquero.flush()  # pool workers leave through os._exit: atexit handlers never run
    return span_id


def test_process_pool_and_multiprocessing_continue_the_trace(tmp_path: Path):
    traces = tmp_path / "workers.jsonl"
    spawn = multiprocessing.get_context("spawn")
    with capture_spans(), vaquero.span("fan_out") as parent:
        carrier = vaquero.inject()
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            pool_span_id = pool.submit(_pool_worker, carrier, str(traces), "pool").result(60)
        process = spawn.Process(target=_pool_worker, args=(carrier, str(traces), "process"))
        process.start()
        process.join(60)
    assert process.exitcode == 0
    workers = {s["attrs"]["label"]: s for s in read_trace_file(traces)}
    assert set(workers) == {"pool", "process"}
    assert workers["pool"]["spanId"] == pool_span_id
    for worker in workers.values():
        assert worker["traceId"] == parent.trace_id
        assert worker["parentSpanId"] == parent.span_id
