"""Burst headroom: how far above the planned level per-minute demand goes, learned from history.

A forecast of 5-minute means says nothing about the busiest minute inside a step, and capacity
ordered now serves only after the warm-up. What matters is the demand of each minute against the
level the allocator planned for it a warm-up earlier. Given those pairs from the recent past,

    residual(i) = actual(i) - base(i)
    spread(b)   ~ b ** exponent      (exponent fitted on level bins: ~0.5 for count-like noise,
                                      ~1 when bursts grow with the level, 0 when they do not)
    scale       = conformal q-quantile of residual / base ** exponent
    headroom(b) = scale x b ** exponent

so `above(b) = b + headroom(b)` is the level that covered a share q of past minutes at that level.
Nothing here looks ahead: the caller pairs each minute's demand with the base it had decided a
warm-up earlier, from history only. Pure numpy; the simulator uses it and the daemon's allocator
can (see docs/simulation.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from controller.domain.series import FloatArray

MIN_SAMPLES = 60
"""pairs wanted before any headroom is learned (an hour of minutes)"""
LEVEL_BINS = 8
"""bins of the base level over which the exponent is fitted"""
MIN_PER_BIN = 30
DEFAULT_EXPONENT = 0.5
"""used when the levels seen are too alike to fit one (count-like noise)"""


@dataclass(frozen=True)
class Headroom:
    scale: float
    exponent: float
    quantile: float
    samples: int

    def above(self, level: FloatArray) -> FloatArray:
        """The level plus the headroom it needs; never below the level itself."""
        base = np.maximum(np.asarray(level, dtype=np.float64), 0.0)
        return np.asarray(base + self.scale * base**self.exponent, dtype=np.float64)

    def describe(self) -> str:
        if not self.samples:
            return "no burst headroom yet (no history)"
        return (
            f"burst headroom {self.scale:.3g} x level^{self.exponent:.2f} "
            f"(q{self.quantile:g} of {self.samples} minutes against their planned level)"
        )


NO_HEADROOM = Headroom(scale=0.0, exponent=DEFAULT_EXPONENT, quantile=0.0, samples=0)


def learn_headroom(base: FloatArray, actual: FloatArray, quantile: float) -> Headroom:
    """Headroom that covered a share `quantile` of the minutes in (`base`, `actual`).

    `base[i]` is the level planned for minute i, `actual[i]` what that minute saw; NaN in either
    (a gap, or no plan yet) leaves the pair out. Under MIN_SAMPLES pairs: no headroom.
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile:g}")
    base = np.asarray(base, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    usable = np.isfinite(base) & np.isfinite(actual) & (base > 0)
    levels, residuals = base[usable], actual[usable] - base[usable]
    if levels.size < MIN_SAMPLES:
        return NO_HEADROOM
    exponent = _spread_exponent(levels, residuals)
    standardized = residuals / levels**exponent
    scale = float(np.quantile(standardized, _finite_sample(quantile, levels.size)))
    return Headroom(max(scale, 0.0), exponent, quantile, int(levels.size))


def _spread_exponent(levels: FloatArray, residuals: FloatArray) -> float:
    """Slope of log(spread) on log(level) over level bins; spread = q90 - q50 of the residuals."""
    edges = np.unique(np.quantile(levels, np.linspace(0.0, 1.0, LEVEL_BINS + 1)))
    middles, spreads = [], []
    for low, high in pairwise(edges):
        inside = (levels >= low) & (levels <= high)
        if np.count_nonzero(inside) < MIN_PER_BIN:
            continue
        upper, middle = np.quantile(residuals[inside], [0.9, 0.5])
        if upper > middle:
            middles.append(float(np.median(levels[inside])))
            spreads.append(float(upper - middle))
    if len(middles) < 3 or max(middles) < 1.5 * min(middles):
        return DEFAULT_EXPONENT
    slope = float(np.polyfit(np.log(middles), np.log(spreads), 1)[0])
    return float(np.clip(slope, 0.0, 1.0))


def _finite_sample(q: float, n: int) -> float:
    """Split-conformal correction: the next minute is the (n+1)-th sample."""
    return min(1.0, q * (n + 1) / n)
