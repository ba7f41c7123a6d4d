"""deploy/prometheus-rules.yaml, checked and unit-tested by Prometheus's own promtool.

The alerts are code: `promtool test rules` evaluates them over synthetic series
(tests/data/prometheus-rules-test.yaml: firing and not firing, agents and workflows, a blip,
an idle agent). promtool comes from Debian's prometheus package, unpacked by ci/stack/build.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from live_stack import BIN, ROOT, skip_unless_built

pytestmark = pytest.mark.slow

RULES = ROOT / "deploy" / "prometheus-rules.yaml"
RULE_TESTS = ROOT / "tests" / "data" / "prometheus-rules-test.yaml"


def _promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    skip_unless_built()
    return subprocess.run([str(BIN / "promtool"), *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_the_rules_and_the_prometheus_config_are_valid() -> None:
    assert _promtool("check", "rules", str(RULES)).returncode == 0
    done = _promtool("check", "config", str(ROOT / "deploy" / "prometheus.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rule_unit_tests_pass() -> None:
    done = _promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_a_changed_threshold_changes_the_outcome(tmp_path: Path) -> None:
    """The threshold is in one place, and the unit tests do depend on it."""
    rules = RULES.read_text().replace("expr: vector(0.8)", "expr: vector(0.4)", 1)
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "prometheus-rules.yaml").write_text(rules)
    (tmp_path / "tests" / "data").mkdir(parents=True)
    (tmp_path / "tests" / "data" / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    done = _promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path / "tests" / "data")
    assert done.returncode != 0
    assert "VaqueroLowSuccessRate" in done.stdout + done.stderr
