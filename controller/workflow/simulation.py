"""Wiring a simulation run: the policies the user asked for, built from the daemon's own parts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from controller.allocation.capacity import FleetRule
from controller.forecasting.pipeline import forecast_series
from controller.simulation.policies import (
    SIMULATED_TYPE,
    Policy,
    PredictivePolicy,
    ReactivePolicy,
    StaticPolicy,
)
from controller.simulation.run import SimulationResult, simulate

POLICIES = ("predictive", "reactive", "static")


@dataclass(frozen=True)
class SimulationSettings:
    capacity_per_instance: float
    warmup: timedelta
    interval: timedelta = timedelta(minutes=5)
    """how often the predictive policy re-forecasts and re-allocates (the daemon's schedule)"""
    reactive_target: float = 0.7
    reactive_stabilization: timedelta = timedelta(minutes=15)
    predictive_target: float = 0.9
    predictive_quantile: float | None = 0.95
    static_count: int | None = None
    min_size: int = 1
    max_size: int = 10_000


def build_policy(
    name: str, settings: SimulationSettings, start: datetime, demand: np.ndarray
) -> Policy:
    def reactive(target: float) -> ReactivePolicy:
        return ReactivePolicy(
            settings.capacity_per_instance,
            target_utilization=target,
            scale_in_stabilization_minutes=_minutes(settings.reactive_stabilization),
            min_size=settings.min_size,
            max_size=settings.max_size,
        )

    if name == "reactive":
        return reactive(settings.reactive_target)
    if name == "static":
        count = settings.static_count
        if (
            count is None
        ):  # sized for the trace's peak: it knows the future, so it is a cost ceiling
            peak = float(np.nanmax(demand)) if np.any(~np.isnan(demand)) else 0.0
            count = max(settings.min_size, math.ceil(peak / settings.capacity_per_instance))
        return StaticPolicy(count)
    if name == "predictive":
        rule = FleetRule(
            name="simulated",
            region="simulated",
            allowed_types=(SIMULATED_TYPE,),
            instance_type=SIMULATED_TYPE,
            target_utilization=settings.predictive_target,
            min_size=settings.min_size,
            max_size=settings.max_size,
            warmup=settings.warmup,
            quantile_label="p95" if settings.predictive_quantile == 0.95 else "mean",
        )
        return PredictivePolicy(
            forecast_series,  # the daemon's forecasting pipeline, nothing simulator-specific
            rule,
            settings.capacity_per_instance,
            start,
            safety_net=reactive(settings.predictive_target),
            reforecast_minutes=_minutes(settings.interval),
            quantile=settings.predictive_quantile,
        )
    raise ValueError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}")


def run_policy(
    name: str, settings: SimulationSettings, start: datetime, demand: np.ndarray
) -> SimulationResult:
    policy = build_policy(name, settings, start, demand)
    return simulate(demand, policy, warmup_minutes=_minutes(settings.warmup))


def _minutes(duration: timedelta) -> int:
    return int(duration / timedelta(minutes=1))
