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

The state between batches is a few arrays per open session (newest time, types seen as a bit
mask, counted buckets); it is stored with the partition's position in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from controller.ingest.columns import BoolArray, IntArray

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
        )

    def expire(self, older_than_ms: int) -> SessionState:
        """Drop sessions that no future accepted event can continue."""
        keep = self.last_ts >= older_than_ms
        if keep.all():
            return self
        return self._take(keep)

    def _take(self, which: BoolArray | IntArray) -> SessionState:
        return SessionState(
            self.keys[which],
            self.last_ts[which],
            self.mask[which],
            self.last_bucket[which],
            self.counted[which],
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
        joined = SessionState(
            np.concatenate([s.keys for s in states]),
            np.concatenate([s.last_ts for s in states]),
            np.concatenate([s.mask for s in states]),
            np.concatenate([s.last_bucket for s in states]),
            np.concatenate([s.counted for s in states]),
        )
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
    session_masks: UIntArray
    """per session seen in this batch: its type mask at its last event here"""
    state: SessionState


def sessionize(
    ts_ms: IntArray,
    key_codes: IntArray,
    keys: Sequence[str],
    type_bits: IntArray,
    state: SessionState,
    gap_ms: int,
    bucket_ms: int,
) -> Sessionized:
    """Apply the rules above to accepted events in arrival order; returns the new state."""
    n = int(ts_ms.shape[0])
    if n == 0:
        none = np.zeros(0, dtype=np.uint64)
        return Sessionized(none, np.zeros(0, dtype=bool), none, state)
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

    order = np.argsort(local, kind="stable")
    k = local[order]
    t = ts_ms[order]
    bucket = t // bucket_ms
    first = np.ones(n, dtype=bool)
    first[1:] = k[1:] != k[:-1]

    seed = np.where(known, state.last_ts[row] if len(state) else NO_TIME, NO_TIME)[k]
    newest = pd.Series(t).groupby(k, sort=False).cummax().to_numpy(dtype=np.int64)
    shifted = np.empty(n, dtype=np.int64)
    shifted[0] = NO_TIME
    shifted[1:] = newest[:-1]
    before = np.where(first, seed, np.maximum(shifted, seed))
    new_session = (t - before) > gap_ms

    seg_start = first | new_session
    seg = np.cumsum(seg_start) - 1
    seg_first = np.flatnonzero(seg_start)
    continues = known[k[seg_first]] & ~new_session[seg_first]

    masks = _prefix_masks(type_bits[order], seg, seg_first, continues, state, row[k[seg_first]])
    counted = _first_in_bucket(seg, bucket, continues[seg], state, row[k])

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
    updated = SessionState(names, last_ts, masks[key_last], last_bucket, history)
    rest = state._take(untouched)
    new_state = SessionState(
        np.concatenate([rest.keys, updated.keys]),
        np.concatenate([rest.last_ts, updated.last_ts]),
        np.concatenate([rest.mask, updated.mask]),
        np.concatenate([rest.last_bucket, updated.last_bucket]),
        np.concatenate([rest.counted, updated.counted]),
    )
    unsorted_masks = np.empty(n, dtype=np.uint64)
    unsorted_masks[order] = masks
    unsorted_counted = np.empty(n, dtype=bool)
    unsorted_counted[order] = counted
    seg_last = np.empty(seg_first.shape[0], dtype=np.int64)
    seg_last[:-1] = seg_first[1:] - 1
    seg_last[-1] = n - 1
    return Sessionized(unsorted_masks, unsorted_counted, masks[seg_last], new_state)


def _prefix_masks(
    bits: IntArray,
    seg: IntArray,
    seg_first: IntArray,
    continues: BoolArray,
    state: SessionState,
    seg_row: IntArray,
) -> UIntArray:
    """Cumulative OR of type bits within each segment, starting from the carried mask."""
    initial = np.zeros(seg_first.shape[0], dtype=np.uint64)
    if len(state):
        initial[continues] = state.mask[seg_row[continues]]
    masks = initial[seg]
    for bit in np.unique(bits):
        has = (bits == bit).astype(np.int64)
        seen = np.cumsum(has)
        before_segment = (seen - has)[seg_first]
        on = (seen - before_segment[seg]) > 0
        masks |= on.astype(np.uint64) << np.uint64(bit)
    return masks


def _first_in_bucket(
    seg: IntArray, bucket: IntArray, continues: BoolArray, state: SessionState, rows: IntArray
) -> BoolArray:
    low = int(bucket.min())
    span = int(bucket.max()) - low + 1
    counted: BoolArray = ~np.asarray(
        pd.Index(seg * span + (bucket - low)).duplicated(keep="first"), dtype=bool
    )
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
