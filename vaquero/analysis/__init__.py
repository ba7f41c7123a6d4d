"""Offline analysis of vaquero traces: workflow statistics, insights and an HTML report.

Reads OTLP JSON lines (vaquero's file exporter, the Collector's ``file`` exporter, ``-`` for
stdin, gzipped or not) or a Jaeger v2 query URL, and answers the seed's questions: how often
each workflow succeeds, how long it takes, which step dominates its critical path and where
its failures start.

    >>> result = analyze("vaquero-traces.jsonl", since="2h")   # doctest: +SKIP
    >>> result.to_dict()["workflows"][0]["success_rate"]        # doctest: +SKIP
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import timedelta

from vaquero.analysis._clean import for_file
from vaquero.analysis._duration import check_window_ns, parse_duration_ns
from vaquero.analysis._engine import run_analysis
from vaquero.analysis._html import render_html
from vaquero.analysis._insights import DEFAULT_MIN_SUCCESS_RATE, DEFAULT_SLOW_SECONDS
from vaquero.analysis._jaeger import JaegerOptions
from vaquero.analysis._result import (
    AnalysisResult,
    FailurePattern,
    Insight,
    KeptTrace,
    Regression,
    StepStats,
    TimeBucket,
    WorkflowStats,
)
from vaquero.analysis.errors import AnalysisInputError

__all__ = [
    "AnalysisInputError",
    "AnalysisResult",
    "FailurePattern",
    "Insight",
    "JaegerOptions",
    "KeptTrace",
    "Regression",
    "StepStats",
    "TimeBucket",
    "WorkflowStats",
    "analyze",
    "write_report",
]


def analyze(
    source: str | os.PathLike[str],
    *,
    workflow: str | None = None,
    since: str | timedelta | None = None,
    min_success_rate: float = DEFAULT_MIN_SUCCESS_RATE,
    slow_seconds: float = DEFAULT_SLOW_SECONDS,
    progress: Callable[[int], None] | None = None,
    jaeger: JaegerOptions | None = None,
) -> AnalysisResult:
    """Analyse a trace file, ``"-"`` (stdin) or a Jaeger base URL.

    A workflow run is the outermost span that is an agent (wherever it sits in its trace), or
    the root span of a trace without agents. ``workflow`` keeps runs whose span name or agent
    name equals it; ``since`` (``15m``, ``2h``, ``1d``, or a ``timedelta``) keeps runs that
    started that recently. Percentiles are nearest-rank. The result does not depend on the
    order of the input lines. ``jaeger`` sets headers, timeout and search depth for a Jaeger
    source. ``min_success_rate`` and ``slow_seconds`` are the thresholds of the
    ``low_success_rate`` and ``slow_workflow`` insights; ``progress`` is called with the
    number of spans read so far, for a progress display.

    Returns:
        The :class:`AnalysisResult`; ``to_dict()`` is what ``vaquero analyze --json`` prints.

    Raises:
        AnalysisInputError: the source cannot be read, or ``workflow`` names no workflow
            in it (the message lists those it holds).
    """
    return _run(source, workflow, since, min_success_rate, slow_seconds, progress, keep=False,
                jaeger=jaeger)


def write_report(
    source: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    workflow: str | None = None,
    since: str | timedelta | None = None,
    min_success_rate: float = DEFAULT_MIN_SUCCESS_RATE,
    slow_seconds: float = DEFAULT_SLOW_SECONDS,
    progress: Callable[[int], None] | None = None,
    jaeger: JaegerOptions | None = None,
    jaeger_url: str | None = None,
) -> AnalysisResult:
    """Analyse ``source`` and write one self-contained HTML report to ``output_path``.

    ``workflow``, ``since``, ``min_success_rate``, ``slow_seconds``, ``progress`` and
    ``jaeger`` mean what they mean for :func:`analyze`. Trace ids link to ``jaeger_url``'s
    trace view (by default the source itself when it is a Jaeger URL). The page loads
    nothing from the network. The file is written whole or not at all (a temporary file
    renamed over it): a failure never leaves a truncated report, or an earlier one cut short.

    Returns:
        The :class:`AnalysisResult` the report shows.

    Raises:
        AnalysisInputError: the source cannot be read or the report cannot be written.
    """
    result = _run(source, workflow, since, min_success_rate, slow_seconds, progress, keep=True,
                  jaeger=jaeger)
    page = for_file(render_html(result, os.fspath(source), jaeger_url=jaeger_url))
    try:
        _write_atomically(os.fspath(output_path), page.encode("utf-8"))
    except OSError as err:
        raise AnalysisInputError(
            f"cannot write the report to {os.fspath(output_path)} ({err.strerror or err}): "
            "choose a writable path with -o."
        ) from None
    return result


def _write_atomically(path: str, data: bytes) -> None:
    """``data`` at ``path`` once complete: written beside it, then renamed over it."""
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".vaquero-report-{secrets.token_hex(8)}.tmp")
    # 0o666 and O_EXCL: the permissions open(path, "w") would give (the umask applies), and
    # never a file someone else put there.
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise



def _run(
    source: str | os.PathLike[str],
    workflow: str | None,
    since: str | timedelta | None,
    min_success_rate: float,
    slow_seconds: float,
    progress: Callable[[int], None] | None,
    *,
    keep: bool,
    jaeger: JaegerOptions | None = None,
) -> AnalysisResult:
    try:
        since_ns = _window_ns(since)
    except ValueError as err:
        raise AnalysisInputError(str(err)) from None
    return run_analysis(
        os.fspath(source),
        workflow=workflow,
        since_ns=since_ns,
        min_success_rate=min_success_rate,
        slow_seconds=slow_seconds,
        keep_traces=keep,
        progress=progress,
        jaeger=jaeger,
    )


def _window_ns(since: str | timedelta | None) -> int | None:
    if since is None:
        return None
    if isinstance(since, timedelta):
        return check_window_ns(since.total_seconds() * 1e9, str(since))
    return parse_duration_ns(since)
