"""The loop's parts on cases small enough to reason about: the bias test, the re-selection
triggers, learned profiles, conformal re-calibration, a kept model choice, the learning store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.adapters.storage.db import connect
from controller.adapters.storage.forecast_store import ForecastStore
from controller.adapters.storage.learning_store import BiasCorrection, LearningStore, factor_at
from controller.config import BiasFeedbackConfig, FeedbackConfig
from controller.domain.forecast import Forecast
from controller.domain.series import Series
from controller.feedback.bias import BiasRule, bias_test, errors_by_time, next_factor
from controller.feedback.profiles import LearnedProfile, MeasuredUse, learn_profile
from controller.feedback.reselection import (
    KeptChoice,
    ReselectionRule,
    reselect_reason,
    with_baseline,
)
from controller.feedback.scoring import RealizedPairs
from controller.forecasting.auto import AutoForecaster, ModelChoice, seasons_for
from controller.forecasting.conformal import ConformalBands
from controller.workflow.learning import decide

NOW = datetime(2026, 11, 10, tzinfo=UTC)


def ar1(n: int, rho: float, sd: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = np.zeros(n)
    for i in range(1, n):
        e[i] = rho * e[i - 1] + rng.normal(0, sd)
    return e


# -- bias ----------------------------------------------------------------------------------
def test_autocorrelated_noise_without_bias_is_rarely_corrected() -> None:
    # a naive t-test on strongly autocorrelated errors fires on most unbiased series; the
    # batch-means test at its default threshold on few (the daemon's false-alarm rate)
    series = [ar1(300, 0.9, 0.05, seed) for seed in range(100)]
    naive = [abs(e.mean() / (e.std(ddof=1) / np.sqrt(e.size))) >= 3 for e in series]
    tested = [bias_test(e, BiasRule()).significant for e in series]
    assert sum(naive) >= 40
    assert sum(tested) <= 8


def test_a_steady_shift_is_significant_and_its_factor_removes_it() -> None:
    errors = np.log(1.25) + ar1(200, 0.5, 0.05, 1)
    test = bias_test(errors, BiasRule())
    assert test.significant and test.halves_agree
    assert test.factor == pytest.approx(1.25, rel=0.05)
    assert "too low" in test.reason
    assert next_factor(1.1, test, BiasRule()) == pytest.approx(1.1 * test.factor)


def test_a_burst_in_one_half_is_not_persistent() -> None:
    errors = np.concatenate([np.full(50, 0.6), np.zeros(150)]) + ar1(200, 0.0, 0.01, 2)
    test = bias_test(errors, BiasRule())
    assert not test.halves_agree and not test.significant
    assert "halves disagree" in test.reason


def test_too_few_points_or_a_tiny_shift_are_left_alone() -> None:
    assert not bias_test(np.full(10, 0.5), BiasRule(min_points=48)).significant
    tiny = bias_test(np.log(1.02) + ar1(500, 0.0, 0.001, 3), BiasRule(min_shift=0.05))
    assert not tiny.significant and "under 5%" in tiny.reason


def test_the_correction_stays_within_its_bounds() -> None:
    test = bias_test(np.log(10.0) + ar1(200, 0.0, 0.01, 4), BiasRule())
    assert next_factor(1.0, test, BiasRule(max_factor=3.0)) == 3.0


def test_errors_are_averaged_per_realized_time_across_overlapping_forecasts() -> None:
    # two forecasts one step apart, both predicting time 1: its error is their mean
    means = np.array([[10.0, 10.0], [20.0, 20.0]])
    actuals = np.array([[10.0, 20.0], [20.0, np.nan]])
    series = errors_by_time(RealizedPairs(means, actuals, np.array([0, 1])))
    c = 0.1 * np.nanmean(actuals)
    expected_t1 = (np.log((20 + c) / (10 + c)) + 0.0) / 2
    np.testing.assert_allclose(series, [0.0, expected_t1])


# -- re-selection --------------------------------------------------------------------------
def kept(baseline: float | None = 1.0, age: timedelta = timedelta(days=1)) -> KeptChoice:
    return KeptChoice(("m",), (1.0,), NOW - age, "first selection", baseline)


def test_reselection_triggers_are_explicit() -> None:
    rule = ReselectionRule(growth=1.5, max_age=timedelta(days=7), min_points=100)
    assert reselect_reason(None, None, 0, NOW, rule) == "first selection"
    assert reselect_reason(kept(), 1.4, 500, NOW, rule) is None
    grew = reselect_reason(kept(), 1.6, 500, NOW, rule)
    assert grew is not None and "1.60 grew past 1.5 x 1.00" in grew
    assert reselect_reason(kept(), 1.6, 50, NOW, rule) is None  # too few points to judge
    assert reselect_reason(kept(baseline=None), 9.0, 500, NOW, rule) is None  # no baseline yet
    old = reselect_reason(kept(age=timedelta(days=8)), 1.0, 500, NOW, rule)
    assert old is not None and old.startswith("scheduled")


def test_the_baseline_is_taken_once_the_choice_has_settled() -> None:
    rule = ReselectionRule(min_points=100, settle=timedelta(hours=12))
    young = kept(baseline=None, age=timedelta(hours=3))
    assert with_baseline(young, 0.4, 500, NOW, rule).baseline_mase is None
    settled = kept(baseline=None, age=timedelta(hours=13))
    assert with_baseline(settled, 0.9, 50, NOW, rule).baseline_mase is None  # too few points
    assert with_baseline(settled, 0.9, 500, NOW, rule).baseline_mase == 0.9
    assert with_baseline(kept(baseline=0.7), 0.9, 500, NOW, rule).baseline_mase == 0.7


# -- learned profiles ----------------------------------------------------------------------
def use(sessions: np.ndarray, per_session: LearnedProfile, bucket: float = 60.0) -> MeasuredUse:
    return MeasuredUse(
        bucket,
        sessions,
        per_session.cpu * 1000 * bucket * sessions,
        per_session.memory * bucket * sessions,
        per_session.network * 125 * bucket * sessions,
        per_session.iops * bucket * sessions,
    )


def test_the_learned_profile_is_the_per_session_use_the_metrics_imply() -> None:
    truth = LearnedProfile(0.004, 1.5, 0.03, 0.2, 0)
    sessions = np.arange(200, dtype=float) % 20 + 5
    sessions[::10] = np.nan  # gaps are skipped
    learned = learn_profile(use(sessions, truth), min_buckets=120, min_sessions=5)
    assert learned is not None and learned.buckets == 180
    assert (learned.cpu, learned.memory, learned.network, learned.iops) == pytest.approx(
        (truth.cpu, truth.memory, truth.network, truth.iops)
    )


def test_a_burst_does_not_move_the_median_and_too_little_data_learns_nothing() -> None:
    truth = LearnedProfile(0.01, 2.0, 0.1, 1.0, 0)
    sessions = np.full(200, 10.0)
    measured = use(sessions, truth)
    measured.cpu_ms[:20] *= 50  # one runaway batch job
    learned = learn_profile(measured, min_buckets=120, min_sessions=5)
    assert learned is not None and learned.cpu == pytest.approx(0.01)
    assert learn_profile(use(np.full(200, 2.0), truth), 120, min_sessions=5) is None


# -- conformal re-calibration --------------------------------------------------------------
@given(
    st.integers(min_value=1, max_value=60),
    st.sampled_from(["replace", "blend", "off"]),
)
@settings(max_examples=40, deadline=None)
def test_recalibrated_bands_use_realized_errors_by_the_rule(realized: int, rule: str) -> None:
    backtest = ConformalBands(np.full((100, 3), 0.01), None)
    forecasts = np.zeros((realized, 3))
    actuals = np.full((realized, 3), 5.0)
    actuals[:, 2] = np.nan  # the last lead is not observed yet
    bands = backtest.recalibrated(forecasts, actuals, rule, min_samples=20)  # type: ignore[arg-type]
    high = bands.error_quantiles(3, [0.95])[:, 0]
    if rule == "off":
        assert bands is backtest
    elif rule == "replace" and realized >= 20:
        assert high[0] == pytest.approx(5.0)  # only what happened
        assert np.count_nonzero(~np.isnan(bands.errors[:, 2])) == 100  # unobserved lead kept
    else:
        assert bands.errors.shape[0] == 100 + realized  # blended
        assert high[0] >= 0.01


# -- kept model choice ---------------------------------------------------------------------
def wave(days: int) -> np.ndarray:
    t = np.arange(days * 24)
    values: np.ndarray = (
        10 + 5 * np.sin(2 * np.pi * t / 24) + np.random.default_rng(5).normal(0, 0.3, t.shape[0])
    )
    return values


def test_a_kept_choice_skips_the_selection_and_an_unknown_one_selects_afresh() -> None:
    seasons = seasons_for(3600)
    fresh = AutoForecaster(seasons, 6).fit(wave(10)).selection
    assert not fresh.kept and fresh.choice is not None
    keep = ModelChoice(("seasonal-naive(m=24)",), (1.0,), "first selection")
    kept = AutoForecaster(seasons, 6, keep=keep).fit(wave(10)).selection
    assert kept.kept and kept.models == ("seasonal-naive(m=24)",)
    assert kept.backtest_score is not None and "first selection" in kept.reason
    gone = ModelChoice(("no-such-model",), (1.0,))
    assert not AutoForecaster(seasons, 6, keep=gone).fit(wave(10)).selection.kept


# -- the learning store --------------------------------------------------------------------
def test_the_store_keeps_every_choice_and_correction_with_why_and_when(database_url: str) -> None:
    engine = connect(database_url)
    store = LearningStore(engine)
    store.choose("p", KeptChoice(("a",), (1.0,), NOW - timedelta(days=2), "first selection"))
    store.choose("p", KeptChoice(("b", "c"), (0.6, 0.4), NOW, "rolling MASE 2.0 grew past"))
    store.set_baseline("p", 0.8)
    latest, first = store.choices("p")
    assert latest.models == ("b", "c") and latest.baseline_mase == 0.8
    assert first.reason == "first selection" and first.baseline_mase is None
    store.correct("p", BiasCorrection(NOW - timedelta(hours=5), 1.2, "too low"))
    store.correct("p", BiasCorrection(NOW, 1.1, "too high"))
    corrections = store.corrections("p")
    assert factor_at(corrections, NOW - timedelta(days=1)) == 1.0
    assert factor_at(corrections, NOW - timedelta(hours=1)) == 1.2
    assert factor_at(corrections, NOW) == 1.1
    store.learn_profile("p", NOW, LearnedProfile(0.01, 2.0, 0.1, 1.0, 150))
    assert store.profiles()["p"].profile.buckets == 150
    engine.dispose()


def test_the_loop_reads_one_forecast_per_origin_spaced_apart(database_url: str) -> None:
    engine = connect(database_url)
    store = ForecastStore(engine)
    step = timedelta(minutes=5)
    # a cycle a minute for an hour: the origin moves every 5 minutes, 5 cycles share each
    for minute in range(60):
        origin = NOW + step * (minute // 5)
        store.add(minute, [Forecast("p", origin, step, np.full(3, float(minute)))])
    sample = store.spaced("p", NOW, timedelta(minutes=15))
    origins = [s.forecast.origin for s in sample]
    assert origins == [NOW + step * k for k in (2, 5, 8, 11)]  # newest kept, 15 min apart
    assert [s.cycle_id for s in sample] == [14, 29, 44, 59]  # each origin's latest cycle
    engine.dispose()


def test_turning_bias_correction_off_drops_the_correction_in_force() -> None:
    corrections = [BiasCorrection(NOW - timedelta(days=1), 1.5, "too low")]
    actual = Series("p", NOW - timedelta(days=2), timedelta(minutes=5), np.ones(576))
    on = decide(FeedbackConfig(), NOW, [], actual, corrections, None)
    off = decide(
        FeedbackConfig(bias=BiasFeedbackConfig(enabled=False)), NOW, [], actual, corrections, None
    )
    assert on.learned.bias_factor == 1.5 and off.learned.bias_factor == 1.0
    assert on.reselect == "first selection" and on.learned.keep is None
