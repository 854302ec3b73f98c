"""Reading stored metrics back as regular series, gaps as NaN."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Engine, and_, func, select

from controller.adapters.storage.db import coverage, from_epoch, metrics, to_epoch
from controller.domain.series import Series


class MetricStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def events_per_bucket(
        self, persona: str, start: datetime, end: datetime, bucket: timedelta
    ) -> Series:
        """Events in each stored bucket of [start, end) for `persona`, all regions.

        A bucket inside a covered stretch of the stream with no rows is a real zero; a bucket
        the stream never covered is NaN.
        """
        size = int(bucket.total_seconds())
        first, stop = to_epoch(start), to_epoch(end)
        count = max(0, (stop - first) // size)
        values = np.full(count, np.nan)
        with self.engine.connect() as conn:
            for span_start, span_end in conn.execute(
                select(coverage.c.start, coverage.c.end).where(
                    and_(coverage.c.end >= first, coverage.c.start < stop)
                )
            ):
                lo = max(0, (int(span_start) - first) // size)
                hi = min(count, (int(span_end) - first) // size + 1)
                values[lo:hi] = 0.0
            rows = conn.execute(
                select(metrics.c.bucket, func.sum(metrics.c.events))
                .where(
                    and_(
                        metrics.c.persona == persona,
                        metrics.c.bucket >= first,
                        metrics.c.bucket < stop,
                    )
                )
                .group_by(metrics.c.bucket)
            )
            for bucket_start, events in rows:
                index = (int(bucket_start) - first) // size
                values[index] = (0.0 if np.isnan(values[index]) else values[index]) + float(events)
        return Series(persona, start, bucket, values)

    def cpu_seconds_per_bucket(
        self, persona: str, start: datetime, end: datetime, bucket: timedelta
    ) -> Series:
        """CPU-seconds the persona's events used in each bucket of [start, end), all regions.

        Same gap rules as `events_per_bucket`: covered buckets without rows are zero, buckets
        the stream never covered are NaN.
        """
        covered = self.events_per_bucket(persona, start, end, bucket)
        values = np.where(np.isnan(covered.values), np.nan, 0.0)
        size = int(bucket.total_seconds())
        first, stop = to_epoch(start), to_epoch(end)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(metrics.c.bucket, func.sum(metrics.c.cpu_ms))
                .where(
                    and_(
                        metrics.c.persona == persona,
                        metrics.c.bucket >= first,
                        metrics.c.bucket < stop,
                    )
                )
                .group_by(metrics.c.bucket)
            )
            for bucket_start, cpu_ms in rows:
                index = (int(bucket_start) - first) // size
                if 0 <= index < len(values):
                    values[index] = float(cpu_ms) / 1000.0
        return Series(persona, start, bucket, values)

    def personas_seen(self) -> list[str]:
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(select(metrics.c.persona).distinct())]

    def rows(self) -> Iterator[dict[str, object]]:
        """Every stored bucket, oldest first (for export)."""
        query = select(metrics).order_by(metrics.c.bucket, metrics.c.persona, metrics.c.region)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                record = dict(row._mapping)
                record["bucket"] = from_epoch(int(row.bucket)).isoformat().replace("+00:00", "Z")
                yield record


def sessions_per_bucket(
    store: MetricStore, persona: str, start: datetime, end: datetime, bucket: timedelta
) -> Series:
    """Active sessions (distinct sessions with an event) in each bucket of [start, end).

    Same gap rules as `MetricStore.events_per_bucket`: covered buckets without rows are zero,
    buckets the stream never covered are NaN.
    """
    events = store.events_per_bucket(persona, start, end, bucket)
    values = np.where(np.isnan(events.values), np.nan, 0.0)
    size = int(bucket.total_seconds())
    first, stop = to_epoch(start), to_epoch(end)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(metrics.c.bucket, func.sum(metrics.c.sessions))
            .where(
                and_(
                    metrics.c.persona == persona,
                    metrics.c.bucket >= first,
                    metrics.c.bucket < stop,
                )
            )
            .group_by(metrics.c.bucket)
        )
        for bucket_start, sessions in rows:
            index = (int(bucket_start) - first) // size
            if 0 <= index < len(values):
                values[index] = float(sessions)
    return Series(persona, start, bucket, values)
