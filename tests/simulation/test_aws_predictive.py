"""The aws-predictive baseline on a hand-made trace: AWS predictive scaling's hourly schedule,
combined with target tracking by taking the larger."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from controller.simulation.aws_predictive import AwsPredictivePolicy
from controller.simulation.policies import ReactivePolicy

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday, midnight: hour 0 is a clock hour
C, TARGET = 50.0, 0.5  # 25 rps per instance at the target


def daily_surge(days: int, quiet: float = 100.0, surge: float = 1000.0) -> np.ndarray:
    """`quiet` rps all day but 10:00-11:00 at `surge`: 4 instances, and 40 for the surge hour."""
    demand = np.full(days * 1440, quiet)
    for day in range(days):
        demand[day * 1440 + 600 : day * 1440 + 660] = surge
    return demand


def desired(demand: np.ndarray, start: datetime = START) -> list[int]:
    policy = AwsPredictivePolicy(ReactivePolicy(C, target_utilization=TARGET), start)
    return [policy.decide(t, float(d)) for t, d in enumerate(demand)]


def test_the_forecast_hour_is_scheduled_five_minutes_before_it_starts() -> None:
    wanted = desired(daily_surge(2))
    day2 = 1440
    # yesterday's surge hour, 1000 rps / 25 = 40, from 09:55 (the 300 s scheduling buffer)
    assert wanted[day2 + 594] == 4
    assert wanted[day2 + 595 : day2 + 660] == [40] * 65
    # 11:00 belongs to the next hour's forecast (4); target tracking holds 40 for its own
    # 15-minute scale-in window, the larger wins, then both fall back
    assert wanted[day2 + 660 : day2 + 674] == [40] * 14
    assert wanted[day2 + 680] == 4


def test_on_the_first_day_only_target_tracking_acts() -> None:
    wanted = desired(daily_surge(1))
    # day one: only target tracking, which sees the surge when it arrives, not before
    assert wanted[599] == 4 and wanted[600] == 40


def test_target_tracking_wins_when_demand_runs_above_the_forecast() -> None:
    demand = daily_surge(2)
    demand[1440 + 300] = 2000.0  # an unforecast burst at 05:00 on day two: 2000 / 25 = 80
    wanted = desired(demand)
    assert wanted[1440 + 299] == 4 and wanted[1440 + 300] == 80


def test_with_two_weeks_the_forecast_is_the_same_hour_one_and_two_weeks_before() -> None:
    demand = np.full(15 * 1440, 100.0)
    # 10:00 on the two Mondays before: 1000 and 500 rps; every other day's 10:00 stays quiet
    demand[600:660] = 1000.0
    demand[7 * 1440 + 600 : 7 * 1440 + 660] = 500.0
    wanted = desired(demand)
    monday3 = 14 * 1440
    # the weekly mean, (1000 + 500) / 2 = 750 rps, is 30 instances from 09:55
    assert wanted[monday3 + 595] == 30
    # a Tuesday in week two read the Monday a week before only: 100 rps, 4 instances
    assert wanted[8 * 1440 + 600] == 4


def test_hours_are_clock_hours_when_the_trace_starts_mid_hour() -> None:
    start = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)
    demand = daily_surge(3)[30:]  # the same days, from 00:30
    wanted = desired(demand, start)
    # 09:55 on day two is minute 1440 + 595 - 30 of this trace
    assert wanted[1440 + 564] == 4 and wanted[1440 + 565] == 40
