"""The automatic choice: backtest, combination, fallback, cold start, conformal bands."""

from __future__ import annotations

import numpy as np
import pytest

from controller.forecasting.auto import AutoForecaster
from controller.forecasting.model import ModelError, PointModel
from controller.forecasting.seasonal_naive import SeasonalMean, SeasonalNaive
from tests.forecasting.synthetic import DAY, WEEK, daily_wave, noisy


class Broken(PointModel):
    """A model that always fails to fit, as a real one might on odd data."""

    name = "broken"

    def fit(self, y: np.ndarray) -> Broken:
        raise ModelError("cannot fit this")

    def forward(self, y: np.ndarray, horizon: int) -> np.ndarray:
        raise ModelError("never fitted")


def test_backtest_prefers_a_seasonal_model_on_a_seasonal_series() -> None:
    y = noisy(daily_wave(days=14), sd=0.3, seed=1)
    auto = AutoForecaster((DAY, WEEK), horizon=DAY).fit(y)
    assert "naive(m=1)" not in auto.selection.label
    truth = daily_wave(days=15)[14 * DAY :]
    assert np.mean(np.abs(auto.predict(DAY).mean - truth)) < 0.5
    assert auto.selection.reason.startswith("backtest")
    assert len(auto.selection.scores) >= 4


def test_a_failing_candidate_is_recorded_and_skipped() -> None:
    y = noisy(daily_wave(days=6), sd=0.3, seed=2)
    auto = AutoForecaster(
        (DAY,), horizon=DAY, candidates=lambda: [Broken(), SeasonalNaive(DAY), SeasonalMean(DAY, 3)]
    ).fit(y)
    broken = [s for s in auto.selection.scores if s.name == "broken"]
    assert broken and broken[0].mae is None and "cannot fit" in (broken[0].failure or "")
    assert "broken" not in auto.selection.models
    assert np.all(np.isfinite(auto.predict(DAY).mean))


def test_falls_back_to_seasonal_naive_when_every_candidate_fails() -> None:
    y = noisy(daily_wave(days=6), sd=0.3, seed=3)
    auto = AutoForecaster((DAY,), horizon=DAY, candidates=lambda: [Broken(), Broken()]).fit(y)
    assert auto.selection.reason.startswith("fallback")
    assert auto.selection.models == (f"seasonal-naive(m={DAY})",)
    prediction = auto.predict(DAY, level=[95])
    assert np.allclose(prediction.mean, y[-DAY:])
    low, high = prediction.interval(95)
    assert np.all(low <= prediction.mean) and np.all(prediction.mean <= high)


def test_cold_start_takes_the_shape_of_the_prior() -> None:
    y = np.full(DAY // 2, 10.0)  # half a day of flat history: nothing to learn a cycle from
    peak = np.zeros(DAY * 3)
    peak[DAY : DAY + 10] = 1.0  # tomorrow's first five hours are declared peak time
    auto = AutoForecaster((DAY,), horizon=DAY, prior=lambda a, b: 1.0 + peak[a:b]).fit(y)
    assert auto.selection.reason.startswith("cold start")
    forecast = auto.predict(DAY).mean  # steps DAY/2 .. 3*DAY/2 of the prior
    inside = forecast[DAY // 2 : DAY // 2 + 10]
    assert np.allclose(inside, 20.0) and np.allclose(forecast[:5], 10.0)


def test_cold_start_without_a_prior_repeats_the_latest_day() -> None:
    y = daily_wave(days=1.5)
    auto = AutoForecaster((DAY,), horizon=DAY).fit(y)
    assert auto.selection.models == ("latest-day",)
    assert np.allclose(auto.predict(DAY).mean, y[-DAY:])


def test_nothing_observed_forecasts_zero_rather_than_failing() -> None:
    auto = AutoForecaster((DAY,), horizon=5).fit(np.full(DAY * 3, np.nan))
    assert auto.selection.models == ("no-history",)
    assert np.array_equal(auto.predict(5).mean, np.zeros(5))


def test_leading_gaps_do_not_count_as_history() -> None:
    y = np.concatenate([np.full(10 * DAY, np.nan), daily_wave(days=1)])
    auto = AutoForecaster((DAY,), horizon=DAY).fit(y)
    assert auto.selection.reason.startswith("cold start")


def test_conformal_bands_cover_close_to_nominal_on_noise() -> None:
    """95% bands on independent draws of a noisy daily pattern land near 95% coverage."""
    inside, total = 0, 0
    for seed in range(12):
        y = noisy(daily_wave(days=11, level=20.0, swing=0.3), sd=1.0, seed=seed)
        history, future = y[: 10 * DAY], y[10 * DAY :]
        prediction = AutoForecaster((DAY,), horizon=DAY).fit(history).predict(DAY, level=[95])
        low, high = prediction.interval(95)
        inside += int(np.sum((future >= low) & (future <= high)))
        total += future.shape[0]
    assert 0.9 <= inside / total <= 0.99


def test_bands_widen_as_the_horizon_grows_when_errors_do() -> None:
    rng = np.random.default_rng(4)
    errors = np.zeros(12 * DAY)
    for t in range(1, errors.shape[0]):
        errors[t] = 0.95 * errors[t - 1] + rng.normal(0, 0.05)
    y = daily_wave(days=12) * np.exp(errors)
    prediction = AutoForecaster((DAY,), horizon=DAY).fit(y).predict(DAY, level=[95])
    low, high = prediction.interval(95)
    width = (high - low) / prediction.mean
    assert width[-5:].mean() > 1.5 * width[:2].mean()


def test_recalibration_with_large_realized_errors_widens_the_bands() -> None:
    y = noisy(daily_wave(days=8), sd=0.2, seed=5)
    auto = AutoForecaster((DAY,), horizon=DAY).fit(y)
    before = auto.predict(DAY, level=[95])
    for _ in range(300):
        auto.recalibrate(before.mean, before.mean * 2.0)  # reality came in at twice the forecast
    after = auto.predict(DAY, level=[95])
    assert np.all(after.interval(95)[1] > before.interval(95)[1])


def test_predict_before_fit_is_a_model_error() -> None:
    with pytest.raises(ModelError):
        AutoForecaster((DAY,), horizon=3).predict(3)
