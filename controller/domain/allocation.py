"""What the allocator decided for a fleet, with the reason for every number."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class ScheduledAction:
    """A change of desired capacity AWS applies by itself at `start` (UTC)."""

    name: str
    start: datetime
    desired: int
    min_size: int
    max_size: int


@dataclass(frozen=True)
class TargetTracking:
    """The reactive safety net between scheduled actions (aws_autoscaling_policy)."""

    metric: str = "ASGAverageCPUUtilization"
    target_value: float = 70.0
    warmup_seconds: int = 300


@dataclass(frozen=True)
class WarmPool:
    """Instances kept stopped (or hibernated) beside the group (aws_autoscaling_group.warm_pool).

    AWS keeps max(min_size, max_group_prepared_capacity - desired) instances in the pool."""

    pool_state: str
    """'Stopped' or 'Hibernated'"""
    min_size: int
    max_group_prepared_capacity: int
    reuse_on_scale_in: bool = True
    billed_gib: float | None = None
    """EBS GiB one warm instance pays for (its root volume, plus its RAM when hibernated)"""
    usd_per_gib_month: float | None = None

    def size_at(self, desired: int) -> int:
        """Instances waiting in the pool while the group's desired capacity is `desired`."""
        return max(self.min_size, self.max_group_prepared_capacity - desired)

    def cost_per_hour(self, desired: int) -> float | None:
        """A stopped or hibernated instance pays for its volumes, not for the instance (730
        hours a month, as the review's other monthly figures); None without a price."""
        if self.billed_gib is None or self.usd_per_gib_month is None:
            return None
        return self.size_at(desired) * self.billed_gib * self.usd_per_gib_month / HOURS_PER_MONTH


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
    load_balancer: str = ""
    """name of the load balancer (modules/edge) in front of the fleet; "" = its own"""
    target_tracking: TargetTracking = field(default_factory=TargetTracking)
    price_per_hour: float | None = None
    """on-demand USD per instance-hour in the fleet's region; None when no cited price"""
    warm_pool: WarmPool | None = None
    """None: the fleet has no warm pool"""

    @property
    def peak(self) -> int:
        return max(self.desired_per_step, default=self.desired_now)

    @property
    def lb_name(self) -> str:
        return self.load_balancer or self.fleet

    @property
    def cost_per_hour(self) -> float | None:
        return None if self.price_per_hour is None else self.desired_now * self.price_per_hour


@dataclass(frozen=True)
class LoadBalancerAllocation:
    """One ALB: its LCU reservation and how it splits traffic across the fleets behind it."""

    name: str
    region: str
    capacity_units: int
    weights: dict[str, int]
    reasons: tuple[str, ...] = field(default_factory=tuple)
