"""Every code block of docs/guide.md runs as written and makes the spans the guide says."""

from __future__ import annotations

import re
import sys
import types

import pytest
from conftest import ROOT

from vaquero.testing import CapturedSpans, capture_spans

GUIDE = ROOT / "docs" / "guide.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)


def _run(block: str, index: int) -> tuple[types.ModuleType, CapturedSpans]:
    module = types.ModuleType(f"guide_block_{index}")
    sys.modules[module.__name__] = module  # dataclasses and enums look their module up
    try:
        with capture_spans() as captured:
            exec(compile(block, f"<docs/guide.md block {index}>", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module, captured


def _tree(captured: CapturedSpans) -> str:
    return captured.tree()


# (marker in the block, the span tree it makes)
EXPECTED = {
    "async def sign_up(email: str) -> str:\n    with vaquero.span(\"validate\"":
        "sign_up\n  validate\n  create_account\n  send_welcome",
    "enrich_batch":
        "enrich_batch\n  enrich_all\n" + "".join("    enrich\n" for _ in range(5)).rstrip("\n"),
    "class Inventory": "Inventory.reserve",
    "class Order(Enum)": "fulfil\n  charge\n  ship",
    "fetch_quote": "price\n  quote_budget\n    fetch_quote\n    fetch_quote",
    "async def produce": "produce\nhandle\n  handle_login\nhandle\n  handle_purchase",
}


def test_the_guide_has_the_blocks_this_file_runs():
    blocks = _blocks()
    assert len(blocks) == len(EXPECTED) + 1  # and the pytest example
    for marker in EXPECTED:
        assert sum(marker in block for block in blocks) == 1, marker


@pytest.mark.parametrize("marker", list(EXPECTED))
def test_each_program_block_runs_and_makes_its_tree(marker: str, capsys) -> None:
    (index, block), = [(i, b) for i, b in enumerate(_blocks()) if marker in b]
    _, captured = _run(block, index)
    assert _tree(captured) == EXPECTED[marker]
    roots = captured.roots()
    assert all(root.agent is not None for root in roots)


def test_the_parallel_block_counts_its_failed_member():
    (index, block), = [(i, b) for i, b in enumerate(_blocks()) if "enrich_batch" in b]
    _, captured = _run(block, index)
    group = captured.one("enrich_all")
    assert group.attributes["workflow.parallel.failed"] == 1
    assert group.status != "ERROR"
    assert [s.status for s in captured.named("enrich")].count("ERROR") == 1


def test_the_retry_block_records_the_failed_attempt():
    (index, block), = [(i, b) for i, b in enumerate(_blocks()) if "fetch_quote" in b]
    _, captured = _run(block, index)
    first, second = sorted(captured.named("fetch_quote"), key=lambda s: s.start_ns)
    assert first.status == "ERROR" and "workflow.retry.backoff_s" in first.attributes
    assert second.status != "ERROR"


def test_the_testing_block_is_a_passing_test(vaquero_spans):
    (index, block), = [(i, b) for i, b in enumerate(_blocks()) if "def test_" in b]
    module, _ = _run(block, index)
    module.test_sign_up_creates_the_account(vaquero_spans)
