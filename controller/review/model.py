"""PlanReview: a plan read for people (Atlantis) and for the gate (guardrails), pure data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from controller.domain.allocation import HOURS_PER_MONTH, FleetAllocation, LoadBalancerAllocation
from controller.domain.plan import VERBS, PlanSummary, ResourceChange
from controller.review.guardrails import GuardrailResult, Guardrails, check_guardrails

Verdict = Literal["no-changes", "apply", "needs-approval", "held", "plan-only"]


@dataclass(frozen=True)
class FleetBaseline:
    """What is in force for a fleet (from the last applied plan)."""

    capacity: int
    instance_type: str
    max_size: int
    price_per_hour: float | None


@dataclass(frozen=True)
class ScheduleEntry:
    start: str
    desired: int
    max_size: int


@dataclass(frozen=True)
class FleetReview:
    name: str
    region: str
    capacity_now: int | None
    capacity_planned: int
    peak_planned: int
    min_size: int
    max_size_now: int | None
    max_size_planned: int
    instance_type_now: str | None
    instance_type_planned: str
    lb_name: str
    cost_per_hour_now: float | None
    cost_per_hour_planned: float | None
    schedule: tuple[ScheduleEntry, ...]
    reasons: tuple[str, ...]
    changes: tuple[ResourceChange, ...]
    warm_pool: WarmPoolReview | None = None

    @property
    def has_changes(self) -> bool:
        return any(c.action not in ("no-op", "read") for c in self.changes)


@dataclass(frozen=True)
class WarmPoolReview:
    """The fleet's warm pool at the planned capacity now: stopped instances and what they cost
    (their EBS volumes, not the instance price). Not part of the plan's cost totals."""

    state: str
    instances: int
    min_size: int
    max_prepared: int
    billed_gib: float | None
    usd_per_gib_month: float | None
    cost_per_hour: float | None


@dataclass(frozen=True)
class LoadBalancerReview:
    name: str
    capacity_units_now: int | None
    capacity_units_planned: int
    weights: dict[str, int]
    reasons: tuple[str, ...]
    changes: tuple[ResourceChange, ...]


@dataclass(frozen=True)
class PlanReview:
    plan_id: str
    created_at: datetime
    apply_mode: str
    fingerprint: str
    fleets: tuple[FleetReview, ...]
    load_balancers: tuple[LoadBalancerReview, ...]
    counts: dict[str, int]
    other_changes: tuple[ResourceChange, ...]
    cost_per_hour_now: float | None
    cost_per_hour_planned: float | None
    guardrails: tuple[GuardrailResult, ...]
    verdict: Verdict
    unpriced_regions: tuple[str, ...] = field(default_factory=tuple)
    applied_at: datetime | None = None
    """set when a held plan was approved and applied (the review files are rewritten then)"""

    @property
    def has_changes(self) -> bool:
        return any(self.counts.values())

    @property
    def violations(self) -> tuple[GuardrailResult, ...]:
        return tuple(g for g in self.guardrails if not g.ok)

    def describe_changes(self) -> str:
        if not self.has_changes:
            return "no changes"
        return ", ".join(f"{n} to {verb}" for verb, n in self.counts.items() if n)

    def cost_line(self) -> str:
        return describe_cost(self.cost_per_hour_now, self.cost_per_hour_planned)

    def one_line(self, outcome: str | None = None) -> str:
        """The verdict in one line: changes, cost, guardrails, what happened."""
        guard = (
            "guardrails ok"
            if not self.violations
            else "held: " + "; ".join(v.message for v in self.violations)
        )
        parts = [f"plan {self.plan_id}: {self.describe_changes()}", self.cost_line(), guard]
        if outcome:
            parts.append(outcome)
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["applied_at"] = self.applied_at.isoformat() if self.applied_at else None
        data["one_line"] = self.one_line("applied" if self.applied_at else None)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanReview:
        """A review read back from to_dict's output (a stored review, to be rendered again)."""
        applied = data.get("applied_at")
        return cls(
            plan_id=data["plan_id"],
            created_at=datetime.fromisoformat(data["created_at"]),
            apply_mode=data["apply_mode"],
            fingerprint=data["fingerprint"],
            fleets=tuple(_fleet_review_from(f) for f in data["fleets"]),
            load_balancers=tuple(
                LoadBalancerReview(
                    name=lb["name"],
                    capacity_units_now=lb["capacity_units_now"],
                    capacity_units_planned=lb["capacity_units_planned"],
                    weights=dict(lb["weights"]),
                    reasons=tuple(lb["reasons"]),
                    changes=_changes_from(lb["changes"]),
                )
                for lb in data["load_balancers"]
            ),
            counts=dict(data["counts"]),
            other_changes=_changes_from(data["other_changes"]),
            cost_per_hour_now=data["cost_per_hour_now"],
            cost_per_hour_planned=data["cost_per_hour_planned"],
            guardrails=tuple(GuardrailResult(**g) for g in data["guardrails"]),
            verdict=data["verdict"],
            unpriced_regions=tuple(data.get("unpriced_regions", ())),
            applied_at=datetime.fromisoformat(applied) if applied else None,
        )


def _changes_from(items: Sequence[Mapping[str, Any]]) -> tuple[ResourceChange, ...]:
    return tuple(ResourceChange(**c) for c in items)


def _fleet_review_from(data: Mapping[str, Any]) -> FleetReview:
    fields = dict(data)
    fields["schedule"] = tuple(ScheduleEntry(**s) for s in data["schedule"])
    fields["reasons"] = tuple(data["reasons"])
    fields["changes"] = _changes_from(data["changes"])
    pool = data.get("warm_pool")
    fields["warm_pool"] = WarmPoolReview(**pool) if pool else None
    return FleetReview(**fields)


def describe_cost(now: float | None, planned: float | None) -> str:
    if planned is None:
        return "cost n/a (no cited price for the region)"
    if now is None:
        return f"cost new -> ${planned:.2f}/h (${planned * HOURS_PER_MONTH:,.0f}/month)"
    delta = planned - now
    if abs(delta) < 0.005:
        return f"cost ${planned:.2f}/h unchanged (${planned * HOURS_PER_MONTH:,.0f}/month)"
    sign = "+" if delta > 0 else "-"
    return (
        f"cost ${now:.2f}/h -> ${planned:.2f}/h ({sign}${abs(delta):.2f}/h, "
        f"${now * HOURS_PER_MONTH:,.0f} -> ${planned * HOURS_PER_MONTH:,.0f}/month)"
    )


def build_review(
    plan: PlanSummary,
    allocations: Sequence[FleetAllocation],
    load_balancers: Sequence[LoadBalancerAllocation],
    baseline: Mapping[str, FleetBaseline],
    lb_baseline: Mapping[str, int],
    guardrails: Guardrails,
    apply_mode: str,
    created_at: datetime,
) -> PlanReview:
    fleets = tuple(_fleet_review(a, baseline.get(a.fleet), plan.changes) for a in allocations)
    balancers = tuple(
        LoadBalancerReview(
            name=lb.name,
            capacity_units_now=lb_baseline.get(lb.name),
            capacity_units_planned=lb.capacity_units,
            weights=dict(lb.weights),
            reasons=lb.reasons,
            changes=_changes_of(lb.name, plan.changes, ("load_balancer", "edge")),
        )
        for lb in load_balancers
    )
    claimed = {c.address for f in fleets for c in f.changes} | {
        c.address for lb in balancers for c in lb.changes
    }
    other = tuple(
        c for c in plan.changes if c.address not in claimed and c.action not in ("no-op", "read")
    )
    counts = {verb: plan.count(action) for action, verb in VERBS}
    now_cost = _total([f.cost_per_hour_now for f in fleets if f.capacity_now is not None])
    planned_cost = _total([f.cost_per_hour_planned for f in fleets])
    results = check_guardrails(guardrails, fleets, plan.changes, now_cost, planned_cost)
    verdict: Verdict
    if not plan.has_changes:
        verdict = "no-changes"
    elif any(not r.ok for r in results):
        verdict = "held"
    elif apply_mode == "plan-only":
        verdict = "plan-only"
    elif apply_mode == "review":
        verdict = "needs-approval"
    else:
        verdict = "apply"
    unpriced = tuple(sorted({a.region for a in allocations if a.price_per_hour is None}))
    return PlanReview(
        plan_id=plan.plan_id,
        created_at=created_at,
        apply_mode=apply_mode,
        fingerprint=plan.fingerprint,
        fleets=fleets,
        load_balancers=balancers,
        counts=counts,
        other_changes=other,
        cost_per_hour_now=now_cost if any(f.capacity_now is not None for f in fleets) else None,
        cost_per_hour_planned=planned_cost,
        guardrails=results,
        verdict=verdict,
        unpriced_regions=unpriced,
    )


def _fleet_review(
    allocation: FleetAllocation, before: FleetBaseline | None, changes: Sequence[ResourceChange]
) -> FleetReview:
    price_now = before.price_per_hour if before else None
    return FleetReview(
        name=allocation.fleet,
        region=allocation.region,
        capacity_now=before.capacity if before else None,
        capacity_planned=allocation.desired_now,
        peak_planned=max(
            [allocation.desired_now, *(a.desired for a in allocation.scheduled_actions)]
        ),
        min_size=allocation.min_size,
        max_size_now=before.max_size if before else None,
        max_size_planned=allocation.max_size,
        instance_type_now=before.instance_type if before else None,
        instance_type_planned=allocation.instance_type,
        lb_name=allocation.lb_name,
        cost_per_hour_now=before.capacity * price_now if before and price_now is not None else None,
        cost_per_hour_planned=allocation.cost_per_hour,
        schedule=tuple(
            ScheduleEntry(a.start.strftime("%Y-%m-%d %H:%MZ"), a.desired, a.max_size)
            for a in allocation.scheduled_actions
        ),
        reasons=allocation.reasons,
        changes=_changes_of(allocation.fleet, changes, ("fleet",)),
        warm_pool=_warm_pool_review(allocation),
    )


def _warm_pool_review(allocation: FleetAllocation) -> WarmPoolReview | None:
    pool = allocation.warm_pool
    if pool is None:
        return None
    return WarmPoolReview(
        state=pool.pool_state,
        instances=pool.size_at(allocation.desired_now),
        min_size=pool.min_size,
        max_prepared=pool.max_group_prepared_capacity,
        billed_gib=pool.billed_gib,
        usd_per_gib_month=pool.usd_per_gib_month,
        cost_per_hour=pool.cost_per_hour(allocation.desired_now),
    )


def _changes_of(
    key: str, changes: Sequence[ResourceChange], modules: tuple[str, ...]
) -> tuple[ResourceChange, ...]:
    """Changes addressed by `key`: resource["key"], resource["key/..."] or module.x["key"]."""
    markers = [f'["{key}"]', f'["{key}/']
    module_markers = [f'module.{m}["{key}"]' for m in modules]
    found = []
    for change in changes:
        if change.action in ("no-op", "read"):
            continue
        address = change.address
        if address.startswith("module."):
            if any(address.startswith(m) for m in module_markers):
                found.append(change)
        elif any(m in address for m in markers) and _kind_matches(change, modules):
            found.append(change)
    return tuple(found)


def _kind_matches(change: ResourceChange, modules: tuple[str, ...]) -> bool:
    is_lb = change.name == "load_balancer"
    return is_lb if "edge" in modules else not is_lb


def _total(values: Sequence[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return float(sum(v for v in values if v is not None))
