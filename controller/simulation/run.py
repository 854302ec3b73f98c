"""Replaying a per-minute demand trace through a policy and a simulated fleet."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.simulation.fleet import SimulatedFleet
from controller.simulation.metrics import ElasticityMetrics, FloatArray, IntArray, elasticity
from controller.simulation.policies import Policy


@dataclass(frozen=True)
class SimulationResult:
    policy: str
    demand: FloatArray
    serving: IntArray
    booting: IntArray
    desired: IntArray

    def metrics(self, capacity_per_instance: float) -> ElasticityMetrics:
        return elasticity(
            self.demand, self.serving, self.serving + self.booting, capacity_per_instance
        )


def simulate(demand_rps: FloatArray, policy: Policy, warmup_minutes: int) -> SimulationResult:
    """Minute by minute: the policy sees demand up to t and decides; the fleet applies it.

    The fleet starts warm at the policy's first decision, so no policy is charged for a cold
    start the trace does not show.
    """
    minutes = int(demand_rps.shape[0])
    serving = np.zeros(minutes, dtype=np.int64)
    booting = np.zeros(minutes, dtype=np.int64)
    desired = np.zeros(minutes, dtype=np.int64)
    fleet: SimulatedFleet | None = None
    for t in range(minutes):
        want = policy.decide(t, float(demand_rps[t]))
        if fleet is None:
            fleet = SimulatedFleet(warmup_minutes, initial=want)
        state = fleet.step(t, want)
        serving[t], booting[t], desired[t] = state.serving, state.booting, want
    return SimulationResult(policy.name, demand_rps, serving, booting, desired)
