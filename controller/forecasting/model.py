"""What every forecasting model is: a small object with fit, predict and forward.

Shaped like statsforecast's models: `fit(y) -> self`, `predict(h, level)`, and `forward(y, h)`,
which applies the parameters fitted earlier to a longer history. `forward` is what makes a
rolling-origin backtest cheap: fit once on the older part of a series, then forecast from every
later origin without refitting.

`y` is a regular series in steps (numpy float64) whose NaNs are gaps: nothing was observed there.
A gap is never read as zero. Models that need complete data fill gaps from the series' own
seasonal profile (see `fill_gaps`), never with zeros.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, Self

import numpy as np
import numpy.typing as npt

from controller.domain.series import FloatArray

IndexArray = npt.NDArray[np.int64]
DEFAULT_QUANTILES: tuple[float, ...] = (0.05, 0.5, 0.95)


class ModelError(Exception):
    """A model cannot fit or forecast this series (too short, degenerate); callers fall back."""


@dataclass(frozen=True)
class Prediction:
    """Mean and quantiles per future step (quantile q -> values), and the model that made them."""

    mean: FloatArray
    quantiles: dict[float, FloatArray]
    model: str

    @property
    def horizon(self) -> int:
        return int(self.mean.shape[0])

    def interval(self, level: float) -> tuple[FloatArray, FloatArray]:
        """The central `level`% interval, e.g. 95 -> (q 0.025, q 0.975)."""
        low, high = level_quantiles(level)
        return self.quantiles[low], self.quantiles[high]


class Forecaster(Protocol):
    """One forecasting model. numpy in, numpy out; no I/O, no clocks, no DataFrames."""

    @property
    def name(self) -> str: ...

    def fit(self, y: FloatArray) -> Self:
        """Estimate parameters from `y`; raises ModelError when it cannot."""
        ...

    def forward(self, y: FloatArray, horizon: int) -> FloatArray:
        """Mean forecast of the `horizon` steps after `y`, with the parameters already fitted.

        `y` must start where the fitted series started (it may be longer or shorter).
        """
        ...

    def forward_many(self, y: FloatArray, origins: IndexArray, horizon: int) -> FloatArray:
        """Row i: `forward(y[:origins[i]], horizon)`; models may compute all rows at once."""
        ...

    def predict(self, horizon: int, level: Sequence[float] = ()) -> Prediction:
        """Forecast after the fitted series: mean, DEFAULT_QUANTILES and the bounds of `level`."""
        ...


def level_quantiles(level: float) -> tuple[float, float]:
    """95 -> (0.025, 0.975)."""
    if not 0 < level < 100:
        raise ValueError(f"level must be between 0 and 100 (percent), got {level:g}")
    tail = round((100 - level) / 200, 6)
    return tail, round(1 - tail, 6)


def wanted_quantiles(level: Sequence[float]) -> tuple[float, ...]:
    """DEFAULT_QUANTILES plus both bounds of each level, sorted."""
    found = set(DEFAULT_QUANTILES)
    for each in level:
        found.update(level_quantiles(each))
    return tuple(sorted(found))


class PointModel(ABC):
    """Base of our models: subclasses give `fit` and `forward`; this adds `predict`.

    The bands `predict` gives are the model's own, from its in-sample errors, identical at every
    step. They are a rough guide; `AutoForecaster` replaces them with conformal bands calibrated
    per horizon step on out-of-sample errors.
    """

    name: str = "model"

    def __init__(self) -> None:
        self._y: FloatArray | None = None
        self._residuals: FloatArray = np.empty(0)

    @abstractmethod
    def fit(self, y: FloatArray) -> Self: ...

    @abstractmethod
    def forward(self, y: FloatArray, horizon: int) -> FloatArray: ...

    def forward_many(self, y: FloatArray, origins: IndexArray, horizon: int) -> FloatArray:
        return np.vstack([self.forward(y[: int(o)], horizon) for o in origins])

    @property
    def fitted_series(self) -> FloatArray:
        if self._y is None:
            raise ModelError(f"{self.name}: predict before fit")
        return self._y

    def predict(self, horizon: int, level: Sequence[float] = ()) -> Prediction:
        mean = self.forward(self.fitted_series, horizon)
        errors = self._residuals[np.isfinite(self._residuals)]
        quantiles = {
            q: mean + float(np.quantile(errors, q)) if errors.size else mean.copy()
            for q in wanted_quantiles(level)
        }
        return Prediction(mean, quantiles, self.name)


def as_series(y: FloatArray | Sequence[float]) -> FloatArray:
    """float64, one-dimensional; +-inf become gaps."""
    array = np.asarray(y, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"a series is one-dimensional, got shape {array.shape}")
    return np.where(np.isfinite(array), array, np.nan)


def observed_count(y: FloatArray) -> int:
    return int(np.count_nonzero(~np.isnan(y)))


def seasonal_profile(y: FloatArray, season: int, seasons: int = 7) -> FloatArray:
    """Mean value at each phase of the last `seasons` seasons, aligned so index 0 is the phase of
    the step after `y` ends. NaN where a phase was never observed."""
    window = y[-season * seasons :]
    pad = (-window.shape[0]) % season
    blocks = np.concatenate([np.full(pad, np.nan), window]).reshape(-1, season)
    counts = (~np.isnan(blocks)).sum(axis=0)
    sums = np.nansum(blocks, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def fill_gaps(y: FloatArray, season: int) -> FloatArray:
    """A complete copy of `y` for models that cannot take NaN: each gap takes the mean of its
    phase over the observed seasons (then linear interpolation for phases never seen).
    Leading gaps are dropped by callers, not filled."""
    if not np.isnan(y).any():
        return y.copy()
    filled = y.copy()
    n = y.shape[0]
    if n >= season:
        pad = (-n) % season
        blocks = np.concatenate([np.full(pad, np.nan), y]).reshape(-1, season)
        with np.errstate(invalid="ignore"):
            counts = (~np.isnan(blocks)).sum(axis=0)
            phase_mean = np.where(
                counts > 0, np.nansum(blocks, axis=0) / np.maximum(counts, 1), np.nan
            )
        phases = (np.arange(n) + pad) % season
        gaps = np.isnan(filled)
        filled[gaps] = phase_mean[phases[gaps]]
    still = np.isnan(filled)
    if still.any():
        seen = np.flatnonzero(~still)
        if seen.size == 0:
            raise ModelError("series has no observed values")
        filled[still] = np.interp(np.flatnonzero(still), seen, filled[seen])
    return filled
