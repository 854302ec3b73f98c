"""What the matcher reads about a session: plain numpy arrays, one row per session.

Builders here know nothing about how sessions were made; `counts_from_type_masks` bridges the
ingest step's per-session event-type bit masks (bit i = the i-th name of its type table).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

RESOURCES = ("cpu_ms", "memory_mb", "network_kb", "io_ops")
HOURS_PER_WEEK = 168
UNKNOWN_REGION = -1


@dataclass(frozen=True)
class Vocabulary:
    """Event types and regions the model has a slot for; anything else falls in an 'other' slot."""

    event_types: tuple[str, ...]
    regions: tuple[str, ...]

    @staticmethod
    def covering(
        access_types: Iterable[Iterable[str]], regions: Iterable[Iterable[str]]
    ) -> Vocabulary:
        types = sorted({t for group in access_types for t in group})
        places = sorted({r for group in regions for r in group})
        return Vocabulary(tuple(types), tuple(places))

    def region_index(self, names: Sequence[str | None]) -> IntArray:
        lookup = {name: i for i, name in enumerate(self.regions)}
        return np.array(
            [lookup.get(n, UNKNOWN_REGION) if n else UNKNOWN_REGION for n in names], dtype=np.int64
        )

    def type_counts(self, per_session: Sequence[Sequence[str]]) -> FloatArray:
        """(n, V+1) counts; the last column counts types outside the vocabulary."""
        lookup = {name: i for i, name in enumerate(self.event_types)}
        other = len(self.event_types)
        out = np.zeros((len(per_session), other + 1), dtype=np.float64)
        for row, types in enumerate(per_session):
            for name in types:
                out[row, lookup.get(name, other)] += 1.0
        return out


@dataclass(frozen=True)
class SessionFeatures:
    type_counts: FloatArray
    """(n, V+1): events of each vocabulary type; last column = types outside the vocabulary.
    With `type_rows`, (D, V+1): the distinct type mixes, and type_rows[i] is session i's row"""
    resource_per_event: FloatArray
    """(n, 4): mean cpu_ms, memory_mb, network_kb, io_ops per event of the session"""
    hour_of_week: IntArray
    """(n,): UTC hour of week of the session start, Monday 00:00 = 0"""
    region: IntArray
    """(n,): index into Vocabulary.regions, -1 when absent or unknown"""
    start_s: FloatArray | None = None
    """(n,) epoch seconds of the start; only needed for one-off peaks (a dated sale)"""
    type_rows: IntArray | None = None
    """(n,) row of `type_counts` per session: sessions share few type mixes, so scoring the
    type part once per distinct mix saves most of its cost on a stream"""

    def __len__(self) -> int:
        return int(self.hour_of_week.shape[0])

    def counts(self) -> FloatArray:
        """(n, V+1) type counts per session."""
        if self.type_rows is None:
            return self.type_counts
        return self.type_counts[self.type_rows]

    def events(self) -> FloatArray:
        """(n,) events (type counts summed) per session."""
        per_row: FloatArray = np.asarray(self.type_counts.sum(axis=1), dtype=np.float64)
        return per_row if self.type_rows is None else per_row[self.type_rows]

    def take(self, which: IntArray | npt.NDArray[np.bool_]) -> SessionFeatures:
        rows = None if self.type_rows is None else self.type_rows[which]
        return SessionFeatures(
            self.type_counts if rows is not None else self.type_counts[which],
            self.resource_per_event[which],
            self.hour_of_week[which],
            self.region[which],
            None if self.start_s is None else self.start_s[which],
            rows,
        )


def hour_of_week(epoch_s: FloatArray | IntArray) -> IntArray:
    """UTC hour of week, Monday 00:00 = 0 (1970-01-01 was a Thursday: 72 hours in)."""
    hours = np.floor_divide(np.asarray(epoch_s, dtype=np.float64), 3600.0).astype(np.int64)
    return np.asarray((hours + 72) % HOURS_PER_WEEK, dtype=np.int64)


def counts_from_type_masks(
    masks: npt.NDArray[np.uint64], bit_names: Sequence[str], vocabulary: Vocabulary
) -> FloatArray:
    """Per-session presence (0/1) of each vocabulary type from event-type bit masks.

    A mask says which types a session used, not how often, so each used type counts once; the
    multinomial likelihood then scores the set of types, which is what the masks can tell.
    """
    lookup = {name: i for i, name in enumerate(vocabulary.event_types)}
    other = len(vocabulary.event_types)
    out = np.zeros((masks.shape[0], other + 1), dtype=np.float64)
    for bit, name in enumerate(bit_names[:64]):
        on = ((masks >> np.uint64(bit)) & np.uint64(1)).astype(np.float64)
        out[:, lookup.get(name, other)] += on
    return out
