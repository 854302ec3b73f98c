"""Issue 9's benchmark: the NASA trace scaled to a mean of 1,000 rps, C = 50, warm-up 5 minutes.

Predictive vs reactive (and static) on the same simulated fleet in the same run, through the same
code as `fleetctl simulate`. Goal: predictive drops at most half the requests reactive drops while
paying at most 0.9 x reactive's instance-minutes.
"""

from __future__ import annotations

import gzip
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.commands.simulate import format_table  # noqa: E402
from controller.workflow.simulation import SimulationSettings, run_policy  # noqa: E402

DATA = ROOT / "bench" / "data" / "nasa-http-1995-per-minute.csv.gz"
MEAN_RPS, C, WARMUP = 1000.0, 50.0, timedelta(minutes=5)
INTERVAL = timedelta(minutes=30)  # the predictive policy re-forecasts every 30 simulated minutes


def load_trace() -> tuple[datetime, np.ndarray]:
    with gzip.open(DATA, "rt") as handle:
        handle.readline()
        rows = [line.strip().split(",") for line in handle if line.strip()]
    times = [datetime.fromisoformat(t).astimezone(UTC) for t, _ in rows]
    per_minute = np.array([float(r) for _, r in rows]) / 60.0
    start = times[0]
    demand = np.full(int((times[-1] - start) / timedelta(minutes=1)) + 1, np.nan)
    for when, value in zip(times, per_minute, strict=True):
        demand[int((when - start) / timedelta(minutes=1))] = value
    return start, demand * (MEAN_RPS / np.nanmean(demand))


def main() -> int:
    start, demand = load_trace()
    settings = SimulationSettings(capacity_per_instance=C, warmup=WARMUP, interval=INTERVAL)
    print(
        f"NASA-HTTP 1995: {np.count_nonzero(~np.isnan(demand)):,} minutes with data, "
        f"mean {np.nanmean(demand):.0f} rps, C={C:g}, warm-up {WARMUP}"
    )
    names, metrics = [], []
    for name in ("predictive", "reactive", "static"):
        began = time.perf_counter()
        result = run_policy(name, settings, start, demand)
        metrics.append(result.metrics(C))
        names.append(name)
        print(f"  {name}: simulated in {time.perf_counter() - began:.1f}s")
    print(format_table(names, metrics))
    predictive, reactive = metrics[0], metrics[1]
    drop_ratio = (
        predictive.dropped_share / reactive.dropped_share
        if reactive.dropped_share
        else float("inf")
    )
    cost_ratio = predictive.instance_minutes / reactive.instance_minutes
    print(
        f"predictive / reactive: dropped {drop_ratio:.2f}x (goal <= 0.5), "
        f"instance-minutes {cost_ratio:.2f}x (goal <= 0.9)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
