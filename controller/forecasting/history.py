"""What a series' history may teach: cut-offs, outages and calendar windows are taken out.

- A history cut-off drops everything before it (a known change in traffic).
- An outage (a long run of exact zeros in a series that is otherwise almost never zero) becomes
  a gap: the model must not learn that demand vanishes at that hour.
- Maintenance windows in the past become gaps; past campaigns are divided by their uplift, so
  next month's forecast is not inflated by last month's sale.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from controller.domain.calendar import Calendar
from controller.domain.series import FloatArray, Series

OUTAGE_MIN = timedelta(minutes=30)
"""zeros for at least this long count as an outage ..."""
OUTAGE_RARE_ZEROS = 0.05
"""... in a series where at most this share of all observed values is zero"""


def cut_history(series: Series, since: datetime | None) -> Series:
    """The buckets that start at or after `since` (all of them when `since` is None)."""
    if since is None or since <= series.start:
        return series
    skip = min(len(series), math.ceil((since - series.start) / series.step))
    return Series(series.series_id, series.time_at(skip), series.step, series.values[skip:].copy())


def mask_outages(values: FloatArray, min_run: int) -> FloatArray:
    """Runs of >= min_run zeros become NaN, unless zeros are common in this series anyway."""
    observed = values[~np.isnan(values)]
    if observed.size == 0 or np.mean(observed == 0) > OUTAGE_RARE_ZEROS:
        return values
    zero = np.concatenate([[False], values == 0, [False]])
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    masked = values.copy()
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start >= min_run:
            masked[start:stop] = np.nan
    return masked


def learnable_history(series: Series, calendar: Calendar | None = None) -> Series:
    """`series` with cut-off, outages and calendar windows taken out (see the module doc)."""
    calendar = (calendar or Calendar()).for_series(series.series_id)
    series = cut_history(series, calendar.history_start(series.series_id))
    min_run = max(2, int(np.ceil(OUTAGE_MIN / series.step)))
    values = mask_outages(series.values.copy(), min_run)
    for window in calendar.windows:
        lo, hi = _index_range(series.start, series.step, len(series), window.start, window.end)
        if hi <= lo:
            continue
        if window.kind == "maintenance" or window.uplift <= 0:
            values[lo:hi] = np.nan
        else:
            values[lo:hi] = values[lo:hi] / window.uplift
    return Series(series.series_id, series.start, series.step, values)


def _index_range(
    start: datetime, step: timedelta, count: int, begin: datetime, end: datetime
) -> tuple[int, int]:
    """Indexes of the buckets [start + i*step, +step) that overlap [begin, end)."""
    lo = int((begin - start) // step)
    hi = -(-int((end - start).total_seconds()) // int(step.total_seconds()))
    return max(0, lo), min(count, hi)


def window_factors(
    calendar: Calendar, series_id: str, origin: datetime, step: timedelta, horizon: int
) -> FloatArray:
    """Per future step, the product of the uplifts of the calendar windows it overlaps."""
    factors = np.ones(horizon)
    for window in calendar.for_series(series_id).windows:
        lo, hi = _index_range(origin, step, horizon, window.start, window.end)
        if hi > lo:
            factors[lo:hi] *= window.uplift
    return factors
