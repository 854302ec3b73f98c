"""Aggregates, dead letters and the source position, committed in ONE transaction.

A crash before commit loses the whole batch and its position; a restart reads it again. A crash
after commit keeps both. Either way the totals equal the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from controller.adapters.event_file import DeadLetter
from controller.adapters.storage.db import (
    coverage,
    dead_letters,
    from_epoch,
    metrics,
    source_offsets,
    to_epoch,
    upsert,
)
from controller.ingest.aggregate import Aggregate


@dataclass(frozen=True)
class SourcePosition:
    position: int
    last_event_at: datetime | None
    events_total: int


class IngestStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def position(self, source: str) -> SourcePosition:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(source_offsets).where(source_offsets.c.source == source)
            ).one_or_none()
        if row is None:
            return SourcePosition(0, None, 0)
        last = from_epoch(row.last_event_at) if row.last_event_at is not None else None
        return SourcePosition(int(row.position), last, int(row.events_total))

    def commit_batch(
        self,
        source: str,
        aggregate: Aggregate,
        letters: Sequence[DeadLetter],
        end_position: int,
        last_event_at: datetime | None,
        now: datetime,
    ) -> None:
        with self.engine.begin() as conn:
            rows = [
                {
                    "bucket": to_epoch(bucket),
                    "persona": persona,
                    "region": region,
                    "events": totals.events,
                    "sessions": len(totals.sessions),
                    "cpu_ms": totals.cpu_ms,
                    "memory_mb": totals.memory_mb,
                    "network_kb": totals.network_kb,
                    "io_ops": totals.io_ops,
                }
                for (bucket, persona, region), totals in sorted(aggregate.buckets.items())
            ]
            if rows:
                insert = upsert(self.engine, metrics)
                additive = {
                    name: metrics.c[name] + insert.excluded[name]
                    for name in (
                        "events",
                        "sessions",
                        "cpu_ms",
                        "memory_mb",
                        "network_kb",
                        "io_ops",
                    )
                }
                conn.execute(
                    insert.on_conflict_do_update(
                        index_elements=["bucket", "persona", "region"], set_=additive
                    ),
                    rows,
                )
            if aggregate.covered:
                conn.execute(
                    coverage.insert(),
                    [
                        {"source": source, "start": to_epoch(a), "end": to_epoch(b)}
                        for a, b in aggregate.covered
                    ],
                )
            if letters:
                conn.execute(
                    dead_letters.insert(),
                    [
                        {
                            "source": source,
                            "position": letter.position,
                            "received_at": to_epoch(now),
                            "reason": letter.reason,
                            "raw": letter.raw,
                        }
                        for letter in letters
                    ],
                )
            offsets = upsert(self.engine, source_offsets)
            conn.execute(
                offsets.on_conflict_do_update(
                    index_elements=["source"],
                    set_={
                        "position": offsets.excluded.position,
                        "last_event_at": func.coalesce(
                            offsets.excluded.last_event_at, source_offsets.c.last_event_at
                        ),
                        "events_total": source_offsets.c.events_total
                        + offsets.excluded.events_total,
                        "updated_at": offsets.excluded.updated_at,
                    },
                ),
                {
                    "source": source,
                    "position": end_position,
                    "last_event_at": last_event_at.timestamp() if last_event_at else None,
                    "events_total": aggregate.events,
                    "updated_at": to_epoch(now),
                },
            )

    def dead_letter_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(dead_letters)).scalar_one())
