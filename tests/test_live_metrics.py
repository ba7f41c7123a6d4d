"""Workflow health on the real stack: span metrics in Prometheus, Jaeger's Monitor tab, the alerts.

The Collector's span metrics connector turns every span into request/error/duration series
(otel-collector.yaml), its Prometheus remote-write exporter pushes them to the real
Prometheus of ci/stack, Jaeger's Monitor tab reads them back through its Prometheus metrics
backend (deploy/jaeger.yaml), and Prometheus loads the workflow alerts
(deploy/prometheus-rules.yaml).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.parse
from typing import Any

import pytest
from live_stack import Stack, app_env, eventually, get_json, run_app, unique_service

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.timeout(300)]

RUNS = 40
APP = textwrap.dedent(
    """
    import vaquero

    @vaquero.trace(agent_name="metrics_agent")
    def checkout(i: int) -> None:
        with vaquero.span("reserve_stock"):
            pass
        with vaquero.span("charge_card"):
            if i % 4 == 0:
                raise RuntimeError("card declined")

    for i in range({runs}):
        try:
            checkout(i)
        except RuntimeError:
            pass
    """
)


def _promql(stack: Stack, query: str) -> list[dict[str, Any]]:
    document = get_json(f"{stack.prometheus_url}/api/v1/query?"
                    + urllib.parse.urlencode({"query": query}))
    assert document["status"] == "success", document
    return list(document["data"]["result"])


@pytest.fixture(scope="module")
def sent(live_stack: Stack) -> str:
    service = unique_service("live-metrics")
    run_app(APP.format(runs=RUNS), app_env(live_stack, service))
    return service


def test_span_metrics_reach_prometheus_with_every_call_and_error_counted(
    live_stack: Stack, sent: str
) -> None:
    calls = f'traces_span_metrics_calls_total{{service_name="{sent}"}}'

    def all_counted() -> list[dict[str, Any]] | None:
        result = _promql(live_stack, f"sum by (span_name, status_code) ({calls})")
        total = sum(float(r["value"][1]) for r in result)
        return result if total == RUNS * 3 else None

    result = eventually(all_counted, 90, f"{RUNS * 3} calls of {sent} in Prometheus")
    counted = {(r["metric"]["span_name"], r["metric"]["status_code"]): float(r["value"][1])
               for r in result}
    failed = len(range(0, RUNS, 4))
    assert counted == {
        ("checkout", "STATUS_CODE_UNSET"): RUNS - failed,
        ("checkout", "STATUS_CODE_ERROR"): failed,
        ("reserve_stock", "STATUS_CODE_UNSET"): RUNS,
        ("charge_card", "STATUS_CODE_UNSET"): RUNS - failed,
        ("charge_card", "STATUS_CODE_ERROR"): failed,
    }
    # The agent is a dimension, so span metrics can be split by agent too.
    by_agent = _promql(live_stack, f"sum by (gen_ai_agent_name) ({calls})")
    assert [r["metric"].get("gen_ai_agent_name") for r in by_agent] == ["metrics_agent"]
    # and the duration histogram has the names Jaeger's Monitor tab reads
    buckets = _promql(live_stack, "count(traces_span_metrics_duration_milliseconds_bucket"
                                  f'{{service_name="{sent}"}})')
    assert buckets and float(buckets[0]["value"][1]) > 0


def test_jaegers_monitor_api_shows_the_workflows_operations_with_matching_call_rates(
    live_stack: Stack, sent: str
) -> None:
    test_span_metrics_reach_prometheus_with_every_call_and_error_counted(live_stack, sent)
    now_ms = int(time.time() * 1000)
    params = urllib.parse.urlencode({
        "service": sent, "spanKind": "internal", "groupByOperation": "true",
        "endTs": now_ms, "lookback": 600_000, "step": 60_000, "ratePer": 600_000,
    })

    def rates() -> dict[str, float] | None:
        document = get_json(f"{live_stack.jaeger_url}/api/metrics/calls?{params}")
        found: dict[str, float] = {}
        for metric in document.get("metrics", []):
            labels = {label["name"]: label["value"] for label in metric["labels"]}
            points = [p["gaugeValue"]["doubleValue"] for p in metric["metricPoints"]
                      if "doubleValue" in p.get("gaugeValue", {})]
            if points:
                found[labels["operation"]] = points[-1]
        return found if len(found) == 3 else None

    found = eventually(rates, 60, "three operations in Jaeger's metrics API")
    assert set(found) == {"checkout", "reserve_stock", "charge_card"}
    # Every operation was called RUNS times in the same instant: equal rates.
    assert found["reserve_stock"] == pytest.approx(found["checkout"], rel=0.05)
    assert found["charge_card"] == pytest.approx(found["checkout"], rel=0.05)

    errors = get_json(f"{live_stack.jaeger_url}/api/metrics/errors?{params}")
    error_rates = {
        {label["name"]: label["value"] for label in m["labels"]}["operation"]:
        m["metricPoints"][-1]["gaugeValue"]["doubleValue"]
        for m in errors["metrics"] if m["metricPoints"]
    }
    # a quarter of the runs failed, in checkout and in charge_card
    assert error_rates["checkout"] == pytest.approx(0.25, abs=0.02)
    assert error_rates["charge_card"] == pytest.approx(0.25, abs=0.02)


def test_prometheus_has_loaded_the_workflow_alerts_and_doctor_says_so(live_stack: Stack) -> None:
    rules = get_json(f"{live_stack.prometheus_url}/api/v1/rules?type=alert")
    names = {r["name"] for g in rules["data"]["groups"] for r in g["rules"]}
    assert {"VaqueroLowSuccessRate", "VaqueroSlowWorkflow"} <= names
    done = subprocess.run(
        [sys.executable, "-m", "vaquero", "doctor", "--json", "--jaeger", live_stack.jaeger_url,
         "--prometheus", live_stack.prometheus_url],
        env=app_env(live_stack, unique_service("live-doctor-prom")), capture_output=True,
        text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert "with the workflow alerts VaqueroLowSuccessRate, VaqueroSlowWorkflow" in (
        report["prometheus"])


# -- vaquero's own GenAI metrics, through the Collector into Prometheus -----------------------

SDK_METRICS_APP = textwrap.dedent(
    """
    import sys, time
    import vaquero

    AGENT = sys.argv[1]

    def busy(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    @vaquero.trace(agent_name=AGENT)
    def triage(i: int) -> None:
        busy(0.002 * (i % 10))          # 0 to 18 ms: several histogram buckets
        if i % 5 == 0:
            raise LookupError("no such ticket")

    for i in range({runs}):
        try:
            triage(i)
        except LookupError:
            pass
        time.sleep(0.05)                # spread over a few metric exports
    """
)

def _bucket_of(value_s: float, bounds: list[float]) -> float:
    return next((b for b in bounds if value_s <= b), float("inf"))


def test_the_sdks_agent_histogram_in_prometheus_agrees_with_analyze(
    live_stack: Stack, tmp_path: Any
) -> None:
    service = unique_service("live-sdk-metrics")
    agent = service.replace("-", "_")
    traces = tmp_path / "traces.jsonl"
    runs = 60
    env = app_env(live_stack, service, OTEL_TRACES_EXPORTER="otlp,vaquero_file",
                  VAQUERO_TRACES_FILE=str(traces), OTEL_METRIC_EXPORT_INTERVAL="1000")
    run_app(SDK_METRICS_APP.format(runs=runs), env, agent)

    done = subprocess.run([sys.executable, "-m", "vaquero", "analyze", str(traces), "--json",
                           "--workflow", agent], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["workflows"]
    assert row["runs"] == runs

    agent_runs = f'gen_ai_operation_name="invoke_agent", gen_ai_agent_name="{agent}"'
    selector = f"gen_ai_invocation_duration_seconds_count{{{agent_runs}}}"

    def counted() -> list[dict[str, Any]] | None:
        result = _promql(live_stack, f"sum({selector})")
        return result if result and float(result[0]["value"][1]) == runs else None

    eventually(counted, 90, f"{runs} agent runs in Prometheus")
    failed = _promql(live_stack, "sum(gen_ai_invocation_duration_seconds_count"
                                 f'{{{agent_runs}, error_type!=""}})')
    success_rate = 1 - float(failed[0]["value"][1]) / runs
    assert success_rate == pytest.approx(row["success_rate"])
    types = _promql(live_stack, f'count by (error_type) ({selector})')
    assert {r["metric"].get("error_type", "") for r in types} == {"", "LookupError"}

    p95 = _promql(live_stack, "histogram_quantile(0.95, sum by (le) ("
                              f"gen_ai_invocation_duration_seconds_bucket{{{agent_runs}}}))")
    promql_p95_s = float(p95[0]["value"][1])
    analyze_p95_s = row["duration_ms"]["p95"] / 1000
    bounds = sorted({float(r["metric"]["le"]) for r in _promql(
        live_stack, f"gen_ai_invocation_duration_seconds_bucket{{{agent_runs}}}")})
    assert _bucket_of(promql_p95_s, bounds) == _bucket_of(analyze_p95_s, bounds)
