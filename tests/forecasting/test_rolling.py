"""Re-forecasting every step: the model is re-chosen on a schedule and forwarded in between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from controller.domain.series import Series
from controller.forecasting.auto import AutoForecaster, seasons_for
from controller.forecasting.rolling import RollingForecaster
from tests.forecasting.synthetic import DAY, daily_wave, noisy

START = datetime(2026, 11, 2, tzinfo=UTC)
STEP = timedelta(minutes=30)  # DAY = 48 half-hour steps


def window(values: np.ndarray, first: int, stop: int) -> Series:
    return Series("demand", START + STEP * first, STEP, values[first:stop])


def test_the_model_is_chosen_again_only_every_reselect_calls() -> None:
    values = noisy(daily_wave(10), sd=0.5)
    forecaster = RollingForecaster(reselect_every=4)
    labels = [forecaster(window(values, 0, 6 * DAY + i), 12).model for i in range(9)]
    assert forecaster.selections == 3  # calls 1, 5 and 9
    assert [label.endswith("(forwarded)") for label in labels] == [
        False, True, True, True, False, True, True, True, False,
    ]  # fmt: skip


def test_a_forwarded_forecast_is_the_chosen_models_applied_to_the_newer_history() -> None:
    values = noisy(daily_wave(10), sd=0.5)
    forecaster = RollingForecaster(reselect_every=100)
    forecaster(window(values, 0, 6 * DAY), 12)
    later = forecaster(window(values, 0, 6 * DAY + 7), 12)
    chosen = AutoForecaster(seasons_for(STEP.total_seconds()), 12).fit(values[: 6 * DAY])
    assert np.allclose(later.mean, chosen.forward(values[: 6 * DAY + 7], 12))
    assert later.origin == START + STEP * (6 * DAY + 7)


def test_a_sliding_history_window_is_joined_to_the_fitted_one_without_a_new_choice() -> None:
    values = noisy(daily_wave(10), sd=0.5)
    forecaster = RollingForecaster(reselect_every=100)
    forecaster(window(values, 0, 6 * DAY), 12)
    slid = forecaster(window(values, 5, 6 * DAY + 5), 12)  # the oldest 5 steps fell out
    extended = forecaster(window(values, 0, 6 * DAY + 5), 12)
    assert forecaster.selections == 1
    assert np.allclose(slid.mean, extended.mean)


def test_a_history_that_does_not_reach_the_fitted_one_makes_a_new_choice() -> None:
    values = noisy(daily_wave(12), sd=0.5)
    forecaster = RollingForecaster(reselect_every=100)
    forecaster(window(values, 0, 3 * DAY), 12)
    forecaster(window(values, 4 * DAY, 8 * DAY), 12)  # starts after the fitted history ended
    assert forecaster.selections == 2


def test_forwarded_forecasts_keep_the_conformal_bands_of_the_choice() -> None:
    values = noisy(daily_wave(10), sd=0.5)
    forecaster = RollingForecaster(reselect_every=100, levels=(95,))
    forecast = forecaster(window(values, 0, 6 * DAY + 3), 12)
    assert set(forecast.quantiles) >= {0.05, 0.5, 0.95, 0.025, 0.975}
    assert np.all(forecast.quantiles[0.975] >= forecast.quantiles[0.025])


def test_forwarded_bands_are_the_conformal_bands_of_the_choice_around_the_new_point() -> None:
    values = noisy(daily_wave(10), sd=0.5)
    forecaster = RollingForecaster(reselect_every=100, levels=(95,))
    forecaster(window(values, 0, 6 * DAY), 12)
    forecast = forecaster(window(values, 0, 6 * DAY + 3), 12)
    chosen = AutoForecaster(seasons_for(STEP.total_seconds()), 12).fit(values[: 6 * DAY])
    assert chosen.bands is not None
    expected = chosen.bands.quantiles(forecast.mean, sorted(forecast.quantiles))
    for q, band in expected.items():
        assert np.allclose(forecast.quantiles[q], band)
