"""The few lines a person reads after each cycle."""

from __future__ import annotations

from datetime import datetime

from controller.domain.forecast import Forecast
from controller.workflow.cycle import CycleOutcome

PREVIEW_STEPS_HOURS = (0, 1, 3, 6)


def format_outcome(outcome: CycleOutcome, clock_mode: str) -> str:
    lines = [
        f"cycle {outcome.cycle_id} at {_t(outcome.now)} ({clock_mode} clock), "
        f"{outcome.duration_s:.1f}s"
    ]
    if outcome.interrupted_before:
        ids = ", ".join(map(str, outcome.interrupted_before))
        lines.append(f"  recovered  cycle(s) {ids} had been interrupted; marked and started clean")
    versions = outcome.personas.versions
    keys = ", ".join(
        f"{f.persona.key} v{versions[f.persona.key]}"
        if f.persona.key in versions
        else f.persona.key
        for f in outcome.personas.files
    )
    lines.append(f"  personas   {len(outcome.personas.files)} in force: {keys}")
    i = outcome.ingest
    watermark = _t(i.last_event_at) if i.last_event_at else "none yet"
    unmatched = f", {i.unmatched_sessions} unmatched sessions" if i.unmatched_sessions else ""
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(i.dead_letters_by_kind.items()))
    letters = f"{i.dead_letters} dead letters" + (f" ({kinds})" if kinds else "")
    lines.append(
        f"  events     +{i.events:,} ingested ({i.events_total:,} total), "
        f"{letters}{unmatched}; data up to {watermark}"
    )
    if i.next_event_at is None and i.events == 0:
        lines.append("             source exhausted: no events left to read")
    lines.append(
        f"  forecast   from {_t(outcome.origin)}, events/s at +0h/+1h/+3h/+6h (p95 at +1h):"
    )
    for key, forecast in outcome.forecasts.items():
        lines.append(f"             {key:<20} {_preview(forecast)}  [{forecast.model}]")
    for allocation in outcome.allocations:
        before = outcome.capacity_before.get(allocation.fleet)
        change = (
            f"{before} -> {allocation.desired_now}"
            if before is not None
            else f"new -> {allocation.desired_now}"
        )
        lines.append(
            f"  capacity   {allocation.fleet:<6} {change} x {allocation.instance_type} "
            f"(peak {allocation.peak} within horizon, {len(allocation.scheduled_actions)} scheduled "
            f"actions, LB {allocation.lb_capacity_units} LCU)"
        )
    status = {
        "applied": "applied",
        "no-changes": "nothing to apply",
        "waiting-for-review": "waiting for `fleetctl approve`",
        "plan-only": "not applied (apply_mode: plan-only)",
        "failed": "failed",
    }[outcome.plan_status]
    if outcome.review is not None:
        lines.append(f"  plan       {outcome.review.one_line(status)}")
    else:
        lines.append(f"  plan       {outcome.plan.plan_id}: {outcome.plan.describe()}; {status}")
    lines.extend(_monitor_lines(outcome))
    lines.extend(_drift_lines(outcome))
    lines.extend(_anomaly_lines(outcome))
    return "\n".join(lines)


def _monitor_lines(outcome: CycleOutcome) -> list[str]:
    """One line per fleet watched after the last apply."""
    lines = []
    for health in outcome.monitor:
        minutes = int((health.window_end - health.window_start).total_seconds() // 60)
        window = "window complete" if health.window_complete else f"{minutes} min into the window"
        check = f"; health check {health.health_check.outcome}" if health.health_check else ""
        lines.append(
            f"  monitor    {health.fleet:<6} {health.status}: {health.reason}{check} "
            f"(after plan {health.plan_id}, {window})"
        )
    return lines


def _drift_lines(outcome: CycleOutcome) -> list[str]:
    drift = outcome.state.drift
    if drift.status == "not-checked":
        return []
    drifted = [f for f in drift.findings if f.classification == "drift"]
    if not drifted:
        checked = ", ".join(f"{c.view} {_t(c.checked_at)}" for c in drift.checks)
        return [f"  drift      in sync (last checks: {checked})"]
    shown = "; ".join(f"{f.resource} {f.attribute}" for f in drifted[:3])
    more = f" and {len(drifted) - 3} more" if len(drifted) > 3 else ""
    return [f"  drift      {len(drifted)} finding(s): {shown}{more} (fleetctl drift)"]


def _anomaly_lines(outcome: CycleOutcome) -> list[str]:
    if outcome.anomalies is None or not outcome.anomalies.anomalies:
        return []
    return [f"  anomalies  {outcome.anomalies.describe()}"]


def _preview(forecast: Forecast) -> str:
    per_hour = max(1, int(3600 / forecast.step.total_seconds()))
    values = []
    for hours in PREVIEW_STEPS_HOURS:
        index = min(hours * per_hour, forecast.horizon - 1)
        values.append(f"{forecast.mean[index]:6.2f}" if forecast.horizon else "   n/a")
    high = forecast.quantiles.get(0.95)
    p95 = (
        f"{high[min(per_hour, forecast.horizon - 1)]:.2f}"
        if high is not None and forecast.horizon
        else "n/a"
    )
    return " ".join(values) + f"  (p95 {p95})"


def _t(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%MZ")
