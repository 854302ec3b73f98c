"""Every forecast the daemon acted on, kept so it can be scored against what then happened."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Column, Engine, Integer, Row, String, Table, Text, delete, select

from controller.adapters.storage.db import from_epoch, metadata, to_epoch
from controller.domain.forecast import Forecast

forecasts = Table(
    "forecasts",
    metadata,
    Column("cycle_id", Integer, primary_key=True),
    Column("series_id", String(120), primary_key=True),
    Column("origin", BigInteger, nullable=False, index=True),
    Column("step_seconds", Integer, nullable=False),
    Column("model", Text, nullable=False),
    Column("mean", Text, nullable=False),
    Column("quantiles", Text, nullable=False),
)


@dataclass(frozen=True)
class StoredForecast:
    cycle_id: int
    forecast: Forecast


class ForecastStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine, tables=[forecasts])

    def add(self, cycle_id: int, items: list[Forecast]) -> None:
        rows = [
            {
                "cycle_id": cycle_id,
                "series_id": f.series_id,
                "origin": to_epoch(f.origin),
                "step_seconds": int(f.step.total_seconds()),
                "model": f.model,
                "mean": _encode(f.mean),
                "quantiles": json.dumps(
                    {f"{q:g}": _rounded(v) for q, v in sorted(f.quantiles.items())}
                ),
            }
            for f in items
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(forecasts.insert(), rows)

    def since(self, series_id: str, start: datetime) -> list[StoredForecast]:
        """Forecasts of `series_id` made at or after `start`, oldest first."""
        query = (
            select(forecasts)
            .where(forecasts.c.series_id == series_id, forecasts.c.origin >= to_epoch(start))
            .order_by(forecasts.c.origin, forecasts.c.cycle_id)
        )
        with self.engine.connect() as conn:
            return [_decode(row) for row in conn.execute(query)]

    def spaced(self, series_id: str, start: datetime, spacing: timedelta) -> list[StoredForecast]:
        """Like `since`, but one forecast per origin (the newest cycle's) and origins at least
        `spacing` apart, newest kept: the feedback loop's sample, read without loading the rest."""
        query = (
            select(forecasts.c.cycle_id, forecasts.c.origin)
            .where(forecasts.c.series_id == series_id, forecasts.c.origin >= to_epoch(start))
            .order_by(forecasts.c.origin.desc(), forecasts.c.cycle_id.desc())
        )
        wanted: list[int] = []
        last: int | None = None
        with self.engine.connect() as conn:
            for cycle_id, origin in conn.execute(query):
                if last is None or last - int(origin) >= spacing.total_seconds():
                    wanted.append(int(cycle_id))
                    last = int(origin)
            rows = conn.execute(
                select(forecasts)
                .where(forecasts.c.series_id == series_id, forecasts.c.cycle_id.in_(wanted))
                .order_by(forecasts.c.origin, forecasts.c.cycle_id)
            )
            return [_decode(row) for row in rows]

    def prune(self, before: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(forecasts).where(forecasts.c.origin < to_epoch(before)))


def _rounded(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else round(float(v), 6) for v in values]


def _encode(values: np.ndarray) -> str:
    return json.dumps(_rounded(values))


def _array(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _decode(row: Row[Any]) -> StoredForecast:
    quantiles = json.loads(row.quantiles)
    return StoredForecast(
        cycle_id=int(row.cycle_id),
        forecast=Forecast(
            series_id=str(row.series_id),
            origin=from_epoch(row.origin),
            step=timedelta(seconds=int(row.step_seconds)),
            mean=_array(json.loads(row.mean)),
            quantiles={float(q): _array(v) for q, v in quantiles.items()},
            model=str(row.model),
        ),
    )
