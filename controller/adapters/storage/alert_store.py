"""Alerts as an outbox: one row per alert, opened once, resolved once, each message delivered once.

While an alert is open its key is unique among open alerts, so opening it again is a no-op; a
delivery is recorded only after the sink accepted it, so a failed sink is offered it again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, and_, or_, select, update

from controller.adapters.storage.db import alerts, from_epoch, to_epoch
from controller.domain.alert import Alert, AlertEvent


class AlertStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def open(self, key: str, kind: str, message: str, now: datetime) -> Alert | None:
        """Open an alert for `key`; None if one is open already (alerted once)."""
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(alerts.c.id).where(and_(alerts.c.key == key, alerts.c.resolved_at.is_(None)))
            ).first()
            if existing is not None:
                return None
            result = conn.execute(
                alerts.insert().values(
                    key=key, kind=kind, opened_at=to_epoch(now), opened_message=message
                )
            )
            key_ = result.inserted_primary_key
            assert key_ is not None
            row = conn.execute(select(alerts).where(alerts.c.id == int(key_[0]))).one()
        return _alert(row)

    def resolve(self, key: str, message: str, now: datetime) -> Alert | None:
        """Resolve the open alert for `key`; None if none is open."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(alerts).where(and_(alerts.c.key == key, alerts.c.resolved_at.is_(None)))
            ).first()
            if row is None:
                return None
            conn.execute(
                update(alerts)
                .where(alerts.c.id == row.id)
                .values(resolved_at=to_epoch(now), resolved_message=message)
            )
            row = conn.execute(select(alerts).where(alerts.c.id == row.id)).one()
        return _alert(row)

    def pending(self) -> list[Alert]:
        """Alerts with a message not delivered yet, oldest first."""
        query = (
            select(alerts)
            .where(
                or_(
                    alerts.c.opened_sent_at.is_(None),
                    and_(alerts.c.resolved_at.is_not(None), alerts.c.resolved_sent_at.is_(None)),
                )
            )
            .order_by(alerts.c.id)
        )
        with self.engine.connect() as conn:
            return [_alert(row) for row in conn.execute(query)]

    def mark_delivered(self, alert_id: int, event: AlertEvent, now: datetime) -> None:
        column = "opened_sent_at" if event == "opened" else "resolved_sent_at"
        with self.engine.begin() as conn:
            conn.execute(
                update(alerts).where(alerts.c.id == alert_id).values({column: to_epoch(now)})
            )

    def open_alerts(self, kind: str | None = None) -> list[Alert]:
        query = select(alerts).where(alerts.c.resolved_at.is_(None)).order_by(alerts.c.id)
        if kind is not None:
            query = query.where(alerts.c.kind == kind)
        with self.engine.connect() as conn:
            return [_alert(row) for row in conn.execute(query)]

    def recent(self, limit: int = 50) -> list[Alert]:
        query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_alert(row) for row in conn.execute(query)]


def _alert(row: Row[Any]) -> Alert:
    def when(value: Any) -> datetime | None:
        return None if value is None else from_epoch(value)

    return Alert(
        alert_id=int(row.id),
        key=str(row.key),
        kind=str(row.kind),
        opened_at=from_epoch(row.opened_at),
        opened_message=str(row.opened_message),
        resolved_at=when(row.resolved_at),
        resolved_message=row.resolved_message,
        opened_sent_at=when(row.opened_sent_at),
        resolved_sent_at=when(row.resolved_sent_at),
    )
