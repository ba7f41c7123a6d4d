"""placeholder"""
from typing import Any


def add_command(subparsers: Any) -> None:
    return None
