"""Sessions, matching, lateness and aggregation are the same whatever the batching (property
tests against a one-event-at-a-time reference)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.adapters.persona_files import load_persona_directory
from controller.ingest.aggregate import aggregate, covered_spans
from controller.ingest.columns import EventColumns
from controller.ingest.matching import SessionClassifier
from controller.ingest.partition import PartitionState, StreamRules, advance
from controller.ingest.sessions import SessionState, TypeBits
from controller.matching.features import SessionFeatures, hour_of_week
from controller.matching.model import PersonaMatcher
from tests.helpers import ROOT

BUCKET = 60_000
MATCHER = PersonaMatcher.from_personas(
    [f.persona for f in load_persona_directory(ROOT / "personas")]
)
SHOPPER, PUBLISHER = "peak-hour-shopper", "content-publisher"
TYPES = ["browse", "search", "purchase", "upload", "edit", "api_read", "weird"]
# per event, thousandths: the shopper's declared profile (cpu_ms, memory_mb, network_kb, io_ops)
SHOPPING = (50_000, 64_000, 250_000, 5_000)
PUBLISHING = (200_000, 256_000, 1_250_000, 40_000)
ODD = (1, 1, 1, 1)


def classifier() -> SessionClassifier:
    return SessionClassifier(MATCHER, TypeBits())


@dataclass(frozen=True)
class Ev:
    ts: int
    key: str
    type: str
    region: str = "us-east-1"
    use: tuple[int, int, int, int] = SHOPPING


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
        resources=np.array([e.use for e in events], dtype=np.int64).reshape(-1, 4),
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
    """The rules of controller.ingest.sessions, one event at a time, no batching: each event is
    classified by its session so far (types used, resource use per event, start, region)."""
    open_sessions: dict[str, _Open] = {}
    watermark: int | None = None
    late = 0
    rows: list[tuple[int, bool, _Open]] = []
    for e in events:
        if watermark is not None and e.ts < watermark - lateness:
            late += 1
            continue
        watermark = e.ts if watermark is None else max(watermark, e.ts)
        session = open_sessions.get(e.key)
        if session is None or e.ts - session.last > gap:
            session = _Open(e.ts, e.ts, e.region)
        session.last = max(session.last, e.ts)
        session.start = min(session.start, e.ts)
        session.used.add(e.type)
        session.events += 1
        session.use = [a + b for a, b in zip(session.use, e.use, strict=True)]
        bucket = e.ts // BUCKET
        first = bucket not in session.counted
        session.counted.add(bucket)
        open_sessions[e.key] = session
        rows.append((bucket, first, session.copy()))
    if not rows:
        return Counter(), late
    features = SessionFeatures(
        MATCHER.vocabulary.type_counts([sorted(s.used) for _, _, s in rows]),
        np.array([[u / (1000.0 * s.events) for u in s.use] for _, _, s in rows]),
        hour_of_week(np.array([s.start / 1000.0 for _, _, s in rows])),
        MATCHER.vocabulary.region_index([s.region for _, _, s in rows]),
    )
    codes, _ = MATCHER.classify(features)
    totals: Counter[tuple[int, str, str]] = Counter()
    for (bucket, first, _), code in zip(rows, codes.tolist(), strict=True):
        persona = MATCHER.personas[code]
        totals[(bucket, persona, "events")] += 1
        if first:
            totals[(bucket, persona, "sessions")] += 1
    return totals, late


@dataclass
class _Open:
    start: int
    last: int
    region: str
    events: int = 0
    used: set[str] = field(default_factory=set)
    use: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    counted: set[int] = field(default_factory=set)

    def copy(self) -> _Open:
        return _Open(
            self.start, self.last, self.region, self.events, set(self.used), list(self.use)
        )


def batched(
    events: Sequence[Ev], cuts: Sequence[int], gap: int, lateness: int
) -> tuple[Counter[tuple[int, str, str]], int]:
    matching = classifier()
    state = PartitionState()
    totals: Counter[tuple[int, str, str]] = Counter()
    late = 0
    bounds = [0, *sorted(set(cuts)), len(events)]
    for a, b in pairwise(bounds):
        if a >= b:
            continue
        step = advance(columns(events[a:b], a), state, rules(gap, lateness), matching)
        state = step.state
        late += len(step.too_late)
        result = aggregate(step.events, step.persona_codes, matching.personas, step.counted, BUCKET)
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
        events.append(
            Ev(
                t + jitter,
                draw(st.sampled_from(keys)),
                draw(st.sampled_from(TYPES)),
                draw(st.sampled_from(["us-east-1", "eu-west-1", "ap-south-1"])),
                draw(st.sampled_from([SHOPPING, PUBLISHING, ODD])),
            )
        )
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
    step = advance(columns(events), PartitionState(), rules(gap, 0), classifier())
    assert step.counted.tolist() == [True, True, True]


def test_a_session_counts_once_per_bucket_even_across_batches() -> None:
    events = [
        Ev(1_000, "s:x", "browse"),
        Ev(2_000, "s:x", "search"),
        Ev(3_000, "s:x", "purchase"),
    ]
    totals, _ = batched(events, [1, 2], 30 * BUCKET, 0)
    assert totals == Counter({(0, SHOPPER, "events"): 3, (0, SHOPPER, "sessions"): 1})


def test_later_events_follow_the_persona_the_session_reveals_and_earlier_ones_stay() -> None:
    events = [
        Ev(0, "s:x", "weird", use=ODD),
        Ev(BUCKET, "s:x", "upload", use=PUBLISHING),
        Ev(2 * BUCKET, "s:x", "edit", use=PUBLISHING),
        Ev(3 * BUCKET, "s:x", "publish", use=PUBLISHING),
    ]
    totals, _ = batched(events, [1], 30 * BUCKET, 0)
    assert totals[(0, "unmatched", "events")] == 1
    assert totals[(3, PUBLISHER, "events")] == 1


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
        classifier(),
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
    step = advance(columns(events), PartitionState(), r, classifier())
    assert step.too_far_ahead.tolist() == [2]
    assert len(step.events) == 5
    assert step.state.watermark_ms == old + 4000


def test_expired_sessions_leave_the_state_and_open_ones_stay() -> None:
    events = [Ev(0, "u:old", "browse"), Ev(100 * BUCKET, "u:new", "browse")]
    step = advance(
        columns(events),
        PartitionState(),
        rules(30 * BUCKET, 5 * BUCKET),
        classifier(),
    )
    assert step.state.sessions.keys.tolist() == ["u:new"]


def test_merged_states_keep_the_most_recent_session_of_a_key() -> None:
    a = _state(["k", "only-a"], [10, 5])
    b = _state(["k"], [20])
    merged = SessionState.merge([a, b])
    found = dict(zip(merged.keys.tolist(), merged.last_ts.tolist(), strict=True))
    assert found == {"k": 20, "only-a": 5}


def _state(keys: list[str], last: list[int]) -> SessionState:
    n = len(keys)
    return SessionState(
        np.array(keys, dtype=object),
        np.array(last, dtype=np.int64),
        np.ones(n, dtype=np.uint64),
        np.zeros(n, dtype=np.int64),
        np.ones(n, dtype=np.uint64),
        np.array(last, dtype=np.int64),
        np.ones(n, dtype=np.int64),
        np.zeros((n, 4), dtype=np.int64),
        np.array(["us-east-1"] * n, dtype=object),
    )


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


def test_what_the_matcher_reads_about_open_sessions_survives_the_stored_blob() -> None:
    from controller.adapters.storage.session_blob import decode_sessions, encode_sessions

    events = [
        Ev(0, "s:x", "browse", "eu-west-1", SHOPPING),
        Ev(30_000, "s:x", "search", "us-east-1", PUBLISHING),
        Ev(10_000, "u:y", "upload", "us-east-1", PUBLISHING),
    ]
    ours = classifier()
    state = advance(columns(events), PartitionState(), rules(30 * BUCKET, 0), ours).state
    theirs = TypeBits(["upload", "search", "browse"])
    stored = encode_sessions(state.sessions, ours.bits)
    back = decode_sessions(stored, theirs)

    def seen(s: SessionState, bits: TypeBits) -> list[tuple[object, ...]]:
        return sorted(
            (
                key,
                sorted(bits.names_in(int(s.mask[i]))),
                int(s.start_ts[i]),
                int(s.events[i]),
                s.resources[i].tolist(),
                s.region[i],
            )
            for i, key in enumerate(s.keys.tolist())
        )

    assert seen(back, theirs) == seen(state.sessions, ours.bits)
    assert seen(back, theirs)[0] == (
        "s:x",
        ["browse", "search"],
        0,
        2,
        [a + b for a, b in zip(SHOPPING, PUBLISHING, strict=True)],
        "eu-west-1",
    )
