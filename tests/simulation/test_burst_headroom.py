"""Burst headroom: learned from (planned level, what the minute saw) pairs of the past only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.allocation.headroom import MIN_SAMPLES, NO_HEADROOM, learn_headroom
from controller.workflow.simulation import SimulationSettings, run_policy

START = datetime(2026, 11, 2, tzinfo=UTC)


def levels(size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(100.0, 3000.0, size)


def test_the_learned_headroom_covers_the_asked_share_of_past_minutes() -> None:
    base = levels(5000)
    actual = base + 9.0 * np.sqrt(base) * np.random.default_rng(1).standard_normal(base.size)
    headroom = learn_headroom(base, actual, 0.97)
    covered = np.mean(actual <= headroom.above(base))
    assert 0.965 <= covered <= 0.98


@pytest.mark.parametrize(("noise", "exponent"), [("count-like", 0.5), ("multiplicative", 1.0)])
def test_the_headroom_grows_with_the_level_as_the_bursts_did(noise: str, exponent: float) -> None:
    base = levels(8000)
    shocks = np.random.default_rng(2).standard_normal(base.size)
    spread = 9.0 * np.sqrt(base) if noise == "count-like" else 0.1 * base
    headroom = learn_headroom(base, base + spread * shocks, 0.95)
    assert headroom.exponent == pytest.approx(exponent, abs=0.15)


def test_minutes_without_demand_or_without_a_plan_are_left_out() -> None:
    base = levels(400)
    actual = base * 1.2
    base[:50] = np.nan
    actual[50:100] = np.nan
    headroom = learn_headroom(base, actual, 0.9)
    assert headroom.samples == 300


def test_too_little_history_learns_no_headroom() -> None:
    base = levels(MIN_SAMPLES - 1)
    assert learn_headroom(base, base * 2, 0.95) == NO_HEADROOM
    assert list(NO_HEADROOM.above(np.array([10.0, 20.0]))) == [10.0, 20.0]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0.0, 1e5), min_size=1, max_size=20),
    st.floats(0.0, 50.0),
    st.floats(0.0, 1.0),
)
def test_headroom_never_provisions_below_the_planned_level(
    planned: list[float], scale: float, exponent: float
) -> None:
    from controller.allocation.headroom import Headroom

    level = np.array(planned)
    above = Headroom(scale, exponent, 0.95, 100).above(level)
    assert np.all(above >= level)


def bursty_demand(days: int, seed: int = 3) -> np.ndarray:
    """A daily wave with count-like per-minute noise and short bursts: the shape headroom is for."""
    rng = np.random.default_rng(seed)
    minutes = np.arange(days * 1440)
    level = 600 + 400 * np.sin(2 * np.pi * (minutes % 1440) / 1440)
    demand = level + 9.0 * np.sqrt(level) * rng.standard_normal(minutes.size)
    bursts = rng.random(minutes.size) < 1 / 90
    for start in np.flatnonzero(bursts):
        demand[start : start + 4] += 0.4 * level[start]
    return np.maximum(demand, 0.0)


def test_burst_headroom_drops_fewer_requests_than_the_point_forecast_alone() -> None:
    demand = bursty_demand(4)
    with_headroom = SimulationSettings(capacity_per_instance=50, warmup=timedelta(minutes=5))
    without = SimulationSettings(
        capacity_per_instance=50, warmup=timedelta(minutes=5), burst_quantile=None
    )
    learned = run_policy("predictive", with_headroom, START, demand).metrics(50)
    plain = run_policy("predictive", without, START, demand).metrics(50)
    assert learned.dropped_share < plain.dropped_share


def test_the_headroom_learned_before_a_cut_does_not_depend_on_demand_after_it() -> None:
    demand = bursty_demand(3)
    cut = 2 * 1440 + 300
    changed = demand.copy()
    changed[cut:] *= 3.0  # a different future
    settings_ = SimulationSettings(capacity_per_instance=50, warmup=timedelta(minutes=5))
    one = run_policy("predictive", settings_, START, demand)
    other = run_policy("predictive", settings_, START, changed)
    assert np.array_equal(one.desired[:cut], other.desired[:cut])
