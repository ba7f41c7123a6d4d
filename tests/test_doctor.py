"""``vaquero doctor`` speaks of the configured endpoint and names Jaeger only when it is there.

Jaeger is stood in for by a tiny HTTP server on 127.0.0.1 that answers Jaeger v2's
``/api/v3/services`` the way Jaeger does; the OTLP side is the real receiver.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from conftest import clean_env, closed_port, serve_http
from otlp_receiver import OtlpReceiver

from vaquero import _doctor
from vaquero._pipeline.exporters import CollectorAnswer, UnreachableCollectorNotice


@contextmanager
def _http_server(body: bytes, status: int = 200) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering every GET with ``status`` and ``body``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serve_http(Handler) as url:
        yield url


def _fake_jaeger():
    return _http_server(json.dumps({"services": ["jaeger", "checkout"]}).encode())


def _jaeger_ui_listening() -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", 16686)) == 0


def _doctor_run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaquero", "doctor", *args],
        env=clean_env(OTEL_SERVICE_NAME="doctor-test", **env),
        capture_output=True, text=True, timeout=60,
    )


# --- recognising Jaeger -----------------------------------------------------------------------
def test_only_a_jaeger_query_api_counts_as_jaeger():
    with _fake_jaeger() as url:
        assert _doctor.answers_as_jaeger(url, 2.0)
        assert _doctor.find_jaeger(url + "/", local=False) == url
    with _http_server(b"<html>some other app</html>") as url:
        assert not _doctor.answers_as_jaeger(url, 2.0)
    with _http_server(json.dumps({"data": []}).encode(), status=404) as url:
        assert not _doctor.answers_as_jaeger(url, 2.0)
    assert not _doctor.answers_as_jaeger(f"http://127.0.0.1:{closed_port()}", 2.0)


def test_a_remote_endpoint_is_never_probed_for_jaeger():
    # No URL given and the endpoint is not this machine: nothing to probe, no claim made.
    assert _doctor.find_jaeger(None, local=False) is None


def test_which_endpoints_are_this_machine():
    assert _doctor.endpoint_is_local("http://localhost:4317")
    assert _doctor.endpoint_is_local("http://127.0.0.1:4318/v1/traces")
    assert _doctor.endpoint_is_local("https://[::1]:4317")
    assert not _doctor.endpoint_is_local("https://otel.example.com:4317")
    assert not _doctor.endpoint_is_local("http://10.0.0.8:4317")
    assert not _doctor.endpoint_is_local("http://[::1")  # malformed: not local, no exception


# --- the doctor command -----------------------------------------------------------------------
def test_delivered_with_jaeger_answering_points_at_jaeger():
    with OtlpReceiver() as receiver, _fake_jaeger() as jaeger:
        result = _doctor_run(
            "--jaeger", jaeger, "--json", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint
        )
        delivered = receiver.spans()
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["result"] == "ok"
    assert report["jaeger"] == jaeger
    assert f"Jaeger answers at {jaeger}" in report["message"]
    assert receiver.grpc_endpoint in report["message"]
    assert [span.name for span in delivered] == ["vaquero.doctor"]
    trace_id = delivered[0].trace_id
    assert trace_id in report["message"]


def test_delivered_to_a_backend_that_is_not_jaeger_does_not_mention_jaeger():
    with OtlpReceiver() as receiver, _http_server(b"not jaeger") as other:
        result = _doctor_run("--jaeger", other, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint)
    assert result.returncode == 0, result.stdout + result.stderr
    message = next(line for line in result.stdout.splitlines() if "message:" in line)
    assert "Jaeger" not in message
    assert f"delivered to the OTLP endpoint {receiver.grpc_endpoint}" in message
    assert "'doctor-test'" in message


def test_delivered_on_this_machine_without_jaeger_running_says_backend():
    if _jaeger_ui_listening():  # a developer's own Jaeger on 16686 would rightly be named
        return
    with OtlpReceiver() as receiver:
        result = _doctor_run(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint,
                             OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Jaeger" not in result.stdout
    assert "In the backend behind it" in result.stdout


def test_nothing_listening_on_this_machine_points_at_stack_init():
    result = _doctor_run(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://localhost:{closed_port()}")
    assert result.returncode == 1
    assert "vaquero stack init" in result.stdout
    assert "in the vaquero repository" not in result.stdout


def test_a_refused_export_is_reported_by_doctor_alone():
    """The exporter's own 'cannot deliver' warning stays quiet: doctor gives the reason."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    stop = threading.Event()

    def slam() -> None:  # accept, then close at once: a port that is not an OTLP receiver
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            connection.close()

    thread = threading.Thread(target=slam, daemon=True)
    thread.start()
    try:
        result = _doctor_run(
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}/v1/traces",
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_EXPORTER_OTLP_TIMEOUT="2000",
        )
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "accepted a connection but refused the export" in result.stdout
    assert "cannot deliver spans" not in result.stderr
    assert "Traceback" not in result.stderr


# --- the application's warning ----------------------------------------------------------------
def test_the_cannot_deliver_warning_names_the_fix_that_fits_the_endpoint(caplog):
    caplog.set_level(logging.WARNING, logger="vaquero")
    port = closed_port()  # endpoints unique to this test: the warnings are once per process
    for endpoint, announce in [
        (f"http://localhost:{port}", True),
        (f"https://otel.example.com:{port}", True),
        (f"http://127.0.0.1:{port}", False),
    ]:
        notice = UnreachableCollectorNotice(endpoint, "grpc", announce=announce)
        notice.observe(CollectorAnswer("unreachable", "gRPC UNAVAILABLE"))
        notice.warn_once()
    local, remote = (record.getMessage() for record in caplog.records)
    assert len(caplog.records) == 2
    assert "`vaquero stack init`, then `docker compose up -d`" in local
    assert "vaquero repository" not in local
    assert "vaquero stack init" not in remote
    assert "reachable from here" in remote


# --- the metrics side (issue 21) ----------------------------------------------------------------
def test_doctor_shows_where_the_genai_metrics_go_and_whether_it_answers():
    with OtlpReceiver() as receiver:
        result = _doctor_run("--json", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint)
        reachable = json.loads(result.stdout)["metrics"]
        sent = receiver.metric_requests()
    assert result.returncode == 0, result.stdout + result.stderr
    assert reachable == f"OTLP grpc to {receiver.grpc_endpoint}, every 60 s: reachable"
    assert sent == []  # a test measurement would count as a run in the user's histograms
    port = closed_port()
    result = _doctor_run(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                         OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=f"http://127.0.0.1:{port}")
    line = next(line for line in result.stdout.splitlines() if line.startswith("  metrics:"))
    assert f"nothing is listening at 127.0.0.1:{port}" in line
    result = _doctor_run("--json", OTEL_METRICS_EXPORTER="none")
    assert json.loads(result.stdout)["metrics"] == "OTEL_METRICS_EXPORTER=none"
