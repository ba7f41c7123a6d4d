"""The ``vaquero`` command: ``demo``, ``analyze``, ``report``, ``doctor`` and ``stack``.

Each subcommand lives in the module that owns its behaviour; this file only assembles the
parser, so ``vaquero --help`` is the one index of what the command can do.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vaquero._version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaquero",
        description="Trace multi-step workflows and agents with OpenTelemetry.",
    )
    parser.add_argument("--version", action="version", version=f"vaquero {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_commands(subparsers)
    return parser


def _add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Imported here so `vaquero --version` does not pay for the analysis package.
    from vaquero import _demo, _doctor, _stack
    from vaquero.analysis.cli import add_commands as add_analysis_commands

    _demo.add_command(subparsers)
    add_analysis_commands(subparsers)
    _doctor.add_command(subparsers)
    _stack.add_command(subparsers)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    try:
        return int(func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
