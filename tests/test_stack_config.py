"""Static checks of the Collector + Jaeger stack files.

No Docker engine runs on our machines, so a typo in a pipeline or a port that disagrees between
docker-compose.yml, the collector config and vaquero's defaults would only show up on a user's
laptop. These tests catch that class of mistake from the files themselves.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MAIN_CONFIG = ROOT / "otel-collector.yaml"
GATEWAY_CONFIG = ROOT / "deploy" / "gateway-collector.yaml"
JAEGER_CONFIG = ROOT / "deploy" / "jaeger.yaml"
COMPOSE_FILE = ROOT / "docker-compose.yml"

COLLECTOR_CONFIGS = [MAIN_CONFIG, GATEWAY_CONFIG]
# Jaeger v2 is a collector distribution, so its config obeys the same referential rules.
ALL_PIPELINE_CONFIGS = [*COLLECTOR_CONFIGS, JAEGER_CONFIG]

# The endpoints vaquero exports to when nothing is configured (vaquero/_config.py keeps them as
# DEFAULT_GRPC_ENDPOINT / DEFAULT_HTTP_ENDPOINT); the compose stack must listen exactly there.
VAQUERO_GRPC_DEFAULT = "http://localhost:4317"
VAQUERO_HTTP_DEFAULT = "http://localhost:4318/v1/traces"

SECTIONS = {"receivers": "receivers", "processors": "processors", "exporters": "exporters"}


# `${env:NAME:-default}`: how the config files take every address (the Collector's confmap
# syntax), so one file serves compose (the defaults) and a bare host (ci/stack/up sets them).
ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def compose_view(text: str) -> str:
    """The config as the Collector reads it inside compose, where no variable is set."""
    return ENV_REFERENCE.sub(lambda m: m.group(2) or "", text)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(compose_view(path.read_text()))
    assert isinstance(data, dict), f"{path.name} is not a YAML mapping"
    return data


def pipelines(config: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    found = config["service"]["pipelines"]
    assert found, "no pipelines"
    return dict(found)


def port_of(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def published(service: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """Container port -> (host ip, host port) for "IP:HOST:CONTAINER" entries."""
    mapping: dict[int, tuple[str, int]] = {}
    for entry in service.get("ports", []):
        parts = str(entry).split(":")
        assert len(parts) == 3, f"port {entry!r} must be IP:HOST:CONTAINER (bound to loopback)"
        ip, host, container = parts
        mapping[int(container.split("/")[0])] = (ip, int(host))
    return mapping


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(COMPOSE_FILE)


@pytest.fixture(scope="module")
def main_config() -> dict[str, Any]:
    return load(MAIN_CONFIG)


@pytest.fixture(scope="module")
def jaeger_config() -> dict[str, Any]:
    return load(JAEGER_CONFIG)


# -- referential integrity --------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_PIPELINE_CONFIGS, ids=lambda p: p.name)
def test_every_component_in_a_pipeline_is_defined(path: Path) -> None:
    config = load(path)
    for name, pipeline in pipelines(config).items():
        assert pipeline.get("receivers"), f"pipeline {name} has no receivers"
        assert pipeline.get("exporters"), f"pipeline {name} has no exporters"
        for key, section in SECTIONS.items():
            defined = dict(config.get(section) or {})
            if key in ("receivers", "exporters"):  # a connector is both, between pipelines
                defined.update(config.get("connectors") or {})
            for component in pipeline.get(key, []):
                assert component in defined, f"{name}: {key} {component!r} is not defined"
    for connector in config.get("connectors") or {}:
        fed = [n for n, p in pipelines(config).items() if connector in p.get("exporters", [])]
        feeds = [n for n, p in pipelines(config).items() if connector in p.get("receivers", [])]
        assert fed and feeds, f"connector {connector!r} must be fed by a pipeline and feed one"
    defined_extensions = config.get("extensions") or {}
    for extension in config["service"].get("extensions", []):
        assert extension in defined_extensions, f"extension {extension!r} is not defined"


@pytest.mark.parametrize("path", COLLECTOR_CONFIGS, ids=lambda p: p.name)
def test_memory_limiter_first_and_batch_last(path: Path) -> None:
    for name, pipeline in pipelines(load(path)).items():
        processors = pipeline["processors"]
        assert processors[0] == "memory_limiter", f"{name}: memory_limiter must come first"
        assert processors[-1] == "batch", f"{name}: batch must come last"
        if name.startswith("traces"):  # span attributes: metrics carry none of the user's
            assert "attributes/redact-secrets" in processors, f"{name}: no redaction stage"


def test_debug_exporter_defined_but_not_in_a_pipeline(main_config: dict[str, Any]) -> None:
    assert "debug" in main_config["exporters"]
    for name, pipeline in pipelines(main_config).items():
        assert "debug" not in pipeline["exporters"], f"{name} exports to debug"


def test_collector_exports_to_jaeger_with_the_renamed_otlp_grpc_exporter(
    main_config: dict[str, Any], compose: dict[str, Any], jaeger_config: dict[str, Any]
) -> None:
    (exporter,) = [e for e in pipelines(main_config)["traces"]["exporters"]
                   if e.startswith("otlp")]
    # v0.144.0 renamed `otlp` to `otlp_grpc`; the old name is only a deprecated alias.
    assert exporter.split("/")[0] == "otlp_grpc"
    host, port = main_config["exporters"][exporter]["endpoint"].split(":")
    assert host in compose["services"], f"{host} is not a compose service"
    jaeger_grpc = jaeger_config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert port_of(jaeger_grpc) == int(port)
    # Jaeger gets OTLP from the collector only: its OTLP ports are not published.
    assert int(port) not in published(compose["services"][host])


def test_gateway_tail_sampling_keeps_errors_and_slow_traces() -> None:
    config = load(GATEWAY_CONFIG)
    processors = pipelines(config)["traces"]["processors"]
    assert processors.index("tail_sampling") < processors.index("batch")
    policies = {p["type"]: p for p in config["processors"]["tail_sampling"]["policies"]}
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    assert policies["latency"]["latency"]["threshold_ms"] > 0
    assert 0 < policies["probabilistic"]["probabilistic"]["sampling_percentage"] < 100


# -- the redaction stage ----------------------------------------------------------------------

# The one table both layers answer to: vaquero's key rules are tested against it in
# tests/test_scrub.py, the Collector's pattern here.
_TABLE = json.loads((ROOT / "tests" / "data" / "secret_keys.json").read_text())
SECRET_KEYS: list[str] = _TABLE["scrubbed"]
SAFE_KEYS: list[str] = _TABLE["kept"]


@pytest.mark.parametrize("path", COLLECTOR_CONFIGS, ids=lambda p: p.name)
def test_redaction_pattern_drops_secret_names_and_keeps_workflow_ones(path: Path) -> None:
    actions = load(path)["processors"]["attributes/redact-secrets"]["actions"]
    patterns = [a["pattern"] for a in actions if a["action"] == "delete" and "pattern" in a]
    assert patterns, "no delete-by-pattern action"
    # Go's RE2 and Python's re agree on this subset (alternation, classes, (?i)); the
    # processor matches unanchored, like re.search.
    compiled = [re.compile(p) for p in patterns]
    for key in SECRET_KEYS:
        assert any(c.search(key) for c in compiled), f"{key!r} would reach Jaeger"
    for key in SAFE_KEYS:
        assert not any(c.search(key) for c in compiled), f"{key!r} would be deleted"


# -- one file for compose and for a bare host -----------------------------------------------

# The keys that hold an address a program listens on or sends to, or a path on disk.
_ADDRESS_KEYS = {"endpoint", "port", "keys", "values", "ca_file"}


def _address_values(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if key in _ADDRESS_KEYS and not isinstance(value, (dict, list)):
                yield where, value
            else:
                yield from _address_values(value, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _address_values(value, f"{path}[{index}]")


@pytest.mark.parametrize("path", ALL_PIPELINE_CONFIGS, ids=lambda p: p.name)
def test_every_address_comes_from_a_variable_with_the_compose_value_as_default(
    path: Path,
) -> None:
    raw = yaml.safe_load(path.read_text())
    found = list(_address_values(raw))
    assert found, "no addresses found: the walk is broken"
    for where, value in found:
        assert ENV_REFERENCE.search(str(value)), (
            f"{path.name}: {where} = {value!r} is fixed; write ${{env:NAME:-{value}}} so "
            "ci/stack/up (and a user without Docker) can move it to 127.0.0.1"
        )


def _stack_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("ci_stack", ROOT / "ci" / "stack" / "stack.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


def test_the_bare_host_stack_sets_every_variable_the_files_read_and_binds_loopback_only() -> None:
    stack = _stack_module()
    by_config: dict[str, set[str]] = {}
    for program in stack.programs(gateway=True):
        config = next(a.split("=", 1)[1] for a in program.argv if a.startswith("--config"))
        by_config.setdefault(Path(config).name, set()).update(program.env)
        for name, value in program.env.items():
            if name.endswith("_LISTEN"):
                assert value.startswith("127.0.0.1:"), f"{program.name}: {name}={value}"
        listen_flags = [a for a in program.argv if "listen-address" in a]
        assert all("=127.0.0.1:" in a for a in listen_flags), listen_flags
    for path in ALL_PIPELINE_CONFIGS:
        read = {m.group(1) for m in ENV_REFERENCE.finditer(path.read_text())}
        unset = read - by_config[path.name]
        assert not unset, f"ci/stack/up leaves {sorted(unset)} of {path.name} at compose values"


# -- ports agree everywhere -------------------------------------------------------------------


def test_every_published_port_is_bound_to_loopback(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for container_port, (ip, _) in published(service).items():
            assert ip == "127.0.0.1", f"{name}:{container_port} is published on {ip}"


def test_collector_ports_agree_with_compose(
    compose: dict[str, Any], main_config: dict[str, Any]
) -> None:
    ports = published(compose["services"]["otel-collector"])
    protocols = main_config["receivers"]["otlp"]["protocols"]
    grpc_port = port_of(protocols["grpc"]["endpoint"])
    http_port = port_of(protocols["http"]["endpoint"])
    health_port = port_of(main_config["extensions"]["health_check"]["endpoint"])
    assert (grpc_port, http_port, health_port) == (4317, 4318, 13133)
    for port in (grpc_port, http_port, health_port):
        assert ports[port] == ("127.0.0.1", port)


def test_jaeger_ui_health_and_storage_agree_with_compose(
    compose: dict[str, Any], jaeger_config: dict[str, Any]
) -> None:
    jaeger = compose["services"]["jaeger"]
    ui_port = port_of(jaeger_config["extensions"]["jaeger_query"]["http"]["endpoint"])
    assert published(jaeger)[ui_port] == ("127.0.0.1", 16686)

    health_port = port_of(jaeger_config["extensions"]["healthcheckv2"]["http"]["endpoint"])
    probe = " ".join(jaeger["healthcheck"]["test"])
    assert f"127.0.0.1:{health_port}/status" in probe

    mounts = {v.split(":")[1]: v.split(":")[0] for v in jaeger["volumes"]}
    assert mounts["/badger"] in compose["volumes"], "badger must live on a named volume"
    (backend,) = jaeger_config["extensions"]["jaeger_storage"]["backends"].values()
    badger = backend["badger"]
    assert badger["ephemeral"] is False
    assert all(d.startswith("/badger/") for d in badger["directories"].values())


def test_compose_mounts_files_that_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).is_file(), f"{name} mounts missing {source}"


@pytest.mark.parametrize(
    ("endpoint", "container_port", "path"),
    [(VAQUERO_GRPC_DEFAULT, 4317, ""), (VAQUERO_HTTP_DEFAULT, 4318, "/v1/traces")],
)
def test_vaquero_default_endpoints_hit_the_published_ports(
    compose: dict[str, Any], endpoint: str, container_port: int, path: str
) -> None:
    url = urlparse(endpoint)
    assert (url.scheme, url.hostname, url.path) == ("http", "localhost", path)
    assert published(compose["services"]["otel-collector"])[container_port] == (
        "127.0.0.1",
        url.port,
    )


def test_vaquero_config_uses_these_defaults() -> None:
    try:
        from vaquero._config import DEFAULT_GRPC_ENDPOINT, DEFAULT_HTTP_ENDPOINT
    except ImportError as exc:
        pytest.skip(f"vaquero._config defaults not importable yet: {exc}")
    assert DEFAULT_GRPC_ENDPOINT == VAQUERO_GRPC_DEFAULT
    assert DEFAULT_HTTP_ENDPOINT == VAQUERO_HTTP_DEFAULT


# -- the compose tool itself ------------------------------------------------------------------


def test_docker_compose_accepts_the_file() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose not on PATH (apt-get install -y docker-compose)")
    result = subprocess.run(
        [tool, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
