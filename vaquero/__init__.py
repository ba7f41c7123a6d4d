"""vaquero: OpenTelemetry-native tracing for multi-step workflows and agents.

This module is the public face only; behaviour lives in the private modules it names.
"""

from vaquero import workflow
from vaquero._api import flush, init, shutdown
from vaquero._config import ConfigError
from vaquero._decorators import trace
from vaquero._spans import Span, current_span, set_attribute, span
from vaquero._version import __version__
from vaquero.propagation import extract, inject

# Shown where users import them (help(), reprs, tracebacks, docs), as httpx does.
for _name in ("ConfigError", "Span", "current_span", "extract", "flush", "init", "inject",
              "set_attribute", "shutdown", "span", "trace"):
    globals()[_name].__module__ = "vaquero"
del _name

__all__ = [
    "ConfigError",
    "Span",
    "__version__",
    "current_span",
    "extract",
    "flush",
    "init",
    "inject",
    "set_attribute",
    "shutdown",
    "span",
    "trace",
    "workflow",
]
