"""How long the predictive policy holds capacity: its stabilization window and scale-in carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from controller.allocation.capacity import FleetRule
from controller.domain.forecast import Forecast
from controller.domain.series import Series
from controller.simulation.policies import (
    SIMULATED_TYPE,
    PredictivePolicy,
    ReactivePolicy,
)
from controller.simulation.run import simulate
from controller.workflow.simulation import SimulationSettings, build_policy, run_policy

START = datetime(2026, 11, 2, tzinfo=UTC)
BASE, BURST = 450.0, 1800.0  # at C = 50 and 90%: 10 instances, and 40 in the burst
BURST_MINUTES = range(120, 123)


def flat_forecast(history: Series, horizon: int) -> Forecast:
    origin = history.start + history.step * len(history.values)
    return Forecast("demand", origin, history.step, np.full(horizon, BASE))


def policy(window_minutes: int, carry: bool = False) -> PredictivePolicy:
    rule = FleetRule(
        name="simulated",
        region="simulated",
        allowed_types=(SIMULATED_TYPE,),
        instance_type=SIMULATED_TYPE,
        target_utilization=0.9,
        min_size=1,
        max_size=1000,
        warmup=timedelta(minutes=5),
        quantile_label="mean",
        scale_in_stabilization=timedelta(minutes=window_minutes),
    )
    return PredictivePolicy(
        flat_forecast,
        rule,
        50.0,
        START,
        safety_net=ReactivePolicy(50.0, 0.9, window_minutes),
        reforecast_minutes=5,
        quantile=None,
        burst_quantile=0.97,
        carry_scale_in=carry,
    )


def burst_demand() -> np.ndarray:
    demand = np.full(240, BASE)
    demand[list(BURST_MINUTES)] = BURST
    return demand


def test_burst_capacity_is_released_after_the_shorter_window() -> None:
    short = simulate(burst_demand(), policy(5), warmup_minutes=5).desired
    long = simulate(burst_demand(), policy(15), warmup_minutes=5).desired
    assert short[120] == long[120] == 40  # the safety net scales out at once either way
    # 5 minutes: the net lets go after 5 quieter minutes, the plan after its 5-minute step
    assert short[127] < 40
    assert np.all(short[130:180] == 10)
    # 15 minutes: the net holds the burst's 40 for 15 minutes after it
    assert np.all(long[120:137] == 40)
    assert short[:180].sum() < long[:180].sum()


def test_the_scale_in_step_limit_carries_across_re_plans_when_asked() -> None:
    free = simulate(burst_demand(), policy(5), warmup_minutes=5).desired
    carried = simulate(burst_demand(), policy(5, carry=True), warmup_minutes=5).desired
    # the plan in force at minute 129 was 28 (the burst's 5-minute mean over 45 rps each)
    assert free[129] == carried[129] == 28
    assert free[130] == 10
    assert carried[130] == 26  # 28 minus 10% (at least one) per 5-minute step
    assert carried[135] == 24
    assert np.all(np.diff(carried[125:180]) <= 0)


def test_the_settings_reach_the_allocator_and_the_safety_net_but_not_reactive() -> None:
    settings = SimulationSettings(
        capacity_per_instance=50,
        warmup=timedelta(minutes=5),
        predictive_stabilization=timedelta(minutes=5),
        predictive_carry_scale_in=True,
    )
    demand = burst_demand()
    predictive = build_policy("predictive", settings, START, demand)
    reactive = build_policy("reactive", settings, START, demand)
    assert isinstance(predictive, PredictivePolicy)
    assert isinstance(reactive, ReactivePolicy)
    assert predictive.rule.scale_in_stabilization == timedelta(minutes=5)
    assert predictive.safety_net.window == 5
    assert predictive.carry_scale_in
    assert reactive.window == 15  # AWS's documented window, whatever predictive does


def test_no_look_ahead_with_a_short_window_and_carried_scale_in() -> None:
    rng = np.random.default_rng(4)
    minutes = np.arange(2 * 1440)
    demand = (500 + 400 * np.sin(2 * np.pi * minutes / 1440)) * rng.lognormal(0, 0.2, minutes.size)
    demand[rng.choice(minutes.size, 40, replace=False)] *= 3  # one-minute bursts
    settings = SimulationSettings(
        capacity_per_instance=50,
        warmup=timedelta(minutes=5),
        predictive_stabilization=timedelta(minutes=5),
        predictive_carry_scale_in=True,
    )
    cut = 2 * 1440 - 500
    full = run_policy("predictive", settings, START, demand)
    truncated = run_policy("predictive", settings, START, demand[:cut])
    assert np.array_equal(full.desired[:cut], truncated.desired)
