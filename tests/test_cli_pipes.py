"""Every command stops quietly when its reader goes away (``vaquero doctor | head -1``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, clean_env, closed_port

from vaquero.cli import EXIT_BROKEN_PIPE

TRACES = str(ROOT / "tests" / "fixtures" / "analysis" / "workflows.jsonl")

# Each writes to stdout; (module, arguments) for `python -m module ...`.
COMMANDS = {
    "help": ("vaquero", ["--help"]),
    "version": ("vaquero", ["--version"]),
    "doctor": ("vaquero", ["doctor"]),
    "demo": ("vaquero", ["demo", "--no-console", "--seed", "1", "--file", "{tmp}/d.jsonl"]),
    "analyze": ("vaquero", ["analyze", TRACES]),
    "analyze --json": ("vaquero", ["analyze", "--json", TRACES]),
    "stack init": ("vaquero", ["stack", "init", "{tmp}/stack"]),
    "python -m vaquero.analysis": ("vaquero.analysis", ["analyze", TRACES]),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_closed_stdout_ends_the_command_without_a_traceback(name: str, tmp_path: Path):
    module, arguments = COMMANDS[name]
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the first line: every write fails
    try:
        result = subprocess.run(
            [sys.executable, "-m", module, *(a.format(tmp=tmp_path) for a in arguments)],
            stdout=writer, stderr=subprocess.PIPE, text=True, timeout=60, cwd=tmp_path,
            env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{closed_port()}"),
        )
    finally:
        os.close(writer)
    assert "Traceback" not in result.stderr, result.stderr
    assert "BrokenPipeError" not in result.stderr and "Exception ignored" not in result.stderr
    if name in ("help", "version"):  # argparse prints these itself and ignores a failed write
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == EXIT_BROKEN_PIPE, result.stderr
