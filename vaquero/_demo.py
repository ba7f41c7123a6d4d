"""``vaquero demo``: run the five example programs and show their traces, no setup needed.

The demo is the first thing a new user runs, so it must work on a bare laptop: traces go to
the terminal (console tree) and to an OTLP/JSON-lines file that ``vaquero analyze`` and
``vaquero report`` read. Only when a collector is already listening does the demo add the
OTLP exporter; with none reachable it configures no OTLP exporter at all, because a demo
that opens with "cannot deliver spans" warnings teaches the wrong first lesson.

The workflows are the programs in ``examples/`` (one source of truth for the guide's code),
loaded in-process. ``vaquero/_examples`` is a symlink to that directory, so the wheel ships
the very same files (no copy in the source tree) and a pip install runs what a checkout does.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import types
from pathlib import Path
from typing import Any

from vaquero._doctor import endpoint_is_local, find_jaeger, probe_endpoint
from vaquero._pipeline.exporters import DEFAULT_TRACES_FILE
from vaquero._redact import mask_endpoint
from vaquero._stack import INIT_HINT, JAEGER_UI

EXAMPLES = (
    "01_sequential_registration.py",
    "02_parallel_batch.py",
    "03_state_machine.py",
    "04_event_driven.py",
    "05_workflow_analytics.py",
)
# The workflows (run span names) the examples make: the event-driven example's producer is a
# workflow of its own, so five programs make six. README and help text say so.
WORKFLOWS = (
    "register_user_workflow",
    "process_user_batch",
    "StateMachineWorkflow.execute",
    "EventDrivenWorkflow.start_workflow",
    "publish_events",
    "nightly_analytics_run",
)
SIM_MODULE = "_sim"
PROBE_TIMEOUT_S = 0.3


def add_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run five example programs (six workflows) and show their traces (no collector "
             "needed)",
        description=(
            "Run the five example programs (six workflows) in-process, print each trace as a "
            "tree and "
            "append it to an OTLP/JSON-lines file. If an OTLP collector is listening at the "
            "configured endpoint, the traces are sent there too."
        ),
    )
    parser.add_argument(
        "--file",
        metavar="PATH",
        help=f"traces file (default: $VAQUERO_TRACES_FILE or ./{DEFAULT_TRACES_FILE})",
    )
    parser.add_argument(
        "--no-console", action="store_true", help="do not print the trace trees"
    )
    parser.add_argument(
        "--seed", type=int, metavar="N", help="seed the simulation for a repeatable run"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    examples_dir = find_examples_dir()
    if examples_dir is None:
        print(
            "vaquero demo: the example workflows are missing from this installation (neither "
            "vaquero/_examples/ nor a checkout's examples/ was found). Reinstall vaquero "
            "(`pip install --force-reinstall vaquero`) to restore them.",
            file=sys.stderr,
        )
        return 2
    import vaquero
    from vaquero._config import VAQUERO_TRACES_FILE, load_settings

    traces_file = Path(
        args.file or os.environ.get(VAQUERO_TRACES_FILE) or DEFAULT_TRACES_FILE
    ).absolute()
    endpoint = load_settings().endpoint
    collector = collector_reachable(endpoint)
    vaquero.init(
        exporters=["otlp"] if collector else ["none"],
        traces_file=str(traces_file),
        console=not args.no_console,
        service_name="vaquero-demo",
    )
    failed = run_examples(examples_dir, args.seed)
    vaquero.shutdown()
    jaeger = find_jaeger(None, endpoint_is_local(endpoint)) if collector else None
    print_next_steps(traces_file, endpoint if collector else None, jaeger)
    return 1 if failed else 0


def find_examples_dir() -> Path | None:
    """Where the example programs are: inside the installed package, else in the checkout.

    A wheel carries them as ``vaquero/_examples/``; in a checkout that is a symlink to
    ``examples/``, which is also looked for directly (a checkout whose symlinks were not
    made, as on a filesystem without them).
    """
    package = Path(__file__).resolve().parent
    for candidate in (package / "_examples", package.parent / "examples"):
        if all((candidate / name).is_file() for name in (*EXAMPLES, SIM_MODULE + ".py")):
            return candidate
    return None


def collector_reachable(endpoint: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """A TCP connect to the endpoint's host:port; enough to tell 'nothing listening'."""
    return probe_endpoint(endpoint, timeout) is None


def load_module(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_examples(examples_dir: Path, seed: int | None) -> list[str]:
    """Run each example's ``main``; the names of those that failed.

    The examples import their shared helpers as ``_sim`` (they are scripts, run from their
    own directory), so that module is registered under that name first. After each example
    the spans are flushed, so its tree prints right below its own output.
    """
    import vaquero

    load_module(examples_dir / (SIM_MODULE + ".py"), SIM_MODULE)
    failed: list[str] = []
    for filename in EXAMPLES:
        title = filename[:-3].replace("_", " ")
        print(f"\n== {title} ==", flush=True)
        started = time.perf_counter()
        try:
            module = load_module(examples_dir / filename, f"vaquero_demo_{filename[:-3]}")
            module.main(seed)
        except Exception as error:
            failed.append(filename)
            print(f"   {filename} failed: {type(error).__name__}: {error}", flush=True)
        sys.stdout.flush()
        vaquero.flush()
        print(f"   ({time.perf_counter() - started:.2f}s)", flush=True)
    return failed


def print_next_steps(traces_file: Path, collector: str | None, jaeger: str | None) -> None:
    """Where the traces went and what to run next; Jaeger is named only if it answered."""
    try:
        shown = os.path.relpath(traces_file)
    except ValueError:  # another drive on Windows
        shown = str(traces_file)
    if " " in shown:
        shown = f'"{shown}"'
    print(f"\nTraces appended to {traces_file}")
    sent_to = None if collector is None else mask_endpoint(collector)
    if sent_to is not None and jaeger is not None:
        print(f"and sent to the OTLP collector at {sent_to}: open Jaeger at {jaeger}")
    elif sent_to is not None:
        print(f"and sent to the OTLP collector at {sent_to} (service 'vaquero-demo')")
    print("\nNext:")
    print(f"  vaquero analyze {shown}                  # latency, errors, critical paths")
    print(f"  vaquero report {shown} -o report.html    # a self-contained HTML report")
    if collector is None:
        print(f"  {INIT_HINT} && docker compose up -d   # Collector + Jaeger here; "
              f"demo again, then {JAEGER_UI}")
