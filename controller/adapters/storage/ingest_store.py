"""Aggregates, dead letters and partition positions, committed in ONE transaction.

A crash before commit loses the whole batch and its positions; a restart reads it again. A crash
after commit keeps both. Either way the totals equal the input.

Several ingesters may share one store (a Kafka consumer group over PostgreSQL): metric rows are
additive upserts, and each partition's position is compare-and-set against the position the
batch started from. An ingester that lost a partition in a rebalance but still commits a batch
for it (a "zombie") finds the position moved, and its whole transaction is rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import Connection, Engine, func, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from controller.adapters.storage.db import (
    coverage,
    dead_letters,
    stream_partitions,
    to_epoch,
)
from controller.adapters.storage.matcher_store import add_learning
from controller.domain.errors import ConfigError, TemporaryError
from controller.ingest.aggregate import Aggregate
from controller.matching.model import LearnedRow

RESOURCE_COLUMNS = ("cpu_ms_milli", "memory_mb_milli", "network_kb_milli", "io_ops_milli")


class PositionConflict(TemporaryError):
    """Another ingester committed this partition since we read it: our batch was rolled back."""


@dataclass(frozen=True)
class StoredPartition:
    position: str
    watermark_ms: int | None
    events_total: int
    dead_letters_total: int
    sessions: bytes


@dataclass(frozen=True)
class PartitionCommit:
    partition: str
    expected: str | None
    """the stored position this batch started from (None: the partition was never stored)"""
    position: str
    watermark_ms: int | None
    events: int
    dead_letters: int
    sessions: bytes


@dataclass(frozen=True)
class DeadLetter:
    position: str
    kind: str
    reason: str
    raw: bytes


@dataclass(frozen=True)
class StoredDeadLetter:
    id: int
    source: str
    position: str
    received_at: int
    kind: str
    reason: str
    raw: bytes


@dataclass(frozen=True)
class SourceTotals:
    events: int
    dead_letters: int
    watermark_ms: int | None
    partitions: int


class IngestStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        _require_current_schema(engine)

    def partition(self, source: str, partition: str) -> StoredPartition | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(stream_partitions).where(
                    stream_partitions.c.source == source,
                    stream_partitions.c.partition == partition,
                )
            ).one_or_none()
        if row is None:
            return None
        return StoredPartition(
            position=row.position,
            watermark_ms=row.watermark_ms,
            events_total=int(row.events_total),
            dead_letters_total=int(row.dead_letters_total),
            sessions=bytes(row.sessions),
        )

    def position(self, source: str, partition: str) -> str | None:
        """Where reading `partition` of `source` resumes (None: from its beginning)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(stream_partitions.c.position).where(
                    stream_partitions.c.source == source,
                    stream_partitions.c.partition == partition,
                )
            ).scalar_one_or_none()
        return None if found is None else str(found)

    def totals(self, source: str) -> SourceTotals:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    func.coalesce(func.sum(stream_partitions.c.events_total), 0),
                    func.coalesce(func.sum(stream_partitions.c.dead_letters_total), 0),
                    func.max(stream_partitions.c.watermark_ms),
                    func.count(),
                ).where(stream_partitions.c.source == source)
            ).one()
        return SourceTotals(int(row[0]), int(row[1]), row[2], int(row[3]))

    def commit(
        self,
        source: str,
        partitions: Sequence[PartitionCommit],
        aggregate: Aggregate,
        covered_ms: Sequence[tuple[int, int]],
        letters: Sequence[DeadLetter],
        now: datetime,
        learned: Mapping[tuple[str, int], LearnedRow] | None = None,
    ) -> None:
        """Everything one batch produced, or nothing (raises PositionConflict); `learned`
        (what the sessions the batch completed teach, per persona version) is added in the
        same transaction, so each session teaches exactly once."""
        try:
            with self.engine.begin() as conn:
                for commit in sorted(partitions, key=lambda c: c.partition):
                    self._move(conn, source, commit, to_epoch(now))
                self._add_metrics(conn, aggregate)
                if learned:
                    add_learning(conn, learned, to_epoch(now))
                if covered_ms:
                    conn.execute(
                        coverage.insert(),
                        [
                            {"source": source, "start": a // 1000, "end": b // 1000}
                            for a, b in covered_ms
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
                                "kind": letter.kind,
                                "reason": letter.reason,
                                "raw": letter.raw,
                            }
                            for letter in letters
                        ],
                    )
        except OperationalError as exc:
            if _is_lock_conflict(exc):
                raise PositionConflict(f"{source}: concurrent commit ({exc.orig})") from exc
            raise

    def restart_partition(self, source: str, partition: str, expected: str, position: str) -> None:
        """Read `partition` from `position` next (a file replaced under the same name: from its
        start), keeping its totals, watermark and open sessions; compare-and-set like a batch."""
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(stream_partitions)
                .where(
                    stream_partitions.c.source == source,
                    stream_partitions.c.partition == partition,
                    stream_partitions.c.position == expected,
                )
                .values(position=position)
            )
        if moved.rowcount != 1:
            raise PositionConflict(
                f"{source} partition {partition}: position moved from {expected!r} meanwhile"
            )

    def _move(self, conn: Connection, source: str, commit: PartitionCommit, now: int) -> None:
        table = stream_partitions.c
        values = {
            "position": commit.position,
            "watermark_ms": commit.watermark_ms,
            "sessions": commit.sessions,
            "updated_at": now,
        }
        if commit.expected is None:
            try:
                conn.execute(
                    insert(stream_partitions).values(
                        source=source,
                        partition=commit.partition,
                        events_total=commit.events,
                        dead_letters_total=commit.dead_letters,
                        **values,
                    )
                )
            except IntegrityError:
                raise PositionConflict(
                    f"{source} partition {commit.partition}: already started by another ingester"
                ) from None
            return
        moved = conn.execute(
            update(stream_partitions)
            .where(
                table.source == source,
                table.partition == commit.partition,
                table.position == commit.expected,
            )
            .values(
                events_total=table.events_total + commit.events,
                dead_letters_total=table.dead_letters_total + commit.dead_letters,
                **values,
            )
        )
        if moved.rowcount != 1:
            raise PositionConflict(
                f"{source} partition {commit.partition}: position moved from "
                f"{commit.expected!r} by another ingester"
            )

    def _add_metrics(self, conn: Connection, aggregate: Aggregate) -> None:
        """Additive upserts, through the driver's executemany: a batch writes thousands of
        rows, and building a parameter dict per row costs more than the database does.

        Rows go in key order, so concurrent ingesters lock rows in the same order."""
        rows = aggregate.buckets
        if len(rows):
            records = sorted(
                zip(
                    rows.bucket_s.tolist(),
                    rows.persona,
                    rows.region,
                    rows.events.tolist(),
                    rows.sessions.tolist(),
                    *rows.resources.T.tolist(),
                    rows.unusual_sessions.tolist(),
                    strict=True,
                )
            )
            conn.exec_driver_sql(self._metric_upsert, records)
        types = aggregate.types
        if len(types):
            type_records = sorted(
                zip(
                    types.bucket_s.tolist(),
                    types.persona,
                    types.region,
                    types.event_type,
                    types.events.tolist(),
                    strict=True,
                )
            )
            conn.exec_driver_sql(self._type_upsert, type_records)

    @cached_property
    def _metric_upsert(self) -> str:
        return _additive_upsert(
            self.engine,
            "metrics",
            ("bucket", "persona", "region"),
            ("events", "sessions", *RESOURCE_COLUMNS, "unusual_sessions"),
        )

    @cached_property
    def _type_upsert(self) -> str:
        return _additive_upsert(
            self.engine,
            "metric_event_types",
            ("bucket", "persona", "region", "event_type"),
            ("events",),
        )

    def dead_letter_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(dead_letters)).scalar_one())

    def dead_letter_counts(self) -> dict[str, int]:
        """Dead letters by kind (reason category), most frequent first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(dead_letters.c.kind, func.count())
                .group_by(dead_letters.c.kind)
                .order_by(func.count().desc(), dead_letters.c.kind)
            ).all()
        return {str(kind): int(count) for kind, count in rows}

    def dead_letters(self, limit: int | None = None) -> list[StoredDeadLetter]:
        query = select(dead_letters).order_by(dead_letters.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [
                StoredDeadLetter(
                    id=int(row.id),
                    source=row.source,
                    position=row.position,
                    received_at=int(row.received_at),
                    kind=row.kind,
                    reason=row.reason,
                    raw=bytes(row.raw),
                )
                for row in conn.execute(query)
            ]


def _require_current_schema(engine: Engine) -> None:
    """A database from before exact (integer) metrics cannot be added to: say so plainly."""
    columns = {c["name"] for c in inspect(engine).get_columns("metrics")}
    if "cpu_ms_milli" not in columns:
        raise ConfigError(
            f"{engine.url.render_as_string(hide_password=True)}: its metrics table predates "
            "exact per-persona metrics (no cpu_ms_milli column); move the database away (or "
            "point database_url elsewhere) and ingest again"
        )
    if "unusual_sessions" not in columns:
        raise ConfigError(
            f"{engine.url.render_as_string(hide_password=True)}: its metrics table predates "
            "persona matching (no unusual_sessions column); move the database away (or point "
            "database_url elsewhere) and ingest again"
        )


def _additive_upsert(
    engine: Engine, table: str, keys: tuple[str, ...], counts: tuple[str, ...]
) -> str:
    """INSERT ... ON CONFLICT DO UPDATE adding the counts (same SQL on SQLite and PostgreSQL)."""
    columns = (*keys, *counts)
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counts)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}"
    )


def _is_lock_conflict(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "deadlock" in text or "could not serialize" in text
