"""A batch of decoded events as columns (numpy), the shape the ingestion math works on.

Strings that repeat (session keys, event types, regions) arrive as integer codes into small
tables of names, so the math never touches a Python object per event. Resource use is kept in
integer thousandths of its unit: sums of integers are exact whatever the batching, which is what
lets a restarted ingester reproduce the totals of an uninterrupted one bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

RESOURCES = ("cpu_ms", "memory_mb", "network_kb", "io_ops")
MILLI = 1000
"""Resource values are stored in thousandths of their unit."""
UNKNOWN_REGION = "unknown"


@dataclass(frozen=True)
class EventColumns:
    """`n` events in arrival order. Codes index into the name tables beside them."""

    ts_ms: IntArray
    """event time, Unix milliseconds (UTC)"""
    key_codes: IntArray
    keys: Sequence[str]
    """session keys: 's:<session_id>', else 'u:<user_id>'"""
    type_codes: IntArray
    types: Sequence[str]
    region_codes: IntArray
    regions: Sequence[str]
    resources: IntArray
    """shape (n, 4): cpu_ms, memory_mb, network_kb, io_ops in thousandths"""
    records: IntArray
    """index of each event's record in the chunk it came from"""

    def __len__(self) -> int:
        return int(self.ts_ms.shape[0])

    def take(self, which: IntArray | BoolArray) -> EventColumns:
        """The events selected by a boolean mask or an index array, name tables unchanged."""
        return EventColumns(
            ts_ms=self.ts_ms[which],
            key_codes=self.key_codes[which],
            keys=self.keys,
            type_codes=self.type_codes[which],
            types=self.types,
            region_codes=self.region_codes[which],
            regions=self.regions,
            resources=self.resources[which],
            records=self.records[which],
        )

    @staticmethod
    def empty() -> EventColumns:
        none = np.zeros(0, dtype=np.int64)
        return EventColumns(
            none, none, (), none, (), none, (), np.zeros((0, 4), dtype=np.int64), none
        )


def concat(parts: Sequence[EventColumns]) -> EventColumns:
    """One batch from several, re-coding names into shared tables."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return EventColumns.empty()
    if len(parts) == 1:
        return parts[0]
    keys, key_codes = _merge_codes([(p.keys, p.key_codes) for p in parts])
    types, type_codes = _merge_codes([(p.types, p.type_codes) for p in parts])
    regions, region_codes = _merge_codes([(p.regions, p.region_codes) for p in parts])
    return EventColumns(
        ts_ms=np.concatenate([p.ts_ms for p in parts]),
        key_codes=key_codes,
        keys=keys,
        type_codes=type_codes,
        types=types,
        region_codes=region_codes,
        regions=regions,
        resources=np.concatenate([p.resources for p in parts]),
        records=np.concatenate([p.records for p in parts]),
    )


def _merge_codes(
    tables: Sequence[tuple[Sequence[str], IntArray]],
) -> tuple[list[str], IntArray]:
    names: list[str] = []
    index: dict[str, int] = {}
    recoded = []
    for table, codes in tables:
        mapping = np.array(
            [index.setdefault(name, len(index)) for name in table] or [0], dtype=np.int64
        )
        recoded.append(mapping[codes])
    names = list(index)
    return names, np.concatenate(recoded)


def stable_order(codes: IntArray, distinct: int) -> IntArray:
    """Indices that sort `codes` (each in 0..distinct-1), ties in their original order.

    numpy sorts 16-bit integers stably by radix sort, ten times faster than the merge sort it
    uses for wider ones (measured on 50,000 codes), so codes that fit are sorted as such."""
    if distinct <= 1 << 16:
        return np.argsort(codes.astype(np.uint16), kind="stable")
    return np.argsort(codes, kind="stable")
