"""A forecast: mean and quantiles per future step, and which model made it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controller.domain.series import FloatArray


@dataclass(frozen=True)
class Forecast:
    series_id: str
    origin: datetime
    step: timedelta
    mean: FloatArray
    quantiles: dict[float, FloatArray] = field(default_factory=dict)
    model: str = ""
    backtest_score: float | None = None

    @property
    def horizon(self) -> int:
        return int(self.mean.shape[0])

    def time_at(self, index: int) -> datetime:
        """Start of the bucket that step `index` forecasts."""
        return self.origin + self.step * index

    def level(self, quantile: float | None) -> FloatArray:
        """The mean (None) or a stored quantile, e.g. 0.95."""
        if quantile is None:
            return self.mean
        try:
            return self.quantiles[quantile]
        except KeyError:
            have = ", ".join(f"{q:g}" for q in sorted(self.quantiles)) or "none"
            raise KeyError(
                f"forecast of {self.series_id} has no quantile {quantile:g} ({have})"
            ) from None
