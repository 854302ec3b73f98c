"""How what a persona really does differs from what its definition declares (`personas drift`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.matching.features import RESOURCES
from controller.matching.model import PersonaMatcher


@dataclass(frozen=True)
class PersonaDrift:
    persona: str
    version: int
    sessions: float
    """weighted sessions learned from (0: nothing learned, learned == declared)"""
    event_types: dict[str, tuple[float, float]]
    """type -> (declared share, learned share), types whose share moved by > 1 point"""
    regions: dict[str, tuple[float, float]]
    resources: dict[str, tuple[float, float]]
    """resource -> (declared, learned) median per event"""
    type_distance: float
    """total variation distance between declared and learned type mix (0 = same, 1 = disjoint)"""
    region_distance: float
    time_distance: float


def drift(matcher: PersonaMatcher) -> list[PersonaDrift]:
    d, learned = matcher.declared, matcher.parameters()
    sessions = matcher.learned.sessions if matcher.learned is not None else np.zeros(len(d.keys))
    types = [*matcher.vocabulary.event_types, "(other)"]
    regions = [*matcher.vocabulary.regions, "(other)"]
    out = []
    for k, key in enumerate(d.keys):
        dt, lt = np.exp(d.log_type[k]), np.exp(learned.log_type[k])
        dr, lr = np.exp(d.log_region[k]), np.exp(learned.log_region[k])
        dh, lh = np.exp(d.log_time[k]), np.exp(learned.log_time[k])
        out.append(
            PersonaDrift(
                persona=key,
                version=d.versions[k],
                sessions=float(sessions[k]),
                event_types=_moved(types, dt, lt),
                regions=_moved(regions, dr, lr),
                resources={
                    name: (float(np.exp(d.res_mu[k, i])), float(np.exp(learned.res_mu[k, i])))
                    for i, name in enumerate(RESOURCES)
                },
                type_distance=float(0.5 * np.abs(dt - lt).sum()),
                region_distance=float(0.5 * np.abs(dr - lr).sum()),
                time_distance=float(0.5 * np.abs(dh - lh).sum()),
            )
        )
    return out


def _moved(
    names: list[str], declared: np.ndarray, learned: np.ndarray
) -> dict[str, tuple[float, float]]:
    return {
        name: (round(float(a), 4), round(float(b), 4))
        for name, a, b in zip(names, declared, learned, strict=True)
        if abs(a - b) > 0.01
    }
