"""Instances a fleet needs, step by step, ordered a warm-up ahead of the demand they serve.

desired(t) = clamp(ceil(max demand over [t, t + warmup] / (capacity x target utilization)), min, max)

Demand is the sum over the personas the fleet serves of their forecast (at the fleet's quantile),
in events per second. Scheduled actions carry the plan between applies: one per hour block at
the block's peak (never below any step in it), emitted only where the value changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from controller.domain.allocation import FleetAllocation, ScheduledAction
from controller.domain.series import FloatArray, floor_time

MAX_SCHEDULED_ACTIONS = 100
SCHEDULE_BLOCK = timedelta(hours=1)


@dataclass(frozen=True)
class FleetRule:
    name: str
    region: str
    instance_type: str
    capacity_per_instance: float
    target_utilization: float
    min_size: int
    max_size: int
    warmup: timedelta
    quantile_label: str
    lb_capacity_per_unit: float


def allocate(
    rule: FleetRule,
    demand_by_persona: Mapping[str, FloatArray],
    origin: datetime,
    step: timedelta,
) -> FleetAllocation:
    horizon = max((len(d) for d in demand_by_persona.values()), default=0)
    demand = np.zeros(horizon)
    for series in demand_by_persona.values():
        demand[: len(series)] += np.nan_to_num(series, nan=0.0)
    per_instance = rule.capacity_per_instance * rule.target_utilization
    lead = math.ceil(rule.warmup / step)
    ahead = _max_ahead(demand, lead)
    needed = np.ceil(np.round(ahead / per_instance, 9)).astype(int)
    desired = np.clip(needed, rule.min_size, rule.max_size)
    now = int(desired[0]) if horizon else rule.min_size
    peak_demand = float(demand.max()) if horizon else 0.0
    return FleetAllocation(
        fleet=rule.name,
        region=rule.region,
        instance_type=rule.instance_type,
        desired_now=now,
        min_size=rule.min_size,
        max_size=rule.max_size,
        desired_per_step=tuple(int(v) for v in desired),
        scheduled_actions=_schedule(rule, desired, origin, step),
        lb_capacity_units=math.ceil(round(peak_demand / rule.lb_capacity_per_unit, 9)),
        reasons=_reasons(rule, demand_by_persona, ahead, needed, now, lead, step),
    )


def _max_ahead(demand: FloatArray, lead: int) -> FloatArray:
    """out[i] = max(demand[i : i + lead + 1]): capacity is ordered before the demand arrives."""
    if demand.size == 0:
        return demand
    padded = np.concatenate([demand, np.full(lead, demand[-1])])
    windows = np.lib.stride_tricks.sliding_window_view(padded, lead + 1)
    return np.asarray(windows.max(axis=1), dtype=np.float64)


def _schedule(
    rule: FleetRule, desired: np.ndarray, origin: datetime, step: timedelta
) -> tuple[ScheduledAction, ...]:
    """One action per whole UTC hour after the first, at that hour's peak; only changes.

    Whole-hour boundaries keep action names stable from one cycle to the next, so a re-plan
    only touches the hours whose value moved.
    """
    first_hour = floor_time(origin, SCHEDULE_BLOCK) + SCHEDULE_BLOCK
    per_block = max(1, int(SCHEDULE_BLOCK / step))
    actions: list[ScheduledAction] = []
    previous = int(desired[0]) if len(desired) else None
    block_start = int((first_hour - origin) / step)
    while block_start < len(desired):
        value = int(desired[block_start : block_start + per_block].max())
        start = origin + step * block_start
        block_start += per_block
        if value == previous:
            continue
        actions.append(
            ScheduledAction(
                name=f"{rule.name}-{start:%Y%m%dT%H%MZ}",
                start=start,
                desired=value,
                min_size=rule.min_size,
                max_size=rule.max_size,
            )
        )
        previous = value
    return tuple(actions[:MAX_SCHEDULED_ACTIONS])


def _reasons(
    rule: FleetRule,
    demand_by_persona: Mapping[str, FloatArray],
    ahead: FloatArray,
    needed: np.ndarray,
    now: int,
    lead: int,
    step: timedelta,
) -> tuple[str, ...]:
    if ahead.size == 0:
        return (f"no forecast: held at min_instances {rule.min_size}",)
    parts = (
        ", ".join(
            f"{persona} {float(np.nan_to_num(series[: lead + 1], nan=0.0).max()):.2f}"
            for persona, series in sorted(demand_by_persona.items())
        )
        or "no personas"
    )
    reasons = [
        f"{rule.quantile_label} demand {ahead[0]:.2f} ev/s over the next {step * (lead + 1)} "
        f"({parts}) / ({rule.capacity_per_instance:g} ev/s x {rule.target_utilization:g}) "
        f"= {int(needed[0])} instances"
    ]
    if needed[0] < rule.min_size:
        reasons.append(f"raised to min_instances {rule.min_size}")
    elif needed[0] > rule.max_size:
        reasons.append(f"capped at max_instances {rule.max_size} (needs {int(needed[0])})")
    reasons.append(f"desired now {now}")
    return tuple(reasons)
