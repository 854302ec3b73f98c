"""One active controller: a lease row in the shared database, with holder, heartbeat and expiry.

Every operation is a single conditional statement, so two daemons racing on SQLite or PostgreSQL
cannot both win: acquire succeeds only if the lease is free, expired, or already ours; renew
only if it is still ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Engine, Float, String, Table, case, delete, select, update
from sqlalchemy.exc import IntegrityError

from controller.adapters.storage.db import from_epoch, metadata

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)


@dataclass(frozen=True)
class LeaseHolder:
    holder: str
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime

    def describe(self, now: datetime) -> str:
        age = (now - self.heartbeat_at).total_seconds()
        left = (self.expires_at - now).total_seconds()
        return f"held by {self.holder} (heartbeat {age:.0f}s ago, expires in {max(left, 0):.0f}s)"


class LeaseStore:
    def __init__(self, engine: Engine, name: str = "controller") -> None:
        self.engine = engine
        self.name = name
        metadata.create_all(engine, tables=[leases])

    def try_acquire(self, holder: str, ttl: timedelta, now: datetime) -> bool:
        """Take the lease if it is free, expired or ours; True when we hold it afterwards."""
        stamp, expires = now.timestamp(), (now + ttl).timestamp()
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(leases)
                .where(leases.c.name == self.name)
                .where((leases.c.holder == holder) | (leases.c.expires_at < stamp))
                .values(
                    holder=holder,
                    heartbeat_at=stamp,
                    expires_at=expires,
                    # a takeover starts a new tenure; our own renewal keeps the old one
                    acquired_at=case(
                        (leases.c.holder == holder, leases.c.acquired_at), else_=stamp
                    ),
                )
            )
            if taken.rowcount == 1:
                return True
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    leases.insert().values(
                        name=self.name,
                        holder=holder,
                        acquired_at=stamp,
                        heartbeat_at=stamp,
                        expires_at=expires,
                    )
                )
            return True
        except IntegrityError:
            return False  # someone else holds a live lease (or won the race to insert it)

    def take_over(self, stale: str, holder: str, ttl: timedelta, now: datetime) -> bool:
        """Take the lease from `stale` (known dead) before it expires; False if it moved on."""
        stamp = now.timestamp()
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(leases)
                .where(leases.c.name == self.name, leases.c.holder == stale)
                .values(
                    holder=holder,
                    acquired_at=stamp,
                    heartbeat_at=stamp,
                    expires_at=(now + ttl).timestamp(),
                )
            )
            return taken.rowcount == 1

    def renew(self, holder: str, ttl: timedelta, now: datetime) -> bool:
        """Extend our lease; False when it is no longer ours (expired and taken over)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(leases)
                .where(leases.c.name == self.name, leases.c.holder == holder)
                .values(heartbeat_at=now.timestamp(), expires_at=(now + ttl).timestamp())
            )
            return result.rowcount == 1

    def release(self, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(leases).where(leases.c.name == self.name, leases.c.holder == holder)
            )

    def current(self) -> LeaseHolder | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(leases).where(leases.c.name == self.name)).one_or_none()
        if row is None:
            return None
        return LeaseHolder(
            str(row.holder),
            from_epoch(row.acquired_at),
            from_epoch(row.heartbeat_at),
            from_epoch(row.expires_at),
        )
