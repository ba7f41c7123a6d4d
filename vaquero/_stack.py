"""``vaquero stack init [DIR]``: write the local Collector + Jaeger stack, ready for compose.

A user who installed vaquero with pip has no repository to run ``docker compose up -d`` in,
yet every "no collector" hint points at that stack. So the stack files ship inside the
package (``vaquero/_stack_files/``, byte-identical copies of the repository's top-level
``docker-compose.yml``, ``otel-collector.yaml`` and ``deploy/*.yaml``; a test keeps
them identical) and this command writes them where the user wants them.

It never overwrites a file that differs from the shipped one unless ``--force`` is given:
a user who tuned their collector config must not lose it to a second ``init``.

It is all or nothing. Every obstacle is found before anything is written (a file where a
directory must go, such as ``DIR/deploy``; a directory where a file must go), and the files
are written beside their targets first and renamed into place only once all of them are
written; a failure on the way removes what this run made and puts back what it replaced.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

#: Where the shipped stack files live inside the installed package.
STACK_DIR = Path(__file__).resolve().parent / "_stack_files"

#: The files of the stack, relative to the directory they are written to. The compose file
#: mounts the other two by these relative paths, so the layout is part of the contract.
STACK_FILES = (
    "docker-compose.yml",
    "otel-collector.yaml",
    "deploy/jaeger.yaml",
    "deploy/prometheus.yaml",
    "deploy/prometheus-rules.yaml",
)

#: Jaeger's UI as the shipped compose file publishes it.
JAEGER_UI = "http://127.0.0.1:16686"

#: Prometheus as the shipped compose file publishes it.
PROMETHEUS_UI = "http://127.0.0.1:9090"

#: The alerts deploy/prometheus-rules.yaml defines; ``vaquero doctor`` checks they are loaded.
VAQUERO_ALERTS = ("VaqueroLowSuccessRate", "VaqueroSlowWorkflow")

INIT_HINT = "vaquero stack init"


def add_command(subparsers: Any) -> None:
    """Register ``vaquero stack`` and its ``init`` subcommand on the CLI's parser."""
    parser = subparsers.add_parser(
        "stack",
        help="write the local OpenTelemetry Collector + Jaeger stack (docker compose files)",
        description="Manage the local trace stack: an OpenTelemetry Collector on "
        "127.0.0.1:4317/4318 feeding Jaeger v2, whose UI is at " + JAEGER_UI + ".",
    )
    actions = parser.add_subparsers(dest="stack_command", metavar="ACTION")
    init = actions.add_parser(
        "init",
        help="write docker-compose.yml, otel-collector.yaml and deploy/ (Jaeger, Prometheus)",
        description="Write the stack's files into DIR (created if missing), then start it "
        "with `docker compose up -d` there. Existing files that differ are left alone "
        "unless --force is given.",
    )
    init.add_argument("dir", nargs="?", default=".", metavar="DIR", help="default: .")
    init.add_argument(
        "--force", action="store_true", help="overwrite files that differ from the shipped ones"
    )
    init.set_defaults(func=run_init)
    parser.set_defaults(func=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_init(args: argparse.Namespace) -> int:
    """Write the stack into ``args.dir``; 0 when every file is in place, else 1 or 2."""
    target = Path(args.dir)
    if target.exists() and not target.is_dir():
        print(f"vaquero stack init: {target} is a file, not a directory; "
              "name a directory (it is created if missing).", file=sys.stderr)
        return 2
    try:
        written, unchanged, conflicts = write_stack(target, force=args.force)
    except StackBlocked as exc:
        print(f"vaquero stack init: {exc}; nothing was written. Move it away, or pick another "
              "directory.", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"vaquero stack init: cannot write into {target}: {exc.strerror or exc}. "
              "Nothing was written. Choose a directory you can write to.", file=sys.stderr)
        return 2
    for name in written:
        print(f"wrote     {target / name}")
    for name in unchanged:
        print(f"unchanged {target / name}")
    if conflicts:
        listed = ", ".join(str(target / name) for name in conflicts)
        verb = "exists and differs" if len(conflicts) == 1 else "exist and differ"
        print(f"vaquero stack init: {listed} already {verb} from vaquero's stack; nothing was "
              "written. Re-run with --force to overwrite, or pick another directory.",
              file=sys.stderr)
        return 1
    shown = "" if target.resolve() == Path.cwd().resolve() else f"cd {_quoted(str(target))} && "
    print("\nStart it (needs Docker with the compose plugin):")
    print(f"  {shown}docker compose up -d")
    print("Then run your program (the defaults send to localhost:4317) and open Jaeger at "
          f"{JAEGER_UI}.")
    return 0


class StackBlocked(Exception):
    """Something in the way that ``--force`` does not remove; ``str()`` names it."""


def write_stack(target: Path, *, force: bool = False) -> tuple[list[str], list[str], list[str]]:
    """Copy the shipped stack files into ``target``: (written, unchanged, conflicting) names.

    Files are compared byte for byte; a conflicting file is rewritten only with ``force``.
    Nothing is written when any file conflicts and ``force`` is off, so a half-written stack
    never mixes the user's files with ours; :class:`StackBlocked` when a path is in the way
    (a file where a directory goes, a directory where a file goes), and ``OSError`` when
    writing fails, both with nothing left changed (see the module docstring).
    """
    written: list[str] = []
    unchanged: list[str] = []
    conflicts: list[str] = []
    previous: dict[str, bytes] = {}
    payloads = {name: (STACK_DIR / name).read_bytes() for name in STACK_FILES}
    for name, payload in payloads.items():
        path = target / name
        _check_parents(target, path)
        if path.is_dir():
            raise StackBlocked(f"{path} is a directory where vaquero's {name} goes")
        if not path.exists():
            written.append(name)
            continue
        old = path.read_bytes()
        if old == payload:
            unchanged.append(name)
        elif force:
            written.append(name)
            previous[name] = old
        else:
            conflicts.append(name)
    if conflicts:
        return [], unchanged, conflicts
    _write_all(target, {name: payloads[name] for name in written}, previous)
    return written, unchanged, conflicts


def _check_parents(target: Path, path: Path) -> None:
    """Every directory between ``target`` (itself included) and ``path`` is one, or absent."""
    for parent in [*reversed(path.relative_to(target).parents)][1:]:
        where = target / parent
        if where.exists() and not where.is_dir():
            raise StackBlocked(f"{where} is a file where vaquero needs a directory")
    if target.exists() and not target.is_dir():
        raise StackBlocked(f"{target} is a file, not a directory")


def _write_all(target: Path, files: dict[str, bytes], previous: dict[str, bytes]) -> None:
    """Write ``files`` under ``target`` all or nothing (see the module docstring)."""
    made_dirs: list[Path] = []
    staged: dict[str, Path] = {}
    placed: list[str] = []
    try:
        for name, payload in files.items():
            path = target / name
            for directory in reversed(path.parents):  # the missing ones, top down
                if not directory.exists():
                    directory.mkdir()
                    made_dirs.append(directory)
            temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
            staged[name] = temporary
            temporary.write_bytes(payload)
        for name, temporary in staged.items():
            os.replace(temporary, target / name)
            placed.append(name)
    except BaseException:
        for name in placed:  # put back what was there before this run
            try:
                if name in previous:
                    (target / name).write_bytes(previous[name])
                else:
                    (target / name).unlink()
            except OSError:
                pass
        for temporary in staged.values():
            try:
                temporary.unlink()
            except OSError:
                pass
        for directory in reversed(made_dirs):
            try:
                directory.rmdir()
            except OSError:
                pass
        raise


def _quoted(text: str) -> str:
    return f'"{text}"' if " " in text else text
