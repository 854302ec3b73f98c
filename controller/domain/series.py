"""Regular time series: fixed buckets, gaps kept as NaN (never zeros)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Series:
    """values[i] covers [start + i*step, start + (i+1)*step); NaN means nothing was observed."""

    series_id: str
    start: datetime
    step: timedelta
    values: FloatArray

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def end(self) -> datetime:
        """The instant just after the last bucket."""
        return self.start + self.step * len(self)

    def time_at(self, index: int) -> datetime:
        return self.start + self.step * index

    def observed(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.values)))


def floor_time(when: datetime, step: timedelta) -> datetime:
    """Round down to a multiple of `step` since the Unix epoch (bucket boundaries are global)."""
    epoch = datetime(1970, 1, 1, tzinfo=when.tzinfo)
    seconds = int((when - epoch).total_seconds())
    size = int(step.total_seconds())
    return epoch + timedelta(seconds=seconds - seconds % size)


def resample_mean(series: Series, factor: int, scale: float = 1.0) -> Series:
    """Coarser buckets: the mean of each `factor` observed buckets (NaN where none was), x `scale`.

    `series.start` must lie on a boundary of the coarser bucket; trailing partial buckets are
    dropped so that a half-observed last bucket never looks like a dip.
    """
    whole = len(series) // factor
    blocks = series.values[: whole * factor].reshape(whole, factor)
    observed = (~np.isnan(blocks)).sum(axis=1)
    sums = np.nansum(blocks, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(observed > 0, sums / np.maximum(observed, 1), np.nan)
    return Series(series.series_id, series.start, series.step * factor, means * scale)
