"""Round trip: vaquero's file exporter writes, `vaquero analyze` reads, the stats come out right."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import clean_env, file_env, run_python

APP = """
import asyncio, vaquero

@vaquero.trace(agent_name="checkout_agent")
async def checkout(order: int) -> None:
    with vaquero.span("reserve_stock"):
        await asyncio.sleep(0)
    with vaquero.span("charge_card"):
        if order % 4 == 0:
            raise ConnectionError("payment gateway timeout")

async def main() -> None:
    for order in range(1, 21):
        try:
            await checkout(order)
        except ConnectionError:
            pass

asyncio.run(main())
"""


def test_file_exporter_output_analyses_to_the_known_statistics(tmp_path):
    traces = tmp_path / "traces.jsonl"
    result = run_python(
        APP, env=file_env(traces)
    )
    assert result.returncode == 0, result.stderr
    analysis = subprocess.run(
        [sys.executable, "-m", "vaquero", "analyze", str(traces), "--json"],
        capture_output=True, text=True, timeout=60, env=clean_env(),
    )
    assert analysis.returncode == 0, analysis.stderr
    report = json.loads(analysis.stdout)
    assert report["spans_read"] == 60 and report["malformed_lines"] == 0
    (workflow,) = report["workflows"]
    assert (workflow["name"], workflow["agent"]) == ("checkout", "checkout_agent")
    assert workflow["runs"] == 20
    assert workflow["success_rate"] == 0.75  # orders 4, 8, 12, 16, 20 failed
    steps = {step["name"]: step for step in workflow["steps"]}
    assert steps["charge_card"]["calls"] == 20
    assert steps["charge_card"]["error_rate"] == 0.25
    assert steps["reserve_stock"]["error_rate"] == 0.0
    assert workflow["failures"] == [
        {"exception_type": "ConnectionError", "step": "charge_card", "count": 5}
    ]
    (insight,) = report["insights"]
    assert insight["type"] == "low_success_rate" and insight["workflow"] == "checkout"


def test_report_from_the_same_file_is_written(tmp_path):
    traces = tmp_path / "traces.jsonl"
    run_python(APP, env=file_env(traces))
    out = tmp_path / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "vaquero", "report", str(traces), "-o", str(out)],
        capture_output=True, text=True, timeout=60, env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert "checkout" in html and "payment gateway timeout" in html
