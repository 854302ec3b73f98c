"""Cost-versus-drops frontiers of a swept policy, and reading one at a given cost.

A sweep runs one policy at several settings; each gives a point (cost, dropped share). The
frontier is what that policy can achieve: its lower envelope (the points no other point beats on
both cost and drops), joined piecewise linearly, since a setting between two swept ones lands
roughly between them. A frontier is read only inside its own cost range: outside it, what the
policy would drop is unknown (no extrapolation), so the caller gets `None` and must say so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FrontierPoint:
    cost: float
    """instance-minutes (warm minutes at their warm cost)"""
    dropped_share: float


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep: a policy at one setting."""

    policy: str
    setting: str
    """the swept setting as a user would pass it (e.g. --reactive-target 0.7)"""
    cost: float
    """instance-minutes, warm minutes at their warm cost"""
    dropped_share: float

    def as_point(self) -> FrontierPoint:
        return FrontierPoint(self.cost, self.dropped_share)


def frontiers(points: Iterable[SweepPoint]) -> dict[str, Frontier]:
    """Each policy's frontier, in the order the policies first appear."""
    by_policy: dict[str, list[FrontierPoint]] = {}
    for point in points:
        by_policy.setdefault(point.policy, []).append(point.as_point())
    return {policy: frontier(line) for policy, line in by_policy.items()}


@dataclass(frozen=True)
class Frontier:
    points: tuple[FrontierPoint, ...]
    """the lower envelope, cost rising and dropped share falling strictly"""
    dearest: float
    """the dearest swept run's cost: up to it the envelope's last share holds, since a setting
    that pays that much drops no more than the cheaper one that reached it (its range ends
    there, not at the envelope's last point)"""

    @property
    def cost_range(self) -> tuple[float, float]:
        return self.points[0].cost, self.dearest

    def dropped_at(self, cost: float) -> float | None:
        """Dropped share at `cost`, linear between envelope points; None outside the range."""
        low, high = self.cost_range
        if not low <= cost <= high:
            return None
        if cost >= self.points[-1].cost:
            return self.points[-1].dropped_share
        for left, right in zip(self.points, self.points[1:], strict=False):
            if left.cost <= cost <= right.cost:
                share = (cost - left.cost) / (right.cost - left.cost)
                return left.dropped_share + share * (right.dropped_share - left.dropped_share)
        raise AssertionError("unreachable: the cost lies between two envelope points")


def frontier(points: Iterable[FrontierPoint]) -> Frontier:
    """The lower envelope: cheapest first, keeping a point only if it drops less than every
    cheaper one (a dearer setting that drops as much is never the one to pick)."""
    ordered = sorted(points, key=lambda p: (p.cost, p.dropped_share))
    if not ordered:
        raise ValueError("a frontier needs at least one point")
    kept: list[FrontierPoint] = []
    for point in ordered:
        if not kept or point.dropped_share < kept[-1].dropped_share:
            if kept and point.cost == kept[-1].cost:
                kept[-1] = point
            else:
                kept.append(point)
    return Frontier(tuple(kept), ordered[-1].cost)


@dataclass(frozen=True)
class EqualCost:
    """One point of a policy against the baselines' frontiers at the same cost."""

    point: FrontierPoint
    baseline_dropped: dict[str, float | None]
    """each baseline's dropped share at the point's cost (None: outside its cost range)"""

    @property
    def better_baseline(self) -> str | None:
        """The baseline that drops least at this cost, if every baseline covers the cost."""
        if not self.baseline_dropped or None in self.baseline_dropped.values():
            return None
        return min(self.baseline_dropped, key=lambda name: self.baseline_dropped[name] or 0.0)

    def ratio(self, baseline: str) -> float | None:
        """Dropped share over the baseline's at equal cost (inf if only the baseline drops none)."""
        theirs = self.baseline_dropped.get(baseline)
        if theirs is None:
            return None
        if theirs == 0.0:
            return 1.0 if self.point.dropped_share == 0.0 else math.inf
        return self.point.dropped_share / theirs


def at_equal_cost(
    points: Sequence[FrontierPoint], baselines: dict[str, Frontier]
) -> list[EqualCost]:
    return [
        EqualCost(point, {name: line.dropped_at(point.cost) for name, line in baselines.items()})
        for point in points
    ]
