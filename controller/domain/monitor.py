"""Monitoring after scaling: how a fleet did in the window after an apply."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

FleetHealthStatus = Literal[
    "healthy", "under-provisioned", "over-provisioned", "unhealthy", "no-data"
]
ReadingSource = Literal["cloudwatch", "event-stream"]
HealthCheckOutcome = Literal["ok", "failed", "error"]


@dataclass(frozen=True)
class UtilizationReading:
    """Realized utilization (fraction of capacity, 0.7 = 70 %) from one source."""

    source: ReadingSource
    mean: float | None
    peak: float | None
    samples: int
    detail: str = ""
    """how it was measured, or why there is no value"""


@dataclass(frozen=True)
class HealthCheckResult:
    target: str
    outcome: HealthCheckOutcome
    """ok; failed (the fleet did not answer well); error (the check could not be made, e.g. the
    template names an output Terraform does not have)"""
    detail: str
    latency_ms: float | None = None


@dataclass(frozen=True)
class FleetHealth:
    fleet: str
    plan_id: str
    applied_at: datetime
    window_start: datetime
    window_end: datetime
    window_complete: bool
    checked_at: datetime
    status: FleetHealthStatus
    target_utilization: float
    tolerance: float
    readings: tuple[UtilizationReading, ...]
    reason: str
    requests_per_target_per_s: float | None = None
    health_check: HealthCheckResult | None = None
