"""Forecasting benchmark on the NASA-HTTP 1995 trace (issue 6 protocol), anchors in the same run.

Series: requests per minute, resampled to 5-minute mean requests per second (gaps stay NaN).
- day-ahead: origins at each midnight 1995-07-15 .. 07-27 (13), horizon 288 steps, history = all
  before the origin; MASE scaled by the in-sample seasonal-naive (m=288) MAE of that history.
- hour-ahead: origins every hour 1995-07-21 00:00 .. 07-28 12:00 (181, both ends included),
  horizon 12; MASE scaled by the in-sample one-step naive MAE.
MSIS (95%) uses the same scale as MASE. Coverage = share of actual values inside the 95% band.

Models: ours (AutoForecaster, exactly what the daemon and `fleetctl forecast` use) and the
anchors: seasonal naive (m=288), mean of the last 7 days at the same time, statsforecast MSTL
(seasons 288 and 2016, AutoETS trend) and Prophet (daily + weekly). MSTL and Prophet take
seconds per fit, so they run on a fixed subsample: every day-ahead origin and every 13th
hour-ahead origin (14, spread over all hours of the day); every model is also scored on that
subsample, so the ratios compare like with like.

Every fit+forecast runs in a pool of 2 worker processes with one BLAS thread each; the seconds
are wall time per series inside the worker.

    python bench/forecast_nasa.py              # the table (also saved to bench/out/)
    python bench/forecast_nasa.py --families   # instead: each model family on its own beside
                                               # ours, on the subsample (docs/forecasting.md)
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import importlib.util
import logging
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from controller.forecasting.auto import AutoForecaster, default_candidates  # noqa: E402

DATA = ROOT / "data" / "nasa-http-1995-per-minute.csv.gz"
OUT = ROOT / "out"
STEP = pd.Timedelta("5min")
DAY, WEEK = 288, 2016
SLOW_EVERY = 13
TZ = "UTC-04:00"

Band = tuple[np.ndarray, np.ndarray] | None
Result = tuple[np.ndarray, Band, float]


def load_series() -> pd.Series:
    frame = pd.read_csv(DATA)
    times = pd.to_datetime(frame["timestamp"])
    per_second = pd.Series(frame["requests"].to_numpy(np.float64) / 60.0, index=times)
    return per_second.resample(STEP).mean()  # minutes with no row -> NaN buckets, not zeros


@dataclass(frozen=True)
class Protocol:
    name: str
    origins: list[int]
    horizon: int
    scale_lag: int


def protocols(series: pd.Series) -> list[Protocol]:
    def at(text: str) -> int:
        return int(series.index.get_loc(pd.Timestamp(text).tz_localize(TZ)))

    day = [at(f"1995-07-{d:02d} 00:00") for d in range(15, 28)]
    hour = list(range(at("1995-07-21 00:00"), at("1995-07-28 12:00") + 1, 12))
    return [Protocol("day-ahead", day, DAY, DAY), Protocol("hour-ahead", hour, 12, 1)]


# -- models: each takes (history, horizon) and returns (mean, 95% band or None) --------------
def ours(history: np.ndarray, horizon: int) -> tuple[np.ndarray, Band]:
    prediction = AutoForecaster((DAY, WEEK), horizon).fit(history).predict(horizon, level=[95])
    return prediction.mean, prediction.interval(95)


def seasonal_naive(history: np.ndarray, horizon: int) -> tuple[np.ndarray, Band]:
    return np.resize(history[-DAY:], horizon), None


def mean_last_7_days(history: np.ndarray, horizon: int) -> tuple[np.ndarray, Band]:
    profile = np.nanmean(history[-7 * DAY :].reshape(7, DAY), axis=0)
    return np.resize(profile, horizon), None


def statsforecast_mstl(history: np.ndarray, horizon: int) -> tuple[np.ndarray, Band]:
    from statsforecast.models import MSTL, AutoETS

    model = MSTL(season_length=[DAY, WEEK], trend_forecaster=AutoETS(model="ZZN"))
    forecast = model.fit(history).predict(horizon, level=[95])
    return forecast["mean"], (forecast["lo-95"], forecast["hi-95"])


def prophet(history: np.ndarray, horizon: int) -> tuple[np.ndarray, Band]:
    from controller.forecasting.prophet_model import ProphetModel

    model = ProphetModel(STEP.total_seconds(), interval_width=0.95).fit(history)
    mean = model.forward(history, horizon)
    return mean, model.own_interval()


def family(index: int) -> Callable[[np.ndarray, int], tuple[np.ndarray, Band]]:
    def run(history: np.ndarray, horizon: int) -> tuple[np.ndarray, Band]:
        model = families()[index]
        return model.fit(history).forward(history, horizon), None

    return run


def families() -> list:
    from controller.forecasting.arima import FourierARIMA
    from controller.forecasting.ets import HoltWinters
    from controller.forecasting.mstl import MSTLSmoothing

    return [
        *default_candidates((DAY, WEEK)),
        HoltWinters(DAY),
        FourierARIMA((DAY, WEEK), half_life=7 * DAY, ar_window=14 * DAY),
        MSTLSmoothing((DAY, WEEK)),
    ]


ANCHORS: dict[str, tuple[Callable[[np.ndarray, int], tuple[np.ndarray, Band]], str | None]] = {
    "seasonal naive": (seasonal_naive, None),
    "mean of last 7 days": (mean_last_7_days, None),
    "statsforecast MSTL": (statsforecast_mstl, "statsforecast"),
    "Prophet": (prophet, "prophet"),
}
SLOW = {"statsforecast MSTL", "Prophet"}


def _run(task: tuple[str, str, int, np.ndarray, int]) -> tuple[str, str, int, Result]:
    proto, name, origin, history, horizon = task
    warnings.filterwarnings("ignore")
    logging.getLogger("cmdstanpy").disabled = True
    fn = MODELS[name]
    started = time.perf_counter()
    mean, band = fn(history, horizon)
    seconds = time.perf_counter() - started
    return proto, name, origin, (np.asarray(mean, np.float64), band, seconds)


MODELS: dict[str, Callable[[np.ndarray, int], tuple[np.ndarray, Band]]] = {
    "ours (auto)": ours,
    **{name: fn for name, (fn, _) in ANCHORS.items()},
}


@dataclass
class Score:
    mase: float
    coverage: float | None
    msis: float | None
    seconds: float
    origins: int


def score(
    values: np.ndarray, proto: Protocol, origins: list[int], results: dict[int, Result]
) -> Score:
    mases, msis, inside, seconds = [], [], [], []
    for origin in origins:
        mean, band, secs = results[origin]
        history, actual = values[:origin], values[origin : origin + proto.horizon]
        lag = proto.scale_lag
        scale = float(np.nanmean(np.abs(history[lag:] - history[:-lag])))
        seen = ~np.isnan(actual)
        mases.append(float(np.mean(np.abs(actual - mean)[seen])) / scale)
        seconds.append(secs)
        if band is not None:
            lo, hi = np.asarray(band[0])[seen], np.asarray(band[1])[seen]
            a = actual[seen]
            inside.extend(((a >= lo) & (a <= hi)).tolist())
            penalty = (hi - lo) + 40 * (lo - a) * (a < lo) + 40 * (a - hi) * (a > hi)
            msis.append(float(np.mean(penalty)) / scale)
    return Score(
        float(np.mean(mases)),
        float(np.mean(inside)) if inside else None,
        float(np.mean(msis)) if msis else None,
        float(np.mean(seconds)),
        len(origins),
    )


def table(title: str, rows: dict[str, Score]) -> list[str]:
    lines = [
        title,
        f"  {'model':<44} {'origins':>7} {'MASE':>7} {'cov95':>7} {'MSIS':>7} {'s/series':>9}",
    ]
    for name, s in rows.items():
        cov = f"{100 * s.coverage:6.1f}%" if s.coverage is not None else "      -"
        msis = f"{s.msis:7.2f}" if s.msis is not None else "      -"
        lines.append(f"  {name:<44} {s.origins:>7} {s.mase:7.3f} {cov} {msis} {s.seconds:9.3f}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", action="store_true", help="also score each model family")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    series = load_series()
    values = series.to_numpy(np.float64)
    protos = protocols(series)
    skipped = []
    for name, (_, package) in ANCHORS.items():
        if package and importlib.util.find_spec(package) is None:
            skipped.append(
                f"{name}: skipped, package {package!r} is not installed (pip install '.[bench]')"
            )
            del MODELS[name]
    if args.families:  # each family alone beside ours; the anchors are in the main table
        for name in list(MODELS):
            if name != "ours (auto)":
                del MODELS[name]
        for index, model in enumerate(families()):
            MODELS[f"family: {model.name}"] = family(index)

    tasks = []
    for proto in protos:
        slow = proto.origins if proto.horizon == DAY else proto.origins[::SLOW_EVERY]
        for name in MODELS:
            chosen = slow if (name in SLOW or name.startswith("family: ")) else proto.origins
            tasks += [(proto.name, name, o, values[:o], proto.horizon) for o in chosen]
    # slow tasks first so that the two workers finish together
    tasks.sort(key=lambda t: 0 if t[1] in SLOW or "mstl" in t[1] else 1)
    if args.families:
        print("families run on the slow subsample only", file=sys.stderr)
    results: dict[tuple[str, str, int], Result] = {}
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for done, (proto_name, name, origin, result) in enumerate(
            pool.map(_run, tasks, chunksize=1), 1
        ):
            results[(proto_name, name, origin)] = result
            print(f"\r  {done}/{len(tasks)} fits", end="", file=sys.stderr, flush=True)
    print(f"\r  {len(tasks)} fits in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    lines = [
        "NASA-HTTP 1995, 5-minute mean requests/s; "
        + ("each model family alone, beside ours" if args.families else "anchors in the same run"),
        f"MSTL and Prophet on a fixed subsample: all day-ahead origins, every {SLOW_EVERY}th hour-ahead origin",
        *skipped,
        "",
    ]
    goals = []
    for proto in protos:
        slow = proto.origins if proto.horizon == DAY else proto.origins[::SLOW_EVERY]
        by_model = {
            name: {
                o: results[(proto.name, name, o)]
                for o in proto.origins
                if (proto.name, name, o) in results
            }
            for name in MODELS
        }
        full = {
            n: score(values, proto, proto.origins, r)
            for n, r in by_model.items()
            if len(r) == len(proto.origins)
        }
        sub = {
            n: score(values, proto, slow, r)
            for n, r in by_model.items()
            if all(o in r for o in slow)
        }
        lines += table(
            f"{proto.name}: horizon {proto.horizon}, all {len(proto.origins)} origins", full
        )
        if slow != proto.origins:
            lines += table(f"{proto.name}: the {len(slow)}-origin subsample", sub)
        lines.append("")
        goals += goal_lines(proto.name, sub, full, slow == proto.origins)
    if not goals:
        goals = ["  (no anchors in this run)"]
    lines += [
        "goals (MASE <= 0.9 x best anchor; coverage 93-97%; MSIS below every anchor with"
        " intervals; seconds <= 0.1 x Prophet's)",
        *goals,
    ]
    text = "\n".join(lines)
    print(text)
    OUT.mkdir(exist_ok=True)
    saved = OUT / ("forecast_nasa_families.txt" if args.families else "forecast_nasa.txt")
    saved.write_text(text + "\n", encoding="utf-8")
    print(f"\nsaved to {saved}")
    return 0


def goal_lines(proto: str, sub: dict[str, Score], full: dict[str, Score], same: bool) -> list[str]:
    """One verdict per goal, on the subsample (all four anchors) and on all origins."""
    mine = "ours (auto)"
    lines = []
    views = [("all origins", full)] if same else [("subsample", sub), ("all origins", full)]
    for label, rows in views:
        anchors = {n: s for n, s in rows.items() if n in ANCHORS}
        if mine not in rows or not anchors:
            continue
        me = rows[mine]
        best = min(anchors, key=lambda n: anchors[n].mase)
        ratio = me.mase / anchors[best].mase
        head = f"  {proto:<10} {label:<11}"
        lines.append(
            f"{head} MASE {me.mase:.3f} = {ratio:.2f} x best anchor ({best}, "
            f"{anchors[best].mase:.3f}): {'met' if ratio <= 0.9 else 'NOT met'}"
        )
        cov = me.coverage or 0.0
        lines.append(
            f"{head} coverage {100 * cov:.1f}%: {'met' if 0.93 <= cov <= 0.97 else 'NOT met'}"
        )
        banded = {n: s.msis for n, s in anchors.items() if s.msis is not None}
        if banded and me.msis is not None:
            worse = [n for n, v in banded.items() if me.msis >= v]
            listed = ", ".join(f"{n} {v:.2f}" for n, v in banded.items())
            verdict = "met" if not worse else f"NOT met ({', '.join(worse)})"
            lines.append(f"{head} MSIS {me.msis:.2f} vs {listed}: {verdict}")
        if "Prophet" in rows:
            t = me.seconds / rows["Prophet"].seconds
            lines.append(
                f"{head} seconds {me.seconds:.3f} = {t:.3f} x Prophet's "
                f"({rows['Prophet'].seconds:.2f}): {'met' if t <= 0.1 else 'NOT met'}"
            )
    return lines


if __name__ == "__main__":
    sys.exit(main())
