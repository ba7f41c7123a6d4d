"""Work handed to threads keeps its parent span and agent name; unrelated work does not."""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import file_env, read_trace_file, run_python

import vaquero
from vaquero.testing import capture_spans


def _child(label: str) -> str:
    with vaquero.span("child", label=label) as handle:
        return handle.span_id


def test_first_span_configures_lazily_and_its_pool_work_keeps_the_parent(tmp_path: Path):
    """Zero-config: the pool exists before vaquero is configured; the first span sets it up."""
    traces = tmp_path / "traces.jsonl"
    result = run_python(
        """
        from concurrent.futures import ThreadPoolExecutor
        import vaquero

        pool = ThreadPoolExecutor(max_workers=2)

        def work():
            with vaquero.span("pooled"):
                pass

        with vaquero.span("first", agent_name="planner"):
            pool.submit(work).result()
        pool.shutdown()
        """,
        env=file_env(traces),
    )
    assert result.returncode == 0, result.stderr
    spans = {span["name"]: span for span in read_trace_file(traces)}
    first, pooled = spans["first"], spans["pooled"]
    assert pooled["traceId"] == first["traceId"]
    assert pooled["parentSpanId"] == first["spanId"]
    assert pooled["attrs"]["gen_ai.agent.name"] == "planner"


def test_submit_and_map_keep_the_parent_and_its_agent_name():
    with capture_spans() as spans, ThreadPoolExecutor(max_workers=4) as pool:
        with vaquero.span("dispatch", agent_name="dispatcher"):
            pool.submit(_child, "submitted").result()
            list(pool.map(_child, ["mapped-1", "mapped-2"]))
    dispatch = spans.one("dispatch")
    children = spans.named("child")
    assert sorted(c.attributes["label"] for c in children) == ["mapped-1", "mapped-2", "submitted"]
    for child in children:
        assert child.parent is dispatch
        assert child.agent == "dispatcher"


def test_run_in_executor_and_to_thread_keep_the_parent():
    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with vaquero.span("async_parent", agent_name="async_agent"):
            await loop.run_in_executor(None, _child, "default-executor")
            with ThreadPoolExecutor(max_workers=1) as pool:
                await loop.run_in_executor(pool, _child, "own-executor")
            await asyncio.to_thread(_child, "to-thread")

    with capture_spans() as spans:
        asyncio.run(main())
    parent = spans.one("async_parent")
    children = spans.named("child")
    assert len(children) == 3
    for child in children:
        assert child.parent is parent, child.attributes
        assert child.agent == "async_agent"


def test_a_thousand_concurrent_submissions_each_find_their_own_parent():
    """Eight threads each open 125 parent spans and submit from inside them to one shared pool."""
    expected: dict[str, str] = {}  # child label -> parent span id
    lock = threading.Lock()
    start = threading.Barrier(8)

    def submitter(pool: ThreadPoolExecutor, worker: int) -> list[object]:
        futures = []
        start.wait()
        for n in range(125):
            label = f"{worker}-{n}"
            with vaquero.span("parent", agent_name=f"agent-{worker}") as parent:
                with lock:
                    expected[label] = parent.span_id
                futures.append(pool.submit(_child, label))
        return [future.result() for future in futures]

    with capture_spans() as spans:
        with ThreadPoolExecutor(max_workers=16) as pool, ThreadPoolExecutor(8) as submitters:
            jobs = [submitters.submit(submitter, pool, w) for w in range(8)]
            for job in jobs:
                job.result()
    children = spans.named("child")
    assert len(children) == 1000
    assert len(spans.named("parent")) == 1000
    for child in children:
        label = child.attributes["label"]
        assert child.parent_span_id == expected[label], label
        assert child.agent == f"agent-{label.split('-')[0]}"


def test_work_submitted_outside_any_span_is_a_root():
    with capture_spans() as spans, ThreadPoolExecutor(max_workers=1) as pool:
        with vaquero.span("earlier"):
            pool.submit(_child, "inside").result()
        # Same (single) worker thread, nothing current at submission: no inherited parent.
        pool.submit(_child, "outside").result()
        thread = threading.Thread(target=_child, args=("thread",))
        thread.start()
        thread.join()
    by_label = {c.attributes["label"]: c for c in spans.named("child")}
    assert by_label["inside"].parent is spans.one("earlier")
    for label in ("outside", "thread"):
        assert by_label[label].parent_span_id is None
        assert by_label[label].trace_id != by_label["inside"].trace_id
        assert by_label[label].agent is None


def test_a_plain_thread_continues_a_span_when_told_to():
    def work(parent) -> None:
        with vaquero.span("child", parent=parent, label="thread"):
            pass

    with capture_spans() as spans:
        with vaquero.span("spawner", agent_name="spawner_agent") as spawner:
            thread = threading.Thread(target=work, args=(spawner,))
            thread.start()
        thread.join()
    child = spans.one("child")
    assert child.parent is spans.one("spawner")
    assert child.agent == "spawner_agent"


def test_a_long_lived_thread_started_in_one_request_does_not_parent_later_jobs():
    """Context follows submitted work, not the lifetime of a thread (a library's worker)."""
    jobs: queue.Queue = queue.Queue()

    def library_worker() -> None:
        while (label := jobs.get()) is not None:
            _child(label)
            jobs.task_done()

    with capture_spans() as spans, ThreadPoolExecutor(max_workers=1) as pool:
        worker = None
        for request in range(3):
            with vaquero.span("request", n=request):
                if worker is None:  # started lazily inside request #0
                    worker = threading.Thread(target=library_worker, daemon=True)
                    worker.start()
                jobs.put(f"job-{request}")
                jobs.join()
                pool.submit(_child, f"task-{request}").result()
        jobs.put(None)
        worker.join()
    requests = {s.attributes["n"]: s for s in spans.named("request")}
    by_label = {c.attributes["label"]: c for c in spans.named("child")}
    for request in range(3):
        # Work on the library's thread is not parented to request #0 (or any request) ...
        assert by_label[f"job-{request}"].parent_span_id is None
        # ... while work submitted to a pool follows its submitter.
        assert by_label[f"task-{request}"].parent is requests[request]


def test_unrelated_asyncio_tasks_and_executor_calls_do_not_share_spans():
    async def main() -> None:
        loop = asyncio.get_running_loop()
        opened, release = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            async with vaquero.span("held_open", agent_name="holder_agent"):
                await loop.run_in_executor(None, _child, "inside")
                opened.set()
                await release.wait()

        async def bystander() -> None:
            await opened.wait()  # runs while "held_open" is current in the other task
            await loop.run_in_executor(None, _child, "bystander")
            release.set()

        await asyncio.gather(asyncio.create_task(holder()), asyncio.create_task(bystander()))
        await loop.run_in_executor(None, _child, "after")

    with capture_spans() as spans:
        asyncio.run(main())
    by_label = {c.attributes["label"]: c for c in spans.named("child")}
    assert by_label["inside"].parent is spans.one("held_open")
    for label in ("bystander", "after"):
        assert by_label[label].parent_span_id is None, label
        assert by_label[label].agent is None
