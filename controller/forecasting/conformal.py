"""Conformal bands: quantiles of out-of-sample errors, per horizon step.

A forecast 5 minutes ahead is surer than one 2 days ahead, so each horizon step gets the
quantiles of the errors that step actually made out of sample (in the backtest, and later as the
feedback loop reports realized errors). Steps with too few errors pool their neighbours.

Errors of non-negative series are measured on the log scale, log(y + c) - log(f + c): a quiet
night gets narrow bands and a busy afternoon wide ones, and the lower band never goes below 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from controller.domain.series import FloatArray

MIN_SAMPLES = 40
"""errors wanted behind each step's quantiles; fewer and neighbouring steps are pooled"""
POOL_FRACTION = 0.1
"""steps within +-10% of a step's lead time are always pooled with it (smooth bands)"""
MEMORY = 400
"""errors kept per step: the newest, so the bands follow the series as it changes"""

RecalibrationRule = Literal["replace", "blend", "off"]
"""how realized errors meet the backtest's (ConformalBands.recalibrated)"""


@dataclass(frozen=True)
class ConformalBands:
    errors: FloatArray
    """shape (samples, steps); row = one forecast, column = horizon step; NaN = not observed"""
    log_offset: float | None
    """c of log(y + c) - log(f + c); None: plain differences y - f (series that go negative)"""

    @classmethod
    def from_forecasts(
        cls, forecasts: FloatArray, actuals: FloatArray, log_offset: float | None
    ) -> ConformalBands:
        """Forecasts and what happened, both shaped (forecasts, steps)."""
        return cls(_score(forecasts, actuals, log_offset), log_offset)

    @property
    def steps(self) -> int:
        return int(self.errors.shape[1])

    def samples(self) -> int:
        """Errors behind the first step (the most observed one)."""
        return int(np.count_nonzero(~np.isnan(self.errors[:, 0]))) if self.steps else 0

    def updated(self, forecast: FloatArray, actual: FloatArray) -> ConformalBands:
        """Bands that also know one realized forecast (the feedback loop's report).

        `forecast` and `actual` are aligned by horizon step; NaN in `actual` = not yet seen.
        Only the newest MEMORY errors per step are kept.
        """
        steps = max(self.steps, forecast.shape[0])
        row = np.full((1, steps), np.nan)
        row[0, : forecast.shape[0]] = _score(forecast[None, :], actual[None, :], self.log_offset)
        old = np.full((self.errors.shape[0], steps), np.nan)
        old[:, : self.steps] = self.errors
        return ConformalBands(_newest(np.vstack([old, row]), MEMORY), self.log_offset)

    def recalibrated(
        self,
        forecasts: FloatArray,
        actuals: FloatArray,
        rule: RecalibrationRule = "replace",
        min_samples: int = MIN_SAMPLES,
    ) -> ConformalBands:
        """Bands that follow what the published forecasts actually got wrong.

        `forecasts` and `actuals` are shaped (forecasts, steps), aligned by horizon step (NaN in
        `actuals` = not yet seen). Rules:
        - replace: a step with at least `min_samples` realized errors uses only those (the
          backtest's in-sample view is dropped there); other steps blend.
        - blend: realized errors join the backtest's (the newest MEMORY per step are kept).
        - off: the backtest's errors only.
        """
        if rule == "off" or forecasts.size == 0:
            return self
        steps = max(self.steps, forecasts.shape[1])
        realized = np.full((forecasts.shape[0], steps), np.nan)
        realized[:, : forecasts.shape[1]] = _score(forecasts, actuals, self.log_offset)
        old = np.full((self.errors.shape[0], steps), np.nan)
        old[:, : self.steps] = self.errors
        if rule == "replace":
            enough = np.count_nonzero(~np.isnan(realized), axis=0) >= min_samples
            old[:, enough] = np.nan
        stacked = np.vstack([old, realized])
        stacked = stacked[np.any(~np.isnan(stacked), axis=1)]
        if stacked.shape[0] == 0:
            return self
        return ConformalBands(_newest(stacked, MEMORY), self.log_offset)

    def quantiles(self, point: FloatArray, quantiles: Sequence[float]) -> dict[float, FloatArray]:
        """Bands around `point` (the forecast, one value per step) for each quantile."""
        horizon = point.shape[0]
        table = self.error_quantiles(horizon, quantiles)
        bands = {}
        for index, q in enumerate(quantiles):
            if self.log_offset is None:
                bands[q] = point + table[:, index]
            else:
                c = self.log_offset
                bands[q] = np.maximum(
                    (np.maximum(point, 0.0) + c) * np.exp(table[:, index]) - c, 0.0
                )
        return bands

    def error_quantiles(self, horizon: int, quantiles: Sequence[float]) -> FloatArray:
        """(horizon, len(quantiles)): the error quantiles at each step, conformally adjusted.

        Each calibrated step takes the quantiles of its own errors (pooled with neighbours when
        it has too few), averaged over steps within +-POOL_FRACTION of its lead time so the
        bands are smooth; steps past the calibrated ones reuse the last one.
        """
        table = np.zeros((horizon, len(quantiles)))
        if self.steps == 0 or not np.any(~np.isnan(self.errors)):
            return table
        per_step = self._per_step(quantiles)
        steps = self.steps
        cumulative = np.vstack([np.zeros((1, len(quantiles))), np.cumsum(per_step, axis=0)])
        lead = np.minimum(np.arange(horizon), steps - 1)
        width = (POOL_FRACTION * lead).astype(np.int64)
        lo, hi = np.maximum(0, lead - width), np.minimum(steps, lead + width + 1)
        table = (cumulative[hi] - cumulative[lo]) / (hi - lo)[:, None]
        # quantiles of different levels must not cross; pooled noise could make them
        table.sort(axis=1)
        return np.asarray(table, dtype=np.float64)

    def _per_step(self, quantiles: Sequence[float]) -> FloatArray:
        """(steps, len(quantiles)) quantiles of each step's errors, one sort for all steps."""
        ordered = np.sort(self.errors, axis=0)  # NaN sorts last
        counts = np.count_nonzero(~np.isnan(self.errors), axis=0)
        result = np.empty((self.steps, len(quantiles)))
        for index, q in enumerate(quantiles):
            result[:, index] = _order_statistic(ordered, counts, q)
        for step in np.flatnonzero(counts < MIN_SAMPLES):
            pool = self._pool(int(step))
            n = pool.shape[0]
            if n:
                result[step] = np.quantile(pool, [_finite_sample(q, n) for q in quantiles])
        return result

    def _pool(self, step: int) -> FloatArray:
        width = 1
        while True:
            lo, hi = max(0, step - width), min(self.steps, step + width + 1)
            pool = self.errors[:, lo:hi].ravel()
            pool = pool[~np.isnan(pool)]
            if pool.shape[0] >= MIN_SAMPLES or (lo == 0 and hi == self.steps):
                return pool
            width *= 2


def _order_statistic(ordered: FloatArray, counts: npt.NDArray[np.int64], q: float) -> FloatArray:
    """Per column, the conformal q-quantile of its first `counts` (sorted) values."""
    n = np.maximum(counts, 1)
    adjusted = np.array([_finite_sample(q, int(c)) for c in n])
    position = adjusted * (n - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, n - 1)
    columns = np.arange(ordered.shape[1])
    low, high = ordered[below, columns], ordered[above, columns]
    return np.asarray(low + (position - below) * (high - low), dtype=np.float64)


def _score(forecasts: FloatArray, actuals: FloatArray, log_offset: float | None) -> FloatArray:
    if log_offset is None:
        return actuals - forecasts
    c = log_offset
    with np.errstate(invalid="ignore"):
        return np.log(np.maximum(actuals, 0.0) + c) - np.log(np.maximum(forecasts, 0.0) + c)


def _finite_sample(q: float, n: int) -> float:
    """Split-conformal correction: the (n+1)-th sample is the one being predicted."""
    if n == 0 or q == 0.5:
        return q
    if q > 0.5:
        return min(1.0, q * (n + 1) / n)
    return max(0.0, 1.0 - (1.0 - q) * (n + 1) / n)


def _newest(errors: FloatArray, keep: int) -> FloatArray:
    """Keep, per column, only the `keep` newest (lowest rows are newest) observed errors."""
    if errors.shape[0] <= keep:
        return errors
    seen_after = np.cumsum(~np.isnan(errors[::-1]), axis=0)[::-1]
    trimmed = np.where(seen_after <= keep, errors, np.nan)
    rows = np.any(~np.isnan(trimmed), axis=1)
    return trimmed[rows]
