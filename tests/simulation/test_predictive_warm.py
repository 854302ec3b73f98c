"""predictive-warm: predictive with a warm pool the daemon's `size_warm_pool` sizes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from controller.allocation.capacity import FleetRule
from controller.allocation.warm_pool import WarmPoolRule, size_warm_pool
from controller.domain.forecast import Forecast
from controller.domain.series import Series
from controller.simulation.fleet import WarmPool
from controller.simulation.policies import (
    SIMULATED_TYPE,
    ForecastFn,
    PredictivePolicy,
    PredictiveWarmPolicy,
    ReactivePolicy,
)
from controller.simulation.run import simulate
from controller.workflow.simulation import POLICIES, SimulationSettings, run_policy
from tests.simulation.test_fleet_and_policies import daily_demand

START = datetime(2026, 11, 2, tzinfo=UTC)
C, TARGET = 50.0, 0.9  # one instance plans for 45 rps


def steady_forecast(mean_rps: float, upper_rps: list[float]) -> ForecastFn:
    """A forecaster that ignores history: `mean_rps` at every step; p97.5 `upper_rps`, its last
    value held to the horizon; p2.5 at half the mean (never the top quantile)."""

    def forecast(history: Series, horizon: int) -> Forecast:
        upper = np.array(upper_rps + [upper_rps[-1]] * max(0, horizon - len(upper_rps)))
        return Forecast(
            "demand",
            history.end,
            history.step,
            np.full(horizon, mean_rps),
            {0.025: np.full(horizon, mean_rps / 2), 0.975: upper[:horizon]},
        )

    return forecast


def rule() -> FleetRule:
    return FleetRule(
        name="simulated",
        region="simulated",
        allowed_types=(SIMULATED_TYPE,),
        instance_type=SIMULATED_TYPE,
        target_utilization=TARGET,
        min_size=1,
        max_size=10_000,
        warmup=timedelta(minutes=5),
        quantile_label="mean",
    )


def policies(mean_rps: float, upper_rps: list[float]) -> tuple[PredictivePolicy, ...]:
    def build(warm: bool) -> PredictivePolicy:
        forecast = steady_forecast(mean_rps, upper_rps)
        net = ReactivePolicy(C, target_utilization=TARGET)
        # plan for the mean, no learned headroom: every number below is hand-computed
        if warm:
            return PredictiveWarmPolicy(
                forecast, rule(), C, START, net, WarmPool(), quantile=None, burst_quantile=None
            )
        return PredictivePolicy(forecast, rule(), C, START, net, quantile=None, burst_quantile=None)

    return build(False), build(True)


def test_the_pool_is_prepared_as_the_daemons_sizing_gives_for_the_policys_forecast() -> None:
    # mean 400 rps needs ceil(400 / 45) = 9; p97.5 is 500 now (12), 900 from the next step (20)
    _, warm = policies(400.0, [500.0, 900.0])
    assert isinstance(warm, PredictiveWarmPolicy)
    warm.decide(0, 400.0)
    burst_need = np.array([12] + [20] * (len(warm.plan) - 1), dtype=np.int64)
    direct = size_warm_pool(
        WarmPoolRule(pool_state="Stopped", min_size=0, max_prepared=None),
        np.array(warm.plan, dtype=np.int64),
        burst_need,
        lead=1,  # a 5-minute warm-up is one 5-minute step
        max_size=10_000,
        burst_label="p97.5",
    )
    assert warm.plan[0] == 9
    assert warm.prepared_capacity() == direct.pool.max_group_prepared_capacity == 20


def test_on_a_step_inside_the_warm_up_the_pool_drops_fewer_requests_at_a_cost_counting_it() -> None:
    # mean 140 rps plans 4 instances; p97.5 700 rps needs 16, so 12 wait stopped. At minute 60
    # demand steps to 700: the safety net orders 16; plain predictive boots 12 for the 5-minute
    # warm-up, 500 rps short (700 - 4 x 50) each minute; the warm pool's 12 serve a minute on.
    demand = np.array([140.0] * 60 + [700.0] * 30)
    plain_policy, warm_policy = policies(140.0, [700.0])
    plain_run = simulate(demand, plain_policy, warmup_minutes=5)
    warm_run = simulate(demand, warm_policy, warmup_minutes=5)
    plain, warm = plain_run.metrics(C), warm_run.metrics(C)
    assert plain.dropped_requests == pytest.approx(500 * 60 * 5)
    assert warm.dropped_requests == pytest.approx(500 * 60 * 1)
    assert warm.warm_instance_minutes == 12 * 60  # stopped from the start until called
    paid_in_full = int((warm_run.serving + warm_run.booting).sum())
    assert paid_in_full == plain.instance_minutes  # the same desired at every minute
    assert warm.instance_minutes == pytest.approx(paid_in_full + 0.05 * 12 * 60)


def test_the_warm_pool_never_looks_ahead() -> None:
    demand = daily_demand(2)
    cut = 2 * 1440 - 500
    settings = SimulationSettings(capacity_per_instance=C, warmup=timedelta(minutes=5))
    full = run_policy("predictive-warm", settings, START, demand)
    truncated = run_policy("predictive-warm", settings, START, demand[:cut])
    assert np.array_equal(full.desired[:cut], truncated.desired)
    assert np.array_equal(full.warm[:cut], truncated.warm)
    assert full.warm.max() > 0 and not math.isnan(full.metrics(C).dropped_share)


def test_predictive_warm_is_a_policy_compare_and_sweep_can_run() -> None:
    assert "predictive-warm" in POLICIES
