"""Is a persona's forecast persistently biased, and by how much should the next one shift?

Errors are measured on the same scale as the conformal bands: e = log(a + c) - log(f + c), with
c = 10 % of the mean actual (so a quiet night does not dominate). Per realized time bucket the
errors of every forecast that predicted it are averaged, giving one series e_t in time order.

The test: a t-test by non-overlapping batch means, so that autocorrelated errors (consecutive
buckets, overlapping forecasts) do not pass for independent evidence:
    mean = average of e_t over the window;  m_1..m_B = means of B = 8 consecutive batches
    t    = mean / (sd(m_1..m_B) / sqrt(B))        (B - 1 = 7 degrees of freedom: |t| >= 3 ~ p 0.02)
Significant when |t| >= t_threshold, n >= min_points and |exp(mean) - 1| >= min_shift; persistent
when the first and the second half of the window are each off in the same direction by at least
half the mean (one burst in one half cannot make a correction). Then the next forecasts are
multiplied by exp(mean).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from controller.domain.series import FloatArray
from controller.feedback.scoring import RealizedPairs

BATCHES = 8


@dataclass(frozen=True)
class BiasRule:
    t_threshold: float = 3.0
    min_points: int = 144
    min_shift: float = 0.05
    max_factor: float = 3.0


@dataclass(frozen=True)
class BiasTest:
    shift: float
    """mean log error: > 0 forecasts too low; exp(shift) is the factor that would remove it"""
    t: float
    points: int
    halves_agree: bool
    significant: bool
    reason: str

    @property
    def factor(self) -> float:
        return math.exp(self.shift)


def log_offset(actuals: FloatArray) -> float:
    seen = actuals[~np.isnan(actuals)]
    return max(0.1 * float(seen.mean()), 1e-6) if seen.size else 1e-6


def errors_by_time(pairs: RealizedPairs) -> FloatArray:
    """Mean log error per realized time bucket, oldest first (buckets nobody predicted dropped)."""
    if pairs.means.size == 0:
        return np.zeros(0)
    c = log_offset(pairs.actuals)
    with np.errstate(invalid="ignore"):
        errors = np.log(np.maximum(pairs.actuals, 0.0) + c) - np.log(
            np.maximum(pairs.means, 0.0) + c
        )
    times = pairs.origins[:, None] + np.arange(pairs.means.shape[1])[None, :]
    seen = ~np.isnan(errors)
    if not np.any(seen):
        return np.zeros(0)
    first = int(times[seen].min())
    index = times[seen] - first
    totals = np.bincount(index, weights=errors[seen])
    counts = np.bincount(index)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = totals / counts
    result: FloatArray = means[counts > 0]
    return result


def bias_test(errors: FloatArray, rule: BiasRule) -> BiasTest:
    n = int(errors.shape[0])
    needed = max(rule.min_points, 2 * BATCHES)
    if n < needed:
        return BiasTest(0.0, 0.0, n, False, False, f"{n} realized points, {needed} needed")
    mean = float(errors.mean())
    batch_means = np.array([float(b.mean()) for b in np.array_split(errors, BATCHES)])
    spread = float(batch_means.std(ddof=1))
    t = mean / (spread / math.sqrt(BATCHES)) if spread > 0 else math.copysign(math.inf, mean or 1)
    half = n // 2
    first, second = float(errors[:half].mean()), float(errors[half:].mean())
    agree = all(h * mean > 0 and abs(h) >= abs(mean) / 2 for h in (first, second))
    size = abs(math.exp(mean) - 1)
    significant = abs(t) >= rule.t_threshold and size >= rule.min_shift and agree
    direction = "low" if mean > 0 else "high"
    reason = (
        f"forecasts {size:.0%} too {direction} over {n} points "
        f"(t = {t:.1f} over {BATCHES} batches, halves {first:+.3f}/{second:+.3f})"
    )
    if not significant:
        if not agree:
            why = "halves disagree"
        elif abs(t) < rule.t_threshold:
            why = f"|t| < {rule.t_threshold:g}"
        else:
            why = f"under {rule.min_shift:.0%}"
        reason += f": not corrected ({why})"
    return BiasTest(mean, t, n, agree, significant, reason)


def next_factor(current: float, test: BiasTest, rule: BiasRule) -> float:
    """The correction for the next forecasts: `test` measured errors under `current`."""
    if not test.significant:
        return current
    return min(max(current * test.factor, 1 / rule.max_factor), rule.max_factor)
