"""The trace stack of docker-compose.yml, run on 127.0.0.1 from the repository's own files.

``ci/stack/up`` and ``ci/stack/down`` are thin front ends to this module. Each program runs
from its config file *verbatim*: the files take every address from an environment variable
whose default is the compose value (``${env:JAEGER_OTLP_ENDPOINT:-jaeger:4317}``), and this
module sets those variables to loopback addresses. That is also how a user runs the stack
without Docker (docs/stack.md).

Standard library only: it runs before any virtualenv exists.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = ROOT / ".stack" / "bin"
HOST = "127.0.0.1"
#: Added to every port below: a second stack (the live tests' own, beside a developer's) or a
#: machine where the compose ports are taken. Each offset has its own pids, logs and data.
PORT_OFFSET = int(os.environ.get("STACK_PORT_OFFSET", "0") or "0")
_SUFFIX = f"-{PORT_OFFSET}" if PORT_OFFSET else ""
RUN = ROOT / ".stack" / f"run{_SUFFIX}"
DATA = ROOT / ".stack" / f"data{_SUFFIX}"
#: What ``up`` printed, for tests and scripts that did not capture its output.
ENV_FILE = RUN / "env"
TOPOLOGY_FILE = RUN / "topology"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


# Ports are the compose ones (4317, 4318, 13133, 16686, 9090) and, for what compose keeps
# inside its network, neighbours of them (Jaeger's OTLP on 4327/4328, the gateway's on
# 4337/4338, health 13134/13135, telemetry 8888-8890). They all lie within 4317-16686, so a
# stack at offset 10000 (the live tests') never takes a port of one at offset 0.
def port(number: int) -> int:
    return number + PORT_OFFSET


def addr(number: int) -> str:
    return f"{HOST}:{port(number)}"


@dataclasses.dataclass(frozen=True)
class Program:
    """One process of the stack: how to start it and how to tell it is serving."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str]
    ready_url: str

    @property
    def pid_file(self) -> Path:
        return RUN / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return RUN / f"{self.name}.log"


def _collector_env(
    grpc: int, http: int, health: int, telemetry: int, next_hop: str
) -> dict[str, str]:
    return {
        "OTELCOL_OTLP_GRPC_LISTEN": addr(grpc),
        "OTELCOL_OTLP_HTTP_LISTEN": addr(http),
        "OTELCOL_HEALTH_LISTEN": addr(health),
        "OTELCOL_TELEMETRY_PORT": str(port(telemetry)),
        "JAEGER_OTLP_ENDPOINT": next_hop,
        "PROMETHEUS_REMOTE_WRITE_ENDPOINT": f"http://{addr(9090)}/api/v1/write",
    }


def programs(gateway: bool) -> list[Program]:
    """The stack in start order: every program starts after the one it sends to."""
    jaeger = Program(
        "jaeger",
        (str(BIN / "jaeger"), f"--config={ROOT / 'deploy' / 'jaeger.yaml'}"),
        {
            "JAEGER_OTLP_GRPC_LISTEN": addr(4327),
            "JAEGER_OTLP_HTTP_LISTEN": addr(4328),
            "JAEGER_QUERY_HTTP_LISTEN": addr(16686),
            "JAEGER_QUERY_GRPC_LISTEN": addr(16685),
            "JAEGER_HEALTH_LISTEN": addr(13134),
            "JAEGER_TELEMETRY_PORT": str(port(8889)),
            "JAEGER_BADGER_DIR": str(DATA / "jaeger-badger"),
            "PROMETHEUS_URL": f"http://{addr(9090)}",
        },
        f"http://{addr(13134)}/status",
    )
    prometheus = Program(
        "prometheus",
        (
            str(BIN / "prometheus"),
            f"--config.file={ROOT / 'deploy' / 'prometheus.yaml'}",
            f"--web.listen-address={addr(9090)}",
            f"--storage.tsdb.path={DATA / 'prometheus'}",
            "--web.enable-remote-write-receiver",
        ),
        {},
        f"http://{addr(9090)}/-/ready",
    )
    stack = [prometheus, jaeger]
    next_hop = addr(4327)
    if gateway:
        stack.append(
            Program(
                "gateway",
                (str(BIN / "otelcol"), f"--config={ROOT / 'deploy' / 'gateway-collector.yaml'}"),
                {
                    **_collector_env(4337, 4338, 13135, 8890, next_hop),
                    # The hop to Jaeger never leaves the host here; in production it is TLS.
                    "JAEGER_OTLP_INSECURE": "true",
                    "JAEGER_OTLP_CA_FILE": "",
                },
                f"http://{addr(13135)}/",
            )
        )
        next_hop = addr(4337)
    stack.append(
        Program(
            "otelcol",
            (str(BIN / "otelcol"), f"--config={ROOT / 'otel-collector.yaml'}"),
            _collector_env(4317, 4318, 13133, 8888, next_hop),
            f"http://{addr(13133)}/",
        )
    )
    return stack


def published(gateway: bool) -> dict[str, str]:
    """The ``KEY=VALUE`` lines ``up`` prints: where an application and a test reach the stack."""
    values = {
        "OTLP_GRPC": f"http://{addr(4317)}",
        "OTLP_HTTP": f"http://{addr(4318)}",
        "COLLECTOR_HEALTH_URL": f"http://{addr(13133)}/",
        "JAEGER_URL": f"http://{addr(16686)}",
        "PROMETHEUS_URL": f"http://{addr(9090)}",
        "TOPOLOGY": "gateway" if gateway else "direct",
        "STACK_RUN_DIR": str(RUN),
    }
    if gateway:
        values["GATEWAY_OTLP_GRPC"] = f"http://{addr(4337)}"
    return values


# -- processes -----------------------------------------------------------------------------


def running_pid(program: Program) -> int | None:
    """The pid recorded for ``program`` if that process is alive and still runs its binary.

    The command line is compared so that a pid reused by an unrelated process after a crash
    is never signalled by ``down``.
    """
    try:
        pid = int(program.pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if cmdline and cmdline[0].decode(errors="replace") == program.argv[0] else None


def start(program: Program) -> subprocess.Popen[bytes]:
    RUN.mkdir(parents=True, exist_ok=True)
    DATA.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **program.env}
    with program.log_file.open("ab") as log:
        process = subprocess.Popen(
            program.argv,
            cwd=RUN,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the shell that ran `up`; `down` stops it
        )
    program.pid_file.write_text(f"{process.pid}\n")
    return process


#: Loopback only: never through an HTTP proxy the environment may name.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def answers(url: str) -> bool:
    try:
        with _OPENER.open(url, timeout=2) as response:
            return bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_ready(program: Program, process: subprocess.Popen[bytes] | None, deadline: float) -> None:
    """Wait for ``program`` to answer; ``process`` is set when this ``up`` just started it
    (until it has exec'd, its /proc command line is still Python's)."""
    while time.monotonic() < deadline:
        exited = process.poll() is not None if process else running_pid(program) is None
        if exited:
            raise StackError(f"{program.name} exited while starting", program)
        if answers(program.ready_url):
            return
        time.sleep(0.2)
    raise StackError(f"{program.name} did not answer {program.ready_url} in time", program)


class StackError(Exception):
    def __init__(self, message: str, program: Program) -> None:
        super().__init__(message)
        self.program = program

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.program.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


def stop(program: Program) -> bool:
    pid = running_pid(program)
    program.pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def recorded_programs() -> Iterator[Program]:
    """Every program ``up`` may have started, whatever the topology."""
    seen: set[str] = set()
    for program in programs(gateway=True):
        if program.name not in seen:
            seen.add(program.name)
            yield program


# -- commands --------------------------------------------------------------------------------


def up(argv: list[str]) -> int:
    gateway = "--gateway" in argv
    unknown = [a for a in argv if a != "--gateway"]
    if unknown:
        print(f"usage: ci/stack/up [--gateway] (unknown: {' '.join(unknown)})", file=sys.stderr)
        return 2
    stack = programs(gateway)
    missing = [p.argv[0] for p in stack if not Path(p.argv[0]).exists()]
    if missing:
        print(f"ci/stack/up: not built: {', '.join(missing)}; run ci/stack/build", file=sys.stderr)
        return 1
    topology = "gateway" if gateway else "direct"
    try:
        previous = TOPOLOGY_FILE.read_text().strip()
    except OSError:
        previous = topology
    if previous != topology and any(running_pid(p) for p in recorded_programs()):
        print(f"ci/stack/up: a {previous} stack is running; run ci/stack/down first",
              file=sys.stderr)
        return 1
    RUN.mkdir(parents=True, exist_ok=True)
    TOPOLOGY_FILE.write_text(topology + "\n")
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        for program in stack:
            process = None
            if running_pid(program) is None:
                process = start(program)
                print(f"# started {program.name} (log: {program.log_file})", file=sys.stderr)
            wait_ready(program, process, deadline)
    except StackError as exc:
        print(f"ci/stack/up: {exc}; its log ends with:\n{exc.log_tail()}", file=sys.stderr)
        return 1
    values = published(gateway)
    ENV_FILE.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    (RUN / "env.json").write_text(json.dumps(values, indent=2) + "\n")
    for key, value in values.items():
        print(f"{key}={value}")
    return 0


def down(argv: list[str]) -> int:
    if argv:
        print("usage: ci/stack/down", file=sys.stderr)
        return 2
    # Stop senders before receivers, so nothing is left holding spans for a stopped hop.
    for program in reversed(list(recorded_programs())):
        if stop(program):
            print(f"stopped {program.name}")
    ENV_FILE.unlink(missing_ok=True)
    return 0
