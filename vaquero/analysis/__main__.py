"""``python -m vaquero.analysis analyze|report SOURCE ...`` without the full vaquero CLI."""

from __future__ import annotations

import argparse
import sys

from vaquero.analysis.cli import add_commands
from vaquero.cli import guarded


def main(argv: list[str] | None = None) -> int:
    return guarded(lambda: _dispatch(argv))


def _dispatch(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vaquero.analysis")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_commands(subparsers)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
