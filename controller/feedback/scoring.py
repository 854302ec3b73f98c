"""Scoring stored forecasts against the realized series.

For each forecast and each step whose bucket has since been observed (not a gap):
    error = actual - mean;  covered = p05 <= actual <= p95
Per persona over a window of forecasts:
    MASE      = mean |error| / in-sample MAE of the seasonal naive (m = 1 day) on the actuals
    bias      = mean(error) / mean(actual)   (> 0: forecasts too low)
    coverage  = share of covered points      (target 0.90 for the p05..p95 band)
Residuals per horizon step feed the interval re-calibration (conformal: quantiles of the
realized errors at each lead time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import numpy.typing as npt

from controller.domain.forecast import Forecast
from controller.domain.series import FloatArray, Series

DAY = timedelta(days=1)


@dataclass(frozen=True)
class RealizedErrors:
    """errors[i, h]: forecast i's error at lead h (NaN where not yet observed)."""

    errors: FloatArray
    actual: FloatArray
    covered: FloatArray
    """1.0 inside p05..p95, 0.0 outside, NaN unobserved or no band"""


@dataclass(frozen=True)
class ForecastScore:
    series_id: str
    forecasts: int
    points: int
    mase: float | None
    bias: float | None
    coverage: float | None

    def as_feedback(self) -> dict[str, float]:
        values = {"mase": self.mase, "bias": self.bias, "coverage": self.coverage}
        return {f"{self.series_id}.{k}": round(v, 4) for k, v in values.items() if v is not None}


def realized(forecasts: Sequence[Forecast], actual: Series) -> RealizedErrors:
    horizon = max((f.horizon for f in forecasts), default=0)
    shape = (len(forecasts), horizon)
    errors, truth, covered = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    padded = np.concatenate([actual.values, np.full(horizon, np.nan)])
    for i, forecast in enumerate(forecasts):
        if forecast.step != actual.step:
            raise ValueError(
                f"forecast step {forecast.step} differs from the actuals' {actual.step}"
            )
        offset = int((forecast.origin - actual.start) / actual.step)
        steps = np.arange(forecast.horizon)
        index = offset + steps
        inside = (index >= 0) & (index < len(actual))
        values = np.where(inside, padded[np.clip(index, 0, len(padded) - 1)], np.nan)
        seen = ~np.isnan(values)
        truth[i, : forecast.horizon] = values
        errors[i, : forecast.horizon] = values - forecast.mean
        low, high = forecast.quantiles.get(0.05), forecast.quantiles.get(0.95)
        if low is not None and high is not None:
            inside_band = (low <= values) & (values <= high)
            covered[i, : forecast.horizon] = np.where(seen, inside_band.astype(float), np.nan)
    return RealizedErrors(errors, truth, covered)


def seasonal_naive_mae(actual: Series) -> float | None:
    m = max(1, int(DAY / actual.step))
    values = actual.values
    if values.shape[0] <= m:
        return None
    diffs = np.abs(values[m:] - values[:-m])
    diffs = diffs[~np.isnan(diffs)]
    return float(diffs.mean()) if diffs.size and diffs.mean() > 0 else None


def score(series_id: str, forecasts: Sequence[Forecast], actual: Series) -> ForecastScore:
    result = realized(forecasts, actual)
    observed = ~np.isnan(result.errors)
    points = int(observed.sum())
    if points == 0:
        return ForecastScore(series_id, len(forecasts), 0, None, None, None)
    errors = result.errors[observed]
    truth = result.actual[observed]
    scale = seasonal_naive_mae(actual)
    mean_truth = float(truth.mean())
    banded = result.covered[~np.isnan(result.covered)]
    return ForecastScore(
        series_id=series_id,
        forecasts=len(forecasts),
        points=points,
        mase=float(np.abs(errors).mean() / scale) if scale else None,
        bias=float(errors.mean() / mean_truth) if mean_truth > 0 else None,
        coverage=float(banded.mean()) if banded.size else None,
    )


def residuals_by_lead(forecasts: Sequence[Forecast], actual: Series) -> list[FloatArray]:
    """Realized errors at each lead time (observed points only): the conformal calibration set."""
    errors = realized(forecasts, actual).errors
    return [column[~np.isnan(column)] for column in errors.T]


@dataclass(frozen=True)
class RealizedPairs:
    """Published means and what happened, (forecasts, steps) each, aligned by horizon step."""

    means: FloatArray
    actuals: FloatArray
    """NaN where not yet observed (or a gap)"""
    origins: npt.NDArray[np.int64]
    """index in the actual series of each forecast's first step"""

    def rescaled(self, factors: FloatArray) -> RealizedPairs:
        """Means as if each forecast had been multiplied by `factors[i]` (one per forecast)."""
        return RealizedPairs(self.means * factors[:, None], self.actuals, self.origins)

    def observed_per_step(self) -> npt.NDArray[np.int64]:
        counts: npt.NDArray[np.int64] = np.count_nonzero(~np.isnan(self.actuals), axis=0)
        return counts


def realized_pairs(forecasts: Sequence[Forecast], actual: Series) -> RealizedPairs:
    """Every forecast's mean next to the actual series (steps outside it stay NaN)."""
    result = realized(forecasts, actual)
    horizon = result.errors.shape[1]
    means = np.full((len(forecasts), horizon), np.nan)
    for i, forecast in enumerate(forecasts):
        means[i, : forecast.horizon] = forecast.mean
    origins = np.array(
        [int((f.origin - actual.start) / actual.step) for f in forecasts], dtype=np.int64
    )
    return RealizedPairs(means, result.actual, origins)
