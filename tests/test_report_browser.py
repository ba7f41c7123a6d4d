"""Render the HTML report in Debian's headless Chromium and check what a person would see.

* ``--dump-dom`` prints the DOM *after* scripts ran: the report's script marks
  ``data-js-ready="1"`` and adds ``aria-sort`` to headers, and its error trap appends any
  uncaught error to ``data-js-errors``; a page with a planted error proves the trap reports.
* A measuring script added to a copy of the page asks the browser for the laid-out boxes:
  every chart label inside its SVG (no clipped axis labels, however wide the numbers), the
  waterfall's name, timeline and duration columns side by side with the error message inside
  its own cell (nothing runs into anything), and the time-axis labels apart from each other.
* ``--screenshot`` gives a PNG that we decode with the stdlib (zlib + the five PNG row
  filters). "Not blank" means: a real share of pixels differ from the page background, and
  some pixels are the report's error red. A blank or unstyled page fails both.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from report_data import BIG_FANOUT, write_report_traces

from vaquero.analysis import write_report
from vaquero.analysis._html import render_html
from vaquero.analysis._result import AnalysisResult, TimeBucket, WorkflowStats

JAEGER = "http://jaeger.internal:16686"
# Installing is the CI script's job (.ci/run installs Debian's chromium); a test never
# installs software, it skips and says how to get the tool.
SKIP_REASON = ("headless chromium is not installed: `apt-get install chromium` (what "
               ".ci/run does) to render the report in a browser")


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if found:
        return found
    pytest.skip(SKIP_REASON)


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
    folder = tmp_path_factory.mktemp("report")
    out = folder / "report.html"
    write_report(write_report_traces(folder / "traces.jsonl"), out, jaeger_url=JAEGER)
    return out


@pytest.fixture(scope="module")
def wide_numbers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Counts in the tens of thousands and p95s in minutes: the widest axis labels."""
    start = 1_750_000_000 * 10**9
    minute = 60 * 10**9
    buckets = tuple(TimeBucket(start + i * minute, start + (i + 1) * minute, 48_000 + i * 97,
                               i * 900, 95_000.0 + i * 4_000) for i in range(30))
    bins = tuple((1000.0 * i, 1000.0 * (i + 1), 123_456 // (i + 1), 9_000 // (i + 1))
                 for i in range(20))
    workflow = WorkflowStats("bulk_import_with_a_rather_long_workflow_name", "importer",
                             1_600_000, 0.93, 2500.0, 17_800.0, 19_500.0, 20_000.0, 3.1, (), (),
                             0, histogram=bins, timeseries=buckets)
    result = AnalysisResult((workflow,), (), 9_000_000, 0,
                            time_range=(start, start + 30 * minute))
    out = tmp_path_factory.mktemp("wide") / "wide.html"
    out.write_text(render_html(result, "wide.jsonl"))
    return out


_MEASURE = """<script>
(function(){
  var out={clipped:[],overlaps:[],rows:0,ticks:0,texts:0};
  function box(el){return el.getBoundingClientRect();}
  document.querySelectorAll('svg.chart').forEach(function(svg){
    var vb=svg.viewBox.baseVal;
    svg.querySelectorAll('text').forEach(function(t){
      out.texts++;
      var b=t.getBBox();
      if(b.x<-0.5||b.y<-0.5||b.x+b.width>vb.width+0.5||b.y+b.height>vb.height+0.5){
        out.clipped.push(t.textContent);}
    });
    var texts=Array.prototype.map.call(svg.querySelectorAll('text'),function(t){
      return {b:t.getBBox(),s:t.textContent};});
    for(var i=0;i<texts.length;i++){for(var j=i+1;j<texts.length;j++){
      var a=texts[i].b,c=texts[j].b;
      if(a.x<c.x+c.width-0.5&&c.x<a.x+a.width-0.5&&a.y<c.y+c.height-0.5&&c.y<a.y+a.height-0.5){
        out.overlaps.push('chart text: '+texts[i].s+' / '+texts[j].s);}}}
  });
  document.querySelectorAll('.waterfall').forEach(function(wf){
    wf.querySelectorAll('.wf-row').forEach(function(row){
      out.rows++;
      var name=box(row.querySelector('.wf-name')),track=box(row.querySelector('.wf-track'));
      var dur=box(row.querySelector('.wf-dur')),err=row.querySelector('.wf-err');
      if(name.right>track.left+0.5||track.right>dur.left+0.5){
        out.overlaps.push('columns: '+row.textContent);}
      if(err){var e=box(err);
        if(e.right>name.right+0.5||e.left<name.left-0.5){
          out.overlaps.push('err: '+row.textContent);}}
      var bar=row.querySelector('.wf-bar');
      if(bar){var b=box(bar);
        if(b.left<track.left-0.5||b.right>track.right+0.5){
          out.overlaps.push('bar: '+row.textContent);}}
    });
    var labels=Array.prototype.map.call(wf.querySelectorAll('.wf-tick-label'),box);
    out.ticks+=labels.length;
    for(var i=1;i<labels.length;i++){
      if(labels[i].left<labels[i-1].right){out.overlaps.push('tick '+i);}}
  });
  document.body.setAttribute('data-measure',JSON.stringify(out));
})();
</script></body>"""


def _measure(chromium: str, page: Path, tmp_path: Path) -> tuple[str, dict[str, object]]:
    probe = tmp_path / ("probe-" + page.name)
    probe.write_text(page.read_text().replace("</body>", _MEASURE))
    proc = _run(chromium, tmp_path / "profile", "--window-size=1200,900", "--dump-dom",
                probe.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    raw = dom.split('data-measure="', 1)[1].split('"', 1)[0]
    return dom, json.loads(raw.replace("&quot;", '"').replace("&amp;", "&"))


def test_dom_after_scripts_ran(chromium: str, report: Path, tmp_path: Path) -> None:
    proc = _run(chromium, tmp_path / "profile", "--dump-dom", report.as_uri())
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'data-js-ready="1"' in dom, "the report's script did not run"
    assert 'data-js-errors=""' in dom
    assert 'aria-sort="none"' in dom  # added by the script to every sortable header
    assert '<tr data-workflow="research_agent">' in dom
    assert dom.count('<svg class="chart histogram"') == 2
    assert dom.count('<svg class="chart timeseries"') == 2
    assert 'class="marker p50"' in dom and 'class="marker p95"' in dom
    assert f"×{BIG_FANOUT:,}</b>" in dom
    assert 'class="wf-row error crit"' in dom
    assert f'href="{JAEGER}/trace/' in dom
    assert 'id="time-range"' in dom
    # the run that lost a span's parent is drawn apart, the lost span still shown
    incomplete = dom.split("<h3>Incomplete traces", 1)[1]
    assert '<section class="trace incomplete"' in incomplete
    assert "parent span missing" in incomplete.split("</section>", 1)[0]


@pytest.mark.parametrize("page_name", ["report", "wide_numbers"])
def test_nothing_clipped_or_overlapping(chromium: str, page_name: str, tmp_path: Path,
                                        request: pytest.FixtureRequest) -> None:
    page: Path = request.getfixturevalue(page_name)
    dom, measured = _measure(chromium, page, tmp_path)
    assert 'data-js-errors=""' in dom
    assert measured["texts"], "no chart text was measured"
    assert measured["clipped"] == [], f"labels outside their chart: {measured['clipped']}"
    assert measured["overlaps"] == [], f"overlapping boxes: {measured['overlaps'][:5]}"
    if page_name == "report":
        assert measured["rows"] > 20 and measured["ticks"] > 10


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
