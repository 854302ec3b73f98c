"""Regression on Fourier terms with ARMA errors estimated by maximum likelihood (statsmodels).

The same regression as `FourierAR` (daily and weekly Fourier terms on log(y + c), recent weeks
weighted up), but the errors follow an ARMA(p, q) fitted by statsmodels' SARIMAX (Kalman filter,
exact likelihood, gaps handled natively) instead of least squares on lags. Estimating the
regression inside SARIMAX instead (Fourier terms as exog) takes about a minute per series on a
month of 5-minute data, so it is done in two stages. A seasonal ARIMA with m=288 is out of reach
for the same reason.

Forecasts from many origins need one Kalman filter pass: the predicted state a_o at each origin
gives the error forecast Z T^i a_o for step i.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from controller.domain.series import FloatArray
from controller.forecasting.fourier import FourierAR
from controller.forecasting.model import IndexArray, ModelError

FILTER_WARMUP = 1000
"""steps of errors the filter runs through before the first origin (ARMA memory is short)"""


class FourierARIMA(FourierAR):
    def __init__(
        self,
        season_lengths: Sequence[int],
        harmonics: Sequence[int] = (10, 3),
        order: tuple[int, int] = (2, 1),
        half_life: float | None = None,
        ar_window: int | None = None,
    ) -> None:
        super().__init__(season_lengths, harmonics, half_life=half_life, ar_order=0)
        self.order = order
        self.error_window = ar_window
        self.name = (
            f"fourier-arima(K={'/'.join(map(str, self.harmonics))},p={order[0]},q={order[1]})"
        )
        self._arma: Any = None

    def fit(self, y: FloatArray) -> Self:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        super().fit(y)
        y = self.fitted_series
        errors = self._to_model(y) - self._design(0, y.shape[0]) @ self._beta
        if self.error_window:
            errors = errors[-self.error_window :]
        p, q = self.order
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; a bad fit shows in the backtest
            try:
                self._arma = SARIMAX(errors, order=(p, 0, q), trend="n").fit(disp=False, maxiter=50)
            except (np.linalg.LinAlgError, ValueError) as exc:
                raise ModelError(f"{self.name}: ARMA fit failed: {exc}") from exc
        return self

    def forward_many(self, y: FloatArray, origins: IndexArray, horizon: int) -> FloatArray:
        if self._arma is None:
            raise ModelError(f"{self.name}: forward before fit")
        start = max(0, int(origins.min()) - FILTER_WARMUP)
        stop = int(origins.max())
        regression = self._design(start, stop + horizon) @ self._beta
        errors = np.full(stop - start, np.nan)
        have = min(y.shape[0], stop) - start
        errors[:have] = self._to_model(y[start : start + have]) - regression[:have]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            filtered = self._arma.apply(errors)
        states = filtered.filter_results.predicted_state  # (k, nobs + 1): a_{t | t-1}
        ssm = filtered.model.ssm
        design = np.asarray(ssm["design"]).reshape(1, -1)
        transition = np.asarray(ssm["transition"])
        transition = transition.reshape(transition.shape[0], transition.shape[1])
        weights = np.empty((horizon, transition.shape[0]))
        power = np.eye(transition.shape[0])
        for i in range(horizon):
            weights[i] = (design @ power)[0]
            power = transition @ power
        steps = np.arange(horizon)
        paths = regression[(origins - start)[:, None] + steps[None, :]]
        paths = paths + states[:, origins - start].T @ weights.T
        return self._from_model(paths)
