"""The ``vaquero`` command: ``demo``, ``analyze``, ``report``, ``doctor`` and ``stack``.

Each subcommand lives in the module that owns its behaviour; this file only assembles the
parser, so ``vaquero --help`` is the one index of what the command can do.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from vaquero._version import __version__

EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what `set -o pipefail` sees from any Unix tool


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
    return guarded(lambda: _dispatch(argv))


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    return int(func(args))


def guarded(command: Callable[[], int]) -> int:
    """Run a command; a closed stdout or Ctrl-C ends it quietly with the shell's exit code.

    ``vaquero doctor | head -1`` closes the pipe while the command still writes: every
    subcommand (and ``--help``) then stops where it is, with no traceback and no "Exception
    ignored" at interpreter exit, as a Unix tool killed by SIGPIPE does.
    """
    try:
        try:
            return command()
        finally:  # what is still buffered counts: it meets the closed pipe here
            if sys.stdout is not None:
                sys.stdout.flush()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the flush at interpreter exit has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout already closed or not a file
        pass


if __name__ == "__main__":
    sys.exit(main())
