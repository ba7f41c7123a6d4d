"""The ``analyze`` and ``report`` subcommands, for the lead's ``vaquero`` CLI to mount.

Handlers return an exit code instead of calling ``sys.exit`` so they can be composed and tested
in-process: 0 on success, 2 when the input cannot be read (one line on stderr, no traceback),
and for ``analyze --baseline`` 1 when a workflow regressed against the baseline.
"""

from __future__ import annotations

import argparse
import json
import sys

from vaquero.analysis import analyze, write_report
from vaquero.analysis._baseline import (
    DEFAULT_MAX_P95_INCREASE,
    DEFAULT_MAX_SUCCESS_DROP,
    Comparison,
    compare,
    read_json_baseline,
    references_of,
)
from vaquero.analysis._clean import for_terminal
from vaquero.analysis._filter import matches, no_such_workflow
from vaquero.analysis._insights import DEFAULT_MIN_SUCCESS_RATE, DEFAULT_SLOW_SECONDS
from vaquero.analysis._jaeger import (
    DEFAULT_SEARCH_DEPTH,
    DEFAULT_TIMEOUT_S,
    JaegerOptions,
    parse_header,
)
from vaquero.analysis._progress import Progress
from vaquero.analysis._result import AnalysisResult
from vaquero.analysis._sources import MAX_REPORTED_PROBLEMS
from vaquero.analysis._text import render_comparison, render_text
from vaquero.analysis._words import count
from vaquero.analysis.errors import AnalysisInputError

__all__ = ["add_commands"]

_SOURCE_HELP = ("OTLP JSON-lines trace file (gzip or zstd ok; one pretty-printed OTLP JSON "
                "document too), '-' for stdin, or a Jaeger query URL such as "
                "http://localhost:16686")
_MAX_TIMEOUT_S = 3600.0  # a deadline past an hour is a typo (inf, nan), not a slow Jaeger
_PERCENTILES = ("Percentiles are nearest-rank: the p-th percentile of n values is the "
                "ceil(p/100*n)-th smallest, always a duration that really happened.")


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``analyze`` and ``report``; each sets ``func(args) -> int``."""
    analyze_parser = subparsers.add_parser(
        "analyze", help="workflow statistics and insights from traces",
        description="Summarise workflow runs: success rate, duration percentiles, per-step "
                    "self time and critical-path share, top failures and insights. A run is "
                    "the outermost span that is an agent (gen_ai.operation.name=invoke_agent "
                    "or its own gen_ai.agent.name), else the trace's root span. "
                    + _PERCENTILES,
    )
    _add_common(analyze_parser)
    analyze_parser.add_argument("--json", action="store_true",
                                help="print the result as JSON instead of tables")
    analyze_parser.add_argument(
        "--baseline", metavar="BASELINE",
        help="compare each workflow with BASELINE (a trace source, or the --json output of an "
             "earlier analyze) and exit 1 if any regressed; --since applies to SOURCE only")
    analyze_parser.add_argument(
        "--max-p95-increase", type=float, default=DEFAULT_MAX_P95_INCREASE, metavar="FRACTION",
        help="with --baseline: a p95 more than this fraction above the baseline's is a "
             "regression (default: %(default)s = 20%%)")
    analyze_parser.add_argument(
        "--max-success-drop", type=float, default=DEFAULT_MAX_SUCCESS_DROP, metavar="FRACTION",
        help="with --baseline: a success rate more than this below the baseline's is a "
             "regression (default: %(default)s = 5 points)")
    analyze_parser.set_defaults(func=_run_analyze)

    report_parser = subparsers.add_parser(
        "report", help="write a self-contained HTML report",
        description="Write one offline HTML file: summary table, duration charts and "
                    "waterfalls of the slowest and failed traces. " + _PERCENTILES,
    )
    _add_common(report_parser)
    report_parser.add_argument("-o", "--output", default="vaquero-report.html",
                               help="where to write the HTML (default: %(default)s)")
    report_parser.add_argument("--jaeger-url", metavar="URL",
                               help="link trace ids to this Jaeger UI (default: the source, "
                                    "when it is a Jaeger URL)")
    report_parser.set_defaults(func=_run_report)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help=_SOURCE_HELP)
    parser.add_argument("--workflow", metavar="NAME",
                        help="only runs whose root span name or agent name is NAME")
    parser.add_argument("--since", metavar="DURATION",
                        help="only runs whose root started within DURATION (e.g. 15m, 2h, 1d); "
                             "a Jaeger source is searched over the last 24h by default")
    parser.add_argument("--min-success-rate", type=float, default=DEFAULT_MIN_SUCCESS_RATE,
                        metavar="RATE", help="flag workflows below this success rate "
                                             "(default: %(default)s)")
    parser.add_argument("--slow-seconds", type=float, default=DEFAULT_SLOW_SECONDS,
                        metavar="SECONDS", help="flag workflows whose mean successful run "
                                                "takes longer (default: %(default)s)")
    jaeger = parser.add_argument_group("Jaeger source")
    jaeger.add_argument("--jaeger-header", action="append", default=[], metavar="NAME=VALUE",
                        help="send this HTTP header to Jaeger, e.g. 'Authorization=Bearer "
                             "TOKEN' (repeatable)")
    jaeger.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help="give up on a Jaeger request after this long "
                             "(default: %(default)s)")
    jaeger.add_argument("--jaeger-search-depth", type=int, default=DEFAULT_SEARCH_DEPTH,
                        metavar="N", help="traces per Jaeger search; a full answer is re-read "
                                          "in smaller time windows (default: %(default)s)")


def _jaeger_options(args: argparse.Namespace) -> JaegerOptions:
    try:
        headers = tuple(parse_header(text) for text in args.jaeger_header)
    except ValueError as err:
        raise AnalysisInputError(str(err)) from None
    if not 0 < args.timeout <= _MAX_TIMEOUT_S or args.jaeger_search_depth <= 0:  # NaN too
        raise AnalysisInputError(
            f"--timeout must be a number of seconds above 0 and at most {_MAX_TIMEOUT_S:g}, "
            "and --jaeger-search-depth a positive number.")
    return JaegerOptions(headers=headers, timeout=args.timeout,
                         search_depth=args.jaeger_search_depth)


def _run_analyze(args: argparse.Namespace) -> int:
    progress = Progress()
    try:
        result = analyze(args.source, workflow=args.workflow, since=args.since,
                         min_success_rate=args.min_success_rate,
                         slow_seconds=args.slow_seconds, progress=progress,
                         jaeger=_jaeger_options(args))
        comparison = _compare(args, result) if args.baseline is not None else None
    except AnalysisInputError as err:
        return _fail(err, progress)
    progress.done()
    _report_problems(result)
    if args.json:
        document = result.to_dict()
        if comparison is not None:
            document["regressions"] = [item.to_dict() for item in comparison.regressions]
            document["baseline"] = {"source": args.baseline,
                                    "max_p95_increase": args.max_p95_increase,
                                    "max_success_drop": args.max_success_drop,
                                    **comparison.to_dict()}
        _out(json.dumps(document, indent=2) + "\n")
    else:
        _out(render_text(result, args.source))
        if comparison is not None:
            _out(render_comparison(comparison, args.baseline))
    return 1 if comparison is not None and comparison.regressions else 0


def _compare(args: argparse.Namespace, result: AnalysisResult) -> Comparison:
    """Analyse the baseline the same way (same --workflow, no --since) and compare.

    A ``--workflow`` that matches nothing in the baseline is an error too: the gate would
    compare nothing and pass.
    """
    references = read_json_baseline(args.baseline)
    if references is not None and args.workflow is not None:
        kept = {identity: reference for identity, reference in references.items()
                if matches(args.workflow, *identity)}
        if not kept:
            raise no_such_workflow(args.workflow, args.baseline, references)
        references = kept
    if references is None:
        baseline = analyze(args.baseline, workflow=args.workflow, jaeger=_jaeger_options(args))
        _report_problems(baseline)
        references = references_of(baseline)
    return compare(references_of(result), references,
                   max_p95_increase=args.max_p95_increase,
                   max_success_drop=args.max_success_drop)


def _run_report(args: argparse.Namespace) -> int:
    progress = Progress()
    try:
        result = write_report(args.source, args.output, workflow=args.workflow,
                              since=args.since, min_success_rate=args.min_success_rate,
                              slow_seconds=args.slow_seconds, progress=progress,
                              jaeger=_jaeger_options(args), jaeger_url=args.jaeger_url)
    except AnalysisInputError as err:
        return _fail(err, progress)
    progress.done()
    _report_problems(result)
    _say(f"vaquero: wrote {args.output} ({count(len(result.workflows), 'workflow')}, "
         f"{count(result.spans_read, 'span')})")
    return 0


def _fail(err: AnalysisInputError, progress: Progress) -> int:
    progress.done()
    _say(f"vaquero: error: {err}")
    return 2


def _report_problems(result: AnalysisResult) -> None:
    """Name the first malformed lines so the user can look at them; count the rest."""
    for line_no, reason in result.problems:
        _say(f"vaquero: malformed line {line_no}: {reason}")
    hidden = result.malformed_lines - min(len(result.problems), MAX_REPORTED_PROBLEMS)
    if hidden > 0:
        _say(f"vaquero: … and {hidden} more malformed lines skipped")
    for notice in getattr(result, "notices", ()):
        _say(f"vaquero: warning: {notice}")


def _out(text: str) -> None:
    """Write to stdout what the data may have filled in, cleaned (see ``_clean``)."""
    sys.stdout.write(for_terminal(text, getattr(sys.stdout, "encoding", None)))


def _say(line: str) -> None:
    """One line to stderr (errors, warnings: Jaeger's own text among them), cleaned."""
    sys.stderr.write(for_terminal(line, getattr(sys.stderr, "encoding", None)) + "\n")
