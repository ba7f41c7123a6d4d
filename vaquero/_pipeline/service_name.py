"""The default ``service.name`` inside a known server: the application it serves.

Zero-config, the service is named after the program (``vaquero._config``), and under a
server every service would be called ``uvicorn`` or ``gunicorn`` in Jaeger. When the
program is a known server, the application argument it was given names the service instead:
``uvicorn shop.api:app`` -> ``shop.api``. ``OTEL_SERVICE_NAME``, a ``service.name`` in
``OTEL_RESOURCE_ATTRIBUTES`` and ``init(service_name=...)`` still win.

Worker processes see the same command line: forked workers (gunicorn) share it, and spawned
ones (``uvicorn --workers``) get the parent's ``sys.argv`` from multiprocessing.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence

from vaquero._config import default_service_name

__all__ = ["KNOWN_SERVERS", "served_application", "service_name_for"]

KNOWN_SERVERS = frozenset({"uvicorn", "gunicorn", "hypercorn", "daphne", "granian"})
"""Programs whose application argument is written ``package.module:attribute``."""

# ``package.module:attribute`` or ``package.module:factory(...)``; a ``host:port`` bind
# address never matches (the part after the colon starts with a digit or a slash).
_APP_SPEC = re.compile(r"^([A-Za-z_][\w.]*):[A-Za-z_]\w*(\(.*\))?$")


def _server_name(argv0: str) -> str | None:
    base = os.path.basename(argv0)
    if base in ("__main__.py", "__main__"):  # python -m uvicorn
        base = os.path.basename(os.path.dirname(argv0))
    base = base.removesuffix(".py")
    return base if base in KNOWN_SERVERS else None


def served_application(argv: Sequence[str]) -> str | None:
    """The module of the application a known server serves, or None (not a server, no app)."""
    if not argv or _server_name(argv[0]) is None:
        return None
    for arg in argv[1:]:
        if arg.startswith("-"):
            continue
        match = _APP_SPEC.match(arg)
        if match:
            return match.group(1)
    return None


def service_name_for(configured: str) -> str:
    """``configured``, unless it is only the default and the program is a known server."""
    if configured != default_service_name():
        return configured
    if os.environ.get("OTEL_SERVICE_NAME", "").strip():
        return configured
    if "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").replace(" ", ""):
        return configured
    return served_application(sys.argv) or configured
