"""Secrets inside values never leave the process; harmless look-alikes are left alone.

The class: scrubbing must see *structure* (nested keys of dicts, dataclasses, pydantic
models, captured arguments, header lists, JSON text), URLs (userinfo, secret query
parameters) and free text (``password=…``, ``token: …``, ``Authorization: Bearer …``),
wherever a string travels: attribute values, event attributes, status descriptions,
exception messages and stack traces. Property tests generate the shapes; the end-to-end
tests run a real application and read what the exporter wrote.
"""

from __future__ import annotations

import dataclasses
import json
import re
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, clean_env, file_env, read_trace_file, run_python
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaquero._attributes import to_attribute_value
from vaquero._pipeline.scrub import MARKER, Scrubber

TABLE = json.loads((Path(__file__).parent / "data" / "secret_keys.json").read_text())
SECRET_KEYS: list[str] = TABLE["scrubbed"]
KEPT_KEYS: list[str] = [k for k in TABLE["kept"] if "email" not in k]
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scrub_one(value: Any, key: str = "payload") -> Any:
    attrs, _ = Scrubber().scrub_attributes({key: to_attribute_value(value)})
    return attrs[key]


# --- one table, two layers ------------------------------------------------------------------


def collector_patterns() -> list[re.Pattern[str]]:
    config = yaml.safe_load((ROOT / "otel-collector.yaml").read_text())
    actions = config["processors"]["attributes/redact-secrets"]["actions"]
    return [re.compile(a["pattern"]) for a in actions if a["action"] == "delete"]


def test_vaquero_and_the_collector_agree_on_the_one_key_table() -> None:
    """Python's re handles the RE2 subset the pattern uses; the processor matches unanchored."""
    patterns = collector_patterns()
    scrubber = Scrubber()
    for key in SECRET_KEYS:
        assert scrubber.scrub_attributes({key: "v"})[0][key] == MARKER, f"vaquero keeps {key}"
        assert any(p.search(key) for p in patterns), f"the Collector keeps {key}"
    for key in TABLE["kept"]:
        assert scrubber.scrub_attributes({key: "v"})[0][key] == "v", f"vaquero drops {key}"
        assert not any(p.search(key) for p in patterns), f"the Collector drops {key}"


# --- structure ------------------------------------------------------------------------------

SECRET = st.text(alphabet=string.ascii_letters + string.digits, min_size=6, max_size=24).map(
    lambda s: f"Zq9{s}"  # distinctive: never produced by the JSON around it
)
PLAIN_KEY = st.sampled_from(["user", "name", "db", "config", "items", "meta", "x", "step"])
PLAIN_VALUE = st.one_of(
    st.integers(-1000, 1000), st.booleans(), st.none(),
    st.text(alphabet=string.ascii_lowercase + " ", max_size=12),
)


@st.composite
def nested_with_secret(draw: st.DrawFn) -> tuple[Any, str]:
    """A random tree of dicts/lists/tuples holding one secret under a secret key."""
    secret = draw(SECRET)
    key = draw(st.sampled_from([k for k in SECRET_KEYS if " " not in k]))
    node: Any = {key: secret}
    for _ in range(draw(st.integers(0, 6))):
        siblings = draw(st.dictionaries(PLAIN_KEY, PLAIN_VALUE, max_size=3))
        shape = draw(st.sampled_from(["dict", "list", "tuple"]))
        if shape == "dict":
            node = {**siblings, draw(PLAIN_KEY) + "_": node}
        elif shape == "list":
            node = [siblings, node]
        else:
            node = (node, siblings)
    return node, secret


@PROPERTY
@given(nested_with_secret())
def test_a_secret_key_at_any_depth_never_leaves(case: tuple[Any, str]) -> None:
    value, secret = case
    assert secret not in json.dumps(scrub_one(value), ensure_ascii=False)


@PROPERTY
@given(
    st.recursive(
        st.dictionaries(st.sampled_from(KEPT_KEYS), PLAIN_VALUE, max_size=4),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.sampled_from(KEPT_KEYS), inner, max_size=3),
        ),
        max_leaves=12,
    )
)
def test_look_alike_keys_at_any_depth_are_untouched(value: Any) -> None:
    converted = to_attribute_value(value)
    attrs, found = Scrubber().scrub_attributes({"payload": converted})
    assert attrs["payload"] == converted
    assert found == []


def test_deep_payloads_keep_their_data_and_lose_their_secrets() -> None:
    deep: Any = {"password": "Zq9deep", "cache_key": "kept"}
    for level in range(40):
        deep = {f"level{level}": deep}
    text = scrub_one(deep)
    assert "Zq9deep" not in text
    inner = json.loads(text)
    for level in reversed(range(40)):
        inner = inner[f"level{level}"]
    assert inner == {"password": MARKER, "cache_key": "kept"}


@dataclasses.dataclass
class LoginForm:
    user: str
    password: str


def test_dataclass_pydantic_and_header_lists_are_scrubbed_by_structure() -> None:
    import pydantic

    class Settings(pydantic.BaseModel):
        host: str
        api_key: str

    assert json.loads(scrub_one(LoginForm("ada", "hunter2hunter2"))) == {
        "user": "ada", "password": MARKER,
    }
    assert json.loads(scrub_one(Settings(host="db", api_key="k-123456"))) == {
        "host": "db", "api_key": MARKER,
    }
    scope = {"type": "http", "headers": [(b"host", b"x"), (b"cookie", b"session=abc123")]}
    assert json.loads(scrub_one(scope))["headers"] == [["host", "x"], ["cookie", MARKER]]


def test_fastapi_request_captured_with_capture_args_keeps_no_cookie() -> None:
    starlette = pytest.importorskip("starlette.requests")
    request = starlette.Request(
        {
            "type": "http", "method": "GET", "path": "/me", "query_string": b"page=2",
            "headers": [(b"cookie", b"sessionid=s3cr3tS3ss10n"), (b"accept", b"*/*")],
        }
    )
    text = scrub_one(request, "arg.request")
    assert "s3cr3tS3ss10n" not in text
    assert json.loads(text)["path"] == "/me"


def test_json_text_in_a_string_attribute_is_scrubbed_as_structure() -> None:
    text = json.dumps({"outer": {"credentials": {"user": "u", "pw": "Zq9pw"}}, "ok": 1})
    assert json.loads(scrub_one(text)) == {"outer": {"credentials": MARKER}, "ok": 1}


# --- URLs and free text ---------------------------------------------------------------------


@PROPERTY
@given(
    user=st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8),
    password=st.text(alphabet=string.ascii_letters + string.digits + "@!$", min_size=1,
                     max_size=16).map(lambda s: "Zq9" + s),
    host=st.sampled_from(["db", "db.internal:5432", "[::1]:6379", "example.com"]),
)
def test_url_userinfo_password_never_leaves_even_with_at_signs(
    user: str, password: str, host: str
) -> None:
    url = f"postgres://{user}:{password}@{host}/orders"
    assert scrub_one(url) == f"postgres://{user}:{MARKER}@{host}/orders"


@PROPERTY
@given(
    param=st.sampled_from(["access_token", "api_key", "sig", "token", "client_secret",
                           "X-Amz-Signature", "password"]),
    secret=SECRET,
    before=st.sampled_from(["", "page=2&", "q=ok&"]),
    after=st.sampled_from(["", "&page=2", "#frag"]),
)
def test_secret_query_parameters_go_and_others_stay(
    param: str, secret: str, before: str, after: str
) -> None:
    url = f"https://api.example.com/v1/items?{before}{param}={secret}{after}"
    assert scrub_one(url) == f"https://api.example.com/v1/items?{before}{param}={MARKER}{after}"


@PROPERTY
@given(
    key=st.sampled_from(["password", "token", "api_key", "secret", "Authorization", "pwd",
                         "X-Api-Key", "session_id"]),
    sep=st.sampled_from(["=", ": ", " = ", "="]),
    secret=SECRET,
    prefix=st.text(alphabet=string.ascii_lowercase + " ", max_size=20),
)
def test_key_value_secrets_in_free_text_go(key: str, sep: str, secret: str, prefix: str) -> None:
    text = f"{prefix} login failed {key}{sep}{secret} retrying"
    assert secret not in scrub_one(text)


def test_bearer_and_look_alikes_in_free_text() -> None:
    assert scrub_one("Authorization: Bearer abcdefgh12345678") == f"Authorization: Bearer {MARKER}"
    clean = "author=bob token_count=5 session_count=3 tokenizer=bpe cookie_count=1 page=2"
    assert scrub_one(clean) == clean
    assert scrub_one("gen_ai.usage.input_tokens: 812") == "gen_ai.usage.input_tokens: 812"


# --- end to end: every place a string travels -----------------------------------------------

APP = """
import dataclasses, vaquero

@dataclasses.dataclass
class Form:
    user: str
    password: str

@vaquero.trace(capture_args=True)
def login(form, url):
    raise PermissionError(f"login failed for {form.user}: password=Zq9hunter2 token: Zq9tok")

with vaquero.span("config") as s:
    s.set_attribute("db_config", {"user": "app", "password": "Zq9hunter2"})
    s.set_attribute("form", Form("ada", "Zq9hunter2"))
    s.set_attribute("note", "Authorization: Bearer Zq9bearer12345")
    s.set_attribute("callback", "https://u:Zq9p@ss@hooks.example.com/x?access_token=Zq9tok&page=2")
    s.set_attribute("counts", "author=bob token_count=5 session_count=3 tokenizer=bpe")
    s.set_attribute("gen_ai.usage.input_tokens", 812)
    s.add_event("retry", {"detail": {"api_key": "Zq9key"}})
try:
    login(Form("ada", "Zq9hunter2"), "https://x:Zq9pw@db/")
except PermissionError:
    pass
"""


@pytest.mark.parametrize("scrub", ["default", "explicit"])
def test_no_secret_reaches_the_trace_file_by_any_path(tmp_path: Path, scrub: str) -> None:
    traces = tmp_path / "t.jsonl"
    env = file_env(traces)
    if scrub == "explicit":
        env["VAQUERO_SCRUB"] = "true"
    result = run_python(APP, env=env)
    assert result.returncode == 0, result.stderr
    raw = traces.read_text()
    assert "Zq9" not in raw, [line for line in raw.split(",") if "Zq9" in line]
    spans = {span["name"]: span for span in read_trace_file(traces)}
    config = spans["config"]["attrs"]
    assert config["counts"] == "author=bob token_count=5 session_count=3 tokenizer=bpe"
    assert config["gen_ai.usage.input_tokens"] == 812
    assert json.loads(config["db_config"]) == {"user": "app", "password": MARKER}
    assert config["callback"] == (
        f"https://u:{MARKER}@hooks.example.com/x?access_token={MARKER}&page=2"
    )
    login = spans["login"]
    assert login["status"]["message"].startswith("PermissionError: login failed for ada")
    (event,) = login["events"]
    attrs = {a["key"]: a["value"].get("stringValue") for a in event["attributes"]}
    assert f"password={MARKER}" in attrs["exception.message"]
    assert f"password={MARKER}" in attrs["exception.stacktrace"]


# --- endpoint credentials are never printed -------------------------------------------------


def test_endpoint_userinfo_is_never_printed(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:  # a closed port: every export fails and is warned about
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://otel:Zq9p@ss@127.0.0.1:{port}"
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                    OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf", OTEL_BSP_EXPORT_TIMEOUT="500")
    app = run_python(
        """
        import vaquero
        vaquero.init("first")
        vaquero.init("second")                      # warns with the settings in force
        with vaquero.span("s"):
            pass
        vaquero.flush(3)
        """,
        env=env,
    )
    doctor = subprocess.run(
        [sys.executable, "-m", "vaquero", "doctor"], env=env, capture_output=True, text=True,
        timeout=60,
    )
    output = app.stdout + app.stderr + doctor.stdout + doctor.stderr
    assert "cannot deliver" in app.stderr or "init() was called again" in app.stderr, output
    assert f"127.0.0.1:{port}" in output  # the endpoint is named ...
    assert "Zq9" not in output  # ... without its credentials
    assert "otel:" not in output


def test_capture_args_on_a_starlette_handler_exports_no_cookie(tmp_path: Path) -> None:
    pytest.importorskip("starlette.requests")
    traces = tmp_path / "t.jsonl"
    result = run_python(
        """
        import vaquero
        from starlette.requests import Request

        @vaquero.trace(capture_args=True)
        def me(request: Request, page: int = 1):
            return {"user": "ada"}

        scope = {"type": "http", "method": "GET", "path": "/me", "query_string": b"page=2",
                 "headers": [(b"cookie", b"sessionid=Zq9sess; csrftoken=Zq9csrf"),
                             (b"authorization", b"Basic Zq9basicAuth=="),
                             (b"user-agent", b"curl/8")]}
        me(Request(scope), page=2)
        """,
        env=file_env(traces),
    )
    assert result.returncode == 0, result.stderr
    assert "Zq9" not in traces.read_text()
    (span,) = read_trace_file(traces)
    request = json.loads(span["attrs"]["vaquero.arg.request"])
    assert request["path"] == "/me"
    assert ["user-agent", "curl/8"] in request["headers"]
    assert span["attrs"]["vaquero.arg.page"] == 2


# --- the secret families (issue 19, item 5) ---------------------------------------------------
# Every sample holds "Zq9" inside its secret part only: after scrubbing, "Zq9" must be gone
# and the text around the secret (the marker "ctx") must still be there.

_A36 = "Zq9" + "a1B2c3D4e5" * 3 + "xyz"  # 36 characters
FAMILY = {
    "pgp private key": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGZq9pgpbody\n=Zq9x\n"
                       "-----END PGP PRIVATE KEY BLOCK-----",
    "openssh private key": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbZq9\n"
                           "-----END OPENSSH PRIVATE KEY-----",
    "azure storage": "DefaultEndpointsProtocol=https;AccountName=acct;"
                     "AccountKey=Zq9azure+key/AAAA==;EndpointSuffix=core.windows.net",
    "azure service bus": "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;"
                         "SharedAccessKey=Zq9sbkey=",
    "azure sas": "https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=Zq9sasSig%3D",
    "sql server": "Server=tcp:db,1433;Database=app;User ID=sa;Password=Zq9adopw;",
    "odbc": "Driver={ODBC Driver 18};Server=db;Uid=sa;Pwd=Zq9odbc;",
    "postgres url": "postgresql://app:Zq9pgpw@db:5432/app",
    "mysql url": "mysql://root:Zq9mysql@127.0.0.1:3306/app",
    "mongodb srv": "mongodb+srv://app:Zq9mongo@cluster0.x.mongodb.net/db?retryWrites=true",
    "redis": "redis://:Zq9redis@cache:6379/0",
    "amqp": "amqps://guest:Zq9amqp@mq.example.com:5671/vhost",
    "jdbc": "jdbc:mysql://db:3306/app?user=app&password=Zq9jdbc",
    "libpq keywords": "host=db port=5432 dbname=app user=app password=Zq9libpq",
    "pw": "pw=Zq9pw",
    "passcode": "passcode: Zq9code",
    "otp": "otp=Zq9otp",
    "dsn": "dsn=Zq9dsn",
    "connection_string": "connection_string='Zq9conn'",
    "json connectionString": '{"connectionString": "Zq9json"}',
    "npm": "npm_" + _A36,
    "hugging face": "hf_" + _A36,
    "gitlab pat": "glpat-" + _A36[:20],
    "gitlab runner": "glrt-" + _A36[:24],
    "google oauth": "ya29." + _A36,
    "google api key": "AIza" + _A36[:35],
    "pypi": "pypi-AgEIcHlwaS5vcmc" + _A36 + _A36,
    "sendgrid": "SG." + _A36[:22] + "." + _A36,
    "slack app": "xapp-1-" + _A36,
    "vault": "hvs." + _A36,
    "stripe webhook": "whsec_" + _A36,
    "atlassian": "ATATT3xFfGF0" + _A36,
    "grafana": "glsa_" + _A36,
}
LOOK_ALIKES = [
    "hf_model_name=bert-base", "npm_config_cache=/tmp/npm", "connection_count=5",
    "connection_pool_size: 10", "glpat-short", "SG.small.thing", "ya29.short", "pwa=true",
    "GET /otpauth/setup", "account_id=42", "dsname=PROD.DATA", "db.system: postgresql",
    "the dapi layer", "token_count=5", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQENB\n-----END PGP PUBLIC KEY BLOCK-----",
]


@pytest.mark.parametrize("secret", FAMILY.values(), ids=FAMILY.keys())
@pytest.mark.parametrize("where", ["alone", "in prose", "in json"])
def test_every_member_of_the_secret_families_goes(secret: str, where: str) -> None:
    text = {"alone": secret, "in prose": f"ctx: could not connect ({secret}) ctx",
            "in json": json.dumps({"detail": f"ctx {secret} ctx"})}[where]
    out = scrub_one(text)
    assert "Zq9" not in out, out
    if where != "alone":
        assert out.count("ctx") == 2, out


HEX_TOKENS = ["shpat_" + "0f" * 16, "dop_v1_" + "0f" * 32, "dapi" + "0f" * 16]


@pytest.mark.parametrize("token", HEX_TOKENS)
def test_hex_shaped_provider_tokens_go(token: str) -> None:
    assert scrub_one(f"ctx {token} ctx") == f"ctx {MARKER} ctx"


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_of_the_families_stay(text: str) -> None:
    assert scrub_one(text) == text


@PROPERTY
@given(st.sampled_from(sorted(FAMILY.values())), st.text(max_size=30), st.text(max_size=30))
def test_a_family_member_goes_whatever_surrounds_it(secret: str, before: str, after: str) -> None:
    out = scrub_one(f"{before.replace('Zq9', '')} {secret} {after.replace('Zq9', '')}")
    assert "Zq9" not in out, out


FAMILY_APP = """
import json, sys, vaquero
from opentelemetry import trace
family = json.loads(FAMILY_JSON)
for label, secret in family.items():
    with vaquero.span(f"connect {label} {secret}") as s:       # an f-string span name
        s.set_attribute("detail", secret)                        # an attribute value
        s.add_event(f"retry {secret}", {"why": secret})          # an event name and value
        s.record_exception(ValueError(f"cannot use {secret}"))   # record_exception
    try:
        with vaquero.span(f"leave {label}"):                     # an exception leaving a span
            raise ConnectionError(f"refused: {secret}")
    except ConnectionError:
        pass
    raw = trace.get_tracer("raw.otel")                           # a raw OpenTelemetry span
    with raw.start_as_current_span(f"raw {secret}") as span:
        span.set_attribute("db.statement", f"-- {secret}")
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"failed {secret}"))
"""


def test_no_family_member_reaches_the_wire_by_any_path(tmp_path: Path) -> None:
    traces = tmp_path / "t.jsonl"
    code = FAMILY_APP.replace("FAMILY_JSON", repr(json.dumps(FAMILY)))
    result = run_python(code, env=file_env(traces))
    assert result.returncode == 0, result.stderr
    raw = traces.read_text()
    assert raw.count('"name"') > 5 * len(FAMILY)
    assert "Zq9" not in raw, [part for part in raw.split(",") if "Zq9" in part]
    names = {span["name"] for span in read_trace_file(traces)}
    assert f"leave {next(iter(FAMILY))}" in names  # names are kept, only their secrets go
