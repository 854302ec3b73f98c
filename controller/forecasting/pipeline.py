"""One series in, one Forecast out: the path the daemon and `fleetctl forecast` share.

history -> cut-off, outages, calendar windows out (`learnable_history`) -> automatic model
choice (`AutoForecaster`) -> quantiles -> calendar uplifts on the future steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from controller.domain.calendar import Calendar
from controller.domain.forecast import Forecast
from controller.domain.series import FloatArray, Series
from controller.forecasting.auto import AutoForecaster, seasons_for
from controller.forecasting.cold_start import AbsolutePrior
from controller.forecasting.history import learnable_history, window_factors


def forecast_series(
    series: Series,
    horizon: int,
    levels: Sequence[float] = (95,),
    *,
    calendar: Calendar | None = None,
    prior: AbsolutePrior | None = None,
    realized: Sequence[tuple[FloatArray, FloatArray]] = (),
) -> Forecast:
    """Forecast the `horizon` steps after `series` ends, with DEFAULT_QUANTILES and `levels`.

    `realized`: (earlier forecast, what happened) pairs aligned by step, from the feedback
    loop; their errors join the backtest's in the conformal bands (`recalibrate`).
    """
    calendar = calendar or Calendar()
    history = learnable_history(series, calendar)
    step_seconds = series.step.total_seconds()
    indexed = None
    if prior is not None:
        start, step = history.start, history.step

        def indexed(first: int, stop: int) -> FloatArray:
            return prior(start + step * first, step, stop - first)

    auto = AutoForecaster(seasons_for(step_seconds), horizon, prior=indexed)
    auto.fit(history.values)
    for forecast, actual in realized:
        auto.recalibrate(forecast, actual)
    prediction = auto.predict(horizon, level=levels)
    origin = series.end
    factors = window_factors(calendar, series.series_id, origin, series.step, horizon)
    model = auto.selection.label
    if np.any(factors != 1.0):
        model += " x calendar"
    return Forecast(
        series_id=series.series_id,
        origin=origin,
        step=series.step,
        mean=prediction.mean * factors,
        quantiles={q: values * factors for q, values in prediction.quantiles.items()},
        model=model,
        backtest_score=auto.selection.backtest_score,
    )
