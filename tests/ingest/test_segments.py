"""The numpy sessionizer's running scans give what a plain loop over the rows gives."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

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


def by_loop(starts: np.ndarray, rows: list[object], step: object, first: object) -> list[object]:
    """Each row's running value: `first(row, segment)` where a segment begins, else
    `step(previous, row)`."""
    out: list[object] = []
    segment = -1
    for i, row in enumerate(rows):
        if starts[i]:
            segment += 1
            out.append(first(row, segment))  # type: ignore[operator]
        else:
            out.append(step(out[-1], row))  # type: ignore[operator]
    return out


@settings(max_examples=200, deadline=None)
@given(segmented())
def test_running_max_restarts_at_each_segment(case: tuple[np.ndarray, np.ndarray]) -> None:
    starts, values = case
    expected = by_loop(starts, values.tolist(), max, lambda v, _: v)
    assert running_max(values, starts).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(segmented(), st.data())
def test_running_or_starts_from_each_segments_initial_mask(
    case: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    starts, values = case
    bits = np.abs(values) % 64
    count = int(starts.sum())
    initial = data.draw(st.lists(st.integers(0, 2**64 - 1), min_size=count, max_size=count))
    expected = by_loop(
        starts, bits.tolist(), lambda m, b: m | 1 << b, lambda b, s: initial[s] | 1 << b
    )
    assert running_or(bits, starts, np.array(initial, dtype=np.uint64)).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(segmented())
def test_running_sum_adds_each_column_within_its_segment(
    case: tuple[np.ndarray, np.ndarray],
) -> None:
    starts, values = case
    table = np.stack([values, values // 3, -values, values % 7], axis=1)
    expected = by_loop(
        starts,
        table.tolist(),
        lambda acc, row: [x + y for x, y in zip(acc, row, strict=True)],
        lambda r, _: r,
    )
    assert running_sum(table, starts).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(-5, 5)), max_size=200))
def test_first_of_pairs_marks_each_pairs_first_row(pairs: list[tuple[int, int]]) -> None:
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    expected = [pair not in pairs[:i] for i, pair in enumerate(pairs)]
    assert first_of_pairs(a, b).tolist() == expected
