"""A span ended by an ``atexit`` handler is exported, or reported (issue 19, item 6).

atexit runs the last registered first, and vaquero's pipeline (with its exit hook) is
installed at the first span. A handler the application registered before that span used to
run after vaquero's exit shutdown: its span was counted "after shutdown" and never reported.
"""

from __future__ import annotations

import time
from pathlib import Path

from conftest import clean_env, closed_port, file_env, read_trace_file, run_python

ENDS_IN_ATEXIT = """
import atexit
{before}
def end_it():
    import vaquero
    with vaquero.span("in the handler"):
        pass
    cm.__exit__(None, None, None)

atexit.register(end_it)
{after}
cm = vaquero.span("cleanup")
cm.__enter__()
with vaquero.span("ordinary"):
    pass
"""


def test_a_span_ended_by_an_earlier_atexit_handler_is_exported(tmp_path: Path) -> None:
    """The issue's case: registered after ``import vaquero``, before the first span."""
    traces = tmp_path / "t.jsonl"
    result = run_python(ENDS_IN_ATEXIT.format(before="import vaquero", after=""),
                        env=file_env(traces))
    assert result.returncode == 0, result.stderr
    names = sorted(span["name"] for span in read_trace_file(traces))
    assert names == ["cleanup", "in the handler", "ordinary"]
    assert "not exported" not in result.stderr


def test_a_span_ended_after_the_final_shutdown_is_reported(tmp_path: Path) -> None:
    """A handler registered before ``import vaquero`` runs after every vaquero hook: the
    span cannot be exported any more, but it is never lost without a word."""
    traces = tmp_path / "t.jsonl"
    result = run_python(ENDS_IN_ATEXIT.format(before="", after="import vaquero"),
                        env=file_env(traces))
    assert result.returncode == 0, result.stderr
    assert sorted(span["name"] for span in read_trace_file(traces)) == ["ordinary"]
    assert result.stderr.count("ended after vaquero's exit shutdown") == 1, result.stderr
    assert "'in the handler'" in result.stderr and "import vaquero" in result.stderr


def test_exit_stays_within_one_budget_when_the_collector_is_down() -> None:
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{closed_port()}",
                    VAQUERO_SHUTDOWN_TIMEOUT="1")
    started = time.monotonic()
    result = run_python(ENDS_IN_ATEXIT.format(before="import vaquero", after=""), env=env)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10
