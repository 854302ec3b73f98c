"""What the allocator decided for a fleet, with the reason for every number."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ScheduledAction:
    """A change of desired capacity AWS applies by itself at `start` (UTC)."""

    name: str
    start: datetime
    desired: int
    min_size: int
    max_size: int


@dataclass(frozen=True)
class FleetAllocation:
    fleet: str
    region: str
    instance_type: str
    desired_now: int
    min_size: int
    max_size: int
    desired_per_step: tuple[int, ...]
    scheduled_actions: tuple[ScheduledAction, ...]
    lb_capacity_units: int
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def peak(self) -> int:
        return max(self.desired_per_step, default=self.desired_now)
