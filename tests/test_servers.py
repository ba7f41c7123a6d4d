"""Zero-config inside real servers: SIGTERM and SIGINT after requests lose no span.

Issue 11 item 1. Each server runs for real on 127.0.0.1 with the file exporter and a
schedule delay of a minute, so only vaquero's exit path can deliver the spans. Every case
also runs with ``OTEL_SDK_DISABLED=true``: the server's own handling (graceful lifespan
shutdown, exit status) must be the same with vaquero as without it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import clean_env, closed_port, read_trace_file

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

pytestmark = pytest.mark.slow

APP = '''
import os
from contextlib import asynccontextmanager

import vaquero
from fastapi import FastAPI


@asynccontextmanager
async def lifespan(app):
    with open(os.environ["LIFESPAN_MARKER"] + ".up", "a") as marker:
        marker.write(f"{os.getpid()}\\n")
    yield
    with open(os.environ["LIFESPAN_MARKER"], "a") as marker:
        marker.write(f"{os.getpid()}\\n")


app = FastAPI(lifespan=lifespan)


def work(path):
    with vaquero.span("handle", path=path):
        for i in range(2):
            with vaquero.span("step", i=i):
                pass
    return {"ok": path}


@app.get("/async/{name}")
async def handle_async(name: str):
    return work(f"/async/{name}")


@app.get("/sync/{name}")
def handle_sync(name: str):  # runs on a worker thread: setup may happen there
    return work(f"/sync/{name}")
'''

ASYNCIO_SERVER = '''
import asyncio, signal, sys
import vaquero

GRACEFUL = sys.argv[2] == "graceful"


async def handle(reader, writer):
    request = await reader.readuntil(b"\\r\\n\\r\\n")
    path = request.split()[1].decode()
    with vaquero.span("handle", path=path):
        for i in range(2):
            with vaquero.span("step", i=i):
                pass
    writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok")
    await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    if not GRACEFUL:
        async with server:
            await server.serve_forever()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


asyncio.run(main())
'''


@dataclass
class Outcome:
    returncode: int
    handled: list[str]
    steps: int
    services: set[str]
    lifespan_shutdowns: int
    output: str


def _serve(
    tmp_path: Path, argv: list[str], signum: int, paths: list[str], disabled: bool
) -> Outcome:
    port = closed_port()
    trace_file = tmp_path / ("off.jsonl" if disabled else "on.jsonl")
    marker = tmp_path / ("off.marker" if disabled else "on.marker")
    env = clean_env(
        OTEL_TRACES_EXPORTER="vaquero_file",
        VAQUERO_TRACES_FILE=str(trace_file),
        OTEL_BSP_SCHEDULE_DELAY="60000",  # only the exit path can deliver the spans
        LIFESPAN_MARKER=str(marker),
        PYTHONPATH=str(tmp_path),
    )
    if disabled:
        env["OTEL_SDK_DISABLED"] = "true"
    command = [sys.executable, *(arg.replace("PORT", str(port)) for arg in argv)]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                httpx.get(f"{base}{paths[0]}", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0]
                time.sleep(0.1)
        for path in paths[1:]:
            assert httpx.get(f"{base}{path}", timeout=10).status_code == 200
        # Signal only once every worker finished its lifespan startup: a worker still booting
        # when the signal lands skips its lifespan shutdown, with or without vaquero.
        started = marker.with_name(marker.name + ".up")
        for _ in range(300):
            if _count_lines(started) >= _workers(argv):
                break
            time.sleep(0.1)
        process.send_signal(signum)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    spans = read_trace_file(trace_file) if trace_file.exists() else []
    return Outcome(
        returncode=process.returncode,
        handled=sorted(s["attrs"]["path"] for s in spans if s["name"] == "handle"),
        steps=sum(1 for s in spans if s["name"] == "step"),
        services={s["resource"].get("service.name") for s in spans},
        lifespan_shutdowns=len(marker.read_text().split()) if marker.exists() else 0,
        output=output,
    )


def _workers(argv: list[str]) -> int:
    """How many processes run the FastAPI app (and its lifespan) for this command line."""
    if not any("svc.api:app" in arg for arg in argv):
        return 0
    for flag in ("--workers", "-w"):
        if flag in argv:
            return int(argv[argv.index(flag) + 1])
    return 1


def _count_lines(path: Path) -> int:
    return len(path.read_text().split()) if path.exists() else 0


ASYNC_PATHS = ["/async/probe", "/async/a", "/async/b", "/async/c"]
SYNC_PATHS = ["/sync/probe", "/sync/a", "/async/b", "/sync/c"]
PLAIN_PATHS = ["/probe", "/a", "/b", "/c"]

SERVERS = {
    "uvicorn": (["-m", "uvicorn", "svc.api:app", "--host", "127.0.0.1", "--port", "PORT"],
                SYNC_PATHS),
    "uvicorn-workers": (
        ["-m", "uvicorn", "svc.api:app", "--host", "127.0.0.1", "--port", "PORT",
         "--workers", "2"],
        SYNC_PATHS,
    ),
    "gunicorn-uvicorn": (
        ["-m", "gunicorn", "svc.api:app", "-k", "uvicorn.workers.UvicornWorker", "-w", "2",
         # gunicorn's default graceful timeout is 30 s; 10 s keeps the SIGINT case (whose
         # workers are SIGKILLed at the timeout) short without racing a loaded machine.
         "-b", "127.0.0.1:PORT", "--graceful-timeout", "10"],
        SYNC_PATHS,
    ),
    "hypercorn": (["-m", "hypercorn", "svc.api:app", "-b", "127.0.0.1:PORT"], SYNC_PATHS),
    "asyncio": (["plain_server.py", "PORT", "plain"], PLAIN_PATHS),
    "asyncio-graceful": (["plain_server.py", "PORT", "graceful"], PLAIN_PATHS),
}


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "__init__.py").write_text("")
    (tmp_path / "svc" / "api.py").write_text(textwrap.dedent(APP))
    (tmp_path / "plain_server.py").write_text(textwrap.dedent(ASYNCIO_SERVER))
    return tmp_path


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("server", list(SERVERS))
def test_a_signal_after_requests_loses_no_span_and_changes_nothing_else(app_dir, server, signum):
    argv, paths = SERVERS[server]
    if server == "gunicorn-uvicorn" and signum == signal.SIGINT:
        # gunicorn stops uvicorn workers with SIGQUIT on SIGINT, which they do not act on,
        # and SIGKILLs them after its graceful timeout. vaquero exports what is queued at
        # the SIGQUIT, once it has chained the worker's handler: on the event loop's
        # thread, so here every worker's first span is in an async endpoint. (After a sync
        # one, spans leave within the schedule delay, 1 s by default, well before the kill.)
        paths = ASYNC_PATHS
    without = _serve(app_dir, argv, signum, paths, disabled=True)
    with_vaquero = _serve(app_dir, argv, signum, paths, disabled=False)
    assert with_vaquero.handled == sorted(paths), with_vaquero.output
    assert with_vaquero.steps == 2 * len(paths)
    assert with_vaquero.returncode == without.returncode, (without.output, with_vaquero.output)
    assert with_vaquero.lifespan_shutdowns == without.lifespan_shutdowns
    expected = "plain_server" if server.startswith("asyncio") else "svc.api"
    assert with_vaquero.services == {expected}
