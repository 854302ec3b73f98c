"""Capacity from forecast demand: the formula, type choice, timing, bounds and the schedule."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.allocation.capacity import (
    MAX_SCHEDULED_ACTIONS,
    FleetRule,
    allocate,
    choose_type,
)
from controller.allocation.catalog import Catalog, InstanceType, load_catalog
from controller.allocation.demand import FleetDemand

ORIGIN = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
# One test type: 10 vCPU and so much of everything else that cpu alone binds unless a test says.
TEN_CPU = InstanceType("t.ten", 10, 10**9, 10**9, 10**9, "x86_64", {"us-east-1": 1.0})
CATALOG = Catalog({"t.ten": TEN_CPU}, "test", "2026-01-01")


def rule(**overrides: object) -> FleetRule:
    values: dict[str, object] = {
        "name": "web",
        "region": "us-east-1",
        "allowed_types": ("t.ten",),
        "instance_type": "t.ten",
        "target_utilization": 0.5,
        "min_size": 2,
        "max_size": 50,
        "warmup": timedelta(minutes=5),
        "quantile_label": "p95",
        "scale_in_stabilization": timedelta(0),
        "scale_in_rate": 1.0,
    }
    values.update(overrides)
    return FleetRule(**values)  # type: ignore[arg-type]


def cpu_demand(cpu: np.ndarray, observed: float | None = None) -> FleetDemand:
    cpu = np.asarray(cpu, dtype=np.float64)
    zeros = np.zeros_like(cpu)
    return FleetDemand(
        fleet="web",
        resources=np.stack([cpu, zeros, zeros, zeros]),
        sessions=cpu * 10,
        requests_per_s=cpu,
        observed=None if observed is None else np.array([observed, 0.0, 0.0, 0.0]),
    )


def run(r: FleetRule, cpu: np.ndarray, observed: float | None = None) -> tuple[int, ...]:
    return allocate(r, cpu_demand(cpu, observed), ORIGIN, STEP, CATALOG).desired_per_step


def test_instances_are_demand_over_capacity_times_utilization_rounded_up() -> None:
    # 23 vCPU / (10 vCPU x 0.5) = 4.6 -> 5
    result = allocate(
        rule(warmup=timedelta(0)), cpu_demand(np.full(12, 23.0)), ORIGIN, STEP, CATALOG
    )
    assert result.desired_now == 5 and set(result.desired_per_step) == {5}
    assert any(
        "cpu binds: 23.00 vCPU / (10 x 0.5 target utilization) = 5" in r for r in result.reasons
    )


def test_the_resource_that_needs_most_instances_decides() -> None:
    small = InstanceType("t.small", 4, 1000, 100, 1000, "x86_64", {"us-east-1": 1.0})
    catalog = Catalog({"t.small": small}, "test", "2026-01-01")
    demand = FleetDemand(
        "web",
        np.array([[2.0], [4500.0], [10.0], [100.0]]),  # 1 by cpu, 5 by memory (4500/(1000x1))
        np.ones(1),
        np.ones(1),
        None,
    )
    r = rule(
        allowed_types=("t.small",), instance_type="t.small", target_utilization=1.0, min_size=0
    )
    result = allocate(r, demand, ORIGIN, STEP, catalog)
    assert result.desired_now == 5
    assert any(reason.startswith("memory binds") for reason in result.reasons)


def test_exact_multiples_do_not_round_up_by_float_noise() -> None:
    demand = np.full(3, 0.1 + 0.2) * 10  # 3.0000000000000004 vCPU
    assert run(rule(target_utilization=0.1, min_size=0, warmup=timedelta(0)), demand) == (3, 3, 3)


def test_capacity_is_ordered_a_warmup_ahead_of_the_demand() -> None:
    demand = np.array([0.0, 0.0, 0.0, 50.0, 0.0, 0.0])
    # 50 vCPU needs 10 instances at step 3; with a 10-minute warm-up they are wanted from step 1.
    assert run(rule(min_size=0, warmup=timedelta(minutes=10)), demand) == (0, 10, 10, 10, 0, 0)


def test_scale_in_waits_out_the_stabilization_window() -> None:
    demand = np.array([50.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    r = rule(min_size=0, warmup=timedelta(0), scale_in_stabilization=timedelta(minutes=10))
    # 10 needed at step 0; the window of two steps holds 10 through step 2, then it may drop.
    assert run(r, demand) == (10, 10, 10, 0, 0, 0)


def test_scale_in_steps_down_at_a_bounded_rate() -> None:
    demand = np.array([100.0] + [0.0] * 6)
    r = rule(min_size=0, warmup=timedelta(0), scale_in_rate=0.25)
    # 20 -> at most 25% (at least one instance) fewer per step: 20, 15, 12, 9, 7, 6, 5
    assert run(r, demand) == (20, 15, 12, 9, 7, 6, 5)


def test_the_forecast_never_scales_in_below_what_observed_load_needs() -> None:
    demand = np.zeros(6)
    r = rule(min_size=0, warmup=timedelta(0), scale_in_stabilization=timedelta(minutes=10))
    # Observed 42 vCPU over the last 10 minutes needs 9; the window is two steps long.
    result = allocate(r, cpu_demand(demand, observed=42.0), ORIGIN, STEP, CATALOG)
    assert result.desired_per_step == (9, 9, 0, 0, 0, 0)
    assert any("observed load over the last 10m needs 9" in reason for reason in result.reasons)


def test_bounds_clamp_and_the_reason_says_so() -> None:
    low = allocate(rule(), cpu_demand(np.zeros(3)), ORIGIN, STEP, CATALOG)
    high = allocate(rule(max_size=4), cpu_demand(np.full(3, 1000.0)), ORIGIN, STEP, CATALOG)
    assert low.desired_now == 2 and "raised to min_instances 2" in low.reasons
    assert high.desired_now == 4 and any("capped at max_instances 4" in r for r in high.reasons)


def test_increase_max_capacity_raises_max_to_the_forecast_plus_buffer() -> None:
    r = rule(max_size=4, max_capacity_breach="increase", max_capacity_buffer=10.0)
    result = allocate(r, cpu_demand(np.full(3, 100.0)), ORIGIN, STEP, CATALOG)
    assert result.desired_now == 20  # not capped: 100 / 5
    assert result.max_size == 22  # ceil(20 x 1.1)
    assert any("max raised to 22" in reason for reason in result.reasons)


def test_missing_forecast_values_count_as_no_demand_not_as_errors() -> None:
    from controller.allocation.demand import FleetPlacement, PersonaDemand, Profile, fleet_demands

    persona = PersonaDemand(
        "x",
        np.array([np.nan, 30.0, np.nan]),
        np.zeros(3),
        Profile(1.0, 0, 0, 0),
        "declared",
        {"us-east-1": 1.0},
    )
    (demand,) = fleet_demands(
        [persona], {"web": ["x"]}, [FleetPlacement("web", "us-east-1")]
    ).values()
    assert list(demand.resources[0]) == [0.0, 30.0, 0.0]


def test_scheduled_actions_fall_on_whole_hours_and_only_where_capacity_changes() -> None:
    per_hour = np.repeat([10.0, 10.0, 40.0, 40.0, 10.0, 10.0], 12)
    result = allocate(rule(warmup=timedelta(0)), cpu_demand(per_hour), ORIGIN, STEP, CATALOG)
    starts = [(a.start.hour, a.desired) for a in result.scheduled_actions]
    assert starts == [(12, 8), (14, 2)]
    assert all(a.start.minute == 0 for a in result.scheduled_actions)
    assert result.scheduled_actions[0].name == "web-20261102T1200Z"


def test_an_hour_block_is_scheduled_at_its_peak_so_no_step_is_short() -> None:
    demand = np.full(24, 10.0)
    demand[17] = 45.0  # one 5-minute spike inside the 11:00 hour
    (action,) = allocate(
        rule(warmup=timedelta(0)), cpu_demand(demand), ORIGIN, STEP, CATALOG
    ).scheduled_actions
    assert action.start.hour == 11 and action.desired == 9


def test_scheduled_actions_stop_at_the_schedule_horizon() -> None:
    demand = np.tile([10.0] * 12 + [40.0] * 12, 24)  # alternates every hour for 48 hours
    r = rule(warmup=timedelta(0), schedule_horizon=timedelta(hours=24))
    result = allocate(r, cpu_demand(demand), ORIGIN, STEP, CATALOG)
    assert all(a.start < ORIGIN + timedelta(hours=24) for a in result.scheduled_actions)
    assert len(result.scheduled_actions) == 23


def test_the_cheapest_type_for_the_demands_shape_wins() -> None:
    catalog = load_catalog()
    allowed = ("c6i.large", "m6i.large", "r6i.large")
    cpu_heavy = np.array([[8.0] * 12, [2000.0] * 12, [10.0] * 12, [10.0] * 12])
    memory_heavy = np.array([[1.0] * 12, [60000.0] * 12, [10.0] * 12, [10.0] * 12])
    r = rule(allowed_types=allowed, instance_type="m6i.large", min_size=1, target_utilization=0.7)
    assert choose_type(r, cpu_heavy, catalog, STEP).instance_type.name == "c6i.large"
    assert choose_type(r, memory_heavy, catalog, STEP).instance_type.name == "r6i.large"


def test_the_type_changes_only_when_the_saving_beats_the_threshold() -> None:
    catalog = load_catalog()
    cpu_heavy = np.array([[8.0] * 12, [2000.0] * 12, [10.0] * 12, [10.0] * 12])
    base = rule(allowed_types=("c6i.large", "m6i.large"), instance_type="m6i.large", min_size=1)
    # c6i.large costs 0.085 vs 0.096 $/h for the same count: an 11% saving.
    keep = choose_type(replace(base, type_change_min_saving=0.2), cpu_heavy, catalog, STEP)
    switch = choose_type(replace(base, type_change_min_saving=0.1), cpu_heavy, catalog, STEP)
    assert keep.instance_type.name == "m6i.large" and "would save 11%" in keep.reason
    assert switch.instance_type.name == "c6i.large" and "saves 11%" in switch.reason


demand_arrays = st.lists(st.floats(0, 1e3, allow_nan=False), min_size=1, max_size=300).map(np.array)


@settings(deadline=None)
@given(
    demand_arrays,
    st.integers(0, 20),
    st.integers(0, 40),
    st.integers(0, 60),
    st.sampled_from(["hold", "increase"]),
    st.floats(0, 1e3, allow_nan=False) | st.none(),
)
def test_bounds_always_hold(
    demand: np.ndarray,
    low: int,
    extra: int,
    warmup_minutes: int,
    breach: str,
    observed: float | None,
) -> None:
    r = rule(
        min_size=low,
        max_size=max(1, low + extra),
        warmup=timedelta(minutes=warmup_minutes),
        max_capacity_breach=breach,
        scale_in_stabilization=timedelta(minutes=15),
        scale_in_rate=0.1,
    )
    result = allocate(r, cpu_demand(demand, observed), ORIGIN, STEP, CATALOG)
    top = r.max_size if breach == "hold" else 10**9
    assert all(r.min_size <= v <= top for v in result.desired_per_step)
    for a in result.scheduled_actions:
        assert r.min_size <= a.desired <= a.max_size and a.max_size >= r.max_size
        assert breach == "increase" or a.max_size == r.max_size
    assert len(result.scheduled_actions) <= MAX_SCHEDULED_ACTIONS


@settings(deadline=None)
@given(demand_arrays, st.floats(0, 1e3, allow_nan=False), st.integers(0, 6), st.floats(0.05, 1))
def test_more_demand_never_means_fewer_instances(
    demand: np.ndarray, added: float, window: int, rate: float
) -> None:
    r = rule(scale_in_stabilization=STEP * window, scale_in_rate=rate)
    base = run(r, demand)
    more = run(r, demand + added)
    assert all(m >= b for m, b in zip(more, base, strict=True))


@settings(deadline=None)
@given(demand_arrays, st.integers(0, 12), st.integers(0, 6), st.floats(0.05, 1))
def test_capacity_at_each_step_covers_the_demand_one_warmup_later(
    demand: np.ndarray, lead: int, window: int, rate: float
) -> None:
    r = rule(
        min_size=0,
        max_size=10**6,
        warmup=STEP * lead,
        scale_in_stabilization=STEP * window,
        scale_in_rate=rate,
    )
    desired = run(r, demand)
    per_instance = TEN_CPU.vcpu * r.target_utilization
    for t in range(len(demand)):
        for ahead in range(t, min(len(demand), t + lead + 1)):
            assert desired[t] * per_instance >= demand[ahead] - 1e-6


@settings(deadline=None)
@given(demand_arrays, st.integers(0, 6), st.floats(0.05, 1), st.integers(0, 5))
def test_scale_in_is_damped_by_the_window_and_the_rate(
    demand: np.ndarray, window: int, rate: float, low: int
) -> None:
    r = rule(
        min_size=low,
        max_size=10**6,
        warmup=timedelta(0),
        scale_in_stabilization=STEP * window,
        scale_in_rate=rate,
    )
    desired = run(r, demand)
    needed = [math.ceil(round(d / 5.0, 9)) for d in demand]
    for t in range(1, len(desired)):
        step_down = max(1, math.floor(desired[t - 1] * rate))
        assert desired[t] >= desired[t - 1] - step_down or desired[t] == low
        assert desired[t] >= max(needed[max(0, t - window) : t + 1])


def test_the_scale_in_step_limit_starts_from_the_capacity_in_force_when_given() -> None:
    demand = np.zeros(6)
    r = rule(min_size=0, warmup=timedelta(0), scale_in_rate=0.25)
    free = allocate(r, cpu_demand(demand), ORIGIN, STEP, CATALOG)
    carried = allocate(r, cpu_demand(demand), ORIGIN, STEP, CATALOG, current=20)
    assert free.desired_per_step == (0, 0, 0, 0, 0, 0)  # within one plan only: step 0 is free
    assert carried.desired_per_step == (15, 12, 9, 7, 6, 5)  # 20 was in force before step 0
