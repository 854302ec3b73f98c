"""Holt-Winters exponential smoothing, ETS(A,N,A) on log(y + c), one season (daily).

statsmodels estimates the smoothing weights and initial states (on a gap-filled copy: it cannot
take NaN); forecasting runs the recursion here, where a gap simply skips an update:

    e_t = z_t - l_{t-1} - s_{t-m};   l_t = l_{t-1} + alpha e_t;   s_t = s_{t-m} + gamma e_t

One pass over the series gives the state at every origin, so `forward_many` is cheap.
"""

from __future__ import annotations

import warnings
from typing import Self

import numpy as np

from controller.domain.series import FloatArray
from controller.forecasting.model import (
    IndexArray,
    ModelError,
    PointModel,
    as_series,
    fill_gaps,
    observed_count,
)


class HoltWinters(PointModel):
    def __init__(self, season_length: int) -> None:
        super().__init__()
        self.season_length = season_length
        self.name = f"holt-winters(m={season_length})"
        self._alpha = self._gamma = 0.0
        self._level0 = 0.0
        self._season0: FloatArray = np.empty(0)
        self._offset = 1.0

    def fit(self, y: FloatArray) -> Self:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        y = as_series(y)
        m = self.season_length
        if observed_count(y) < 2 * m:
            raise ModelError(f"{self.name}: needs two seasons ({2 * m} observations)")
        self._offset = max(0.1 * float(np.nanmean(y)), 1e-6)
        z = np.log(np.maximum(fill_gaps(y, m), 0.0) + self._offset)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; a bad fit shows in the backtest
            result = ExponentialSmoothing(
                z, seasonal="add", seasonal_periods=m, initialization_method="heuristic"
            ).fit()
        params = result.params
        self._alpha = float(params["smoothing_level"])
        self._gamma = float(params["smoothing_seasonal"])
        self._level0 = float(params["initial_level"])
        self._season0 = np.asarray(params["initial_seasons"], dtype=np.float64)
        self._y = y
        fitted = self.forward_many(y, np.arange(m, y.shape[0], dtype=np.int64), 1)[:, 0]
        self._residuals = y[m:] - fitted
        return self

    def _states(self, y: FloatArray, stop: int) -> tuple[FloatArray, FloatArray]:
        """level[t] after step t-1 (so level[o] is the state at origin o); season over time."""
        m = self.season_length
        z = np.log(np.maximum(y[:stop], 0.0) + self._offset)
        level = np.empty(stop + 1)
        season = np.concatenate([self._season0, np.empty(stop)])
        level[0] = self._level0
        alpha, gamma = self._alpha, self._gamma
        for t in range(stop):
            error = z[t] - level[t] - season[t]
            if np.isnan(error):
                error = 0.0
            level[t + 1] = level[t] + alpha * error
            season[t + m] = season[t] + gamma * error
        return level, season

    def forward(self, y: FloatArray, horizon: int) -> FloatArray:
        row: FloatArray = self.forward_many(y, np.array([y.shape[0]], dtype=np.int64), horizon)[0]
        return row

    def forward_many(self, y: FloatArray, origins: IndexArray, horizon: int) -> FloatArray:
        if self._season0.size == 0:
            raise ModelError(f"{self.name}: forward before fit")
        m = self.season_length
        level, season = self._states(y, int(origins.max()))
        steps = np.arange(horizon)
        # the season for origin o, step i was last updated at o + i%m - m (index + m in `season`)
        paths = level[origins][:, None] + season[origins[:, None] + (steps % m)[None, :]]
        return np.asarray(np.maximum(np.exp(paths) - self._offset, 0.0), dtype=np.float64)
