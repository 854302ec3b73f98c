"""`fleetctl simulate --report`: one self-contained HTML page, the metrics table and the
demand-vs-capacity plots embedded as data: URIs."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no global state, no display backend
from matplotlib.ticker import FuncFormatter

from controller.adapters.html_page import png_data_uri, write_page
from controller.simulation.frontier import FrontierPoint, SweepPoint, frontiers
from controller.simulation.metrics import ElasticityMetrics, required_instances
from controller.simulation.run import SimulationResult

ZOOM = timedelta(days=2)


def write_report(
    target: Path,
    start: datetime,
    results: Sequence[SimulationResult],
    metrics: Sequence[ElasticityMetrics],
    capacity_per_instance: float,
    title: str,
    sweep: Sequence[SweepPoint] = (),
) -> Path:
    minutes = np.array([start + timedelta(minutes=i) for i in range(len(results[0].demand))])
    required = np.where(
        np.isnan(results[0].demand),
        np.nan,
        required_instances(np.nan_to_num(results[0].demand), capacity_per_instance),
    )
    images = []
    for result in results:
        for label, span in (
            ("whole trace", slice(None)),
            ("first two days", slice(0, int(ZOOM / timedelta(minutes=1)))),
        ):
            uri = _plot(minutes[span], required[span], result, span, f"{result.policy}: {label}")
            images.append((result.policy, label, uri))
    if sweep:
        images.insert(0, ("sweep", "cost against dropped share", plot_frontiers(sweep)))
    return write_page(target, _page(title, results, metrics, images))


def plot_frontiers(points: Sequence[SweepPoint]) -> str:
    """Cost on x, dropped share on y (log if it spans a decade or more), one line per policy
    through its lower envelope; every swept point marked, predictive's larger. On a log axis a
    run that dropped nothing has no place, so it sits on a dotted floor (half the least positive
    share) labelled as such rather than vanishing."""
    figure = Figure(figsize=(11, 5), dpi=100)
    axis = figure.subplots()
    dropped = [p.dropped_share for p in points if p.dropped_share > 0]
    log = bool(dropped) and max(dropped) >= 10 * min(dropped)
    floor = min(dropped) / 2 if log else 0.0

    def y(share: float) -> float:
        return max(share, floor)

    for policy, line in frontiers(points).items():
        color = _COLORS.get(policy, "tab:gray")
        mine = [p for p in points if p.policy == policy]
        # the envelope, then flat to the dearest run (no dearer setting drops more)
        ends = [*line.points, FrontierPoint(line.dearest, line.points[-1].dropped_share)]
        axis.plot(
            [p.cost for p in ends],
            [y(p.dropped_share) for p in ends],
            color=color,
            linewidth=1.4,
            label=f"{policy} (frontier)",
        )
        ours = policy in ("predictive", "predictive-warm")
        axis.scatter(
            [p.cost for p in mine],
            [y(p.dropped_share) for p in mine],
            color=color,
            marker="D" if ours else "o",
            s=40 if ours else 14,
            zorder=3,
        )
        for p in mine:
            axis.annotate(
                p.setting,
                (p.cost, y(p.dropped_share)),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=7 if ours else 6,
                color=color,
            )
    if log:
        axis.set_yscale("log")
        if len(dropped) < len(points):
            axis.axhline(floor, color="gray", linestyle=":", linewidth=0.8)
            axis.annotate(
                "runs on this line dropped nothing",
                (0.01, floor),
                xycoords=("axes fraction", "data"),
                textcoords="offset points",
                xytext=(0, 4),
                fontsize=7,
                color="gray",
            )
    axis.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    axis.yaxis.set_major_formatter(FuncFormatter(lambda share, _: f"{share * 100:.2g}%"))
    axis.set_xlabel("cost: instance-minutes (warm minutes at the warm cost)")
    axis.set_ylabel("dropped share of requests")
    axis.set_title(
        "Frontiers: predictive at each burst quantile (diamonds) against the baselines at each "
        "target utilization"
    )
    axis.legend(loc="upper right", fontsize=8)
    axis.grid(alpha=0.3, which="both")
    figure.tight_layout()
    return png_data_uri(figure)


_COLORS = {
    "predictive": "tab:blue",
    "predictive-warm": "tab:cyan",
    "reactive": "tab:orange",
    "reactive-warm": "tab:green",
    "aws-predictive": "tab:purple",
}


def _plot(
    times: np.ndarray,
    required: np.ndarray,
    result: SimulationResult,
    span: slice,
    title: str,
) -> str:
    figure = Figure(figsize=(11, 3.4), dpi=100)
    axis = figure.subplots()
    axis.plot(times, required, color="black", linewidth=0.7, label="required (demand / C)")
    axis.step(
        times, result.serving[span], where="post", color="tab:blue", linewidth=0.9, label="serving"
    )
    axis.step(
        times,
        (result.serving + result.booting)[span],
        where="post",
        color="tab:orange",
        linewidth=0.6,
        alpha=0.7,
        label="paid (serving + booting)",
    )
    if result.warm.any():  # only a policy with a warm pool: the others' would be a flat zero
        axis.step(
            times,
            result.warm[span],
            where="post",
            color="tab:green",
            linewidth=0.6,
            alpha=0.7,
            label="stopped in the warm pool",
        )
    short = np.where(result.serving[span] < required, required, np.nan)
    axis.fill_between(
        times, result.serving[span], short, color="tab:red", alpha=0.35, step="post", label="short"
    )
    axis.set_title(title)
    axis.set_ylabel("instances")
    axis.legend(loc="upper left", fontsize=8, ncols=4)
    axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    return png_data_uri(figure)


def _page(
    title: str,
    results: Sequence[SimulationResult],
    metrics: Sequence[ElasticityMetrics],
    images: list[tuple[str, str, str]],
) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(r.policy)}</td><td>{m.dropped_share:.3%}</td><td>{m.cost_vs_oracle:.3f}</td>"
        f"<td>{m.under_accuracy:.3%}</td><td>{m.over_accuracy:.3%}</td><td>{m.under_timeshare:.2%}</td>"
        f"<td>{m.over_timeshare:.2%}</td><td>{m.instability:.2%}</td><td>{m.instance_minutes:,.0f}</td></tr>"
        for r, m in zip(results, metrics, strict=True)
    )
    figures = "".join(
        f"<figure><img src='{uri}' alt='{html.escape(policy)} {html.escape(label)}'>"
        f"<figcaption>{html.escape(policy)}: {html.escape(label)}</figcaption></figure>"
        for policy, label, uri in images
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}
figure{{margin:1em 0}}img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<table><tr><th>policy</th><th>dropped requests</th><th>instance-minutes / oracle</th>
<th>under-prov. accuracy</th><th>over-prov. accuracy</th><th>under timeshare</th><th>over timeshare</th>
<th>instability</th><th>instance-minutes</th></tr>{rows}</table>
<p>Metrics follow the SPEC Research Group's elasticity metrics (Herbst et al., ICPE 2015) over the minutes
with known demand; required = ceil(demand / C).</p>
{figures}
</body></html>
"""
