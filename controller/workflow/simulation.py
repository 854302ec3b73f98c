"""Wiring a simulation run: the policies the user asked for, built from the daemon's own parts."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypedDict

import numpy as np

from controller.allocation.capacity import FleetRule
from controller.forecasting.rolling import RollingForecaster
from controller.simulation.aws_predictive import AwsPredictivePolicy
from controller.simulation.fleet import WarmPool
from controller.simulation.frontier import SweepPoint
from controller.simulation.policies import (
    SIMULATED_TYPE,
    Policy,
    PredictivePolicy,
    PredictiveWarmPolicy,
    ReactivePolicy,
    ReactiveWarmPolicy,
    StaticPolicy,
)
from controller.simulation.run import SimulationResult, simulate

POLICIES = (
    "predictive",
    "predictive-warm",
    "reactive",
    "reactive-warm",
    "aws-predictive",
    "static",
)


@dataclass(frozen=True)
class SimulationSettings:
    capacity_per_instance: float
    warmup: timedelta
    interval: timedelta = timedelta(minutes=5)
    """how often the predictive policy re-forecasts and re-allocates (the daemon's schedule)"""
    reactive_target: float = 0.7
    reactive_stabilization: timedelta = timedelta(minutes=15)
    predictive_target: float = 0.9
    predictive_stabilization: timedelta = timedelta(minutes=15)
    """how long the predictive policy holds capacity after demand falls: the allocator's
    scale-in stabilization, the window of observed load it never plans below, and its safety
    net's scale-in window (reactive keeps AWS's 15 minutes, `reactive_stabilization`)"""
    predictive_carry_scale_in: bool = True
    """start each re-plan's scale-in step limit (10% per 5-minute step) from the plan in force,
    so it holds across re-plans (False: within one plan only, as the daemon still does; with
    re-planning every 5 minutes the limit then never binds). Chosen on July of the NASA trace
    only, with the quantile and the window, see docs/simulation.md"""
    predictive_quantile: float | None = None
    """the forecast level allocated for: None = the point forecast (the burst headroom then
    carries the risk), or a band such as 0.95"""
    burst_quantile: float | None = 0.97
    """share of past minutes the learned burst headroom would have covered (None: no headroom);
    chosen on July of the NASA trace only, see docs/simulation.md"""
    reselect: timedelta = timedelta(hours=6)
    """how often the predictive policy re-runs the automatic model choice; in between it
    forwards the chosen models' fitted parameters over the newer history (RollingForecaster)"""
    static_count: int | None = None
    warm_start: timedelta = timedelta(minutes=1)
    """from a warm pool instance being called to its serving (a stopped instance starting)"""
    warm_cost: float = 0.05
    """cost of a minute stopped in a warm pool as a share of a running one: its EBS volume (a
    30 GiB gp3 volume against a c6i.large is about 4 %)"""
    min_size: int = 1
    max_size: int = 10_000


def build_policy(
    name: str, settings: SimulationSettings, start: datetime, demand: np.ndarray
) -> Policy:
    def reactive(target: float, stabilization: timedelta | None = None) -> ReactivePolicy:
        return ReactivePolicy(
            settings.capacity_per_instance,
            target_utilization=target,
            scale_in_stabilization_minutes=_minutes(
                settings.reactive_stabilization if stabilization is None else stabilization
            ),
            min_size=settings.min_size,
            max_size=settings.max_size,
        )

    if name == "reactive":
        return reactive(settings.reactive_target)
    # AWS's warm pool defaults but reuse on scale-in, which the baseline asks for
    pool = WarmPool(warm_start_minutes=_minutes(settings.warm_start), warm_cost=settings.warm_cost)
    if name == "reactive-warm":
        return ReactiveWarmPolicy(reactive(settings.reactive_target), pool)
    if name == "aws-predictive":
        # AWS predictive scaling's schedule with the same target as its target tracking policy
        return AwsPredictivePolicy(reactive(settings.reactive_target), start)
    if name == "static":
        count = settings.static_count
        if (
            count is None
        ):  # sized for the trace's peak: it knows the future, so it is a cost ceiling
            peak = float(np.nanmax(demand)) if np.any(~np.isnan(demand)) else 0.0
            count = max(settings.min_size, math.ceil(peak / settings.capacity_per_instance))
        return StaticPolicy(count)
    if name in ("predictive", "predictive-warm"):
        rule = FleetRule(
            name="simulated",
            region="simulated",
            allowed_types=(SIMULATED_TYPE,),
            instance_type=SIMULATED_TYPE,
            target_utilization=settings.predictive_target,
            min_size=settings.min_size,
            max_size=settings.max_size,
            warmup=settings.warmup,
            quantile_label=_quantile_label(settings),
            scale_in_stabilization=settings.predictive_stabilization,
        )
        # the daemon's automatic model choice, re-run every `reselect`, forwarded in between
        forecaster = RollingForecaster(max(1, int(settings.reselect / settings.interval)))
        net = reactive(settings.predictive_target, settings.predictive_stabilization)
        options: _PredictiveOptions = {
            "reforecast_minutes": _minutes(settings.interval),
            "quantile": settings.predictive_quantile,
            "burst_quantile": settings.burst_quantile,
            "carry_scale_in": settings.predictive_carry_scale_in,
        }
        if name == "predictive-warm":
            return PredictiveWarmPolicy(
                forecaster, rule, settings.capacity_per_instance, start, net, pool, **options
            )
        return PredictivePolicy(
            forecaster, rule, settings.capacity_per_instance, start, net, **options
        )
    raise ValueError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}")


class _PredictiveOptions(TypedDict):
    reforecast_minutes: int
    quantile: float | None
    burst_quantile: float | None
    carry_scale_in: bool


def run_policy(
    name: str, settings: SimulationSettings, start: datetime, demand: np.ndarray
) -> SimulationResult:
    policy = build_policy(name, settings, start, demand)
    return simulate(demand, policy, warmup_minutes=_minutes(settings.warmup))


def _minutes(duration: timedelta) -> int:
    return int(duration / timedelta(minutes=1))


def _quantile_label(settings: SimulationSettings) -> str:
    level = (
        "mean"
        if settings.predictive_quantile is None
        else f"p{settings.predictive_quantile * 100:g}"
    )
    if settings.burst_quantile is None:
        return level
    return f"{level} + q{settings.burst_quantile:g} burst headroom"


PREDICTIVE_SWEEP: tuple[float | None, ...] = (None, 0.9, 0.95, 0.97, 0.99, 0.995)
"""predictive's burst quantile (None: no burst headroom), the setting that trades its drops for
instance-minutes: the headroom covers this share of past minutes"""
REACTIVE_SWEEP = (0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
"""the target utilizations reactive and reactive-warm are swept over"""
PREDICTIVE_POLICIES = ("predictive", "predictive-warm")
"""ours, each swept over the burst quantile; predictive-warm is predictive with a warm pool
sized by the daemon's `size_warm_pool`"""
BASELINES = ("reactive", "reactive-warm", "aws-predictive")
"""the policies a user would otherwise pick, swept over their target utilization"""


@dataclass(frozen=True)
class SweepRun:
    policy: str
    setting: str
    """the swept setting as a user would pass it: --burst-quantile (or 'off'), --reactive-target"""
    settings: SimulationSettings


def sweep_runs(settings: SimulationSettings) -> list[SweepRun]:
    """Every run of a sweep; the other settings (hold, warm cost, ...) stay the user's."""
    runs = [
        SweepRun(
            name,
            "off" if quantile is None else f"{quantile:g}",
            replace(settings, burst_quantile=quantile),
        )
        for name in PREDICTIVE_POLICIES
        for quantile in PREDICTIVE_SWEEP
    ]
    for name in BASELINES:
        runs += [
            SweepRun(name, f"{target:g}", replace(settings, reactive_target=target))
            for target in REACTIVE_SWEEP
        ]
    return runs


def run_sweep(
    runs: list[SweepRun],
    start: datetime,
    demand: np.ndarray,
    progress: Callable[[int, SweepRun], None] = lambda done, run: None,
) -> list[SweepPoint]:
    """Simulate each run; `progress(i, run)` is called before the i-th (from 0)."""
    points = []
    for index, run in enumerate(runs):
        progress(index, run)
        metrics = run_policy(run.policy, run.settings, start, demand).metrics(
            run.settings.capacity_per_instance
        )
        points.append(
            SweepPoint(run.policy, run.setting, metrics.instance_minutes, metrics.dropped_share)
        )
    return points
