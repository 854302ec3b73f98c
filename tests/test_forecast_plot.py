"""Forecast plots keep legends short and write the model, in full, above the chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from controller.adapters.forecast_plot import (
    forecast_figure,
    persona_forecast_figure,
    plot_forecasts,
)
from controller.domain.forecast import Forecast
from controller.domain.report import PersonaPanel
from controller.domain.series import Series

# What the automatic forecaster names itself in `make run` (README): 190 characters.
MODEL = (
    "median(fourier-ar(K=10/3,hl=2016,ar=3), fourier-ar(K=10/3,x2,hl=2016,ar=3), "
    "seasonal-naive(m=2016), seasonal-mean(m=288,k=7), seasonal-naive(m=288))"
)
START = datetime(2026, 11, 5, tzinfo=UTC)
STEP = timedelta(minutes=5)


def history(points: int = 600) -> Series:
    daily = 1 + 0.8 * np.sin(np.arange(points) * 2 * np.pi / 288)
    return Series("peak-hour-shopper", START, STEP, daily)


def forecast(origin: datetime, horizon: int = 144) -> Forecast:
    mean = np.full(horizon, 1.2)
    return Forecast(
        "peak-hour-shopper", origin, STEP, mean, {0.05: mean * 0.7, 0.95: mean * 1.4}, MODEL
    )


def legend_labels(figure: Figure) -> list[str]:
    return [
        text.get_text()
        for axis in figure.axes
        if (legend := axis.get_legend()) is not None
        for text in legend.get_texts()
    ]


def all_text(figure: Figure) -> str:
    """Every string drawn on the figure, wrapped lines joined again."""
    texts = [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]
    return " ".join(" ".join(texts).split())


def test_the_persona_plot_legend_is_short_and_the_model_is_written_in_full() -> None:
    actual = history()
    panel = PersonaPanel(
        "peak-hour-shopper",
        actual,
        forecast(actual.end),
        [(START + STEP * i, 1.0) for i in range(12, 600)],
    )

    figure = persona_forecast_figure(panel)

    labels = legend_labels(figure)
    assert labels == ["observed", "forecast 1 h before", "latest forecast", "p05-p95"]
    assert all(len(label) < 30 for label in labels), labels
    assert f"model: {MODEL}" in all_text(figure)


def test_forecast_plot_panels_have_short_legends_and_their_models_in_full(
    tmp_path: Path,
) -> None:
    series = [history(), history()]
    forecasts = [forecast(s.end) for s in series]

    figure = forecast_figure(series, forecasts, 90.0)
    plot_forecasts(tmp_path / "plot.png", series, forecasts, 90.0)

    labels = legend_labels(figure)
    assert labels == ["history", "forecast", "90% band"] * 2
    assert all_text(figure).count(f"model: {MODEL}") == 2
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
