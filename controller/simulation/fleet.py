"""A simulated fleet: instances ordered at minute t serve from t + warm-up and are paid from t.

Scale-in cancels instances still booting first (they serve nobody yet), newest first, then
terminates serving ones; both stop being paid at once.

With a warm pool (an EC2 Auto Scaling warm pool, `pool_state = "Stopped"`), the group keeps
instances already initialized and stopped beside it, modelled as AWS documents them
(docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html):
- a scale-out takes stopped pool instances first: one called at t serves from t + warm_start;
  the rest is launched new (a cold start, t + warm-up), as when the pool is empty;
- stopped instances cost `warm_cost` of a running one (their EBS volume); running ones,
  whether serving, booting, waking or being prepared for the pool, are paid in full;
- the pool is refilled by launching new instances into it: they run the whole warm-up (the
  lifecycle: boot, user data, hooks), paid in full, and only then stop: one launched into the
  pool at t can be called from t + warm-up on. Until stopped they cannot be called (they are in `Warmed:Pending`): our choice, the conservative reading of the
  lifecycle, so a burst right after another meets the pool still refilling;
- the pool's size is the group's prepared capacity minus desired (AWS: max size minus
  desired when `max_group_prepared_capacity` is unset), at least the pool's `min_size`;
  beyond it the pool sheds instances still being prepared first, then stopped ones;
- with `reuse_on_scale_in`, instances scaled in out of service (serving or waking) are stopped
  and return to the pool at once; without it they are terminated. Instances scaled in while
  still booting from a cold start are cancelled either way (they never finished the lifecycle).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class WarmPool:
    warm_start_minutes: int = 1
    """from being called to serving (a stopped instance starting, its hooks)"""
    warm_cost: float = 0.05
    """cost of a stopped minute as a share of a running one (a 30 GiB gp3 volume against a
    c6i.large is about 4 %)"""
    reuse_on_scale_in: bool = True
    min_size: int = 0

    def __post_init__(self) -> None:
        if self.warm_start_minutes < 0:
            raise ValueError(f"warm start must be >= 0 minutes, got {self.warm_start_minutes}")
        if not 0.0 <= self.warm_cost <= 1.0:
            raise ValueError(f"warm cost must be between 0 and 1, got {self.warm_cost}")
        if self.min_size < 0:
            raise ValueError(f"warm pool min size must be >= 0, got {self.min_size}")


@dataclass(frozen=True)
class FleetMinute:
    serving: int
    booting: int
    """running but not serving, paid in full: launched cold, waking from the pool, or being
    prepared for the pool"""
    warm: int = 0
    """stopped in the warm pool, paid at the pool's warm cost"""

    @property
    def paid(self) -> int:
        """Instances paid in full (stopped pool instances are not: see `WarmPool.warm_cost`)."""
        return self.serving + self.booting


class SimulatedFleet:
    def __init__(self, warmup_minutes: int, initial: int = 0, pool: WarmPool | None = None) -> None:
        if warmup_minutes < 0:
            raise ValueError(f"warm-up must be >= 0 minutes, got {warmup_minutes}")
        self.warmup = warmup_minutes
        self.pool = pool
        self.serving = initial
        self._booting: deque[int] = deque()  # ready minute of each cold-starting instance
        self._waking: deque[int] = deque()  # ready minute of each instance called from the pool
        self._preparing: deque[int] = deque()  # minute each instance launched into the pool stops
        self.warm = 0

    @property
    def booting(self) -> int:
        return len(self._booting) + len(self._waking) + len(self._preparing)

    @property
    def total(self) -> int:
        """Instances in service (the group's desired capacity once applied)."""
        return self.serving + len(self._booting) + len(self._waking)

    def fill_pool(self, prepared: int) -> None:
        """Start with the pool already full and stopped: no cold start the trace does not show."""
        self.warm = self._pool_target(self.total, prepared)

    def step(self, minute: int, desired: int, prepared: int = 0) -> FleetMinute:
        """Apply the decision taken at `minute`, then let ready instances move on.

        `prepared` is the group's prepared capacity (max size, or the pool's
        `max_group_prepared_capacity`); it only matters with a warm pool.
        """
        desired = max(0, desired)
        self.warm += _pop_ready(self._preparing, minute)  # launched into the pool a warm-up ago
        if desired > self.total:
            self._scale_out(minute, desired - self.total)
        elif desired < self.total:
            self._scale_in(self.total - desired)
        if self.pool is not None:
            self._resize_pool(minute, self._pool_target(desired, prepared))
        self.serving += _pop_ready(self._booting, minute) + _pop_ready(self._waking, minute)
        self.warm += _pop_ready(self._preparing, minute)  # with no warm-up, stopped at once
        return FleetMinute(self.serving, self.booting, self.warm)

    def _scale_out(self, minute: int, count: int) -> None:
        called = min(count, self.warm) if self.pool is not None else 0
        if self.pool is not None:
            self.warm -= called
            self._waking.extend([minute + self.pool.warm_start_minutes] * called)
        self._booting.extend([minute + self.warmup] * (count - called))

    def _scale_in(self, count: int) -> None:
        while count and self._booting:
            self._booting.pop()
            count -= 1
        returned = 0
        while count and self._waking:
            self._waking.pop()
            returned += 1
            count -= 1
        self.serving -= count
        returned += count
        if self.pool is not None and self.pool.reuse_on_scale_in:
            self.warm += returned

    def _pool_target(self, desired: int, prepared: int) -> int:
        if self.pool is None:
            return 0
        return max(self.pool.min_size, prepared - desired)

    def _resize_pool(self, minute: int, target: int) -> None:
        size = self.warm + len(self._preparing)
        if size < target:
            self._preparing.extend([minute + self.warmup] * (target - size))
        excess = size - target
        while excess > 0 and self._preparing:
            self._preparing.pop()
            excess -= 1
        self.warm -= max(excess, 0)


def _pop_ready(ready_minutes: deque[int], minute: int) -> int:
    """Remove the instances whose ready minute has come (the deques are in ready order)."""
    count = 0
    while ready_minutes and ready_minutes[0] <= minute:
        ready_minutes.popleft()
        count += 1
    return count
