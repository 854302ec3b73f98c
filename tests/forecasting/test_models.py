"""Each model family on series whose right forecast is known."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from controller.forecasting.arima import FourierARIMA
from controller.forecasting.ets import HoltWinters
from controller.forecasting.fourier import FourierAR
from controller.forecasting.model import Forecaster, ModelError, fill_gaps, level_quantiles
from controller.forecasting.mstl import MSTLSmoothing
from controller.forecasting.seasonal_naive import SeasonalMean, SeasonalNaive
from tests.forecasting.synthetic import DAY, WEEK, daily_wave, noisy


def test_seasonal_naive_repeats_the_last_season() -> None:
    y = np.concatenate([np.arange(DAY, dtype=float), np.arange(DAY, dtype=float) + 100])
    forecast = SeasonalNaive(DAY).fit(y).forward(y, 2 * DAY)
    assert np.array_equal(forecast, np.tile(np.arange(DAY) + 100.0, 2))


def test_seasonal_naive_looks_a_season_further_back_across_a_gap() -> None:
    y = np.concatenate([np.full(DAY, 5.0), np.full(DAY, 7.0)])
    y[DAY + 3] = np.nan
    forecast = SeasonalNaive(DAY).fit(y).forward(y, DAY)
    assert forecast[3] == 5.0 and forecast[4] == 7.0


def test_seasonal_mean_averages_the_last_k_seasons() -> None:
    y = np.concatenate([np.full(DAY, 1.0), np.full(DAY, 2.0), np.full(DAY, 3.0), np.full(DAY, 6.0)])
    forecast = SeasonalMean(DAY, seasons=3).fit(y).forward(y, DAY)
    assert np.allclose(forecast, (2 + 3 + 6) / 3)


def test_seasonal_median_ignores_one_burst_season() -> None:
    y = np.concatenate([np.full(DAY, 4.0), np.full(DAY, 400.0), np.full(DAY, 4.0)])
    assert np.allclose(SeasonalMean(DAY, 3, "median").fit(y).forward(y, DAY), 4.0)


def test_fourier_ar_recovers_a_clean_daily_wave() -> None:
    y = daily_wave(days=6)
    truth = daily_wave(days=7)[len(y) :]
    forecast = FourierAR((DAY,), (3,), ar_order=2).fit(y).forward(y, DAY)
    assert np.max(np.abs(forecast - truth)) < 0.05


def test_fourier_ar_errors_carry_a_recent_level_shift_then_fade() -> None:
    rng = np.random.default_rng(1)
    errors = np.zeros(10 * DAY)
    for t in range(1, errors.shape[0]):  # persistent deviations: AR(1) with phi 0.9
        errors[t] = 0.9 * errors[t - 1] + rng.normal(0, 0.03)
    y = daily_wave(days=10) * np.exp(errors)
    model = FourierAR((DAY,), (3,), ar_order=1).fit(y)
    shifted = y.copy()
    shifted[-3:] *= 1.3  # the last readings run 30% above the usual shape
    base, after = model.forward(y, DAY), model.forward(shifted, DAY)
    assert after[0] > base[0] * 1.1  # the next step expects more of the same
    assert abs(after[-1] / base[-1] - 1) < 0.05  # a day later the shape is back


def test_fourier_ar_weekly_terms_learn_a_quiet_weekend() -> None:
    days = np.arange(3 * WEEK) // DAY % 7
    y = np.where(days >= 5, 4.0, 10.0) * (1 + 0.3 * np.sin(2 * np.pi * np.arange(3 * WEEK) / DAY))
    model = FourierAR((DAY, WEEK), (4, 3), interactions=2, ar_order=0).fit(y)
    forecast = model.forward(y, WEEK)  # the next week starts on day 0 again
    weekday, weekend = forecast[: 5 * DAY].mean(), forecast[5 * DAY :].mean()
    assert weekend < 0.7 * weekday


def test_holt_winters_follows_a_daily_wave() -> None:
    y = noisy(daily_wave(days=8), sd=0.1, seed=2)
    truth = daily_wave(days=9)[len(y) :]
    forecast = HoltWinters(DAY).fit(y).forward(y, DAY)
    assert np.mean(np.abs(forecast - truth)) < 0.5


def test_fourier_arima_follows_a_daily_wave() -> None:
    y = noisy(daily_wave(days=8), sd=0.1, seed=3)
    truth = daily_wave(days=9)[len(y) :]
    forecast = FourierARIMA((DAY,), (3,)).fit(y).forward(y, DAY)
    assert np.mean(np.abs(forecast - truth)) < 0.3


def test_mstl_follows_a_daily_wave() -> None:
    y = noisy(daily_wave(days=8), sd=0.1, seed=4)
    truth = daily_wave(days=9)[len(y) :]
    forecast = MSTLSmoothing((DAY,)).fit(y).forward(y, DAY)
    assert np.mean(np.abs(forecast - truth)) < 0.5


MODELS = [
    lambda: SeasonalNaive(DAY),
    lambda: SeasonalMean(DAY, 3),
    lambda: FourierAR((DAY, WEEK), (3, 2), ar_order=3),
    lambda: HoltWinters(DAY),
    lambda: FourierARIMA((DAY,), (3,)),
    lambda: MSTLSmoothing((DAY,)),
]


@pytest.mark.parametrize("make", MODELS, ids=lambda m: m().name)
def test_forward_many_matches_forecasting_from_each_prefix(make: object) -> None:
    y = noisy(daily_wave(days=9), sd=0.3, seed=5)
    y[100:110] = np.nan
    model: Forecaster = make().fit(y[: 6 * DAY])  # type: ignore[operator]
    origins = np.array([6 * DAY, 6 * DAY + 7, 8 * DAY + 1], dtype=np.int64)
    many = model.forward_many(y, origins, 30)
    for row, origin in zip(many, origins, strict=True):
        assert np.allclose(row, model.forward(y[:origin], 30))


@pytest.mark.parametrize("make", MODELS, ids=lambda m: m().name)
def test_gaps_are_skipped_not_read_as_zero(make: object) -> None:
    y = noisy(daily_wave(days=8), sd=0.1, seed=6)
    with_gap = y.copy()
    with_gap[3 * DAY : 4 * DAY] = np.nan
    as_zero = np.nan_to_num(with_gap, nan=0.0)
    ok = make().fit(with_gap).predict(DAY).mean  # type: ignore[operator]
    zeroed = make().fit(as_zero).predict(DAY).mean  # type: ignore[operator]
    truth = daily_wave(days=9)[8 * DAY :]
    assert (
        np.mean(np.abs(ok - truth)) < np.mean(np.abs(zeroed - truth))
        or np.mean(np.abs(ok - truth)) < 0.3
    )


def test_models_refuse_a_series_with_nothing_observed() -> None:
    with pytest.raises(ModelError):
        SeasonalNaive(DAY).fit(np.full(10, np.nan))
    with pytest.raises(ModelError):
        FourierAR((DAY,), (3,)).fit(np.full(10, np.nan))


def test_predict_gives_default_quantiles_and_asked_levels_in_order() -> None:
    y = noisy(daily_wave(days=5), sd=0.5, seed=7)
    prediction = SeasonalNaive(DAY).fit(y).predict(DAY, level=[80])
    assert set(prediction.quantiles) == {0.05, 0.1, 0.5, 0.9, 0.95}
    low, high = prediction.interval(80)
    assert np.all(low <= high)
    assert level_quantiles(95) == (0.025, 0.975)


def test_fill_gaps_uses_the_phase_mean_not_zero() -> None:
    y = np.tile(np.arange(1.0, DAY + 1), 3)
    y[DAY + 5] = np.nan
    assert fill_gaps(y, DAY)[DAY + 5] == 6.0


@pytest.mark.skipif(
    importlib.util.find_spec("prophet") is None, reason="prophet extra not installed"
)
def test_prophet_follows_a_daily_wave() -> None:
    from controller.forecasting.prophet_model import ProphetModel

    y = noisy(daily_wave(days=6), sd=0.1, seed=8)
    truth = daily_wave(days=7)[len(y) :]
    model = ProphetModel(step_seconds=1800).fit(y)
    forecast = model.forward(y, DAY)
    assert np.mean(np.abs(forecast - truth)) < 1.0
    low, high = model.own_interval()
    assert np.all(low <= forecast) and np.all(forecast <= high)


def test_mstl_leaves_out_a_season_the_history_covers_only_twice() -> None:
    y = noisy(daily_wave(days=14), sd=0.1, seed=9)  # exactly two weeks: too short for weekly
    model = MSTLSmoothing((DAY, WEEK)).fit(y)
    assert np.mean(np.abs(model.forward(y, DAY) - daily_wave(days=15)[14 * DAY :])) < 0.5
