from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from controller.commands.common import (
    Subparsers,
    duration,
    positive_duration,
    positive_int,
)
from controller.commands.output import notes_for, out_file, to_stdout
from controller.domain.errors import UsageError

if TYPE_CHECKING:
    from datetime import datetime

    import numpy as np

    from controller.simulation.frontier import SweepPoint
    from controller.simulation.metrics import ElasticityMetrics
    from controller.workflow.simulation import SimulationSettings


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "simulate",
        help="replay a demand trace through a scaling policy on a simulated fleet",
        description="Replays timestamp,requests_per_second (one row a minute; gaps allowed) through "
        "the controller's forecasting and allocation in simulated time (predictive; predictive-warm "
        "adds a warm pool sized as the daemon sizes it), or through a baseline (reactive, "
        "reactive-warm, aws-predictive, static), and writes timestamp,demand,serving,booting,desired,warm per minute "
        "(warm: instances stopped in a warm pool, 0 without one).",
    )
    parser.add_argument(
        "--trace", type=Path, required=True, help="CSV: timestamp,requests_per_second"
    )
    parser.add_argument(
        "--capacity-per-instance",
        type=_positive_float,
        required=True,
        metavar="C",
        help="requests per second one instance serves",
    )
    parser.add_argument(
        "--warmup", type=duration, required=True, help="boot time, whole minutes, e.g. 5m"
    )
    parser.add_argument(
        "--policy",
        choices=(
            "predictive",
            "predictive-warm",
            "reactive",
            "reactive-warm",
            "aws-predictive",
            "static",
        ),
        default="predictive",
        help="the policy whose per-minute CSV is --out (default predictive)",
    )
    parser.add_argument(
        "--compare",
        default="",
        metavar="P[,P]",
        help="also run these policies for the metrics table and report, e.g. "
        "reactive,reactive-warm,static",
    )
    parser.add_argument(
        "--interval",
        type=positive_duration,
        default=None,
        help="how often the predictive policy re-plans (default 5m, the forecast step)",
    )
    parser.add_argument(
        "--static-count", type=positive_int, help="static fleet size (default: trace peak / C)"
    )
    knobs = parser.add_argument_group(
        "policy settings",
        "defaults: reactive is AWS target tracking at 70% with a 15-minute scale-in window; "
        "predictive plans for 90% utilization with burst headroom at q0.97 and holds capacity "
        "15 minutes (chosen on July of the NASA trace only, docs/simulation.md). Raise "
        "--burst-quantile to drop less for more instance-minutes. reactive-warm is reactive "
        "with an EC2 warm pool of the trailing week's peak minus desired, stopped; "
        "aws-predictive is reactive with AWS predictive scaling's hourly schedule (the larger "
        "wins), at the same target.",
    )
    knobs.add_argument(
        "--reactive-target",
        type=_utilization,
        default=None,
        metavar="U",
        help="reactive's target utilization, 0-1 (default 0.7)",
    )
    knobs.add_argument(
        "--target",
        type=_utilization,
        default=None,
        metavar="U",
        help="predictive's target utilization, 0-1, also its safety net's (default 0.9)",
    )
    knobs.add_argument(
        "--burst-quantile",
        type=_burst_quantile,
        default=None,
        metavar="Q",
        help="share of past minutes the learned burst headroom covers, 0-1, or 'off' "
        "(default 0.97)",
    )
    knobs.add_argument(
        "--hold",
        type=duration,
        default=None,
        help="how long predictive holds capacity after demand falls (default 15m)",
    )
    knobs.add_argument(
        "--warm-start",
        type=duration,
        default=None,
        help="reactive-warm: from a warm pool instance being called to serving, whole minutes "
        "(default 1m)",
    )
    knobs.add_argument(
        "--warm-cost",
        type=_warm_cost,
        default=None,
        metavar="F",
        help="reactive-warm: a minute stopped in the warm pool as a share of a running one, 0-1 "
        "(default 0.05: a 30 GiB gp3 volume against a c6i.large is about 4%%)",
    )
    knobs.add_argument(
        "--reselect",
        type=positive_duration,
        default=None,
        help="how often predictive re-runs the automatic model choice (default 6h); "
        "in between it forwards the chosen models over the newer history",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="also sweep: predictive and predictive-warm over --burst-quantile (off, 0.9, 0.95, "
        "0.97, 0.99, 0.995), "
        "reactive, reactive-warm and aws-predictive over --reactive-target (0.4-0.95, 8 "
        "points each), the other "
        "settings as given; prints cost (instance-minutes) against dropped share per policy and "
        "predictive's drops over each baseline's at equal cost (frontiers interpolated, never "
        "extrapolated); 36 more simulations",
    )
    parser.add_argument(
        "--out",
        type=out_file,
        required=True,
        metavar="S.csv",
        help="per-minute CSV of --policy; each --compare policy P is written beside it as "
        "S-P.csv (sim.csv: sim-reactive.csv, sim-static.csv), and --sweep's runs as S-sweep.csv "
        "(policy,setting,cost,dropped_share); or - for standard output (then only --policy's, "
        "the table goes to standard error, and --sweep is refused)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="PAGE",
        help="also write an HTML report: a path ending in .html, or a directory that gets "
        "index.html; one self-contained file with the plots inside, nothing written beside it",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.adapters.trace_csv import (
        read_trace,
        simulation_csv,
        write_simulation,
        write_sweep,
    )
    from controller.workflow.simulation import POLICIES, SimulationSettings, run_policy

    others = [p.strip() for p in args.compare.split(",") if p.strip()]
    unknown = [p for p in others if p not in POLICIES]
    if unknown:
        raise UsageError(
            f"--compare: unknown policy {unknown[0]!r} (choose from {', '.join(POLICIES)})"
        )
    if args.warmup.total_seconds() % 60:
        raise UsageError(f"--warmup must be whole minutes, got {args.warmup}")
    if args.warm_start is not None and args.warm_start.total_seconds() % 60:
        raise UsageError(f"--warm-start must be whole minutes, got {args.warm_start}")
    if args.hold is not None and (args.hold.total_seconds() % 60 or args.hold.total_seconds() <= 0):
        raise UsageError(f"--hold must be one or more whole minutes, got {args.hold}")
    if args.sweep and to_stdout(args.out):
        raise UsageError("--sweep writes S-sweep.csv beside --out: give --out a file, not -")
    if args.report:
        from controller.adapters.html_page import page_path

        page_path(args.report)  # refused now, not after minutes of simulating
    trace = read_trace(args.trace)
    chosen = {
        "interval": args.interval,
        "reactive_target": args.reactive_target,
        "predictive_target": args.target,
        "predictive_stabilization": args.hold,
        "reselect": args.reselect,
        "warm_start": args.warm_start,
        "warm_cost": args.warm_cost,
    }
    settings = SimulationSettings(
        capacity_per_instance=args.capacity_per_instance,
        warmup=args.warmup,
        static_count=args.static_count,
        **{name: value for name, value in chosen.items() if value is not None},
    )
    if args.burst_quantile is not None:
        off = args.burst_quantile == OFF
        settings = replace(settings, burst_quantile=None if off else args.burst_quantile)
    policies = [args.policy, *[p for p in others if p != args.policy]]
    results, metrics = [], []
    for name in policies:
        began = time.perf_counter()
        print(
            f"simulating {name} over {len(trace.demand_rps):,} minutes...",
            file=sys.stderr,
            flush=True,
        )
        result = run_policy(name, settings, trace.start, trace.demand_rps)
        results.append(result)
        metrics.append(result.metrics(args.capacity_per_instance))
        print(f"  {name} done in {time.perf_counter() - began:.1f}s", file=sys.stderr, flush=True)
    primary = results[0]
    notes = notes_for(args.out)
    if to_stdout(args.out):  # one CSV fits standard output: the other policies' are left out
        sys.stdout.write(
            simulation_csv(
                trace.start,
                primary.demand,
                primary.serving,
                primary.booting,
                primary.desired,
                primary.warm,
            )
        )
    else:
        for result in results:
            out = args.out
            if result is not primary:
                out = args.out.with_name(f"{args.out.stem}-{result.policy}{args.out.suffix}")
            write_simulation(
                out,
                trace.start,
                result.demand,
                result.serving,
                result.booting,
                result.desired,
                result.warm,
            )
    print(format_table(policies, metrics), file=notes)
    if "predictive" in policies and "reactive" in policies:
        ours, theirs = (metrics[policies.index(p)] for p in ("predictive", "reactive"))
        print(compare(ours, theirs), file=notes)
    for baseline in ("reactive-warm", "aws-predictive"):
        if baseline in policies and "reactive" in policies:
            other, plain = (metrics[policies.index(p)] for p in (baseline, "reactive"))
            print(compare(other, plain, baseline), file=notes)
    sweep: list[SweepPoint] = []
    if args.sweep:
        sweep = _sweep(settings, trace.start, trace.demand_rps, len(trace.demand_rps))
        write_sweep(args.out.with_name(f"{args.out.stem}-sweep{args.out.suffix}"), sweep)
        print(format_sweep(sweep), file=notes)
    if args.report:
        from controller.adapters.simulation_report import write_report

        page = write_report(
            args.report,
            trace.start,
            results,
            metrics,
            args.capacity_per_instance,
            f"Simulation of {args.trace.name} (C={args.capacity_per_instance:g}, warm-up {args.warmup})",
            sweep,
        )
        print(f"report: {page}", file=notes)
    return 0


def format_table(policies: list[str], metrics: list[ElasticityMetrics]) -> str:
    header = f"{'policy':<15}{'dropped':>10}{'cost/oracle':>13}{'under acc':>11}{'over acc':>10}{'under ts':>10}{'over ts':>9}{'instab':>8}"
    lines = [header]
    for name, m in zip(policies, metrics, strict=True):
        lines.append(
            f"{name:<15}{m.dropped_share:>10.3%}{m.cost_vs_oracle:>13.3f}{m.under_accuracy:>11.2%}"
            f"{m.over_accuracy:>10.2%}{m.under_timeshare:>10.2%}{m.over_timeshare:>9.2%}{m.instability:>8.2%}"
        )
    return "\n".join(lines)


def compare(
    predictive: ElasticityMetrics, reactive: ElasticityMetrics, name: str = "predictive"
) -> str:
    """A policy against reactive as ratios (issue 9's goal: <= 0.5x drops at <= 0.9x cost)."""
    if reactive.dropped_share:
        drops = f"{predictive.dropped_share / reactive.dropped_share:.2f}x"
    else:
        drops = "none dropped by reactive"
    cost = predictive.instance_minutes / max(reactive.instance_minutes, 1)
    return f"{name} / reactive: dropped {drops}, instance-minutes {cost:.2f}x"


def _sweep(
    settings: SimulationSettings, start: datetime, demand: np.ndarray, minutes: int
) -> list[SweepPoint]:
    from controller.workflow.simulation import SweepRun, run_sweep, sweep_runs

    runs = sweep_runs(settings)
    began = time.perf_counter()

    def progress(index: int, run: SweepRun) -> None:
        elapsed = time.perf_counter() - began
        print(
            f"sweep {index + 1}/{len(runs)}: {run.policy} at {_SETTING[run.policy]} "
            f"{run.setting} over {minutes:,} minutes ({elapsed:.0f}s so far)",
            file=sys.stderr,
            flush=True,
        )

    points = run_sweep(runs, start, demand, progress)
    print(f"  sweep done in {time.perf_counter() - began:.1f}s", file=sys.stderr, flush=True)
    return points


_SETTING = {
    "predictive": "burst quantile",
    "predictive-warm": "burst quantile",
    "reactive": "target",
    "reactive-warm": "target",
    "aws-predictive": "target",
}


def format_sweep(points: list[SweepPoint]) -> str:
    """Cost against drops per policy, then each predictive policy's drops over the baselines'
    at equal cost."""
    from controller.simulation.frontier import at_equal_cost, frontiers
    from controller.workflow.simulation import BASELINES, PREDICTIVE_POLICIES

    reference = next(
        (p.cost for p in points if p.policy == "reactive" and p.setting == "0.7"), None
    )
    lines = [
        "sweep: cost (instance-minutes, warm minutes at the warm cost) against dropped share",
        f"{'policy':<15}{'setting':>9}{'instance-min':>15}{'x reactive@0.7':>16}{'dropped':>10}",
    ]
    for p in points:
        relative = f"{p.cost / reference:.3f}" if reference else "-"
        lines.append(
            f"{p.policy:<15}{p.setting:>9}{p.cost:>15,.0f}{relative:>16}{p.dropped_share:>10.3%}"
        )
    lines_by = frontiers(points)
    baselines = {name: lines_by[name] for name in BASELINES if name in lines_by}
    ours = [p for p in points if p.policy in PREDICTIVE_POLICIES]
    if not ours or not baselines:
        return "\n".join(lines)
    ranges = ", ".join(
        f"{name} {line.cost_range[0]:,.0f}-{line.cost_range[1]:,.0f}"
        for name, line in baselines.items()
    )
    lines += [
        "",
        "predictive's dropped share over each baseline's at the same cost (baseline frontiers "
        "linear between sweep points, lower envelope; cost ranges: " + ranges + ")",
        f"{'policy':<17}{'burst q':<9}{'instance-min':>14}"
        + "".join(f"{'vs ' + name:>20}" for name in baselines)
        + f"{'vs the better':>30}",
    ]
    for sweep_point, equal in zip(
        ours, at_equal_cost([p.as_point() for p in ours], baselines), strict=True
    ):
        cells = "".join(f"{_ratio(equal.ratio(name)):>20}" for name in baselines)
        better = equal.better_baseline
        best = (
            f"{_ratio(equal.ratio(better))} ({better})"
            if better is not None
            else "n/a: outside a frontier"
        )
        lines.append(
            f"{sweep_point.policy:<17}{sweep_point.setting:<9}{sweep_point.cost:>14,.0f}"
            f"{cells}{best:>30}"
        )
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    if value is None:
        return "outside its costs"
    return "worse: it drops 0" if math.isinf(value) else f"{value:.2f}x"


OFF = -1.0
"""--burst-quantile off"""


def _burst_quantile(text: str) -> float:
    if text.strip().lower() == "off":
        return OFF
    value = _fraction(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (or 'off'), got {text}")
    return value


def _warm_cost(text: str) -> float:
    value = _fraction(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _utilization(text: str) -> float:
    value = _fraction(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be > 0 and <= 1, got {text}")
    return value


def _fraction(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value
