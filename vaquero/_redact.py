"""Credentials in an endpoint URL are never printed.

An OTLP endpoint may carry userinfo (``http://otel:S3cret@collector:4318``). vaquero names
the endpoint in its warnings ("cannot deliver spans to ...", "init() called again ..."),
in ``Settings.describe()`` and in ``vaquero doctor``; every such place shows it through
:func:`mask_endpoint`, which keeps the scheme, host, port and path (what an operator needs
to recognise the endpoint) and replaces the userinfo.
"""

from __future__ import annotations

__all__ = ["mask_endpoint"]


def mask_endpoint(url: object) -> str:
    """``url`` as text with any userinfo (``user:password@``) replaced by ``***@``.

    Works on text that is not a valid URL too (a bad variable is quoted in a warning), and
    masks up to the *last* ``@`` so that a password holding ``@`` or ``/`` is hidden whole.
    Over-masking an odd URL is harmless; printing a credential is not.
    """
    text = url if isinstance(url, str) else str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    if "@" not in rest:
        return text
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}"
