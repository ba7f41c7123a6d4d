"""Settings resolution: precedence, OTel spec rules, and the bad-input policy."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import re
from pathlib import Path

import pytest

import vaquero
from vaquero import _config
from vaquero._config import (
    DEFAULT_GRPC_ENDPOINT,
    DEFAULT_HTTP_ENDPOINT,
    ConfigError,
    load_settings,
)
from vaquero._state import STATE


@pytest.fixture(autouse=True)
def _fresh_state():
    """Configuration warnings are once per process: each test starts with none given."""
    STATE.reset()
    yield
    STATE.reset()


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


# --- one table of options: Settings, init(), README -------------------------------------------
README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_configuration_rows() -> dict[str, list[str]]:
    """argument -> variables, read from the README's configuration table."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = re.match(r"\| `(\w+)` \| ([^|]*) \|", line)
        if match:
            rows[match.group(1)] = re.findall(r"`(\w+)`", match.group(2))
    return rows


def test_settings_has_one_field_per_option_in_table_order():
    assert [f.name for f in dataclasses.fields(_config.Settings)] == list(_config.OPTION_NAMES)


def test_settings_defaults_are_the_table_defaults():
    static = {o.name: o.default for o in _config.OPTIONS if o.default_from is None}
    for f in dataclasses.fields(_config.Settings):
        if f.name in static:
            factory = f.default_factory
            default = factory() if factory is not dataclasses.MISSING else f.default
            assert default == static[f.name], f.name
    expected = dataclasses.replace(
        _config.Settings(), service_name=_config.default_service_name()
    )
    assert load_settings({}, {}) == expected


def test_every_variable_belongs_to_exactly_one_row_and_vaquero_names_only_where_otel_has_none():
    constants = {
        value for name, value in vars(_config).items()
        if re.fullmatch(r"(OTEL|VAQUERO)_[A-Z_]+", name) and isinstance(value, str)
    }
    in_rows = [name for option in _config.OPTIONS for name in option.env]
    assert len(in_rows) == len(set(in_rows))
    assert set(in_rows) == constants
    for option in _config.OPTIONS:
        kinds = {name.split("_", 1)[0] for name in option.env}
        assert len(kinds) <= 1, option.name


def test_readme_configuration_table_lists_every_option_and_nothing_else():
    rows = _readme_configuration_rows()
    assert set(rows) == set(_config.OPTION_NAMES)
    for option in _config.OPTIONS:
        assert rows[option.name] == list(option.env), option.name
    # The table is generated from OPTIONS: after changing a row, paste what this prints.
    regenerate = 'python -c "from vaquero._config import markdown_table as t; print(t())"'
    assert _config.markdown_table() in README.read_text(), f"paste the output of: {regenerate}"


def test_init_signature_names_exactly_the_options_with_a_not_passed_default():
    parameters = inspect.signature(vaquero.init).parameters
    assert list(parameters) == ["service_name"] + [
        name for name in _config.OPTION_NAMES if name != "service_name"
    ]
    for name, parameter in parameters.items():
        assert parameter.default is _config.NOT_PASSED, name
        expected_kind = (
            inspect.Parameter.POSITIONAL_OR_KEYWORD
            if name == "service_name"
            else inspect.Parameter.KEYWORD_ONLY
        )
        assert parameter.kind is expected_kind, name
        assert parameter.annotation != inspect.Parameter.empty, name
    args_section = vaquero.init.__doc__.split("Args:", 1)[1].split("Raises:", 1)[0]
    documented = re.findall(r"^        (\w+):", args_section, flags=re.MULTILINE)
    assert documented == list(parameters)
    assert "ConfigError" in vaquero.init.__doc__.split("Raises:", 1)[1]


def test_init_forwards_every_argument_by_name(monkeypatch):
    from vaquero._pipeline import install

    seen: dict = {}
    monkeypatch.setattr(install, "init", lambda **kwargs: seen.update(kwargs))
    markers = {name: object() for name in _config.OPTION_NAMES}
    vaquero.init(**markers)
    assert seen == markers
    seen.clear()
    vaquero.init()
    assert set(seen) == set(_config.OPTION_NAMES)
    assert all(value is _config.NOT_PASSED for value in seen.values())
    assert load_settings(seen, {}) == load_settings({}, {})


def test_none_still_means_not_passed():
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "VAQUERO_CONSOLE": "true"}
    s = load_settings({"endpoint": None, "console": None, "service_name": ""}, env)
    assert s.endpoint == "http://collector:4317" and s.console is True
    assert s == load_settings({}, env)


def test_new_arguments_sampler_export_timeout_and_pii_key():
    s = load_settings({"sampler": "traceidratio", "sample_rate": 0.5, "export_timeout_ms": 500,
                       "pii_key": "k"}, {"OTEL_TRACES_SAMPLER": "always_off"})
    assert (s.sampler, s.sample_rate) == ("traceidratio", 0.5)
    assert s.export_timeout_ms == 500.0 and s.pii_key == "k"
    # sample_rate alone selects the parent-based ratio sampler, over the variable
    alone = load_settings({"sample_rate": 0.25}, {"OTEL_TRACES_SAMPLER": "always_off"})
    assert (alone.sampler, alone.sample_rate) == ("parentbased_traceidratio", 0.25)


def test_resource_attribute_argument_adds_to_the_variable():
    s = load_settings({"resource_attributes": {"team": "b", "x": 1}},
                      {"OTEL_RESOURCE_ATTRIBUTES": "team=a,region=eu"})
    assert s.resource_attributes == {"team": "b", "region": "eu", "x": "1"}


def test_bad_specific_variable_falls_back_to_the_generic_one_and_says_so(caplog):
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "smoke",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        s = load_settings({}, env)
    assert s.protocol == "http/protobuf"
    [record] = [r for r in caplog.records if r.name == "vaquero"]
    message = record.getMessage()
    assert "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='smoke'" in message
    assert "'http/protobuf' from OTEL_EXPORTER_OTLP_PROTOCOL" in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://otel:S3cret@collector:4318", "http://***@collector:4318"),
        ("https://user:p@ss@host:4318/v1/traces", "https://***@host:4318/v1/traces"),
        ("http://u:pa/ss@host", "http://***@host"),
        ("user:pw@host:4317", "***@host:4317"),
        ("http://collector:4317", "http://collector:4317"),
        ("http://[::1]:4317", "http://[::1]:4317"),
    ],
)
def test_mask_endpoint_hides_userinfo(url, shown):
    assert _config.mask_endpoint(url) == shown


def test_endpoint_credentials_never_appear_in_describe_or_warnings(caplog):
    s = load_settings({"endpoint": "http://otel:S3cret@collector:4318"}, {})
    assert s.endpoint == "http://otel:S3cret@collector:4318"  # the exporter needs them
    assert "S3cret" not in repr(s.describe())
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        load_settings({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:S3cret@[::1"})
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in caplog.text and "S3cret" not in caplog.text
    with pytest.raises(ConfigError) as caught:
        load_settings({"endpoint": "http://otel:S3cret@[::1"}, {})
    assert "S3cret" not in str(caught.value) and "endpoint=" in str(caught.value)


def test_durations_are_clamped_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        s = load_settings({}, {"VAQUERO_SHUTDOWN_TIMEOUT": "1e10", "OTEL_BSP_SCHEDULE_DELAY": "inf",
                               "OTEL_EXPORTER_OTLP_TIMEOUT": "1e300"})
    assert s.shutdown_timeout == 600.0
    assert s.schedule_delay_ms == 600_000.0
    assert s.timeout == 600.0
    messages = [r.getMessage() for r in caplog.records if r.name == "vaquero"]
    assert len(messages) == 3
    assert any("VAQUERO_SHUTDOWN_TIMEOUT='1e10'" in m and "600" in m for m in messages)
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        assert load_settings({"shutdown_timeout": float("inf")}, {}).shutdown_timeout == 600.0
    assert "shutdown_timeout=inf" in caplog.text
