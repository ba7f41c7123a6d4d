"""``vaquero demo`` in a real subprocess: no collector, a collector, and the options."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from conftest import DEMO_WORKFLOW_ROOTS, ROOT, clean_env, closed_port, read_trace_file
from otlp_receiver import OtlpReceiver

from vaquero import _demo
from vaquero.analysis import analyze


def _demo_run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaquero", "demo", *args],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def _assert_clean(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "Warning" not in stderr and "WARNING" not in stderr, stderr
    assert "vaquero:" not in stderr, stderr  # vaquero's own log lines start this way


def test_demo_without_a_collector_prints_trees_and_writes_the_file(tmp_path: Path):
    traces = tmp_path / "demo.jsonl"
    result = _demo_run(
        "--file", str(traces), "--seed", "7",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{closed_port()}",
    )
    assert result.returncode == 0, result.stderr
    _assert_clean(result.stderr)
    spans = read_trace_file(traces)
    roots = {span["name"] for span in spans if not span.get("parentSpanId")}
    assert DEMO_WORKFLOW_ROOTS <= roots, roots
    # The console tree shows every workflow on stderr; the hint and the path are on stdout.
    assert result.stderr.count("trace ") >= len(DEMO_WORKFLOW_ROOTS)
    for name in DEMO_WORKFLOW_ROOTS:
        assert name in result.stderr
    assert str(traces) in result.stdout
    assert "vaquero analyze" in result.stdout
    assert "vaquero report" in result.stdout and "-o report.html" in result.stdout
    # A pip user has no repository: the hint is the command that writes the stack files.
    assert "vaquero stack init && docker compose up -d" in result.stdout
    assert "http://127.0.0.1:16686" in result.stdout
    # What the demo and the README say it runs is what analyze finds in its traces.
    assert sorted(w.name for w in analyze(traces).workflows) == sorted(_demo.WORKFLOWS)


def test_the_demo_says_how_many_programs_and_workflows_it_runs():
    words = {5: "five", 6: "six"}
    said = f"five example programs, {words[len(_demo.WORKFLOWS)]} workflows"
    assert len(_demo.EXAMPLES) == 5
    assert said in (ROOT / "README.md").read_text(encoding="utf-8")
    help_text = _demo_run("--help").stdout
    assert f"five example programs ({words[len(_demo.WORKFLOWS)]} workflows)" in help_text


def test_demo_no_console_and_default_file_from_the_environment(tmp_path: Path):
    traces = tmp_path / "from-env.jsonl"
    result = _demo_run(
        "--no-console",
        VAQUERO_TRACES_FILE=str(traces),
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{closed_port()}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    roots = {s["name"] for s in read_trace_file(traces) if not s.get("parentSpanId")}
    assert roots >= DEMO_WORKFLOW_ROOTS


def test_demo_also_sends_to_a_listening_collector(tmp_path: Path):
    traces = tmp_path / "both.jsonl"
    with OtlpReceiver() as collector:
        result = _demo_run(
            "--file", str(traces), "--no-console",
            OTEL_EXPORTER_OTLP_ENDPOINT=collector.grpc_endpoint,
        )
        received = collector.spans()
    assert result.returncode == 0, result.stderr
    _assert_clean(result.stderr)
    written = read_trace_file(traces)
    assert {s.span_id for s in received} == {s["spanId"] for s in written}
    assert DEMO_WORKFLOW_ROOTS <= {s.name for s in received if not s.parent_span_id}
    assert {s.resource.get("service.name") for s in received} == {"vaquero-demo"}
    assert f"sent to the OTLP collector at {collector.grpc_endpoint}" in result.stdout
    assert "docker compose up -d" not in result.stdout
    # The receiver is not Jaeger and no Jaeger answered: the demo does not claim one.
    if not _jaeger_ui_listening():
        assert "Jaeger" not in result.stdout


def _jaeger_ui_listening() -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", 16686)) == 0


def test_collector_probe():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert _demo.collector_reachable(f"http://127.0.0.1:{port}")
    assert not _demo.collector_reachable(f"http://127.0.0.1:{closed_port()}")
    assert not _demo.collector_reachable("not a url")


def test_the_examples_are_found_from_the_source_tree():
    # In a checkout (and an editable install) vaquero/_examples is a symlink to examples/,
    # so the demo runs examples/ itself; a wheel carries the same files as
    # vaquero/_examples (tests/test_packaging.py).
    found = _demo.find_examples_dir()
    assert found is not None and found.resolve() == (ROOT / "examples").resolve()
