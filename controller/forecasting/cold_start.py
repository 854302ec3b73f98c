"""A prior shape for cold start: a persona's declared peak times say when demand is high.

With under two days of history there is no daily cycle to learn; the declared `peak_times`
(recurring windows in a time zone, or one-off ISO 8601 stretches) give the shape, which the
forecaster scales to the level observed so far.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from controller.domain.persona import WEEKDAYS, OneOffPeak, PeakWindow
from controller.domain.series import FloatArray

AbsolutePrior = Callable[[datetime, timedelta, int], FloatArray]
"""prior(start, step, count): relative demand of the `count` buckets from `start`"""

PEAK_RATIO = 2.0
"""demand inside a declared peak, relative to outside it (a prior, not a measurement)"""


def peak_prior(
    peaks: Sequence[PeakWindow | OneOffPeak], ratio: float = PEAK_RATIO
) -> AbsolutePrior:
    def shape(start: datetime, step: timedelta, count: int) -> FloatArray:
        values = np.ones(count)
        for i in range(count):
            middle = start + step * i + step / 2
            if any(_inside(peak, middle) for peak in peaks):
                values[i] = ratio
        return values

    return shape


def _inside(peak: PeakWindow | OneOffPeak, when: datetime) -> bool:
    if isinstance(peak, OneOffPeak):
        return peak.start <= when < peak.end
    local = when.astimezone(ZoneInfo(peak.timezone))
    clock = local.time().replace(tzinfo=None)
    day = WEEKDAYS[local.weekday()]
    if peak.start < peak.end:
        return day in peak.days and peak.start <= clock < peak.end
    # overnight window, e.g. 22:00-02:00: the part after midnight belongs to the day before
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    return (day in peak.days and clock >= peak.start) or (
        yesterday in peak.days and clock < peak.end
    )
