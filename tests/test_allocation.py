"""Capacity from forecast demand: the formula, bounds, lead time, and the schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from controller.allocation.capacity import MAX_SCHEDULED_ACTIONS, FleetRule, allocate

ORIGIN = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)


def rule(**overrides: object) -> FleetRule:
    values: dict[str, object] = {
        "name": "web",
        "region": "us-east-1",
        "instance_type": "m6i.large",
        "capacity_per_instance": 10.0,
        "target_utilization": 0.5,
        "min_size": 2,
        "max_size": 50,
        "warmup": timedelta(minutes=5),
        "quantile_label": "p95",
        "lb_capacity_per_unit": 25.0,
    }
    values.update(overrides)
    return FleetRule(**values)  # type: ignore[arg-type]


def test_instances_are_demand_over_capacity_times_utilization_rounded_up() -> None:
    # 23 ev/s / (10 x 0.5) = 4.6 -> 5
    result = allocate(rule(warmup=timedelta(0)), {"shopper": np.full(12, 23.0)}, ORIGIN, STEP)
    assert result.desired_now == 5
    assert set(result.desired_per_step) == {5}


def test_demand_of_personas_sharing_a_fleet_adds_up() -> None:
    result = allocate(
        rule(warmup=timedelta(0)), {"a": np.full(4, 10.0), "b": np.full(4, 15.0)}, ORIGIN, STEP
    )
    assert result.desired_now == 5
    assert "a 10.00" in result.reasons[0] and "b 15.00" in result.reasons[0]


def test_exact_multiples_do_not_round_up_by_float_noise() -> None:
    demand = np.full(3, 0.1 + 0.2) * 10  # 3.0000000000000004
    result = allocate(
        rule(capacity_per_instance=1.0, target_utilization=1.0, min_size=0, warmup=timedelta(0)),
        {"x": demand},
        ORIGIN,
        STEP,
    )
    assert result.desired_now == 3


def test_capacity_is_ordered_a_warmup_ahead_of_the_demand() -> None:
    demand = np.array([0.0, 0.0, 0.0, 50.0, 0.0, 0.0])
    result = allocate(rule(min_size=0, warmup=timedelta(minutes=10)), {"x": demand}, ORIGIN, STEP)
    # 50 ev/s needs 10 instances at step 3; with a 10-minute warm-up they are wanted from step 1.
    assert result.desired_per_step == (0, 10, 10, 10, 0, 0)


def test_bounds_clamp_and_the_reason_says_so() -> None:
    low = allocate(rule(), {"x": np.zeros(3)}, ORIGIN, STEP)
    high = allocate(rule(max_size=4), {"x": np.full(3, 1000.0)}, ORIGIN, STEP)
    assert low.desired_now == 2 and "raised to min_instances 2" in low.reasons
    assert high.desired_now == 4 and any("capped at max_instances 4" in r for r in high.reasons)


def test_missing_forecast_values_count_as_no_demand_not_as_errors() -> None:
    result = allocate(rule(), {"x": np.array([np.nan, 30.0, np.nan])}, ORIGIN, STEP)
    assert result.desired_per_step == (6, 6, 2)


def test_scheduled_actions_fall_on_whole_hours_and_only_where_capacity_changes() -> None:
    hours = 6
    per_hour = np.repeat([10.0, 10.0, 40.0, 40.0, 10.0, 10.0], 12)
    result = allocate(rule(warmup=timedelta(0)), {"x": per_hour[: hours * 12]}, ORIGIN, STEP)
    starts = [(a.start.hour, a.desired) for a in result.scheduled_actions]
    assert starts == [(12, 8), (14, 2)]
    assert all(a.start.minute == 0 for a in result.scheduled_actions)
    assert result.scheduled_actions[0].name == "web-20261102T1200Z"


def test_an_hour_block_is_scheduled_at_its_peak_so_no_step_is_short() -> None:
    demand = np.full(24, 10.0)
    demand[17] = 45.0  # one 5-minute spike inside the 11:00 hour
    result = allocate(rule(warmup=timedelta(0)), {"x": demand}, ORIGIN, STEP)
    (action,) = result.scheduled_actions
    assert action.start.hour == 11 and action.desired == 9


def test_load_balancer_capacity_covers_the_forecast_peak() -> None:
    demand = np.array([10.0, 60.0, 20.0])
    assert allocate(rule(), {"x": demand}, ORIGIN, STEP).lb_capacity_units == 3  # 60 / 25


demand_arrays = st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=600).map(np.array)


@given(demand_arrays, st.integers(0, 20), st.integers(0, 40), st.integers(0, 60))
def test_bounds_always_hold(demand: np.ndarray, low: int, extra: int, warmup_minutes: int) -> None:
    result = allocate(
        rule(min_size=low, max_size=low + extra, warmup=timedelta(minutes=warmup_minutes)),
        {"x": demand},
        ORIGIN,
        STEP,
    )
    assert all(low <= v <= low + extra for v in result.desired_per_step)
    assert all(low <= a.desired <= low + extra for a in result.scheduled_actions)
    assert len(result.scheduled_actions) <= MAX_SCHEDULED_ACTIONS


@given(demand_arrays, st.floats(0, 1e3, allow_nan=False))
def test_more_demand_never_means_fewer_instances(demand: np.ndarray, added: float) -> None:
    base = allocate(rule(), {"x": demand}, ORIGIN, STEP)
    more = allocate(rule(), {"x": demand + added}, ORIGIN, STEP)
    assert all(m >= b for m, b in zip(more.desired_per_step, base.desired_per_step, strict=True))


@given(demand_arrays, st.integers(0, 12))
def test_capacity_at_each_step_covers_the_demand_one_warmup_later(
    demand: np.ndarray, lead: int
) -> None:
    r = rule(min_size=0, max_size=10**6, warmup=STEP * lead)
    result = allocate(r, {"x": demand}, ORIGIN, STEP)
    per_instance = r.capacity_per_instance * r.target_utilization
    for t in range(len(demand)):
        for ahead in range(t, min(len(demand), t + lead + 1)):
            assert result.desired_per_step[t] * per_instance >= demand[ahead] - 1e-6
