"""The sweep's frontiers, on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from controller.simulation.frontier import FrontierPoint, at_equal_cost, frontier


def P(cost: float, dropped: float) -> FrontierPoint:
    return FrontierPoint(cost, dropped)


def test_a_cost_between_two_sweep_points_reads_the_straight_line_between_them() -> None:
    line = frontier([P(100, 0.04), P(200, 0.02), P(400, 0.01)])
    # 150 is halfway from 100 to 200: halfway from 4 % to 2 %
    assert line.dropped_at(150) == pytest.approx(0.03)
    # 250 is a quarter of the way from 200 to 400: 2 % - 0.25 x 1 %
    assert line.dropped_at(250) == pytest.approx(0.0175)
    assert line.dropped_at(400) == pytest.approx(0.01)
    assert line.dropped_at(100) == pytest.approx(0.04)


def test_a_dearer_setting_that_drops_more_is_left_off_the_envelope() -> None:
    # the point at 200 drops more than the one at 150: no one would pick it
    line = frontier([P(300, 0.01), P(100, 0.05), P(200, 0.04), P(150, 0.03)])
    assert [(p.cost, p.dropped_share) for p in line.points] == [
        (100, 0.05),
        (150, 0.03),
        (300, 0.01),
    ]
    # read between 150 and 300, not through the dominated point: 3 % - (50/150) x 2 %
    assert line.dropped_at(200) == pytest.approx(0.03 - 0.02 / 3)


def test_a_dearer_setting_that_drops_no_less_extends_the_frontier_flat_to_its_cost() -> None:
    # 0.4 and 0.5 both drop nothing: paying 250 drops nothing too, and 300 is still swept
    line = frontier([P(100, 0.02), P(200, 0.0), P(300, 0.0), P(150, 0.03)])
    assert line.points == (P(100, 0.02), P(200, 0.0))
    assert line.cost_range == (100, 300)
    assert line.dropped_at(250) == 0.0 and line.dropped_at(300) == 0.0
    assert line.dropped_at(300.1) is None


def test_two_settings_at_one_cost_keep_the_one_that_drops_less() -> None:
    line = frontier([P(100, 0.05), P(100, 0.02), P(200, 0.01)])
    assert line.points == (P(100, 0.02), P(200, 0.01))


def test_a_cost_outside_the_frontier_gets_no_number() -> None:
    line = frontier([P(100, 0.04), P(200, 0.02)])
    assert line.dropped_at(99.9) is None
    assert line.dropped_at(200.1) is None
    assert frontier([P(100, 0.04)]).dropped_at(100) == pytest.approx(0.04)
    assert frontier([P(100, 0.04)]).dropped_at(101) is None


def test_equal_cost_ratios_name_the_better_baseline_only_where_both_cover_the_cost() -> None:
    baselines = {
        "reactive": frontier([P(100, 0.04), P(300, 0.02)]),
        "reactive-warm": frontier([P(150, 0.02), P(250, 0.01)]),
    }
    inside, outside = at_equal_cost([P(200, 0.006), P(120, 0.01)], baselines)
    # at 200: reactive 3 %, reactive-warm 1.5 %; the better is reactive-warm, 0.6 / 1.5 = 0.4
    assert inside.baseline_dropped["reactive"] == pytest.approx(0.03)
    assert inside.better_baseline == "reactive-warm"
    assert inside.ratio("reactive-warm") == pytest.approx(0.4)
    assert inside.ratio("reactive") == pytest.approx(0.2)
    # at 120 reactive-warm's sweep never went that cheap: no better baseline, no number for it
    assert outside.baseline_dropped["reactive-warm"] is None
    assert outside.better_baseline is None
    assert outside.ratio("reactive-warm") is None
    assert outside.ratio("reactive") == pytest.approx(0.01 / 0.038)


def test_a_baseline_that_drops_nothing_makes_any_drop_infinitely_worse() -> None:
    baselines = {"reactive": frontier([P(100, 0.0)])}
    worse, same = at_equal_cost([P(100, 0.001), P(100, 0.0)], baselines)
    assert worse.ratio("reactive") == math.inf
    assert same.ratio("reactive") == 1.0


def test_a_frontier_needs_a_point() -> None:
    with pytest.raises(ValueError, match="at least one point"):
        frontier([])
