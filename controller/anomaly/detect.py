"""Detectors: session-level flags and metric-level findings on regular series (numpy in).

Series are per step (e.g. one minute), `times[i]` is the start of step i. A metric-level finding
needs its condition to hold over the configured sustained period: demand outside its band on the
period's median, rates for `min_steps` consecutive steps; NaN steps (gaps) break a run rather
than extend it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np
import numpy.typing as npt

from controller.anomaly.records import AnomalyKind, Finding

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Thresholds:
    sustained_steps: int = 5
    """steps a metric condition must hold (the sustained period / the step)"""
    resource_z: float = 4.0
    """a matched session whose per-event resource use is this many sigmas off is unusual"""
    unmatched_factor: float = 3.0
    """unmatched sessions per step above this times their baseline is a spike"""
    unmatched_min_rate: float = 5.0
    """... and above this many per step (so 0 -> 1 is not a spike)"""
    vanished_fraction: float = 0.2
    """a persona below this fraction of its expected traffic has vanished"""
    vanished_min_expected: float = 10.0
    """... when at least this much was expected per step (a quiet night going quieter is not
    news; Poisson noise at 3 per minute often reads as 0)"""
    smoothing_steps: int = 3
    """rolling mean over this many steps before comparing a noisy rate to its limit (unmatched
    spikes, vanished traffic)"""
    excess_factor: float = 1.0
    """demand above: also above this times the expected value (1: the forecast's p95 band
    alone decides; the bench's forecast-free level needs 2, see docs/anomalies.md)"""
    poisson_sigmas: float = 3.0
    """demand above: also this many Poisson standard deviations of the sustained window's
    count above `excess_factor` x expected (a quiet persona's noise is not a burst)"""


def unusual_resources(persona: IntArray, resource_z: FloatArray, threshold: float) -> BoolArray:
    """Matched sessions whose per-event resource use is far from their persona's model."""
    return np.asarray((persona >= 0) & (np.abs(resource_z).max(axis=1) > threshold))


def per_step(
    times_s: FloatArray, flags: BoolArray, start_s: float, step_s: float, steps: int
) -> FloatArray:
    """Flagged sessions per step (the 'unmatched per minute' metric), by session start."""
    index = np.floor((times_s[flags] - start_s) / step_s).astype(np.int64)
    index = index[(index >= 0) & (index < steps)]
    return np.bincount(index, minlength=steps).astype(np.float64)


def runs(condition: BoolArray, min_steps: int) -> list[tuple[int, int]]:
    """[start, end) index ranges where `condition` holds for at least `min_steps` steps."""
    padded = np.concatenate([[False], condition, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    pairs = edges.reshape(-1, 2)
    return [(int(a), int(b)) for a, b in pairs if b - a >= min_steps]


def smooth(values: FloatArray, steps: int) -> FloatArray:
    """Trailing rolling mean (uses only the present and past: no peeking)."""
    if steps <= 1:
        return values
    kernel = np.ones(steps) / steps
    filled = np.where(np.isnan(values), 0.0, values)
    out = np.convolve(filled, kernel)[: values.shape[0]]
    out[: steps - 1] = filled[: steps - 1]
    return np.where(np.isnan(values), np.nan, out)


def count_floor(
    expected: FloatArray,
    window: int,
    factor: float,
    sigmas: float,
    counts_per_unit: float = 1.0,
) -> FloatArray:
    """`factor` x expected plus `sigmas` Poisson standard deviations of a `window`-step average
    of counts at that rate: the least a sustained window must average to be above what was
    expected. `counts_per_unit` converts the series' unit to counts per step (events/s over a
    5-minute step: 300). At 13 requests per minute over 10 minutes the Poisson term is about 5
    on top of 26; at 1000 it is negligible, and the factor decides."""
    rate = np.maximum(factor * expected, 0.0) * counts_per_unit  # NaN (nothing expected) stays
    return np.asarray((rate + sigmas * np.sqrt(rate / max(window, 1))) / counts_per_unit)


def count_ceiling(
    expected: FloatArray,
    window: int,
    factor: float,
    sigmas: float,
    counts_per_unit: float = 1.0,
) -> FloatArray:
    """The mirror of `count_floor`: expected / `factor` less `sigmas` Poisson standard
    deviations of a `window`-step average, the most a sustained window may average to be
    below what was expected (never below zero). A quiet persona's lulls are Poisson noise,
    not traffic vanishing: at 0.15 events/s over 10 minutes the term is about 0.05."""
    rate = np.maximum(expected / factor, 0.0) * counts_per_unit
    lowest = rate - sigmas * np.sqrt(rate / max(window, 1))
    return np.asarray(np.maximum(lowest, 0.0) / counts_per_unit)


def outside_interval(
    times: Sequence[datetime],
    actual: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    persona: str | None,
    thresholds: Thresholds,
    expected: FloatArray | None = None,
    counts_per_unit: float = 1.0,
) -> list[Finding]:
    """Demand above the upper band or below the lower band over a sustained period.

    The test is on the median of the trailing `sustained_steps` (the sustained period): it is
    off only when more than half of that period is, so a one-client spike of a minute or two
    does not count and a surge must last about half the period before it can; and since the
    period's values are pooled, the band it is judged against can be the count-aware one
    (`count_floor`) for that many steps. With `expected` (the forecast mean), above also means
    above `count_floor(expected, ...)` and below also means below `count_ceiling(expected,
    ...)`. A finding is reported from where the median's window had its middle (the median
    lags a step change by half the window)."""
    window = max(1, thresholds.sustained_steps)
    values = rolling_median(actual, window)
    upper, lower = hi, lo
    if expected is not None:
        noise = (window, thresholds.excess_factor, thresholds.poisson_sigmas, counts_per_unit)
        upper = np.fmax(hi, count_floor(expected, *noise))
        lower = np.fmin(lo, count_ceiling(expected, *noise))
    found = []
    with np.errstate(invalid="ignore"):
        above, below = values > upper, values < lower
    lag_start, lag_end = (window - 1) // 2, window // 2
    for flag, direction in ((above, "above"), (below, "below")):
        for a, b in runs(flag, 1):
            # at least one step, and never a negative index: a run in the first `lag_start`
            # steps would otherwise end at the series' end
            first = max(0, a - lag_start)
            last = max(first + 1, b - lag_end)
            bound = upper[a:b] if direction == "above" else lower[a:b]
            ratio = float(np.nanmean(values[a:b]) / max(float(np.nanmean(bound)), 1e-9))
            found.append(
                Finding(
                    "demand_outside_forecast",
                    persona,
                    times[first],
                    _end(times, min(last, len(times))),
                    ratio,
                    {
                        "direction": direction,
                        "steps": float(last - first),
                        "median_over_sustained": round(_nanmean(values[a:b]), 3),
                        "mean_actual": round(_nanmean(actual[first:last]), 3),
                        "mean_bound": round(float(np.nanmean(bound)), 3),
                    },
                )
            )
    return found


def _nanmean(values: FloatArray) -> float:
    """NaN for an all-NaN stretch (a gap), quietly."""
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def unmatched_spike(
    times: Sequence[datetime], unmatched: FloatArray, baseline: FloatArray, thresholds: Thresholds
) -> list[Finding]:
    """Unmatched sessions per step far above their usual rate for a sustained period."""
    return _rate_spike("unmatched_spike", None, "unmatched", times, unmatched, baseline, thresholds)


def unusual_session_rate(
    times: Sequence[datetime],
    unusual: FloatArray,
    baseline: FloatArray,
    persona: str | None,
    thresholds: Thresholds,
) -> list[Finding]:
    """Matched sessions with very unusual resource use, per step, far above their usual rate for
    a sustained period (the session-level rate metric; same test as an unmatched spike)."""
    return _rate_spike(
        "unusual_resources", persona, "unusual", times, unusual, baseline, thresholds
    )


def _rate_spike(
    kind: AnomalyKind,
    persona: str | None,
    label: str,
    times: Sequence[datetime],
    counts: FloatArray,
    baseline: FloatArray,
    thresholds: Thresholds,
) -> list[Finding]:
    limit = np.maximum(thresholds.unmatched_factor * baseline, thresholds.unmatched_min_rate)
    values = smooth(counts, thresholds.smoothing_steps)
    with np.errstate(invalid="ignore"):
        flag = values > limit
    return [
        Finding(
            kind,
            persona,
            times[a],
            _end(times, b),
            # a ratio to the usual rate, counted as at least one per step (usual may be 0)
            float(np.nanmean(values[a:b]) / max(float(np.nanmean(baseline[a:b])), 1.0)),
            {
                f"{label}_per_step": round(float(np.nanmean(counts[a:b])), 3),
                "baseline_per_step": round(float(np.nanmean(baseline[a:b])), 3),
            },
        )
        for a, b in runs(flag, thresholds.sustained_steps)
    ]


def unmatched_sessions(
    times: Sequence[datetime], unmatched: FloatArray, thresholds: Thresholds
) -> list[Finding]:
    """Any unmatched sessions, grouped into runs of steps that had some (a session-level record)."""
    return [
        Finding(
            "unmatched_sessions",
            None,
            times[a],
            _end(times, b),
            float(np.nansum(unmatched[a:b])),
            {"sessions": float(np.nansum(unmatched[a:b]))},
        )
        for a, b in runs(np.nan_to_num(unmatched) > 0, 1)
    ]


def unusual_sessions(
    times: Sequence[datetime], unusual: FloatArray, persona: str, min_sessions: int = 1
) -> list[Finding]:
    """Matched sessions of `persona` with very unusual resource use, grouped into runs."""
    return [
        Finding(
            "unusual_resources",
            persona,
            times[a],
            _end(times, b),
            float(np.nansum(unusual[a:b])),
            {"sessions": float(np.nansum(unusual[a:b]))},
        )
        for a, b in runs(np.nan_to_num(unusual) > 0, 1)
        if np.nansum(unusual[a:b]) >= min_sessions
    ]


def traffic_vanished(
    times: Sequence[datetime],
    actual: FloatArray,
    expected: FloatArray,
    persona: str | None,
    thresholds: Thresholds,
) -> list[Finding]:
    """A persona's traffic far below what was expected (e.g. the forecast mean) for a while.

    A step with no data at all (NaN: nothing arrived) counts as zero traffic here: vanishing is
    exactly when the series stops."""
    values = smooth(np.nan_to_num(actual), thresholds.smoothing_steps)
    with np.errstate(invalid="ignore"):
        flag = (expected >= thresholds.vanished_min_expected) & (
            values < thresholds.vanished_fraction * expected
        )
    return [
        Finding(
            "traffic_vanished",
            persona,
            times[a],
            _end(times, b),
            float(np.mean(values[a:b]) / max(float(np.nanmean(expected[a:b])), 1e-9)),
            {
                "mean_actual": round(float(np.mean(values[a:b])), 3),
                "mean_expected": round(float(np.nanmean(expected[a:b])), 3),
            },
        )
        for a, b in runs(flag, thresholds.sustained_steps)
    ]


def seasonal_interval(
    values: FloatArray, period: int, periods: int = 7, half_window: int = 7, width: float = 3.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A forecast-free baseline (mean, lo, hi) per step from the same time in earlier periods.

    For step t: the median of the steps within `half_window` of t - j*period, j = 1..periods
    (past only), and a band of `width` robust standard deviations of log(1 + value) around it.
    Used when no forecast interval exists (the bench's real trace, cold start)."""
    n = values.shape[0]
    logv = np.log1p(np.where(np.isnan(values), np.nan, values))
    offsets = [
        -j * period + d for j in range(1, periods + 1) for d in range(-half_window, half_window + 1)
    ]
    stack = np.full((len(offsets), n), np.nan)
    for i, off in enumerate(offsets):
        if -off < n:
            stack[i, -off:] = logv[: n + off]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no history yet
        centre = np.nanmedian(stack, axis=0)
        spread = 1.4826 * np.nanmedian(np.abs(stack - centre[None]), axis=0)
    spread = np.maximum(spread, 0.1)
    return np.expm1(centre), np.expm1(centre - width * spread), np.expm1(centre + width * spread)


def _end(times: Sequence[datetime], b: int) -> datetime:
    step = times[1] - times[0] if len(times) > 1 else timedelta(minutes=1)
    return times[b - 1] + step


def trailing_median(values: FloatArray, window: int) -> FloatArray:
    """Median of the `window` steps before each step (NaN-aware; the first steps use what exists)."""
    padded = np.concatenate([np.full(window, np.nan), values])
    views = np.lib.stride_tricks.sliding_window_view(padded, window)[: values.shape[0]]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = np.nanmedian(views, axis=1)
    return np.asarray(np.nan_to_num(out, nan=0.0), dtype=np.float64)


def level_interval(
    values: FloatArray, window: int = 60, factor: float = 2.0, poisson_sigmas: float = 4.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A short-horizon baseline (mean, lo, hi): the median of the previous `window` steps, with a
    band of x/÷ `factor`, never narrower than `poisson_sigmas` Poisson standard deviations (so a
    quiet series at 3 per minute does not flag 7). For counts whose daily shape is too irregular
    for `seasonal_interval` (the NASA trace: launches, weekends, outages)."""
    level = trailing_median(values, window)
    hi = np.maximum(factor * level, level + poisson_sigmas * np.sqrt(level + 1.0))
    return level, level / factor, hi


def rolling_median(values: FloatArray, window: int) -> FloatArray:
    """Trailing median over `window` steps (present and past only; NaN-aware). A burst that
    lasts moves it; one client's spike of a minute or two does not."""
    if window <= 1:
        return values
    padded = np.concatenate([np.full(window - 1, np.nan), values])
    views = np.lib.stride_tricks.sliding_window_view(padded, window)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanmedian(views, axis=1), dtype=np.float64)


def burst_interval(
    values: FloatArray,
    period: int,
    level_window: int = 60,
    factor: float = 2.0,
    poisson_sigmas: float = 4.0,
    width: float = 1.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A forecast-free band (expected, lo, hi) for bursts in a count with a daily shape, from two
    baselines that fail in different places; a step is above only if it is above both.

    - level: the median of the previous `level_window` steps, carried along the usual daily
      shape (the seasonal centre now / its median over the same window, clipped to x/÷ 2),
      x/÷ `factor`, never narrower than `poisson_sigmas` Poisson standard deviations. It follows
      today's volume (weekends, a busy day) and the usual ramps.
    - seasonal: `seasonal_interval` of the 3-step trailing mean at `width` robust sigmas. It knows what this time of day
      usually looks like, so a morning ramp steeper than the last hour's level is not a burst.
    """
    centre, _, seasonal_hi = seasonal_interval(smooth(values, 3), period, width=width)
    with np.errstate(all="ignore"):
        shape = centre / np.maximum(trailing_median(centre, level_window), 1.0)
    shape = np.clip(np.where(np.isfinite(shape) & (shape > 0), shape, 1.0), 0.5, 2.0)
    expected = trailing_median(values, level_window) * shape
    level_hi = np.maximum(factor * expected, expected + poisson_sigmas * np.sqrt(expected + 1.0))
    return expected, expected / factor, np.fmax(level_hi, seasonal_hi)


def seasonal_burst(
    values: FloatArray, period: int, thresholds: Thresholds, day_type: IntArray | None = None
) -> BoolArray:
    """Per step of a per-bucket count with a daily shape (`period` steps a day): whether a burst
    shows there by the forecast-free `burst` rule (bench/anomaly_eval.py): the trailing
    `sustained_steps` median above the seasonal band of that median (the same time on the last 7
    days, 1 robust sigma) and above `count_floor` of the last hour's level carried along the
    daily shape (`burst_band`). The cycle uses it as a second opinion on demand above the
    forecast band: the forecaster one step ahead is a model, the seasonal band is what this
    time of day has looked like. Where no earlier day exists (NaN band), True: without history
    the guard holds nothing back. With `day_type` (one entry per `period`-step day from step 0),
    the seasonal band is brought to the day type's volume (`burst_band(day_type=)`)."""
    window = max(1, thresholds.sustained_steps)
    expected, _, hi = burst_band(values, period, window, day_type=day_type)
    floor = count_floor(expected, window, thresholds.excess_factor, thresholds.poisson_sigmas)
    median = rolling_median(values, window)
    with np.errstate(invalid="ignore"):
        above = median > np.fmax(hi, floor)
    return np.asarray(above | (np.isnan(hi) & ~np.isnan(median)))


def day_type_ratio(
    values: FloatArray, period: int, day_type: IntArray, periods: int = 7
) -> FloatArray:
    """Per step: how busy a day of this step's type usually is next to a day of the last
    `periods` days pooled, learned from earlier days only.

    Days are the `period`-step blocks from step 0 (the series must start at a day boundary);
    `day_type` gives each day's type (e.g. 0 weekday, 1 weekend), one entry per day. For day d:
    the median daily level (mean per step, days with at least half their steps present) of the
    days of d's type among d-1 .. d-`periods`, over the median daily level of all of them. 1 where
    the history has no day of that type. `seasonal_interval` pools the same `periods` days, so
    on a weekend its centre is a weekday's; this ratio (a daily total, so it is steady with only
    two weekend days a week) brings it to the weekend's volume."""
    n = values.shape[0]
    days = -(-n // period)
    padded = np.full(days * period, np.nan)
    padded[:n] = values
    blocks = padded.reshape(days, period)
    present = np.sum(~np.isnan(blocks), axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        level = np.where(present >= period // 2, np.nanmean(blocks, axis=1), np.nan)
    ratio = np.ones(days)
    for d in range(days):
        history = np.arange(max(0, d - periods), d)
        levels = level[history]
        same = levels[day_type[history] == day_type[d]]
        same, pooled = same[~np.isnan(same)], levels[~np.isnan(levels)]
        if same.size and pooled.size and np.median(pooled) > 0:
            ratio[d] = float(np.median(same) / np.median(pooled))
    return np.asarray(np.repeat(ratio, period)[:n], dtype=np.float64)


def weekend_days(
    start: datetime, step: timedelta, steps: int, zone: tzinfo
) -> tuple[int, IntArray]:
    """Day types for `day_type_ratio` over a series of `steps` steps from `start`: how many
    steps to put before it so it starts at a midnight of `zone` (or up to a step before), and
    per day from there, 1 for Saturday and Sunday in `zone`, 0 for other days. Days are 24-hour
    blocks: across a daylight-saving change they drift from local midnight by an hour."""
    midnight = start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    lead = math.ceil((start.astimezone(UTC) - midnight.astimezone(UTC)) / step)
    first = start - lead * step
    per_day = max(1, int(timedelta(days=1) / step))
    days = -(-(steps + lead) // per_day)
    noons = (first + timedelta(days=d, hours=12) for d in range(days))
    types = [noon.astimezone(zone).weekday() >= 5 for noon in noons]
    return lead, np.array(types, dtype=np.int64)


def burst_band(
    values: FloatArray,
    period: int,
    window: int,
    width: float = 1.0,
    level_window: int = 60,
    day_type: IntArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The forecast-free stand-in for a forecast band, for counts per step with a daily shape
    (the bench's real trace): (expected, lo, hi) where expected is `burst_interval`'s level
    (the last `level_window` steps' median carried along the usual daily shape) and hi the
    seasonal band (`width` robust sigmas) of the `window`-step trailing median, the statistic
    `outside_interval` judges. Pass `expected` to `outside_interval` too: a step is above only
    if it is above both the seasonal band and the count-aware level (`count_floor`).

    With `day_type` (one entry per `period`-step day from step 0, e.g. 1 for Saturday and
    Sunday), the seasonal band is scaled by `day_type_ratio` where that is below 1: the band
    pools the last 7 days, so on a weekend its upper edge is a weekday's and sits above a 3x burst
    of weekend traffic; the ratio of daily levels (weekend days vs the 7 days pooled, from
    earlier days only) brings it down to the weekend's volume while keeping the pooled spread
    (two weekend days a week are too few for a spread of their own)."""
    expected, lo, _ = burst_interval(values, period, level_window=level_window)
    _, _, hi = seasonal_interval(rolling_median(values, window), period, width=width)
    if day_type is not None:  # only ever lowered, to a quieter day type's volume
        hi = hi * np.minimum(day_type_ratio(values, period, day_type), 1.0)
    return expected, lo, hi
