"""AWS predictive scaling combined with target tracking, as a baseline a user would otherwise pick.

Our reading of AWS's documentation (EC2 Auto Scaling user guide, "Predictive scaling", and the
PredictiveScalingConfiguration API reference):
- the forecast is hourly, for the next 48 hours, made from up to 14 days of the load metric's
  history, and needs at least 24 hours of it; it is refreshed every 6 hours;
- the capacity forecast is the load forecast divided by the target value per instance (the
  metric pair's target, here the same target utilization as the target tracking policy);
- capacity for an hour is scheduled at the hour's start, advanced by `SchedulingBufferTime`
  (default 300 s) so instances are booted by then;
- with a target tracking policy on the same group, the group's desired is the larger of the
  two ("the higher capacity wins").
AWS does not publish its forecasting model, only that it learns daily and weekly patterns. Here
the load of an hour is forecast as the mean of the same hour one and two weeks earlier when the
history has them, else the mean of the same hour on each earlier day of the history: the
simplest model that learns both patterns, from the 14 days AWS uses. It can forecast no hour
before a day of history, as AWS needs 24 hours of it. Hours are clock hours (UTC).
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np

from controller.simulation.policies import ReactivePolicy

HOUR = 60
DAY = 24
WEEK = 7 * DAY


class AwsPredictivePolicy:
    name = "aws-predictive"

    def __init__(
        self,
        target_tracking: ReactivePolicy,
        start: datetime,
        scheduling_buffer_minutes: int = 5,
        history_hours: int = 14 * DAY,
        refresh_hours: int = 6,
        horizon_hours: int = 48,
    ) -> None:
        self.target_tracking = target_tracking
        self.buffer = max(0, min(scheduling_buffer_minutes, HOUR - 1))  # AWS: below 3600 s
        self.history_hours = history_hours
        self.refresh_hours, self.horizon_hours = max(1, refresh_hours), horizon_hours
        # the minute of the clock hour the trace starts in, so hours are clock hours
        self._offset = start.minute
        self._hourly: list[float] = []  # mean load of each complete clock hour, NaN if unknown
        self._sum, self._count = 0.0, 0
        self._current_hour = 0
        self._schedule: dict[int, int] = {}  # clock hour (from the trace's first) -> capacity

    def decide(self, minute: int, demand_rps: float) -> int:
        hour = (minute + self._offset) // HOUR
        self._close_hours_before(hour)
        if not math.isnan(demand_rps):
            self._sum += demand_rps
            self._count += 1
        if (minute + self._offset) % HOUR == 0 and hour % self.refresh_hours == 0:
            self._refresh(hour)
        scheduled = self._schedule.get((minute + self.buffer + self._offset) // HOUR, 0)
        return max(scheduled, self.target_tracking.decide(minute, demand_rps))

    def _close_hours_before(self, hour: int) -> None:
        while self._current_hour < hour:
            self._hourly.append(self._sum / self._count if self._count else math.nan)
            self._sum, self._count = 0.0, 0
            self._current_hour += 1

    def _refresh(self, hour: int) -> None:
        """Forecast hours `hour`.. from the complete hours before it (at most 14 days)."""
        history = np.asarray(self._hourly[-self.history_hours :], dtype=np.float64)
        first = hour - history.size  # clock hour of history[0]
        self._schedule = {}
        for ahead in range(self.horizon_hours):
            load = _seasonal_mean(history, first, hour + ahead)
            if load is not None:
                self._schedule[hour + ahead] = self.target_tracking.wanted(load)


def _seasonal_mean(history: np.ndarray, first: int, hour: int) -> float | None:
    """Mean of the same hour a week and two earlier, else of the same hour on earlier days."""
    for lag in (WEEK, DAY):
        index = np.arange(hour - lag, first - 1, -lag) - first
        index = index[(index >= 0) & (index < history.size)]
        values = history[index]
        values = values[~np.isnan(values)]
        if values.size:
            return float(values.mean())
    return None
