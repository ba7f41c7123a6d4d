"""Credentials in an endpoint URL are never printed.

An OTLP endpoint may carry userinfo (``http://otel:S3cret@collector:4318``). vaquero names
the endpoint in its warnings ("cannot deliver spans to …", "init() called again …") and
``vaquero doctor`` prints it; every such place shows it through :func:`mask_url`, which
keeps the scheme, host, port and path (what an operator needs to recognise the endpoint)
and replaces the userinfo.
"""

from __future__ import annotations

import re
from typing import Final

MASK: Final = "***"
# scheme://userinfo@ — userinfo runs to the last "@" before the host (passwords hold "@").
_USERINFO: Final = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/?#]*)@")


def mask_url(url: object) -> str:
    """``url`` as text with any userinfo replaced by ``***``; other text unchanged."""
    text = url if isinstance(url, str) else str(url)
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text, count=1)
