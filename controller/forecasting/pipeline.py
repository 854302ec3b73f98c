"""One series in, one Forecast out: the path the daemon and `fleetctl forecast` share.

history -> cut-off, outages, calendar windows out (`learnable_history`) -> automatic model
choice (`AutoForecaster`, or the kept one) -> point x bias correction -> conformal quantiles
(re-calibrated from realized errors) -> calendar uplifts on the future steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from controller.domain.calendar import Calendar
from controller.domain.forecast import Forecast
from controller.domain.series import FloatArray, Series
from controller.forecasting.auto import AutoForecaster, ModelChoice, Selection, seasons_for
from controller.forecasting.cold_start import AbsolutePrior
from controller.forecasting.conformal import MIN_SAMPLES, RecalibrationRule
from controller.forecasting.history import learnable_history, window_factors


@dataclass(frozen=True)
class Learned:
    """What the feedback loop has learned about one series, for its next forecast."""

    forecasts: FloatArray | None = None
    """(n, steps): means of earlier published forecasts, aligned by horizon step"""
    actuals: FloatArray | None = None
    """(n, steps): what happened at those steps (NaN = not yet seen)"""
    rule: RecalibrationRule = "replace"
    min_samples: int = MIN_SAMPLES
    bias_factor: float = 1.0
    """the point forecast is multiplied by this (1.0: no correction)"""
    keep: ModelChoice | None = None
    """the model choice to keep; None: select by backtest"""


def forecast_series(
    series: Series,
    horizon: int,
    levels: Sequence[float] = (95,),
    *,
    calendar: Calendar | None = None,
    prior: AbsolutePrior | None = None,
    realized: Sequence[tuple[FloatArray, FloatArray]] = (),
    learned: Learned | None = None,
) -> Forecast:
    """Forecast the `horizon` steps after `series` ends, with DEFAULT_QUANTILES and `levels`.

    `realized`: (earlier forecast, what happened) pairs aligned by step; their errors join the
    backtest's in the conformal bands (`recalibrate`). `learned`: the feedback loop's
    re-calibration, bias correction and kept model choice (see `Learned`).
    """
    return forecast_with_selection(
        series, horizon, levels, calendar=calendar, prior=prior, realized=realized, learned=learned
    )[0]


def forecast_with_selection(
    series: Series,
    horizon: int,
    levels: Sequence[float] = (95,),
    *,
    calendar: Calendar | None = None,
    prior: AbsolutePrior | None = None,
    realized: Sequence[tuple[FloatArray, FloatArray]] = (),
    learned: Learned | None = None,
) -> tuple[Forecast, Selection]:
    """`forecast_series`, and the model selection behind it (for the feedback loop to keep)."""
    learned = learned or Learned()
    calendar = calendar or Calendar()
    history = learnable_history(series, calendar)
    step_seconds = series.step.total_seconds()
    indexed = None
    if prior is not None:
        start, step = history.start, history.step

        def indexed(first: int, stop: int) -> FloatArray:
            return prior(start + step * first, step, stop - first)

    auto = AutoForecaster(seasons_for(step_seconds), horizon, prior=indexed, keep=learned.keep)
    auto.fit(history.values)
    for earlier, actual in realized:
        auto.recalibrate(earlier, actual)
    if learned.forecasts is not None and learned.actuals is not None:
        auto.recalibrate_from(learned.forecasts, learned.actuals, learned.rule, learned.min_samples)
    prediction = auto.predict(horizon, level=levels, scale=learned.bias_factor)
    origin = series.end
    factors = window_factors(calendar, series.series_id, origin, series.step, horizon)
    model = auto.selection.label
    if np.any(factors != 1.0):
        model += " x calendar"
    if learned.bias_factor != 1.0:
        model += f" x bias {learned.bias_factor:.3g}"
    forecast = Forecast(
        series_id=series.series_id,
        origin=origin,
        step=series.step,
        mean=prediction.mean * factors,
        quantiles={q: values * factors for q, values in prediction.quantiles.items()},
        model=model,
        backtest_score=auto.selection.backtest_score,
    )
    return forecast, auto.selection
