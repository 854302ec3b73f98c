"""Open drift findings per view (with first/last seen) and the record of every check."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Row, delete, func, select

from controller.adapters.storage.db import drift_checks, drift_findings, from_epoch, to_epoch
from controller.domain.drift import (
    CheckOutcome,
    Classification,
    DriftCheck,
    DriftFinding,
    DriftView,
    TrackedFinding,
)


@dataclass(frozen=True)
class CheckRecord:
    view: DriftView
    checked_at: Any
    outcome: CheckOutcome
    detail: str
    findings: int
    drift: int


class DriftStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def findings(self, view: DriftView | None = None) -> list[TrackedFinding]:
        query = select(drift_findings).order_by(
            drift_findings.c.view, drift_findings.c.resource, drift_findings.c.attribute
        )
        if view is not None:
            query = query.where(drift_findings.c.view == view)
        with self.engine.connect() as conn:
            return [_tracked(row) for row in conn.execute(query)]

    def record(self, check: DriftCheck, tracked: Sequence[TrackedFinding]) -> None:
        """Store a check; a completed one replaces its view's findings, in one transaction."""
        with self.engine.begin() as conn:
            if check.outcome not in ("failed", "skipped"):
                conn.execute(delete(drift_findings).where(drift_findings.c.view == check.view))
                for t in tracked:
                    f = t.finding
                    conn.execute(
                        drift_findings.insert().values(
                            view=f.view,
                            resource=f.resource,
                            attribute=f.attribute,
                            classification=f.classification,
                            fleets=json.dumps(list(f.fleets)),
                            applied=json.dumps(f.applied, sort_keys=True),
                            live=json.dumps(f.live, sort_keys=True),
                            reason=f.reason,
                            since=to_epoch(t.since),
                            last_seen=to_epoch(t.last_seen),
                        )
                    )
            conn.execute(
                drift_checks.insert().values(
                    view=check.view,
                    checked_at=to_epoch(check.checked_at),
                    outcome=check.outcome,
                    detail=check.detail,
                    findings=len(check.findings),
                    drift=len(check.drift),
                )
            )

    def last_checks(self) -> list[CheckRecord]:
        """The latest check of each view."""
        latest = (
            select(drift_checks.c.view, func.max(drift_checks.c.id).label("id"))
            .group_by(drift_checks.c.view)
            .subquery()
        )
        query = (
            select(drift_checks)
            .join(latest, drift_checks.c.id == latest.c.id)
            .order_by(drift_checks.c.view)
        )
        with self.engine.connect() as conn:
            return [
                CheckRecord(
                    view=row.view,
                    checked_at=from_epoch(row.checked_at),
                    outcome=row.outcome,
                    detail=row.detail,
                    findings=int(row.findings),
                    drift=int(row.drift),
                )
                for row in conn.execute(query)
            ]


def _tracked(row: Row[Any]) -> TrackedFinding:
    classification: Classification = row.classification
    view: DriftView = row.view
    return TrackedFinding(
        DriftFinding(
            view=view,
            resource=row.resource,
            attribute=row.attribute,
            applied=json.loads(row.applied),
            live=json.loads(row.live),
            classification=classification,
            reason=row.reason,
            fleets=tuple(json.loads(row.fleets)),
        ),
        since=from_epoch(row.since),
        last_seen=from_epoch(row.last_seen),
    )
