"""Sessions across batches, vectorised: which persona each event counts for, and which events
open a session's presence in a bucket.

Rules (per partition, in arrival order; they never depend on where batches were cut, so a
restart that re-reads from a stored position reproduces exactly what an uninterrupted run does):

- A session is keyed by `session_id`, else `user_id`. An event more than `gap` after the newest
  event of its key starts a new session of that key.
- An event counts for the persona its session's event types *so far* point to (the types up to
  and including this event). A session that reveals itself later moves its later events, never
  the ones already counted.
- A session is active in a bucket once: its first event there (in arrival order) counts it.
  Late events (within the allowed lateness) into a bucket it already counted do not count it
  again; the state remembers the last 64 buckets of each open session for this.

- What the persona matcher reads about a session is what it did *so far*: types used (mask),
  events, resource sums, start (its earliest event time) and region (of its first event). Every
  event carries these as of itself, so classifying events never depends on the batching either.
- A session is complete (closed) when its key starts a new session, or when it expires; each
  closes exactly once, which is what learning reads.

The state between batches is a few arrays per open session (newest time, types seen as a bit
mask, counted buckets, the features above); it is stored with the partition's position in the
same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from controller.ingest import segments
from controller.ingest.columns import BoolArray, IntArray, stable_order
from controller.ingest.segments import first_of_pairs, running_max, running_or, running_sum

try:
    from controller.ingest import _segments
except ImportError:  # built without a C compiler: the numpy version does the work
    _segments = None  # type: ignore[assignment]

UIntArray = npt.NDArray[np.uint64]
ObjectArray = npt.NDArray[np.object_]

NO_TIME = np.iinfo(np.int64).min // 4
HISTORY_BUCKETS = 64
TYPE_BITS = 64
OVERFLOW_TYPE = "(more types)"
"""Beyond 63 distinct event types, the rest share one bit: a session using several of them
counts them as one type when its persona is matched."""


class TypeBits:
    """Event type name <-> bit in a session's type mask. Append-only, so masks stay valid."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._bit: dict[str, int] = {}
        self.names: list[str] = []
        for name in names:
            self.bit(name)

    def bit(self, name: str) -> int:
        found = self._bit.get(name)
        if found is not None:
            return found
        if len(self.names) >= TYPE_BITS - 1:
            return TYPE_BITS - 1
        self._bit[name] = len(self.names)
        self.names.append(name)
        return self._bit[name]

    def bits(self, names: Sequence[str]) -> IntArray:
        return np.array([self.bit(n) for n in names] or [0], dtype=np.int64)

    def names_in(self, mask: int) -> list[str]:
        found = [name for i, name in enumerate(self.names) if mask >> i & 1]
        if mask >> (TYPE_BITS - 1) & 1:
            found.append(OVERFLOW_TYPE)
        return found

    def remap(self, masks: UIntArray, names: Sequence[str]) -> UIntArray:
        """Masks written against another table of `names` (bit i = names[i]), in our bits."""
        out = np.zeros_like(masks)
        last = np.uint64(TYPE_BITS - 1)
        for i, name in enumerate(names[: TYPE_BITS - 1]):
            on = (masks >> np.uint64(i)) & np.uint64(1)
            out |= on << np.uint64(self.bit(name))
        return out | (((masks >> last) & np.uint64(1)) << last)


@dataclass(frozen=True)
class SessionSoFar:
    """What sessions (or session prefixes) did so far, one row each: the matcher's input."""

    mask: UIntArray
    """event types used"""
    events: IntArray
    resources: IntArray
    """(n, 4) sums of cpu_ms, memory_mb, network_kb, io_ops in thousandths"""
    start_ms: IntArray
    """earliest event time"""
    region: IntArray
    """index into region_names: the region of the session's first event"""
    region_names: Sequence[str]

    def __len__(self) -> int:
        return int(self.mask.shape[0])

    def take(self, which: BoolArray | IntArray) -> SessionSoFar:
        return SessionSoFar(
            self.mask[which],
            self.events[which],
            self.resources[which],
            self.start_ms[which],
            self.region[which],
            self.region_names,
        )

    @staticmethod
    def concat(parts: Sequence[SessionSoFar]) -> SessionSoFar:
        names: dict[str, int] = {}
        regions = []
        for part in parts:
            table = np.array(
                [names.setdefault(n, len(names)) for n in part.region_names] or [0], dtype=np.int64
            )
            regions.append(table[part.region] if len(part) else part.region)
        return SessionSoFar(
            np.concatenate([p.mask for p in parts] or [np.zeros(0, dtype=np.uint64)]),
            np.concatenate([p.events for p in parts] or [np.zeros(0, dtype=np.int64)]),
            np.concatenate([p.resources for p in parts] or [np.zeros((0, 4), dtype=np.int64)]),
            np.concatenate([p.start_ms for p in parts] or [np.zeros(0, dtype=np.int64)]),
            np.concatenate(regions or [np.zeros(0, dtype=np.int64)]).astype(np.int64),
            list(names),
        )


@dataclass(frozen=True)
class SessionState:
    """Open sessions of one partition, one row per key."""

    keys: ObjectArray
    last_ts: IntArray
    """newest event time of the key's current session (ms)"""
    mask: UIntArray
    """event types the current session used so far"""
    last_bucket: IntArray
    counted: UIntArray
    """bit j set: the session was counted in bucket `last_bucket - j`"""
    start_ts: IntArray
    """earliest event time of the current session (ms)"""
    events: IntArray
    resources: IntArray
    """(n, 4) resource sums of the current session, thousandths"""
    region: ObjectArray
    """region name of the current session's first event"""

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    @staticmethod
    def empty() -> SessionState:
        return SessionState(
            np.zeros(0, dtype=object),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.uint64),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.uint64),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
            np.zeros((0, 4), dtype=np.int64),
            np.zeros(0, dtype=object),
        )

    def expire(self, older_than_ms: int) -> tuple[SessionState, SessionState]:
        """(open, expired): sessions that no future accepted event can continue are closed."""
        keep = self.last_ts >= older_than_ms
        if keep.all():
            return self, SessionState.empty()
        return self._take(keep), self._take(~keep)

    def so_far(self) -> SessionSoFar:
        codes, names = pd.factorize(self.region)
        return SessionSoFar(
            self.mask,
            self.events,
            self.resources,
            self.start_ts,
            np.asarray(codes, dtype=np.int64),
            [str(n) for n in names],
        )

    def _take(self, which: BoolArray | IntArray) -> SessionState:
        return SessionState(
            self.keys[which],
            self.last_ts[which],
            self.mask[which],
            self.last_bucket[which],
            self.counted[which],
            self.start_ts[which],
            self.events[which],
            self.resources[which],
            self.region[which],
        )

    @staticmethod
    def concat(states: Sequence[SessionState]) -> SessionState:
        states = [s for s in states if len(s)]
        if not states:
            return SessionState.empty()
        if len(states) == 1:
            return states[0]
        return SessionState(
            np.concatenate([s.keys for s in states]),
            np.concatenate([s.last_ts for s in states]),
            np.concatenate([s.mask for s in states]),
            np.concatenate([s.last_bucket for s in states]),
            np.concatenate([s.counted for s in states]),
            np.concatenate([s.start_ts for s in states]),
            np.concatenate([s.events for s in states]),
            np.concatenate([s.resources for s in states]),
            np.concatenate([s.region for s in states]),
        )

    @staticmethod
    def merge(states: Sequence[SessionState]) -> SessionState:
        """One state from several (a Kinesis child shard inherits its parents' sessions).

        Where a key is open in several, the most recent session wins.
        """
        states = [s for s in states if len(s)]
        if not states:
            return SessionState.empty()
        if len(states) == 1:
            return states[0]
        joined = SessionState.concat(states)
        order = np.lexsort((-joined.last_ts, pd.factorize(joined.keys)[0]))
        keys = joined.keys[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        return joined._take(order[first])


@dataclass(frozen=True)
class Sessionized:
    masks: UIntArray
    """per event: the event types its session used up to and including it"""
    counted: BoolArray
    """per event: it is its session's first event in its bucket"""
    so_far: SessionSoFar
    """per event: its session as of this event (what the event is classified by)"""
    sessions: SessionSoFar
    """per session seen in this batch: as of its last event here"""
    session_events: IntArray
    """per session seen in this batch: the index of its last event here (into the events)"""
    session_keys: ObjectArray
    session_end_ms: IntArray
    """per session seen in this batch: its newest event time so far"""
    session_closed: BoolArray
    """per session seen in this batch: a later session of its key started in this batch"""
    replaced: SessionState
    """sessions carried in the state that a new session of their key closed in this batch"""
    state: SessionState

    @property
    def session_masks(self) -> UIntArray:
        return self.sessions.mask


def sessionize(
    ts_ms: IntArray,
    key_codes: IntArray,
    keys: Sequence[str],
    type_bits: IntArray,
    state: SessionState,
    gap_ms: int,
    bucket_ms: int,
    resources: IntArray | None = None,
    region_codes: IntArray | None = None,
    regions: Sequence[str] = (),
    compiled: bool = segments.COMPILED,
) -> Sessionized:
    """Apply the rules above to accepted events in arrival order; returns the new state.

    Where the C extension is built (`compiled`), one pass in arrival order without the GIL does
    the per-event work (`_sessionize_compiled`); the numpy code below is the reference it is
    tested against, and the fallback."""
    n = int(ts_ms.shape[0])
    if resources is None:
        resources = np.zeros((n, 4), dtype=np.int64)
    if region_codes is None:
        region_codes, regions = np.zeros(n, dtype=np.int64), ["unknown"]
    if n == 0:
        none = np.zeros(0, dtype=np.uint64)
        nothing = SessionState.empty()
        return Sessionized(
            none,
            np.zeros(0, dtype=bool),
            nothing.so_far(),
            nothing.so_far(),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=object),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=bool),
            nothing,
            state,
        )
    if compiled and _segments is not None and _fits_int64(gap_ms) and _fits_int64(bucket_ms, 1):
        return _sessionize_compiled(
            ts_ms,
            key_codes,
            keys,
            type_bits,
            state,
            int(gap_ms),
            int(bucket_ms),
            resources,
            region_codes,
            regions,
        )
    # Codes are dense (0..len(keys)-1), so ranking the present ones is a bincount, not a sort.
    present = np.flatnonzero(np.bincount(key_codes, minlength=len(keys)))
    rank = np.zeros(len(keys), dtype=np.int64)
    rank[present] = np.arange(present.shape[0])
    local = rank[key_codes]
    names = np.asarray(keys, dtype=object)[present]
    prev = pd.Index(state.keys).get_indexer(names) if len(state) else np.full(len(names), -1)
    prev = np.asarray(prev, dtype=np.int64)
    known = prev >= 0
    row = np.where(known, prev, 0)

    order = stable_order(local, present.shape[0])
    k = local[order]
    t = ts_ms[order]
    bucket = t // bucket_ms
    first = np.ones(n, dtype=bool)
    first[1:] = k[1:] != k[:-1]

    seed = np.where(known, state.last_ts[row] if len(state) else NO_TIME, NO_TIME)[k]
    newest = running_max(t, first)
    shifted = np.empty(n, dtype=np.int64)
    shifted[0] = NO_TIME
    shifted[1:] = newest[:-1]
    before = np.where(first, seed, np.maximum(shifted, seed))
    new_session = (t - before) > gap_ms

    seg_start = first | new_session
    seg = np.cumsum(seg_start) - 1
    seg_first = np.flatnonzero(seg_start)
    continues = known[k[seg_first]] & ~new_session[seg_first]
    seg_row = row[k[seg_first]]

    masks = _prefix_masks(type_bits[order], seg_start, continues, state, seg_row)
    counted = _first_in_bucket(seg, bucket, continues[seg], state, row[k])
    so_far = _prefix_features(
        t,
        seg,
        seg_start,
        seg_first,
        continues,
        seg_row,
        state,
        resources[order],
        region_codes[order],
        regions,
    )
    so_far = replace(so_far, mask=masks)

    key_last = np.empty(len(names), dtype=np.int64)
    key_last[:-1] = np.flatnonzero(first)[1:] - 1
    key_last[-1] = n - 1
    last_seg = seg[key_last]
    carried = continues[last_seg]
    last_ts = np.where(carried, np.maximum(newest[key_last], seed[key_last]), newest[key_last])
    last_bucket = last_ts // bucket_ms
    history = _history(last_bucket, bucket, k, seg == last_seg[k], carried, state, row)

    untouched = np.ones(len(state), dtype=bool)
    untouched[prev[known]] = False
    replaced_rows = prev[known & ~continues[seg[np.flatnonzero(first)]]]
    at_last = so_far.take(key_last)
    updated = SessionState(
        names,
        last_ts,
        masks[key_last],
        last_bucket,
        history,
        at_last.start_ms,
        at_last.events,
        at_last.resources,
        np.asarray(at_last.region_names, dtype=object)[at_last.region],
    )
    new_state = SessionState.concat([state._take(untouched), updated])

    seg_last = np.empty(seg_first.shape[0], dtype=np.int64)
    seg_last[:-1] = seg_first[1:] - 1
    seg_last[-1] = n - 1
    closed = np.zeros(seg_first.shape[0], dtype=bool)
    closed[:-1] = k[seg_first[1:]] == k[seg_first[:-1]]
    seg_end = np.where(continues, np.maximum(newest[seg_last], seed[seg_last]), newest[seg_last])

    unsorted_counted = np.empty(n, dtype=bool)
    unsorted_counted[order] = counted
    back = np.empty(n, dtype=np.int64)
    back[order] = np.arange(n)
    per_event = so_far.take(back)
    return Sessionized(
        per_event.mask,
        unsorted_counted,
        per_event,
        so_far.take(seg_last),
        order[seg_last],
        names[k[seg_first]],
        seg_end,
        closed,
        state._take(replaced_rows),
        new_state,
    )


def _fits_int64(value: object, low: int = -(2**63)) -> bool:
    return isinstance(value, int | np.integer) and low <= int(value) < 2**63


def _sessionize_compiled(
    ts_ms: IntArray,
    key_codes: IntArray,
    keys: Sequence[str],
    type_bits: IntArray,
    state: SessionState,
    gap_ms: int,
    bucket_ms: int,
    resources: IntArray,
    region_codes: IntArray,
    regions: Sequence[str],
) -> Sessionized:
    """`sessionize` with its per-event work in C (`_segments.sessionize`): one pass over the
    events in arrival order keeping each key's running session, so nothing is sorted. Python
    does what needs Python objects: key names to state rows, carried region names to codes,
    and the object arrays of the result."""
    n, k, r = int(ts_ms.shape[0]), len(keys), len(state)
    names = np.asarray(keys, dtype=object)
    if r:
        rows = np.asarray(pd.Index(state.keys).get_indexer(names), dtype=np.int64)
    else:
        rows = np.full(k, -1, dtype=np.int64)
    # The carried region of every key found in the state, as a code into the batch's table or,
    # when the table lacks it, len(table) + its index in `extra`; C appends to the table (in
    # key order) only the extras that a continuing session uses, as the numpy version does.
    table = list(regions)
    key_regions = np.full(k, -1, dtype=np.int64)
    extra: list[str] = []
    found = np.flatnonzero(rows >= 0)
    if found.shape[0]:
        carried = state.region[rows[found]]
        codes = np.asarray(pd.Index(table).get_indexer(carried), dtype=np.int64)
        missing = codes < 0
        if missing.any():
            more, more_names = pd.factorize(carried[missing])
            codes[missing] = len(table) + more
            extra = [str(name) for name in more_names]
        key_regions[found] = codes

    def i64(a: npt.ArrayLike) -> IntArray:
        return np.ascontiguousarray(a, dtype=np.int64)

    def u64(a: npt.ArrayLike) -> UIntArray:
        return np.ascontiguousarray(a, dtype=np.uint64)

    inputs = (
        i64(ts_ms),
        i64(key_codes),
        i64(type_bits),
        i64(resources),
        i64(region_codes),
        rows,
        key_regions,
        i64(state.last_ts),
        u64(state.mask),
        i64(state.last_bucket),
        u64(state.counted),
        i64(state.start_ts),
        i64(state.events),
        i64(state.resources),
    )
    e = np.empty
    mask, counted = e(n, dtype=np.uint64), e(n, dtype=np.bool_)
    events, sums, start, region = (
        e(n, np.int64),
        e((n, 4), np.int64),
        e(n, np.int64),
        e(n, np.int64),
    )
    s_event, s_key, s_end, s_closed = e(n, np.int64), e(n, np.int64), e(n, np.int64), e(n, np.bool_)
    s_mask, s_events, s_sums = e(n, np.uint64), e(n, np.int64), e((n, 4), np.int64)
    s_start, s_region = e(n, np.int64), e(n, np.int64)
    k_key, k_last_ts, k_mask, k_last_bucket = (
        e(k, np.int64),
        e(k, np.int64),
        e(k, np.uint64),
        e(k, np.int64),
    )
    k_history, k_start, k_events = e(k, np.uint64), e(k, np.int64), e(k, np.int64)
    k_sums, k_region = e((k, 4), np.int64), e(k, np.int64)
    keep, replaced_rows, extra_order = e(r, np.bool_), e(k, np.int64), e(len(extra), np.int64)
    outputs = (
        mask,
        counted,
        events,
        sums,
        start,
        region,
        s_event,
        s_key,
        s_end,
        s_closed,
        s_mask,
        s_events,
        s_sums,
        s_start,
        s_region,
        k_key,
        k_last_ts,
        k_mask,
        k_last_bucket,
        k_history,
        k_start,
        k_events,
        k_sums,
        k_region,
        keep,
        replaced_rows,
        extra_order,
    )
    assert _segments is not None
    s, p, n_replaced, n_extra = _segments.sessionize(
        inputs, outputs, gap_ms, bucket_ms, len(table), len(extra)
    )
    if n_extra:
        table = [*table, *(extra[i] for i in extra_order[:n_extra].tolist())]
    per_event = SessionSoFar(mask, events, sums, start, region, table)
    updated = SessionState(
        names[k_key[:p]],
        k_last_ts[:p],
        k_mask[:p],
        k_last_bucket[:p],
        k_history[:p],
        k_start[:p],
        k_events[:p],
        k_sums[:p],
        np.asarray(table, dtype=object)[k_region[:p]],
    )
    return Sessionized(
        mask,
        counted,
        per_event,
        SessionSoFar(s_mask[:s], s_events[:s], s_sums[:s], s_start[:s], s_region[:s], table),
        s_event[:s],
        names[s_key[:s]],
        s_end[:s],
        s_closed[:s],
        state._take(replaced_rows[:n_replaced]),
        SessionState.concat([state._take(keep), updated]),
    )


def _prefix_features(
    t: IntArray,
    seg: IntArray,
    seg_start: BoolArray,
    seg_first: IntArray,
    continues: BoolArray,
    seg_row: IntArray,
    state: SessionState,
    resources: IntArray,
    region_codes: IntArray,
    regions: Sequence[str],
) -> SessionSoFar:
    """Events, resource sums, start and region of each event's session up to and including it
    (sorted order), continuing the carried session where the segment continues one."""
    n = t.shape[0]
    sums = running_sum(resources, seg_start)
    count = np.arange(1, n + 1, dtype=np.int64) - seg_first[seg]
    # running minimum per segment in one pass: each later segment is shifted below all earlier
    # ones, so the minimum restarts at every segment boundary
    span = int(t.max()) - int(t.min()) + 1
    if span * (int(seg[-1]) + 1) < 2**62:
        start = np.minimum.accumulate(t - seg * span) + seg * span
    else:  # years of events in one batch (a whole file): the shift would overflow
        start = pd.Series(t).groupby(seg, sort=False).cummin().to_numpy(dtype=np.int64)
    seg_region = region_codes[seg_first].astype(np.int64)
    table = list(regions)
    if len(state) and continues.any():
        rows = seg_row[continues]
        carried_sums = np.zeros((seg_first.shape[0], 4), dtype=np.int64)
        carried_sums[continues] = state.resources[rows]
        sums = sums + carried_sums[seg]
        carried_count = np.zeros(seg_first.shape[0], dtype=np.int64)
        carried_count[continues] = state.events[rows]
        count = count + carried_count[seg]
        carried_start = np.full(seg_first.shape[0], np.iinfo(np.int64).max, dtype=np.int64)
        carried_start[continues] = state.start_ts[rows]
        start = np.minimum(start, carried_start[seg])
        carried = state.region[rows]
        codes = np.asarray(pd.Index(table).get_indexer(carried), dtype=np.int64)
        missing = codes < 0
        if missing.any():
            extra, names = pd.factorize(carried[missing])
            codes[missing] = len(table) + extra
            table = [*table, *(str(n) for n in names)]
        seg_region[continues] = codes
    return SessionSoFar(np.zeros(n, dtype=np.uint64), count, sums, start, seg_region[seg], table)


def _prefix_masks(
    bits: IntArray,
    seg_start: BoolArray,
    continues: BoolArray,
    state: SessionState,
    seg_row: IntArray,
) -> UIntArray:
    """Cumulative OR of type bits within each segment, starting from the carried mask."""
    initial = np.zeros(continues.shape[0], dtype=np.uint64)
    if len(state):
        initial[continues] = state.mask[seg_row[continues]]
    return running_or(bits, seg_start, initial)


def _first_in_bucket(
    seg: IntArray, bucket: IntArray, continues: BoolArray, state: SessionState, rows: IntArray
) -> BoolArray:
    counted = first_of_pairs(seg, bucket)
    if len(state) and continues.any():
        behind = state.last_bucket[rows] - bucket
        shift = np.clip(behind, 0, HISTORY_BUCKETS - 1).astype(np.uint64)
        recorded = ((state.counted[rows] >> shift) & np.uint64(1)).astype(bool)
        already = continues & ((behind >= HISTORY_BUCKETS) | ((behind >= 0) & recorded))
        counted &= ~already
    return counted


def _history(
    last_bucket: IntArray,
    bucket: IntArray,
    k: IntArray,
    in_last: BoolArray,
    carried: BoolArray,
    state: SessionState,
    row: IntArray,
) -> UIntArray:
    """Counted-bucket bits of each key's current session after this batch."""
    history = np.zeros(last_bucket.shape[0], dtype=np.uint64)
    if len(state) and carried.any():
        shift = last_bucket[carried] - state.last_bucket[row[carried]]
        old = state.counted[row[carried]]
        history[carried] = np.where(
            shift < HISTORY_BUCKETS,
            old << np.clip(shift, 0, HISTORY_BUCKETS - 1).astype(np.uint64),
            np.uint64(0),
        )
    keys = k[in_last]
    behind = last_bucket[keys] - bucket[in_last]
    near = (behind >= 0) & (behind < HISTORY_BUCKETS)
    np.bitwise_or.at(history, keys[near], np.uint64(1) << behind[near].astype(np.uint64))
    return history
