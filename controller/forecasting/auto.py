"""The automatic forecaster: per series, pick (or combine) models by a rolling-origin backtest.

1. Cold start: with under two days of observations there is nothing to backtest; the forecast is
   the prior shape (e.g. a persona's peak times) scaled to the observed level, or the latest day.
2. Backtest: every candidate is fitted once on the history before the calibration span (the last
   third, at most a week), then forecasts from an origin every hour of that span with the same
   parameters (`forward_many`, statsforecast's `forward`). Scores: mean absolute error over all
   observed (origin, step) pairs, steps up to the horizon asked for.
3. Choice: the best candidate, or the weighted median (weights 1/score) of the best three or of
   all candidates, whichever scored best in the same backtest. Candidates that fail are recorded and skipped; if all fail, seasonal
   naive, then the mean of what was observed.
4. Bands: conformal, from the chosen forecast's backtest errors per horizon step
   (`ConformalBands`); `recalibrate` adds realized errors as the feedback loop reports them.
5. The chosen models are refitted on the whole history for the forecast itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Self

import numpy as np

from controller.domain.series import FloatArray
from controller.forecasting.conformal import MIN_SAMPLES, ConformalBands, RecalibrationRule
from controller.forecasting.fourier import FourierAR
from controller.forecasting.model import (
    Forecaster,
    IndexArray,
    ModelError,
    Prediction,
    as_series,
    observed_count,
    wanted_quantiles,
)
from controller.forecasting.seasonal_naive import SeasonalMean, SeasonalNaive

PriorShape = Callable[[int, int], FloatArray]
"""prior(start, stop): relative demand at steps [start, stop) counted from the series' first step"""

COLD_START_SEASONS = 2
"""under this many days of observations, no backtest: the prior shape (or latest day) decides"""
MAX_CALIBRATION_SEASONS = 7
BACKTEST_ORIGINS_PER_SEASON = 24
ALL = 0
COMBINE_SIZES = (3, ALL)
"""weighted medians of the best 3 and of all candidates: used when the backtest prefers them"""
MODEL_FAILURES = (
    ModelError,
    np.linalg.LinAlgError,
    ValueError,
    FloatingPointError,
    ArithmeticError,
)


def default_candidates(season_lengths: Sequence[int]) -> list[Forecaster]:
    """The models the backtest chooses among; docs/forecasting.md says why these and not others."""
    daily = season_lengths[0]
    candidates: list[Forecaster] = [
        SeasonalNaive(daily),
        SeasonalMean(daily, seasons=7),
    ]
    if len(season_lengths) > 1:
        candidates.append(SeasonalNaive(season_lengths[1]))
    harmonics = tuple([10, 3][: len(season_lengths)])
    week = daily * 7
    candidates += [
        FourierAR(season_lengths, harmonics, half_life=week, ar_order=3, ar_window=2 * week),
        FourierAR(
            season_lengths,
            harmonics,
            interactions=2,
            half_life=week,
            ar_order=3,
            ar_window=2 * week,
        ),
    ]
    return candidates


@dataclass(frozen=True)
class CandidateScore:
    name: str
    mae: float | None
    """mean absolute backtest error (see Selection.backtest_score); None when it failed"""
    failure: str | None = None


@dataclass(frozen=True)
class ModelChoice:
    """A choice made earlier and kept (the feedback loop re-selects only when told to)."""

    models: tuple[str, ...]
    weights: tuple[float, ...]
    why: str = "kept"


@dataclass(frozen=True)
class Selection:
    """What the automatic choice did, for logs and the state document."""

    models: tuple[str, ...]
    weights: tuple[float, ...]
    reason: str
    backtest_score: float | None
    """mean absolute backtest error of the choice, of log(y + c) for non-negative series
    (about the relative error: 0.2 = typically 20% off); None without a backtest"""
    scores: tuple[CandidateScore, ...] = ()

    @property
    def kept(self) -> bool:
        return self.reason.startswith("kept")

    @property
    def choice(self) -> ModelChoice | None:
        """What to keep next time; None for cold starts and fallbacks (nothing to keep)."""
        if self.backtest_score is None or not self.models:
            return None
        return ModelChoice(self.models, self.weights)

    @property
    def label(self) -> str:
        if len(self.models) == 1:
            return self.models[0]
        return "median(" + ", ".join(self.models) + ")"


@dataclass
class _Fitted:
    models: list[Forecaster]
    weights: FloatArray
    bands: ConformalBands | None
    selection: Selection
    series: FloatArray
    lead: int
    extra: dict[str, float] = field(default_factory=dict)


class AutoForecaster:
    """Same protocol as the models: fit(y) -> self, predict(horizon, level) -> Prediction."""

    name = "auto"

    def __init__(
        self,
        season_lengths: Sequence[int],
        horizon: int,
        *,
        candidates: Callable[[], Sequence[Forecaster]] | None = None,
        prior: PriorShape | FloatArray | None = None,
        combine: bool = True,
        keep: ModelChoice | None = None,
    ) -> None:
        if not season_lengths or min(season_lengths) < 1:
            raise ValueError(f"season lengths must be >= 1, got {season_lengths}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.season_lengths = tuple(int(m) for m in season_lengths)
        self.horizon = horizon
        self._candidates = candidates or (lambda: default_candidates(self.season_lengths))
        self._prior = _as_prior(prior)
        self._combine = combine
        self._keep = keep
        self._fitted: _Fitted | None = None

    # -- public ----------------------------------------------------------------------------
    @property
    def selection(self) -> Selection:
        return self._state().selection

    @property
    def bands(self) -> ConformalBands | None:
        return self._state().bands

    def fit(self, y: FloatArray) -> Self:
        y = as_series(y)
        seen = np.flatnonzero(~np.isnan(y))
        lead = int(seen[0]) if seen.size else y.shape[0]
        series = y[lead:]
        daily = self.season_lengths[0]
        if observed_count(series) < COLD_START_SEASONS * daily:
            self._fitted = self._cold_start(series, lead)
        elif self._keep is not None:
            self._fitted = self._kept(series, lead, self._keep) or self._select(series, lead)
        else:
            self._fitted = self._select(series, lead)
        return self

    def forward(self, y: FloatArray, horizon: int) -> FloatArray:
        state = self._state()
        return self._point(state, as_series(y)[state.lead :], horizon)

    def forward_many(self, y: FloatArray, origins: IndexArray, horizon: int) -> FloatArray:
        return np.vstack([self.forward(y[: int(o)], horizon) for o in origins])

    def predict(self, horizon: int, level: Sequence[float] = (), scale: float = 1.0) -> Prediction:
        """`scale` multiplies the point forecast before the bands are put around it: the
        feedback loop's bias correction (bands come from errors of corrected forecasts)."""
        state = self._state()
        mean = self._point(state, state.series, horizon) * scale
        wanted = wanted_quantiles(level)
        if state.bands is not None:
            quantiles = state.bands.quantiles(mean, wanted)
        else:
            quantiles = {q: mean.copy() for q in wanted}
        return Prediction(mean, quantiles, state.selection.label)

    def recalibrate(self, forecast: FloatArray, actual: FloatArray) -> None:
        """Add what one earlier forecast got wrong (aligned by step) to the conformal errors."""
        state = self._state()
        if state.bands is None:
            offset = _log_offset(state.series)
            state.bands = ConformalBands(np.full((0, forecast.shape[0]), np.nan), offset)
        state.bands = state.bands.updated(as_series(forecast), as_series(actual))

    def recalibrate_from(
        self,
        forecasts: FloatArray,
        actuals: FloatArray,
        rule: RecalibrationRule = "replace",
        min_samples: int = MIN_SAMPLES,
    ) -> None:
        """Many realized forecasts at once, (forecasts, steps) each: `ConformalBands.recalibrated`."""
        state = self._state()
        if state.bands is None:
            offset = _log_offset(state.series)
            state.bands = ConformalBands(np.full((0, forecasts.shape[1]), np.nan), offset)
        state.bands = state.bands.recalibrated(forecasts, actuals, rule, min_samples)

    # -- internals -------------------------------------------------------------------------
    def _state(self) -> _Fitted:
        if self._fitted is None:
            raise ModelError("auto: predict before fit")
        return self._fitted

    def _point(self, state: _Fitted, series: FloatArray, horizon: int) -> FloatArray:
        if state.extra.get("cold"):
            return self._cold_point(state, series, horizon)
        paths = np.vstack([m.forward(series, horizon) for m in state.models])
        return _weighted_median(paths, state.weights)

    def _backtest_origins(self, n: int) -> tuple[IndexArray, int, int]:
        """(origins, steps, calibration span) of the rolling-origin backtest of n observations."""
        daily = self.season_lengths[0]
        calibration = min(MAX_CALIBRATION_SEASONS * daily, n // 3)
        calibration = max(calibration, min(daily, n - COLD_START_SEASONS * daily))
        steps = min(self.horizon, calibration)
        stride = max(1, daily // BACKTEST_ORIGINS_PER_SEASON)
        return np.arange(n - calibration, n, stride, dtype=np.int64), steps, calibration

    def _kept(self, y: FloatArray, lead: int, keep: ModelChoice) -> _Fitted | None:
        """The kept choice, backtested alone (for its bands and score) and refitted; None when
        a kept model is no longer a candidate or fails, so the caller selects afresh."""
        by_name = {model.name: model for model in self._candidates()}
        if not keep.models or any(name not in by_name for name in keep.models):
            return None
        n = y.shape[0]
        origins, steps, calibration = self._backtest_origins(n)
        actuals = _windows(y, origins, steps)
        weights = np.array(keep.weights, dtype=np.float64)
        offset = _log_offset(y)
        try:
            paths = [
                by_name[name].fit(y[: n - calibration]).forward_many(y, origins, steps)
                for name in keep.models
            ]
            point = _weighted_median(np.stack(paths), weights)
            if not np.all(np.isfinite(point)):
                return None
            models = [by_name[name].fit(y) for name in keep.models]
        except MODEL_FAILURES:
            return None
        score = _score(actuals, point, offset)
        selection = Selection(
            tuple(keep.models),
            tuple(float(w) for w in weights),
            f"kept ({keep.why}); backtest over {len(origins)} origins x {steps} steps",
            score,
        )
        bands = ConformalBands.from_forecasts(point, actuals, offset)
        return _Fitted(models, weights, bands, selection, y, lead)

    def _select(self, y: FloatArray, lead: int) -> _Fitted:
        n = y.shape[0]
        origins, steps, calibration = self._backtest_origins(n)
        actuals = _windows(y, origins, steps)
        train = y[: n - calibration]

        offset = _log_offset(y)
        candidates = list(self._candidates())
        scores: list[CandidateScore] = []
        paths: list[FloatArray] = []
        kept: list[int] = []
        for index, model in enumerate(candidates):
            try:
                forecast = model.fit(train).forward_many(y, origins, steps)
                if not np.all(np.isfinite(forecast)):
                    raise ModelError("forecast is not finite")
            except MODEL_FAILURES as exc:
                scores.append(CandidateScore(model.name, None, f"{type(exc).__name__}: {exc}"))
                continue
            mae = _score(actuals, forecast, offset)
            scores.append(CandidateScore(model.name, mae))
            paths.append(forecast)
            kept.append(index)

        if not kept:
            return self._fallback(y, lead, tuple(scores), "every candidate failed the backtest")
        maes = np.array([scores_by_name(scores)[candidates[i].name] for i in kept])
        order = np.argsort(maes)
        chosen = [int(order[0])]
        weights = np.ones(1)
        best = float(maes[order[0]])
        sizes = {len(order) if size == ALL else size for size in COMBINE_SIZES}
        sizes = {size for size in sizes if 1 < size <= len(order)}
        for size in sorted(sizes) if self._combine else []:
            top = [int(i) for i in order[:size]]
            top_weights = 1.0 / np.maximum(maes[top], 1e-12)
            combined = _weighted_median(np.stack([paths[i] for i in top]), top_weights)
            combined_mae = _score(actuals, combined, offset)
            if combined_mae < best:
                chosen, weights, best = top, top_weights, combined_mae
        point = _weighted_median(np.stack([paths[i] for i in chosen]), weights)
        bands = ConformalBands.from_forecasts(point, actuals, _log_offset(y))

        models: list[Forecaster] = []
        final_weights: list[float] = []
        for i, weight in zip(chosen, weights, strict=True):
            model = candidates[kept[i]]
            try:
                models.append(model.fit(y))
                final_weights.append(float(weight))
            except MODEL_FAILURES:
                continue
        if not models:
            return self._fallback(
                y, lead, tuple(scores), "the chosen models failed on the full history"
            )
        selection = Selection(
            tuple(m.name for m in models),
            tuple(final_weights),
            f"backtest over {len(origins)} origins x {steps} steps",
            best,
            tuple(scores),
        )
        return _Fitted(models, np.array(final_weights), bands, selection, y, lead)

    def _fallback(
        self, y: FloatArray, lead: int, scores: tuple[CandidateScore, ...], why: str
    ) -> _Fitted:
        daily = self.season_lengths[0]
        for model in (SeasonalNaive(daily), SeasonalMean(max(1, y.shape[0]), seasons=1)):
            try:
                model.fit(y)
                model.forward(y, 1)
            except MODEL_FAILURES:
                continue
            bands = _in_sample_bands(y, daily)
            selection = Selection((model.name,), (1.0,), f"fallback: {why}", None, scores)
            return _Fitted([model], np.ones(1), bands, selection, y, lead)
        raise ModelError(f"auto: no model can forecast this series ({why})")

    def _cold_start(self, y: FloatArray, lead: int) -> _Fitted:
        daily = self.season_lengths[0]
        observed = observed_count(y)
        if observed == 0:
            selection = Selection(("no-history",), (1.0,), "cold start: nothing observed", None)
            return _Fitted([], np.ones(0), None, selection, y, lead, {"cold": 1.0, "level": 0.0})
        shape = self._prior_at(lead, lead + y.shape[0]) if self._prior else np.ones(y.shape[0])
        seen = ~np.isnan(y)
        level = float(np.mean(y[seen])) / max(float(np.mean(shape[seen])), 1e-12)
        name = "prior-shape" if self._prior else "mean"
        if not self._prior and y.shape[0] >= daily:
            name = "latest-day"
        selection = Selection(
            (name,),
            (1.0,),
            f"cold start: {observed} observations, under {COLD_START_SEASONS} days",
            None,
        )
        fitted = _Fitted([], np.ones(0), None, selection, y, lead, {"cold": 1.0, "level": level})
        in_sample = self._cold_point(fitted, y[:0], y.shape[0]) if name != "latest-day" else None
        if in_sample is not None:
            fitted.bands = _spread_bands(y, in_sample)
        else:
            fitted.bands = _in_sample_bands(y, daily)
        return fitted

    def _cold_point(self, state: _Fitted, series: FloatArray, horizon: int) -> FloatArray:
        if state.selection.models[0] == "no-history":
            return np.zeros(horizon)
        if state.selection.models[0] == "latest-day":
            return SeasonalNaive(self.season_lengths[0]).fit(state.series).forward(series, horizon)
        start = state.lead + series.shape[0]
        shape = self._prior_at(start, start + horizon) if self._prior else np.ones(horizon)
        return state.extra["level"] * shape

    def _prior_at(self, start: int, stop: int) -> FloatArray:
        assert self._prior is not None
        shape = np.asarray(self._prior(start, stop), dtype=np.float64)
        if shape.shape != (stop - start,) or not np.all(np.isfinite(shape)) or np.any(shape < 0):
            raise ValueError(
                f"prior shape for steps {start}..{stop} must be {stop - start} values >= 0"
            )
        return shape


def scores_by_name(scores: Sequence[CandidateScore]) -> dict[str, float]:
    return {s.name: s.mae for s in scores if s.mae is not None}


def _as_prior(prior: PriorShape | FloatArray | None) -> PriorShape | None:
    if prior is None or callable(prior):
        return prior
    values = np.asarray(prior, dtype=np.float64)

    def from_array(start: int, stop: int) -> FloatArray:
        if stop > values.shape[0]:
            raise ValueError(f"prior array has {values.shape[0]} steps, steps up to {stop} needed")
        return values[start:stop]

    return from_array


def _windows(y: FloatArray, origins: IndexArray, steps: int) -> FloatArray:
    """Row i: y[origins[i] : origins[i] + steps], NaN past the end."""
    padded = np.concatenate([y, np.full(steps, np.nan)])
    windows: FloatArray = padded[origins[:, None] + np.arange(steps)[None, :]]
    return windows


def _weighted_median(paths: FloatArray, weights: FloatArray) -> FloatArray:
    """Per position, the weighted median over the first axis (one model per row)."""
    if paths.shape[0] == 1:
        first: FloatArray = paths[0]
        return first
    order = np.argsort(paths, axis=0)
    sorted_paths = np.take_along_axis(paths, order, axis=0)
    cumulative = np.cumsum(weights[order], axis=0)
    half = cumulative[-1] / 2
    pick = np.argmax(cumulative >= half[None, ...] - 1e-12, axis=0)
    median: FloatArray = np.take_along_axis(sorted_paths, pick[None, ...], axis=0)[0]
    return median


def _score(actuals: FloatArray, forecast: FloatArray, offset: float | None) -> float:
    """Mean absolute error, on the log scale for non-negative series so that one burst in the
    backtest window does not decide the choice."""
    if offset is None:
        return float(np.nanmean(np.abs(actuals - forecast)))
    with np.errstate(invalid="ignore"):
        return float(
            np.nanmean(np.abs(np.log(actuals + offset) - np.log(np.maximum(forecast, 0) + offset)))
        )


def _log_offset(y: FloatArray) -> float | None:
    observed = y[~np.isnan(y)]
    if observed.size == 0 or float(observed.min()) < 0:
        return None
    return max(0.1 * float(observed.mean()), 1e-6)


def _in_sample_bands(y: FloatArray, season: int) -> ConformalBands:
    """Bands for a fallback: errors of repeating the value one season back, at every step."""
    lag = season if y.shape[0] > season + 10 else 1
    offset = _log_offset(y)
    if y.shape[0] <= lag:
        return ConformalBands(np.full((0, 1), np.nan), offset)
    return ConformalBands.from_forecasts(y[:-lag, None], y[lag:, None], offset)


def _spread_bands(y: FloatArray, fitted: FloatArray) -> ConformalBands:
    """Cold start: errors of the scaled prior against what was seen; wide when few were seen."""
    offset = _log_offset(y)
    bands = ConformalBands.from_forecasts(fitted[:, None], y[:, None], offset)
    if observed_count(y) < 10:
        # Too little to measure: a band from a third of to three times the level.
        wide = np.log(np.array([1 / 3, 3.0]))[:, None] if offset is not None else None
        if wide is not None:
            return ConformalBands(wide, offset)
    return bands


def seasons_for(step_seconds: float) -> tuple[int, int]:
    """Daily and weekly season lengths in steps of `step_seconds` (at least 1)."""
    daily = max(1, round(86400 / step_seconds))
    return daily, max(1, round(7 * 86400 / step_seconds))


def horizon_steps(seconds: float, step_seconds: float) -> int:
    return max(1, math.ceil(seconds / step_seconds))
