"""The one place the version lives (read by pyproject-independent code at runtime)."""

__version__ = "0.1.0"
