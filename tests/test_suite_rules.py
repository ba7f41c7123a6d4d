"""Rules the test suite itself keeps (CONTRIBUTING.md): a test never installs software.

Installing is ``.ci/run``'s job; a test whose tool is missing skips and says how to get it.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def test_the_browser_test_skips_and_says_why_without_chromium(monkeypatch):
    """Chromium missing, running as root with apt-get at hand: still nothing is run.

    Faked, because the machine's chromium cannot be uninstalled for a test: ``which``
    finds only apt-get, and every way of starting a process records the attempt.
    """
    import test_report_browser

    started: list[object] = []
    monkeypatch.setattr(shutil, "which",
                        lambda name, *a, **k: "/usr/bin/apt-get" if name == "apt-get" else None)
    monkeypatch.setattr(os.path, "exists", lambda path: False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    for name in ("run", "Popen", "call", "check_call", "check_output"):
        monkeypatch.setattr(subprocess, name, lambda *a, **k: started.append(a))
    monkeypatch.setattr(os, "system", lambda *a: started.append(a))
    with pytest.raises(pytest.skip.Exception) as skipped:
        test_report_browser._chromium()
    assert started == []
    assert "chromium is not installed" in str(skipped.value)
    assert ".ci/run" in str(skipped.value)
