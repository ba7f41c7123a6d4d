"""Every repository path the README, CONTRIBUTING and the guide name exists.

A path is a backticked token or a link target that contains a slash or ends in a file
extension. Names that are not repository paths (a Collector processor, an OTLP protocol, a
URL path, what vaquero or the user writes) are listed below by hand, so a new one is a
decision, not a silent skip.
"""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

DOCUMENTS = ("README.md", "CONTRIBUTING.md", "docs/guide.md")
NOT_REPOSITORY_PATHS = {
    "attributes/redact-secrets",  # a processor in otel-collector.yaml
    "http/protobuf",  # an OTLP protocol name
    "vaquero-traces.jsonl", "./vaquero-traces.jsonl",  # what vaquero writes by default
    "app.py", "shop.py", "test_app.py", "t.jsonl", "shop.jsonl", "report.html",
    "earlier.jsonl",  # the user's files
    ".venv/bin/vaquero", ".venv/bin/python", ".venv/bin/pip",  # made by the install command
}
_FILE = re.compile(r"\.(md|py|toml|ya?ml|txt|json|jsonl|html)$")


def _named_paths(text: str) -> set[str]:
    tokens = set(re.findall(r"`([^`\n]+)`", text)) | set(re.findall(r"\]\(([^)\s]+)\)", text))
    return {
        token.split("#", 1)[0] for token in tokens
        if " " not in token and "://" not in token and not token.startswith(("/", "#", "-"))
        and ("/" in token or _FILE.search(token)) and "=" not in token
    } - NOT_REPOSITORY_PATHS - {""}


def _exists(document: str, path: str) -> bool:
    bases = [ROOT, (ROOT / document).parent, ROOT / "vaquero"]  # "_pipeline/" is vaquero's
    return any(list(base.glob(path.rstrip("/"))) for base in bases)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_path_a_document_names_exists(document: str) -> None:
    named = _named_paths((ROOT / document).read_text(encoding="utf-8"))
    assert named, f"{document} names no path: has the extraction broken?"
    missing = sorted(path for path in named if not _exists(document, path))
    assert missing == [], f"{document} names paths that are not in the repository: {missing}"


def test_the_extraction_finds_what_a_document_names() -> None:
    text = "see `vaquero/_scrub.py`, [the guide](docs/guide.md#top), `CHANGELOG.md`, " \
           "`http://x/y`, `/v1/traces`, `OTEL_X=a/b`, `pip install x`"
    assert _named_paths(text) == {"vaquero/_scrub.py", "docs/guide.md", "CHANGELOG.md"}
    assert not _exists("README.md", "vaquero/_scrub.py")
