"""The reactive-with-warm-pool baseline: AWS target tracking with a warm pool as documented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from controller.simulation.fleet import WarmPool
from controller.simulation.policies import ReactivePolicy, ReactiveWarmPolicy
from controller.workflow.simulation import POLICIES, SimulationSettings, run_policy

START = datetime(2026, 11, 2, tzinfo=UTC)


def test_max_size_is_the_peak_need_of_the_trailing_window_before_the_minute() -> None:
    policy = ReactiveWarmPolicy(
        ReactivePolicy(50, target_utilization=0.7, scale_in_stabilization_minutes=1),
        WarmPool(),
        max_size_window_minutes=10,
    )
    prepared = []
    for minute, demand in enumerate([700.0] + [35.0] * 11):  # needs 20, then 1
        policy.decide(minute, demand)
        prepared.append(policy.prepared_capacity())
    # minute 0 is in the window of minutes 1..10 (each sees the ten minutes before it), not 11
    assert prepared == [20] * 11 + [1]


def test_reactive_warm_drops_fewer_requests_than_reactive_on_a_step_at_a_cost_counting_its_pool() -> (
    None
):
    # C = 50 at 70 %: 700 rps needs 20 instances, 140 needs 4. High for 100 minutes, low for
    # 100, then a step back up. Reactive boots 16 for the 5-minute warm-up, short of 500 rps
    # (700 - 4 x 50) each minute; reactive-warm calls them from its pool, short for 1 minute.
    demand = np.array([700.0] * 100 + [140.0] * 100 + [700.0] * 30)
    settings = SimulationSettings(capacity_per_instance=50, warmup=timedelta(minutes=5))
    reactive = run_policy("reactive", settings, START, demand).metrics(50)
    warm_run = run_policy("reactive-warm", settings, START, demand)
    warm = warm_run.metrics(50)
    assert reactive.dropped_requests == pytest.approx(500 * 60 * 5)
    assert warm.dropped_requests == pytest.approx(500 * 60 * 1)
    # reactive scales in to 4 at minute 114 (15 minutes wanting 4); the 16 stay stopped
    # from then to the step at 200
    assert warm.warm_instance_minutes == 16 * (200 - 114)
    paid_in_full = int((warm_run.serving + warm_run.booting).sum())
    assert warm.instance_minutes == pytest.approx(paid_in_full + 0.05 * 16 * 86)
    assert paid_in_full == reactive.instance_minutes  # the same desired at every minute


def test_the_warm_settings_reach_the_simulated_pool() -> None:
    demand = np.array([700.0] * 30 + [140.0] * 30 + [700.0] * 5)
    settings = SimulationSettings(
        capacity_per_instance=50,
        warmup=timedelta(minutes=5),
        warm_start=timedelta(minutes=3),
        warm_cost=0.2,
    )
    result = run_policy("reactive-warm", settings, START, demand)
    assert result.warm_cost == 0.2
    assert list(result.serving[60:64]) == [4, 4, 4, 20]  # called at 60, serving at 63


def test_reactive_warm_is_a_policy_compare_can_run() -> None:
    assert "reactive-warm" in POLICIES
