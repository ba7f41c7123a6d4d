"""Small things a user notices in the output (issue 20 item 8): plurals, sub-millisecond
durations, names cut at a word boundary, what the report marks red."""

from __future__ import annotations

import re
from pathlib import Path

from _otlp_builder import span, write
from hypothesis import given, settings
from hypothesis import strategies as st

from vaquero.analysis import analyze
from vaquero.analysis._html import HIGH_STEP_ERROR_RATE, render_html
from vaquero.analysis._text import render_text
from vaquero.analysis._words import count, cut, ms


def test_counts_are_singular_for_one():
    assert count(1, "workflow") == "1 workflow"
    assert count(0, "workflow") == "0 workflows"
    assert count(1200, "span") == "1,200 spans"


@given(st.floats(min_value=0.001, max_value=0.999))
def test_a_sub_millisecond_value_never_reads_zero(value: float):
    assert float(ms(round(value, 3))) > 0


def test_milliseconds_keep_one_decimal_from_one_up():
    assert [ms(v) for v in (0, 0.042, 1, 1234.56)] == ["0.0", "0.042", "1.0", "1,234.6"]


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("abc_/ .-xyz\n"), max_size=80),
       st.integers(min_value=4, max_value=40))
def test_a_cut_name_fits_is_a_prefix_and_ends_at_a_break_when_it_can(text: str, width: int):
    shown = cut(text, width)
    flat = text.replace("\n", " ")
    assert len(shown) <= width
    if len(flat) <= width:
        assert shown == flat
        return
    assert shown.endswith("…") and flat.startswith(shown[:-1])
    head = flat[: width - 1]
    breaks = [i for i, c in enumerate(head) if c in " /_.-:" and i + 1 >= (width - 1) // 2]
    if breaks:  # cut right after the last separator in the second half
        assert shown[:-1] == head[: breaks[-1] + 1].rstrip()


def test_a_long_step_name_is_cut_between_words():
    assert cut("UserRegistrationWorkflow.validate_address", 34) == "UserRegistrationWorkflow.…"
    assert cut("register user workflow and notify everyone", 34) == "register user workflow and…"
    assert cut("EventDrivenWorkflow.start_workflow_loop", 30) == "EventDrivenWorkflow.start_…"
    assert cut("averyveryverylongsinglewordwithoutbreaks", 10) == "averyvery…"  # no break


def _one_workflow(tmp_path: Path, failing_steps: int) -> Path:
    traces = []
    for n in range(10):
        bad = n < failing_steps
        traces.append([
            span(n + 1, 1, None, "checkout", 0, 10, agent="shop", invoke=True,
                 error="ValueError" if bad else None),
            span(n + 1, 2, 1, "charge", 1, 1.042, agent="shop",
                 error="ValueError" if bad else None),
        ])
    return write(tmp_path / "t.jsonl", *traces)


def test_the_text_says_one_workflow_and_shows_sub_millisecond_steps(tmp_path: Path):
    result = analyze(_one_workflow(tmp_path, 0))
    text = render_text(result, "t.jsonl")
    assert text.splitlines()[0] == ("t.jsonl: 20 spans read, 0 malformed lines skipped, "
                                    "1 workflow")
    (charge,) = [line for line in text.splitlines() if line.strip().startswith("charge")]
    assert "0.042" in charge and " 0.0 " not in charge


def test_the_report_marks_a_high_step_error_rate_and_never_a_zero(tmp_path: Path):
    result = analyze(_one_workflow(tmp_path, 5))  # half the runs fail in charge
    page = render_html(result, "t.jsonl")
    assert HIGH_STEP_ERROR_RATE == 0.2
    assert re.search(r'<td class="bad" data-v="0.5">50.0%</td>', page)  # charge's error rate
    assert "tr.bad td{" not in page  # a bad row no longer paints every cell
    row = re.search(r'<tr class="bad" data-workflow="checkout">(.*?)</tr>', page).group(1)
    incomplete = re.findall(r"<td[^>]*>[^<]*</td>", row)[-1]
    assert incomplete == '<td data-v="0">0</td>'
    calm = render_html(analyze(_one_workflow(tmp_path, 1)), "t.jsonl")  # 10%: not marked
    assert 'class="bad" data-v="0.1"' not in calm
