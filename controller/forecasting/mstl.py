"""MSTL decomposition (statsmodels) with exponential smoothing of what the seasons leave.

log(y + c) is split by statsmodels' MSTL into one seasonal component per season that the
history covers twice, a trend and a remainder. The forecast repeats each season's last cycle
and adds simple exponential smoothing of the deseasonalised series (trend + remainder), like
statsforecast's MSTL with an ETS trend model. MSTL cannot take gaps: they are filled from the
series' own seasonal profile first. It is slow: STL with a weekly period of 2016 steps takes
seconds per series, so this family is for comparison, not in the automatic choice.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
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


class MSTLSmoothing(PointModel):
    def __init__(self, season_lengths: Sequence[int]) -> None:
        super().__init__()
        self.season_lengths = tuple(int(m) for m in season_lengths)
        self.name = f"mstl-ses(m={'/'.join(map(str, self.season_lengths))})"
        self._seasonal: FloatArray = np.empty((0, 0))
        self._periods: tuple[int, ...] = ()
        self._alpha = 0.5
        self._offset = 1.0

    def fit(self, y: FloatArray) -> Self:
        from statsmodels.tsa.holtwinters import SimpleExpSmoothing
        from statsmodels.tsa.seasonal import MSTL

        y = as_series(y)
        n = y.shape[0]
        periods = tuple(m for m in self.season_lengths if n > 2 * m)  # MSTL drops the rest
        if not periods or observed_count(y) < 2 * periods[0]:
            raise ModelError(f"{self.name}: needs two cycles of a season")
        self._offset = max(0.1 * float(np.nanmean(y)), 1e-6)
        z = np.log(np.maximum(fill_gaps(y, periods[0]), 0.0) + self._offset)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = MSTL(z, periods=periods if len(periods) > 1 else periods[0]).fit()
            seasonal = np.asarray(result.seasonal, dtype=np.float64).reshape(n, -1)
            periods = periods[: seasonal.shape[1]]
            smoothing = SimpleExpSmoothing(
                z - seasonal.sum(axis=1), initialization_method="estimated"
            ).fit()
        self._alpha = float(smoothing.params["smoothing_level"])
        self._seasonal, self._periods = seasonal, periods
        self._y = y
        self._residuals = z - seasonal.sum(axis=1) - np.asarray(smoothing.fittedvalues)
        self._residuals = np.exp(self._residuals)  # ratio errors; rough bands only
        self._residuals = (self._residuals - 1.0) * float(np.nanmean(y))
        return self

    def _season_at(self, t: IndexArray) -> FloatArray:
        """Sum of seasonal components at steps t; past the fit, each repeats its last cycle."""
        n = self._seasonal.shape[0]
        total = np.zeros(t.shape)
        for column, period in enumerate(self._periods):
            index = np.where(t < n, t, n - period + (t - n) % period)
            total = total + self._seasonal[index, column]
        return total

    def forward(self, y: FloatArray, horizon: int) -> FloatArray:
        row: FloatArray = self.forward_many(y, np.array([y.shape[0]], dtype=np.int64), horizon)[0]
        return row

    def forward_many(self, y: FloatArray, origins: IndexArray, horizon: int) -> FloatArray:
        if not self._periods:
            raise ModelError(f"{self.name}: forward before fit")
        stop = int(origins.max())
        z = np.log(np.maximum(y[:stop], 0.0) + self._offset)
        deseasonal = z - self._season_at(np.arange(stop))
        level = np.empty(stop + 1)
        first = deseasonal[~np.isnan(deseasonal)]
        level[0] = float(first[0]) if first.size else 0.0
        for t in range(stop):
            value = deseasonal[t]
            level[t + 1] = (
                level[t] if np.isnan(value) else level[t] + self._alpha * (value - level[t])
            )
        steps = origins[:, None] + np.arange(horizon)[None, :]
        paths = level[origins][:, None] + self._season_at(steps)
        return np.maximum(np.exp(paths) - self._offset, 0.0)
