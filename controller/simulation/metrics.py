"""Elasticity metrics (SPEC Research Group: Herbst et al., "Ready for Rain?", ICPE 2015) and cost.

With required(t) = ceil(demand(t) / C) and supply s(t) = serving instances, over the minutes
where demand is known:
- under/over-provisioning accuracy: mean of max(r - s, 0) / r and max(s - r, 0) / r (r >= 1);
- under/over-provisioning timeshare: share of minutes with s < r, s > r;
- instability: share of minute-to-minute transitions where supply and required move in
  different directions (one up, the other down or flat, and so on);
- cost: instance-minutes paid (serving + booting, plus each minute stopped in a warm pool at
  the pool's warm cost) relative to the oracle's sum of required;
- dropped: requests beyond serving x C, as a share of all requests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ElasticityMetrics:
    minutes: int
    under_accuracy: float
    over_accuracy: float
    under_timeshare: float
    over_timeshare: float
    instability: float
    instance_minutes: float
    """paid in full (serving, booting) plus the warm pool's stopped minutes at its warm cost"""
    oracle_instance_minutes: int
    dropped_requests: float
    total_requests: float
    warm_instance_minutes: int = 0
    """minutes instances spent stopped in a warm pool (their cost is in `instance_minutes`)"""

    @property
    def cost_vs_oracle(self) -> float:
        return self.instance_minutes / max(self.oracle_instance_minutes, 1)

    @property
    def dropped_share(self) -> float:
        return self.dropped_requests / self.total_requests if self.total_requests else 0.0


def required_instances(demand_rps: FloatArray, capacity_per_instance: float) -> IntArray:
    return np.ceil(np.round(demand_rps / capacity_per_instance, 9)).astype(np.int64)


def elasticity(
    demand_rps: FloatArray,
    serving: IntArray,
    paid: IntArray,
    capacity_per_instance: float,
    warm: IntArray | None = None,
    warm_cost: float = 0.0,
) -> ElasticityMetrics:
    """Metrics over the minutes whose demand is known (NaN demand = a gap, left out).

    `paid` counts instances paid in full; `warm` those stopped in a warm pool, each minute
    of which costs `warm_cost` of a running one.
    """
    known = ~np.isnan(demand_rps)
    stopped = np.zeros_like(paid) if warm is None else warm
    demand = demand_rps[known]
    supply = serving[known]
    required = required_instances(demand, capacity_per_instance)
    base = np.maximum(required, 1)
    shortfall = np.maximum(required - supply, 0)
    excess = np.maximum(supply - required, 0)
    served = np.minimum(demand, supply * capacity_per_instance)
    return ElasticityMetrics(
        minutes=int(demand.size),
        under_accuracy=_mean(shortfall / base),
        over_accuracy=_mean(excess / base),
        under_timeshare=_mean((supply < required).astype(float)),
        over_timeshare=_mean((supply > required).astype(float)),
        instability=_instability(required, supply),
        instance_minutes=float(paid[known].sum() + warm_cost * stopped[known].sum()),
        oracle_instance_minutes=int(required.sum()),
        dropped_requests=float((demand - served).sum() * 60),
        total_requests=float(demand.sum() * 60),
        warm_instance_minutes=int(stopped[known].sum()),
    )


def _instability(required: IntArray, supply: IntArray) -> float:
    if required.size < 2:
        return 0.0
    moves_required = np.sign(np.diff(required))
    moves_supply = np.sign(np.diff(supply))
    return _mean((moves_required != moves_supply).astype(float))


def _mean(values: FloatArray) -> float:
    return float(values.mean()) if values.size else 0.0
