"""The one forecasting entry point for a bare demand series: the simulator calls it, and the
daemon's forecast step goes through the same pipeline (controller.forecasting.pipeline)."""

from __future__ import annotations

from controller.domain.forecast import Forecast
from controller.domain.series import Series
from controller.forecasting.pipeline import forecast_series


def forecast_demand(history: Series, horizon: int) -> Forecast:
    """Forecast `horizon` steps after `history.end` (NaN in history = gap, never zero)."""
    return forecast_series(history, horizon)
