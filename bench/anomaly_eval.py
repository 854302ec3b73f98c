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
- `burst`: `burst_interval` (above the previous hour's level carried along the usual daily shape
  AND above the seasonal band at 1 robust sigma), judged on a 5-minute trailing median (a burst
  moves it, one client's spike of a minute or two does not), 5 minutes sustained. Its settings
  were chosen on July alone; `july_august` reports July and the held-out August separately. A finding counts as true when it overlaps
an injected anomaly of its kind; precision = true findings / findings, recall = injected anomalies
found / injected. Goal: recall >= 0.9 at precision >= 0.8 on 3x bursts of >= 10 minutes.
"""

from __future__ import annotations

import gzip
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.matching_eval import load_personas  # noqa: E402
from controller.anomaly.detect import (  # noqa: E402
    Thresholds,
    burst_interval,
    level_interval,
    outside_interval,
    per_step,
    rolling_median,
    seasonal_interval,
    smooth,
    traffic_vanished,
    trailing_median,
    unmatched_spike,
)
from controller.anomaly.records import Finding  # noqa: E402
from controller.matching.features import SessionFeatures  # noqa: E402
from controller.matching.model import PersonaMatcher  # noqa: E402
from controller.matching.synthetic import GeneratorSettings, generate  # noqa: E402

DATA = ROOT / "bench" / "data" / "nasa-http-1995-per-minute.csv.gz"
DAY = 1440
THRESHOLDS = Thresholds()
Rule = Literal["seasonal", "level", "burst"]
BURST_MEDIAN = 5
"""minutes in the burst rule's trailing median: shorter than the 10-minute bursts it looks for,
longer than the one-client spikes of a minute or two the real trace is full of"""
BURST_SUSTAINED = 5
SEEDS = (4, 5, 6, 7, 8)


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
    """n non-overlapping [a, b) windows of lo..hi steps inside [first, last), all data present,
    at least two hours apart (the baseline's median shrugs off one disturbed day in seven)."""
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


def precision_recall(
    found: list[Finding], injected: list[tuple[int, int]], times: list[datetime]
) -> tuple[float, float, int]:
    spans = [(times[a], times[b - 1] + timedelta(minutes=1)) for a, b in injected]
    true = [f for f in found if any(f.start < e and f.end > s for s, e in spans)]
    hit = [s for s, e in spans if any(f.start < e and f.end > s for f in found)]
    return len(true) / max(len(found), 1), len(hit) / max(len(spans), 1), len(found)


def interval(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return seasonal_interval(smooth(values, THRESHOLDS.smoothing_steps), DAY)


def burst_findings(series: np.ndarray, times: list[datetime], rule: Rule) -> list[Finding]:
    """Findings above the band of `rule` (see the module docstring)."""
    if rule == "burst":
        _, lo, hi = burst_interval(series, DAY)
        statistic = rolling_median(series, BURST_MEDIAN)
        thresholds = Thresholds(sustained_steps=BURST_SUSTAINED, smoothing_steps=1)
    else:
        _, lo, hi = level_interval(series) if rule == "level" else interval(series)
        statistic = series
        thresholds = Thresholds(sustained_steps=7) if rule == "level" else THRESHOLDS
    return [
        f
        for f in outside_interval(times, statistic, lo, hi, None, thresholds)
        if f.evidence["direction"] == "above"
    ]


def bursts_in(
    times: list[datetime],
    clean: np.ndarray,
    seed: int,
    rule: Rule,
    span: tuple[int, int],
    count: int,
) -> tuple[float, float, int]:
    """Precision, recall and findings for `count` 3x bursts of 10-30 min inside `span`."""
    rng = np.random.default_rng(seed)
    valid = ~np.isnan(clean)
    bursts = windows(rng, count, 10, 30, span[0], span[1], valid)
    series = clean.copy()
    for a, b in bursts:
        series[a:b] *= 3.0
    found = [
        f for f in burst_findings(series, times, rule) if times[span[0]] <= f.start < times[span[1]]
    ]
    return precision_recall(found, bursts, times)


def burst_and_drop(
    name: str, times: list[datetime], clean: np.ndarray, seed: int, rule: Rule = "seasonal"
) -> None:
    first = 7 * DAY + 60
    p, r, n = bursts_in(times, clean, seed, rule, (first, clean.shape[0] - 60), 30)
    goal = "met" if r >= 0.9 and p >= 0.8 else "NOT met"
    print(
        f"  {name}: 3x bursts of 10-30 min: 30 injected, {n} findings, "
        f"precision {p:.3f}, recall {r:.3f} (goal recall >= 0.9 at precision >= 0.8: {goal})"
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
    p, r, n = precision_recall(found, drops, times)
    print(
        f"  {name}: drops to 5% for 30-90 min: {len(drops)} injected, {n} findings, "
        f"precision {p:.3f}, recall {r:.3f}"
    )


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
    p, r, n = precision_recall(found, injected, times)
    share = float(np.mean(result.persona[len(data) :] < 0))
    print(
        f"  generated: new unseen persona, 10 sessions/min for 20-60 min over ~4/min of "
        f"known ones: {len(injected)} injected, {n} findings, precision {p:.3f}, recall {r:.3f} "
        f"({share:.1%} of its sessions unmatched)"
    )


def main() -> None:
    print(f"thresholds: {THRESHOLDS}")
    series = generated_series(3)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    times = [start + timedelta(minutes=i) for i in range(series.shape[0])]
    burst_and_drop("generated [seasonal band]", times, series, seed=1)
    burst_and_drop("generated [burst band]", times, series, seed=1, rule="burst")
    unseen_persona(seed=2)
    nasa_start, nasa = load_nasa()
    nasa_times = [nasa_start + timedelta(minutes=i) for i in range(nasa.shape[0])]
    for rule in ("seasonal", "level", "burst"):
        burst_and_drop(f"NASA 1995 [{rule} band], seed 4", nasa_times, nasa, seed=4, rule=rule)
    july_august(nasa_times, nasa)


def july_august(times: list[datetime], nasa: np.ndarray) -> None:
    """The burst rule's settings were chosen on July only (20 bursts x 5 seeds); August, which
    it never saw, confirms or refutes them. Means over the seeds, and the worst seed."""
    gap = int(np.argmax((np.arange(nasa.shape[0]) > 10 * DAY) & np.isnan(nasa)))
    spans = {"July (chosen on)": (2 * DAY, gap - 60), "August (held out)": (gap + 4 * DAY, -60)}
    for label, (a, b) in spans.items():
        span = (a, b if b > 0 else nasa.shape[0] + b)
        for rule in ("level", "burst"):
            scores = [bursts_in(times, nasa, seed, rule, span, 20) for seed in SEEDS]
            p = [s[0] for s in scores]
            r = [s[1] for s in scores]
            print(
                f"  NASA {label} [{rule} band]: 3x bursts of 10-30 min, 20 x {len(SEEDS)} seeds: "
                f"precision {np.mean(p):.3f} (worst {min(p):.3f}), "
                f"recall {np.mean(r):.3f} (worst {min(r):.3f})"
            )


if __name__ == "__main__":
    main()
