"""Demand per fleet and step: sessions x resource profile, split across regional fleets.

A persona's forecast is of *active sessions* per step (at the fleet's quantile). One active session
uses its resource profile (fraction of a vCPU, MB, Mbps, IOPS): the learned profile when the
feedback loop has one, else the declared one. A persona's traffic is split across the fleets that
serve it by its `geographic_distribution`: a region's share goes to the serving fleets in that
region (equally); the share of a region no serving fleet is in is spread over the served regions
in proportion to their own share, and the reason says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from controller.domain.series import FloatArray

ResourceMatrix = FloatArray
"""shape (4, steps): cpu vCPU, memory MiB, network Mbps, IOPS per step"""


@dataclass(frozen=True)
class Profile:
    """Average use of ONE active session."""

    cpu: float
    memory: float
    network: float
    iops: float

    def vector(self) -> FloatArray:
        return np.array([self.cpu, self.memory, self.network, self.iops], dtype=np.float64)


@dataclass(frozen=True)
class PersonaDemand:
    key: str
    sessions: FloatArray
    """forecast active sessions per step, at the quantile of the fleets being allocated"""
    requests_per_s: FloatArray
    """forecast events (requests) per second per step, same quantile"""
    profile: Profile
    profile_source: str
    """'declared' or 'learned'"""
    regions: Mapping[str, float]
    observed_sessions: float | None = None
    """most active sessions observed in one bucket over the trailing stabilization window"""
    note: str = ""
    """how the sessions were obtained, for the reasons"""


@dataclass(frozen=True)
class FleetPlacement:
    name: str
    region: str


@dataclass(frozen=True)
class PersonaShare:
    persona: str
    share: float
    peak_sessions: float
    profile_source: str
    note: str = ""


@dataclass(frozen=True)
class FleetDemand:
    fleet: str
    resources: ResourceMatrix
    sessions: FloatArray
    requests_per_s: FloatArray
    observed: FloatArray | None
    """resource vector (4,) that load observed over the stabilization window needs; None if none"""
    shares: tuple[PersonaShare, ...] = ()

    @property
    def steps(self) -> int:
        return int(self.sessions.shape[0])


def split_shares(
    regions: Mapping[str, float], fleets: Sequence[FleetPlacement]
) -> dict[str, tuple[float, str]]:
    """Share of a persona's traffic each serving fleet takes, and a note when re-spread."""
    if not fleets:
        return {}
    served = {f.region for f in fleets}
    covered = sum(p for region, p in regions.items() if region in served)
    uncovered = sorted(r for r, p in regions.items() if r not in served and p > 0)
    if covered <= 0:
        region_share = {region: 1.0 / len(served) for region in served}
    else:
        region_share = {region: regions.get(region, 0.0) / covered for region in served}
    note = ""
    if uncovered:
        moved = ", ".join(f"{r} {regions[r]:.2f}" for r in uncovered)
        note = f"{moved} has no serving fleet: spread over {', '.join(sorted(served))}"
    per_region = {region: sum(1 for f in fleets if f.region == region) for region in served}
    return {f.name: (region_share[f.region] / per_region[f.region], note) for f in fleets}


def fleet_demands(
    personas: Sequence[PersonaDemand],
    served_by: Mapping[str, Sequence[str]],
    placements: Sequence[FleetPlacement],
) -> dict[str, FleetDemand]:
    """Every fleet's demand at once: one (fleets x personas) weight matrix, four products."""
    steps = max((len(p.sessions) for p in personas), default=0)
    index = {p.key: i for i, p in enumerate(personas)}
    fleet_index = {f.name: i for i, f in enumerate(placements)}
    weights = np.zeros((len(placements), len(personas)))
    notes: dict[tuple[str, str], str] = {}
    serving: dict[str, list[FleetPlacement]] = {p.key: [] for p in personas}
    for fleet in placements:
        for key in served_by.get(fleet.name, ()):
            if key in serving:
                serving[key].append(fleet)
    for persona in personas:
        for fleet_name, (share, note) in split_shares(
            persona.regions, serving[persona.key]
        ).items():
            weights[fleet_index[fleet_name], index[persona.key]] = share
            notes[(fleet_name, persona.key)] = note

    sessions = np.zeros((len(personas), steps))
    requests = np.zeros((len(personas), steps))
    for i, p in enumerate(personas):
        sessions[i, : len(p.sessions)] = np.nan_to_num(p.sessions, nan=0.0)
        requests[i, : len(p.requests_per_s)] = np.nan_to_num(p.requests_per_s, nan=0.0)
    np.maximum(sessions, 0.0, out=sessions)
    np.maximum(requests, 0.0, out=requests)
    profiles = np.array([p.profile.vector() for p in personas]).reshape(len(personas), 4)
    fleet_sessions = weights @ sessions
    fleet_requests = weights @ requests
    per_resource = np.stack([(weights * profiles[:, r]) @ sessions for r in range(4)], axis=1)
    observed_sessions = np.array(
        [np.nan if p.observed_sessions is None else p.observed_sessions for p in personas]
    )
    seen = ~np.isnan(observed_sessions)
    observed = (weights * seen) @ (profiles * np.nan_to_num(observed_sessions)[:, None])
    peaks = sessions.max(axis=1) if steps else np.zeros(len(personas))

    result = {}
    for fleet in placements:
        f = fleet_index[fleet.name]
        members = np.nonzero(weights[f])[0]
        shares = tuple(
            PersonaShare(
                persona=personas[i].key,
                share=float(weights[f, i]),
                peak_sessions=float(peaks[i] * weights[f, i]),
                profile_source=personas[i].profile_source,
                note="; ".join(
                    n for n in (personas[i].note, notes.get((fleet.name, personas[i].key), "")) if n
                ),
            )
            for i in members.tolist()
        )
        any_observed = bool(np.any(seen[members])) if members.size else False
        result[fleet.name] = FleetDemand(
            fleet=fleet.name,
            resources=per_resource[f],
            sessions=fleet_sessions[f],
            requests_per_s=fleet_requests[f],
            observed=observed[f] if any_observed else None,
            shares=shares,
        )
    return result
