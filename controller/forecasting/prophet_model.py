"""Prophet (daily and weekly seasonality), behind the optional `prophet` extra.

Prophet needs timestamps; steps are laid on a clock from an arbitrary Monday, `step_seconds`
apart. Only relative positions matter to its Fourier seasonality. Slow (Stan optimisation, about
a second or more per fit on a month of 5-minute data), so it is a comparison, not a candidate.
"""

from __future__ import annotations

import logging
from typing import Any, Self

import numpy as np

from controller.domain.series import FloatArray
from controller.forecasting.model import ModelError, PointModel, as_series, observed_count

EPOCH = np.datetime64("2001-01-01T00:00:00")  # a Monday


class ProphetModel(PointModel):
    def __init__(self, step_seconds: float, interval_width: float = 0.95) -> None:
        super().__init__()
        self.step_seconds = step_seconds
        self.interval_width = interval_width
        self.name = "prophet(daily+weekly)"
        self._model: Any = None
        self._last: dict[str, FloatArray] = {}

    def _times(self, start: int, stop: int) -> Any:
        import pandas as pd

        seconds = np.arange(start, stop) * self.step_seconds
        return pd.to_datetime(EPOCH + (seconds * 1e9).astype("timedelta64[ns]"))

    def fit(self, y: FloatArray) -> Self:
        try:
            import pandas as pd
            from prophet import Prophet
        except ImportError as exc:
            raise ModelError(f"{self.name}: install the `prophet` extra ({exc})") from exc
        logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
        y = as_series(y)
        if observed_count(y) < 2:
            raise ModelError(f"{self.name}: too few observations")
        frame = pd.DataFrame({"ds": self._times(0, y.shape[0]), "y": y}).dropna()
        model = Prophet(
            daily_seasonality=True,
            weekly_seasonality=True,
            yearly_seasonality=False,
            interval_width=self.interval_width,
        )
        self._model = model.fit(frame)
        self._y = y
        return self

    def forward(self, y: FloatArray, horizon: int) -> FloatArray:
        """Prophet has no state beyond its fitted curve: the forecast depends on time only."""
        import pandas as pd

        if self._model is None:
            raise ModelError(f"{self.name}: forward before fit")
        n = y.shape[0]
        frame = self._model.predict(pd.DataFrame({"ds": self._times(n, n + horizon)}))
        self._last = {
            "lower": frame["yhat_lower"].to_numpy(np.float64),
            "upper": frame["yhat_upper"].to_numpy(np.float64),
        }
        mean: FloatArray = frame["yhat"].to_numpy(np.float64)
        return mean

    def own_interval(self) -> tuple[FloatArray, FloatArray]:
        """Prophet's own interval (at `interval_width`) of the last forward call."""
        return self._last["lower"], self._last["upper"]
