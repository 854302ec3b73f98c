"""Forecast plots: each series' recent history with its forecast and band (`fleetctl forecast
--plot`), and a persona's forecast against what happened (`fleetctl report`).

Legends keep short labels ("forecast", "p05-p95"...): a model name such as `median(fourier-ar(
...), seasonal-naive(...), ...)` runs to 150 characters, and in a legend it squeezed the chart
into less than half the figure's width. The model is written in full under the panel's heading
instead, wrapped to the panel's width. Figures are built without pyplot (no global state, no
display); `plot_forecasts` writes its PNG atomically.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from controller.adapters.files import write_atomically
from controller.domain.forecast import Forecast
from controller.domain.series import Series

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from controller.domain.report import PersonaPanel

MAX_PANELS = 6
HISTORY_FACTOR = 3
"""history shown: this many horizons back (at least a day's worth of points is not promised)"""
CAPTION_POINTS = 7.0
CAPTION_CHARS_PER_INCH = 16
"""characters of a 7 pt caption that fit in an inch, with room to spare"""


def plot_forecasts(
    path: Path, series: Sequence[Series], forecasts: Sequence[Forecast], level: float
) -> None:
    """Written atomically with the mode the umask gives (like every other output file); the
    directory must exist (the command checks it before forecasting)."""
    figure = forecast_figure(series, forecasts, level)
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=110)
    write_atomically(path, png.getvalue())


def forecast_figure(
    series: Sequence[Series], forecasts: Sequence[Forecast], level: float
) -> Figure:
    """One panel per series (the first `MAX_PANELS`): history, forecast mean and band."""
    from matplotlib.figure import Figure

    shown = list(zip(series, forecasts, strict=True))[:MAX_PANELS]
    width = 10.0
    figure = Figure(figsize=(width, 2.8 * len(shown)))
    axes = figure.subplots(len(shown), 1, squeeze=False)
    tail = round((100 - level) / 200, 6)
    for axis, (history, forecast) in zip(axes[:, 0], shown, strict=True):
        keep = min(len(history), HISTORY_FACTOR * forecast.horizon)
        past = [history.time_at(i) for i in range(len(history) - keep, len(history))]
        future = [forecast.time_at(i) for i in range(forecast.horizon)]
        axis.plot(past, history.values[-keep:], color="0.3", linewidth=0.8, label="history")
        axis.plot(future, forecast.mean, color="C0", linewidth=1.2, label="forecast")
        low, high = forecast.quantiles.get(tail), forecast.quantiles.get(round(1 - tail, 6))
        if low is not None and high is not None:
            axis.fill_between(future, low, high, color="C0", alpha=0.25, label=f"{level:g}% band")
        head_with_model(axis, forecast.series_id, forecast.model, width)
        axis.legend(loc="upper left", fontsize=7)
    if len(series) > MAX_PANELS:
        figure.suptitle(f"first {MAX_PANELS} of {len(series)} series", fontsize=9)
    figure.tight_layout()
    return figure


def persona_forecast_figure(panel: PersonaPanel) -> Figure:
    """A persona's events per second: what happened, what was forecast an hour before, and the
    latest forecast with its p05-p95 band."""
    from matplotlib.figure import Figure

    width = 11.0
    figure = Figure(figsize=(width, 3.4), dpi=100)
    axis = figure.subplots()
    actual = panel.actual
    axis.plot(
        _times(actual.start, actual.step, len(actual)),
        actual.values,
        color="black",
        linewidth=0.8,
        label="observed",
    )
    if panel.hour_ahead:
        when, value = zip(*panel.hour_ahead, strict=True)
        axis.plot(
            when, value, color="tab:green", linewidth=0.8, alpha=0.8, label="forecast 1 h before"
        )
    model = None
    if panel.latest is not None:
        f = panel.latest
        model = f.model
        times = _times(f.origin, f.step, f.horizon)
        axis.plot(times, f.mean, color="tab:blue", linewidth=1.0, label="latest forecast")
        if 0.05 in f.quantiles and 0.95 in f.quantiles:
            axis.fill_between(
                times,
                f.quantiles[0.05],
                f.quantiles[0.95],
                color="tab:blue",
                alpha=0.2,
                label="p05-p95",
            )
    head_with_model(axis, f"{panel.key}: events per second", model, width)
    axis.legend(loc="upper left", fontsize=8, ncols=4)
    axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def head_with_model(axis: Axes, heading: str, model: str | None, width_inches: float) -> None:
    """The panel's heading, and between it and the chart the model in full, wrapped."""
    if model is None:
        axis.set_title(heading, fontsize=10, loc="left")
        return
    lines = textwrap.wrap(
        f"model: {model}",
        width=int(width_inches * CAPTION_CHARS_PER_INCH),
        break_long_words=True,
        break_on_hyphens=False,
    )
    axis.annotate(
        "\n".join(lines),
        xy=(0.0, 1.0),
        xycoords="axes fraction",
        xytext=(0.0, 4.0),
        textcoords="offset points",
        va="bottom",
        ha="left",
        fontsize=CAPTION_POINTS,
        color="0.25",
    )
    caption_height = len(lines) * CAPTION_POINTS * 1.25
    axis.set_title(heading, fontsize=10, loc="left", pad=8.0 + caption_height)


def _times(start: datetime, step: timedelta, count: int) -> np.ndarray:
    naive = start.replace(tzinfo=None)  # all times are UTC; numpy keeps no zone
    return np.array([naive + step * i for i in range(count)], dtype="datetime64[s]")
