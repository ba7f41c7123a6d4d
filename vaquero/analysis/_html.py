"""Render the self-contained HTML report: what someone on call opens first.

One file a person can mail or attach to a ticket: CSS, JS and SVG are inline and a
``Content-Security-Policy`` of ``default-src 'none'`` forbids the page from fetching anything,
so opening it never touches the network (a trace id may *link* to Jaeger when its URL is known;
following a link is the reader's choice, not a fetch). Every string that came from a trace
(span names, agent names, exception types, messages) is untrusted and goes through
``html.escape``; no trace data is ever placed inside the ``<script>`` element.

Per workflow the page answers, top to bottom: how is it doing (summary, duration histogram
with p50/p95, runs/error rate/p95 over time), where does the time go (steps, own time), how does
it fail (top failures), and what does a bad run look like (the slowest run, one near p95 and
one per failure pattern, each as a waterfall; incomplete traces apart, marked as such).

The script does two small jobs: click-to-sort tables, and recording any JavaScript error in the
``data-js-errors`` attribute of ``<body>`` so an automated check can see that the page ran
cleanly (``data-js-ready="1"`` once it has).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape

from vaquero.analysis._axis import duration_label
from vaquero.analysis._charts import duration_histogram_svg, timeseries_svg
from vaquero.analysis._insights import DEFAULT_MIN_SUCCESS_RATE
from vaquero.analysis._result import AnalysisResult, KeptTrace, WorkflowStats
from vaquero.analysis._text import request_only_note
from vaquero.analysis._waterfall import MAX_ROWS, waterfall_html
from vaquero.analysis._words import count, ms

# A step failing more often than a workflow may (the low_success_rate insight's threshold)
# has its error rate marked in the step table.
HIGH_STEP_ERROR_RATE = round(1 - DEFAULT_MIN_SUCCESS_RATE, 4)

__all__ = ["render_html"]

_OWN_TIME = "(workflow own time)"
# Waterfall rows for the whole page: beyond it, later waterfalls get a smaller cap, so fifty
# workflows with ten failure patterns each still make a file a browser opens quickly.
_PAGE_ROWS = 20_000
_MIN_ROWS = 40


class _Budget:
    """Rows left for waterfalls on this page."""

    def __init__(self) -> None:
        self.left = _PAGE_ROWS

    def take(self) -> int:
        rows = max(_MIN_ROWS, min(MAX_ROWS, self.left))
        self.left -= rows
        return rows

_CSS = """
:root{--fg:#1d2330;--muted:#5d6677;--line:#dde2ea;--bar:#3b82c4;--bar-soft:#9cc2e5;
 --err:#d1332e;--crit:#10233f;--bg:#fff}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
 background:var(--bg);margin:24px auto;max-width:1180px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;padding-top:12px;
 border-top:2px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}h4{font-size:14px;margin:14px 0 4px}
.meta,.note{color:var(--muted)}a{color:#1f5f9e}
table{border-collapse:collapse;width:100%;margin:6px 0 10px}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th:first-child,td:first-child,td.text,th.text{text-align:left}
td:first-child{white-space:normal;overflow-wrap:anywhere;min-width:10em}
.tw{overflow-x:auto}
th{background:#f3f5f8;cursor:pointer;user-select:none}th[aria-sort]::after{content:" ↕";color:#99a}
tr.bad td:first-child,td.bad{color:var(--err);font-weight:600}
tr.own td{color:var(--muted);font-style:italic}
.insight{border-left:4px solid var(--err);background:#fdf1f0;padding:6px 10px;margin:6px 0}
.insight.slow_workflow{border-color:#d98b16;background:#fdf6ea}
.notices{border-left:4px solid #d98b16;background:#fdf6ea;padding:6px 10px;margin:10px 0}
.notices li{margin:2px 0}
.charts{display:flex;flex-wrap:wrap;gap:12px 28px;align-items:flex-start}
figure{margin:4px 0}figcaption{font-size:12px;color:var(--muted);margin-bottom:2px}
.chart{max-width:100%;height:auto;overflow:visible}
.chart .axis{stroke:#8a93a3}.chart .grid{stroke:#eef1f5}
.chart .tick{font-size:11px;fill:var(--muted)}
.chart .axis-title{font-size:11px;fill:var(--fg);font-weight:600}
.chart .hbar{fill:var(--bar)}.chart .hbar.failed{fill:var(--err)}
.chart .marker{stroke:var(--crit);stroke-width:1.5;stroke-dasharray:4 3}
.chart .marker-label{font-size:11px;font-weight:600;fill:var(--crit)}
.chart .series{fill:none;stroke-width:1.8}.chart .series.err{stroke:var(--err)}
.chart .series.p95{stroke:var(--crit)}.chart .pt.err{fill:var(--err)}
.chart .pt.p95{fill:var(--crit)}
.trace{margin:14px 0 22px}.trace h4 code{font-size:12px}
.trace.incomplete .waterfall{border-style:dashed;border-color:#b98a2e}
.badge{display:inline-block;font-size:11px;font-weight:600;padding:0 6px;border-radius:8px;
 background:#fbe7c6;color:#7a4d00;margin-left:6px;vertical-align:1px}
.waterfall{position:relative;border:1px solid var(--line);border-radius:4px;overflow:hidden}
.wf-row{display:grid;grid-template-columns:30% 1fr 84px;border-bottom:1px solid #eef1f5;
 min-height:22px;align-items:center;position:relative}
.wf-row:last-child{border-bottom:0}
.wf-grid{position:absolute;left:30%;right:84px;top:0;bottom:0;pointer-events:none}
.wf-tick{position:absolute;top:0;bottom:0;border-left:1px solid #e6eaf0}
.wf-axis{background:#f3f5f8;font-size:11px;color:var(--muted);min-height:24px}
.wf-axis .wf-track{height:24px}
.wf-tick-label{position:absolute;top:5px;transform:translateX(-50%);white-space:nowrap}
.wf-tick-label:first-child{transform:none;padding-left:2px}
.wf-legend{font-size:11px;color:var(--muted);margin:0 0 3px}
.lg{display:inline-block;width:14px;height:9px;margin:0 4px 0 12px;border-radius:2px;
 background:var(--bar-soft);vertical-align:-1px}.lg:first-child{margin-left:0}
.lg.crit{background:var(--bar);box-shadow:inset 0 -3px 0 var(--crit)}.lg.err{background:var(--err)}
.lg.grp{background:repeating-linear-gradient(90deg,var(--bar-soft) 0 3px,#fff 3px 5px)}
.wf-name{overflow:hidden;font-size:12px;padding-right:8px;min-width:0}
.wf-label{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.wf-err{font-size:11px;color:var(--err);overflow:hidden;text-overflow:ellipsis;
 white-space:nowrap;font-weight:400}
.wf-track{position:relative;height:18px}
.wf-bar{position:absolute;top:3px;height:12px;background:var(--bar-soft);border-radius:2px;
 min-width:2px}
.wf-row.crit .wf-bar{background:var(--bar);box-shadow:inset 0 -4px 0 var(--crit)}
.wf-row.error .wf-bar{background:var(--err)}
.wf-row.error.crit .wf-bar{box-shadow:inset 0 -4px 0 var(--crit)}
.wf-row.error .wf-label{color:var(--err);font-weight:600}
.wf-row.group .wf-bar{background:repeating-linear-gradient(90deg,var(--bar-soft) 0 3px,
 #fff 3px 5px);border:1px solid var(--bar-soft)}
.wf-row.group .wf-name{font-style:italic}.wf-count{font-style:normal}
.wf-dur{font-size:11px;text-align:right;padding-right:6px;white-space:nowrap;
 font-variant-numeric:tabular-nums}
.wf-more{padding:4px 8px;font-size:12px;color:var(--muted)}
.wf-orphan{font-size:11px;color:#7a4d00;font-style:italic}
.wf-row.orphan{border-top:1px dashed #b98a2e}
"""

_JS = """
(function(){
  var body=document.body;
  function sortTable(th){
    var table=th.closest('table'),tbody=table.tBodies[0],index=th.cellIndex;
    var asc=th.getAttribute('aria-sort')!=='ascending';
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(c){
      c.setAttribute('aria-sort','none');});
    th.setAttribute('aria-sort',asc?'ascending':'descending');
    var rows=Array.prototype.slice.call(tbody.rows);
    rows.sort(function(a,b){
      var x=a.cells[index].getAttribute('data-v'),y=b.cells[index].getAttribute('data-v');
      var nx=parseFloat(x),ny=parseFloat(y),r;
      if(!isNaN(nx)&&!isNaN(ny)){r=nx-ny;}else{r=String(x).localeCompare(String(y));}
      return asc?r:-r;});
    rows.forEach(function(r){tbody.appendChild(r);});
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable th'),function(th){
    th.setAttribute('aria-sort','none');
    th.addEventListener('click',function(){sortTable(th);});});
  body.setAttribute('data-js-ready','1');
})();
"""

_ERROR_TRAP = """
window.addEventListener('error',function(e){var b=document.body;if(!b)return;
 b.setAttribute('data-js-errors',(b.getAttribute('data-js-errors')||'')+String(e.message)+';');});
"""

_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "img-src data:")


def render_html(result: AnalysisResult, source: str, *, jaeger_url: str | None = None) -> str:
    """The whole report page; trace ids link to ``jaeger_url`` (or a Jaeger ``source``)."""
    generated = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    link_base = _jaeger_base(jaeger_url, source)
    budget = _Budget()
    sections = [
        _notices(result),
        _summary(result),
        _insights(result),
        *(_workflow_section(index, workflow, result, link_base, budget)
          for index, workflow in enumerate(result.workflows)),
        _unassigned_traces(result, link_base, budget),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>vaquero report · {escape(source)}</title><style>{_CSS}</style>"
        f"<script>{_ERROR_TRAP}</script></head>"
        '<body data-js-errors="" data-js-ready="0">'
        "<h1>vaquero workflow report</h1>"
        f'<p class="meta">Source <code>{escape(source)}</code> · '
        f"{count(result.spans_read, 'span')} read · "
        f"{count(result.malformed_lines, 'malformed line')} skipped"
        f"{_incomplete_note(result)} · generated {escape(generated)}</p>"
        f"{_request_only_note(result)}"
        f"{_time_range(result)}"
        + "".join(sections)
        + f"<script>{_JS}</script></body></html>\n"
    )


def _jaeger_base(jaeger_url: str | None, source: str) -> str | None:
    for candidate in (jaeger_url, source):
        if candidate and candidate.startswith(("http://", "https://")):
            return candidate.rstrip("/")
    return None


def _incomplete_note(result: AnalysisResult) -> str:
    incomplete = getattr(result, "incomplete_traces", 0)
    if not incomplete:
        return ""
    return f" · {count(incomplete, 'trace')} without a root span (counted, not analysed)"


def _request_only_note(result: AnalysisResult) -> str:
    if not result.request_only_runs:
        return ""
    return f'<p class="meta" id="request-only">{escape(request_only_note(result))}</p>'


def _time_range(result: AnalysisResult) -> str:
    span = getattr(result, "time_range", None)
    if not span:
        return ""
    start, end = span
    return (f'<p class="meta" id="time-range">Data from <b>{_utc(start)}</b> to '
            f"<b>{_utc(end)}</b> UTC ({escape(duration_label((end - start) / 1e6))})</p>")


def _utc(ns: int) -> str:
    return f"{datetime.fromtimestamp(ns / 1e9, tz=timezone.utc):%Y-%m-%d %H:%M:%S}"


def _notices(result: AnalysisResult) -> str:
    notices = getattr(result, "notices", ())
    if not notices:
        return ""
    items = "".join(f"<li>{escape(text)}</li>" for text in notices)
    return (f'<div class="notices" id="notices"><strong>Not everything was read</strong>'
            f"<ul>{items}</ul></div>")


def _cell(text: str, sort_value: str | float | None = None, css: str = "") -> str:
    value = text if sort_value is None else sort_value
    klass = f' class="{css}"' if css else ""
    return f'<td{klass} data-v="{escape(str(value))}">{escape(text)}</td>'


def _summary(result: AnalysisResult) -> str:
    if not result.workflows:
        return "<h2>Workflows</h2><p>No workflow runs found in this source.</p>"
    header = "".join(
        (f'<th class="text">{label}</th>' if i < 2 else f"<th>{label}</th>")
        for i, label in enumerate(("Workflow", "Agent", "Runs", "Success", "p50 ms", "p95 ms",
                                   "p99 ms", "Max ms", "Incomplete"))
    )
    rows = []
    for index, w in enumerate(result.workflows):
        bad = ' class="bad"' if any(i.type == "low_success_rate" and i.workflow == w.name
                                    and i.agent == w.agent for i in result.insights) else ""
        rows.append(
            f'<tr{bad} data-workflow="{escape(w.name)}">'
            + f'<td data-v="{escape(w.name)}"><a href="#wf-{index}">{escape(w.name)}</a></td>'
            + _cell(w.agent or "-", css="text") + _cell(f"{w.runs:,}", w.runs)
            + _cell(f"{w.success_rate * 100:.1f}%", w.success_rate, css="bad" if bad else "")
            + _cell(ms(w.p50_ms), w.p50_ms) + _cell(ms(w.p95_ms), w.p95_ms)
            + _cell(ms(w.p99_ms), w.p99_ms) + _cell(ms(w.max_ms), w.max_ms)
            + _cell(f"{w.incomplete_runs:,}", w.incomplete_runs)
            + "</tr>"
        )
    return (
        '<h2>Workflows</h2><div class="tw"><table id="workflows" class="sortable"><thead><tr>'
        f"{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="note">Percentiles are nearest-rank over run durations.</p>'
    )


def _insights(result: AnalysisResult) -> str:
    if not result.insights:
        return "<h2>Insights</h2><p>None: every workflow is within the thresholds.</p>"
    items = "".join(
        f'<div class="insight {escape(i.type)}"><strong>{escape(i.type)}</strong> · '
        f"{escape(i.recommendation)}</div>"
        for i in result.insights
    )
    return f'<h2>Insights</h2><div id="insights">{items}</div>'


def _workflow_section(index: int, workflow: WorkflowStats, result: AnalysisResult,
                      link_base: str | None, budget: _Budget) -> str:
    show_agent = workflow.agent and workflow.agent != workflow.name
    agent = (f' <span class="meta">agent {escape(workflow.agent or "")}</span>'
             if show_agent else "")
    mine = [trace for trace in result.kept_traces if _belongs(trace, workflow)]
    anchors = _anchors(index, mine)
    parts = [
        f'<section class="workflow" id="wf-{index}"><h2>{escape(workflow.name)}{agent}</h2>',
        f'<p class="meta">{count(workflow.runs, "run")} · {workflow.success_rate * 100:.1f}% '
        f"succeeded · p50 {escape(duration_label(workflow.p50_ms))} · p95 "
        f"{escape(duration_label(workflow.p95_ms))} · max "
        f"{escape(duration_label(workflow.max_ms))}</p>",
        _charts(workflow),
        _steps(workflow),
        _failures(workflow, {trace.reason: anchors[id(trace)] for trace in mine}),
        _traces_of(mine, anchors, link_base, budget),
        "</section>",
    ]
    return "".join(parts)


def _charts(workflow: WorkflowStats) -> str:
    figures = []
    histogram = duration_histogram_svg(workflow)
    if histogram:
        figures.append("<figure><figcaption>Run durations: failed runs stacked in red"
                       f"</figcaption>{histogram}</figure>")
    series = timeseries_svg(workflow)
    if series:
        figures.append("<figure><figcaption>Over time: runs, error rate and p95 per "
                       f"bucket</figcaption>{series}</figure>")
    return f'<div class="charts">{"".join(figures)}</div>' if figures else ""


def _steps(workflow: WorkflowStats) -> str:
    if not workflow.steps:
        return ""
    rows = []
    for s in workflow.steps:
        own = s.name == _OWN_TIME
        rows.append(
            ('<tr class="own">' if own else "<tr>") + _cell(s.name)
            + _cell(f"{s.calls:,}", s.calls)
            + _cell(f"{s.error_rate * 100:.1f}%", s.error_rate,
                    css="bad" if s.error_rate > HIGH_STEP_ERROR_RATE else "")
            + _cell(ms(s.self_p50_ms), s.self_p50_ms)
            + _cell(ms(s.self_p95_ms), s.self_p95_ms)
            + _cell(f"{s.critical_path_share * 100:.1f}%", s.critical_path_share) + "</tr>")
    own_share = getattr(workflow, "own_time_share", 0.0)
    if own_share and not any(s.name == _OWN_TIME for s in workflow.steps):
        rows.append('<tr class="own">' + _cell(_OWN_TIME) + _cell("-", -1) + _cell("-", -1)
                    + _cell("-", -1) + _cell("-", -1)
                    + _cell(f"{own_share * 100:.1f}%", own_share) + "</tr>")
    return (
        '<div class="tw"><table class="sortable steps"><thead><tr><th>Step</th><th>Calls</th>'
        "<th>Error rate</th><th>Self p50 ms</th><th>Self p95 ms</th>"
        f"<th>Critical path</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _failures(workflow: WorkflowStats, anchors: dict[str, str]) -> str:
    if not workflow.failures:
        return ""
    rows = []
    for f in workflow.failures:
        anchor = anchors.get(f"failure: {f.exception_type} in {f.step}")
        example = f'<a href="#{anchor}">waterfall</a>' if anchor else "-"
        rows.append("<tr>" + _cell(f.exception_type) + _cell(f.step, css="text")
                    + _cell(f"{f.count:,}", f.count)
                    + f'<td class="text" data-v="{int(anchor is not None)}">{example}</td></tr>')
    return ('<h3>Top failures</h3><div class="tw"><table class="sortable failures"><thead><tr>'
            '<th>Exception</th><th class="text">Step</th><th>Count</th>'
            f'<th class="text">Example</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
            "</div>")


def _belongs(trace: KeptTrace, workflow: WorkflowStats) -> bool:
    agent = getattr(trace, "agent", None)
    return trace.workflow == workflow.name and (agent is None or agent == workflow.agent)


def _anchors(index: int, traces: Sequence[KeptTrace]) -> dict[int, str]:
    """A page anchor per kept trace (by object id), for links from the failures table."""
    return {id(trace): f"t-{index}-{n}" for n, trace in enumerate(traces)}


def _traces_of(mine: Sequence[KeptTrace], anchors: dict[int, str], link_base: str | None,
               budget: _Budget) -> str:
    if not mine:
        return ""
    complete = [t for t in mine if not getattr(t, "incomplete", False)]
    partial = [t for t in mine if getattr(t, "incomplete", False)]
    parts = ["<h3>Example traces</h3>"]
    parts.extend(_trace_block(anchors[id(trace)], trace, link_base, budget)
                 for trace in complete)
    if partial:
        parts.append('<h3>Incomplete traces <span class="note">(a span names a parent that '
                     "never arrived: shown apart, timings may be partial)</span></h3>")
        parts.extend(_trace_block(anchors[id(trace)], trace, link_base, budget)
                     for trace in partial)
    return "".join(parts)


def _unassigned_traces(result: AnalysisResult, link_base: str | None, budget: _Budget) -> str:
    """Kept traces no workflow section claimed (older engines keep them globally)."""
    rest = [trace for trace in result.kept_traces
            if not any(_belongs(trace, workflow) for workflow in result.workflows)]
    if not rest:
        return ""
    return "<h2>Traces</h2>" + "".join(_trace_block(f"t-x-{n}", trace, link_base, budget)
                                       for n, trace in enumerate(rest))


def _trace_title(reason: str) -> str:
    if reason == "slowest":
        return "Slowest run"
    if reason == "p95":
        return "Run near p95"
    if reason.startswith("failure: "):
        return "Failure: " + reason[len("failure: "):]
    return reason[:1].upper() + reason[1:]


def _trace_block(anchor: str, trace: KeptTrace, link_base: str | None,
                 budget: _Budget) -> str:
    trace_id = getattr(trace, "trace_id", "") or (trace.spans[0].trace_id if trace.spans else "")
    shown_id = f"<code>{escape(trace_id)}</code>"
    if link_base and trace_id:
        href = escape(f"{link_base}/trace/{trace_id}")
        shown_id = (f'<a class="trace-link" href="{href}" target="_blank" '
                    f'rel="noopener noreferrer">{shown_id}</a>')
    incomplete = getattr(trace, "incomplete", False)
    badge = '<span class="badge">incomplete</span>' if incomplete else ""
    css = "trace incomplete" if incomplete else "trace"
    return (f'<section class="{css}" id="{anchor}" data-reason="{escape(trace.reason)}">'
            f"<h4>{escape(_trace_title(trace.reason))}: {escape(trace.workflow)} · "
            f"{escape(duration_label(trace.duration_ms))} · trace {shown_id}{badge}</h4>"
            f"{waterfall_html(trace, budget.take())}</section>")
