"""Per-fleet monitoring results after each apply, every check kept (the feedback loop reads them)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select

from controller.adapters.storage.db import fleet_health, to_epoch
from controller.domain.monitor import FleetHealth, HealthCheckResult, UtilizationReading


class HealthStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, health: FleetHealth) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                fleet_health.insert().values(
                    fleet=health.fleet,
                    plan_id=health.plan_id,
                    checked_at=to_epoch(health.checked_at),
                    window_complete=int(health.window_complete),
                    record=json.dumps(_encode(health), sort_keys=True),
                )
            )

    def latest(self) -> dict[str, FleetHealth]:
        """The newest record of every fleet."""
        newest = (
            select(fleet_health.c.fleet, func.max(fleet_health.c.id).label("id"))
            .group_by(fleet_health.c.fleet)
            .subquery()
        )
        query = select(fleet_health.c.record).join(newest, fleet_health.c.id == newest.c.id)
        with self.engine.connect() as conn:
            found = [_decode(json.loads(row.record)) for row in conn.execute(query)]
        return {h.fleet: h for h in found}

    def completed(self, fleet: str, plan_id: str) -> FleetHealth | None:
        """The record of a window that already ended for this fleet and apply, if any."""
        query = (
            select(fleet_health.c.record)
            .where(
                and_(
                    fleet_health.c.fleet == fleet,
                    fleet_health.c.plan_id == plan_id,
                    fleet_health.c.window_complete == 1,
                )
            )
            .order_by(fleet_health.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            text = conn.execute(query).scalar_one_or_none()
        return None if text is None else _decode(json.loads(text))


def _encode(health: FleetHealth) -> dict[str, Any]:
    data = asdict(health)
    for key in ("applied_at", "window_start", "window_end", "checked_at"):
        data[key] = getattr(health, key).isoformat()
    return data


def _decode(data: dict[str, Any]) -> FleetHealth:
    check = data.get("health_check")
    return FleetHealth(
        fleet=data["fleet"],
        plan_id=data["plan_id"],
        applied_at=datetime.fromisoformat(data["applied_at"]),
        window_start=datetime.fromisoformat(data["window_start"]),
        window_end=datetime.fromisoformat(data["window_end"]),
        window_complete=bool(data["window_complete"]),
        checked_at=datetime.fromisoformat(data["checked_at"]),
        status=data["status"],
        target_utilization=float(data["target_utilization"]),
        tolerance=float(data["tolerance"]),
        readings=tuple(UtilizationReading(**r) for r in data["readings"]),
        reason=data["reason"],
        requests_per_target_per_s=data.get("requests_per_target_per_s"),
        health_check=HealthCheckResult(**check) if check else None,
    )
