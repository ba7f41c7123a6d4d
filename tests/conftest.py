"""Shared test setup.

In-process tests observe spans through ``vaquero.testing.capture_spans`` (synchronous), so
the process-wide pipeline exports nowhere: no test depends on a collector or a thread.
Tests about configuration, exporters and exit behaviour run in real subprocesses instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import live_stack as live_stack_module
import pytest
from otlp_receiver import OtlpReceiver

os.environ.setdefault("OTEL_TRACES_EXPORTER", "none")
os.environ.setdefault("OTEL_METRICS_EXPORTER", "none")
os.environ.pop("OTEL_SDK_DISABLED", None)
# vaquero contains its own faults in production; under its test suite they must fail loudly.
os.environ["VAQUERO_STRICT_INTERNAL_ERRORS"] = "1"

ROOT = Path(__file__).resolve().parent.parent


# The root span of each workflow `vaquero demo` runs (the five examples of the seed docs).
DEMO_WORKFLOW_ROOTS = {
    "register_user_workflow",
    "process_user_batch",
    "StateMachineWorkflow.execute",
    "EventDrivenWorkflow.start_workflow",
    "nightly_analytics_run",
}


def clean_env(**overrides: str) -> dict[str, str]:
    """The environment for a subprocess: no OTEL_/VAQUERO_ leftovers, plus ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "VAQUERO_"))
    }
    env.update(overrides)
    return env


def file_env(traces: Path | str, **overrides: str) -> dict[str, str]:
    """``clean_env`` with vaquero's OTLP-JSON-lines file exporter writing to ``traces``."""
    return clean_env(
        OTEL_TRACES_EXPORTER="vaquero_file", VAQUERO_TRACES_FILE=str(traces), **overrides
    )


def run_python(
    code: str,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
    script: Path | None = None,
    launcher: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (dedented) in a fresh interpreter and capture its output: the one way the
    tests start a Python subprocess.

    ``script`` writes the code to that file and runs the file instead of ``-c`` (spawn and
    forkserver children must be able to import ``__main__``); ``launcher`` runs it under a
    wrapper command such as ``opentelemetry-instrument`` (which then gets ``python``).
    """
    source = textwrap.dedent(code)
    if script is not None:
        script.write_text(source)
        target = [str(script)]
    else:
        target = ["-c", source]
    command = [*launcher, sys.executable, *target]
    return subprocess.run(
        command,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


@pytest.fixture(scope="session")
def live_stack() -> Iterator[live_stack_module.Stack]:
    """The real Collector + Jaeger + Prometheus of ci/stack, up for the live tests.

    Started if it is not running, and stopped at the end only if this run started it.
    """
    live_stack_module.skip_unless_built()
    was_running = live_stack_module.is_running()
    stack = live_stack_module.Stack(live_stack_module.stack_command("up"))
    yield stack
    if not was_running:
        live_stack_module.stack_command("down")


@pytest.fixture
def contained_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests that provoke faults on purpose: vaquero contains them, as in production."""
    monkeypatch.delenv("VAQUERO_STRICT_INTERNAL_ERRORS", raising=False)


@pytest.fixture
def python_runner():
    return run_python


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP receiver on 127.0.0.1 shared by a test module (see otlp_receiver.py)."""
    with OtlpReceiver() as started:
        yield started


@pytest.fixture
def rx(receiver: OtlpReceiver) -> OtlpReceiver:
    """The module's receiver, emptied for this test."""
    receiver.clear()
    return receiver


@contextmanager
def serve_http(handler: type) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 with ``handler``; yields its base URL."""
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # shutdown() waits for the serving loop's next poll: the default 0.5 s made each test
    # with a server idle half a second in teardown (8 s of the fast loop).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _plain(value: dict) -> object:
    """An OTLP/JSON AnyValue as a plain Python value."""
    if "arrayValue" in value:
        return [_plain(item) for item in value["arrayValue"].get("values", [])]
    if "intValue" in value:
        return int(value["intValue"])
    return next(iter(value.values()), None)


def read_trace_file(path: Path) -> list[dict]:
    """Every span of an OTLP/JSON-lines file, with ``attrs`` and ``resource`` as plain dicts."""
    import json

    spans = []
    for line in Path(path).read_text().splitlines():
        for resource_spans in json.loads(line)["resourceSpans"]:
            resource = {
                a["key"]: _plain(a["value"])
                for a in resource_spans.get("resource", {}).get("attributes", [])
            }
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    attributes = span.get("attributes", [])
                    span["attrs"] = {a["key"]: _plain(a["value"]) for a in attributes}
                    span["resource"] = resource
                    spans.append(span)
    return spans


# Tests that start subprocesses, servers or a browser: `pytest -m "not slow"` leaves them out
# (CONTRIBUTING.md, the fast loop). A test is slow if it uses one of these fixtures, lives in
# one of these modules, or its own source starts a process, a server or the CLI.
_SLOW_FIXTURES = {"python_runner", "receiver", "rx", "pytester"}
_SLOW_MODULES = {
    "test_faults_lifecycle.py",
    "test_faults_memory.py",
    "test_report_browser.py",
    "test_stack_config.py",
    "test_demo.py",
    "test_examples.py",
    "test_wire.py",
    "test_wire_tls.py",
    "test_readme_commands.py",
}


_SPAWNS = (
    "run_python(", "subprocess.", "sys.executable", "OtlpReceiver(", "_run(", "_run_child(",
    "_cli(", "_exported(", "multiprocessing",
)


def _spawns_processes(item: pytest.Item) -> bool:
    import inspect

    function = getattr(item, "function", None)
    try:
        source = inspect.getsource(function) if function is not None else ""
    except (OSError, TypeError):
        return False
    return any(marker in source for marker in _SPAWNS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if (
            fixtures & _SLOW_FIXTURES
            or item.path.name in _SLOW_MODULES
            or _spawns_processes(item)
        ):
            item.add_marker(pytest.mark.slow)


def _printable(text: str) -> str:
    """``text`` with lone surrogates escaped (``\\udfff``), so it encodes as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Several tests log or print lone surrogates on purpose (what vaquero must survive);
    under pytest-xdist a report crosses from worker to controller as UTF-8, and one such
    captured line would kill the worker. Escape them before the report is sent."""
    report.sections = [(title, _printable(text)) for title, text in report.sections]
    if isinstance(report.longrepr, str):
        report.longrepr = _printable(report.longrepr)
