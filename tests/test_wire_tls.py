"""OTLP over TLS with a custom CA, and mTLS with a client certificate, against the real receiver.

Certificates are generated per test. Secrets (headers) never appear in logs or doctor output.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import clean_env
from otlp_receiver import OtlpReceiver, make_tls_material

APP = """
import vaquero
with vaquero.span("secure_step", note="over tls"):
    pass
ok = vaquero.flush(5.0)
print("flushed", ok)
"""


def _tls_env(endpoint: str, protocol: str, material, *, client: bool) -> dict[str, str]:
    env = clean_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_EXPORTER_OTLP_CERTIFICATE=str(material.ca_cert),
        OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20super-secret-token",
    )
    if client:
        env["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"] = str(material.client_cert)
        env["OTEL_EXPORTER_OTLP_CLIENT_KEY"] = str(material.client_key)
    return env


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
@pytest.mark.parametrize("mutual", [False, True], ids=["tls", "mtls"])
def test_tls_and_mtls_deliver_spans(tmp_path, protocol, mutual):
    material = make_tls_material(tmp_path, client_auth=mutual)
    with OtlpReceiver(tls=material) as receiver:
        endpoint = receiver.grpc_endpoint if protocol == "grpc" else (
            receiver.http_endpoint
        )
        assert endpoint.startswith("https://")
        result = subprocess.run(
            [sys.executable, "-c", APP],
            env=_tls_env(endpoint, protocol, material, client=mutual),
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "flushed True", result.stderr
        assert [span.name for span in receiver.spans()] == ["secure_step"]
        assert receiver.requests[-1].headers["authorization"] == "Bearer super-secret-token"
        assert "super-secret-token" not in result.stderr


def test_mtls_without_a_client_certificate_fails_with_one_warning_and_no_secret(tmp_path):
    material = make_tls_material(tmp_path, client_auth=True)
    with OtlpReceiver(tls=material) as receiver:
        result = subprocess.run(
            [sys.executable, "-c", APP],
            env=_tls_env(receiver.grpc_endpoint, "grpc", material, client=False)
            | {"OTEL_EXPORTER_OTLP_TIMEOUT": "1000"},
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0
        assert result.stdout.strip() == "flushed False"
        assert receiver.spans() == []
        # One notice naming the collector. Which one depends on how gRPC reports the refused
        # handshake: UNAVAILABLE ("cannot deliver spans") or, on a loaded machine where the
        # handshake outlasts the 1 s export timeout, DEADLINE_EXCEEDED ("did not answer").
        notices = [line for line in result.stderr.splitlines()
                   if "the OTLP collector at" in line]
        assert len(notices) == 1, result.stderr
        assert "super-secret-token" not in result.stderr


def test_doctor_masks_headers_and_reports_success_against_a_live_receiver():
    with OtlpReceiver() as receiver:
        result = subprocess.run(
            [sys.executable, "-m", "vaquero", "doctor"],
            env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                          OTEL_EXPORTER_OTLP_HEADERS="x-api-key=very-secret-value"),
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "result: ok" in result.stdout
        assert "very-secret-value" not in result.stdout + result.stderr
        assert "'x-api-key': '***'" in result.stdout
        assert [span.name for span in receiver.spans()] == ["vaquero.doctor"]
        assert receiver.requests[0].headers["x-api-key"] == "very-secret-value"


def test_doctor_names_the_reason_and_fix_when_nothing_listens():
    receiver = OtlpReceiver()
    receiver.start()
    endpoint = receiver.grpc_endpoint
    receiver.stop()
    result = subprocess.run(
        [sys.executable, "-m", "vaquero", "doctor"],
        env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "nothing is listening at 127.0.0.1" in result.stdout
    assert "vaquero stack init" in result.stdout
    assert "Traceback" not in result.stderr
