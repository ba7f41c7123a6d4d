"""What a pip install carries, and the OpenTelemetry version range it promises.

The fast tests read the source tree: the stack files shipped in the package are the
repository's, byte for byte; every subpackage is listed for the wheel; the CI constraint
files sit exactly at the ends of pyproject's ranges. The slow test builds the wheel,
installs it into a fresh virtualenv outside the checkout and runs the commands a new user
runs first.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml
from conftest import DEMO_WORKFLOW_ROOTS, ROOT, clean_env, closed_port, read_trace_file
from packaging.requirements import Requirement
from packaging.version import Version

from vaquero import _demo, _stack, cli

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
OTEL_DEPENDENCIES = {
    req.name: req
    for req in map(Requirement, PYPROJECT["project"]["dependencies"])
    if req.name.startswith("opentelemetry-")
}
CONSTRAINTS = {end: ROOT / "ci" / f"constraints-{end}.txt" for end in ("oldest", "newest")}

# --- the stack files --------------------------------------------------------------------------
def test_the_shipped_stack_files_are_the_repositorys_byte_for_byte():
    for name in _stack.STACK_FILES:
        shipped = (_stack.STACK_DIR / name).read_bytes()
        assert shipped == (ROOT / name).read_bytes(), (
            f"vaquero/_stack_files/{name} differs from the repository's {name}: "
            f"copy it over (cp {name} vaquero/_stack_files/{name})"
        )
    shipped_names = {
        str(path.relative_to(_stack.STACK_DIR))
        for path in _stack.STACK_DIR.rglob("*") if path.is_file()
    }
    assert shipped_names == set(_stack.STACK_FILES)


def test_every_file_the_compose_file_mounts_is_shipped():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    mounted = {
        volume.split(":", 1)[0].removeprefix("./")
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if volume.startswith("./")
    }
    assert mounted, "the compose file mounts no local file: has its layout changed?"
    assert mounted <= set(_stack.STACK_FILES)


def test_stack_init_writes_the_stack_and_never_clobbers_a_changed_file(tmp_path, capsys):
    target = tmp_path / "new" / "stack"
    assert cli.main(["stack", "init", str(target)]) == 0
    for name in _stack.STACK_FILES:
        assert (target / name).read_bytes() == (ROOT / name).read_bytes()
    out = capsys.readouterr().out
    assert "docker compose up -d" in out and "http://127.0.0.1:16686" in out

    assert cli.main(["stack", "init", str(target)]) == 0  # again: nothing changes
    assert capsys.readouterr().out.count("unchanged ") == len(_stack.STACK_FILES)

    tuned = target / "otel-collector.yaml"
    tuned.write_text("# my own pipeline\n")
    (target / "docker-compose.yml").unlink()
    assert cli.main(["stack", "init", str(target)]) == 1
    err = capsys.readouterr().err
    assert str(tuned) in err and "--force" in err
    assert tuned.read_text() == "# my own pipeline\n"
    assert not (target / "docker-compose.yml").exists()  # nothing half-written

    assert cli.main(["stack", "init", "--force", str(target)]) == 0
    assert tuned.read_bytes() == (ROOT / "otel-collector.yaml").read_bytes()
    assert (target / "docker-compose.yml").read_bytes() == (
        ROOT / "docker-compose.yml"
    ).read_bytes()


def test_stack_init_refuses_a_file_as_the_directory(tmp_path, capsys):
    occupied = tmp_path / "a-file"
    occupied.write_text("x")
    assert cli.main(["stack", "init", str(occupied)]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
    assert cli.main(["stack"]) == 2  # no action: usage, not a traceback


# --- what the wheel contains ------------------------------------------------------------------
def test_every_subpackage_is_listed_for_the_wheel():
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "vaquero").rglob("__init__.py")
    }
    assert set(SETUPTOOLS["packages"]) == found | {"vaquero._examples"}, (
        "pyproject.toml [tool.setuptools] packages must list every package under vaquero/"
    )
    assert SETUPTOOLS["package-dir"] == {"vaquero._examples": "examples"}


def test_the_demo_runs_every_example_and_finds_them_where_the_wheel_puts_them():
    numbered = sorted(path.name for path in (ROOT / "examples").glob("[0-9]*.py"))
    assert list(_demo.EXAMPLES) == numbered
    assert (ROOT / "examples" / f"{_demo.SIM_MODULE}.py").is_file()


def test_the_supported_python_versions_are_the_tested_ones():
    classifiers = PYPROJECT["project"]["classifiers"]
    tested = f"Programming Language :: Python :: {sys.version_info[0]}.{sys.version_info[1]}"
    assert tested in classifiers
    assert Version(f"{sys.version_info[0]}.{sys.version_info[1]}") in Requirement(
        f"python{PYPROJECT['project']['requires-python']}"
    ).specifier


# --- the OpenTelemetry range and its two tested ends ------------------------------------------
def _pins(path: Path) -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip()] = Version(version.strip())
    return pins


def _lower_bound(requirement: Requirement) -> Version:
    (bound,) = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    return Version(bound)


def test_no_opentelemetry_dependency_is_pinned():
    assert len(OTEL_DEPENDENCIES) >= 5
    for requirement in OTEL_DEPENDENCIES.values():
        operators = {spec.operator for spec in requirement.specifier}
        assert "==" not in operators and {">=", "<"} <= operators, requirement


def test_the_oldest_constraints_are_the_lower_bounds_of_the_ranges():
    pins = _pins(CONSTRAINTS["oldest"])
    assert set(pins) == set(OTEL_DEPENDENCIES)
    for name, requirement in OTEL_DEPENDENCIES.items():
        assert pins[name] == _lower_bound(requirement), name
        assert requirement.specifier.contains(pins[name], prereleases=True), name


def test_the_newest_constraints_lie_inside_the_ranges_above_the_oldest():
    oldest, newest = _pins(CONSTRAINTS["oldest"]), _pins(CONSTRAINTS["newest"])
    assert set(newest) == set(OTEL_DEPENDENCIES)
    for name, requirement in OTEL_DEPENDENCIES.items():
        assert requirement.specifier.contains(newest[name], prereleases=True), name
        assert newest[name] > oldest[name], name


def test_each_end_is_one_lockstep_release_of_core_and_contrib():
    """Core 1.Y.z and contrib 0.Xbz move together; a mixed set does not install."""
    for path in CONSTRAINTS.values():
        pins = _pins(path)
        core = {v for name, v in pins.items() if not name.startswith("opentelemetry-instr")}
        contrib = {v for name, v in pins.items() if name.startswith("opentelemetry-instr")}
        assert len(core) == 1 and len(contrib) == 1, path.name


def test_ci_runs_the_suite_on_both_ends():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for path in CONSTRAINTS.values():
        assert f"-c {path.relative_to(ROOT)}" in script, path.name


# --- the built wheel, installed where no checkout is ------------------------------------------
def _wheel_source(tmp_path: Path) -> Path:
    """The files a wheel is built from, copied so the build never writes into the checkout."""
    source = tmp_path / "source"
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "vaquero", source / "vaquero", ignore=ignore)
    shutil.copytree(ROOT / "examples", source / "examples", ignore=ignore)
    return source


def _run(args: list[str], cwd: Path, timeout: float = 600, **env: str) -> str:
    result = subprocess.run(
        args, cwd=cwd, env=clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1", **env),
        capture_output=True, text=True, timeout=timeout,
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_the_built_wheel_runs_the_demo_and_writes_the_stack_outside_the_checkout(tmp_path):
    source = _wheel_source(tmp_path)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
          str(source)], cwd=tmp_path)
    (wheel,) = wheels.glob("vaquero-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    bin_dir = venv / "bin"
    # The wheel from disk, its dependencies from the package index (or pip's cache).
    _run([str(bin_dir / "pip"), "install", "-q", str(wheel)], cwd=tmp_path)

    home = tmp_path / "home"  # a user's directory: no checkout anywhere near
    home.mkdir()
    located = _run([str(bin_dir / "python"), "-c", "import vaquero; print(vaquero.__file__)"],
                   cwd=home).strip()
    assert Path(located).is_relative_to(venv), located
    assert not Path(located).is_relative_to(ROOT)

    traces = home / "demo.jsonl"
    out = _run([str(bin_dir / "vaquero"), "demo", "--no-console", "--seed", "3",
                "--file", str(traces)], cwd=home,
               OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{closed_port()}")
    roots = {span["name"] for span in read_trace_file(traces) if not span.get("parentSpanId")}
    assert DEMO_WORKFLOW_ROOTS <= roots, roots
    assert "vaquero stack init && docker compose up -d" in out

    _run([str(bin_dir / "vaquero"), "stack", "init", "stack"], cwd=home)
    for name in _stack.STACK_FILES:
        assert (home / "stack" / name).read_bytes() == (ROOT / name).read_bytes(), name
