"""Stream time: which events are too late, or absurdly far ahead, for one partition.

The watermark of a partition is the newest event time accepted from it so far. An event older
than `watermark - allowed_lateness` is too late: its bucket may already have been forecast from,
so it goes to the dead letters instead of quietly changing history. An event more than
`max_ahead` beyond the stream's own time is a broken clock, not the future; a replay of old
history is fine, because the reference is the stream, never the wall clock.

The reference for "ahead" is the later of the watermark and the batch's median time, so the
first events of a brand-new partition are judged against their neighbours rather than trusted
blindly. Everything else depends only on arrival order, never on where batches were cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.ingest.columns import BoolArray, IntArray

NO_WATERMARK = np.iinfo(np.int64).min // 4


@dataclass(frozen=True)
class Screened:
    accepted: BoolArray
    too_late: BoolArray
    too_far_ahead: BoolArray
    stream_ms: IntArray
    """per event: the partition's watermark just before it"""
    watermark_ms: int | None
    """the partition's watermark after these events (None while it has none)"""
    reference_ms: int | None
    """the stream time "ahead" was judged against"""


def screen(
    ts_ms: IntArray, watermark_ms: int | None, allowed_lateness_ms: int, max_ahead_ms: int
) -> Screened:
    n = ts_ms.shape[0]
    if n == 0:
        empty = np.zeros(0, dtype=bool)
        return Screened(
            empty, empty, empty, np.zeros(0, dtype=np.int64), watermark_ms, watermark_ms
        )
    reference = int(np.median(ts_ms))
    if watermark_ms is not None:
        reference = max(reference, watermark_ms)
    ahead = ts_ms > reference + max_ahead_ms
    start = NO_WATERMARK if watermark_ms is None else watermark_ms
    considered = np.where(ahead, NO_WATERMARK, ts_ms)
    running = np.maximum.accumulate(np.maximum(considered, start))
    before = np.empty(n, dtype=np.int64)
    before[0] = start
    before[1:] = running[:-1]
    late = ~ahead & (before != NO_WATERMARK) & (ts_ms < before - allowed_lateness_ms)
    accepted = ~ahead & ~late
    newest = int(running[-1])
    return Screened(
        accepted=accepted,
        too_late=late,
        too_far_ahead=ahead,
        stream_ms=before,
        watermark_ms=None if newest == NO_WATERMARK else newest,
        reference_ms=reference,
    )
