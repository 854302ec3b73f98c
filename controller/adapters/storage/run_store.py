"""One record per cycle and per step: status, timings, error. Read by `fleetctl runs`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update

from controller.adapters.storage.db import cycle_runs, cycle_steps, from_epoch, to_epoch


@dataclass(frozen=True)
class StepRecord:
    step: str
    status: str
    duration_ms: float
    detail: str | None
    error: str | None


@dataclass(frozen=True)
class CycleRecord:
    cycle_id: int
    started_at: datetime
    clock_now: datetime
    status: str
    error: str | None
    steps: tuple[StepRecord, ...]


class RunStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def interrupted(self) -> list[int]:
        """Cycles a crash left 'running'."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(cycle_runs.c.id).where(cycle_runs.c.status == "running"))
            return [int(r[0]) for r in rows]

    def mark_interrupted(self, cycle_ids: list[int]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(cycle_runs)
                .where(cycle_runs.c.id.in_(cycle_ids))
                .values(
                    status="interrupted", finished_at=time.time(), error="process stopped mid-cycle"
                )
            )

    def start_cycle(self, clock_now: datetime) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                cycle_runs.insert().values(
                    started_at=time.time(), clock_now=to_epoch(clock_now), status="running"
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def record_step(
        self,
        cycle_id: int,
        step: str,
        status: str,
        started_at: float,
        duration_ms: float,
        detail: str | None = None,
        error: str | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                cycle_steps.insert().values(
                    cycle_id=cycle_id,
                    step=step,
                    status=status,
                    started_at=started_at,
                    duration_ms=duration_ms,
                    detail=detail,
                    error=error,
                )
            )

    def finish_cycle(
        self, cycle_id: int, status: str, summary: str | None, error: str | None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(cycle_runs)
                .where(cycle_runs.c.id == cycle_id)
                .values(status=status, finished_at=time.time(), summary=summary, error=error)
            )

    def recent(self, limit: int = 10) -> list[CycleRecord]:
        with self.engine.connect() as conn:
            runs = conn.execute(
                select(cycle_runs).order_by(cycle_runs.c.id.desc()).limit(limit)
            ).all()
            records = []
            for run in runs:
                steps = conn.execute(
                    select(cycle_steps)
                    .where(cycle_steps.c.cycle_id == run.id)
                    .order_by(cycle_steps.c.id)
                ).all()
                records.append(
                    CycleRecord(
                        cycle_id=int(run.id),
                        started_at=from_epoch(run.started_at),
                        clock_now=from_epoch(run.clock_now),
                        status=str(run.status),
                        error=run.error,
                        steps=tuple(
                            StepRecord(s.step, s.status, float(s.duration_ms), s.detail, s.error)
                            for s in steps
                        ),
                    )
                )
            return records
