"""Which alerts were sent: one row per (anomaly, channel), so each is sent once and resolved once.

Per channel, so a webhook that is down is retried next cycle without re-sending to SNS."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Engine, String, Table, select

from controller.adapters.storage.db import metadata, to_epoch, upsert

anomaly_alerts = Table(
    "anomaly_alerts",
    metadata,
    Column("anomaly_id", String(200), primary_key=True),
    Column("channel", String(40), primary_key=True),
    Column("opened_sent", BigInteger, nullable=True),
    Column("resolved_sent", BigInteger, nullable=True),
)


class AnomalyAlertStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine, tables=[anomaly_alerts])

    def sent(self, anomaly_id: str, channel: str) -> tuple[bool, bool]:
        """(opening sent, resolution sent)."""
        query = select(anomaly_alerts.c.opened_sent, anomaly_alerts.c.resolved_sent).where(
            anomaly_alerts.c.anomaly_id == anomaly_id, anomaly_alerts.c.channel == channel
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return False, False
        return row[0] is not None, row[1] is not None

    def mark(self, anomaly_id: str, channel: str, what: str, when: datetime) -> None:
        column = "opened_sent" if what == "opened" else "resolved_sent"
        insert = upsert(self.engine, anomaly_alerts)
        with self.engine.begin() as conn:
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["anomaly_id", "channel"],
                    set_={column: getattr(insert.excluded, column)},
                ),
                {"anomaly_id": anomaly_id, "channel": channel, column: to_epoch(when)},
            )
