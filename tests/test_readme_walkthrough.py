"""A newcomer's first hour, line by line from the README (issue 20).

In a fresh directory beside a folder named ``vaquero`` (the clone: the quick start's own
layout), with this virtualenv "activated" (its ``bin`` first on PATH, as ``source
.venv/bin/activate`` does): the quick start's ``app.py`` and its four command lines, the
FastAPI service under ``opentelemetry-instrument`` with real requests and Ctrl-C, its
analysis, and the first test of one's own code under pytest. The ``pip install`` line is
not run (the test extras already hold those packages); it is checked to name what the
service needs and nothing the README warns about.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, clean_env

pytestmark = pytest.mark.slow

README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent


def _block(language: str, marker: str) -> str:
    found = [b for b in re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)
             if marker in b]
    assert len(found) == 1, f"expected one {language} block in README.md with {marker!r}"
    return found[0]


def _lines(block: str) -> list[str]:
    return [line for line in block.splitlines() if line.strip()]


def _env() -> dict[str, str]:
    """A shell with the virtualenv activated and nothing of ours configured."""
    env = clean_env(VIRTUAL_ENV=str(BIN.parent))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    return env


def _shell(line: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["bash", "-c", line], cwd=cwd, env=_env(), capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The user's directory, with the clone beside app.py as the issue found it."""
    (tmp_path / "vaquero").symlink_to(ROOT, target_is_directory=True)
    return tmp_path


def test_the_quick_start_app_and_its_commands(home: Path) -> None:
    (home / "app.py").write_text(_block("python", "if __name__ == \"__main__\":"))
    console, to_file, analyze, report = _lines(
        _block("bash", "VAQUERO_CONSOLE=1 OTEL_TRACES_EXPORTER=none python app.py"))
    shown = _shell(console, home)
    assert "register_user_workflow" in shown.stderr and "user_creation" in shown.stderr
    _shell(to_file, home)
    assert (home / "t.jsonl").is_file()
    out = _shell(analyze, home).stdout
    assert "1 workflow\n" in out and "register_user_workflow" in out
    _shell(report, home)
    assert "<html" in (home / "report.html").read_text(encoding="utf-8")


def test_the_service_instrumentation_line_names_what_the_service_needs() -> None:
    (line,) = _lines(_block("bash", "pip install fastapi"))
    packages = line.split()[2:]
    assert "opentelemetry-instrumentation-threading" not in packages
    for module in ("fastapi", "uvicorn", "httpx", "opentelemetry.instrumentation.fastapi",
                   "opentelemetry.instrumentation.httpx"):
        assert module.split(".")[-1] in " ".join(packages), module
        assert importlib.util.find_spec(module) is not None, f"{module}: in the test extras"


def test_a_traced_fastapi_service_and_its_analysis(home: Path) -> None:
    port = str(_free_port())
    code = _block("python", "app = FastAPI()")
    (home / "shop.py").write_text(code.replace("8000", port))
    serve, requests, analyze = _lines(_block("bash", "opentelemetry-instrument uvicorn"))
    server = subprocess.Popen(
        ["bash", "-c", serve.replace("shop:app", f"shop:app --port {port}")], cwd=home,
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", int(port)), timeout=1):
                    break
            except OSError:
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
        if shutil.which("curl") is None:
            pytest.skip("curl is not installed (the README's request line uses it)")
        for _ in range(3):
            answered = _shell(requests.replace("8000", port), home).stdout
            assert '"available":false' in answered and '"ok":true' in answered
    finally:
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C in the server's terminal
        _, stderr = server.communicate(timeout=60)
    assert "Traceback" not in stderr, stderr
    out = _shell(analyze, home).stdout
    assert "1 workflow\n" in out, out
    assert re.search(r"^search\s+search_agent\s+3\s+100\.0%", out, flags=re.M), out
    for step in ("rank_results", f"GET 127.0.0.1:{port}", "GET /stock/{item}",
                 "inventory_lookup"):
        assert f"\n  {step} " in out, (step, out)
    assert "3 request-only runs left out (GET /health" in out, out
    assert "http send" not in out


def test_the_first_test_of_ones_own_code_passes_quietly(home: Path) -> None:
    (home / "app.py").write_text(_block("python", "if __name__ == \"__main__\":"))
    (home / "test_app.py").write_text(_block("python", "def test_registration(vaquero_spans)"))
    command = "pytest -q test_app.py"  # by name: beside the clone, bare pytest collects it too
    assert f"run `{command}`" in README
    result = _shell(command + " -p no:cacheprovider", home)
    assert "1 passed" in result.stdout, result.stdout
    output = result.stdout + result.stderr
    assert "cannot deliver" not in output and "not exported" not in output, output
