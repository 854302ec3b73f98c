"""ALB capacity reservation (LCU) from the forecast peak, and target-group weights.

An ALB LCU is the highest of four dimensions (Elastic Load Balancing pricing): 25 new connections
per second, 3,000 active connections per minute, 1 GB per hour processed for EC2 targets, 1,000
rule evaluations per second. From the forecast, per step:

    new connections/s  = requests/s            (worst case: no keep-alive reuse)
    active connections = active sessions       (one connection per session)
    processed GB/h     = network Mbps x 0.45   (Mbps x 3600 s / 8 bit / 1000 MB)
    LCU(t) = max(requests/s / 25, sessions / 3000, network Mbps x 0.45 / 1)

Rule evaluations stay within the 10 free rules of our listeners and are not counted. The
reservation is ceil(max over the horizon of the sum over the fleets behind the ALB). AWS lets a
reservation go down only twice a day, so a decrease smaller than `DECREASE_WORTH` is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from controller.allocation.demand import FleetDemand
from controller.domain.allocation import FleetAllocation, LoadBalancerAllocation
from controller.domain.series import FloatArray

NEW_CONNECTIONS_PER_LCU = 25.0
ACTIVE_CONNECTIONS_PER_LCU = 3000.0
GB_PER_HOUR_PER_LCU = 1.0
GB_PER_HOUR_PER_MBPS = 3600 / 8 / 1000
DECREASE_WORTH = 0.25
MAX_WEIGHT = 999


def lcu_per_step(demand: FleetDemand) -> FloatArray:
    network = demand.resources[2] if demand.resources.size else np.zeros(0)
    dimensions = np.stack(
        [
            demand.requests_per_s / NEW_CONNECTIONS_PER_LCU,
            demand.sessions / ACTIVE_CONNECTIONS_PER_LCU,
            network * GB_PER_HOUR_PER_MBPS / GB_PER_HOUR_PER_LCU,
        ]
    )
    return np.asarray(dimensions.max(axis=0), dtype=np.float64)


def allocate_load_balancers(
    allocations: Sequence[FleetAllocation],
    demands: Mapping[str, FleetDemand],
    previous_units: Mapping[str, int] | None = None,
    weight_window: int = 12,
) -> tuple[list[FleetAllocation], list[LoadBalancerAllocation]]:
    """Per ALB: LCU reservation and weights; each fleet gets its own LCU share for the review."""
    previous_units = previous_units or {}
    by_lb: dict[str, list[FleetAllocation]] = {}
    for allocation in allocations:
        by_lb.setdefault(allocation.lb_name, []).append(allocation)
    fleets_out: dict[str, FleetAllocation] = {}
    balancers = []
    for name, members in sorted(by_lb.items()):
        series = {a.fleet: lcu_per_step(demands[a.fleet]) for a in members}
        steps = max((len(s) for s in series.values()), default=0)
        total = np.zeros(steps)
        for s in series.values():
            total[: len(s)] += s
        peak = float(total.max()) if steps else 0.0
        units = math.ceil(round(peak, 9))
        reasons = [
            f"LCU = max(requests/s / 25, sessions / 3000, Mbps x 0.45 GB/h): forecast peak "
            f"{peak:.2f} -> {units}"
        ]
        before = previous_units.get(name)
        if before is not None and units < before and units > before * (1 - DECREASE_WORTH):
            reasons.append(
                f"kept at {before}: a decrease under {DECREASE_WORTH:.0%} is not worth one of "
                f"the two reservation decreases AWS allows per day"
            )
            units = before
        weights = _weights(members, demands, weight_window)
        if len(members) > 1:
            reasons.append(
                "target-group weights by each fleet's share of forecast requests over the next "
                "hour: " + ", ".join(f"{k} {v}" for k, v in sorted(weights.items()))
            )
        balancers.append(
            LoadBalancerAllocation(name, members[0].region, units, weights, tuple(reasons))
        )
        for a in members:
            own = math.ceil(round(float(series[a.fleet].max()) if steps else 0.0, 9))
            fleets_out[a.fleet] = _with_lb(a, own)
    return [fleets_out[a.fleet] for a in allocations], balancers


def _weights(
    members: Sequence[FleetAllocation], demands: Mapping[str, FleetDemand], window: int
) -> dict[str, int]:
    if len(members) == 1:
        return {members[0].fleet: 100}
    load = {a.fleet: float(np.sum(demands[a.fleet].requests_per_s[:window])) for a in members}
    total = sum(load.values())
    if total <= 0:
        return {a.fleet: 1 for a in members}
    return {
        fleet: max(1, min(MAX_WEIGHT, round(100 * value / total))) for fleet, value in load.items()
    }


def _with_lb(allocation: FleetAllocation, units: int) -> FleetAllocation:
    return replace(allocation, lb_capacity_units=units)
