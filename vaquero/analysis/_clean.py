"""Make text from trace data safe to print or to write to a file: the one output edge.

Span, agent and exception names come from whoever wrote the traces, and an agent name can be
planted by a remote client through baggage. Printed raw, an ESC or a C1 CSI byte drives the
reader's terminal (moves the cursor, rewrites earlier lines, sets the window title), a CR
overwrites what was printed, a BEL rings; a bidirectional override makes a name read
backwards. A lone surrogate (``"\\ud800"``, which JavaScript writers emit and the standard
JSON parser accepts) cannot be encoded at all, and ended ``analyze`` with a traceback.

So everything the CLI prints goes through :func:`for_terminal` and the HTML report through
:func:`for_file`, once, at the edge (as the console exporter does for its tree): each control
character becomes a space (so columns stay aligned), each lone surrogate U+FFFD. Newlines the
renderer wrote are kept; the data's own were already made spaces by the renderers.
"""

from __future__ import annotations

import re

__all__ = ["for_file", "for_terminal"]

# C0 controls but LF (and TAB, kept for files only), DEL, C1 controls, bidi overrides/isolates.
_TERMINAL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_FILE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def for_terminal(text: str, encoding: str | None = "utf-8") -> str:
    """``text`` with no control character or lone surrogate, encodable in ``encoding``."""
    text = _SURROGATE.sub("\ufffd", _TERMINAL.sub(" ", text))
    if encoding and encoding.lower().replace("-", "") not in ("utf8", "utf16", "utf32"):
        try:
            text = text.encode(encoding, "replace").decode(encoding)
        except LookupError:  # a stream naming an encoding Python does not know
            pass
    return text


def for_file(text: str) -> str:
    """``text`` as valid UTF-8 with no control characters but tab and line breaks."""
    return _SURROGATE.sub("\ufffd", _FILE.sub(" ", text))
