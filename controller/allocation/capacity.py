"""Instances a fleet needs, step by step: right type, ordered ahead, damped on the way down.

For the chosen instance type with capacity c_r per resource r (vCPU, MiB, Mbps, IOPS) and the
fleet's target utilization u:

    needed(t)  = max over r of ceil(demand_r(t) / (c_r x u))
    ahead(t)   = max needed over [t, t + warmup]                 (ordered a warm-up early)
    held(t)    = max ahead over [t - stabilization, t], where the stretch before the forecast
                 origin is what observed load needed             (scale-in waits the window out)
    desired(t) = max(held(t), desired(t-1) - max(1, floor(desired(t-1) x scale_in_rate)))
                 clamped to [min, max] (max optionally raised, IncreaseMaxCapacity-style);
                 desired(-1) is the capacity in force when the caller passes it (`current`),
                 so the step limit also holds across re-plans, else step 0 is not limited

Scheduled actions: one per whole UTC hour within the schedule horizon at the hour's peak, only
where the value changes, at most 100 per group. See docs/allocation.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt

from controller.allocation.catalog import RESOURCES, UNITS, Catalog, InstanceType
from controller.allocation.demand import FleetDemand
from controller.allocation.warm_pool import WarmPoolRule, size_warm_pool
from controller.domain.allocation import FleetAllocation, ScheduledAction, TargetTracking
from controller.domain.series import FloatArray, floor_time

MAX_SCHEDULED_ACTIONS = 100
SCHEDULE_BLOCK = timedelta(hours=1)
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class FleetRule:
    name: str
    region: str
    allowed_types: tuple[str, ...]
    instance_type: str
    """the type in force (last applied), else the configured starting type"""
    target_utilization: float
    min_size: int
    max_size: int
    warmup: timedelta
    quantile_label: str
    type_change_min_saving: float = 0.1
    scale_in_stabilization: timedelta = timedelta(minutes=15)
    scale_in_rate: float = 0.1
    max_capacity_breach: Literal["hold", "increase"] = "hold"
    max_capacity_buffer: float = 10.0
    """percent above the forecast the raised max allows (with breach 'increase')"""
    schedule_horizon: timedelta = timedelta(hours=48)
    load_balancer: str = ""
    warm_pool: WarmPoolRule | None = None
    """None: no warm pool"""


@dataclass(frozen=True)
class TypeChoice:
    instance_type: InstanceType
    reason: str


def allocate(
    rule: FleetRule,
    demand: FleetDemand,
    origin: datetime,
    step: timedelta,
    catalog: Catalog,
    current: int | None = None,
    burst: tuple[str, FleetDemand] | None = None,
) -> FleetAllocation:
    """`current`: the desired capacity in force (the daemon passes what the last applied
    plan's schedule holds now), which the scale-in step limit starts from; None limits steps
    within this plan only. `burst`: the demand at the forecast's upper quantile and its label
    (e.g. 'p97.5'), which sizes the warm pool; None sizes it from `demand` itself."""
    choice = choose_type(rule, demand.resources, catalog, step)
    kind = choice.instance_type
    per_instance = kind.capacity * rule.target_utilization
    needed, binding = _needed(demand.resources, per_instance)
    lead = math.ceil(rule.warmup / step)
    ahead = _max_ahead(needed, lead)
    observed_need = _observed_need(demand.observed, per_instance)
    window = math.ceil(rule.scale_in_stabilization / step)
    held = _stabilized(ahead, observed_need, window)
    damped = _rate_limited(held, rule.scale_in_rate, current)
    ceiling = _ceiling(rule, damped)
    desired = np.clip(damped, rule.min_size, ceiling)
    horizon = len(desired)
    now = int(desired[0]) if horizon else max(rule.min_size, observed_need)
    max_now = int(ceiling[0]) if horizon else rule.max_size
    warm_reasons: tuple[str, ...] = ()
    warm_pool = None
    if rule.warm_pool is not None:
        label, upper = burst if burst is not None else (rule.quantile_label, demand)
        burst_need, _ = _needed(upper.resources, per_instance)
        in_service = desired if horizon else np.array([now], dtype=np.int64)
        sizing = size_warm_pool(
            rule.warm_pool, in_service, burst_need, lead, max_now, label, kind.memory_mib
        )
        warm_pool, warm_reasons = sizing.pool, (sizing.reason,)
    return FleetAllocation(
        fleet=rule.name,
        region=rule.region,
        instance_type=kind.name,
        desired_now=now,
        min_size=rule.min_size,
        max_size=max_now,
        desired_per_step=tuple(int(v) for v in desired),
        scheduled_actions=_schedule(rule, desired, ceiling, origin, step),
        lb_capacity_units=0,
        reasons=_reasons(
            rule,
            demand,
            choice,
            per_instance,
            needed,
            binding,
            ahead,
            held,
            desired,
            ceiling,
            observed_need,
            lead,
            step,
        )
        + warm_reasons,
        load_balancer=rule.load_balancer,
        target_tracking=TargetTracking(
            target_value=round(rule.target_utilization * 100, 1),
            warmup_seconds=int(rule.warmup.total_seconds()),
        ),
        price_per_hour=kind.price(rule.region),
        warm_pool=warm_pool,
    )


def choose_type(
    rule: FleetRule, resources: FloatArray, catalog: Catalog, step: timedelta
) -> TypeChoice:
    """The allowed type with the lowest cost over the horizon; a change must save enough."""
    candidates = [t for name in rule.allowed_types if (t := catalog.get(name)) is not None]
    current = catalog.get(rule.instance_type)
    if current is not None and current not in candidates:
        candidates.append(current)
    if not candidates:
        raise ValueError(f"fleet {rule.name}: no allowed instance type is in the catalog")
    hours = step.total_seconds() / 3600
    costs = {}
    peaks = {}
    for kind in candidates:
        needed, _ = _needed(resources, kind.capacity * rule.target_utilization)
        count = np.maximum(needed, rule.min_size) if needed.size else np.array([rule.min_size])
        peaks[kind.name] = int(count.max())
        costs[kind.name] = float(count.sum()) * kind.ranking_price(rule.region) * max(hours, 1e-9)
    allowed = [t for t in candidates if t.name in rule.allowed_types] or candidates
    fits = [t for t in allowed if peaks[t.name] <= rule.max_size] or allowed
    best = min(fits, key=lambda t: (costs[t.name], t.ranking_price(rule.region), t.name))
    priced = (
        ""
        if best.price(rule.region) is not None
        else (f" (ranked by us-east-1 prices: no cited price for {rule.region})")
    )
    if current is None or current.name == best.name:
        return TypeChoice(
            best,
            f"type {best.name}: cheapest allowed type for the demand's "
            f"shape over the horizon{priced}",
        )
    if current.name not in rule.allowed_types or peaks[current.name] > rule.max_size:
        why = (
            "not an allowed type"
            if current.name not in rule.allowed_types
            else (f"would need {peaks[current.name]} > max_instances {rule.max_size}")
        )
        return TypeChoice(best, f"type {current.name} -> {best.name}: {current.name} {why}{priced}")
    saving = 1 - costs[best.name] / costs[current.name] if costs[current.name] > 0 else 0.0
    if saving < rule.type_change_min_saving:
        return TypeChoice(
            current,
            f"type {current.name} kept: {best.name} would save {saving:.0%} over the horizon, "
            f"below the {rule.type_change_min_saving:.0%} worth a change{priced}",
        )
    return TypeChoice(
        best,
        f"type {current.name} -> {best.name}: saves {saving:.0%} over the horizon "
        f"(threshold {rule.type_change_min_saving:.0%}){priced}",
    )


def _needed(resources: FloatArray, per_instance: FloatArray) -> tuple[IntArray, IntArray]:
    """Instances per step (max over resources) and the index of the resource that binds."""
    if resources.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(per_instance[:, None] > 0, resources / per_instance[:, None], 0.0)
    counts = np.ceil(np.round(ratio, 9)).astype(np.int64)
    return counts.max(axis=0), ratio.argmax(axis=0).astype(np.int64)


def _observed_need(observed: FloatArray | None, per_instance: FloatArray) -> int:
    if observed is None:
        return 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(per_instance > 0, observed / per_instance, 0.0)
    return int(np.ceil(np.round(ratio, 9)).max())


def _max_ahead(needed: IntArray, lead: int) -> IntArray:
    """out[i] = max(needed[i : i + lead + 1]): capacity is ordered before the demand arrives."""
    if needed.size == 0:
        return needed
    padded = np.concatenate([needed, np.full(lead, needed[-1])])
    windows = np.lib.stride_tricks.sliding_window_view(padded, lead + 1)
    return np.asarray(windows.max(axis=1), dtype=np.int64)


def _stabilized(ahead: IntArray, observed_need: int, window: int) -> IntArray:
    """Max over the trailing window; before the origin the window sees observed load."""
    if ahead.size == 0:
        return ahead
    if window == 0:
        held = ahead.copy()
        held[0] = max(int(held[0]), observed_need)
        return held
    padded = np.concatenate([np.full(window, observed_need, dtype=np.int64), ahead])
    windows = np.lib.stride_tricks.sliding_window_view(padded, window + 1)
    return np.asarray(windows.max(axis=1), dtype=np.int64)


def _rate_limited(held: IntArray, rate: float, current: int | None = None) -> IntArray:
    """Step down at most max(1, rate x current) instances per step; step up at once.

    With `current` (the capacity in force before step 0), step 0 is limited from it too.
    """
    out = held.copy()
    if current is not None and out.size and current > 0:
        floor = current - max(1, math.floor(current * rate))
        if out[0] < floor:
            out[0] = floor
    for t in range(1, len(out)):
        previous = int(out[t - 1])
        floor = previous - max(1, math.floor(previous * rate))
        if out[t] < floor:
            out[t] = floor
    return out


def _ceiling(rule: FleetRule, damped: IntArray) -> IntArray:
    base = np.full(len(damped), rule.max_size, dtype=np.int64)
    if rule.max_capacity_breach != "increase" or damped.size == 0:
        return base
    raised = np.ceil(np.round(damped * (1 + rule.max_capacity_buffer / 100), 9)).astype(np.int64)
    return np.where(damped > rule.max_size, np.maximum(base, raised), base)


def with_desired(
    rule: FleetRule,
    allocation: FleetAllocation,
    desired: Sequence[int],
    origin: datetime,
    step: timedelta,
    reason: str,
) -> FleetAllocation:
    """The allocation with a desired capacity per step decided outside the allocator (an
    anomaly's temporary scale-out): desired now and the scheduled actions follow it, and the
    reason joins the others so the plan review shows it. The group's max never drops below it."""
    values = np.asarray(desired, dtype=np.int64)
    if values.shape[0] != len(allocation.desired_per_step):
        raise ValueError(
            f"{rule.name}: {values.shape[0]} desired steps for {len(allocation.desired_per_step)}"
        )
    ceiling = np.maximum(values, max(rule.max_size, allocation.max_size))
    return replace(
        allocation,
        desired_now=int(values[0]) if values.shape[0] else allocation.desired_now,
        max_size=int(ceiling[0]) if values.shape[0] else allocation.max_size,
        desired_per_step=tuple(int(v) for v in values),
        scheduled_actions=_schedule(rule, values, ceiling, origin, step),
        reasons=(*allocation.reasons, reason),
    )


def _schedule(
    rule: FleetRule,
    desired: IntArray,
    ceiling: IntArray,
    origin: datetime,
    step: timedelta,
) -> tuple[ScheduledAction, ...]:
    """One action per whole UTC hour after the first, at that hour's peak; only changes.

    Whole-hour boundaries keep action names stable from one cycle to the next, so a re-plan
    only touches the hours whose value moved.
    """
    first_hour = floor_time(origin, SCHEDULE_BLOCK) + SCHEDULE_BLOCK
    end = origin + rule.schedule_horizon
    per_block = max(1, int(SCHEDULE_BLOCK / step))
    actions: list[ScheduledAction] = []
    previous = (int(desired[0]), int(ceiling[0])) if len(desired) else None
    block_start = int((first_hour - origin) / step)
    while block_start < len(desired) and len(actions) < MAX_SCHEDULED_ACTIONS:
        start = origin + step * block_start
        if start >= end:
            break
        block = slice(block_start, block_start + per_block)
        value = (int(desired[block].max()), int(ceiling[block].max()))
        block_start += per_block
        if value == previous:
            continue
        actions.append(
            ScheduledAction(
                name=f"{rule.name}-{start:%Y%m%dT%H%MZ}",
                start=start,
                desired=value[0],
                min_size=rule.min_size,
                max_size=value[1],
            )
        )
        previous = value
    return tuple(actions)


def _reasons(
    rule: FleetRule,
    demand: FleetDemand,
    choice: TypeChoice,
    per_instance: FloatArray,
    needed: IntArray,
    binding: IntArray,
    ahead: IntArray,
    held: IntArray,
    desired: IntArray,
    ceiling: IntArray,
    observed_need: int,
    lead: int,
    step: timedelta,
) -> tuple[str, ...]:
    reasons = [choice.reason]
    if ahead.size == 0:
        reasons.append(f"no forecast: held at min_instances {rule.min_size}")
        return tuple(reasons)
    window = slice(0, lead + 1)
    at = int(np.argmax(needed[window]))
    r = int(binding[at])
    sessions = float(demand.sessions[window].max())
    parts = (
        ", ".join(
            f"{s.persona} x {s.share:.2f} ({s.profile_source} profile"
            + (f"; {s.note}" if s.note else "")
            + ")"
            for s in demand.shares
        )
        or "no personas"
    )
    value = float(demand.resources[r, at])
    reasons.append(
        f"{rule.quantile_label} demand over the next {duration(step * (lead + 1))}: "
        f"{sessions:.1f} sessions "
        f"({parts})"
    )
    reasons.append(
        f"{RESOURCES[r]} binds: {value:.2f} {UNITS[RESOURCES[r]]} / "
        f"({per_instance[r] / rule.target_utilization:g} x {rule.target_utilization:g} "
        f"target utilization) = {int(ahead[0])} x {choice.instance_type.name}"
    )
    if held[0] > ahead[0]:
        reasons.append(
            f"held at {int(held[0])}: observed load over the last "
            f"{duration(rule.scale_in_stabilization)} needs {observed_need} "
            f"(scale-in stabilization)"
        )
    if desired[0] == rule.min_size and held[0] < rule.min_size:
        reasons.append(f"raised to min_instances {rule.min_size}")
    elif held[0] > ceiling[0]:
        reasons.append(f"capped at max_instances {rule.max_size} (needs {int(held[0])})")
    if int(ceiling.max()) > rule.max_size:
        reasons.append(
            f"max raised to {int(ceiling.max())} at the peak (IncreaseMaxCapacity, "
            f"buffer {rule.max_capacity_buffer:g}%)"
        )
    if int(desired.max()) > rule.max_size and rule.max_capacity_breach == "hold":
        reasons.append(f"peak capped at max_instances {rule.max_size}")
    reasons.append(
        f"scale-in waits {duration(rule.scale_in_stabilization)} and steps down at most "
        f"{rule.scale_in_rate:.0%} per {duration(step)}"
    )
    reasons.append(f"desired now {int(desired[0])}")
    return tuple(reasons)


def duration(span: timedelta) -> str:
    """'5m', '1h30m', '45s': how people write durations in config."""
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")
