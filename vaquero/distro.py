"""vaquero as an OpenTelemetry distribution: ``opentelemetry-instrument python app.py``.

``opentelemetry-instrument`` loads the first ``opentelemetry_distro`` and
``opentelemetry_configurator`` entry points it finds (or the ones named by
``OTEL_PYTHON_DISTRO`` / ``OTEL_PYTHON_CONFIGURATOR``: ``vaquero_distro`` and
``vaquero_configurator``). The distro sets vaquero's defaults where the user set nothing;
the configurator installs vaquero's pipeline (export queue with a bounded shutdown, the
agent-name processor, scrubbing) exactly as zero-config would, then the instrumentations
installed in the environment (asyncio and threading among them) are switched on by the
loader itself.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]

from vaquero._config import OTEL_TRACES_EXPORTER
from vaquero._otel_compat import BaseConfigurator
from vaquero._pipeline import install as _setup
from vaquero._state import STATE

logger = logging.getLogger("vaquero")


class VaqueroDistro(BaseDistro):  # type: ignore[misc]
    """Defaults only: what ``OTEL_*`` variables the user left unset."""

    def _configure(self, **kwargs: Any) -> None:
        os.environ.setdefault(OTEL_TRACES_EXPORTER, "otlp")
        # The loader reads this after the distro ran: with opentelemetry-distro installed too,
        # vaquero's distro also picks vaquero's configurator instead of whichever comes first.
        os.environ.setdefault("OTEL_PYTHON_CONFIGURATOR", "vaquero_configurator")


class VaqueroConfigurator(BaseConfigurator):
    """Install vaquero's tracing pipeline from the environment, never raising."""

    def _configure(self, **kwargs: Any) -> None:
        STATE.configured_by_instrument = True  # the loader switches instrumentations on itself
        try:
            _setup.init()
        except Exception:  # a bad configuration must not stop the instrumented program
            logger.warning("vaquero: the distro could not configure tracing.", exc_info=True)
