"""A PNG of each series' recent history with its forecast and band (matplotlib, `bench` extra)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from controller.domain.forecast import Forecast
from controller.domain.series import Series

MAX_PANELS = 6
HISTORY_FACTOR = 3
"""history shown: this many horizons back (at least a day's worth of points is not promised)"""


def plot_forecasts(
    path: Path, series: Sequence[Series], forecasts: Sequence[Forecast], level: float
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = list(zip(series, forecasts, strict=True))[:MAX_PANELS]
    figure, axes = plt.subplots(len(shown), 1, figsize=(10, 2.6 * len(shown)), squeeze=False)
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
        axis.set_title(f"{forecast.series_id}  [{forecast.model}]", fontsize=9, loc="left")
        axis.legend(loc="upper left", fontsize=7)
    if len(series) > MAX_PANELS:
        figure.suptitle(f"first {MAX_PANELS} of {len(series)} series", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        figure.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(figure)
