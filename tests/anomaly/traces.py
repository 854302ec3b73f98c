"""Hand-made per-minute traces for `fleetctl anomalies`: a smooth daily shape with Poisson
noise (seeded), and 3x bursts where a test puts them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

TRACE_START = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday: no weekend in the first days
MINUTE = timedelta(minutes=1)
BURST = timedelta(minutes=15)


def daily_demand(days: int, bursts: Sequence[datetime] = (), seed: int = 1) -> np.ndarray:
    """Requests per second per minute: 20 +- 15 over the day (low at 00:00 UTC, high at
    12:00), counted per minute, with each burst 3x for BURST from its start."""
    minutes = np.arange(days * 24 * 60)
    level = 20.0 - 15.0 * np.cos(2 * np.pi * minutes / (24 * 60))
    demand = np.random.default_rng(seed).poisson(level * 60) / 60.0
    for start in bursts:
        first = int((start - TRACE_START) / MINUTE)
        demand[first : first + int(BURST / MINUTE)] *= 3.0
    return np.asarray(demand, dtype=np.float64)


def write_trace(path: Path, demand: np.ndarray, start: datetime = TRACE_START) -> Path:
    rows = [
        f"{(start + MINUTE * i).strftime('%Y-%m-%dT%H:%M:%SZ')},{value:.4f}"
        for i, value in enumerate(demand)
    ]
    path.write_text("timestamp,requests_per_second\n" + "\n".join(rows) + "\n")
    return path


def anomalies_input(tmp_path: Path) -> list[str]:
    """`fleetctl anomalies` arguments (before --out) over three days with one burst on the
    third (the forecaster's first two days are history only)."""
    burst = TRACE_START + timedelta(days=2, hours=10)
    trace = write_trace(tmp_path / "trace.csv", daily_demand(3, [burst]))
    return ["anomalies", "--trace", str(trace)]
