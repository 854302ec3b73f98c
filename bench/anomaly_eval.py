"""Issue 5's anomaly benchmark: injected anomalies in generated data and in the real NASA trace.

Injected, each at random non-overlapping places after a week of clean history (so the baseline
has seven days to learn from), seeded:
- bursts: the series times 3 for 10-30 minutes (demand_outside_forecast, direction above);
- drops: the series times 0.05 for 30-90 minutes (traffic_vanished);
- a new unseen persona (generated data only): sessions of undeclared event types and an unknown
  resource profile at 10 per minute for 20-60 minutes on top of ~4 sessions per minute of the
  example personas, classified by the matcher (unmatched_spike).

Bands standing in for the forecaster's p05-p95 band (which the cycle uses instead):
- `seasonal`: `seasonal_interval` (the same minute on the previous 7 days, +-7 minutes, median +-
  3 robust sigmas, on the 3-minute trailing mean);
- `level`: `level_interval` (the previous hour's median x/÷ 2, Poisson floor), 7 minutes sustained;
- `burst5` (the previous rule, for comparison): `burst_interval` (above the previous hour's level
  carried along the usual daily shape, x2 with a per-minute Poisson floor, AND above the seasonal
  band at 1 robust sigma), judged on a 5-minute trailing median, 5 minutes sustained;
- `burst` (what the daemon's detector does, `outside_interval` with `expected`): the median of
  the last 10 minutes (the goal's sustained period: a natural surge of 5-7 minutes hardly moves
  it, one client's spike of a minute or two not at all) above the seasonal band of that median
  (1 robust sigma) AND above `count_floor`: `excess_factor` x the same expected level plus 3
  Poisson sigmas of a 10-minute count (at ~13 requests/minute noise is a third of the level).
  `excess_factor` is calibrated, not tuned on the injected bursts: the smallest of
  CALIBRATION_FACTORS whose findings on July's un-injected data stay at most
  FALSE_ALARMS_PER_WEEK (20 bursts in July's ~4 weeks at recall 0.9 leave room for about one
  false alarm a week at precision 0.8).
- `daytype` (chosen on July over `burst`): `burst` with the seasonal band's upper edge scaled by
  `day_type_ratio` where below 1 (same-day-type vs pooled daily levels over the previous 7 days,
  weekend = Saturday and Sunday by local date), so a weekend's band is at weekend volume with
  the pooled spread; calibrated the same way. These bands are the bench's own stand-ins: the
  daemon judges demand against the stored forecast's band.
All settings were chosen on July alone; `july_august` reports July and the held-out August
separately, then the whole trace. A finding counts as true when it overlaps an injected anomaly
of its kind; precision = true findings / findings, recall = injected anomalies found / injected.
Goal: recall >= 0.9 at precision >= 0.8 on 3x bursts of >= 10 minutes.

Natural bursts (fixed before any precision was looked at, 2026-11-29). The real trace has surges
of its own that meet the goal's definition of an anomaly; detecting one is not a false alarm.
They are labelled on the un-injected series, with hindsight, by the injected bursts' definition
(>= 3x the expected level for >= 10 minutes):
- hindsight expected level of the 10-minute window [t, t+10): the median of the two hours
  centred on it, leaving the window itself out ([t-55, t) and [t+10, t+65); at least half of
  them present, and above 0);
- the window is a natural burst when its median is >= NATURAL_FACTOR (3) x that level; the
  minutes of every such window are labelled (so a labelled stretch lasts >= 10 minutes).
The same ratio, largest over the windows that overlap a finding, is the hindsight size printed
for each un-injected finding. Precision is then reported two ways side by side: strict (every
finding that overlaps no injected burst is false) and natural-aware (a finding that overlaps no
injected burst but overlaps a natural one is neither true nor false: it is left out of
precision, and the number left out is printed). A finding overlapping an injected burst is true
either way. Injected bursts are not placed on natural ones: `windows` needs the 30 minutes
either side of a burst to be present and unlabelled. Recall and the calibration (which still
counts every un-injected finding on July as a false alarm) are unchanged.
"""

from __future__ import annotations

import gzip
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.matching_eval import load_personas  # noqa: E402
from controller.anomaly.band import band_in_force  # noqa: E402
from controller.anomaly.detect import (  # noqa: E402
    Thresholds,
    burst_band,
    burst_interval,
    level_interval,
    outside_interval,
    per_step,
    rolling_median,
    runs,
    seasonal_interval,
    smooth,
    traffic_vanished,
    trailing_median,
    unmatched_spike,
    weekend_days,
)
from controller.anomaly.records import Finding  # noqa: E402
from controller.config import AnomaliesConfig  # noqa: E402
from controller.domain.forecast import Forecast  # noqa: E402
from controller.domain.series import Series  # noqa: E402
from controller.forecasting.rolling import RollingForecaster  # noqa: E402
from controller.matching.features import SessionFeatures  # noqa: E402
from controller.matching.model import PersonaMatcher  # noqa: E402
from controller.matching.synthetic import GeneratorSettings, generate  # noqa: E402
from controller.workflow.anomaly_step import (  # noqa: E402
    kept_if_confirmed,
    season_bursts,
    thresholds_for,
)

DATA = ROOT / "bench" / "data" / "nasa-http-1995-per-minute.csv.gz"
DAY = 1440
FIVE_MINUTES = timedelta(minutes=5)
MINUTE = timedelta(minutes=1)
NASA_ZONE = ZoneInfo("America/New_York")  # the trace's -04:00 (EDT) in July and August
THRESHOLDS = Thresholds()
Rule = Literal["seasonal", "level", "burst5", "burst", "daytype"]
BURST5_MEDIAN = 5
BURST5_SUSTAINED = 5
SUSTAINED = 10
"""minutes: the goal's bursts last 10 minutes or more (the daemon's `anomalies.sustained`)"""
POISSON_SIGMAS = 3.0
CALIBRATION_FACTORS = tuple(round(1.5 + 0.1 * i, 1) for i in range(11))
FALSE_ALARMS_PER_WEEK = 1.0
SEEDS = (4, 5, 6, 7, 8)
NATURAL_FACTOR = 3.0
"""a natural burst is this many times its hindsight expected level (the injected bursts' 3x)"""
HINDSIGHT_MINUTES = 120
"""the hindsight expected level: the median of this many minutes centred on the window"""
LOCAL = timedelta(hours=-4)
"""the NASA trace's local time (-04:00), for printing findings"""


def load_nasa() -> tuple[datetime, np.ndarray]:
    with gzip.open(DATA, "rt") as handle:
        handle.readline()
        rows = [line.strip().split(",") for line in handle if line.strip()]
    times = [datetime.fromisoformat(t).astimezone(UTC) for t, _ in rows]
    start = times[0]
    values = np.full(int((times[-1] - start) / timedelta(minutes=1)) + 1, np.nan)
    for when, (_, count) in zip(times, rows, strict=True):
        values[int((when - start) / timedelta(minutes=1))] = float(count)
    return start, values


def windows(
    rng: np.random.Generator, n: int, lo: int, hi: int, first: int, last: int, valid: np.ndarray
) -> list[tuple[int, int]]:
    """n non-overlapping [a, b) windows of lo..hi steps inside [first, last), `valid` (data
    present and, for bursts, no natural burst) 30 steps either side, at least two hours apart
    (the baseline's median shrugs off one disturbed day in seven)."""
    chosen: list[tuple[int, int]] = []
    while len(chosen) < n:
        length = int(rng.integers(lo, hi + 1))
        a = int(rng.integers(first, last - length))
        b = a + length
        if not valid[a - 30 : b + 30].all():
            continue
        if any(a < d + 120 and b > c - 120 for c, d in chosen):
            continue
        chosen.append((a, b))
    return sorted(chosen)


@dataclass(frozen=True)
class Score:
    precision: float
    """strict: every finding that overlaps no injected anomaly is false"""
    recall: float
    findings: int
    natural_precision: float
    """natural-aware: findings overlapping no injected anomaly but a natural burst left out"""
    left_out: int
    """findings left out of the natural-aware precision"""
    false: tuple[Finding, ...]
    """the findings that overlap no injected anomaly (natural or not)"""


Span = tuple[datetime, datetime]


def _overlaps(finding: Finding, spans: Sequence[Span]) -> bool:
    return any(finding.start < e and finding.end > s for s, e in spans)


def precision_recall(
    found: list[Finding],
    injected: list[tuple[int, int]],
    times: list[datetime],
    natural: Sequence[Span] = (),
) -> Score:
    spans = [(times[a], times[b - 1] + timedelta(minutes=1)) for a, b in injected]
    true = [f for f in found if _overlaps(f, spans)]
    false = tuple(f for f in found if not _overlaps(f, spans))
    left_out = sum(_overlaps(f, natural) for f in false)
    hit = [s for s, e in spans if any(f.start < e and f.end > s for f in found)]
    return Score(
        len(true) / max(len(found), 1),
        len(hit) / max(len(spans), 1),
        len(found),
        len(true) / max(len(found) - left_out, 1),
        left_out,
        false,
    )


def hindsight_ratio(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per step t: (the median of the 10-minute window [t, t+10) over its hindsight expected
    level, that level): the median of the HINDSIGHT_MINUTES centred on the window, the window
    left out. NaN where less than half of either is present or the level is 0."""
    n = series.shape[0]
    side = (HINDSIGHT_MINUTES - SUSTAINED) // 2
    padded = np.concatenate([np.full(side, np.nan), series, np.full(side + SUSTAINED, np.nan)])
    views = np.lib.stride_tricks.sliding_window_view(padded, HINDSIGHT_MINUTES)[:n]
    inside = views[:, side : side + SUSTAINED]  # row t: minutes t - side .. t + 10 + side
    around = np.concatenate([views[:, :side], views[:, side + SUSTAINED :]], axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        level = np.nanmedian(around, axis=1)
        window = np.nanmedian(inside, axis=1)
    enough = (np.sum(~np.isnan(around), axis=1) >= around.shape[1] // 2) & (
        np.sum(~np.isnan(inside), axis=1) >= SUSTAINED // 2
    )
    level = np.where(enough & (level > 0), level, np.nan)
    with np.errstate(all="ignore"):
        return window / level, level


def natural_bursts(series: np.ndarray) -> np.ndarray:
    """Per step: inside a 10-minute window whose median is >= NATURAL_FACTOR x its hindsight
    level (see the module docstring), on the un-injected series."""
    ratio, _ = hindsight_ratio(series)
    with np.errstate(invalid="ignore"):
        start = (ratio >= NATURAL_FACTOR).astype(np.float64)
    return np.asarray(np.convolve(start, np.ones(SUSTAINED))[: series.shape[0]] > 0)


def natural_spans(labels: np.ndarray, times: list[datetime]) -> list[Span]:
    return [(times[a], times[b - 1] + timedelta(minutes=1)) for a, b in runs(labels, 1)]


def interval(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return seasonal_interval(smooth(values, THRESHOLDS.smoothing_steps), DAY)


def burst_findings(
    series: np.ndarray, times: list[datetime], rule: Rule, factor: float = 2.0
) -> list[Finding]:
    """Findings above the band of `rule` (see the module docstring)."""
    expected = None
    if rule in ("burst", "daytype"):
        types = day_types(times, series.shape[0]) if rule == "daytype" else None
        expected, lo, hi = burst_band(series, DAY, SUSTAINED, day_type=types)
        statistic = series
        thresholds = Thresholds(
            sustained_steps=SUSTAINED, excess_factor=factor, poisson_sigmas=POISSON_SIGMAS
        )
    elif rule == "burst5":
        _, lo, hi = burst_interval(series, DAY)
        statistic = rolling_median(series, BURST5_MEDIAN)
        thresholds = Thresholds(sustained_steps=1, smoothing_steps=1)
    else:
        _, lo, hi = level_interval(series) if rule == "level" else interval(series)
        statistic = smooth(series, THRESHOLDS.smoothing_steps)
        thresholds = Thresholds(sustained_steps=1, smoothing_steps=1)
    found = outside_interval(times, statistic, lo, hi, None, thresholds, expected=expected)
    found = [f for f in found if f.evidence["direction"] == "above"]
    if rule not in ("burst", "daytype"):  # earlier rules: band exceeded so many steps in a row
        held = {"burst5": BURST5_SUSTAINED, "level": 7}.get(rule, THRESHOLDS.sustained_steps)
        found = [f for f in found if f.evidence["steps"] >= held]
    return found


def day_types(times: list[datetime], steps: int) -> np.ndarray:
    """1 for a Saturday or Sunday, 0 otherwise, per DAY-step block from step 0 (both series
    start at a local midnight: NASA's 00:00 -04:00 is 04:00 UTC, the same date)."""
    return np.array([times[d].weekday() >= 5 for d in range(0, steps, DAY)], dtype=np.int64)


def calibrate(
    times: list[datetime], nasa: np.ndarray, span: tuple[int, int], rule: Rule = "burst"
) -> float:
    """The smallest excess_factor whose findings on July's un-injected data (all of them false
    alarms by the benchmark's count, though some are real surges) stay within the target."""
    weeks = (span[1] - span[0]) / (7 * DAY)
    chosen = CALIBRATION_FACTORS[-1]
    for factor in reversed(CALIBRATION_FACTORS):
        found = [
            f
            for f in burst_findings(nasa, times, rule, factor)
            if times[span[0]] <= f.start < times[span[1]]
        ]
        rate = len(found) / weeks
        print(
            f"  calibration [{rule}] on July un-injected: excess_factor {factor}: "
            f"{rate:.2f} per week"
        )
        if rate <= FALSE_ALARMS_PER_WEEK:
            chosen = factor
    print(
        f"  [{rule}] excess_factor {chosen} "
        f"(smallest at <= {FALSE_ALARMS_PER_WEEK:g} false alarm/week)"
    )
    return chosen


def bursts_in(
    times: list[datetime],
    clean: np.ndarray,
    seed: int,
    rule: Rule,
    span: tuple[int, int],
    count: int,
    factor: float = 2.0,
    natural: np.ndarray | None = None,
) -> Score:
    """Precision (strict and natural-aware), recall and findings for `count` 3x bursts of
    10-30 min inside `span`, placed away from the `natural` bursts (labels per step)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(clean.shape[0], dtype=bool) if natural is None else natural
    valid = ~np.isnan(clean) & ~labels
    bursts = windows(rng, count, 10, 30, span[0], span[1], valid)
    series = clean.copy()
    for a, b in bursts:
        series[a:b] *= 3.0
    found = [
        f
        for f in burst_findings(series, times, rule, factor)
        if times[span[0]] <= f.start < times[span[1]]
    ]
    return precision_recall(found, bursts, times, natural_spans(labels, times))


def burst_and_drop(
    name: str,
    times: list[datetime],
    clean: np.ndarray,
    seed: int,
    rule: Rule = "seasonal",
    factor: float = 2.0,
    natural: np.ndarray | None = None,
) -> None:
    first = 7 * DAY + 60
    span = (first, clean.shape[0] - 60)
    score = bursts_in(times, clean, seed, rule, span, 30, factor, natural)
    p, r = score.precision, score.recall
    q = score.natural_precision
    print(
        f"  {name}: 3x bursts of 10-30 min: 30 injected, {score.findings} findings, "
        f"precision strict {p:.3f} / natural-aware {q:.3f} ({score.left_out} left out), "
        f"recall {r:.3f} (goal recall >= 0.9 at precision >= 0.8: strict {goal(p, r)}, "
        f"natural-aware {goal(q, r)})"
    )

    rng = np.random.default_rng(seed + 1000)
    drops = windows(rng, 10, 30, 90, first, clean.shape[0] - 60, ~np.isnan(clean))
    series = clean.copy()
    for a, b in drops:
        series[a:b] *= 0.05
    level = rule != "seasonal"
    mean, _, _ = level_interval(series, window=120) if level else interval(series)
    found = [
        f
        for f in traffic_vanished(times, series, mean, None, THRESHOLDS)
        if f.start >= times[first]
    ]
    score = precision_recall(found, drops, times)
    print(
        f"  {name}: drops to 5% for 30-90 min: {len(drops)} injected, {score.findings} findings, "
        f"precision {score.precision:.3f}, recall {score.recall:.3f}"
    )


def goal(precision: float, recall: float) -> str:
    return "met" if recall >= 0.9 and precision >= 0.8 else "NOT met"


def generated_series(seed: int) -> np.ndarray:
    """Three weeks of per-minute requests: a daily cycle (low at night), weekends at 60%,
    lunchtime peaks, Poisson noise around a mean of 60 per minute."""
    rng = np.random.default_rng(seed)
    minutes = np.arange(21 * DAY)
    hour = (minutes % DAY) / 60
    daily = 0.35 + 0.65 * np.exp(-(((hour - 14) / 4.5) ** 2))
    weekend = np.where((minutes // DAY) % 7 >= 5, 0.6, 1.0)
    lunch = 1 + 0.5 * np.exp(-(((hour - 12.5) / 0.7) ** 2))
    rate = 90 * daily * weekend * lunch
    return rng.poisson(rate).astype(np.float64)


def unseen_persona(seed: int) -> None:
    personas = load_personas()
    matcher = PersonaMatcher.from_personas(personas)
    rng = np.random.default_rng(seed)
    weeks = 2
    data = generate(
        personas, matcher.vocabulary, GeneratorSettings(sessions=60_000, weeks=weeks, seed=seed)
    ).features
    assert data.start_s is not None
    t0 = float(np.floor(data.start_s.min() / 86400) * 86400)
    steps = weeks * 7 * DAY
    first = 3 * DAY
    injected = windows(rng, 20, 20, 60, first, steps - 60, np.ones(steps, dtype=bool))
    v = matcher.vocabulary
    starts, rows = [], []
    for a, b in injected:
        n = 10 * (b - a)
        starts.append(t0 + rng.uniform(a * 60, b * 60, n))
        rows.append(n)
    total = sum(rows)
    start_s = np.concatenate(starts)
    counts = np.zeros((total, len(v.event_types) + 1))
    counts[:, -1] = 1 + rng.poisson(5, total)  # event types no persona declares
    counts[:, v.event_types.index("browse")] = rng.poisson(0.5, total)
    unseen = SessionFeatures(
        counts,
        rng.lognormal(np.log([800.0, 2048, 20000, 300]), 0.3, (total, 4)),
        ((start_s // 3600 + 72) % 168).astype(np.int64),
        rng.integers(-1, len(v.regions), total),
        start_s,
    )
    both = SessionFeatures(
        np.vstack([data.type_counts, unseen.type_counts]),
        np.vstack([data.resource_per_event, unseen.resource_per_event]),
        np.concatenate([data.hour_of_week, unseen.hour_of_week]),
        np.concatenate([data.region, unseen.region]),
        np.concatenate([data.start_s, unseen.start_s]),
    )
    result = matcher.score(both)
    assert both.start_s is not None
    unmatched = per_step(both.start_s, result.persona < 0, t0, 60.0, steps)
    times = [datetime.fromtimestamp(t0, UTC) + timedelta(minutes=i) for i in range(steps)]
    baseline = trailing_median(unmatched, 120)
    found = [
        f
        for f in unmatched_spike(times, unmatched, baseline, THRESHOLDS)
        if f.start >= times[first]
    ]
    score = precision_recall(found, injected, times)
    p, r, n = score.precision, score.recall, score.findings
    share = float(np.mean(result.persona[len(data) :] < 0))
    print(
        f"  generated: new unseen persona, 10 sessions/min for 20-60 min over ~4/min of "
        f"known ones: {len(injected)} injected, {n} findings, precision {p:.3f}, recall {r:.3f} "
        f"({share:.1%} of its sessions unmatched)"
    )


def main() -> None:
    print(f"thresholds: {THRESHOLDS}")
    nasa_start, nasa = load_nasa()
    nasa_times = [nasa_start + timedelta(minutes=i) for i in range(nasa.shape[0])]
    spans = nasa_spans(nasa)
    july = spans["July (chosen on)"]
    factors = {rule: calibrate(nasa_times, nasa, july, rule) for rule in ("burst", "daytype")}
    factor = factors["burst"]
    natural = natural_bursts(nasa)
    print_natural_bursts(nasa_times, nasa, natural, spans)
    series = generated_series(3)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    times = [start + timedelta(minutes=i) for i in range(series.shape[0])]
    labels = natural_bursts(series)
    print(f"  generated: {len(runs(labels, 1))} natural bursts labelled")
    burst_and_drop("generated [seasonal band]", times, series, seed=1, natural=labels)
    burst_and_drop("generated [burst band]", times, series, 1, "burst", factor, labels)
    daytype = factors["daytype"]
    burst_and_drop("generated [daytype band]", times, series, 1, "daytype", daytype, labels)
    unseen_persona(seed=2)
    for rule in ("seasonal", "level", "burst5", "burst", "daytype"):
        name = f"NASA 1995 [{rule} band], seed 4"
        burst_and_drop(name, nasa_times, nasa, 4, rule, factors.get(rule, factor), natural)
    july_august(nasa_times, nasa, spans, factors, natural)


def print_natural_bursts(
    times: list[datetime],
    series: np.ndarray,
    natural: np.ndarray,
    spans: dict[str, tuple[int, int]],
) -> None:
    """How many natural bursts (labelled stretches) start inside each span, then each one."""
    stretches = runs(natural, 1)
    for label, (a, b) in spans.items():
        inside = [(s, e) for s, e in stretches if a <= s < b]
        minutes = sum(e - s for s, e in inside)
        print(
            f"  NASA {label}: {len(inside)} natural bursts labelled (>= {NATURAL_FACTOR:g}x the "
            f"hindsight level for >= {SUSTAINED} min), {minutes} minutes"
        )
    ratio, level = hindsight_ratio(series)
    for a, b in stretches:
        t = max(0, a - SUSTAINED + 1) + int(np.nanargmax(ratio[max(0, a - SUSTAINED + 1) : b]))
        print(
            f"    natural burst {times[a] + LOCAL:%a %d %b %H:%M} -04:00, {b - a} min: largest "
            f"10-min median {float(np.nanmedian(series[t : t + SUSTAINED])):.1f} vs hindsight "
            f"level {level[t]:.1f} = {ratio[t]:.2f}x"
        )


def nasa_spans(nasa: np.ndarray) -> dict[str, tuple[int, int]]:
    """July (from day 2: settings are chosen here), August (held out: from 4 days after the
    outage that separates them) and the whole trace after its first week."""
    gap = int(np.argmax((np.arange(nasa.shape[0]) > 10 * DAY) & np.isnan(nasa)))
    return {
        "July (chosen on)": (2 * DAY, gap - 60),
        "August (held out)": (gap + 4 * DAY, nasa.shape[0] - 60),
        "July+August (whole)": (7 * DAY + 60, nasa.shape[0] - 60),
    }


def july_august(
    times: list[datetime],
    nasa: np.ndarray,
    spans: dict[str, tuple[int, int]],
    factors: dict[str, float],
    natural: np.ndarray,
) -> None:
    """The burst rule's settings were chosen on July only; August, which it never saw, confirms
    or refutes them; the whole trace for context. 20 bursts per month (30 over the whole) x 5
    seeds: means over the seeds, and the worst seed; precision strict and natural-aware. Then
    the whole trace's un-injected findings of `burst` and `daytype` with their hindsight size."""
    false: dict[Rule, dict[int, tuple[Finding, ...]]] = {}
    for label, span in spans.items():
        count = 30 if "whole" in label else 20
        rules: tuple[Rule, ...] = ("level", "burst5", "burst", "daytype")
        for rule in rules:
            factor = factors.get(rule, 2.0)
            scores = [
                bursts_in(times, nasa, seed, rule, span, count, factor, natural) for seed in SEEDS
            ]
            p = [s.precision for s in scores]
            q = [s.natural_precision for s in scores]
            r = [s.recall for s in scores]
            out = [s.left_out for s in scores]
            print(
                f"  NASA {label} [{rule} band]: 3x bursts of 10-30 min, {count} x {len(SEEDS)} "
                f"seeds: precision strict {np.mean(p):.3f} (worst {min(p):.3f}) / "
                f"natural-aware {np.mean(q):.3f} (worst {min(q):.3f}; left out "
                f"{sum(out)} of {sum(s.findings for s in scores)} findings), "
                f"recall {np.mean(r):.3f} (worst {min(r):.3f}) (goal on the means: strict "
                f"{goal(float(np.mean(p)), float(np.mean(r)))}, natural-aware "
                f"{goal(float(np.mean(q)), float(np.mean(r)))})"
            )
            if "whole" in label and rule in ("burst", "daytype"):
                false[rule] = {seed: s.false for seed, s in zip(SEEDS, scores, strict=True)}
    for rule, by_seed in false.items():
        print_false_alarms(times, nasa, natural, rule, by_seed)
    label_check(nasa, natural, spans["July+August (whole)"])
    for label, span in spans.items():
        level_oracle(label, nasa, natural, span, 30 if "whole" in label else 20)
    daemon_rule(times[0], nasa, natural, spans)


def daemon_rule(
    start: datetime, nasa: np.ndarray, natural: np.ndarray, spans: dict[str, tuple[int, int]]
) -> None:
    """What the daemon itself flags: demand per 5-minute step against the band of the
    forecaster's automatic choice (`RollingForecaster`, re-chosen every 6 hours, forwarded
    in between, a forecast every step), with the cycle's thresholds (`thresholds_for`),
    judged against forecasts made `sustained` before each step (`band_in_force(lead=)`), then
    the cycle's seasonal second opinion on the per-minute counts (`anomaly_step.season_bursts`
    and `kept_if_confirmed`, what `confirmed_by_season` runs): off, or on with its own
    `guard_excess_factor` from GUARD_FACTORS, with the `burst` band (what the daemon runs) or
    the `daytype` band (`burst` brought to a weekend's volume, which is also a confirmation by
    `burst` since it only lowers the band). Bursts are placed as `bursts_in` places them (20
    per month, 30 over the whole trace, x 5 seeds); one forecasting pass per injected series
    (and one over July un-injected) serves every setting.

    Decision rule (written down 2026-11-29 before any of these figures was looked at):
    1. `guard_excess_factor` (band at the config defaults, `excess_factor` 2, `burst` guard):
       the smallest of GUARD_FACTORS whose findings on July's UN-injected data (band, then
       guard) stay at most FALSE_ALARMS_PER_WEEK, the criterion the stand-ins were calibrated
       by. It becomes the daemon's default if, on July, it raises mean recall over the guard at
       2.0 (the old behaviour) at mean precision >= 0.8. August (held out) and the whole trace
       are printed in the same run and used for nothing.
    1b. (added after the first run of 1, before any `daytype` guard figure was looked at) The
       same calibration for the `daytype` guard. The daemon has no local day boundaries yet, so
       it would be wired in only if its chosen setting meets the goal on July's means and
       August's means do not fall below the goal (the rule `lagged` was judged by).
    2. A guard only removes findings, so with any guard recall is at most the band's alone
       (`guard off`). Exploratory, reported and not made a default: the band's own
       `excess_factor` from BAND_FACTORS with every guard; among the settings whose July
       un-injected findings stay within FALSE_ALARMS_PER_WEEK, the one with the highest July
       mean recall (ties: higher July mean precision, then the larger factors).
    Outcome (docs/anomalies.md, "The daemon's own rule"): rule 1 picks 1.2 and its clause
    would make it the default; it was not made the default (a departure from the clause,
    taken after August was seen and stated there), so `guard_excess_factor` stays unset (the
    band's 2.0)."""
    began = time.perf_counter()
    july = spans["July (chosen on)"]
    jobs: list[tuple[str, int | None]] = [("July (chosen on)", None)]
    jobs += [(label, seed) for label in spans for seed in SEEDS]
    with ProcessPoolExecutor(max_workers=2) as pool:
        shared = [[x] * len(jobs) for x in (start, nasa, natural, spans)]
        passes = list(pool.map(_daemon_pass, jobs, *shared))
    times = [start + timedelta(minutes=i) for i in range(nasa.shape[0])]
    weeks = (july[1] - july[0]) / (7 * DAY)
    rate = {key: len(found) / weeks for key, found in passes[0][1].items()}
    scores: dict[tuple[str, Setting], list[Score]] = {}
    for (label, _), (bursts, found) in zip(jobs[1:], passes[1:], strict=True):
        for key, findings in found.items():
            scores.setdefault((label, key), []).append(precision_recall(findings, bursts, times))
    july_label = "July (chosen on)"

    def means(label: str, key: Setting) -> tuple[float, float, float, float]:
        p = [s.precision for s in scores[(label, key)]]
        r = [s.recall for s in scores[(label, key)]]
        return float(np.mean(p)), min(p), float(np.mean(r)), min(r)

    def report(name: str, key: Setting) -> None:
        for label in spans:
            p, pw, r, rw = means(label, key)
            print(
                f"    daemon rule [{name}: {_setting_name(key)}], NASA {label}: precision "
                f"{p:.3f} (worst {pw:.3f}), recall {r:.3f} (worst {rw:.3f}) (goal on the means: "
                f"{goal(p, r)})"
            )

    settings = sorted({key for _, key in scores}, key=_setting_order)
    print(f"  daemon rule, NASA, one forecasting pass per series ({len(jobs)} passes):")
    for key in settings:
        cells = []
        for label in spans:
            p, pw, r, rw = means(label, key)
            cells.append(f"{label.split()[0]} P {p:.3f} ({pw:.3f}) R {r:.3f} ({rw:.3f})")
        print(
            f"    {_setting_name(key)}: July un-injected {rate[key]:.2f}/week; " + "; ".join(cells)
        )
    old: Setting = (BAND_FACTOR, "burst", 2.0)
    for guard in ("burst", "daytype"):
        within = [
            key
            for key in settings
            if key[0] == BAND_FACTOR and key[1] == guard and rate[key] <= FALSE_ALARMS_PER_WEEK
        ]
        if not within:
            print(f"  [1] {guard} guard: no guard_excess_factor within the target on July")
            continue
        chosen = min(within, key=_setting_order)
        p, _, r, _ = means(july_label, chosen)
        if guard == "burst":
            adopt = r > means(july_label, old)[2] and p >= 0.8
            verdict = f"July recall {r:.3f} vs {means(july_label, old)[2]:.3f} at 2.0"
        else:
            p_aug, _, r_aug, _ = means("August (held out)", chosen)
            adopt = goal(p, r) == "met" and goal(p_aug, r_aug) == "met"
            verdict = "goal met on July's and August's means" if adopt else "goal not met on both"
        print(
            f"  [1] {guard} guard: guard_excess_factor {chosen[2]:g} chosen on July "
            f"({rate[chosen]:.2f} un-injected findings/week); the written rule says "
            f"{'adopt' if adopt else 'do NOT adopt'} ({verdict})"
        )
        report(f"chosen {guard} guard", chosen)
    report("old default", old)
    report("no guard", (BAND_FACTOR, None, None))
    candidates = [key for key in settings if rate[key] <= FALSE_ALARMS_PER_WEEK]
    if candidates:
        best = max(
            candidates,
            key=lambda k: (means(july_label, k)[2], means(july_label, k)[0], k[0], k[2] or 9.0),
        )
        print("  [2] exploratory, chosen on July by its recall:")
        report("pair", best)
    print(f"  daemon rule: {time.perf_counter() - began:.0f}s")


Guard = Literal["burst", "daytype"]
Setting = tuple[float, Guard | None, float | None]
"""(the band's excess_factor, the guard's band (None: no guard), the guard's excess_factor)"""
BAND_FACTOR = 2.0
"""the config default `anomalies.excess_factor`"""
BAND_FACTORS = (1.6, 1.7, 1.8, 1.9, 2.0)
GUARD_FACTORS = tuple(round(1.0 + 0.1 * i, 1) for i in range(11))


def _setting_name(key: Setting) -> str:
    guard = "no guard" if key[1] is None else f"{key[1]} guard {key[2]:g}"
    return f"band {key[0]:g}, {guard}"


def _setting_order(key: Setting) -> tuple[float, str, float]:
    return key[0], key[1] or "", key[2] or 0.0


def _daemon_pass(
    job: tuple[str, int | None],
    start: datetime,
    nasa: np.ndarray,
    natural: np.ndarray,
    spans: dict[str, tuple[int, int]],
) -> tuple[list[tuple[int, int]], dict[Setting, list[Finding]]]:
    """One forecasting pass over `span` of the series with the seed's bursts (none without a
    seed), then every setting's findings above the band starting inside the span."""
    label, seed = job
    span = spans[label]
    times = [start + timedelta(minutes=i) for i in range(nasa.shape[0])]
    bursts: list[tuple[int, int]] = []
    if seed is not None:
        rng = np.random.default_rng(seed)
        count = 30 if "whole" in label else 20
        bursts = windows(rng, count, 10, 30, *span, ~np.isnan(nasa) & ~natural)
    series = nasa.copy()
    for a, b in bursts:
        series[a:b] *= 3.0
    steps = series.shape[0] // 5
    with warnings.catch_warnings():  # an all-missing step (a gap) is NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        blocks = np.nanmean(series[: steps * 5].reshape(steps, 5), axis=1)  # requests a minute
    step_times = [start + FIVE_MINUTES * i for i in range(steps)]
    defaults = AnomaliesConfig()
    lead = thresholds_for(defaults, FIVE_MINUTES).sustained_steps
    forecaster = RollingForecaster(reselect_every=72)  # 6 hours of 5-minute cycles
    made: list[Forecast] = []
    horizon = lead + 1
    for origin in range(max(2 * 288, span[0] // 5 - horizon), min(steps, span[1] // 5 + 1)):
        history = blocks[max(0, origin - 28 * 288) : origin]
        when = start + FIVE_MINUTES * (origin - history.size)
        made.append(forecaster(Series("nasa", when, FIVE_MINUTES, history), horizon))
    band = band_in_force(made, start, FIVE_MINUTES, steps, lead=lead)
    counts = Series("nasa", start, MINUTE, series)
    # the daemon's own day types (`guard_day_types`, `local_timezone`): NASA's -04:00 in summer
    lead_steps, weekends = weekend_days(start, MINUTE, series.shape[0], NASA_ZONE)
    assert lead_steps == 0 and np.array_equal(weekends, day_types(times, series.shape[0]))
    types = {"burst": None, "daytype": weekends}
    masks = {
        (guard, g): season_bursts(
            counts, defaults.model_copy(update={"guard_excess_factor": g}), types[guard]
        )
        for guard in ("burst", "daytype")
        for g in GUARD_FACTORS
    }
    out: dict[Setting, list[Finding]] = {}
    for factor in BAND_FACTORS:
        settings = defaults.model_copy(update={"excess_factor": factor})
        found = outside_interval(
            step_times,
            blocks,
            band.lo,
            band.hi,
            "nasa",
            thresholds_for(settings, FIVE_MINUTES),
            band.mean,
            counts_per_unit=5.0,
        )
        above = [
            f
            for f in found
            if f.evidence["direction"] == "above" and times[span[0]] <= f.start < times[span[1]]
        ]
        out[(factor, None, None)] = above
        for (guard, g), mask in masks.items():
            out[(factor, guard, g)] = kept_if_confirmed(above, mask, counts, defaults.sustained)
    return bursts, out


def level_oracle(
    label: str, nasa: np.ndarray, natural: np.ndarray, span: tuple[int, int], count: int
) -> None:
    """A bound, not a detector: the best precision at recall >= 0.9 of a rule that knew each
    minute's expected level perfectly (the hindsight level of the UN-injected series, see
    `hindsight_ratio`) and flagged a 10-minute median (or mean) at >= r x that level, for r
    from 1.8 to 3.0. The same injected bursts as `bursts_in`; one finding per burst found,
    and one per stretch of un-injected minutes at >= r. What is left are natural surges of the
    real trace that look like 3x bursts even with the level known."""
    _, level = hindsight_ratio(nasa)
    sweep = np.round(np.arange(1.8, 3.001, 0.05), 2)
    for statistic in ("median", "mean"):
        found = np.zeros(sweep.shape[0])
        false = np.zeros(sweep.shape[0])
        injected = 0
        for seed in SEEDS:
            rng = np.random.default_rng(seed)
            bursts = windows(rng, count, 10, 30, span[0], span[1], ~np.isnan(nasa) & ~natural)
            series = nasa.copy()
            near = np.zeros(nasa.shape[0], dtype=bool)
            near[: span[0]] = near[span[1] :] = True
            for a, b in bursts:
                series[a:b] *= 3.0
                near[max(0, a - SUSTAINED) : b] = True
            ratio = _window_statistic(series, statistic) / level
            injected += len(bursts)
            for i, r in enumerate(sweep):
                with np.errstate(invalid="ignore"):
                    above = ratio >= r
                found[i] += sum(bool(above[a : b - SUSTAINED + 1].any()) for a, b in bursts)
                false[i] += len(runs(above & ~near, 1))
        recall = found / injected
        precision = found / np.maximum(found + false, 1)
        reach = precision[recall >= 0.9]
        best = f"{reach.max():.3f}" if reach.size else "none"
        curve = " ".join(
            f"{r:.1f}: R {recall[i]:.2f} P {precision[i]:.2f}"
            for i, r in enumerate(sweep)
            if i % 4 == 0
        )
        print(
            f"  level oracle, NASA {label}, 10-min {statistic}: best precision at recall >= 0.9 "
            f"{best} ({curve})"
        )


def _window_statistic(series: np.ndarray, statistic: str) -> np.ndarray:
    """Per step t: the median or mean of [t, t + SUSTAINED) (NaN-aware; NaN past the end)."""
    padded = np.concatenate([series, np.full(SUSTAINED - 1, np.nan)])
    views = np.lib.stride_tricks.sliding_window_view(padded, SUSTAINED)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if statistic == "median":
            return np.asarray(np.nanmedian(views, axis=1))
        return np.asarray(np.nanmean(views, axis=1))


def label_check(nasa: np.ndarray, natural: np.ndarray, span: tuple[int, int]) -> None:
    """How strict the natural label is: the injected bursts of the whole-trace runs that the
    same label finds on the injected series, and their hindsight sizes (a 3x burst of noisy
    traffic measures about 3x, either side)."""
    found, sizes = 0, []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        bursts = windows(rng, 30, 10, 30, span[0], span[1], ~np.isnan(nasa) & ~natural)
        series = nasa.copy()
        for a, b in bursts:
            series[a:b] *= 3.0
        labels = natural_bursts(series)
        ratio, _ = hindsight_ratio(series)
        found += sum(bool(labels[a:b].any()) for a, b in bursts)
        for a, b in bursts:
            inside = ratio[a : b - SUSTAINED + 1]
            inside = inside[~np.isnan(inside)]
            sizes.append(float(inside.max()) if inside.size else float("nan"))
    known = np.array(sizes)[~np.isnan(sizes)]
    q = np.percentile(known, [10, 50, 90])
    print(
        f"  natural-burst label on the injected series: {found} of {len(sizes)} injected 3x "
        f"bursts labelled; their hindsight size (largest 10-min window inside; "
        f"{len(sizes) - known.size} without a hindsight level) 10/50/90th percentile "
        f"{q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f}x"
    )


def print_false_alarms(
    times: list[datetime],
    nasa: np.ndarray,
    natural: np.ndarray,
    rule: Rule,
    by_seed: dict[int, tuple[Finding, ...]],
) -> None:
    """Each un-injected finding (a false alarm by the strict count) once, with the seeds whose
    run raised it and, in hindsight, how large the surge was: the largest ratio of a 10-minute
    window's median to its hindsight level among the windows overlapping it."""
    ratio, level = hindsight_ratio(nasa)
    seeds: dict[datetime, list[int]] = {}
    first: dict[datetime, Finding] = {}
    for seed, found in by_seed.items():
        for f in found:
            seeds.setdefault(f.start, []).append(seed)
            first.setdefault(f.start, f)
    print(f"  un-injected findings on the whole trace [{rule} band], {len(first)} distinct:")
    for start in sorted(first):
        f = first[start]
        a = int((f.start - times[0]) / timedelta(minutes=1))
        b = int((f.end - times[0]) / timedelta(minutes=1))
        lo = max(0, a - SUSTAINED + 1)
        window = ratio[lo:b]
        if np.all(np.isnan(window)):
            size = "no hindsight level (gap)"
        else:
            t = lo + int(np.nanargmax(window))
            median = float(np.nanmedian(nasa[t : t + SUSTAINED]))
            size = f"10-min median {median:.1f} vs hindsight level {level[t]:.1f} = {ratio[t]:.2f}x"
        tag = "natural burst" if natural[a:b].any() else "not a natural burst"
        local = f.start + LOCAL
        print(
            f"    {local:%a %d %b %H:%M} -04:00, {b - a} min, seeds "
            f"{','.join(map(str, seeds[start]))}: {size} ({tag})"
        )


if __name__ == "__main__":
    main()
