"""The daemon's demand anomaly test replayed over a per-minute trace (`fleetctl anomalies`).

A site judges the detector on its own history before trusting its pages: this runs what the
cycle's anomaly step runs on a persona's demand (`anomaly_step`: the band of the forecasts in
force with the cycle's lead, the count floors and the seasonal second opinion, all in
`anomaly_step.demand_findings`, thresholds from the config in force), with a forecast every
forecast step from the forecaster's automatic choice (`RollingForecaster`, as the simulator and
the bench replay it: re-chosen every RESELECT, forwarded in between). The trace stands for one
persona's events per second; calendar campaigns without a `persona:` apply to it, as they do to
every persona in the daemon (history inside them is learnt divided by the uplift, forecasts over
them are multiplied by it, so declared demand is inside the band).

Causal: the forecast at origin t sees the trace before t only, and every statistic the test uses
is trailing, so a finding depends on data up to its end plus the seasonal guard's pad
(`anomalies.sustained`); findings of a trace cut short are those of the whole trace that ended
before the cut.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from controller.anomaly.records import Finding
from controller.config import ControllerConfig
from controller.domain.calendar import Calendar
from controller.domain.errors import ConfigError
from controller.domain.forecast import Forecast
from controller.domain.series import FloatArray, Series, floor_time, resample_mean
from controller.forecasting.history import learnable_history, window_factors
from controller.forecasting.rolling import RollingForecaster
from controller.workflow.anomaly_step import (
    confirmed_by_season,
    demand_findings,
    thresholds_for,
)

MINUTE = timedelta(minutes=1)
SERIES_ID = "trace"
MIN_HISTORY = timedelta(days=2)
"""no forecast before this much trace: the daemon's forecaster falls back to a persona's
`peak_times` below two days (`steps.forecast_persona`), and a trace has none"""
RESELECT = timedelta(hours=6)
"""how often the automatic model choice re-runs (`fleetctl simulate`'s default `--reselect`)"""


@dataclass(frozen=True)
class TraceAnomaly:
    """One finding of demand outside what was expected, in requests per second."""

    start: datetime
    end: datetime
    direction: str
    """above or below"""
    expected: float
    """the forecast mean over the finding (calendar uplifts included)"""
    observed: float
    score: float
    """the sustained median over the band it crossed (>1 above, <1 below)"""


class Progress(Protocol):
    def due(self) -> bool:
        """Whether a progress line is wanted now (cheap: asked every forecast step)."""

    def show(self, minutes_done: int, minutes_total: int, findings: int) -> None: ...


def replay_anomalies(
    start: datetime,
    demand_rps: FloatArray,
    config: ControllerConfig,
    calendar: Calendar,
    report_from: datetime | None = None,
    progress: Progress | None = None,
) -> list[TraceAnomaly]:
    """The demand anomalies in a per-minute trace from `start` (NaN: a gap), those starting at
    or after `report_from` (earlier data still serves as history)."""
    step = config.forecast.step
    if step < MINUTE or step % MINUTE:
        raise ConfigError(f"forecast.step ({step}) must be a whole number of minutes")
    per_step = int(step / MINUTE)
    # the daemon's steps start on multiples of the step: pad the trace back to one (a gap)
    grid_start = floor_time(start, step)
    pad = int((start - grid_start) / MINUTE)
    minutes = np.concatenate([np.full(pad, np.nan), demand_rps])
    counts = Series(SERIES_ID, grid_start, MINUTE, minutes * 60.0)  # events per bucket
    rate = resample_mean(counts, per_step, scale=1 / 60.0)  # events/s per step, as persona_rate
    steps = len(rate)
    thresholds = thresholds_for(config.anomalies, step)
    lead = thresholds.sustained_steps
    first = int(MIN_HISTORY / step)
    if report_from is not None:  # forecasts in force from the first step reported
        first = max(first, int((report_from - grid_start) / step) - 2 * lead)
    history = math.ceil(config.forecast.history / step)
    horizon = math.ceil(config.forecast.horizon / step)
    forecaster = RollingForecaster(max(1, int(RESELECT / step)))
    made: list[Forecast] = []
    found: list[Finding] = []
    for origin in range(first, steps + 1):
        begin = max(0, origin - history)
        window = Series(SERIES_ID, rate.time_at(begin), step, rate.values[begin:origin])
        made.append(forecast_in_force(forecaster, window, horizon, lead, calendar))
        if progress is not None and progress.due():
            found = findings(rate, counts, made, origin, config)
            progress.show(origin * per_step - pad, len(demand_rps), len(found))
    if not made:  # under MIN_HISTORY: history only
        return []
    found = findings(rate, counts, made, steps, config)
    wanted = [f for f in found if report_from is None or f.start >= report_from]
    return [as_trace_anomaly(f) for f in wanted]


def forecast_in_force(
    forecaster: RollingForecaster, window: Series, horizon: int, lead: int, calendar: Calendar
) -> Forecast:
    """The forecast from the end of `window` as the daemon's pipeline makes it with the calendar
    (`forecast_with_selection`: history inside campaigns divided by their uplift, the future
    multiplied by it), cut to the steps `band_in_force` takes from it when a newer forecast
    follows every step (the first `lead` + 1): a replay keeps thousands of them."""
    forecast = forecaster(learnable_history(window, calendar), horizon)
    kept = min(horizon, lead + 1)
    factors = window_factors(calendar, window.series_id, window.end, window.step, horizon)[:kept]
    return Forecast(
        series_id=forecast.series_id,
        origin=window.end,
        step=forecast.step,
        mean=forecast.mean[:kept] * factors,
        quantiles={q: v[:kept] * factors for q, v in forecast.quantiles.items()},
        model=forecast.model,
        backtest_score=forecast.backtest_score,
    )


def findings(
    rate: Series,
    counts: Series,
    made: Sequence[Forecast],
    until: int,
    config: ControllerConfig,
) -> list[Finding]:
    """The cycle's demand test (`anomaly_step.demand_findings`) over the first `until` steps of
    `rate`, against the forecasts `made`, the seasonal second opinion on the trace's counts."""
    per_step = int(rate.step / counts.step)
    seen = Series(counts.series_id, counts.start, counts.step, counts.values[: until * per_step])

    def second_opinion(demand: list[Finding]) -> list[Finding]:
        return confirmed_by_season(demand, seen, config.anomalies)

    times = [rate.time_at(i) for i in range(until)]
    band, demand = demand_findings(
        config, SERIES_ID, times, rate.values[:until], made, second_opinion
    )
    return [replace_expected(f, band.mean, rate) for f in demand]


def replace_expected(finding: Finding, expected: FloatArray, rate: Series) -> Finding:
    """`finding` with the forecast mean over its span in its evidence (what was expected)."""
    first = int((finding.start - rate.start) / rate.step)
    last = int((finding.end - rate.start) / rate.step)
    span = expected[first:last]
    value = float(np.nanmean(span)) if np.any(~np.isnan(span)) else float("nan")
    return Finding(
        finding.kind,
        finding.persona,
        finding.start,
        finding.end,
        finding.size,
        {**finding.evidence, "mean_expected": value},
    )


def as_trace_anomaly(finding: Finding) -> TraceAnomaly:
    evidence = finding.evidence
    return TraceAnomaly(
        start=finding.start,
        end=finding.end,
        direction=str(evidence["direction"]),
        expected=float(evidence["mean_expected"]),
        observed=float(evidence["mean_actual"]),
        score=finding.size,
    )
