"""Re-forecasting every step without re-choosing the model every step.

The daemon re-forecasts each cycle (5 minutes). The automatic choice (`AutoForecaster.fit`: a
rolling-origin backtest of every candidate, then conformal bands) costs a few tenths of a second
on a month of 5-minute data; applying the chosen models' fitted parameters to a longer history
(`forward`, statsforecast's name for it) costs under a millisecond. `RollingForecaster` re-chooses
on a slower schedule and forwards in between, so every forecast still starts from the latest
observation (the models' AR terms see the last minutes) while a replay of two months stays fast.

Between re-selections the conformal bands are the ones the last selection calibrated; a forecast
made by forwarding is labelled `... (forwarded)` so nobody mistakes it for a fresh selection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from controller.domain.forecast import Forecast
from controller.domain.series import FloatArray, Series
from controller.forecasting.auto import AutoForecaster, seasons_for
from controller.forecasting.history import learnable_history
from controller.forecasting.model import wanted_quantiles


@dataclass
class _Selected:
    model: AutoForecaster
    start: datetime
    """time of the first value the model was fitted on; forward needs the history from there"""
    values: FloatArray
    """the learnable history the model was fitted on"""
    forecasts: int = 0
    _tables: dict[tuple[int, tuple[float, ...]], FloatArray] = field(default_factory=dict)

    def bands(self, point: FloatArray, wanted: tuple[float, ...]) -> dict[float, FloatArray]:
        """`ConformalBands.quantiles(point, wanted)`, with the error quantiles computed once per
        selection: they only change when the bands do, and sorting them is most of the cost."""
        bands = self.model.bands
        if bands is None:
            return {q: point.copy() for q in wanted}
        key = (point.shape[0], wanted)
        if key not in self._tables:
            self._tables[key] = bands.error_quantiles(point.shape[0], wanted)
        table = self._tables[key]
        if bands.log_offset is None:
            return {q: point + table[:, i] for i, q in enumerate(wanted)}
        c = bands.log_offset
        level = np.maximum(point, 0.0) + c
        return {q: np.maximum(level * np.exp(table[:, i]) - c, 0.0) for i, q in enumerate(wanted)}


class RollingForecaster:
    """A `(series, horizon) -> Forecast` callable: full model choice every `reselect_every`
    calls (and whenever the history does not extend the one last fitted), fitted parameters
    forwarded over the newer history in between."""

    def __init__(self, reselect_every: int, levels: Sequence[float] = (95,)) -> None:
        if reselect_every < 1:
            raise ValueError(f"reselect_every must be >= 1, got {reselect_every}")
        self.reselect_every = reselect_every
        self.levels = tuple(levels)
        self.selections = 0
        self._selected: _Selected | None = None

    def __call__(self, series: Series, horizon: int) -> Forecast:
        history = learnable_history(series)
        selected = self._selected
        values = self._extended(selected, history) if selected is not None else None
        if selected is None or values is None or selected.forecasts >= self.reselect_every:
            selected = self._select(history, horizon)
            values = selected.values
        selected.forecasts += 1
        model = selected.model
        mean = model.forward(values, horizon) if values.size else np.zeros(horizon)
        quantiles = selected.bands(mean, wanted_quantiles(self.levels))
        label = model.selection.label
        return Forecast(
            series_id=series.series_id,
            origin=series.end,
            step=series.step,
            mean=mean,
            quantiles=quantiles,
            model=label if selected.forecasts == 1 else f"{label} (forwarded)",
            backtest_score=model.selection.backtest_score,
        )

    def _select(self, history: Series, horizon: int) -> _Selected:
        model = AutoForecaster(seasons_for(history.step.total_seconds()), horizon)
        model.fit(history.values)
        self.selections += 1
        self._selected = _Selected(model, history.start, history.values.copy())
        return self._selected

    @staticmethod
    def _extended(selected: _Selected, history: Series) -> FloatArray | None:
        """The fitted values followed by what `history` observed after them; None when
        `history` does not reach back to where the fitted values end (nothing to join)."""
        fitted_end = selected.start + history.step * len(selected.values)
        if history.start > fitted_end or history.end < fitted_end:
            return None
        offset = (history.start - selected.start) / history.step
        if offset != int(offset):
            return None
        skip = len(selected.values) - int(offset)
        return np.concatenate([selected.values, history.values[skip:]])
