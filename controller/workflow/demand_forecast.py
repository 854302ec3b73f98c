"""The one forecasting entry point: the daemon's cycle and the simulator both call it."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from controller.domain.forecast import Forecast
from controller.domain.series import Series
from controller.forecasting.seasonal_naive import SeasonalNaive

DAY = timedelta(days=1)


def forecast_demand(history: Series, horizon: int) -> Forecast:
    """Forecast `horizon` steps after `history.end` (NaN in history = gap, never zero)."""
    values = history.values
    observed = ~np.isnan(values)
    first = int(np.argmax(observed)) if observed.any() else len(values)
    season = max(1, int(DAY / history.step))
    prediction = SeasonalNaive(season).fit(values[first:]).predict(horizon)
    return Forecast(
        series_id=history.series_id,
        origin=history.end,
        step=history.step,
        mean=prediction.mean,
        quantiles=prediction.quantiles,
        model=prediction.model,
        backtest_score=prediction.backtest_mae,
    )
