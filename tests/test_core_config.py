"""Settings resolution: precedence, OTel spec rules, and the bad-input policy."""

from __future__ import annotations

import logging

import pytest

from vaquero._config import (
    DEFAULT_GRPC_ENDPOINT,
    DEFAULT_HTTP_ENDPOINT,
    ConfigError,
    load_settings,
)


def test_defaults_without_environment():
    settings = load_settings({}, {})
    assert settings.exporters == ("otlp",)
    assert settings.protocol == "grpc"
    assert settings.endpoint == DEFAULT_GRPC_ENDPOINT
    assert settings.shutdown_timeout == 2.0
    assert settings.attribute_value_length == 8192
    assert settings.service_name != "unknown_service"
    assert settings.scrub is True and settings.pii == "keep"


def test_standard_otel_variables_are_honoured():
    env = {
        "OTEL_SERVICE_NAME": "checkout",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,team=pay%20ments",
        "OTEL_TRACES_EXPORTER": "otlp,console",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=secret%3D1,x-tenant=a",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_BSP_MAX_QUEUE_SIZE": "100",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "1024",
    }
    s = load_settings({}, env)
    assert s.service_name == "checkout"
    assert s.resource_attributes == {"deployment.environment": "prod", "team": "pay ments"}
    assert s.exporters == ("otlp", "console")
    assert s.protocol == "http/protobuf"
    assert s.endpoint == "http://collector:4318/v1/traces"
    assert s.headers == {"api-key": "secret=1", "x-tenant": "a"}
    assert s.timeout == 2.5 and s.compression == "gzip"
    assert (s.sampler, s.sample_rate) == ("parentbased_traceidratio", 0.25)
    assert s.max_queue_size == 100 and s.schedule_delay_ms == 50
    assert s.attribute_value_length == 1024


def test_signal_specific_variables_win_and_are_used_verbatim():
    env = {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://generic:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://specific:9999/custom",
    }
    s = load_settings({}, env)
    assert s.protocol == "http/protobuf"
    assert s.endpoint == "http://specific:9999/custom"
    assert load_settings({}, {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}).endpoint == (
        DEFAULT_HTTP_ENDPOINT
    )


def test_service_name_precedence():
    env = {"OTEL_SERVICE_NAME": "from-env", "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-res"}
    assert load_settings({"service_name": "from-arg"}, env).service_name == "from-arg"
    assert load_settings({}, env).service_name == "from-env"
    assert load_settings({}, {"OTEL_RESOURCE_ATTRIBUTES": "service.name=res"}).service_name == "res"


def test_init_arguments_override_environment():
    env = {"OTEL_TRACES_EXPORTER": "otlp", "VAQUERO_CONSOLE": "false"}
    s = load_settings({"exporters": ["none"], "console": True, "sample_rate": 0.5,
                       "endpoint": "http://other:4317", "headers": {"a": "b"}}, env)
    assert s.exporters == ("none",) and s.console is True
    assert (s.sampler, s.sample_rate) == ("parentbased_traceidratio", 0.5)
    assert s.endpoint == "http://other:4317" and s.headers == {"a": "b"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_SDK_DISABLED", "maybe"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "smoke-signals"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "-3"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317"),
        ("VAQUERO_SHUTDOWN_TIMEOUT", "nan"),
        ("VAQUERO_PII", "shred"),
    ],
)
def test_bad_environment_values_warn_once_naming_the_variable_and_use_the_default(
    name, value, caplog
):
    default = load_settings({}, {})
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        settings = load_settings({}, {name: value})
    records = [r for r in caplog.records if r.name == "vaquero"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert name in message and repr(value) in message and "default" in message
    assert settings == default


def test_bad_headers_variable_never_echoes_its_value(caplog):
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        settings = load_settings({}, {"OTEL_EXPORTER_OTLP_HEADERS": "Bearer s3cr3t-token"})
    assert settings.headers == {}
    assert "OTEL_EXPORTER_OTLP_HEADERS" in caplog.text
    assert "s3cr3t" not in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"protocol": "carrier-pigeon"}, "protocol='carrier-pigeon'"),
        ({"sample_rate": 2}, "sample_rate=2"),
        ({"exporters": ["kafka"]}, "exporters=['kafka']"),
        ({"endpoint": "not a url"}, "endpoint='not a url'"),
        ({"max_queue_size": 0}, "max_queue_size=0"),
        ({"console": "perhaps"}, "console='perhaps'"),
        ({"colour": True}, "unknown argument(s) ['colour']"),
        ({"service_name": 12}, "service_name=12"),
    ],
)
def test_bad_init_arguments_raise_config_error_naming_the_argument(kwargs, fragment):
    with pytest.raises(ConfigError) as caught:
        load_settings(kwargs, {})
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_describe_masks_header_values():
    described = load_settings({"headers": {"authorization": "Bearer abc"}}, {}).describe()
    assert described["headers"] == {"authorization": "***"}
    assert "abc" not in repr(described)


def test_unreadable_tls_files_are_named_as_argument_errors_and_env_warnings(tmp_path, caplog):
    missing = str(tmp_path / "no-such-ca.pem")
    with pytest.raises(ConfigError, match="certificate=.*no-such-ca.pem.*readable PEM file"):
        load_settings({"certificate": missing}, {})
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        settings = load_settings({}, {"OTEL_EXPORTER_OTLP_CLIENT_KEY": missing})
    assert settings.client_key is None
    assert "OTEL_EXPORTER_OTLP_CLIENT_KEY" in caplog.text and "no-such-ca.pem" in caplog.text
    present = tmp_path / "ca.pem"
    present.write_text("-----BEGIN CERTIFICATE-----\n")
    assert load_settings({"certificate": present}, {}).certificate == str(present)
