"""The loop over many simulated cycles: the functions the cycle's forecast step calls
(`forecast_one` = decide from stored forecasts, record, forecast), real SQLite stores, and a
series whose noise jumps. Time is only the data's: each cycle is one hour later."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from controller.adapters.storage.db import connect
from controller.adapters.storage.forecast_store import ForecastStore
from controller.adapters.storage.learning_store import LearningStore
from controller.config import BiasFeedbackConfig, FeedbackConfig, IntervalFeedbackConfig
from controller.domain.forecast import Forecast
from controller.domain.series import FloatArray, Series
from controller.feedback.scoring import score
from controller.forecasting.auto import Selection
from controller.forecasting.pipeline import Learned, forecast_with_selection
from controller.workflow.learning import OneForecast, forecast_one

STEP = timedelta(hours=1)
T0 = datetime(2026, 10, 1, tzinfo=UTC)
HORIZON = 6
HISTORY = 21 * 24
DAYS_BEFORE = 21


@dataclass
class Loop:
    forecasts: ForecastStore
    learning: LearningStore
    settings: FeedbackConfig

    def run(
        self, values: FloatArray, first: int, last: int, observed: FloatArray | None = None
    ) -> list[OneForecast]:
        """One cycle per hour from index `first` to `last`; the forecaster sees `observed`
        (default: the values themselves), the scoring sees `values`."""
        seen = values if observed is None else observed
        results = []
        for cut in range(first, last):
            origin = T0 + STEP * cut
            lo = max(0, cut - HISTORY)
            history = Series("p", T0 + STEP * lo, STEP, seen[lo:cut])
            actual = Series("p", T0, STEP, values[:cut])
            past = [s.forecast for s in self.forecasts.since("p", origin - timedelta(days=3))]

            def make(learned: Learned, history: Series = history) -> tuple[Forecast, Selection]:
                return forecast_with_selection(history, HORIZON, learned=learned)

            one = forecast_one(self.settings, self.learning, "p", origin, past, actual, make)
            self.forecasts.add(cut, [one.forecast])
            results.append(one)
        return results


LoopFactory = Callable[[str, FeedbackConfig], Loop]


@pytest.fixture
def loop_factory(tmp_path: Path) -> Iterator[LoopFactory]:
    engines = []

    def build(name: str, settings: FeedbackConfig) -> Loop:
        engine = connect(f"sqlite:///{tmp_path / name}.db")
        engines.append(engine)
        return Loop(ForecastStore(engine), LearningStore(engine), settings)

    yield build
    for engine in engines:
        engine.dispose()


def daily(days: int, seed: int, noise_before: float, noise_after: float) -> FloatArray:
    rng = np.random.default_rng(seed)
    t = np.arange(days * 24)
    wave = 100 * (1 + 0.6 * np.sin(2 * np.pi * t / 24))
    sd = np.where(t < DAYS_BEFORE * 24, noise_before, noise_after)
    values: FloatArray = wave * np.exp(rng.normal(0, 1, t.shape[0]) * sd)
    return values


def coverage_of(results: list[OneForecast], values: FloatArray) -> float:
    scored = score("p", [r.forecast for r in results], Series("p", T0, STEP, values))
    assert scored.coverage is not None
    return scored.coverage


def test_after_a_noise_jump_realized_errors_bring_interval_coverage_back_to_target(
    loop_factory: LoopFactory,
) -> None:
    # Noise jumps from 5 % to 30 % at day 21. The backtest's calibration span is a week, so
    # bands built from it alone stay too narrow for days; bands re-calibrated from the last day
    # of realized errors are back near the p05..p95 target of 90 % once that day has passed.
    values = daily(DAYS_BEFORE + 5, seed=1, noise_before=0.05, noise_after=0.30)
    jump = DAYS_BEFORE * 24
    measured = {}
    for rule in ("replace", "off"):
        settings = FeedbackConfig(
            intervals=IntervalFeedbackConfig(rule=rule, window=timedelta(days=1), min_samples=12),
            bias=BiasFeedbackConfig(enabled=False),
        )
        loop = loop_factory(rule, settings)
        results = loop.run(values, jump - 48, jump + 4 * 24)
        after = [r for r in results if r.forecast.origin >= T0 + STEP * (jump + 24)]
        before = [r for r in results if r.forecast.origin < T0 + STEP * (jump - HORIZON)]
        measured[rule] = (coverage_of(before, values), coverage_of(after, values))
        # the model choice was kept until the jump made its error grow, then re-done, recorded
        first, *later = reversed(loop.learning.choices("p"))
        assert first.reason == "first selection" and first.baseline_mase is not None
        assert later and "grew past 1.5 x" in later[0].reason
        assert T0 + STEP * jump < later[0].selected_at < T0 + STEP * (jump + 24)

    before_replace, after_replace = measured["replace"]
    before_off, after_off = measured["off"]
    assert before_replace >= 0.85 and before_off >= 0.85  # calibrated before the jump
    assert abs(after_replace - 0.90) <= 0.07
    assert after_off < 0.75  # what re-calibration fixed


def test_a_persistent_under_forecast_is_measured_corrected_and_recorded(
    loop_factory: LoopFactory,
) -> None:
    # The forecaster only sees 70 % of the demand (e.g. a sampled stream): every forecast is
    # ~30 % low. The bias test fires once it has its points, and the published forecasts
    # become unbiased.
    values = daily(DAYS_BEFORE + 3, seed=2, noise_before=0.05, noise_after=0.05)
    settings = FeedbackConfig(bias=BiasFeedbackConfig(window=timedelta(days=1), min_points=16))
    loop = loop_factory("bias", settings)
    start = DAYS_BEFORE * 24
    results = loop.run(values, start, start + 48, observed=values * 0.7)

    corrections = loop.learning.corrections("p")
    assert corrections, "no correction was made"
    assert corrections[0].factor == pytest.approx(1 / 0.7, rel=0.08)
    assert "too low" in corrections[0].reason
    late = [r for r in results if r.forecast.origin >= T0 + STEP * (start + 24)]
    assert all(
        r.forecast.model.endswith(f"x bias {r.feedback.learned.bias_factor:.3g}") for r in late
    )
    scored = score("p", [r.forecast for r in late], Series("p", T0, STEP, values))
    assert scored.bias is not None and abs(scored.bias) < 0.05
