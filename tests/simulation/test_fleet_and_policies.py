"""Simulated time: warm-up, billing, the baselines' documented behaviour, and no look-ahead."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from controller.simulation.fleet import SimulatedFleet
from controller.simulation.policies import ReactivePolicy, StaticPolicy
from controller.simulation.run import simulate
from controller.workflow.simulation import SimulationSettings, build_policy, run_policy

START = datetime(2026, 11, 2, tzinfo=UTC)


def test_instances_ordered_at_t_serve_from_t_plus_warmup_and_are_paid_from_t() -> None:
    fleet = SimulatedFleet(warmup_minutes=3, initial=2)
    states = [fleet.step(t, 5 if t >= 1 else 2) for t in range(6)]
    assert [(s.serving, s.booting) for s in states] == [
        (2, 0),
        (2, 3),
        (2, 3),
        (2, 3),
        (5, 0),
        (5, 0),
    ]
    assert [s.paid for s in states] == [2, 5, 5, 5, 5, 5]


def test_scale_in_cancels_booting_instances_first_then_stops_serving_ones() -> None:
    fleet = SimulatedFleet(warmup_minutes=5, initial=4)
    fleet.step(0, 7)  # three booting
    state = fleet.step(1, 5)
    assert (state.serving, state.booting) == (4, 1)
    state = fleet.step(2, 2)
    assert (state.serving, state.booting) == (2, 0)


def test_zero_warmup_serves_in_the_minute_it_is_ordered() -> None:
    fleet = SimulatedFleet(warmup_minutes=0, initial=1)
    assert fleet.step(0, 4).serving == 4


def test_reactive_scales_out_at_once_to_demand_over_target() -> None:
    policy = ReactivePolicy(capacity_per_instance=10, target_utilization=0.5, min_size=1)
    assert policy.decide(0, 12.0) == 3  # 12 / (10 x 0.5) = 2.4 -> 3
    assert policy.decide(1, 41.0) == 9


def test_reactive_scales_in_only_after_the_whole_stabilization_window_wants_less() -> None:
    policy = ReactivePolicy(
        capacity_per_instance=10, target_utilization=1.0, scale_in_stabilization_minutes=3
    )
    decisions = [policy.decide(t, d) for t, d in enumerate([50, 10, 30, 10, 10, 10, 10])]
    # wants: 5,1,3,1,1,1,1. At t=3 the last three minutes (1,3,1) all want less than 5: go to
    # their max, 3. At t=5 the window (1,1,1) wants less than 3: go to 1.
    assert decisions == [5, 5, 5, 3, 3, 1, 1]


def test_reactive_holds_its_count_through_a_gap_without_data() -> None:
    policy = ReactivePolicy(
        capacity_per_instance=10, target_utilization=1.0, scale_in_stabilization_minutes=1
    )
    assert [policy.decide(t, d) for t, d in enumerate([40.0, math.nan, math.nan, 10.0])] == [
        4,
        4,
        4,
        1,
    ]


def test_static_policy_keeps_its_count_and_defaults_to_the_trace_peak() -> None:
    assert StaticPolicy(7).decide(0, 1e6) == 7
    demand = np.array([10.0, np.nan, 95.0, 20.0])
    policy = build_policy(
        "static", SimulationSettings(capacity_per_instance=10, warmup=timedelta(0)), START, demand
    )
    assert policy.decide(0, 10.0) == 10


def daily_demand(days: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    minutes = np.arange(days * 1440)
    base = 500 + 400 * np.sin(2 * np.pi * (minutes % 1440) / 1440)
    return base * rng.lognormal(0, 0.1, minutes.size)


def test_the_predictive_policy_never_looks_ahead() -> None:
    demand = daily_demand(3)
    demand[2000:2100] = np.nan  # a gap in the middle
    cut = 3 * 1440 - 700
    settings = SimulationSettings(capacity_per_instance=50, warmup=timedelta(minutes=5))
    full = run_policy("predictive", settings, START, demand)
    truncated = run_policy("predictive", settings, START, demand[:cut])
    assert np.array_equal(full.desired[:cut], truncated.desired)
    assert np.array_equal(full.serving[:cut], truncated.serving)


def test_the_predictive_policy_orders_capacity_before_a_daily_ramp_that_reactive_meets_late() -> (
    None
):
    days = 4
    minutes = np.arange(days * 1440)
    demand = np.where(
        (minutes % 1440 >= 600) & (minutes % 1440 < 720), 1000.0, 100.0
    )  # daily 2h step
    settings = SimulationSettings(capacity_per_instance=50, warmup=timedelta(minutes=10))
    predictive = run_policy("predictive", settings, START, demand)
    reactive = run_policy("reactive", settings, START, demand)
    last_ramp = (days - 1) * 1440 + 600
    assert predictive.serving[last_ramp] >= 20  # 1000 / 50, ready when the ramp starts
    assert reactive.serving[last_ramp] < 20
    assert predictive.metrics(50).dropped_share < reactive.metrics(50).dropped_share


@pytest.mark.parametrize("policy", ["predictive", "reactive", "static"])
def test_every_policy_reports_one_row_per_minute(policy: str) -> None:
    demand = daily_demand(1)[:300]
    result = run_policy(
        policy,
        SimulationSettings(capacity_per_instance=50, warmup=timedelta(minutes=5)),
        START,
        demand,
    )
    assert len(result.serving) == len(result.booting) == len(result.desired) == 300
    assert (result.serving >= 0).all() and (result.booting >= 0).all()


def test_simulate_starts_warm_at_the_first_decision() -> None:
    result = simulate(np.array([100.0, 100.0]), StaticPolicy(3), warmup_minutes=5)
    assert list(result.serving) == [3, 3] and list(result.booting) == [0, 0]
