"""Seasonal naive and the mean of the last k seasons: tomorrow at 10:00 looks like today at 10:00.

Gaps are skipped, not read as zeros: a phase whose value one season back is missing looks a
further season back, and falls back to the mean of what was observed.
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
    observed_count,
)

MAX_SEASONS_BACK = 8
"""a gap looks this many seasons further back before the slower per-origin path takes over"""


class SeasonalNaive(PointModel):
    """y[t + h] = y[t + h - m] (the latest observed season at that phase)."""

    def __init__(self, season_length: int) -> None:
        super().__init__()
        if season_length < 1:
            raise ValueError(f"season_length must be >= 1, got {season_length}")
        self.season_length = season_length
        self.name = f"seasonal-naive(m={season_length})"

    def fit(self, y: FloatArray) -> Self:
        y = as_series(y)
        if observed_count(y) == 0:
            raise ModelError(f"{self.name}: no observed values")
        self._y = y
        m = self.season_length
        self._residuals = y[m:] - y[:-m] if y.shape[0] > m else np.empty(0)
        return self

    def forward(self, y: FloatArray, horizon: int) -> FloatArray:
        m = self.season_length
        observed = y[~np.isnan(y)]
        if observed.size == 0:
            raise ModelError(f"{self.name}: no observed values")
        pad = (-y.shape[0]) % m
        blocks = np.concatenate([np.full(pad, np.nan), y]).reshape(-1, m)
        seen = ~np.isnan(blocks)
        latest = np.where(seen, np.arange(blocks.shape[0])[:, None], -1).max(axis=0)
        season = blocks[np.maximum(latest, 0), np.arange(m)]
        if (latest < 0).any():
            recent = y[-m:]
            fallback = np.nanmean(recent) if np.any(~np.isnan(recent)) else observed.mean()
            season = np.where(latest < 0, fallback, season)
        return np.tile(season, -(-horizon // m))[:horizon]

    def forward_many(self, y: FloatArray, origins: IndexArray, horizon: int) -> FloatArray:
        m = self.season_length
        lag = m - np.arange(horizon) % m  # steps back from the origin to the same phase
        source = origins[:, None] - lag[None, :]
        values = _take(y, source)
        for _ in range(MAX_SEASONS_BACK):
            missing = np.isnan(values) & (source >= m)
            if not missing.any():
                break
            source = np.where(missing, source - m, source)
            values = np.where(missing, _take(y, source), values)
        if np.isnan(values).any():
            rows = [self.forward(y[: int(o)], horizon) for o in origins]
            values = np.where(np.isnan(values), np.vstack(rows), values)
        return values


class SeasonalMean(PointModel):
    """Mean (or median) of the last k seasons at the same phase, e.g. the last 7 days at 10:00.

    Phases with no observation in those k seasons take the mean of the whole window.
    """

    def __init__(self, season_length: int, seasons: int, statistic: str = "mean") -> None:
        super().__init__()
        if season_length < 1 or seasons < 1:
            raise ValueError(
                f"season_length and seasons must be >= 1, got {season_length}, {seasons}"
            )
        if statistic not in ("mean", "median"):
            raise ValueError(f"statistic must be mean or median, got {statistic!r}")
        self.season_length = season_length
        self.seasons = seasons
        self.statistic = statistic
        self.name = f"seasonal-{statistic}(m={season_length},k={seasons})"

    def fit(self, y: FloatArray) -> Self:
        y = as_series(y)
        if observed_count(y) == 0:
            raise ModelError(f"{self.name}: no observed values")
        self._y = y
        m, n = self.season_length, y.shape[0]
        if n > m * 2:
            # In-sample errors: each season against the profile of the k seasons before it.
            starts = range(max(m, n - 4 * m), n - m + 1, m)
            errors = [y[s : s + m] - self._profile(y[:s]) for s in starts]
            self._residuals = np.concatenate(errors) if errors else np.empty(0)
        return self

    def _profile(self, y: FloatArray) -> FloatArray:
        m, k = self.season_length, self.seasons
        window = y[-m * k :]
        pad = (-window.shape[0]) % m
        blocks = np.concatenate([np.full(pad, np.nan), window]).reshape(-1, m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN phases, handled below
            profile = (
                np.nanmedian(blocks, axis=0)
                if self.statistic == "median"
                else np.nanmean(blocks, axis=0)
            )
        if np.isnan(profile).any():
            observed = window[~np.isnan(window)]
            if observed.size == 0:
                observed = y[~np.isnan(y)]
            if observed.size == 0:
                raise ModelError(f"{self.name}: no observed values")
            profile = np.where(np.isnan(profile), float(observed.mean()), profile)
        return np.asarray(profile, dtype=np.float64)

    def forward_many(self, y: FloatArray, origins: IndexArray, horizon: int) -> FloatArray:
        m, k = self.season_length, self.seasons
        lag = m - np.arange(horizon) % m
        back = lag[None, :, None] + m * np.arange(k)[None, None, :]
        source = origins[:, None, None] - back
        values = np.where(source >= 0, _take(y, source), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN phases, handled below
            if self.statistic == "median":
                paths = np.nanmedian(values, axis=2)
            else:
                paths = np.nanmean(values, axis=2)
        if np.isnan(paths).any():
            rows = [self.forward(y[: int(o)], horizon) for o in origins]
            paths = np.where(np.isnan(paths), np.vstack(rows), paths)
        return paths

    def forward(self, y: FloatArray, horizon: int) -> FloatArray:
        profile = self._profile(y)
        reps = -(-horizon // self.season_length)
        return np.tile(profile, reps)[:horizon]


def _take(y: FloatArray, index: IndexArray) -> FloatArray:
    """y[index], NaN where index < 0."""
    return np.where(index >= 0, y[np.maximum(index, 0)], np.nan)
