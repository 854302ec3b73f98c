"""History cut-off, outages, calendar windows and the persona prior, through forecast_series."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import numpy as np

from controller.domain.calendar import Calendar, CalendarWindow, HistoryCutoff
from controller.domain.persona import OneOffPeak, PeakWindow
from controller.domain.series import Series
from controller.forecasting.cold_start import peak_prior
from controller.forecasting.history import cut_history, learnable_history, mask_outages
from controller.forecasting.pipeline import forecast_series
from tests.forecasting.synthetic import DAY, daily_wave, noisy

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
STEP = timedelta(minutes=30)


def series(values: np.ndarray, series_id: str = "shop") -> Series:
    return Series(series_id, START, STEP, values)


def test_history_before_the_cutoff_is_not_learnt() -> None:
    before = noisy(daily_wave(days=6, level=100.0), sd=2.0, seed=1)
    after = noisy(daily_wave(days=4, level=10.0), sd=0.2, seed=2)
    cutoff = HistoryCutoff(START + timedelta(days=6), reason="traffic moved to a new region")
    with_cut = forecast_series(
        series(np.concatenate([before, after])), DAY, calendar=Calendar(cutoffs=(cutoff,))
    )
    only_after = forecast_series(Series("shop", cutoff.since, STEP, after), DAY)
    assert with_cut.origin == only_after.origin
    assert np.allclose(with_cut.mean, only_after.mean)
    assert with_cut.model == only_after.model


def test_cut_history_keeps_buckets_from_the_cutoff_on() -> None:
    s = series(np.arange(10.0))
    cut = cut_history(s, START + STEP * 3 + timedelta(minutes=1))
    assert cut.start == START + STEP * 4 and cut.values[0] == 4.0


def test_an_outage_of_zeros_does_not_teach_the_model() -> None:
    wave = noisy(daily_wave(days=8, level=20.0), sd=0.5, seed=2)
    outage = wave.copy()
    outage[7 * DAY : 7 * DAY + 10] = (
        0.0  # five hours down yesterday, same hours as tomorrow's start
    )
    forecast = forecast_series(series(outage), DAY)
    clean = forecast_series(series(wave), DAY)
    assert np.allclose(forecast.mean[:10], clean.mean[:10], rtol=0.15)
    assert forecast.mean[:10].min() > 5.0


def test_zeros_are_kept_in_a_series_where_zero_is_normal() -> None:
    values = np.tile([0.0] * 20 + [3.0] * 28, 4)
    assert np.array_equal(mask_outages(values, min_run=2), values)


def test_short_zero_runs_are_real_demand() -> None:
    values = np.full(200, 5.0)
    values[50] = 0.0
    assert mask_outages(values, min_run=3)[50] == 0.0


def test_a_campaign_lifts_only_the_steps_it_covers() -> None:
    values = noisy(daily_wave(days=8), sd=0.1, seed=3)
    origin = START + STEP * len(values)
    sale = CalendarWindow("sale", origin + STEP * 4, origin + STEP * 8, 2.0, ("shop",))
    plain = forecast_series(series(values), DAY)
    lifted = forecast_series(series(values), DAY, calendar=Calendar((sale,)))
    ratio = lifted.mean / plain.mean
    assert (
        np.allclose(ratio[4:8], 2.0) and np.allclose(ratio[:4], 1.0) and np.allclose(ratio[8:], 1.0)
    )
    assert np.allclose(lifted.level(0.95)[4:8], 2.0 * plain.level(0.95)[4:8])
    assert "calendar" in lifted.model


def test_a_campaign_for_another_persona_changes_nothing() -> None:
    values = noisy(daily_wave(days=8), sd=0.1, seed=3)
    origin = START + STEP * len(values)
    sale = CalendarWindow("sale", origin, origin + STEP * 8, 2.0, ("other-persona",))
    assert np.allclose(
        forecast_series(series(values), DAY, calendar=Calendar((sale,))).mean,
        forecast_series(series(values), DAY).mean,
    )


def test_past_campaigns_and_maintenance_are_taken_out_of_history() -> None:
    values = np.full(4 * DAY, 10.0)
    values[DAY : DAY + 4] = 30.0  # a past sale with uplift 3
    values[2 * DAY : 2 * DAY + 4] = 0.5  # a maintenance window
    calendar = Calendar(
        (
            CalendarWindow("sale", START + STEP * DAY, START + STEP * (DAY + 4), 3.0),
            CalendarWindow(
                "db", START + STEP * 2 * DAY, START + STEP * (2 * DAY + 4), 1.0, kind="maintenance"
            ),
        )
    )
    learnt = learnable_history(series(values), calendar).values
    assert np.allclose(learnt[DAY : DAY + 4], 10.0)
    assert np.isnan(learnt[2 * DAY : 2 * DAY + 4]).all()


def test_peak_prior_marks_declared_windows_in_their_time_zone() -> None:
    lunch = PeakWindow(days=["mon"], start=time(12), end=time(14), timezone="America/New_York")
    prior = peak_prior([lunch], ratio=3.0)
    shape = prior(START, STEP, DAY)  # Monday 2026-11-02 UTC; New York is UTC-5 then
    peak_steps = np.flatnonzero(shape == 3.0)
    assert [START + STEP * int(i) for i in peak_steps] == [
        START + timedelta(hours=17) + STEP * k for k in range(4)
    ]


def test_one_off_peak_counts_only_between_its_instants() -> None:
    launch = OneOffPeak(start=START + timedelta(hours=1), end=START + timedelta(hours=2))
    shape = peak_prior([launch], ratio=2.0)(START, STEP, 8)
    assert shape.tolist() == [1, 1, 2, 2, 1, 1, 1, 1]


def test_cold_start_forecast_follows_the_persona_peaks() -> None:
    lunch = PeakWindow(days=["mon", "tue"], start=time(12), end=time(14), timezone="UTC")
    values = np.full(DAY // 2, 4.0)  # Monday 00:00-12:00 UTC, flat
    forecast = forecast_series(series(values), DAY, prior=peak_prior([lunch], ratio=2.0))
    assert forecast.model == "prior-shape"
    at_noon = forecast.mean[:4]  # the forecast starts Monday 12:00
    assert np.allclose(at_noon, 8.0) and np.allclose(forecast.mean[4:10], 4.0)


def test_realized_errors_from_the_feedback_loop_widen_the_bands() -> None:
    values = noisy(daily_wave(days=8), sd=0.1, seed=4)
    plain = forecast_series(series(values), DAY)
    missed = [(plain.mean, plain.mean * 1.8)] * 200  # reality kept coming in 80% higher
    widened = forecast_series(series(values), DAY, realized=missed)
    assert np.all(widened.level(0.95) > plain.level(0.95))
    assert np.allclose(widened.mean, plain.mean)
