"""Scoring past forecasts against what happened, on cases small enough to check by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from controller.domain.forecast import Forecast
from controller.domain.series import Series
from controller.feedback.scoring import realized, residuals_by_lead, score, seasonal_naive_mae

T0 = datetime(2026, 11, 2, tzinfo=UTC)
STEP = timedelta(hours=6)  # 4 steps a day keeps the cases tiny


def forecast(origin_steps: int, mean: list[float], band: float = 1.0) -> Forecast:
    m = np.array(mean)
    return Forecast("p", T0 + STEP * origin_steps, STEP, m, {0.05: m - band, 0.95: m + band})


def test_errors_align_each_forecast_with_the_buckets_it_predicted() -> None:
    actual = Series("p", T0, STEP, np.array([1.0, 2.0, 3.0, np.nan, 5.0, 6.0]))
    result = realized([forecast(1, [2.5, 3.0, 4.0]), forecast(4, [4.0, 6.5, 9.0])], actual)
    np.testing.assert_array_equal(result.errors[0], [-0.5, 0.0, np.nan])
    np.testing.assert_array_equal(result.errors[1], [1.0, -0.5, np.nan])  # step 6 not yet observed
    np.testing.assert_array_equal(result.covered[0], [1.0, 1.0, np.nan])


def test_score_gives_mase_bias_and_band_coverage() -> None:
    # actuals over two "days" of 4 steps; seasonal naive MAE = mean |x[t] - x[t-4]| = 1.0
    actual = Series("p", T0, STEP, np.array([10.0, 20.0, 30.0, 20.0, 11.0, 21.0, 31.0, 21.0]))
    assert seasonal_naive_mae(actual) == pytest.approx(1.0)
    scored = score("p", [forecast(4, [10.0, 20.0, 35.0, 21.0], band=2.0)], actual)
    # errors 1, 1, -4, 0 -> MAE 1.5; bias -2/4 / mean(actual 21) ; covered 1,1,0,1
    assert scored.points == 4
    assert scored.mase == pytest.approx(1.5)
    assert scored.bias == pytest.approx((-2 / 4) / 21.0)
    assert scored.coverage == pytest.approx(0.75)
    assert scored.as_feedback() == {
        "p.mase": 1.5,
        "p.bias": round(-0.5 / 21, 4),
        "p.coverage": 0.75,
    }


def test_nothing_observed_yet_scores_nothing() -> None:
    actual = Series("p", T0, STEP, np.array([1.0, 2.0]))
    scored = score("p", [forecast(2, [1.0, 1.0])], actual)
    assert (scored.points, scored.mase, scored.bias, scored.coverage) == (0, None, None, None)


def test_residuals_are_grouped_by_lead_time_for_recalibration() -> None:
    actual = Series("p", T0, STEP, np.array([1.0, 2.0, 3.0, 4.0]))
    leads = residuals_by_lead(
        [forecast(0, [0.0, 0.0]), forecast(1, [1.0, 1.0]), forecast(3, [2.0, 2.0])], actual
    )
    np.testing.assert_array_equal(leads[0], [1.0, 1.0, 2.0])
    np.testing.assert_array_equal(leads[1], [2.0, 2.0])


def test_a_forecast_on_another_step_is_refused() -> None:
    actual = Series("p", T0, timedelta(hours=1), np.ones(4))
    with pytest.raises(ValueError, match="differs"):
        realized([forecast(0, [1.0])], actual)
