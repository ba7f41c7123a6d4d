"""Operator input never stops the application; init() arguments raise ConfigError only.

The class under test is "any value of any configuration source". The properties run over
every variable of the configuration table (vaquero._config.OPTIONS) and every init()
argument; the subprocess tests replay the reported cases end to end: an unclosed IPv6
endpoint, a shutdown timeout of 1e10, flush(math.inf), a header holding %0A.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from conftest import clean_env, read_trace_file, run_python
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import vaquero
from vaquero import _config, _config_values
from vaquero._config import OPTION_NAMES, OPTIONS, ConfigError, load_settings
from vaquero._state import STATE

PATHS = {"traces_file", "certificate", "client_key", "client_certificate"}
VARIABLES = tuple(name for option in OPTIONS for name in option.env)
# Every warning about a variable starts this way; group 1 is the variable it is about.
SUBJECT = re.compile(r"^vaquero: (?:ignoring|adjusting) ([A-Z0-9_]+)=")
PROPERTY = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# Any text, lone surrogates included (os.environ holds them for undecodable bytes).
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)
tricky_text = st.sampled_from(
    [
        "http://[::1", "http://[fe80::1%eth0", "http://[fe80::1%eth0]:4317", "http://h:99999",
        "http://h:-1", "http://h:port", "https://", "http://user:pw@", "http://\u00e9xample:4317",
        "ftp://h:21", "//h:4317", "http://h:4317\n", "a=b%0Ac", "a=b%0D%0Ax-evil: 1",
        "a=%ZZ", "=v", "k=", "a b=c", "k=v%00", "k=\u00e9", "k=%C3%A9", ",,,", "1e10", "1e999",
        "inf", "-inf", "nan", "-0", "0", "-1", "0x10", "1_000", "9" * 5000, "true", "TRUE",
        "maybe", "none,otlp", "otlp,,console", "(unclosed", "a,(b,[c", "~/no-such.pem",
        "/dev/null", "/", "\x00", "\udcff\udcfe", "\ud800",
    ]
)
number_text = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
)
env_value = st.one_of(any_text, tricky_text, number_text)


class Hostile:
    """A value whose every dunder raises, to stand for any badly behaved object."""

    def _boom(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("hostile")

    __repr__ = __str__ = __bool__ = __float__ = __int__ = __index__ = __fspath__ = _boom
    __eq__ = __iter__ = __len__ = __call__ = _boom  # type: ignore[assignment]
    __hash__ = object.__hash__


class HostileStr(str):
    def _boom(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("hostile")

    strip = lower = encode = split = partition = isascii = __repr__ = _boom  # type: ignore[assignment]


class HostileMapping(Mapping[str, str]):
    def __getitem__(self, key: str) -> str:
        raise RuntimeError("hostile")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("hostile")

    def __len__(self) -> int:
        return 1


any_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
    tricky_text,
    st.binary(max_size=10),
    st.lists(any_text, max_size=3),
    st.tuples(any_text, st.integers()),
    st.dictionaries(any_text, st.one_of(any_text, st.integers(), st.none()), max_size=3),
    st.sampled_from(
        [
            10**400, -(10**400), math.inf, -math.inf, math.nan, Hostile(), HostileStr("x"),
            HostileMapping(), Path("/no/such/file.pem"), object(), print, re.compile("x"),
            b"http://h:4317", ["otlp", 1], {"k": Hostile()}, {Hostile(): "v"}, [Hostile()],
            _config.NOT_PASSED,
        ]
    ),
)


@contextlib.contextmanager
def vaquero_records() -> Iterator[list[logging.LogRecord]]:
    """Every record the vaquero logger emits inside the block (caplog cannot be per-example).

    Warnings are once per process, so each example starts and ends with a fresh state.
    """
    STATE.reset()
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    log = logging.getLogger("vaquero")
    log.addHandler(handler)
    try:
        yield records
    finally:
        log.removeHandler(handler)
        STATE.reset()


def assert_usable(s: _config.Settings) -> None:
    """Whatever the input, what comes out is something every later stage can use."""
    _config_values.parse_endpoint(s.endpoint)
    _config_values.check_headers(s.headers)
    for name in ("timeout", "shutdown_timeout"):
        assert 0 <= getattr(s, name) <= _config.MAX_DURATION_S, name
    for name in ("schedule_delay_ms", "export_timeout_ms"):
        assert 0 <= getattr(s, name) <= _config.MAX_DURATION_S * 1000, name
    for name in ("max_queue_size", "max_export_batch_size", "attribute_value_length"):
        assert getattr(s, name) > 0, name
    assert s.sample_rate is None or 0.0 <= s.sample_rate <= 1.0
    for f in dataclasses.fields(s):
        value = getattr(s, f.name)
        texts = (
            [*value.keys(), *value.values()] if isinstance(value, Mapping)
            else value if isinstance(value, tuple) else [value]
        )
        for text in texts:
            if f.name in PATHS and isinstance(text, str):
                os.fsencode(text)  # a file name may hold undecodable bytes, as the OS gave them
            elif isinstance(text, str):
                text.encode("utf-8")  # no lone surrogate reaches an encoder


def check_environment(env: dict[str, str]) -> None:
    with vaquero_records() as records:
        s = load_settings({}, env)
    subjects = []
    for record in records:
        message = record.getMessage()
        assert record.levelno == logging.WARNING, message
        assert not record.exc_info, message  # never a traceback
        match = SUBJECT.match(message)
        assert match, message
        subjects.append(match.group(1))
        assert "Using " in message and "fix or unset" in message, message
    assert len(subjects) == len(set(subjects)), subjects  # at most one per variable
    assert set(subjects) <= {name for name, raw in env.items() if raw.strip()}
    assert_usable(s)


@PROPERTY
@given(st.fixed_dictionaries({name: env_value for name in VARIABLES}))
def test_every_variable_set_to_anything_at_once(env):
    check_environment(env)


@PROPERTY
@given(st.dictionaries(st.sampled_from(VARIABLES), env_value))
def test_any_subset_of_variables_set_to_anything(env):
    check_environment(env)


@PROPERTY
@given(name=st.sampled_from(VARIABLES), raw=env_value)
def test_one_bad_variable_alone_is_named_with_the_value_in_force(name, raw):
    with vaquero_records() as records:
        load_settings({}, {name: raw})
    assert len(records) <= 1
    for record in records:
        assert SUBJECT.match(record.getMessage()).group(1) == name


def test_a_bad_variable_is_reported_once_per_process_however_often_settings_load():
    env = {"OTEL_BSP_MAX_QUEUE_SIZE": "-3", "VAQUERO_SHUTDOWN_TIMEOUT": "1e10"}
    with vaquero_records() as records:
        for _ in range(3):
            load_settings({}, env)  # the first span, then init(), then doctor...
        load_settings({}, {"OTEL_BSP_MAX_QUEUE_SIZE": "-4"})  # a new value is news
    subjects = [SUBJECT.match(r.getMessage()).group(1) for r in records]
    assert sorted(subjects) == [
        "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE", "VAQUERO_SHUTDOWN_TIMEOUT"
    ]


# A credential: a digit-bearing prefix no message or field name contains, then letters.
secret = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=6).map(lambda t: f"S3cr{t}")


@PROPERTY
@given(token=secret, junk=env_value, protocol=st.sampled_from(["grpc", "http/protobuf"]))
def test_secrets_in_variables_are_never_printed(token, junk, protocol):
    assume(token not in junk)
    env = {
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {token}{junk}",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": f"Bearer {token}{junk}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://otel:{token}@{junk}",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"https://{token}@collector:{junk}",
        "VAQUERO_PII_KEY": f"{token}{junk}",
    }
    with vaquero_records() as records:
        s = load_settings({}, env)
    shown = " ".join(r.getMessage() for r in records) + repr(s.describe()) + repr(s)
    assert token not in shown


def check_arguments(args: dict[str, object]) -> None:
    try:
        with vaquero_records() as records:
            s = load_settings(args, {})
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("vaquero.init("), message
        assert any(f"{name}=" in message for name in args), message
        return
    for record in records:  # only a clamp may warn, naming the argument
        assert record.getMessage().startswith("vaquero: adjusting vaquero.init(")
    assert_usable(s)


@PROPERTY
@given(st.dictionaries(st.sampled_from(OPTION_NAMES), any_value))
def test_any_init_arguments_raise_config_error_and_nothing_else(args):
    check_arguments(args)


@PROPERTY
@given(name=st.sampled_from(OPTION_NAMES), value=any_value)
def test_each_argument_alone_raises_config_error_and_nothing_else(name, value):
    check_arguments({name: value})


HOSTILE = [Hostile(), HostileStr("http://u:p@h"), HostileMapping(), 10**400, math.nan, b"x"]


@pytest.mark.parametrize("name", OPTION_NAMES)
def test_every_argument_given_a_hostile_object_raises_config_error(name):
    for value in HOSTILE:
        check_arguments({name: value})


@pytest.mark.parametrize(
    "endpoint", ["http://[::1", "http://[fe80::1%eth0", "http://otel:pw@[::1", "http://h:99999"]
)
def test_init_with_a_broken_endpoint_argument_raises_config_error(endpoint):
    with pytest.raises(ConfigError, match="endpoint=") as caught:
        vaquero.init(endpoint=endpoint)
    assert "pw" not in str(caught.value)


# --- end to end, in fresh interpreters -------------------------------------------------------
SCRIPT = """
import math, sys, vaquero
if sys.argv[1] == "init":
    vaquero.init()
with vaquero.span("step"):
    pass
print(vaquero.flush(5))
"""


@pytest.mark.parametrize("endpoint", ["http://[::1", "http://[fe80::1%eth0"])
@pytest.mark.parametrize("how", ["init", "lazy"])
def test_broken_endpoint_variable_costs_one_warning_not_the_application(
    tmp_path, endpoint, how
):
    traces = tmp_path / "t.jsonl"
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    env = clean_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_TRACES_EXPORTER="vaquero_file",
        VAQUERO_TRACES_FILE=str(traces),
    )
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, str(script), how], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in lines[0] and "http://localhost:4317" in lines[0]
    assert [s["name"] for s in read_trace_file(traces)] == ["step"]


def test_huge_shutdown_timeout_is_clamped_and_every_span_is_exported_at_exit(tmp_path):
    traces = tmp_path / "t.jsonl"
    result = run_python(
        """
        import vaquero
        for i in range(100):
            with vaquero.span("s"):
                pass
        """,
        env=clean_env(
            VAQUERO_SHUTDOWN_TIMEOUT="1e10",
            OTEL_BSP_SCHEDULE_DELAY="60000",  # nothing leaves before exit
            OTEL_TRACES_EXPORTER="vaquero_file",
            VAQUERO_TRACES_FILE=str(traces),
        ),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "VAQUERO_SHUTDOWN_TIMEOUT='1e10'" in lines[0], result.stderr
    assert "600" in lines[0]
    assert len(read_trace_file(traces)) == 100


def test_flush_with_infinite_timeout_waits_for_the_spans(tmp_path):
    traces = tmp_path / "t.jsonl"
    result = run_python(
        f"""
        import math, vaquero
        vaquero.init(exporters=["vaquero_file"], traces_file={str(traces)!r},
                     schedule_delay_ms=60000)
        for i in range(10):
            with vaquero.span("s"):
                pass
        print(vaquero.flush(math.inf))
        print(sum(1 for _ in open({str(traces)!r})))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "1"], result.stdout + result.stderr
    assert result.stderr == ""
    assert len(read_trace_file(traces)) == 10


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_header_with_a_line_break_is_rejected_once_and_never_sent(rx, protocol):
    endpoint = rx.grpc_endpoint if protocol == "grpc" else rx.http_endpoint
    result = run_python(
        """
        import vaquero
        with vaquero.span("step"):
            pass
        print(vaquero.flush(10))
        """,
        env=clean_env(
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
            OTEL_EXPORTER_OTLP_HEADERS="x-tenant=a%0Ab,authorization=Bearer%20s3cr3t",
            OTEL_EXPORTER_OTLP_COMPRESSION="zstd",
        ),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True", result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr  # one per bad variable, nothing from gRPC's core
    subjects = sorted(SUBJECT.match(line).group(1) for line in lines)
    assert subjects == ["OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_HEADERS"]
    assert "s3cr3t" not in result.stderr
    assert rx.wait_for_spans(1)
    [request] = rx.requests
    assert "x-tenant" not in request.headers and "authorization" not in request.headers
