"""Replaying a per-minute demand trace through a policy and a simulated fleet."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.simulation.fleet import SimulatedFleet, WarmPool
from controller.simulation.metrics import ElasticityMetrics, FloatArray, IntArray, elasticity
from controller.simulation.policies import Policy, WarmPoolPolicy


@dataclass(frozen=True)
class SimulationResult:
    policy: str
    demand: FloatArray
    serving: IntArray
    booting: IntArray
    desired: IntArray
    warm: IntArray
    """instances stopped in the warm pool (all 0 without one)"""
    warm_cost: float = 0.0
    """cost of a stopped minute as a share of a running one"""

    def metrics(self, capacity_per_instance: float) -> ElasticityMetrics:
        return elasticity(
            self.demand,
            self.serving,
            self.serving + self.booting,
            capacity_per_instance,
            warm=self.warm,
            warm_cost=self.warm_cost,
        )


def simulate(demand_rps: FloatArray, policy: Policy, warmup_minutes: int) -> SimulationResult:
    """Minute by minute: the policy sees demand up to t and decides; the fleet applies it.

    The fleet starts warm at the policy's first decision, with its warm pool (if the policy
    keeps one) full and stopped, so no policy is charged for a cold start the trace does not
    show.
    """
    minutes = int(demand_rps.shape[0])
    serving = np.zeros(minutes, dtype=np.int64)
    booting = np.zeros(minutes, dtype=np.int64)
    desired = np.zeros(minutes, dtype=np.int64)
    warm = np.zeros(minutes, dtype=np.int64)
    pooled = policy if isinstance(policy, WarmPoolPolicy) else None
    pool: WarmPool | None = pooled.warm_pool if pooled is not None else None
    fleet: SimulatedFleet | None = None
    for t in range(minutes):
        want = policy.decide(t, float(demand_rps[t]))
        prepared = pooled.prepared_capacity() if pooled is not None else 0
        if fleet is None:
            fleet = SimulatedFleet(warmup_minutes, initial=want, pool=pool)
            fleet.fill_pool(prepared)
        state = fleet.step(t, want, prepared)
        serving[t], booting[t], desired[t], warm[t] = (
            state.serving,
            state.booting,
            want,
            state.warm,
        )
    return SimulationResult(
        policy.name,
        demand_rps,
        serving,
        booting,
        desired,
        warm,
        warm_cost=pool.warm_cost if pool is not None else 0.0,
    )
