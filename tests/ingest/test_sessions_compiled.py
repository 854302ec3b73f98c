"""The sessionizer's one-pass C version gives exactly the numpy version's answers: every field,
dtype and row order, whatever the batch and the carried state."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from controller.ingest import segments
from controller.ingest.sessions import (
    NO_TIME,
    Sessionized,
    SessionSoFar,
    SessionState,
    sessionize,
)

KEYS = [f"k{i}" for i in range(7)]
REGIONS = ["us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"]
SECOND = 1_000


def test_the_compiled_sessionizer_is_built() -> None:
    # CI builds it; the comparisons below would otherwise compare numpy with itself
    assert segments.COMPILED
    assert segments._segments is not None and hasattr(segments._segments, "sessionize")


def assert_same(a: object, b: object, where: str = "") -> None:
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype, (where, a.dtype, b.dtype)
        assert a.shape == b.shape, (where, a.shape, b.shape)
        assert np.array_equal(a, b), (where, a, b)
    elif isinstance(a, Sessionized | SessionSoFar | SessionState):
        assert type(a) is type(b), where
        for f in fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    else:
        assert list(a) == list(b), (where, a, b)  # type: ignore[call-overload]


@st.composite
def batches(draw: st.DrawFn, clock: list[int], bucket: int) -> dict[str, object]:
    """One batch: keys from a small pool (in a random code order, some listed but absent),
    times drifting forward with late events (some right at the 64 remembered buckets) and gaps
    beyond the session gap."""
    n = draw(st.integers(1, 60))
    names = draw(st.permutations(KEYS))[: draw(st.integers(1, len(KEYS)))]
    used = draw(st.integers(1, len(names)))  # codes >= used are listed but never occur
    regions = draw(st.permutations(REGIONS))[: draw(st.integers(1, len(REGIONS)))]
    ts, codes, bits, region_codes, use = [], [], [], [], []
    for _ in range(n):
        clock[0] += draw(st.sampled_from([0, 1, SECOND, 20 * SECOND, 70 * SECOND, 3_600 * SECOND]))
        late = draw(
            st.sampled_from(
                [
                    *(0, 0, 0, -1, -30 * SECOND, -180 * SECOND, -5_400 * SECOND),
                    *(-63 * bucket, -64 * bucket, -65 * bucket),
                ]
            )
        )
        ts.append(clock[0] + late)
        codes.append(draw(st.integers(0, used - 1)))
        bits.append(draw(st.sampled_from([0, 1, 2, 5, 62, 63])))
        region_codes.append(draw(st.integers(0, len(regions) - 1)))
        use.append(draw(st.lists(st.integers(-(2**40), 2**40), min_size=4, max_size=4)))
    return {
        "ts_ms": np.array(ts, dtype=np.int64),
        "key_codes": np.array(codes, dtype=np.int64),
        "keys": names,
        "type_bits": np.array(bits, dtype=np.int64),
        "resources": np.array(use, dtype=np.int64).reshape(n, 4),
        "region_codes": np.array(region_codes, dtype=np.int64),
        "regions": regions,
    }


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[dict[str, object]], int, int, list[int | None]]:
    """Several batches in a row (so keys are carried), and where to expire sessions between."""
    clock = [draw(st.sampled_from([0, -7_200 * SECOND, 1_700_000_000_000]))]
    bucket = draw(st.sampled_from([SECOND, 60 * SECOND]))
    steps = [draw(batches(clock, bucket)) for _ in range(draw(st.integers(1, 5)))]
    gap = draw(st.sampled_from([0, 30 * SECOND, 60 * SECOND, 1_800 * SECOND, 10**9]))
    expire = [draw(st.sampled_from([None, 600 * SECOND, 3_600 * SECOND])) for _ in steps]
    return steps, bucket, gap, expire


@settings(max_examples=500, deadline=None)
@given(runs(), st.booleans())
def test_the_compiled_sessionizer_equals_the_numpy_one_field_by_field(
    run: tuple[list[dict[str, object]], int, int, list[int | None]], no_resources: bool
) -> None:
    steps, bucket, gap, expire = run
    state = SessionState.empty()
    for batch, horizon in zip(steps, expire, strict=True):
        if no_resources:
            batch = {**batch, "resources": None, "region_codes": None, "regions": ()}
        fast = sessionize(state=state, gap_ms=gap, bucket_ms=bucket, compiled=True, **batch)  # type: ignore[arg-type]
        reference = sessionize(state=state, gap_ms=gap, bucket_ms=bucket, compiled=False, **batch)  # type: ignore[arg-type]
        assert_same(fast, reference, "sessionized")
        present = len(set(reference.session_keys.tolist()))
        known = len(state) - (len(reference.state) - present)
        event(f"continued a carried session: {known > len(reference.replaced)}")
        event(f"replaced a carried session: {len(reference.replaced) > 0}")
        event(f"closed a session in the batch: {bool(reference.session_closed.any())}")
        event(
            f"carried a region the batch lacks: {len(reference.so_far.region_names) > len(batch['regions'] or ['unknown'])}"
        )  # type: ignore[arg-type]
        state = reference.state
        if horizon is not None:
            ts = batch["ts_ms"]
            assert isinstance(ts, np.ndarray)
            state, _ = state.expire(int(ts.max()) - horizon)


def test_an_empty_batch_and_a_batch_of_one_agree() -> None:
    for n in (0, 1):
        args = {
            "ts_ms": np.arange(n, dtype=np.int64),
            "key_codes": np.zeros(n, dtype=np.int64),
            "keys": ["k"],
            "type_bits": np.full(n, 63, dtype=np.int64),
            "state": SessionState.empty(),
            "gap_ms": 10,
            "bucket_ms": 5,
        }
        assert_same(sessionize(**args, compiled=True), sessionize(**args, compiled=False))  # type: ignore[arg-type]


def _c_call(
    n: int = 3, keys: int = 2, rows: int = 2, extras: int = 0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Arrays of the right sizes for `_segments.sessionize` (see sessions._sessionize_compiled)."""
    i, u = np.int64, np.uint64
    inputs = [
        np.arange(n, dtype=i),
        np.zeros(n, dtype=i),
        np.zeros(n, dtype=i),
        np.zeros((n, 4), dtype=i),
        np.zeros(n, dtype=i),
        np.full(keys, -1, dtype=i),
        np.full(keys, -1, dtype=i),
        np.full(rows, NO_TIME, dtype=i),
        np.zeros(rows, dtype=u),
        np.zeros(rows, dtype=i),
        np.zeros(rows, dtype=u),
        np.zeros(rows, dtype=i),
        np.zeros(rows, dtype=i),
        np.zeros((rows, 4), dtype=i),
    ]
    per_event = [(n, u), (n, np.bool_), (n, i), ((n, 4), i), (n, i), (n, i)]
    per_session = [(n, i), (n, i), (n, i), (n, np.bool_), (n, u), (n, i), ((n, 4), i), (n, i)]
    per_session.append((n, i))
    per_key = [(keys, i), (keys, i), (keys, u), (keys, i), (keys, u), (keys, i), (keys, i)]
    per_key += [((keys, 4), i), (keys, i)]
    rest = [(rows, np.bool_), (keys, i), (extras, i)]
    outputs = [np.zeros(shape, dtype=t) for shape, t in per_event + per_session + per_key + rest]
    return inputs, outputs


def _call(inputs: list[np.ndarray], outputs: list[np.ndarray], regions: int = 1) -> object:
    assert segments._segments is not None
    return segments._segments.sessionize(tuple(inputs), tuple(outputs), 10, 5, regions, 0)


def test_a_bad_call_to_the_compiled_sessionizer_is_refused_not_read_past_its_arrays() -> None:
    inputs, outputs = _c_call()
    assert _call(inputs, outputs) == (1, 1, 0, 0)  # the well-formed call works

    cases: list[tuple[int, object, str]] = [
        (1, np.array([0, 2, 0]), "key_codes"),  # a key code beyond the keys
        (1, np.array([0, -1, 0]), "key_codes"),
        (5, np.array([0, 2]), "key_rows"),  # a state row beyond the state
        (5, np.array([-2, 0]), "key_rows"),
        (4, np.array([0, 7, 0]), "region_codes"),  # a region beyond the batch's table
        (2, np.array([0, 64, 0]), "type_bits"),
        (2, np.array([-1, 0, 0]), "type_bits"),
        (6, np.array([0, 0]), "key_regions"),  # a carried region beyond table and extras
    ]
    for index, value, message in cases:
        bad, out = _c_call()
        bad[index] = np.asarray(value, dtype=np.int64)
        if message == "key_regions":
            bad[5] = np.array([0, -1], dtype=np.int64)  # key 0 continues state row 0
            bad[7][0] = 0
            bad[6] = np.array([1, -1], dtype=np.int64)  # code 1 with 1 region and no extras
        with pytest.raises(ValueError, match=message):
            _call(bad, out)

    for index in range(len(inputs)):  # every input one element short
        bad, out = _c_call()
        bad[index] = bad[index].reshape(-1)[:-1].copy()
        with pytest.raises(ValueError):
            _call(bad, out)
    for index in range(len(outputs) - 1):  # every output one element short
        bad, out = _c_call()
        out[index] = out[index].reshape(-1)[:-1].copy()
        with pytest.raises(ValueError):
            _call(bad, out)
    with pytest.raises(ValueError, match="bucket_ms"):
        assert segments._segments is not None
        segments._segments.sessionize(tuple(inputs), tuple(outputs), 10, 0, 1, 0)
    with pytest.raises(ValueError, match="inputs"):
        assert segments._segments is not None
        segments._segments.sessionize(tuple(inputs[:-1]), tuple(outputs), 10, 5, 1, 0)
