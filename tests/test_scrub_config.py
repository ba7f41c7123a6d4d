"""Scrubbing as configured through init() and the environment, end to end to the trace file."""

from __future__ import annotations

import logging

import pytest
from conftest import file_env, read_trace_file, run_python

from vaquero._config import ConfigError, load_settings

APP = """
import vaquero
{init}
with vaquero.span("login", password="hunter2", internal_note="ops only", session_id="s-1",
                  user_email="ada@example.com", note="Bearer abcdef123456789") as s:
    pass
"""


def _exported(tmp_path, init: str = "", **env: str) -> dict:
    traces = tmp_path / f"t{len(list(tmp_path.iterdir()))}.jsonl"  # a new file per run
    result = run_python(
        APP.format(init=init),
        env=file_env(traces, **env),
    )
    assert result.returncode == 0, result.stderr
    (span,) = read_trace_file(traces)
    return span["attrs"]


def test_secrets_are_scrubbed_by_default_and_listed(tmp_path):
    attrs = _exported(tmp_path)
    assert attrs["password"] == "[REDACTED]"
    assert attrs["session_id"] == "[REDACTED]"
    assert attrs["note"] == "Bearer [REDACTED]"
    assert attrs["internal_note"] == "ops only"
    assert attrs["user_email"] == "ada@example.com"  # pii="keep" is the default
    assert set(attrs["vaquero.scrubbed_keys"]) == {"password", "session_id", "note"}


def test_init_patterns_allow_list_and_callback(tmp_path):
    attrs = _exported(
        tmp_path,
        init="vaquero.init(exporters=['vaquero_file'], scrub_patterns=['^internal_'],"
        " scrub_allow=['session_id'],"
        " scrub_callback=lambda m: 'X' if m.where == 'password' else None)",
    )
    assert attrs["internal_note"] == "[REDACTED]"
    assert attrs["session_id"] == "s-1"
    assert attrs["password"] == "X"


def test_environment_patterns_allow_list_and_pii_hash(tmp_path):
    attrs = _exported(
        tmp_path, VAQUERO_SCRUB_PATTERNS="^internal_", VAQUERO_SCRUB_ALLOW="session_id",
        VAQUERO_PII="hash", VAQUERO_PII_KEY="k1",
    )
    again = _exported(tmp_path, VAQUERO_PII="hash", VAQUERO_PII_KEY="k1")
    other = _exported(tmp_path, VAQUERO_PII="hash", VAQUERO_PII_KEY="k2")
    assert attrs["internal_note"] == "[REDACTED]" and attrs["session_id"] == "s-1"
    assert attrs["user_email"].startswith("hmac-sha256:")
    assert attrs["user_email"] == again["user_email"] != other["user_email"]


def test_scrubbing_off(tmp_path):
    attrs = _exported(tmp_path, VAQUERO_SCRUB="false")
    assert attrs["password"] == "hunter2"
    assert "vaquero.scrubbed_keys" not in attrs


def test_bad_pattern_argument_is_a_config_error():
    with pytest.raises(ConfigError, match=r"scrub_patterns=.*'\(unclosed' is not a valid"):
        load_settings({"scrub_patterns": ["ok_.*", "(unclosed"]}, {})


def test_bad_pattern_variable_warns_and_keeps_the_good_ones(caplog):
    with caplog.at_level(logging.WARNING, logger="vaquero"):
        settings = load_settings({}, {"VAQUERO_SCRUB_PATTERNS": "ok_.*,(unclosed"})
    assert settings.scrub_patterns == ("ok_.*",)
    assert "VAQUERO_SCRUB_PATTERNS" in caplog.text and "(unclosed" in caplog.text


def test_pii_key_never_shows_in_describe_or_repr():
    settings = load_settings({}, {"VAQUERO_PII_KEY": "top-secret-key"})
    assert settings.pii_key == "top-secret-key"
    assert "top-secret-key" not in repr(settings)
    assert settings.describe()["pii_key"] == "***"
