"""Process lifecycle: fork, multiprocessing, exit codes and SIGTERM, against a real receiver.

Every case is a real program in a fresh interpreter exporting over OTLP to an in-test
``OtlpReceiver``. The export queue's schedule delay is set to 30 s, so a span can only reach
the receiver through the path under test (exit, fork child exit, SIGTERM, worker finalizer),
never because the worker happened to wake up first.
"""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_env, run_python
from otlp_receiver import OtlpReceiver, SpanRecord

PROTOCOLS = {"grpc": "grpc", "http": "http/protobuf"}




def _env(rx: OtlpReceiver | None, protocol: str = "grpc", **extra: str) -> dict[str, str]:
    if rx is None:
        endpoint = "http://127.0.0.1:9"  # discard port: nothing listens
    else:
        endpoint = rx.grpc_endpoint if protocol == "grpc" else rx.http_endpoint
    return clean_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=PROTOCOLS[protocol],
        OTEL_BSP_SCHEDULE_DELAY="30000",
        OTEL_SERVICE_NAME="lifecycle-test",
        **extra,
    )


def _run(
    tmp_path: Path, code: str, env: dict[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return run_python(code, env=env, timeout=timeout, cwd=tmp_path, script=tmp_path / "app.py")


def _names(spans: list[SpanRecord]) -> collections.Counter[str]:
    return collections.Counter(span.name for span in spans)


def _exactly(rx: Any, names: dict[str, int]) -> list[Any]:
    """The spans named (so many of each) all arrive, and no duplicate follows within 1 s."""
    total = sum(names.values())
    assert rx.wait_for_spans(total, timeout=10)
    assert rx.no_more_spans_than(total, within=1.0)  # a duplicate would arrive
    spans = rx.spans()
    assert _names(spans) == names
    return spans


def _assert_each_span_once(spans: list[SpanRecord]) -> None:
    ids = collections.Counter(span.span_id for span in spans)
    assert [span_id for span_id, n in ids.items() if n > 1] == []


# --- fork ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_os_fork_child_exports_its_own_spans_and_never_the_parents(rx, tmp_path, protocol):
    code = """
        import os, sys, vaquero
        with vaquero.span("warm"):
            pass
        assert vaquero.flush(10)  # the transport is connected before the fork
        with vaquero.span("parent-queued"):
            pass
        pid = os.fork()
        if pid == 0:
            for i in range(3):
                with vaquero.span("child"):
                    pass
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        with vaquero.span("parent-after"):
            pass
        sys.exit(os.waitstatus_to_exitcode(status))
    """
    result = _run(tmp_path, code, _env(rx, protocol))
    assert result.returncode == 0, result.stderr
    spans = _exactly(rx, {"warm": 1, "parent-queued": 1, "child": 3, "parent-after": 1})
    _assert_each_span_once(spans)
    assert result.stderr == ""


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("child_exit", ["sys.exit(0)", "raise RuntimeError('child failed')"])
def test_a_fork_inside_an_open_span_exports_that_span_once(rx, tmp_path, protocol, child_exit):
    """The child leaves the inherited ``with`` blocks (ending its copies of the open spans);
    only the parent, which started them, exports them."""
    code = f"""
        import os, sys, vaquero
        with vaquero.span("warm"):
            pass
        assert vaquero.flush(10)
        with vaquero.span("outer"):
            with vaquero.span("inner"):
                pid = os.fork()
                if pid == 0:
                    with vaquero.span("child"):
                        pass
                    try:
                        {child_exit}
                    finally:
                        vaquero.flush(10)
                _, status = os.waitpid(pid, 0)
        sys.exit(0)
    """
    result = _run(tmp_path, code, _env(rx, protocol))
    assert result.returncode == 0, result.stderr
    spans = _exactly(rx, {"warm": 1, "outer": 1, "inner": 1, "child": 1})
    _assert_each_span_once(spans)
    by_name = {span.name: span for span in spans}
    assert by_name["child"].parent_span_id == by_name["inner"].span_id
    assert by_name["inner"].status_code != "ERROR"  # the child's failure is not the parent's


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_prefork_server_workers_export_and_exit_cleanly(rx, tmp_path, protocol):
    """gunicorn's shape: configure, fork N workers, each serves and leaves via sys.exit."""
    code = """
        import os, sys, vaquero
        vaquero.init()
        with vaquero.span("master-boot"):
            pass
        workers = []
        for n in range(3):
            pid = os.fork()
            if pid == 0:
                try:
                    for request in range(2):
                        with vaquero.span("request", worker=n, request=request):
                            pass
                    sys.exit(0)
                finally:
                    sys.stdout.flush()
            workers.append(pid)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in workers]
        assert codes == [0, 0, 0], codes
    """
    result = _run(tmp_path, code, _env(rx, protocol))
    assert result.returncode == 0, result.stderr
    spans = _exactly(rx, {"master-boot": 1, "request": 6})
    served = sorted(
        (s.attributes["worker"], s.attributes["request"]) for s in spans if s.name == "request"
    )
    assert served == [(n, r) for n in range(3) for r in range(2)]
    _assert_each_span_once(spans)


MP_CODE = """
    import multiprocessing, os, sys, vaquero

    def task(n):
        with vaquero.span("task", n=n):
            pass
        return os.getpid()

    def proc(n):
        with vaquero.span("process", n=n):
            pass

    if __name__ == "__main__":
        ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else "{method}")
        with vaquero.span("parent-queued"):
            pass
        {body}
"""


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_multiprocessing_process_children_export(rx, tmp_path, method, protocol):
    body = """
        children = [ctx.Process(target=proc, args=(n,)) for n in range(2)]
        for child in children:
            child.start()
        for child in children:
            child.join(20)
        assert [c.exitcode for c in children] == [0, 0]
    """
    code = MP_CODE.format(method=method, body=textwrap.indent(textwrap.dedent(body), " " * 8))
    result = _run(tmp_path, code, _env(rx, protocol))
    assert result.returncode == 0, result.stderr
    spans = _exactly(rx, {"parent-queued": 1, "process": 2})
    _assert_each_span_once(spans)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_workers_ending_with_os_exit_still_deliver(rx, tmp_path, method):
    """close()+join(): workers return from _bootstrap and leave by os._exit, skipping atexit."""
    body = """
        pool = ctx.Pool(2)
        pids = pool.map(task, range(6))
        pool.close()
        pool.join()
    """
    code = MP_CODE.format(method=method, body=textwrap.indent(textwrap.dedent(body), " " * 8))
    result = _run(tmp_path, code, _env(rx))
    assert result.returncode == 0, result.stderr
    spans = _exactly(rx, {"parent-queued": 1, "task": 6})
    assert sorted(s.attributes["n"] for s in spans if s.name == "task") == list(range(6))
    _assert_each_span_once(spans)


def test_pool_terminated_by_context_manager_still_delivers(rx, tmp_path):
    """``with Pool()`` ends in terminate(): workers get SIGTERM, inherited from the parent."""
    body = """
        with ctx.Pool(2) as pool:
            pool.map(task, range(4))
    """
    code = MP_CODE.format(method="fork", body=textwrap.indent(textwrap.dedent(body), " " * 8))
    result = _run(tmp_path, code, _env(rx))
    assert result.returncode == 0, result.stderr
    spans = _exactly(rx, {"parent-queued": 1, "task": 4})
    _assert_each_span_once(spans)


# --- exit ----------------------------------------------------------------------------------------
def test_normal_exit_keeps_exit_code_and_stderr_empty(rx, tmp_path):
    code = """
        import sys, vaquero
        with vaquero.span("last"):
            pass
        sys.exit(3)
    """
    result = _run(tmp_path, code, _env(rx))
    assert result.returncode == 3
    assert result.stderr == ""
    assert rx.wait_for_spans(1, timeout=10)
    assert _names(rx.spans()) == {"last": 1}


# --- SIGTERM -------------------------------------------------------------------------------------
SIGTERM_CODE = """\
import faulthandler, signal, sys, time, vaquero, vaquero._pipeline.lifecycle
faulthandler.register(signal.SIGUSR1, all_threads=True)
{before}
for i in range(5):
    with vaquero.span("queued", i=i):
        pass
{after}
lifecycle = vaquero._pipeline.lifecycle
print("installed" if lifecycle.is_sigterm_handler_installed() else "not-installed")
print("ready", flush=True)
time.sleep(60)
"""


def _run_until_sigterm(
    tmp_path: Path, env: dict[str, str], before: str = "", after: str = ""
) -> tuple[int, str, str, float]:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(SIGTERM_CODE.format(before=before, after=after)))
    process = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip(), process.stdout.readline().strip()]
        assert lines[1] == "ready", (lines, process.stderr.read() if process.stderr else "")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)  # faulthandler: every thread's stack
            time.sleep(1)
            process.kill()
            _, err = process.communicate()
            raise AssertionError(f"no exit 30 s after SIGTERM; stacks:\n{err}") from None
        return process.returncode, lines[0] + "\n" + out, err, time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sigterm_flushes_queued_spans_and_still_dies_by_sigterm(rx, tmp_path):
    code, out, err, _ = _run_until_sigterm(tmp_path, _env(rx))
    assert code == -signal.SIGTERM
    assert out.startswith("installed"), out
    assert rx.wait_for_spans(5, timeout=10)
    assert sorted(s.attributes["i"] for s in rx.spans()) == list(range(5))
    assert err == ""


def test_sigterm_with_collector_down_ends_within_the_shutdown_budget(tmp_path):
    # Contract, not speed: a 2 s shutdown budget must end the process well within 6 s.
    code, _, _, elapsed = _run_until_sigterm(tmp_path, _env(None, VAQUERO_SHUTDOWN_TIMEOUT="2"))
    assert code == -signal.SIGTERM
    assert elapsed < 6


APP_HANDLER = """
    def on_term(signum, frame):
        print("app-handler", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
"""


def test_application_handler_installed_first_is_kept(rx, tmp_path):
    code, out, _, _ = _run_until_sigterm(tmp_path, _env(rx), before=textwrap.dedent(APP_HANDLER))
    assert out.splitlines()[0] == "not-installed"
    assert "app-handler" in out
    assert code == 0  # the application's handler decided how to exit
    assert rx.wait_for_spans(5, timeout=10)  # its sys.exit ran atexit, which flushed


def test_application_handler_installed_later_wins(rx, tmp_path):
    code, out, _, _ = _run_until_sigterm(tmp_path, _env(rx), after=textwrap.dedent(APP_HANDLER))
    assert out.splitlines()[0] == "not-installed"
    assert "app-handler" in out
    assert code == 0
    assert rx.wait_for_spans(5, timeout=10)


def test_first_span_on_another_thread_still_flushes_on_sigterm(rx, tmp_path):
    # Setup runs on the thread of the first span, where no handler can be installed; the
    # handler taken at import (main thread) covers it (issue 11: sync endpoints in servers).
    before = """
    import threading

    def first_span():
        with vaquero.span("on-a-thread"):
            pass

    worker = threading.Thread(target=first_span)
    worker.start()
    worker.join()
    """
    code, out, _, _ = _run_until_sigterm(tmp_path, _env(rx), before=textwrap.dedent(before))
    assert out.splitlines()[0] == "installed"
    assert code == -signal.SIGTERM
    assert rx.wait_for_spans(6, timeout=10)
    assert _names(rx.spans()) == {"on-a-thread": 1, "queued": 5}
