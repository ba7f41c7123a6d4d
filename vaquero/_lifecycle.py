"""Process lifecycle hooks (signals, fork, worker exit); filled in by the safety work."""

from __future__ import annotations


def install() -> None:
    """Called once, after vaquero installed its own provider."""
    return None
