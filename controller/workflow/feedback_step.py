"""The cycle's feedback step: score the forecasts of the last day against what happened, then
keep this cycle's forecasts for the next cycles to score."""

from __future__ import annotations

from datetime import datetime, timedelta

from controller.adapters.storage.forecast_store import ForecastStore
from controller.adapters.storage.metric_store import MetricStore
from controller.config import ControllerConfig
from controller.domain.forecast import Forecast
from controller.feedback.scoring import ForecastScore, score
from controller.workflow.steps import persona_rate

SCORING_WINDOW = timedelta(days=1)
ACTUALS_WINDOW = timedelta(days=3)  # a day of forecasts plus their horizon, and a day to scale MASE
KEEP = timedelta(days=7)


def score_and_keep(
    config: ControllerConfig,
    metrics: MetricStore,
    store: ForecastStore,
    cycle_id: int,
    forecasts: dict[str, Forecast],
    origin: datetime,
) -> dict[str, ForecastScore]:
    scores = {}
    for key in forecasts:
        past = [
            s.forecast
            for s in store.since(key, origin - SCORING_WINDOW)
            if s.forecast.origin < origin
        ]
        if past:
            actual = persona_rate(config, metrics, key, origin - ACTUALS_WINDOW, origin)
            scores[key] = score(key, past, actual)
    store.add(cycle_id, list(forecasts.values()))
    store.prune(origin - KEEP)
    return scores
