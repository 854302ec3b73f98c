"""Elasticity metrics on cases small enough to compute by hand."""

from __future__ import annotations

import numpy as np
import pytest

from controller.simulation.metrics import elasticity


def test_metrics_match_a_hand_computed_case() -> None:
    # C = 10; demand 10, 30, 25, 5 -> required 1, 3, 3, 1; supply 2, 2, 3, 3; paid 2, 4, 3, 3
    m = elasticity(
        np.array([10.0, 30.0, 25.0, 5.0]), np.array([2, 2, 3, 3]), np.array([2, 4, 3, 3]), 10.0
    )
    assert m.minutes == 4
    assert m.under_accuracy == pytest.approx((0 + 1 / 3 + 0 + 0) / 4)
    assert m.over_accuracy == pytest.approx((1 / 1 + 0 + 0 + 2 / 1) / 4)
    assert m.under_timeshare == pytest.approx(1 / 4)
    assert m.over_timeshare == pytest.approx(2 / 4)
    # moves: required +,0,-  supply 0,+,0 -> differ at all three
    assert m.instability == pytest.approx(1.0)
    assert m.instance_minutes == 12 and m.oracle_instance_minutes == 8
    assert m.cost_vs_oracle == pytest.approx(1.5)
    # served: 10, 20, 25, 5 -> dropped 10 rps for one minute
    assert m.dropped_requests == pytest.approx(600.0)
    assert m.dropped_share == pytest.approx(10 / 70)


def test_supply_that_tracks_demand_exactly_is_perfect() -> None:
    demand = np.array([10.0, 20.0, 40.0, 20.0])
    supply = np.array([1, 2, 4, 2])
    m = elasticity(demand, supply, supply, 10.0)
    assert (m.under_accuracy, m.over_accuracy, m.instability, m.dropped_share) == (0, 0, 0, 0)
    assert m.cost_vs_oracle == 1.0


def test_gap_minutes_are_left_out_of_every_metric() -> None:
    m = elasticity(np.array([10.0, np.nan, 10.0]), np.array([1, 50, 1]), np.array([1, 50, 1]), 10.0)
    assert m.minutes == 2 and m.instance_minutes == 2 and m.over_timeshare == 0
