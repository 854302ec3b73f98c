"""Scaling policies for the simulator. Each sees demand one minute at a time, so none can look ahead.

- StaticPolicy: a fixed count.
- ReactivePolicy: target tracking as AWS documents it for a one-minute metric: desired =
  ceil(demand / (C x target)); scale out at once; scale in only after every minute of the
  stabilization window wanted less, then to the highest count the window wanted.
- ReactiveWarmPolicy: the same target tracking with an EC2 warm pool as AWS documents it: the
  pool holds the group's max size minus desired, stopped; scale-outs take pool instances first;
  scaled-in instances return to the pool. Max size as an operator would set it: the trailing
  week's peak need at the target utilization.
- PredictivePolicy: the daemon's path: forecast the 5-minute demand, allocate with warm-up lead
  (controller.allocation), re-forecast on a schedule, and keep a reactive safety net; optionally
  with burst headroom learned from the policy's own past (controller.allocation.headroom).
- PredictiveWarmPolicy: the same with a warm pool whose prepared capacity, at each re-plan, is
  the daemon's own sizing (controller.allocation.warm_pool.size_warm_pool, through `allocate`)
  fed with the policy's forecast at its top stored quantile.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import numpy as np

from controller.allocation.capacity import FleetRule, allocate
from controller.allocation.catalog import Catalog, InstanceType
from controller.allocation.demand import FleetDemand
from controller.allocation.headroom import NO_HEADROOM, learn_headroom
from controller.allocation.warm_pool import WarmPoolRule, burst_quantile
from controller.domain.forecast import Forecast
from controller.domain.series import FloatArray, Series
from controller.simulation.fleet import WarmPool


class Policy(Protocol):
    name: str

    def decide(self, minute: int, demand_rps: float) -> int:
        """Desired instances after seeing minute `minute`'s demand (NaN in a gap)."""
        ...


@runtime_checkable
class WarmPoolPolicy(Policy, Protocol):
    """A policy whose group keeps a warm pool beside it."""

    warm_pool: WarmPool

    def prepared_capacity(self) -> int:
        """The group's prepared capacity after the last decision: the pool holds it minus desired."""
        ...


@dataclass
class StaticPolicy:
    count: int
    name: str = "static"

    def decide(self, minute: int, demand_rps: float) -> int:
        return self.count


class ReactivePolicy:
    name = "reactive"

    def __init__(
        self,
        capacity_per_instance: float,
        target_utilization: float = 0.7,
        scale_in_stabilization_minutes: int = 15,
        min_size: int = 1,
        max_size: int = 10_000,
    ) -> None:
        self.per_instance = capacity_per_instance * target_utilization
        self.window = max(1, scale_in_stabilization_minutes)
        self.min_size, self.max_size = min_size, max_size
        self.desired = min_size
        self._wanted: deque[int] = deque(maxlen=self.window)

    def wanted(self, demand_rps: float) -> int:
        raw = math.ceil(round(demand_rps / self.per_instance, 9))
        return min(self.max_size, max(self.min_size, raw))

    def decide(self, minute: int, demand_rps: float) -> int:
        if math.isnan(demand_rps):
            return self.desired  # no metric in a gap: an alarm without data does not act
        want = self.wanted(demand_rps)
        self._wanted.append(want)
        if want > self.desired:
            self.desired = want
        elif len(self._wanted) == self.window and max(self._wanted) < self.desired:
            self.desired = max(self._wanted)
        return self.desired


class ReactiveWarmPolicy:
    """Target tracking (the `ReactivePolicy` given) with a warm pool sized as AWS's default.

    AWS sizes a warm pool without `max_group_prepared_capacity` as the group's max size minus
    desired. The max size is the one an operator would set: the peak need at the target over
    the trailing `max_size_window_minutes` (a week), from minutes before the current one only,
    never below the current desired. It sizes the pool and is not a cap on desired, so this
    baseline differs from `reactive` by the pool alone.
    """

    name = "reactive-warm"

    def __init__(
        self,
        target_tracking: ReactivePolicy,
        warm_pool: WarmPool,
        max_size_window_minutes: int = 7 * 1440,
    ) -> None:
        self.target_tracking = target_tracking
        self.warm_pool = warm_pool
        self.window = max(1, max_size_window_minutes)
        self._peaks: deque[tuple[int, int]] = deque()  # (minute, need): needs falling, for the max
        self._max_size = target_tracking.min_size

    def decide(self, minute: int, demand_rps: float) -> int:
        while self._peaks and self._peaks[0][0] < minute - self.window:
            self._peaks.popleft()
        trailing_peak = self._peaks[0][1] if self._peaks else 0
        desired = self.target_tracking.decide(minute, demand_rps)
        self._max_size = max(trailing_peak, desired)
        if not math.isnan(demand_rps):  # seen from the next minute on: the window is the past
            need = self.target_tracking.wanted(demand_rps)
            while self._peaks and self._peaks[-1][1] <= need:
                self._peaks.pop()
            self._peaks.append((minute, need))
        return desired

    def prepared_capacity(self) -> int:
        return self._max_size


ForecastFn = Callable[[Series, int], Forecast]
"""(history of 5-minute mean demand in rps with NaN gaps, horizon in steps) -> Forecast"""


SIMULATED_TYPE = "simulated"


def unit_catalog() -> Catalog:
    """One instance type whose CPU capacity is 1 unit = C requests per second (demand is rps / C)."""
    unit = InstanceType(
        SIMULATED_TYPE, vcpu=1, memory_mib=1, network_mbps=1, ebs_iops=1, architecture="any"
    )
    return Catalog({SIMULATED_TYPE: unit}, prices_source="none (simulation)", prices_date="")


class PredictivePolicy:
    """The daemon's allocator on a one-resource fleet: capacity is counted in units of C rps.

    Every `reforecast_minutes` it forecasts the 5-minute mean demand and allocates with the
    warm-up as lead time. With `burst_quantile` set, the forecast steps and the observed level
    each get the burst headroom (controller.allocation.headroom) learned from this policy's own
    history: every minute's demand against the level it had planned for that minute a warm-up
    earlier. A reactive safety net scales out at once if demand runs ahead of the plan.
    With `carry_scale_in`, each re-plan's scale-in step limit starts from the plan in force.
    """

    name = "predictive"

    def __init__(
        self,
        forecast: ForecastFn,
        rule: FleetRule,
        capacity_per_instance: float,
        start: datetime,
        safety_net: ReactivePolicy,
        step_minutes: int = 5,
        reforecast_minutes: int = 15,
        horizon_minutes: int = 240,
        history_minutes: int = 28 * 1440,
        quantile: float | None = 0.95,
        burst_quantile: float | None = None,
        burst_history_minutes: int = 7 * 1440,
        burst_relearn_minutes: int = 60,
        carry_scale_in: bool = False,
    ) -> None:
        self.forecast, self.rule, self.start = forecast, rule, start
        self.capacity = capacity_per_instance
        self.catalog = unit_catalog()
        self.safety_net = safety_net
        self.step = step_minutes
        self.reforecast = max(1, reforecast_minutes)
        self.horizon = max(1, math.ceil(horizon_minutes / step_minutes))
        self.history_steps = max(1, history_minutes // step_minutes)
        self.quantile = quantile
        self.burst_quantile = burst_quantile
        self.burst_relearn = max(1, burst_relearn_minutes)
        self.carry_scale_in = carry_scale_in
        self._in_force: int | None = None
        self.lead_minutes = int(rule.warmup / timedelta(minutes=1))
        window = max(1, int(rule.scale_in_stabilization / timedelta(minutes=1)))
        self._recent: deque[float] = deque(maxlen=window)
        self._recent_blocks: deque[float] = deque(maxlen=max(1, math.ceil(window / step_minutes)))
        pairs = burst_history_minutes + self.lead_minutes
        self._minutes: deque[float] = deque(maxlen=pairs)
        self._bases: deque[float] = deque(maxlen=pairs)
        self.headroom = NO_HEADROOM
        self._base = math.nan
        self._sum = 0.0
        self._count = 0
        self._blocks: list[float] = []
        self._plan: tuple[int, ...] = ()
        self._plan_origin_minute = 0
        self._prepared = 0
        self.forecasts_made = 0

    @property
    def plan(self) -> tuple[int, ...]:
        """Desired capacity per step of the plan in force, from its origin."""
        return self._plan

    def decide(self, minute: int, demand_rps: float) -> int:
        self._observe(minute, demand_rps)
        if minute % self.reforecast == 0 or not self._plan:
            self._replan(minute)
        self._bases.append(self._base)
        if self.burst_quantile is not None and minute % self.burst_relearn == 0:
            self._relearn_headroom(self.burst_quantile)
        net = self.safety_net.decide(minute, demand_rps)
        index = (minute - self._plan_origin_minute) // self.step
        planned = self._plan[min(index, len(self._plan) - 1)] if self._plan else self.rule.min_size
        self._in_force = planned
        return max(planned, net)

    def _observe(self, minute: int, demand_rps: float) -> None:
        self._minutes.append(demand_rps)
        if not math.isnan(demand_rps):
            self._recent.append(demand_rps)
            self._sum += demand_rps
            self._count += 1
        if (minute + 1) % self.step == 0:  # block complete at its last minute
            mean = self._sum / self._count if self._count else math.nan
            self._blocks.append(mean)
            if not math.isnan(mean):
                self._recent_blocks.append(mean)
            self._sum, self._count = 0.0, 0

    def _relearn_headroom(self, quantile: float) -> None:
        """Pair each minute's demand with the base planned a warm-up before it (history only)."""
        minutes = np.asarray(self._minutes, dtype=np.float64)
        bases = np.asarray(self._bases, dtype=np.float64)
        paired = len(minutes) - self.lead_minutes
        if paired > 0:
            self.headroom = learn_headroom(bases[:paired], minutes[self.lead_minutes :], quantile)

    def _observed_level(self) -> float | None:
        """What load observed over the stabilization window needs, in rps.

        Without burst headroom: the busiest minute (the daemon's rule). With it: the busiest
        5-minute mean, since the learned headroom is what covers minutes above a step's level.
        """
        if self.burst_quantile is None:
            return max(self._recent) if self._recent else None
        return max(self._recent_blocks) if self._recent_blocks else None

    def _replan(self, minute: int) -> None:
        """Forecast from the end of the last complete block; the plan covers minutes after it."""
        blocks = np.asarray(self._blocks[-self.history_steps :], dtype=np.float64)
        origin_minute = len(self._blocks) * self.step
        origin = self.start + timedelta(minutes=origin_minute)
        history = Series(
            "demand",
            origin - timedelta(minutes=self.step * len(blocks)),
            timedelta(minutes=self.step),
            blocks,
        )
        forecast = self.forecast(history, self.horizon)
        self.forecasts_made += 1
        level: FloatArray = np.nan_to_num(forecast.level(self.quantile), nan=0.0)
        observed_level = self._observed_level()
        lead_steps = math.ceil(self.lead_minutes / self.step) + 1
        self._base = max(
            float(level[:lead_steps].max()) if level.size else 0.0, observed_level or 0.0
        )
        rps = self.headroom.above(level)
        zeros = np.zeros_like(rps)
        observed = None
        if observed_level is not None:
            needed = float(self.headroom.above(np.array([observed_level]))[0])
            observed = np.array([needed / self.capacity, 0.0, 0.0, 0.0])
        demand = FleetDemand(
            fleet=self.rule.name,
            resources=np.vstack([rps / self.capacity, zeros, zeros, zeros]),
            sessions=rps,
            requests_per_s=rps,
            observed=observed,
        )
        # with carry_scale_in the allocator's scale-in step limit starts from the plan in force,
        # so it holds across re-plans (else each plan's first step is free to drop any amount)
        current = self._in_force if self.carry_scale_in else None
        burst = self._burst(forecast) if self.rule.warm_pool is not None else None
        allocation = allocate(
            self.rule, demand, origin, timedelta(minutes=self.step), self.catalog, current, burst
        )
        self._plan = allocation.desired_per_step
        self._plan_origin_minute = origin_minute
        if allocation.warm_pool is not None:
            self._prepared = allocation.warm_pool.max_group_prepared_capacity

    def _burst(self, forecast: Forecast) -> tuple[str, FleetDemand]:
        """The demand that sizes the warm pool, at the quantile the daemon picks (`burst_quantile`),
        with the same burst headroom on top as the allocated level, so the burst is never below
        the plan."""
        quantile = burst_quantile(forecast.quantiles, self.quantile)
        label = "mean" if quantile is None else f"p{quantile * 100:g}"
        rps = self.headroom.above(np.nan_to_num(forecast.level(quantile), nan=0.0))
        zeros = np.zeros_like(rps)
        return label, FleetDemand(
            fleet=self.rule.name,
            resources=np.vstack([rps / self.capacity, zeros, zeros, zeros]),
            sessions=rps,
            requests_per_s=rps,
            observed=None,  # the burst is read from the forecast alone (warm_pool.py)
        )


class PredictiveWarmPolicy(PredictivePolicy):
    """`PredictivePolicy` with a warm pool beside its group, sized as the daemon sizes it.

    Each re-plan passes the forecast's top stored quantile (with the learned burst headroom) to
    `allocate` as the burst, which calls `size_warm_pool`: max_group_prepared_capacity is the
    plan's desired now plus how far that burst rises above it within one warm-up. The pool holds
    it minus desired (the safety net's scale-outs take pool instances first) until the next
    re-plan. Only the forecast made from data up to the decision sizes it.
    """

    name = "predictive-warm"

    def __init__(
        self,
        forecast: ForecastFn,
        rule: FleetRule,
        capacity_per_instance: float,
        start: datetime,
        safety_net: ReactivePolicy,
        warm_pool: WarmPool,
        **settings: Any,
    ) -> None:
        sizing = WarmPoolRule(
            pool_state="Stopped",
            min_size=warm_pool.min_size,
            max_prepared=None,  # sized from the forecast, as the daemon does when unset
            reuse_on_scale_in=warm_pool.reuse_on_scale_in,
        )
        super().__init__(
            forecast,
            replace(rule, warm_pool=sizing),
            capacity_per_instance,
            start,
            safety_net,
            **settings,
        )
        self.warm_pool = warm_pool

    def prepared_capacity(self) -> int:
        return self._prepared
