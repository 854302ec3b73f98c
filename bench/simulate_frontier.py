"""Issue 16's frontier benchmark: predictive's drops against the better baseline's at equal cost.

Both traces of ../shared/datasets side by side in one run (NASA-HTTP 1995 and WorldCup98), each
scaled to a mean of 1,000 rps over the whole trace, C = 50, warm-up 5 minutes, warm start
1 minute, then cut to `--days` (default 14) from `--from` per trace so the run stays within
minutes. The same sweep as `fleetctl simulate --sweep` (controller.workflow.simulation); at
costs from 0.8x to 1.2x reactive-70's (9 points) it reads predictive's own frontier and the
better of reactive and reactive-warm (issue 16's yardstick; aws-predictive printed beside) and
prints the ratio, or says where a frontier does not reach that cost. Goal: <= 0.5x everywhere;
first milestone: <= 1x the better baseline and <= 0.5x plain reactive.

    .venv/bin/python bench/simulate_frontier.py [--days 14]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.simulation.frontier import Frontier, SweepPoint, frontiers  # noqa: E402
from controller.workflow.simulation import (  # noqa: E402
    SimulationSettings,
    run_sweep,
    sweep_runs,
)

DATASETS = ROOT.parent / "shared" / "datasets"
TRACES = {
    # name: (file, first day of the window: NASA's start; WorldCup98's tournament start)
    "NASA-HTTP 1995": ("nasa-http-1995-per-minute.csv", datetime(1995, 7, 1, 4, tzinfo=UTC)),
    "WorldCup98": ("worldcup98-per-minute.csv.gz", datetime(1998, 6, 10, tzinfo=UTC)),
}
MEAN_RPS, C, WARMUP = 1000.0, 50.0, timedelta(minutes=5)
COST_GRID = np.linspace(0.8, 1.2, 9)


def load(path: Path, first: datetime, days: int) -> tuple[datetime, np.ndarray]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        rows = list(csv.reader(handle))[1:]
    times = [datetime.fromisoformat(t).astimezone(UTC) for t, _ in rows]
    rps = np.array([float(r) for _, r in rows]) / 60.0
    rps *= MEAN_RPS / rps.mean()  # scaled over the whole trace, then windowed
    minutes = days * 1440
    demand = np.full(minutes, np.nan)
    for when, value in zip(times, rps, strict=True):
        index = int((when - first) / timedelta(minutes=1))
        if 0 <= index < minutes:
            demand[index] = value
    return first, demand


def ratio(ours: Frontier, theirs: list[Frontier], cost: float) -> str:
    mine = ours.dropped_at(cost)
    others = [line.dropped_at(cost) for line in theirs]
    if mine is None:
        return "predictive's sweep does not reach"
    if any(other is None for other in others):
        return "a baseline's sweep does not reach"
    best = min(o for o in others if o is not None)
    return f"{mine / best:.2f}x" if best else ("1.00x" if mine == 0 else "worse: it drops 0")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14)
    days = parser.parse_args().days
    settings = SimulationSettings(capacity_per_instance=C, warmup=WARMUP)
    for name, (file, first) in TRACES.items():
        start, demand = load(DATASETS / file, first, days)
        began = time.perf_counter()
        points: list[SweepPoint] = run_sweep(sweep_runs(settings), start, demand)
        lines = frontiers(points)
        reference = next(p.cost for p in points if p.policy == "reactive" and p.setting == "0.7")
        print(
            f"\n{name}: {days} days from {first:%Y-%m-%d %H:%M} UTC, "
            f"{np.count_nonzero(~np.isnan(demand)):,} minutes with data, "
            f"sweep of {len(points)} runs in {time.perf_counter() - began:.0f}s"
        )
        print(
            f"{'cost / reactive-70':>19}  {'vs better of reactive, reactive-warm':>38}"
            f"  {'vs reactive':>34}  {'vs aws-predictive':>34}"
        )
        for share in COST_GRID:
            cost = share * reference
            better = ratio(lines["predictive"], [lines["reactive"], lines["reactive-warm"]], cost)
            plain = ratio(lines["predictive"], [lines["reactive"]], cost)
            aws = ratio(lines["predictive"], [lines["aws-predictive"]], cost)
            print(f"{share:>18.2f}x  {better:>38}  {plain:>34}  {aws:>34}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
