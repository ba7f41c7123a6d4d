"""Render the HTML report in Debian's headless Chromium and check what a person would see.

* ``--dump-dom`` prints the DOM *after* scripts ran: the report's script marks
  ``data-js-ready="1"`` and adds ``aria-sort`` to headers, and its error trap appends any
  uncaught error to ``data-js-errors``; a page with a planted error proves the trap reports.
* ``--screenshot`` gives a PNG that we decode with the stdlib (zlib + the five PNG row
  filters). "Not blank" means: a real share of pixels differ from the page background, and
  some pixels are the report's error red (the failing workflow's row). A blank or unstyled page
  fails both.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from vaquero.analysis import write_report

FIXTURES = Path(__file__).parent / "fixtures" / "analysis"
_INSTALL = "apt-get update && apt-get install -y chromium"


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["sh", "-c", f"{_INSTALL} >/dev/null 2>&1"], timeout=900, check=False)
        found = shutil.which("chromium")
        if found:
            return found
    pytest.skip(f"headless chromium is not installed and could not be installed ({_INSTALL})")


@pytest.fixture(scope="module")
def chromium() -> str:
    return _chromium()


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", f"--user-data-dir={profile}", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    write_report(FIXTURES / "workflows.jsonl", out)
    return out


def test_dom_after_scripts_ran(chromium: str, report: Path, tmp_path: Path) -> None:
    proc = _run(chromium, tmp_path / "profile", "--dump-dom", report.as_uri())
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'data-js-ready="1"' in dom, "the report's script did not run"
    assert 'data-js-errors=""' in dom
    assert 'aria-sort="none"' in dom  # added by the script to every sortable header
    assert '<tr class="bad" data-workflow="user_registration_workflow">' in dom
    assert '<tr data-workflow="batch_processing_workflow">' in dom
    assert dom.count('class="wf-row error"') == 2   # failed root + failing duplicate_check
    assert "Slowest run: batch_processing_workflow" in dom


def test_error_trap_reports_script_errors(chromium: str, report: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    page = report.read_text().replace(
        "</body>", "<script>window.noSuchFunction();</script></body>")
    broken.write_text(page)
    dom = _run(chromium, tmp_path / "profile", "--dump-dom", broken.as_uri()).stdout
    assert 'data-js-ready="1"' in dom
    assert "noSuchFunction" in dom.split("data-js-errors=", 1)[1].split(">", 1)[0]


def test_screenshot_is_not_blank(chromium: str, report: Path, tmp_path: Path) -> None:
    png = tmp_path / "shot.png"
    proc = _run(chromium, tmp_path / "profile", f"--screenshot={png}",
                "--window-size=1200,900", "--hide-scrollbars", report.as_uri())
    assert png.exists(), proc.stderr[-2000:]
    width, height, pixels = _decode_png(png.read_bytes())
    assert (width, height) == (1200, 900)
    background = pixels[0]
    painted = sum(1 for pixel in pixels if pixel != background)
    assert painted / len(pixels) > 0.02, f"only {painted} non-background pixels"
    red = sum(1 for r, g, b in pixels if r > 170 and g < 90 and b < 90)
    assert red > 50, "no error-red pixels: the failing workflow is not highlighted"


def _decode_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """8-bit RGB/RGBA PNG -> (width, height, RGB pixels), undoing filters 0..4 per row."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat = 8, b""
    width = height = color_type = 0
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind = data[offset + 4:offset + 8]
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color_type = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color_type in (2, 6), (depth, color_type)
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    channels = 4 if color_type == 6 else 3
    stride = width * channels
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b, c = previous[i], (previous[i - channels] if i >= channels else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        else:
            assert kind == 0, f"unknown PNG filter {kind}"
        pixels.extend(zip(line[0::channels], line[1::channels], line[2::channels]))
        previous = line
    return width, height, pixels
