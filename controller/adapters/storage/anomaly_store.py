"""Every anomaly the cycle has tracked: one row per anomaly, updated as it goes from open to
ongoing to resolved, so the next cycle continues it and the state document can show it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Column, Engine, Float, Row, String, Table, Text, func, select

from controller.adapters.storage.db import from_epoch, metadata, to_epoch, upsert
from controller.anomaly.records import Anomaly, AnomalyKind, Status

anomalies = Table(
    "anomalies",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("kind", String(40), nullable=False, index=True),
    Column("persona", String(120), nullable=True),
    Column("start", BigInteger, nullable=False),
    Column("end", BigInteger, nullable=False, index=True),
    Column("size", Float, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("status", String(20), nullable=False, index=True),
)


class AnomalyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine, tables=[anomalies])

    def save(self, items: Sequence[Anomaly]) -> None:
        """Insert or update each anomaly (keyed by id), all in one transaction."""
        if not items:
            return
        insert = upsert(self.engine, anomalies)
        statement = insert.on_conflict_do_update(
            index_elements=["id"],
            set_={
                name: getattr(insert.excluded, name)
                for name in ("end", "size", "evidence", "status")
            },
        )
        with self.engine.begin() as conn:
            conn.execute(statement, [_row(a) for a in items])

    def unresolved(self) -> list[Anomaly]:
        """Open and ongoing anomalies, oldest first: what this cycle's findings continue."""
        query = (
            select(anomalies)
            .where(anomalies.c.status != "resolved")
            .order_by(anomalies.c.start, anomalies.c.id)
        )
        with self.engine.connect() as conn:
            return [_anomaly(row) for row in conn.execute(query)]

    def current(self, resolved_since: datetime) -> list[Anomaly]:
        """Unresolved anomalies plus those that ended at or after `resolved_since`."""
        query = (
            select(anomalies)
            .where(
                (anomalies.c.status != "resolved") | (anomalies.c.end >= to_epoch(resolved_since))
            )
            .order_by(anomalies.c.start, anomalies.c.id)
        )
        with self.engine.connect() as conn:
            return [_anomaly(row) for row in conn.execute(query)]

    def resolved_until(self) -> dict[tuple[str, str | None], datetime]:
        """(kind, persona) -> end of its latest resolved anomaly: findings in the data up to
        then were already reported, so a cycle re-reading that stretch does not reopen them."""
        query = (
            select(anomalies.c.kind, anomalies.c.persona, func.max(anomalies.c.end))
            .where(anomalies.c.status == "resolved")
            .group_by(anomalies.c.kind, anomalies.c.persona)
        )
        with self.engine.connect() as conn:
            return {
                (str(kind), persona): from_epoch(end) for kind, persona, end in conn.execute(query)
            }


def _row(anomaly: Anomaly) -> dict[str, Any]:
    return {
        "id": anomaly.id,
        "kind": anomaly.kind,
        "persona": anomaly.persona,
        "start": to_epoch(anomaly.start),
        "end": to_epoch(anomaly.end),
        "size": float(anomaly.size),
        "evidence": json.dumps(anomaly.evidence, sort_keys=True),
        "status": anomaly.status,
    }


def _anomaly(row: Row[Any]) -> Anomaly:
    return Anomaly(
        id=str(row.id),
        kind=cast(AnomalyKind, row.kind),
        persona=row.persona,
        start=from_epoch(row.start),
        end=from_epoch(row.end),
        size=float(row.size),
        evidence=json.loads(row.evidence),
        status=cast(Status, row.status),
    )
