"""A per-minute demand trace the controller has never seen: issue 9's out-of-sample check.

Nothing in it was fitted to the NASA trace, and no rule or constant of the predictive policy was
chosen on it. Six weeks of minutes (seeded, so every run replays the same trace):

- a business-day shape (morning ramp, lunch dip, afternoon peak, quiet night) and weekends at
  55% of a weekday;
- slow wobble of the level (AR(1), correlated over about half an hour, 6%);
- per-minute noise that grows with the level (multiplicative, lognormal 8%), unlike the NASA
  trace's count-like noise that grows with its square root;
- bursts: about one an hour, each adding a lognormal share of the level (median 25%, heavy
  tail) that ramps in over 1-3 minutes and lasts 2-20 minutes;
- flash crowds: about two a week, ramping to 1.6-2.5x the level over 10 minutes and decaying
  over an hour;
- a regime change after four weeks: the level rises 50% and the daily peak moves three hours
  later (a new market in another time zone);
- a two-hour gap without data (a metrics outage) in week five;

then scaled to a mean of 1,000 requests per second. Run this file to write it as
`timestamp,requests_per_second` CSV for `fleetctl simulate` (default bench/out/, not committed).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
DAYS = 42
REGIME_CHANGE_DAY = 28
SEED = 20261128


def business_day(hour: FloatArray) -> FloatArray:
    """Relative demand over a day: quiet night, morning ramp, lunch dip, afternoon peak."""
    morning = np.exp(-(((hour - 10.5) / 2.2) ** 2))
    afternoon = 1.15 * np.exp(-(((hour - 15.5) / 2.5) ** 2))
    evening = 0.35 * np.exp(-(((hour - 20.5) / 2.0) ** 2))
    return 0.12 + morning + afternoon + evening


def synthetic_demand(days: int = DAYS, seed: int = SEED) -> FloatArray:
    rng = np.random.default_rng(seed)
    minutes = np.arange(days * 1440)
    day = minutes // 1440
    changed = day >= REGIME_CHANGE_DAY
    hour = (minutes % 1440) / 60.0 - np.where(changed, 3.0, 0.0)
    weekend = (day % 7) >= 5
    level = business_day(hour % 24) * np.where(weekend, 0.55, 1.0) * np.where(changed, 1.5, 1.0)
    level *= np.exp(_ar1(rng, minutes.size, phi=0.97, sigma=0.06))
    demand = level * rng.lognormal(0.0, 0.08, minutes.size)
    demand += _bursts(rng, level)
    demand += _flash_crowds(rng, level)
    outage = (34 * 1440 + 600) + np.arange(120)
    demand[outage] = np.nan
    return np.asarray(demand * (1000.0 / np.nanmean(demand)), dtype=np.float64)


def _ar1(rng: np.random.Generator, size: int, phi: float, sigma: float) -> FloatArray:
    shocks = rng.normal(0.0, sigma * np.sqrt(1 - phi**2), size)
    out = np.empty(size)
    value = 0.0
    for index, shock in enumerate(shocks):
        value = phi * value + shock
        out[index] = value
    return out


def _bursts(rng: np.random.Generator, level: FloatArray) -> FloatArray:
    extra = np.zeros_like(level)
    starts = np.flatnonzero(rng.random(level.size) < 1 / 60)
    for start in starts:
        size = rng.lognormal(np.log(0.25), 0.8) * level[start]
        ramp, length = int(rng.integers(1, 4)), int(rng.integers(2, 21))
        shape = np.minimum(np.arange(1, length + 1) / ramp, 1.0)
        stop = min(level.size, start + length)
        extra[start:stop] += size * shape[: stop - start]
    return extra


def _flash_crowds(rng: np.random.Generator, level: FloatArray) -> FloatArray:
    extra = np.zeros_like(level)
    starts = np.flatnonzero(rng.random(level.size) < 2 / (7 * 1440))
    steps = np.arange(70)
    for start in starts:
        peak = rng.uniform(0.6, 1.5)
        shape = np.where(steps < 10, steps / 10, np.exp(-(steps - 10) / 20.0)) * peak
        stop = min(level.size, start + steps.size)
        extra[start:stop] += level[start:stop] * shape[: stop - start]
    return extra


def write_csv(path: Path, demand: FloatArray) -> None:
    with path.open("w") as handle:
        handle.write("timestamp,requests_per_second\n")
        for index, value in enumerate(demand):
            if not np.isnan(value):
                when = START + timedelta(minutes=index)
                handle.write(f"{when:%Y-%m-%dT%H:%M:%SZ},{value:.3f}\n")


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "out" / "synthetic-trace.csv"
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    target.parent.mkdir(parents=True, exist_ok=True)
    write_csv(target, synthetic_demand())
    print(f"wrote {target}")
