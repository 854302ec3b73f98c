"""Issue 9's benchmark: the NASA trace scaled to a mean of 1,000 rps, C = 50, warm-up 5 minutes.

Predictive vs reactive (and static) on the same simulated fleet in the same run, through the same
code as `fleetctl simulate`. Goal: predictive drops at most half the requests reactive drops while
paying at most 0.9 x reactive's instance-minutes.

"Do not tune to this one trace": the predictive policy's constants (the burst quantile, the
scale-in hold and whether the scale-in step limit carries across re-plans) were chosen on July
only (bench/sweep_stabilization.py), so three tables are printed:
1. the whole NASA trace;
2. August only (held out): metrics over August's minutes of the same run, where the controller
   had only July behind it, as it would in production;
3. a synthetic trace of another shape that nothing was chosen on (bench/synthetic_trace.py).
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
sys.path.insert(0, str(ROOT / "bench"))

from synthetic_trace import START as SYNTHETIC_START  # noqa: E402
from synthetic_trace import synthetic_demand  # noqa: E402

from controller.commands.simulate import format_table  # noqa: E402
from controller.simulation.metrics import ElasticityMetrics  # noqa: E402
from controller.simulation.run import SimulationResult  # noqa: E402
from controller.workflow.simulation import SimulationSettings, run_policy  # noqa: E402

DATA = ROOT / "bench" / "data" / "nasa-http-1995-per-minute.csv.gz"
MEAN_RPS, C, WARMUP = 1000.0, 50.0, timedelta(minutes=5)
INTERVAL = timedelta(minutes=5)  # the daemon's schedule: re-forecast every 5 simulated minutes
HELD_OUT_FROM = datetime(1995, 8, 1, 4, 0, tzinfo=UTC)  # 1995-08-01 00:00 server time (UTC-4)
POLICIES = ("predictive", "reactive", "static")
REACTIVE_TARGETS = (0.65, 0.75, 0.8)


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


def run_all(start: datetime, demand: np.ndarray) -> list[SimulationResult]:
    settings = SimulationSettings(capacity_per_instance=C, warmup=WARMUP, interval=INTERVAL)
    results = []
    for name in POLICIES:
        began = time.perf_counter()
        results.append(run_policy(name, settings, start, demand))
        print(f"  {name}: simulated in {time.perf_counter() - began:.1f}s", flush=True)
    return results


def report(title: str, results: list[SimulationResult], minutes: slice) -> None:
    metrics = [window(result, minutes).metrics(C) for result in results]
    print(f"\n{title}")
    print(format_table([r.policy for r in results], metrics))
    print(ratios(metrics[0], metrics[1]))


def window(result: SimulationResult, minutes: slice) -> SimulationResult:
    return SimulationResult(
        result.policy,
        result.demand[minutes],
        result.serving[minutes],
        result.booting[minutes],
        result.desired[minutes],
        result.warm[minutes],
        result.warm_cost,
    )


def ratios(predictive: ElasticityMetrics, reactive: ElasticityMetrics) -> str:
    drop = (
        predictive.dropped_share / reactive.dropped_share
        if reactive.dropped_share
        else float("inf")
    )
    cost = predictive.instance_minutes / reactive.instance_minutes
    met = "met" if drop <= 0.5 and cost <= 0.9 else "not met"
    return (
        f"predictive / reactive: dropped {drop:.2f}x (goal <= 0.5), "
        f"instance-minutes {cost:.2f}x (goal <= 0.9): {met}"
    )


def reactive_frontier(start: datetime, demand: np.ndarray, anchor: SimulationResult) -> str:
    """Reactive at other targets, against reactive at 70%: what cost buys in drops without a
    forecast, to read the predictive point against (same run)."""
    base = anchor.metrics(C)
    parts = []
    for target in REACTIVE_TARGETS:
        settings = SimulationSettings(
            capacity_per_instance=C, warmup=WARMUP, reactive_target=target
        )
        m = run_policy("reactive", settings, start, demand).metrics(C)
        drop = m.dropped_share / base.dropped_share if base.dropped_share else float("inf")
        parts.append(
            f"{target:.0%}: dropped {drop:.2f}x, "
            f"instance-minutes {m.instance_minutes / base.instance_minutes:.2f}x"
        )
    return "reactive at other targets / reactive at 70%: " + "; ".join(parts)


def main() -> int:
    began = time.perf_counter()
    start, demand = load_trace()
    print(
        f"NASA-HTTP 1995: {np.count_nonzero(~np.isnan(demand)):,} minutes with data, "
        f"mean {np.nanmean(demand):.0f} rps, C={C:g}, warm-up {WARMUP}, "
        f"predictive re-forecasts every {INTERVAL}"
    )
    results = run_all(start, demand)
    held_out = int((HELD_OUT_FROM - start) / timedelta(minutes=1))
    report("NASA, whole trace (July + August)", results, slice(None))
    report(
        "NASA, July only (burst quantile and scale-in carry chosen here)",
        results,
        slice(None, held_out),
    )
    report("NASA, August only (held out: nothing was chosen on it)", results, slice(held_out, None))
    print(reactive_frontier(start, demand, results[1]))

    synthetic = synthetic_demand()
    print(
        f"\nsynthetic (bench/synthetic_trace.py): {np.count_nonzero(~np.isnan(synthetic)):,} "
        f"minutes, mean {np.nanmean(synthetic):.0f} rps"
    )
    synthetic_results = run_all(SYNTHETIC_START, synthetic)
    report("synthetic trace (never seen)", synthetic_results, slice(None))
    print(reactive_frontier(SYNTHETIC_START, synthetic, synthetic_results[1]))
    print(f"\nbench time {time.perf_counter() - began:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
