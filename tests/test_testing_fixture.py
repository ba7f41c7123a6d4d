"""The ``vaquero_spans`` fixture, used the way a user tests their own workflow."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

import vaquero
from vaquero import workflow
from vaquero._config import OPTIONS
from vaquero.testing import quiet_test_run

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


_USER_TEST = textwrap.dedent(
    """
    import vaquero
    from vaquero._pipeline import install

    @vaquero.trace(agent_name="greeter")
    def greet(name):
        with vaquero.span("format_greeting", who=name):
            return f"hello {name}"

    def test_greet(vaquero_spans):
        assert greet("ada") == "hello ada"
        assert len(vaquero_spans) == 2

    def test_without_the_fixture():
        assert greet("bob") == "hello bob"
        # what the run configured (read here only to say why the output is quiet)
        print("EXPORTERS", install.runtime().settings.exporters)
    """
)


def _run_user_suite(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makepyfile(test_user_workflow=_USER_TEST)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")


def test_a_users_test_run_exports_nothing_unless_asked(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No exporter variable, no collector: the run is quiet and configures no exporter."""
    for option in OPTIONS:
        for variable in option.env:
            monkeypatch.delenv(variable, raising=False)
    result = _run_user_suite(pytester)
    result.assert_outcomes(passed=2)
    output = result.stdout.str() + result.stderr.str()
    assert "EXPORTERS ('none',)" in output
    assert "cannot deliver" not in output and "not exported" not in output
    assert "dropped" not in output and "vaquero:" not in output, output


def test_a_users_test_run_exports_where_the_environment_says(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, rx
) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rx.grpc_endpoint)
    result = _run_user_suite(pytester)
    result.assert_outcomes(passed=2)
    assert "EXPORTERS ('otlp',)" in result.stdout.str()
    assert rx.wait_for_spans(4)
    assert sorted(span.name for span in rx.spans()) == [
        "format_greeting", "format_greeting", "greet", "greet"]


@pytest.mark.parametrize("variable", sorted(
    variable for option in OPTIONS if option.name in ("exporters", "endpoint")
    for variable in option.env))
def test_only_an_exporter_or_endpoint_variable_counts_as_asking(variable: str) -> None:
    try:
        assert quiet_test_run({}) is True
        assert quiet_test_run({"VAQUERO_CONSOLE": "1", "OTEL_SERVICE_NAME": "x"}) is True
        assert quiet_test_run({variable: " "}) is True  # blank is unset
        assert quiet_test_run({variable: "http://127.0.0.1:1"}) is False
    finally:
        quiet_test_run()  # back to what this run's environment says


def test_an_endpoint_a_fixture_sets_before_the_first_span_is_honoured(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, rx
) -> None:
    """The decision is taken when the first span configures vaquero, not at plugin load."""
    for option in OPTIONS:
        for variable in option.env:
            monkeypatch.delenv(variable, raising=False)
    pytester.makeconftest(textwrap.dedent(
        f"""
        import pytest

        @pytest.fixture(autouse=True)
        def collector(monkeypatch):
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "{rx.grpc_endpoint}")
        """
    ))
    result = _run_user_suite(pytester)
    result.assert_outcomes(passed=2)
    assert "EXPORTERS ('otlp',)" in result.stdout.str()
    assert rx.wait_for_spans(4)
