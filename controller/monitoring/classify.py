"""Is the fleet healthy, under- or over-provisioned against its target utilization?

Utilization is a fraction of capacity (0.7 = 70 %). The band is target +- tolerance: above it the
fleet runs hotter than planned (under-provisioned), below it colder (over-provisioned). CloudWatch
measures the instances themselves, so it decides when it has datapoints; the event stream's
measured CPU decides otherwise. A failed health check makes the fleet unhealthy whatever its
utilization.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from controller.domain.monitor import (
    FleetHealthStatus,
    HealthCheckResult,
    ReadingSource,
    UtilizationReading,
)
from controller.domain.series import FloatArray

PREFERENCE: tuple[ReadingSource, ...] = ("cloudwatch", "event-stream")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    complete: bool


def watch_window(applied_at: datetime, now: datetime, length: timedelta) -> Window | None:
    """[applied_at, min(applied_at + length, now)); None before the apply (clock went back)."""
    if now <= applied_at:
        return None
    end = min(applied_at + length, now)
    return Window(applied_at, end, complete=now >= applied_at + length)


def classify(
    readings: Sequence[UtilizationReading],
    target: float,
    tolerance: float,
    health: HealthCheckResult | None = None,
) -> tuple[FleetHealthStatus, str]:
    if health is not None and health.outcome == "failed":
        return "unhealthy", f"health check {health.target} failed: {health.detail}"
    by_source = {r.source: r for r in readings}
    for source in PREFERENCE:
        reading = by_source.get(source)
        if reading is None or reading.mean is None:
            continue
        mean = reading.mean
        band = f"target {target:.0%} +- {tolerance:.0%}"
        said = f"{source} utilization {_pct(mean)} (peak {_pct(reading.peak)})"
        if mean > round(target + tolerance, 9):  # 0.7 + 0.1 is 0.7999...: no float edge
            return "under-provisioned", f"{said} is above {band}"
        if mean < round(target - tolerance, 9):
            return "over-provisioned", f"{said} is below {band}"
        return "healthy", f"{said} is within {band}"
    missing = "; ".join(f"{r.source}: {r.detail}" for r in readings if r.detail) or "no sources"
    return "no-data", f"no utilization measured in the window ({missing})"


def utilization_from_use(
    used: FloatArray, capacity: FloatArray, detail: str = ""
) -> UtilizationReading:
    """Event-stream reading: `used` vCPUs busy per bucket (NaN = the stream has a gap there),
    `capacity` vCPUs the fleet had per bucket. Mean is total use over total capacity."""
    seen = ~np.isnan(used) & (capacity > 0)
    if not np.any(seen):
        return UtilizationReading(
            "event-stream", None, None, 0, detail or "no events covered the window"
        )
    ratio = used[seen] / capacity[seen]
    return UtilizationReading(
        "event-stream",
        round(float(np.sum(used[seen]) / np.sum(capacity[seen])), 4),
        round(float(np.max(ratio)), 4),
        int(np.sum(seen)),
        detail,
    )


def _pct(value: float | None) -> str:
    """Whole percents, one decimal below 10 % (so 0.4 % does not read as 0 %)."""
    if value is None:
        return "n/a"
    return f"{value:.1%}" if value < 0.1 else f"{value:.0%}"
