"""Plans kept by id, with the variables they were made from and what became of them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, select, update

from controller.adapters.storage.db import from_epoch, plans, to_epoch


@dataclass(frozen=True)
class StoredPlan:
    plan_id: str
    cycle_id: int
    created_at: datetime
    status: str
    summary: dict[str, object]
    variables: dict[str, object]


class PlanStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        plan_id: str,
        cycle_id: int,
        created_at: datetime,
        status: str,
        summary: dict[str, object],
        variables: dict[str, object],
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                plans.insert().values(
                    plan_id=plan_id,
                    cycle_id=cycle_id,
                    created_at=to_epoch(created_at),
                    status=status,
                    summary=json.dumps(summary, sort_keys=True),
                    variables=json.dumps(variables, sort_keys=True),
                )
            )

    def set_status(self, plan_id: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(plans).where(plans.c.plan_id == plan_id).values(status=status))

    def get(self, plan_id: str) -> StoredPlan | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(plans).where(plans.c.plan_id == plan_id)).one_or_none()
        return None if row is None else _stored(row)

    def recent(self, limit: int = 20) -> list[StoredPlan]:
        query = select(plans).order_by(plans.c.cycle_id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_stored(row) for row in conn.execute(query)]

    def newest_after(self, cycle_id: int) -> StoredPlan | None:
        """The newest cycle plan made after `cycle_id` that did not fail or go stale: the one
        that supersedes a plan of that cycle. Reconcile plans restore what is applied and
        supersede nothing."""
        query = (
            select(plans)
            .where(plans.c.cycle_id > cycle_id)
            .where(plans.c.status.not_in(("failed", "stale")))
            .where(plans.c.plan_id.not_like("reconcile-%"))
            .order_by(plans.c.cycle_id.desc(), plans.c.created_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _stored(row)

    def last_applied(self) -> StoredPlan | None:
        query = (
            select(plans)
            .where(plans.c.status == "applied")
            .order_by(plans.c.created_at.desc(), plans.c.cycle_id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _stored(row)


def _stored(row: Row[Any]) -> StoredPlan:
    return StoredPlan(
        plan_id=row.plan_id,
        cycle_id=int(row.cycle_id),
        created_at=from_epoch(row.created_at),
        status=row.status,
        summary=json.loads(row.summary),
        variables=json.loads(row.variables),
    )
