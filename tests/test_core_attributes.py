"""Every rule of vaquero._attributes, one test each (the module docstring lists them)."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid
from decimal import Decimal
from pathlib import PurePosixPath

import pydantic
import pytest

from vaquero import _attributes
from vaquero._attributes import normalize_attributes, to_attribute_key, to_attribute_value


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: list[int]


class Model(pydantic.BaseModel):
    name: str
    tags: set[str]


class Broken:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.parametrize("value", ["text", True, False, 0, -5, 2**63 - 1, 1.5, ["a", "b"],
                                   [True], [1, 2], [1.0, 2.5], []])
def test_native_values_pass_through_unchanged(value):
    assert to_attribute_value(value) == value
    assert type(to_attribute_value(value)) is type(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2**63, str(2**63)),
        (-(2**63) - 1, str(-(2**63) - 1)),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (None, "null"),
        ({"b": 1, "a": None}, '{"b":1,"a":null}'),
        ({1: "x", (2, 3): "y"}, '{"1":"x","(2, 3)":"y"}'),
        ((1, 2), "[1,2]"),
        ([1, "a"], '[1,"a"]'),
        ([True, 1], "[true,1]"),
        ([1, 2**70], '[1,"' + str(2**70) + '"]'),
        ([1.0, float("nan")], '[1.0,"NaN"]'),
        ({3, 1, 2}, "[1,2,3]"),
        (frozenset({"b", "a"}), '["a","b"]'),
        (b"bytes", "bytes"),
        (b"\xff\x00", "\\xff\x00"),
        (Color.RED, "red"),
        (Point(1, [2]), '{"x":1,"y":[2]}'),
        (Model(name="m", tags={"z", "a"}), None),
        (datetime.date(2026, 1, 2), "2026-01-02"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (Decimal("1.10"), "1.10"),
        (PurePosixPath("/tmp/x"), "/tmp/x"),
        ([None], "[null]"),
    ],
)
def test_converted_values(value, expected):
    result = to_attribute_value(value)
    if expected is None:  # pydantic: model_dump(mode="json") order of a set is not ours
        assert json.loads(result)["name"] == "m"
        assert sorted(json.loads(result)["tags"]) == ["a", "z"]
    else:
        assert result == expected


def test_conversion_is_deterministic_for_sets_of_mixed_types():
    assert to_attribute_value({"b", 1, None}) == to_attribute_value({None, "b", 1})


def test_arbitrary_objects_use_repr_and_a_raising_repr_gives_a_placeholder():
    class Plain:
        def __repr__(self) -> str:
            return "Plain()"

    assert to_attribute_value(Plain()) == "Plain()"
    assert to_attribute_value(Broken()) == "<unrepresentable Broken>"
    assert to_attribute_value({"k": Broken()}) == '{"k":"<unrepresentable Broken>"}'


def test_cycles_and_deep_nesting_are_cut():
    loop: list = [1]
    loop.append(loop)
    assert to_attribute_value(loop) == '[1,"<cycle>"]'
    deep: list = []
    current = deep
    for _ in range(200):
        nxt: list = []
        current.append(nxt)
        current = nxt
    result = to_attribute_value(deep)
    assert "<max depth>" in result
    assert result.count("[") == _attributes.MAX_DEPTH


def test_shared_references_are_not_mistaken_for_cycles():
    shared = [1]
    assert to_attribute_value([shared, shared]) == "[[1],[1]]"


def test_long_containers_keep_the_first_thousand_items():
    original = _attributes.max_length()
    try:
        _attributes.set_max_length(1_000_000)  # so the item cap, not the length, decides
        result = json.loads(to_attribute_value([1, "a"] * 3000))
    finally:
        _attributes.set_max_length(original)
    assert len(result) == _attributes.MAX_ITEMS + 1 and result[-1] == "…"
    # a homogeneous head is a native array of the kept items (only the head is examined)
    assert to_attribute_value(list(range(5000)) + ["mixed"]) == list(range(1000))


def test_strings_are_truncated_with_a_marker_and_bounded():
    original = _attributes.max_length()
    try:
        _attributes.set_max_length(100)
        result = to_attribute_value("x" * 5_000_000)
        assert len(result) <= 100
        kept = result.index("…")
        assert result[:kept] == "x" * kept and kept >= 70
        assert result[kept:] == f"…[truncated {5_000_000 - kept} chars]"
        assert len(to_attribute_value({"big": "y" * 10_000})) <= 100
        assert all(len(item) <= 100 for item in to_attribute_value(["z" * 500, "ok"]))
    finally:
        _attributes.set_max_length(original)


def test_keys_are_converted():
    assert to_attribute_key(5) == "5"
    assert to_attribute_key("") == "_"
    assert to_attribute_key(Broken()) == "<unrepresentable Broken>"
    assert normalize_attributes({1: 2, "": None}) == {"1": 2, "_": "null"}


def test_normalize_survives_a_mapping_whose_iteration_raises():
    class Exploding(dict):
        def items(self):
            raise RuntimeError("boom")

    assert normalize_attributes(Exploding(a=1)) == {}
