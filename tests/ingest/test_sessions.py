"""Sessions, lateness and aggregation are the same whatever the batching (property tests)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.ingest.aggregate import aggregate, covered_spans
from controller.ingest.columns import EventColumns
from controller.ingest.matching import AccessTypeMatcher, SessionClassifier
from controller.ingest.partition import PartitionState, StreamRules, advance
from controller.ingest.sessions import SessionState, TypeBits

BUCKET = 60_000
MATCHER = AccessTypeMatcher(
    {"shopper": ["browse", "search", "buy"], "publisher": ["upload", "edit"], "api": ["api"]}
)
TYPES = ["browse", "search", "buy", "upload", "edit", "api", "weird"]


@dataclass(frozen=True)
class Ev:
    ts: int
    key: str
    type: str
    region: str = "us-east-1"
    cpu: int = 1000


def columns(events: Sequence[Ev], first_record: int = 0) -> EventColumns:
    keys = sorted({e.key for e in events})
    types = sorted({e.type for e in events})
    regions = sorted({e.region for e in events})
    return EventColumns(
        ts_ms=np.array([e.ts for e in events], dtype=np.int64),
        key_codes=np.array([keys.index(e.key) for e in events], dtype=np.int64),
        keys=keys,
        type_codes=np.array([types.index(e.type) for e in events], dtype=np.int64),
        types=types,
        region_codes=np.array([regions.index(e.region) for e in events], dtype=np.int64),
        regions=regions,
        resources=np.array([[e.cpu, 0, 0, 0] for e in events], dtype=np.int64).reshape(-1, 4),
        records=np.arange(first_record, first_record + len(events), dtype=np.int64),
    )


def rules(gap: int, lateness: int) -> StreamRules:
    return StreamRules(
        bucket_ms=BUCKET,
        session_gap_ms=gap,
        allowed_lateness_ms=lateness,
        max_ahead_ms=10**15,
        max_silence_ms=10 * BUCKET,
    )


def reference(
    events: Sequence[Ev], gap: int, lateness: int
) -> tuple[Counter[tuple[int, str, str]], int]:
    """The rules of controller.ingest.sessions, one event at a time, no batching."""
    totals: Counter[tuple[int, str, str]] = Counter()
    open_sessions: dict[str, tuple[int, set[str], set[int]]] = {}
    watermark: int | None = None
    late = 0
    for e in events:
        if watermark is not None and e.ts < watermark - lateness:
            late += 1
            continue
        watermark = e.ts if watermark is None else max(watermark, e.ts)
        last, used, counted = open_sessions.get(e.key, (None, set(), set()))
        if last is None or e.ts - last > gap:
            last, used, counted = e.ts, set(), set()
        used.add(e.type)
        persona = MATCHER.match(used)
        bucket = e.ts // BUCKET
        totals[(bucket, persona, "events")] += 1
        if bucket not in counted:
            totals[(bucket, persona, "sessions")] += 1
            counted.add(bucket)
        open_sessions[e.key] = (max(last, e.ts), used, counted)
    return totals, late


def batched(
    events: Sequence[Ev], cuts: Sequence[int], gap: int, lateness: int
) -> tuple[Counter[tuple[int, str, str]], int]:
    classifier = SessionClassifier(MATCHER, TypeBits())
    state = PartitionState()
    totals: Counter[tuple[int, str, str]] = Counter()
    late = 0
    bounds = [0, *sorted(set(cuts)), len(events)]
    for a, b in pairwise(bounds):
        if a >= b:
            continue
        step = advance(columns(events[a:b], a), state, rules(gap, lateness), classifier)
        state = step.state
        late += len(step.too_late)
        result = aggregate(
            step.events, step.persona_codes, classifier.personas, step.counted, BUCKET
        )
        rows = result.buckets
        for i in range(len(rows)):
            bucket = int(rows.bucket_s[i]) * 1000 // BUCKET
            totals[(bucket, rows.persona[i], "events")] += int(rows.events[i])
            totals[(bucket, rows.persona[i], "sessions")] += int(rows.sessions[i])
    return +totals, late


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Ev], list[int]]:
    n = draw(st.integers(1, 120))
    keys = [f"u{i}" for i in range(draw(st.integers(1, 6)))]
    t = 1_700_000_000_000
    events = []
    for _ in range(n):
        t += draw(st.sampled_from([0, 1_000, 20_000, 70_000, 5 * BUCKET, 40 * BUCKET]))
        jitter = draw(st.sampled_from([0, 0, 0, -30_000, -3 * BUCKET, -90 * BUCKET]))
        events.append(Ev(t + jitter, draw(st.sampled_from(keys)), draw(st.sampled_from(TYPES))))
    cuts = draw(st.lists(st.integers(0, n), max_size=8))
    return events, cuts


@settings(max_examples=300, deadline=None)
@given(
    streams(), st.sampled_from([10 * BUCKET, 30 * BUCKET]), st.sampled_from([0, BUCKET, 5 * BUCKET])
)
def test_batched_sessions_equal_the_one_event_at_a_time_rules_whatever_the_cuts(
    stream: tuple[list[Ev], list[int]], gap: int, lateness: int
) -> None:
    events, cuts = stream
    assert batched(events, cuts, gap, lateness) == reference(events, gap, lateness)


def test_a_user_without_a_session_id_starts_a_new_session_after_the_inactivity_gap() -> None:
    gap = 30 * BUCKET
    events = [
        Ev(0, "u:alice", "browse"),
        Ev(29 * BUCKET, "u:alice", "browse"),  # 29 min later: same session
        Ev(29 * BUCKET + gap + 1, "u:alice", "browse"),  # more than 30 min of silence: new one
    ]
    totals, _ = batched(events, [1, 2], gap, 0)
    assert sum(v for (_, _, what), v in totals.items() if what == "sessions") == 3
    step = advance(
        columns(events), PartitionState(), rules(gap, 0), SessionClassifier(MATCHER, TypeBits())
    )
    assert step.counted.tolist() == [True, True, True]


def test_a_session_counts_once_per_bucket_even_across_batches() -> None:
    events = [Ev(1_000, "s:x", "browse"), Ev(2_000, "s:x", "search"), Ev(3_000, "s:x", "buy")]
    totals, _ = batched(events, [1, 2], 30 * BUCKET, 0)
    assert totals == Counter({(0, "shopper", "events"): 3, (0, "shopper", "sessions"): 1})


def test_later_events_follow_the_persona_the_session_reveals_and_earlier_ones_stay() -> None:
    events = [Ev(0, "s:x", "weird"), Ev(BUCKET, "s:x", "upload"), Ev(2 * BUCKET, "s:x", "edit")]
    totals, _ = batched(events, [1], 30 * BUCKET, 0)
    assert totals[(0, "unmatched", "events")] == 1
    assert totals[(1, "publisher", "events")] == 1
    assert totals[(2, "publisher", "events")] == 1


def test_an_event_later_than_the_allowed_lateness_is_set_aside_and_one_within_it_counts() -> None:
    events = [
        Ev(10 * BUCKET, "u:a", "browse"),
        Ev(8 * BUCKET, "u:b", "browse"),  # 2 min late: within 5 min
        Ev(2 * BUCKET, "u:c", "browse"),  # 8 min late: too late
    ]
    step = advance(
        columns(events),
        PartitionState(),
        rules(30 * BUCKET, 5 * BUCKET),
        SessionClassifier(MATCHER, TypeBits()),
    )
    assert step.too_late.tolist() == [2]
    assert sorted(step.events.ts_ms.tolist()) == [8 * BUCKET, 10 * BUCKET]
    assert step.state.watermark_ms == 10 * BUCKET


def test_an_event_days_ahead_of_the_stream_is_set_aside_but_an_old_replay_is_not() -> None:
    day = 86_400_000
    old = 1_000_000_000_000  # 2001: replaying history is legitimate
    events = [Ev(old + i * 1000, "u:a", "browse") for i in range(5)]
    events.insert(2, Ev(old + 3 * day, "u:a", "browse"))
    r = StreamRules(BUCKET, 30 * BUCKET, 5 * BUCKET, day, 10 * BUCKET)
    step = advance(columns(events), PartitionState(), r, SessionClassifier(MATCHER, TypeBits()))
    assert step.too_far_ahead.tolist() == [2]
    assert len(step.events) == 5
    assert step.state.watermark_ms == old + 4000


def test_expired_sessions_leave_the_state_and_open_ones_stay() -> None:
    events = [Ev(0, "u:old", "browse"), Ev(100 * BUCKET, "u:new", "browse")]
    step = advance(
        columns(events),
        PartitionState(),
        rules(30 * BUCKET, 5 * BUCKET),
        SessionClassifier(MATCHER, TypeBits()),
    )
    assert step.state.sessions.keys.tolist() == ["u:new"]


def test_merged_states_keep_the_most_recent_session_of_a_key() -> None:
    a = SessionState(
        np.array(["k", "only-a"], dtype=object),
        np.array([10, 5]),
        np.array([1, 1], dtype=np.uint64),
        np.array([0, 0]),
        np.array([1, 1], dtype=np.uint64),
    )
    b = SessionState(
        np.array(["k"], dtype=object),
        np.array([20]),
        np.array([2], dtype=np.uint64),
        np.array([0]),
        np.array([1], dtype=np.uint64),
    )
    merged = SessionState.merge([a, b])
    found = dict(zip(merged.keys.tolist(), merged.last_ts.tolist(), strict=True))
    assert found == {"k": 20, "only-a": 5}


def test_type_masks_survive_a_different_bit_table() -> None:
    theirs = TypeBits(["edit", "browse"])
    ours = TypeBits(["browse"])
    mask = np.array([0b11, 0b10], dtype=np.uint64)
    remapped = ours.remap(mask, theirs.names)
    assert [sorted(ours.names_in(int(m))) for m in remapped] == [["browse", "edit"], ["browse"]]


def test_silence_longer_than_max_silence_splits_coverage() -> None:
    ts = np.array([0, 60_000, 2_000_000, 2_060_000], dtype=np.int64)
    assert covered_spans(ts, 600_000, None) == [(0, 60_000), (2_000_000, 2_060_000)]
    assert covered_spans(ts[2:], 600_000, 1_900_000) == [(1_900_000, 2_060_000)]
