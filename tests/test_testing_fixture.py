"""The ``vaquero_spans`` fixture, used the way a user tests their own workflow."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

import vaquero
from vaquero import workflow

pytest_plugins = ["pytester"]


@vaquero.trace(agent_name="checkout_workflow")
async def checkout(order: dict) -> str:
    with vaquero.span("reserve_stock", sku=order["sku"]):
        await asyncio.sleep(0)
    with vaquero.span("charge_card") as charge:
        if order["amount"] > 100:
            raise ValueError("card declined")
        charge.set_attribute("amount", order["amount"])
    return "ok"


def test_a_successful_run_is_one_tree(vaquero_spans):
    assert asyncio.run(checkout({"sku": "A-1", "amount": 20})) == "ok"

    root = vaquero_spans.one("checkout")
    assert [child.name for child in root.children] == ["reserve_stock", "charge_card"]
    assert vaquero_spans.roots() == [root]
    assert vaquero_spans.one("reserve_stock").attributes["sku"] == "A-1"
    assert vaquero_spans.one("charge_card").attributes["amount"] == 20
    assert {span.agent for span in vaquero_spans} == {"checkout_workflow"}
    assert all(span.status == "UNSET" for span in vaquero_spans)
    assert vaquero_spans.tree() == "checkout\n  reserve_stock\n  charge_card"


def test_a_failing_step_marks_itself_and_the_workflow(vaquero_spans):
    with pytest.raises(ValueError):
        asyncio.run(checkout({"sku": "B-2", "amount": 500}))

    charge = vaquero_spans.one("charge_card")
    assert charge.status == "ERROR"
    assert charge.status_description == "ValueError: card declined"
    assert "exception" in charge.event_names()
    assert vaquero_spans.one("checkout").status == "ERROR"
    assert charge.parent is vaquero_spans.one("checkout")


def test_each_test_sees_only_its_own_spans(vaquero_spans):
    assert len(vaquero_spans) == 0
    with vaquero.span("only_this"):
        workflow.transition("draft", "sent")
    assert vaquero_spans.names() == ["only_this"]
    assert vaquero_spans.one("only_this").attributes["workflow.state"] == "sent"


def test_the_fixture_is_found_through_the_entry_point_with_no_import(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's test file names the fixture and nothing else from vaquero.testing."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    pytester.makepyfile(
        test_user_workflow=textwrap.dedent(
            """
            import vaquero

            @vaquero.trace(agent_name="greeter")
            def greet(name):
                with vaquero.span("format_greeting", who=name):
                    return f"hello {name}"

            def test_greet(vaquero_spans):
                assert greet("ada") == "hello ada"
                step = vaquero_spans.one("format_greeting")
                assert step.parent is vaquero_spans.one("greet")
                assert step.attributes["who"] == "ada"
                assert step.agent == "greeter"

            def test_spans_do_not_leak_between_tests(vaquero_spans):
                assert vaquero_spans.names() == []
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "fixture 'vaquero_spans' not found" not in result.stdout.str()
