"""The real trace stack (ci/stack/{build,up,down}) as the live tests see it.

The live tests (``pytest -m live``) run the Collector and Jaeger that ``ci/stack/build`` built
from Go modules, on 127.0.0.1, from the repository's own config files. Where the programs are
not built, every live test skips with one line naming ``ci/stack/build``; under
``VAQUERO_LIVE_REQUIRED=1`` (set by ``.ci/run``) that skip is a failure instead, so CI can
never pass by running none of them.

The stack is shared by the live test modules of one run, which therefore never run in
parallel with each other (they restart its programs on purpose).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
STACK = ROOT / "ci" / "stack"
BIN = ROOT / ".stack" / "bin"
#: The tests' stack runs on the compose ports plus this, with its own pids and data, so it
#: never meets a stack a developer started with ci/stack/up, nor a test that needs the
#: default OTLP port closed.
PORT_OFFSET = "10000"
RUN = ROOT / ".stack" / f"run-{PORT_OFFSET}"
REQUIRED = os.environ.get("VAQUERO_LIVE_REQUIRED") == "1"
BUILD_HINT = "the live stack is not built: run ci/stack/build (Go 1.26 and the Go module proxy)"

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
T = TypeVar("T")


def open_url(url: str, timeout: float = 60) -> Any:
    """GET ``url`` on the loopback stack, never through a proxy the environment names.

    Generous by default: a search that loads thousands of traces takes seconds on a busy
    machine."""
    return _NO_PROXY.open(url, timeout=timeout)


def get_json(url: str, timeout: float = 60) -> Any:
    """GET ``url`` (see :func:`open_url`) and decode its JSON body."""
    with open_url(url, timeout) as response:
        return json.loads(response.read())


def skip_unless_built() -> None:
    """Skip (or, in CI, fail) when ``ci/stack/build`` has not produced the binaries."""
    check = subprocess.run([str(STACK / "build"), "--check"], capture_output=True, text=True)
    if check.returncode != 0:
        if REQUIRED:
            pytest.fail(f"{BUILD_HINT} ({check.stderr.strip()})", pytrace=False)
        pytest.skip(BUILD_HINT)


def is_running() -> bool:
    """Whether ``ci/stack/up`` left a stack running (its env file is there and the pids live)."""
    if not (RUN / "env").exists():
        return False
    return all(_alive(RUN / f"{name}.pid") for name in ("otelcol", "jaeger"))


def _alive(pid_file: Path) -> bool:
    try:
        return Path(f"/proc/{int(pid_file.read_text())}").exists()
    except (OSError, ValueError):
        return False


def _parse(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


@contextmanager
def _lock() -> Iterator[None]:
    """One ``up``/``down`` at a time across pytest processes (xdist workers)."""
    RUN.mkdir(parents=True, exist_ok=True)
    with (RUN.parent / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stack_command(name: str, *args: str) -> dict[str, str]:
    """Run ``ci/stack/NAME ARGS``; its ``KEY=VALUE`` lines as a dict; fail with its stderr."""
    with _lock():
        done = subprocess.run(
            [str(STACK / name), *args], capture_output=True, text=True, timeout=120,
            env={**os.environ, "STACK_PORT_OFFSET": PORT_OFFSET},
        )
    if done.returncode != 0:
        pytest.fail(f"ci/stack/{name} {' '.join(args)} failed:\n{done.stderr}", pytrace=False)
    return _parse(done.stdout)


@dataclass
class Stack:
    """A running stack: its published addresses, and its processes for fault tests."""

    values: dict[str, str]

    @property
    def otlp_grpc(self) -> str:
        return self.values["OTLP_GRPC"]

    @property
    def otlp_http(self) -> str:
        return self.values["OTLP_HTTP"]

    @property
    def jaeger_url(self) -> str:
        return self.values["JAEGER_URL"]

    @property
    def prometheus_url(self) -> str:
        return self.values["PROMETHEUS_URL"]

    def pid(self, program: str) -> int:
        return int((RUN / f"{program}.pid").read_text())

    def kill(self, program: str, signum: int = signal.SIGTERM) -> None:
        """Stop one program of the stack the way an operator or the OOM killer would."""
        pid = self.pid(program)
        os.kill(pid, signum)
        deadline = time.monotonic() + 15
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
            if state == "Z":
                break
            time.sleep(0.05)

    def restart_missing(self, *args: str) -> None:
        """``ci/stack/up`` again: it starts exactly the programs that are not running."""
        self.values = stack_command("up", *args)

    # -- Jaeger's query API ---------------------------------------------------------------

    def get(self, path: str, **params: str | int) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return get_json(f"{self.jaeger_url}{path}{query}")

    def traces(self, service: str, limit: int = 10_000) -> list[dict[str, Any]]:
        """Every stored trace of ``service`` (Jaeger's JSON API), newest first."""
        return list(self.get("/api/traces", service=service, limit=limit, lookback="2h")["data"])

    def spans(self, service: str) -> list[dict[str, Any]]:
        """Every stored span of ``service``, each with ``tags`` flattened into ``attrs``."""
        found = []
        for trace in self.traces(service):
            for span in trace["spans"]:
                span["attrs"] = {tag["key"]: tag["value"] for tag in span.get("tags", [])}
                found.append(span)
        return found

    def wait_for_spans(self, service: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        """The service's spans once ``count`` have arrived and no more come for a second."""
        eventually(lambda: _at_least(self.spans(service), count), timeout,
                   f"{count} spans of {service!r} in Jaeger")
        time.sleep(1.0)
        return self.spans(service)


def _at_least(spans: list[dict[str, Any]], count: int) -> list[dict[str, Any]] | None:
    return spans if len(spans) >= count else None


def eventually(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``probe`` until it returns something other than None (errors count as not yet)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = probe()
        except Exception as exc:  # the stack restarting: keep polling until the deadline
            last = exc
            result = None
        if result is not None:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def unique_service(prefix: str) -> str:
    """A service name no earlier run stored: Badger keeps traces across runs."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def app_env(stack: Stack, service: str, **overrides: str) -> dict[str, str]:
    """A subprocess environment with no OTEL_/VAQUERO_ leftovers, exporting to ``stack``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VAQUERO_"))}
    env["OTEL_SERVICE_NAME"] = service
    # The one setting a compose user does not need: the tests' stack is on offset ports.
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = stack.otlp_grpc
    env.update(overrides)
    return env


def run_app(
    code: str, env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as an application process; it must exit 0."""
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"the app failed:\n{done.stdout}\n{done.stderr}"
    return done
