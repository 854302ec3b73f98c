"""The sessionizer's running scans: the one-pass C versions give the numpy versions' answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.ingest import segments
from controller.ingest.segments import first_of_pairs, running_max, running_or, running_sum


@st.composite
def segmented(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 200))
    starts = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    starts[0] = True
    values = np.array(
        draw(st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n)), dtype=np.int64
    )
    return starts, values


def test_the_compiled_scans_are_built() -> None:
    assert segments.COMPILED  # CI builds them; the comparisons below would compare numpy to itself


@settings(max_examples=200, deadline=None)
@given(segmented())
def test_running_max_restarts_at_each_segment(case: tuple[np.ndarray, np.ndarray]) -> None:
    starts, values = case
    c, reference = running_max(values, starts), running_max(values, starts, compiled=False)
    assert np.array_equal(c, reference)
    assert c[0] == values[0]


@settings(max_examples=200, deadline=None)
@given(segmented(), st.data())
def test_running_or_starts_from_each_segments_initial_mask(
    case: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    starts, values = case
    bits = np.abs(values) % 64
    initial = np.array(
        data.draw(
            st.lists(
                st.integers(0, 2**64 - 1), min_size=int(starts.sum()), max_size=int(starts.sum())
            )
        ),
        dtype=np.uint64,
    )
    assert np.array_equal(
        running_or(bits, starts, initial), running_or(bits, starts, initial, compiled=False)
    )


@settings(max_examples=200, deadline=None)
@given(segmented())
def test_running_sum_adds_each_column_within_its_segment(
    case: tuple[np.ndarray, np.ndarray],
) -> None:
    starts, values = case
    table = np.stack([values, values // 3, -values, values % 7], axis=1)
    assert np.array_equal(running_sum(table, starts), running_sum(table, starts, compiled=False))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(-5, 5)), max_size=200))
def test_first_of_pairs_marks_each_pairs_first_row(pairs: list[tuple[int, int]]) -> None:
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    expected = [pair not in pairs[:i] for i, pair in enumerate(pairs)]
    assert first_of_pairs(a, b).tolist() == expected
    assert first_of_pairs(a, b, compiled=False).tolist() == expected


def test_a_bad_call_is_refused_not_read_past_its_arrays() -> None:
    starts = np.ones(4, dtype=bool)
    with pytest.raises(ValueError, match="one value per segment"):
        running_or(np.zeros(4, dtype=np.int64), starts, np.zeros(2, dtype=np.uint64))
    with pytest.raises(ValueError, match=r"0\.\.63"):
        running_or(np.full(4, 64, dtype=np.int64), starts, np.zeros(4, dtype=np.uint64))
