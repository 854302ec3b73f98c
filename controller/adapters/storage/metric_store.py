"""Reading stored metrics back: regular series with gaps as NaN, and every row for export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
from sqlalchemy import ColumnElement, Engine, and_, func, select

from controller.adapters.storage.db import (
    coverage,
    from_epoch,
    metric_event_types,
    metrics,
    to_epoch,
)
from controller.domain.series import Series

Measure = Literal[
    "events", "sessions", "cpu_ms", "memory_mb", "network_kb", "io_ops", "unusual_sessions"
]
MEASURES: tuple[Measure, ...] = (
    "events",
    "sessions",
    "cpu_ms",
    "memory_mb",
    "network_kb",
    "io_ops",
    "unusual_sessions",
)
_SCALE = {
    "events": 1,
    "sessions": 1,
    "unusual_sessions": 1,
    "cpu_ms": 1000,
    "memory_mb": 1000,
    "network_kb": 1000,
    "io_ops": 1000,
}


@dataclass(frozen=True)
class MetricRow:
    """One stored (bucket, persona, region); resources in integer thousandths of their unit."""

    bucket: datetime
    persona: str
    region: str
    events: int
    sessions: int
    cpu_ms_milli: int
    memory_mb_milli: int
    network_kb_milli: int
    io_ops_milli: int
    unusual_sessions: int = 0
    """sessions matched to the persona with unusual resource use (controller.ingest.matching)"""


class MetricStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def series(
        self,
        measure: Measure,
        start: datetime,
        end: datetime,
        bucket: timedelta,
        persona: str | None = None,
        region: str | None = None,
    ) -> Series:
        """`measure` per `bucket` over [start, end), summed over what is not filtered.

        `bucket` is the stored bucket or a whole multiple of it. A bucket inside a stretch the
        stream covered but with no rows is a real zero; a bucket it never covered is NaN.
        """
        size = int(bucket.total_seconds())
        first, stop = to_epoch(start), to_epoch(end)
        count = max(0, (stop - first) // size)
        values = np.full(count, np.nan)
        column = metrics.c[_column(measure)]
        conditions: list[ColumnElement[bool]] = [metrics.c.bucket >= first, metrics.c.bucket < stop]
        if persona is not None:
            conditions.append(metrics.c.persona == persona)
        if region is not None:
            conditions.append(metrics.c.region == region)
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
                select(metrics.c.bucket, func.sum(column))
                .where(and_(*conditions))
                .group_by(metrics.c.bucket)
            )
            for bucket_start, total in rows:
                index = (int(bucket_start) - first) // size
                if 0 <= index < count:
                    current = 0.0 if np.isnan(values[index]) else values[index]
                    values[index] = current + float(total) / _SCALE[measure]
        name = persona or "all"
        return Series(f"{name}:{measure}" if measure != "events" else name, start, bucket, values)

    def events_per_bucket(
        self, persona: str, start: datetime, end: datetime, bucket: timedelta
    ) -> Series:
        """Events in each bucket of [start, end) for `persona`, all regions (gaps NaN)."""
        return self.series("events", start, end, bucket, persona=persona)

    def cpu_seconds_per_bucket(
        self, persona: str, start: datetime, end: datetime, bucket: timedelta
    ) -> Series:
        """CPU-seconds the persona's events used in each bucket of [start, end), all regions
        (same gap rules as `series`)."""
        cpu_ms = self.series("cpu_ms", start, end, bucket, persona=persona)
        return Series(persona, start, bucket, cpu_ms.values / 1000.0)

    def personas_seen(self) -> list[str]:
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(select(metrics.c.persona).distinct())]

    def rows(self) -> Iterator[MetricRow]:
        """Every stored bucket, oldest first."""
        query = select(metrics).order_by(metrics.c.bucket, metrics.c.persona, metrics.c.region)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield MetricRow(
                    bucket=from_epoch(int(row.bucket)),
                    persona=row.persona,
                    region=row.region,
                    events=int(row.events),
                    sessions=int(row.sessions),
                    cpu_ms_milli=int(row.cpu_ms_milli),
                    memory_mb_milli=int(row.memory_mb_milli),
                    network_kb_milli=int(row.network_kb_milli),
                    io_ops_milli=int(row.io_ops_milli),
                    unusual_sessions=int(row.unusual_sessions),
                )

    def events_by_type(self, start: datetime, end: datetime) -> dict[tuple[str, str], int]:
        """(persona, event type) -> events in [start, end)."""
        t = metric_event_types.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.persona, t.event_type, func.sum(t.events))
                .where(t.bucket >= to_epoch(start), t.bucket < to_epoch(end))
                .group_by(t.persona, t.event_type)
            )
            return {(str(p), str(e)): int(n) for p, e, n in rows}

    def bucket_range(self) -> tuple[datetime, datetime] | None:
        """Starts of the oldest and the newest stored bucket; None while nothing is stored."""
        with self.engine.connect() as conn:
            oldest, newest = conn.execute(
                select(func.min(metrics.c.bucket), func.max(metrics.c.bucket))
            ).one()
        if oldest is None or newest is None:
            return None
        return from_epoch(int(oldest)), from_epoch(int(newest))

    def events_by_persona(self, start: datetime, end: datetime) -> dict[str, int]:
        """persona -> events in the buckets of [start, end), all regions; absent: none."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(metrics.c.persona, func.sum(metrics.c.events))
                .where(metrics.c.bucket >= to_epoch(start), metrics.c.bucket < to_epoch(end))
                .group_by(metrics.c.persona)
            )
            return {str(persona): int(events) for persona, events in rows}

    def totals(self) -> dict[str, int]:
        """Sum of every stored column (resources in thousandths): what reconciles with input."""
        names = (
            "events",
            "sessions",
            "cpu_ms_milli",
            "memory_mb_milli",
            "network_kb_milli",
            "io_ops_milli",
        )
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*(func.coalesce(func.sum(metrics.c[n]), 0) for n in names))
            ).one()
        return {name: int(value) for name, value in zip(names, row, strict=True)}


def _column(measure: Measure) -> str:
    return measure if measure in ("events", "sessions", "unusual_sessions") else f"{measure}_milli"


def sessions_per_bucket(
    store: MetricStore, persona: str, start: datetime, end: datetime, bucket: timedelta
) -> Series:
    """Active sessions (distinct sessions with an event) in each bucket of [start, end)."""
    sessions = store.series("sessions", start, end, bucket, persona=persona)
    return Series(persona, start, bucket, sessions.values)
