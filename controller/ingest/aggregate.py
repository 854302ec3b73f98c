"""Classified events -> one row per (bucket, persona, region), and per event type.

Group-bys are numpy sorts and integer sums, never a Python object per event. Every figure is an
integer (counts, resource use in thousandths), so adding batches in any order gives the same
totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from controller.ingest.columns import BoolArray, EventColumns, IntArray, stable_order


@dataclass(frozen=True)
class BucketRows:
    """One row per (bucket, persona, region); bucket starts in Unix seconds."""

    bucket_s: IntArray
    persona: list[str]
    region: list[str]
    events: IntArray
    sessions: IntArray
    resources: IntArray
    """shape (rows, 4), thousandths of cpu_ms, memory_mb, network_kb, io_ops"""
    unusual_sessions: IntArray
    """sessions counted here that were, as of that event, matched with unusual resource use"""

    def __len__(self) -> int:
        return int(self.bucket_s.shape[0])


@dataclass(frozen=True)
class TypeRows:
    """Events per (bucket, persona, region, event type)."""

    bucket_s: IntArray
    persona: list[str]
    region: list[str]
    event_type: list[str]
    events: IntArray

    def __len__(self) -> int:
        return int(self.bucket_s.shape[0])


@dataclass(frozen=True)
class Aggregate:
    buckets: BucketRows
    types: TypeRows

    @property
    def events(self) -> int:
        return int(self.buckets.events.sum())


def aggregate(
    events: EventColumns,
    persona_codes: IntArray,
    personas: Sequence[str],
    counted: BoolArray,
    bucket_ms: int,
    unusual: BoolArray | None = None,
) -> Aggregate:
    """Sum events, sessions and resources per (bucket, persona, region) and per event type.

    `unusual` (per event) marks sessions matched with unusual resource use; a session counts
    as unusual in a bucket when the event that counts it there is marked."""
    bucket = events.ts_ms // bucket_ms
    n = bucket.shape[0]
    if n == 0:
        return Aggregate(_no_buckets(), _no_types())
    low = int(bucket.min())
    n_personas, n_regions, n_types = (
        len(personas),
        max(1, len(events.regions)),
        max(1, len(events.types)),
    )
    group = ((bucket - low) * n_personas + persona_codes) * n_regions + events.region_codes
    keys, inverse = np.unique(group, return_inverse=True)
    counts = np.bincount(inverse, minlength=keys.shape[0]).astype(np.int64)
    order = stable_order(inverse, keys.shape[0])
    starts = np.zeros(keys.shape[0], dtype=np.int64)
    starts[1:] = np.cumsum(counts)[:-1]
    resources = np.add.reduceat(events.resources[order], starts, axis=0)
    sessions = np.add.reduceat(counted[order].astype(np.int64), starts)
    odd = counted if unusual is None else counted & unusual
    unusual_sessions = (
        np.add.reduceat(odd[order].astype(np.int64), starts)
        if unusual is not None
        else np.zeros(keys.shape[0], dtype=np.int64)
    )
    region = keys % n_regions
    persona = (keys // n_regions) % n_personas
    bucket_start = (keys // (n_regions * n_personas) + low) * bucket_ms // 1000
    buckets = BucketRows(
        bucket_s=bucket_start.astype(np.int64),
        persona=[personas[i] for i in persona],
        region=[events.regions[i] for i in region],
        events=counts,
        sessions=sessions.astype(np.int64),
        resources=resources.astype(np.int64),
        unusual_sessions=unusual_sessions.astype(np.int64),
    )

    typed, type_counts = np.unique(group * n_types + events.type_codes, return_counts=True)
    type_group = typed // n_types
    types = TypeRows(
        bucket_s=((type_group // (n_regions * n_personas) + low) * bucket_ms // 1000).astype(
            np.int64
        ),
        persona=[personas[i] for i in (type_group // n_regions) % n_personas],
        region=[events.regions[i] for i in type_group % n_regions],
        event_type=[events.types[i] for i in typed % n_types],
        events=type_counts.astype(np.int64),
    )
    return Aggregate(buckets, types)


def covered_spans(
    ts_ms: IntArray, max_silence_ms: int, previous_ms: int | None
) -> list[tuple[int, int]]:
    """Stretches (ms) in which the stream was demonstrably live: events no more than
    `max_silence` apart. Buckets outside every stretch are gaps, not zeros."""
    if ts_ms.shape[0] == 0:
        return []
    ordered = ts_ms if bool((np.diff(ts_ms) >= 0).all()) else np.sort(ts_ms)
    if previous_ms is not None and ordered[0] - previous_ms <= max_silence_ms:
        ordered = np.sort(np.concatenate([[previous_ms], ordered]))
    breaks = np.flatnonzero(np.diff(ordered) > max_silence_ms)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [ordered.shape[0] - 1]])
    return [(int(ordered[a]), int(ordered[b])) for a, b in zip(starts, ends, strict=True)]


def _no_buckets() -> BucketRows:
    none = np.zeros(0, dtype=np.int64)
    return BucketRows(none, [], [], none, none, np.zeros((0, 4), dtype=np.int64), none)


def _no_types() -> TypeRows:
    none = np.zeros(0, dtype=np.int64)
    return TypeRows(none, [], [], [], none)
