"""Render the self-contained HTML report.

One file a person can mail or attach to a ticket: CSS, JS and SVG are inline and a
``Content-Security-Policy`` of ``default-src 'none'`` forbids the page from fetching anything,
so opening it never touches the network. Every string that came from a trace (span names,
agent names, exception types, messages) is untrusted and goes through ``html.escape``; no trace
data is ever placed inside the ``<script>`` element.

The script does two small jobs: click-to-sort tables, and recording any JavaScript error in the
``data-js-errors`` attribute of ``<body>`` so an automated check can see that the page ran
cleanly (``data-js-ready="1"`` once it has).
"""

from __future__ import annotations

import time
from html import escape

from vaquero.analysis._charts import duration_histogram_svg
from vaquero.analysis._result import AnalysisResult, KeptTrace, WorkflowStats
from vaquero.analysis._waterfall import waterfall_html

__all__ = ["render_html"]

_CSS = """
:root{--fg:#1d2330;--muted:#5d6677;--line:#dde2ea;--bar:#3b82c4;--err:#d1332e;--bg:#fff}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
 background:var(--bg);margin:24px auto;max-width:1180px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
h3{font-size:15px;margin:18px 0 6px}.meta,.note{color:var(--muted)}
table{border-collapse:collapse;width:100%;margin:6px 0 10px}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th:first-child,td:first-child,td.text,th.text{text-align:left}
td:first-child{white-space:normal;word-break:break-word}
th{background:#f3f5f8;cursor:pointer;user-select:none}th[aria-sort]::after{content:" ↕";color:#99a}
tr.bad td{color:var(--err);font-weight:600}
.insight{border-left:4px solid var(--err);background:#fdf1f0;padding:6px 10px;margin:6px 0}
.insight.slow_workflow{border-color:#d98b16;background:#fdf6ea}
.chart .axis{stroke:#99a}.chart .tick{font-size:11px;fill:var(--muted)}
.chart .hbar{fill:var(--bar)}
.waterfall{border:1px solid var(--line);border-radius:4px;overflow:hidden}
.wf-row{display:flex;border-bottom:1px solid #eef1f5;min-height:22px;align-items:center}
.wf-row:last-child{border-bottom:0}
.wf-name{flex:0 0 30%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-size:12px;
 padding-right:6px}
.wf-track{flex:1;position:relative;height:18px;background:repeating-linear-gradient(90deg,
 transparent 0 calc(10% - 1px),#eef1f5 calc(10% - 1px) 10%)}
.wf-bar{position:absolute;top:3px;height:12px;background:var(--bar);border-radius:2px;min-width:2px}
.wf-row.error .wf-bar{background:var(--err)}.wf-row.error .wf-name{color:var(--err);font-weight:600}
.wf-err{font-weight:400;font-size:11px;margin-left:6px}
.wf-dur{position:absolute;top:-2px;font-size:11px;white-space:nowrap;color:var(--fg)}
.wf-dur.after{left:calc(100% + 4px)}.wf-dur.before{right:calc(100% + 4px)}
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
    generated = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    sections = [
        _summary(result),
        _insights(result),
        *(_workflow_section(index, workflow) for index, workflow in enumerate(result.workflows)),
        _waterfalls(result.kept_traces),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>vaquero report · {escape(source)}</title><style>{_CSS}</style>"
        f"<script>{_ERROR_TRAP}</script></head>"
        '<body data-js-errors="" data-js-ready="0">'
        "<h1>vaquero workflow report</h1>"
        f'<p class="meta">Source <code>{escape(source)}</code> · {result.spans_read:,} spans '
        f"read · {result.malformed_lines:,} malformed lines skipped · generated "
        f"{escape(generated)}</p>"
        + "".join(sections)
        + f"<script>{_JS}</script></body></html>\n"
    )


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
            + _cell(w.agent or "-", css="text") + _cell(str(w.runs), w.runs)
            + _cell(f"{w.success_rate * 100:.1f}%", w.success_rate)
            + _cell(f"{w.p50_ms:,.1f}", w.p50_ms) + _cell(f"{w.p95_ms:,.1f}", w.p95_ms)
            + _cell(f"{w.p99_ms:,.1f}", w.p99_ms) + _cell(f"{w.max_ms:,.1f}", w.max_ms)
            + _cell(str(w.incomplete_runs), w.incomplete_runs)
            + "</tr>"
        )
    return (
        '<h2>Workflows</h2><table id="workflows" class="sortable"><thead><tr>'
        f"{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
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


def _workflow_section(index: int, workflow: WorkflowStats) -> str:
    agent = f" <span class=\"meta\">agent {escape(workflow.agent)}</span>" if workflow.agent else ""
    parts = [f'<section class="workflow" id="wf-{index}"><h2>{escape(workflow.name)}{agent}</h2>',
             duration_histogram_svg(workflow)]
    if workflow.steps:
        rows = "".join(
            "<tr>" + _cell(s.name) + _cell(str(s.calls), s.calls)
            + _cell(f"{s.error_rate * 100:.1f}%", s.error_rate)
            + _cell(f"{s.self_p50_ms:,.1f}", s.self_p50_ms)
            + _cell(f"{s.self_p95_ms:,.1f}", s.self_p95_ms)
            + _cell(f"{s.critical_path_share * 100:.1f}%", s.critical_path_share) + "</tr>"
            for s in workflow.steps
        )
        parts.append(
            '<table class="sortable steps"><thead><tr><th>Step</th><th>Calls</th>'
            "<th>Error rate</th><th>Self p50 ms</th><th>Self p95 ms</th>"
            f"<th>Critical path</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if workflow.failures:
        rows = "".join(
            "<tr>" + _cell(f.exception_type) + _cell(f.step, css="text")
            + _cell(str(f.count), f.count) + "</tr>"
            for f in workflow.failures
        )
        parts.append(
            '<h3>Top failures</h3><table class="sortable failures"><thead><tr>'
            '<th>Exception</th><th class="text">Step</th><th>Count</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )
    parts.append("</section>")
    return "".join(parts)


def _waterfalls(traces: tuple[KeptTrace, ...]) -> str:
    if not traces:
        return ""
    parts = ["<h2>Traces</h2>"]
    for trace in traces:
        parts.append(
            f'<section class="trace"><h3>{escape(trace.reason.capitalize())}: '
            f"{escape(trace.workflow)} · {trace.duration_ms:,.1f} ms · trace "
            f"<code>{escape(trace.spans[0].trace_id)}</code></h3>{waterfall_html(trace)}</section>"
        )
    return "".join(parts)
