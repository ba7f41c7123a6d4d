"""``vaquero.span(name, conversation_id=...)``: ``gen_ai.conversation.id`` on that span and on
every span below it, third-party spans included, through tasks, executors and queues, and
across services as W3C baggage under the agent name's switch (issue 21 item 2)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import queue
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

import vaquero
from vaquero._state import STATE
from vaquero.testing import capture_spans

CONVERSATION = "gen_ai.conversation.id"


def test_the_span_and_every_descendant_carry_the_conversation_id():
    raw = otel_trace.get_tracer("third.party")

    async def task_child() -> None:
        with vaquero.span("in_task"):
            await asyncio.sleep(0)

    def in_executor() -> None:
        with vaquero.span("in_executor"):
            pass

    async def main() -> None:
        with vaquero.span("turn", conversation_id="conv_42", agent_name="support"):
            with raw.start_as_current_span("http.client"):
                pass
            await asyncio.gather(task_child(), task_child())
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, in_executor)
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                pool.submit(in_executor).result()

    with capture_spans() as spans:
        asyncio.run(main())
        with vaquero.span("after"):
            pass
    carried = {s.name: s.attributes.get(CONVERSATION) for s in spans}
    assert carried == {"turn": "conv_42", "http.client": "conv_42", "in_task": "conv_42",
                       "in_executor": "conv_42", "after": None}
    assert len(spans.named("in_executor")) == 2


def test_a_queue_consumer_gets_it_from_the_carrier():
    work: queue.Queue[dict[str, str]] = queue.Queue()

    def consumer() -> None:
        carrier = work.get()
        with vaquero.span("consume", parent=carrier):
            pass

    with capture_spans() as spans:
        with vaquero.span("produce", conversation_id="conv_q"):
            work.put(vaquero.inject())
        thread = threading.Thread(target=consumer)
        thread.start()
        thread.join()
    assert spans.one("consume").attributes[CONVERSATION] == "conv_q"


def test_it_travels_as_baggage_next_to_the_agent_name():
    with capture_spans(), vaquero.span("turn", conversation_id="c1", agent_name="a"):
        carrier = vaquero.inject()
    assert sorted(carrier["baggage"].split(",")) == [
        "gen_ai.agent.name=a", "gen_ai.conversation.id=c1"]
    token = otel_context.attach(otel_context.Context())  # a fresh "service"
    try:
        with capture_spans() as spans, vaquero.span("remote", parent=carrier):
            with vaquero.span("remote_step"):
                pass
    finally:
        otel_context.detach(token)
    assert spans.one("remote").attributes[CONVERSATION] == "c1"
    assert spans.one("remote_step").attributes[CONVERSATION] == "c1"


def test_the_agent_switch_keeps_it_in_the_process(monkeypatch):
    monkeypatch.setattr(STATE, "propagate_agent", False)
    with capture_spans() as spans, vaquero.span("turn", conversation_id="secret"):
        carrier = vaquero.inject()
        with vaquero.span("inside"):
            pass
    assert "baggage" not in carrier
    assert spans.one("inside").attributes[CONVERSATION] == "secret"
    foreign = {**carrier, "baggage": "gen_ai.conversation.id=intruder"}
    with capture_spans() as spans, vaquero.span("consume", parent=foreign):
        pass
    assert CONVERSATION not in spans.one("consume").attributes


def test_an_inner_conversation_wins_inside_its_block():
    with capture_spans() as spans:
        with vaquero.span("outer", conversation_id="a"):
            with vaquero.span("inner", conversation_id="b"):
                with vaquero.span("leaf"):
                    pass
            with vaquero.span("sibling"):
                pass
    assert {s.name: s.attributes[CONVERSATION] for s in spans} == {
        "outer": "a", "inner": "b", "leaf": "b", "sibling": "a"}


@settings(max_examples=100, deadline=None)
@given(conversation=st.text(min_size=1, max_size=80).filter(lambda s: s.strip() == s and s))
def test_any_conversation_id_survives_the_carrier_round_trip(conversation: str) -> None:
    with capture_spans(), vaquero.span("turn", conversation_id=conversation):
        carrier = vaquero.inject()
    assert json.loads(json.dumps(carrier)) == carrier
    token = otel_context.attach(otel_context.Context())
    try:
        with capture_spans() as spans, vaquero.span("remote", parent=carrier):
            pass
    finally:
        otel_context.detach(token)
    assert spans.one("remote").attributes[CONVERSATION] == conversation


@pytest.mark.parametrize("value", [42, "conv-ü"])
def test_a_non_string_id_is_recorded_as_text(value):
    with capture_spans() as spans, vaquero.span("turn", conversation_id=value):
        pass
    assert spans.one("turn").attributes[CONVERSATION] == str(value)


def test_a_conversation_id_refuses_to_decorate_a_function():
    with pytest.raises(TypeError, match="cannot decorate a function"):
        @vaquero.span("handler", conversation_id="c")
        def handler() -> None:
            return None
