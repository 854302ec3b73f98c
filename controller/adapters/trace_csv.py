"""Demand traces (`timestamp,requests_per_second`, one row a minute) and simulation output CSVs."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from controller.adapters.files import read_input_text, write_atomically
from controller.domain.errors import InputError
from controller.domain.series import FloatArray
from controller.simulation.frontier import SweepPoint

MINUTE = timedelta(minutes=1)
TRACE_COLUMNS = ("timestamp", "requests_per_second")


@dataclass(frozen=True)
class DemandTrace:
    start: datetime
    demand_rps: FloatArray
    """one value per minute from `start`; NaN where the trace has no row (a gap)"""


def read_trace(path: Path) -> DemandTrace:
    text = read_input_text(path)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != list(TRACE_COLUMNS):
        raise InputError(
            f"{path}:1: expected header {','.join(TRACE_COLUMNS)}, got {','.join(header or [])!r}"
        )
    times: list[datetime] = []
    values: list[float] = []
    for line, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise InputError(
                f"{path}:{line}: expected 2 columns, got {len(row)} ({','.join(row)!r})"
            )
        when = _timestamp(path, line, row[0])
        value = _rate(path, line, row[1])
        if times:
            if when == times[-1]:
                raise InputError(f"{path}:{line}: timestamp: duplicate row for {row[0].strip()}")
            if when < times[-1]:
                raise InputError(
                    f"{path}:{line}: timestamp: {row[0].strip()} is before the previous row"
                )
        times.append(when)
        values.append(value)
    if not times:
        raise InputError(f"{path}: no rows after the header")
    start = times[0]
    demand = np.full(int((times[-1] - start) / MINUTE) + 1, np.nan)
    for when, value in zip(times, values, strict=True):
        demand[int((when - start) / MINUTE)] = value
    return DemandTrace(start, demand)


def _timestamp(path: Path, line: int, cell: str) -> datetime:
    try:
        when = datetime.fromisoformat(cell.strip())
    except ValueError:
        raise InputError(f"{path}:{line}: timestamp: not an ISO 8601 time (got {cell!r})") from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when.second or when.microsecond:
        raise InputError(
            f"{path}:{line}: timestamp: rows must fall on whole minutes (got {cell.strip()})"
        )
    return when


def _rate(path: Path, line: int, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise InputError(
            f"{path}:{line}: requests_per_second: not a number (got {cell!r})"
        ) from None
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise InputError(
            f"{path}:{line}: requests_per_second: must be a finite number >= 0 (got {cell.strip()})"
        )
    return value


def write_simulation(
    path: Path,
    start: datetime,
    demand: FloatArray,
    serving: np.ndarray,
    booting: np.ndarray,
    desired: np.ndarray,
    warm: np.ndarray,
) -> None:
    write_atomically(path, simulation_csv(start, demand, serving, booting, desired, warm))


def simulation_csv(
    start: datetime,
    demand: FloatArray,
    serving: np.ndarray,
    booting: np.ndarray,
    desired: np.ndarray,
    warm: np.ndarray,
) -> str:
    """`timestamp,demand,serving,booting,desired,warm`, one row a minute; a gap in demand is
    empty. `warm` counts instances stopped in a warm pool (0 without one)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["timestamp", "demand", "serving", "booting", "desired", "warm"])
    for t in range(int(demand.shape[0])):
        value = "" if math.isnan(demand[t]) else f"{demand[t]:g}"
        when = (start + MINUTE * t).strftime("%Y-%m-%dT%H:%M:%SZ")
        writer.writerow(
            [when, value, int(serving[t]), int(booting[t]), int(desired[t]), int(warm[t])]
        )
    return buffer.getvalue()


def write_sweep(path: Path, points: Iterable[SweepPoint]) -> None:
    """`policy,setting,cost,dropped_share`, one row a simulated run (cost in instance-minutes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["policy", "setting", "cost", "dropped_share"])
    for point in points:
        writer.writerow(
            [point.policy, point.setting, f"{point.cost:.2f}", f"{point.dropped_share:.6g}"]
        )
    write_atomically(path, buffer.getvalue())
