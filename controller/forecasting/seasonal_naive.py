"""Seasonal naive: tomorrow at 10:00 looks like today at 10:00.

Gaps are skipped, not read as zeros: a step whose value one season back is missing looks a
further season back, then falls back to the mean of the last observed season.
Quantiles come from the model's own in-sample seasonal errors (empirical, so skew is kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.domain.series import FloatArray

DEFAULT_QUANTILES = (0.05, 0.5, 0.95)
MIN_RESIDUALS = 10


@dataclass(frozen=True)
class Prediction:
    mean: FloatArray
    quantiles: dict[float, FloatArray]
    model: str
    backtest_mae: float | None


class SeasonalNaive:
    def __init__(self, season_length: int) -> None:
        if season_length < 1:
            raise ValueError(f"season_length must be >= 1, got {season_length}")
        self.season_length = season_length
        self._y: FloatArray = np.empty(0)

    def fit(self, y: FloatArray) -> SeasonalNaive:
        self._y = np.asarray(y, dtype=np.float64)
        return self

    def predict(self, horizon: int, quantiles: tuple[float, ...] = DEFAULT_QUANTILES) -> Prediction:
        y, m = self._y, self.season_length
        observed = y[~np.isnan(y)]
        if observed.size == 0:
            zeros = np.zeros(horizon)
            return Prediction(zeros, {q: zeros.copy() for q in quantiles}, "no-history", None)
        recent = y[-m:]
        fallback = (
            float(np.nanmean(recent)) if np.any(~np.isnan(recent)) else float(observed.mean())
        )
        extended = np.concatenate([y, np.full(horizon, np.nan)])
        n = y.shape[0]
        for i in range(n, n + horizon):
            lag = i - m
            while lag >= 0 and np.isnan(extended[lag]):
                lag -= m
            extended[i] = extended[lag] if lag >= 0 else fallback
        mean = extended[n:]
        residuals = self._residuals(y, m)
        model = f"seasonal-naive(m={m})" if n >= m else "mean (history shorter than a season)"
        bands = {
            q: np.maximum(mean + float(np.quantile(residuals, q)), 0.0)
            if residuals.size
            else mean.copy()
            for q in quantiles
        }
        backtest = self._last_season_mae(y, m)
        return Prediction(mean, bands, model, backtest)

    @staticmethod
    def _residuals(y: FloatArray, m: int) -> FloatArray:
        for lag in (m, 1):
            if y.shape[0] > lag:
                errors = y[lag:] - y[:-lag]
                errors = errors[~np.isnan(errors)]
                if errors.size >= MIN_RESIDUALS:
                    return errors
        return np.empty(0)

    @staticmethod
    def _last_season_mae(y: FloatArray, m: int) -> float | None:
        """Out-of-sample MAE of forecasting the last season from the one before it."""
        if y.shape[0] < 2 * m:
            return None
        errors = y[-m:] - y[-2 * m : -m]
        errors = errors[~np.isnan(errors)]
        return float(np.abs(errors).mean()) if errors.size else None
