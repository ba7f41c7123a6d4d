"""Every private OpenTelemetry detail in vaquero._otel_compat against its public fallback.

Each test runs the same operations twice, once on the fast path that reads the SDK's
internals and once under ``use_public_fallbacks()`` (as on an SDK whose layout vaquero does
not recognise), and compares what the spans end up holding. A renamed SDK field must cost
speed, never data.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import Sampler

import vaquero
from vaquero import _otel_compat as compat
from vaquero._agent import AGENT_CONTEXT_KEY, AgentNameSpanProcessor
from vaquero._semconv import AGENT_NAME
from vaquero._spans import Span
from vaquero.testing import capture_spans


def _provider(max_attributes: int = 128) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=max_attributes))
    provider.add_span_processor(AgentNameSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _attribute_workload(provider: TracerProvider, max_value_len: int | None = None) -> ReadableSpan:
    tracer = provider.get_tracer("compat")
    context = otel_context.set_value(AGENT_CONTEXT_KEY, "agent_x")
    span = tracer.start_span("work", context=context, attributes={AGENT_NAME: "own"})
    handle = Span(span)
    for key, value in [
        ("s", "text"), ("b", True), ("i", 7), ("f", 0.5), ("s", "again"), ("big", 2**70),
        ("nan", float("nan")), ("list", [1, 2]), ("long", "x" * 50),
    ]:
        handle.set_attribute(key, value)
    span.end()
    handle.set_attribute("after_end", 1)  # an ended span ignores it on both paths
    return span  # type: ignore[return-value]


def _as_tuple(span: ReadableSpan) -> tuple[object, ...]:
    return (
        span.name,
        list(span.attributes.items()),  # order matters: a re-set key moves to the end
        span.dropped_attributes,
    )


@pytest.mark.parametrize("max_attributes", [128, 4])
def test_attribute_writes_agree_on_both_paths(max_attributes: int) -> None:
    fast_provider, _ = _provider(max_attributes)
    fast = _attribute_workload(fast_provider)
    with compat.use_public_fallbacks():
        public_provider, _ = _provider(max_attributes)
        public = _attribute_workload(public_provider)
    if max_attributes == 128:
        assert _as_tuple(fast) == _as_tuple(public)
        assert fast.dropped_attributes == 0
        return
    # Over the count limit the SDK evicts the oldest attribute, the agent name first. Only
    # the fast path can put it back (the public API refuses writes once end() has run), at
    # the price of one more eviction: the one difference the fallback is allowed.
    assert fast.attributes[AGENT_NAME] == "own" and AGENT_NAME not in public.attributes
    fast_rest = [(k, v) for k, v in fast.attributes.items() if k != AGENT_NAME]
    assert fast_rest == list(public.attributes.items())[1:]
    assert (fast.dropped_attributes, public.dropped_attributes) == (6, 5)


def test_provider_length_limit_stricter_than_vaquero_is_honoured_on_both_paths() -> None:
    def run() -> str:
        provider = TracerProvider(span_limits=SpanLimits(max_attribute_length=5))
        span = provider.get_tracer("t").start_span("s")
        Span(span).set_attribute("k", "abcdefghij")
        span.end()
        return span.attributes["k"]  # type: ignore[index,return-value]

    fast = run()
    with compat.use_public_fallbacks():
        public = run()
    assert fast == public == "abcde"


def test_agent_stamp_agrees_on_both_paths() -> None:
    def run() -> tuple[object, object]:
        provider, exporter = _provider()
        tracer = provider.get_tracer("t")
        context = otel_context.set_value(AGENT_CONTEXT_KEY, "inherited")
        tracer.start_span("child", context=context).end()
        tracer.start_span("own", context=context, attributes={AGENT_NAME: "mine"}).end()
        spans = {s.name: s.attributes.get(AGENT_NAME) for s in exporter.get_finished_spans()}
        return spans["child"], spans["own"]

    fast = run()
    with compat.use_public_fallbacks():
        public = run()
    assert fast == public == ("inherited", "mine")


def test_fast_path_is_really_taken_on_this_sdk() -> None:
    """If this fails, the supported SDK changed layout: the fast path silently went away."""
    provider, _ = _provider()
    span = provider.get_tracer("t").start_span("s")
    assert compat.set_scalar_attribute(span, "k", "v") is True
    span.end()
    assert compat.set_scalar_attribute(span, "k2", "v") is False  # ended: public path decides
    with compat.use_public_fallbacks():
        live = provider.get_tracer("t").start_span("s2")
        assert compat.set_scalar_attribute(live, "k", "v") is False


def test_context_operations_agree_on_both_paths() -> None:
    fast_get, fast_attach, fast_detach = compat.context_operations()
    with compat.use_public_fallbacks():
        public_get, public_attach, public_detach = compat.context_operations()
    assert (public_get, public_attach, public_detach) == (
        otel_context.get_current, otel_context.attach, otel_context.detach,
    )
    key = otel_context.create_key("compat-test")
    for get, attach, detach in [
        (fast_get, fast_attach, fast_detach), (public_get, public_attach, public_detach),
    ]:
        token = attach(otel_context.set_value(key, "v"))
        assert otel_context.get_value(key) == "v" and get().get(key) == "v"
        detach(token)
        assert otel_context.get_value(key) is None


def test_scrubber_helpers_agree_on_both_paths() -> None:
    provider, exporter = _provider()
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("with_event") as span:
        span.add_event("e", {"k": "v"})
    tracer.start_span("bare").end()
    spans = {s.name: s for s in exporter.get_finished_spans()}

    def observe() -> tuple[object, ...]:
        bare, evented = spans["bare"], spans["with_event"]
        frozen = compat.frozen_attributes({"a": 1, "b": "x"}, dropped=3)
        return (
            dict(compat.span_attributes(evented)),
            compat.has_no_events(bare), compat.has_no_events(evented),
            compat.has_no_links(bare),
            dict(frozen), frozen.dropped,
            compat.plain_attributes({"x": 1}),
        )

    fast = observe()
    with compat.use_public_fallbacks():
        public = observe()
    assert fast == public
    assert fast[1:4] == (True, False, True)
    with pytest.raises(TypeError):
        compat.frozen_attributes({"a": 1}, 0)["a"] = 2  # immutable on both paths


def test_plain_attributes_reads_the_store_only_on_the_fast_path() -> None:
    store = BoundedAttributes(attributes={"k": "v"})
    assert compat.plain_attributes(store) == {"k": "v"}
    with compat.use_public_fallbacks():
        assert compat.plain_attributes(store) is None  # callers then use the Mapping API


def test_vaquero_spans_are_identical_with_every_private_detail_switched_off() -> None:
    def workflow() -> list[tuple[object, ...]]:
        with capture_spans() as spans:
            with vaquero.span("outer", agent_name="agent_a") as outer:
                outer.set_attribute("step", 1)
                outer.set_attribute("label", "first")
                with vaquero.span("inner") as inner:
                    inner.set_attribute("ok", True)
                    trace.get_tracer("raw").start_span("raw_child").end()
        return sorted(
            (s.name, s.agent, tuple(sorted(s.attributes.items()))) for s in spans
        )

    fast = workflow()
    with compat.use_public_fallbacks():
        public = workflow()
    assert fast == public
    assert {name: agent for name, agent, _ in fast} == {
        "outer": "agent_a", "inner": "agent_a", "raw_child": "agent_a",
    }


def test_suppress_instrumentation_agrees_on_both_paths() -> None:
    from opentelemetry import context as otel_context
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    def inside() -> tuple[bool, object]:
        with compat.suppress_instrumentation():
            return is_instrumentation_enabled(), otel_context.get_value("suppress_instrumentation")

    fast = inside()
    with compat.use_public_fallbacks():
        slow = inside()
    assert fast == slow == (False, True)
    assert is_instrumentation_enabled()


def test_configurator_base_is_usable_by_opentelemetry_instrument() -> None:
    calls = []

    class Probe(compat.BaseConfigurator):  # type: ignore[misc,valid-type]
        def _configure(self, **kwargs: object) -> None:
            calls.append(kwargs)

    Probe().configure(auto_instrumentation_version="x")
    assert calls == [{"auto_instrumentation_version": "x"}]


# Private names of the SDK and API that vaquero has read at some point; any new one is
# caught by the import rule below, these by the attribute rule.
_KNOWN_PRIVATE_FIELDS = {
    "_attributes", "_dict", "_lock", "_immutable", "_end_time", "_start_time", "_events",
    "_links", "_RUNTIME_CONTEXT", "_current_context", "_instrumentation_info",
    "_SUPPRESS_INSTRUMENTATION_KEY", "_Span", "_BaseConfigurator", "_resource",
}


def test_no_module_but_compat_touches_a_private_opentelemetry_name() -> None:
    import ast
    from pathlib import Path

    package = Path(vaquero.__file__).parent
    offences = []
    for path in sorted(package.rglob("*.py")):
        if "_otel_compat" in path.relative_to(package).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("opentelemetry"):
                module_private = any(part.startswith("_") for part in node.module.split("."))
                names_private = [a.name for a in node.names if a.name.startswith("_")]
                if module_private or names_private:
                    offences.append(f"{path.name}:{node.lineno} from {node.module} import ...")
            elif isinstance(node, ast.Attribute) and node.attr in _KNOWN_PRIVATE_FIELDS:
                owner = ast.unparse(node.value)
                if not owner.startswith(("self", "cls")):
                    offences.append(f"{path.name}:{node.lineno} {owner}.{node.attr}")
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in {"getattr", "hasattr", "setattr"}
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in _KNOWN_PRIVATE_FIELDS
            ):
                offences.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    where = "move these into the vaquero/_otel_compat package:\n"
    assert offences == [], where + "\n".join(offences)


def test_grpc_status_is_read_from_the_stock_exporters_log_record_or_not_at_all():
    import logging

    import grpc

    from vaquero._otel_compat import grpc_status_in_log_record

    def record(args):
        return logging.LogRecord("x", logging.WARNING, __file__, 1, "msg %s", args, None)

    assert grpc_status_in_log_record(record((grpc.StatusCode.UNAUTHENTICATED, "t"))) == (
        "UNAUTHENTICATED"
    )
    assert grpc_status_in_log_record(record(("no status here",))) is None
    assert grpc_status_in_log_record(record(None)) is None


def test_baggage_entries_agree_on_both_paths() -> None:
    from opentelemetry import baggage

    with_entry = baggage.set_baggage("gen_ai.agent.name", "planner", otel_context.Context())
    contexts = [with_entry, otel_context.Context(), None]

    def observe() -> list[dict[str, object]]:
        return [dict(compat.baggage_entries(context)) for context in contexts]

    fast = observe()
    with compat.use_public_fallbacks():
        public = observe()
    assert fast == public == [{"gen_ai.agent.name": "planner"}, {}, {}]


# --- span_starter: the SDK's start_span without its indirections ----------------------------
class _CountingIds(IdGenerator):
    """Deterministic ids, so a span started on either path can be compared field by field."""

    def __init__(self, random: bool) -> None:
        self.next_id = 1
        self.random = random

    def generate_span_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def generate_trace_id(self) -> int:
        self.next_id += 1
        return self.next_id << 64

    def is_trace_id_random(self) -> bool:
        return self.random


def _start_provider(
    sampler: Sampler, random_ids: bool
) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        sampler=sampler, id_generator=_CountingIds(random_ids), shutdown_on_exit=False,
        span_limits=SpanLimits(max_span_attributes=4, max_links=2, max_events=2),
    )
    provider.add_span_processor(AgentNameSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _finished(span: ReadableSpan) -> tuple[object, ...]:
    return (
        type(span).__name__, span.name, span.context, span.parent, span.kind,
        dict(span.attributes or {}), span.dropped_attributes,
        [(link.context, dict(link.attributes or {})) for link in span.links], span.dropped_links,
        [(event.name, dict(event.attributes or {})) for event in span.events],
        span.dropped_events,
        span.resource.attributes, span.instrumentation_scope, span.status.status_code,
    )


_parents = st.one_of(
    st.none(),
    st.builds(
        lambda trace_id, span_id, remote, sampled, random, state: trace.SpanContext(
            trace_id, span_id, remote,
            trace.TraceFlags((trace.TraceFlags.SAMPLED if sampled else 0) | (2 if random else 0)),
            trace.TraceState(state),
        ),
        st.integers(1, 2**128 - 1), st.integers(1, 2**64 - 1), st.booleans(), st.booleans(),
        st.booleans(), st.lists(st.tuples(st.sampled_from(["a", "vendor"]), st.just("v1")),
                                max_size=2, unique_by=lambda item: item[0]),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parent=_parents,
    sampler_name=st.sampled_from(["parentbased_always_on", "always_on"]),
    random_ids=st.booleans(),
    kind=st.sampled_from(list(trace.SpanKind)),
    attributes=st.one_of(st.none(), st.dictionaries(
        st.sampled_from(["a", "b", "c", "d", "e", "f"]),
        st.one_of(st.integers(-5, 5), st.text(max_size=3), st.booleans()), max_size=6,
    )),
    links=st.integers(0, 3),
    agent=st.one_of(st.none(), st.just("agent_a")),
    later=st.lists(st.sampled_from(["event", "exception", "link"]), max_size=4),
)
def test_span_starter_starts_the_same_span_as_the_sdk(
    parent: trace.SpanContext | None, sampler_name: str, random_ids: bool,
    kind: trace.SpanKind, attributes: dict[str, object] | None, links: int, agent: str | None,
    later: list[str],
) -> None:
    """Same ids, flags, trace state, parent, attributes, links, events (added later, over the
    limit too) and processors' view."""
    from opentelemetry.sdk.trace import sampling

    sampler = {"parentbased_always_on": sampling.DEFAULT_ON, "always_on": sampling.ALWAYS_ON}
    context = otel_context.Context()
    if parent is not None:
        context = trace.set_span_in_context(trace.NonRecordingSpan(parent), context)
    if agent is not None:
        context = otel_context.set_value(AGENT_CONTEXT_KEY, agent, context)
    link_list = [
        trace.Link(trace.SpanContext(7 + i, 9 + i, False), {"i": i}) for i in range(links)
    ]
    seen = []
    for fast in (True, False):
        provider, exporter = _start_provider(sampler[sampler_name], random_ids)
        tracer = provider.get_tracer("compat", "1.0")
        start = compat.span_starter(tracer) if fast else tracer.start_span
        assert (start != tracer.start_span) is fast  # the fast path is really taken
        span = start("step", context, kind, attributes, link_list)
        if fast and (parent is None or parent.trace_flags.sampled):  # built here, not by the SDK
            assert type(span) is compat.span_store._LEAN_SPAN_TYPE
        started = (type(span).__name__, span.is_recording(), span.get_span_context())
        for index, what in enumerate(later):
            if what == "event":
                span.add_event(f"e{index}", {"i": index})
            elif what == "exception":
                span.record_exception(ValueError(index), timestamp=1)
            else:
                span.add_link(trace.SpanContext(99, 100 + index, False), {"i": index})
        span.end()
        span.add_event("after the end")  # refused on both paths
        seen.append((started, [_finished(s) for s in exporter.get_finished_spans()]))
    assert seen[0] == seen[1]


def test_span_starter_leaves_other_samplers_and_tracers_to_the_sdk() -> None:
    from opentelemetry.sdk.trace import sampling

    for sampler in (
        sampling.ALWAYS_OFF, sampling.TraceIdRatioBased(0.5), sampling.ParentBasedTraceIdRatio(1.0),
        sampling.ParentBased(sampling.ALWAYS_OFF),
    ):
        provider, _ = _start_provider(sampler, random_ids=True)
        tracer = provider.get_tracer("compat")
        assert compat.span_starter(tracer) == tracer.start_span, sampler.get_description()
    proxy = trace.ProxyTracer("x", None)
    assert compat.span_starter(proxy) == proxy.start_span
    provider, _ = _start_provider(sampling.DEFAULT_ON, random_ids=True)
    tracer = provider.get_tracer("compat")
    with compat.use_public_fallbacks():
        assert compat.span_starter(tracer) == tracer.start_span


def test_span_starter_is_used_on_the_tested_sdk_releases() -> None:
    """CI pins both ends of the supported range; both must take the fast path. A new
    release whose start_span changed fails here: read its start_span and samplers, then add
    its shape to ``_KNOWN_START_SHAPES``."""
    assert compat.start_span_shape() in compat.span_start._KNOWN_START_SHAPES  # noqa: SLF001


def test_span_starter_follows_what_the_provider_changes_after_it_was_built() -> None:
    """A tracer configurator that disables the tracer, a merged resource, another id
    generator: each applies to spans the starter starts afterwards, as on the SDK's path."""
    from opentelemetry.sdk import trace as sdk_trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import sampling

    provider, exporter = _start_provider(sampling.DEFAULT_ON, random_ids=True)
    tracer = provider.get_tracer("compat")
    start = compat.span_starter(tracer)
    assert start != tracer.start_span

    if hasattr(provider, "_update_resource"):  # 1.45: resources detected after start-up
        provider._update_resource(Resource({"late": "yes"}))
        start("late", otel_context.Context()).end()
        assert exporter.get_finished_spans()[-1].resource.attributes["late"] == "yes"

    tracer.id_generator = _CountingIds(random=False)
    span = start("counted", otel_context.Context())
    assert span.get_span_context().span_id == 3  # the counter's second id
    span.end()

    off = sdk_trace._TracerConfig(is_enabled=False)
    provider._set_tracer_configurator(tracer_configurator=lambda scope: off)
    finished = len(exporter.get_finished_spans())
    span = start("off", otel_context.Context())
    assert not span.is_recording()
    span.end()
    assert len(exporter.get_finished_spans()) == finished


def test_lean_spans_keep_events_and_links_to_themselves() -> None:
    """Spans share one empty event list and one empty link list until their first own: an
    event added to one span never shows on another, also when threads race to add the first."""
    import threading

    from opentelemetry.sdk.trace import sampling

    provider, exporter = _start_provider(sampling.DEFAULT_ON, random_ids=True)
    tracer = provider.get_tracer("compat")
    start = compat.span_starter(tracer)
    quiet, busy = start("quiet", otel_context.Context()), start("busy", otel_context.Context())
    assert type(busy) is compat.span_store._LEAN_SPAN_TYPE  # noqa: SLF001 - the class under test
    barrier = threading.Barrier(8)

    def add() -> None:
        barrier.wait()
        for i in range(50):
            busy.add_event("e", {"i": i})
        busy.add_link(trace.SpanContext(5, 6, False))

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    busy.end()
    quiet.end()
    finished = {s.name: s for s in exporter.get_finished_spans()}
    assert len(finished["busy"].events) == 2 and finished["busy"].dropped_events == 398
    assert len(finished["busy"].links) == 2 and finished["busy"].dropped_links == 6
    assert finished["quiet"].events == () and finished["quiet"].dropped_events == 0
    assert finished["quiet"].links == () and finished["quiet"].dropped_links == 0
    later = start("later", otel_context.Context())
    later.end()
    assert exporter.get_finished_spans()[-1].events == ()


def test_span_starter_falls_back_to_the_sdk_when_its_own_work_fails(monkeypatch) -> None:
    """Fault injection: whatever breaks before the span exists, the SDK starts it instead."""
    from opentelemetry.sdk.trace import sampling

    provider, exporter = _start_provider(sampling.DEFAULT_ON, random_ids=True)
    tracer = provider.get_tracer("compat")
    start = compat.span_starter(tracer)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(compat.span_start, "_SpanContext", broken)
    span = start("fallback", otel_context.Context(), trace.SpanKind.INTERNAL, {"a": 1})
    assert type(span) is not compat.span_store._LEAN_SPAN_TYPE  # the SDK's own span
    span.end()
    (finished,) = exporter.get_finished_spans()
    assert (finished.name, dict(finished.attributes)) == ("fallback", {"a": 1})


@pytest.mark.parametrize(
    ("sampler", "argument", "expected"),
    [
        ("always_on", None, {"root", "child", "remote_sampled", "remote_unsampled"}),
        ("parentbased_always_on", None, {"root", "child", "remote_sampled"}),
        ("always_off", None, set()),
        ("parentbased_always_off", None, {"remote_sampled"}),
        ("traceidratio", "0", set()),
        ("parentbased_traceidratio", "0", {"remote_sampled"}),
        ("parentbased_traceidratio", "1", {"root", "child", "remote_sampled"}),
    ],
)
def test_every_sampler_the_environment_picks_decides_as_the_sdk_would(
    tmp_path, sampler: str, argument: str | None, expected: set[str]
) -> None:
    """End to end, in a fresh process, through the file exporter: the span starter takes the
    two samplers it knows and leaves every other to the SDK; each records what the
    OpenTelemetry specification says it records, for root spans and remote parents."""
    from conftest import file_env, read_trace_file, run_python

    traces = tmp_path / "traces.jsonl"
    env = file_env(traces, OTEL_TRACES_SAMPLER=sampler)
    if argument is not None:
        env["OTEL_TRACES_SAMPLER_ARG"] = argument
    result = run_python(
        """
        import vaquero
        remote = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-{flags}"
        with vaquero.span("root"):
            with vaquero.span("child"):
                pass
        with vaquero.span("remote_sampled", parent={"traceparent": remote.format(flags="01")}):
            pass
        with vaquero.span("remote_unsampled", parent={"traceparent": remote.format(flags="00")}):
            pass
        """,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    recorded = read_trace_file(traces) if traces.exists() else []
    assert {span["name"] for span in recorded} == expected
