"""``vaquero stack init DIR`` is all or nothing (issue 19, item 7).

The class: whatever stands in the way (a file where a directory goes, a directory where a
file goes, a write that fails half way), the directory is left exactly as it was, and one
message names what is in the way.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from vaquero import _stack
from vaquero._stack import STACK_FILES, run_init


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a directory)."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def _init(target: Path, force: bool = False) -> int:
    return run_init(argparse.Namespace(dir=str(target), force=force))


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("obstacle", ["deploy is a file", "a stack file is a directory"])
def test_an_obstacle_leaves_the_directory_as_it_was(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], obstacle: str, force: bool) -> None:
    if obstacle == "deploy is a file":
        (tmp_path / "deploy").write_text("mine\n")
    else:
        (tmp_path / "otel-collector.yaml").mkdir()
    before = _tree(tmp_path)
    assert _init(tmp_path, force) == 2
    assert _tree(tmp_path) == before
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing was written" in err
    assert ("deploy" if obstacle == "deploy is a file" else "otel-collector.yaml") in err


@pytest.mark.parametrize("fail_at", range(len(STACK_FILES)))
@pytest.mark.parametrize("force", [False, True])
def test_a_write_failing_half_way_undoes_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int, force: bool) -> None:
    """A real failure (disk full, say) at each rename: here os.replace raising is a fake,
    because a real filesystem cannot be made to fail at exactly the n-th rename."""
    target = tmp_path / "stack"
    if force:
        target.mkdir()
        (target / "docker-compose.yml").write_text("tuned by the user\n")
    before = _tree(tmp_path)
    real = os.replace
    calls = []

    def failing(src: object, dst: object) -> None:
        calls.append(dst)
        if len(calls) > fail_at:
            raise OSError(28, "No space left on device")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(_stack.os, "replace", failing)
    assert _init(target, force=True) == 2
    assert _tree(tmp_path) == before


def test_a_clean_init_still_writes_every_file_and_nested_dirs(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    assert _init(target) == 0
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == sorted(
        STACK_FILES)
    assert not [p for p in target.rglob(".*.tmp")]
