"""Guardrails: limits a plan must stay within to apply without a person approving it.

A violated guardrail never fails the cycle: it holds the plan for approval and says why in words
(Atlantis' apply requirements: a human reason, apart from system errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from controller.domain.plan import ResourceChange

if TYPE_CHECKING:
    from controller.review.model import FleetReview

PROTECTED_TYPES = {"aws_autoscaling_group", "aws_lb"}
PROTECTED_LOCAL_NAMES = {"autoscaling_group", "load_balancer"}
"""terraform_data stand-ins for groups and load balancers in stacks/local"""


@dataclass(frozen=True)
class Guardrails:
    max_change_per_cycle: int | None = None
    max_instances: int | None = None
    max_cost_increase_per_hour: float | None = None
    allow_destroy: bool = False
    allowed_instance_types: tuple[str, ...] | None = None


@dataclass(frozen=True)
class GuardrailResult:
    name: str
    ok: bool
    message: str


def check_guardrails(
    rules: Guardrails,
    fleets: Sequence[FleetReview],
    changes: Sequence[ResourceChange],
    cost_now: float | None,
    cost_planned: float | None,
) -> tuple[GuardrailResult, ...]:
    results = []
    if rules.max_change_per_cycle is not None:
        limit = rules.max_change_per_cycle
        moves = [(abs(f.capacity_planned - (f.capacity_now or 0)), f) for f in fleets]
        largest = max((d for d, _ in moves), default=0)
        over = [
            f"{f.name} {f.capacity_now if f.capacity_now is not None else 'new'} -> "
            f"{f.capacity_planned} changes {d} instances, more than max_change_per_cycle {limit}"
            for d, f in moves
            if d > limit
        ]
        results.append(
            GuardrailResult(
                "max_change_per_cycle",
                not over,
                "; ".join(over)
                or f"largest change {largest} instance{'s' if largest != 1 else ''} (limit {limit})",
            )
        )
    if rules.max_instances is not None:
        limit = rules.max_instances
        over = [
            f"{f.name} is planned to reach {f.peak_planned} instances, above max_instances {limit}"
            for f in fleets
            if f.peak_planned > limit
        ]
        peak = max((f.peak_planned for f in fleets), default=0)
        results.append(
            GuardrailResult(
                "max_instances", not over, "; ".join(over) or f"peak {peak} (limit {limit})"
            )
        )
    if rules.max_cost_increase_per_hour is not None:
        budget = rules.max_cost_increase_per_hour
        if cost_planned is None:
            results.append(
                GuardrailResult(
                    "max_cost_increase_per_hour",
                    False,
                    "cost increase unknown: no cited price for a fleet's region",
                )
            )
        else:
            increase = cost_planned - (cost_now or 0.0)
            ok = increase <= budget + 1e-9
            results.append(
                GuardrailResult(
                    "max_cost_increase_per_hour",
                    ok,
                    f"cost rises ${increase:.2f}/h"
                    + ("" if ok else f", more than max_cost_increase_per_hour ${budget:.2f}")
                    if increase > 0
                    else f"cost changes -${abs(increase):.2f}/h (limit +${budget:.2f})",
                )
            )
    if not rules.allow_destroy:
        doomed = [
            f"{c.address} would be {'replaced' if c.action == 'replace' else 'destroyed'}"
            for c in changes
            if c.action in ("delete", "replace") and _protected(c)
        ]
        results.append(
            GuardrailResult(
                "no_destroy",
                not doomed,
                "; ".join(doomed) or "no group or load balancer is destroyed or replaced",
            )
        )
    if rules.allowed_instance_types is not None:
        allowed = rules.allowed_instance_types
        bad = [
            f"{f.name} would run {f.instance_type_planned}, not in allowed_instance_types "
            f"({', '.join(allowed)})"
            for f in fleets
            if f.instance_type_planned not in allowed
        ]
        results.append(
            GuardrailResult(
                "allowed_instance_types", not bad, "; ".join(bad) or "every type is allowed"
            )
        )
    return tuple(results)


def _protected(change: ResourceChange) -> bool:
    if change.type in PROTECTED_TYPES:
        return True
    return change.type == "terraform_data" and change.name in PROTECTED_LOCAL_NAMES
