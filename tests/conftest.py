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
from pathlib import Path

import pytest

os.environ.setdefault("OTEL_TRACES_EXPORTER", "none")
os.environ.pop("OTEL_SDK_DISABLED", None)

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**overrides: str) -> dict[str, str]:
    """The environment for a subprocess: no OTEL_/VAQUERO_ leftovers, plus ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "VAQUERO_"))
    }
    env.update(overrides)
    return env


def run_python(
    code: str, *, env: dict[str, str] | None = None, timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (dedented) and capture its output."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


@pytest.fixture
def python_runner():
    return run_python
