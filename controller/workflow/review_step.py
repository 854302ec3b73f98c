"""Review, gate and approval of plans: guardrails from config, baseline from the last apply.

tofu-controller's approval flow: a held plan is applied only by `fleetctl approve PLAN_ID`, which
first plans again from the same variables and refuses if the plan is not the one reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from controller.adapters.review_files import save_review
from controller.adapters.storage.plan_store import StoredPlan
from controller.allocation.catalog import Catalog, load_catalog
from controller.config import ControllerConfig
from controller.domain.applied import AppliedFleet, applied_stack
from controller.domain.errors import InputError, PermanentError
from controller.domain.plan import PlanSummary
from controller.domain.state import PlanStatus
from controller.review.guardrails import Guardrails
from controller.review.model import FleetBaseline, PlanReview, build_review
from controller.workflow.state_document import with_plan_applied
from controller.workflow.steps import AllocationSet
from controller.workflow.wiring import Controller

APPROVABLE = ("waiting-for-review", "plan-only")


def reviews_dir(config: ControllerConfig) -> Path:
    return config.data_dir / "plans"


def guardrails_from(config: ControllerConfig) -> Guardrails:
    g = config.guardrails
    return Guardrails(
        max_change_per_cycle=g.max_change_per_cycle,
        max_instances=g.max_instances,
        max_cost_increase_per_hour=g.max_cost_increase_per_hour,
        allow_destroy=g.allow_destroy,
        allowed_instance_types=tuple(g.allowed_instance_types)
        if g.allowed_instance_types is not None
        else None,
    )


@dataclass(frozen=True)
class InForce:
    """What the last applied plan put in force."""

    fleets: dict[str, FleetBaseline]
    lb_units: dict[str, int]
    scheduled: dict[str, AppliedFleet] = field(default_factory=dict)

    @property
    def instance_types(self) -> dict[str, str]:
        return {name: f.instance_type for name, f in self.fleets.items()}

    def capacity_at(self, when: datetime) -> dict[str, int]:
        """Per fleet, the desired capacity the applied plan's schedule set for `when`: where a
        new plan's bounded scale-in steps start from."""
        return {name: fleet.capacity_at(when) for name, fleet in self.scheduled.items()}


def in_force(last: StoredPlan | None, catalog: Catalog | None = None) -> InForce:
    if last is None:
        return InForce({}, {})
    catalog = catalog or load_catalog()
    applied = applied_stack(last.plan_id, last.created_at, last.variables)
    baseline = {}
    for name, fleet in applied.fleets.items():
        kind = catalog.get(fleet.instance_type)
        baseline[name] = FleetBaseline(
            capacity=fleet.desired_capacity,
            instance_type=fleet.instance_type,
            max_size=fleet.max_size,
            price_per_hour=kind.price(fleet.region) if kind else None,
        )
    units = {name: lb.capacity_units for name, lb in applied.load_balancers.items()}
    return InForce(baseline, units, applied.fleets)


def review_plan(
    controller: Controller,
    plan: PlanSummary,
    allocation: AllocationSet,
    before: InForce,
    now: datetime,
) -> PlanReview:
    """Build the review, save it as Markdown and JSON under the plan id, return it."""
    review = build_review(
        plan,
        allocation.fleets,
        allocation.load_balancers,
        before.fleets,
        before.lb_units,
        guardrails_from(controller.config),
        controller.config.apply_mode,
        now,
    )
    save_review(review, reviews_dir(controller.config))
    return review


def gate_and_apply(controller: Controller, review: PlanReview) -> PlanStatus:
    """The review's verdict decides; a violated guardrail holds the plan for approval.

    A failed apply raises with Terraform's diagnostics: the plan is marked failed and the cycle
    stops before the state step, so the previous state document stays in place.
    """
    if review.verdict == "no-changes":
        return "no-changes"
    if review.verdict == "plan-only":
        return "plan-only"
    if review.verdict in ("needs-approval", "held"):
        return "waiting-for-review"
    try:
        controller.workspace.apply(review.plan_id)
    except BaseException:
        controller.plan_store.set_status(review.plan_id, "failed")
        raise
    return "applied"


@dataclass(frozen=True)
class Approval:
    plan_id: str
    recheck_id: str
    applied: bool
    message: str


def approve(controller: Controller, plan_id: str) -> Approval:
    """Re-plan the approved variables; apply the saved plan only if nothing changed."""
    stored = controller.plan_store.get(plan_id)
    if stored is None:
        raise InputError(f"no plan {plan_id!r} in {controller.config.sqlalchemy_url}")
    if stored.status not in APPROVABLE:
        raise InputError(
            f"plan {plan_id} is {stored.status}; only a plan waiting for review can be approved"
        )
    newer = controller.plan_store.newest_after(stored.cycle_id)
    if newer is not None:
        raise PermanentError(
            f"refused: plan {plan_id} was superseded by plan {newer.plan_id} (cycle "
            f"{newer.cycle_id}, {newer.status}), planned from newer forecasts; "
            + (
                f"review that one and run `fleetctl approve {newer.plan_id}`"
                if newer.status in APPROVABLE
                else "nothing older may be applied over it"
            )
        )
    review = stored.summary.get("review")
    if not isinstance(review, dict) or not review.get("fingerprint"):
        raise PermanentError(f"plan {plan_id} has no reviewed fingerprint to compare against")
    workspace = controller.workspace
    recheck_id = f"{plan_id}-recheck"
    with workspace.apply_lock(f"approve {plan_id}"):
        workspace.prepare()
        controller.renderer.write_variables(stored.variables, workspace.stack_dir)
        again = workspace.plan(recheck_id)
        if again.fingerprint != review["fingerprint"]:
            controller.plan_store.set_status(plan_id, "stale")
            raise PermanentError(
                f"refused: plan {plan_id} changed since it was reviewed (now: "
                f"{again.describe()}); the state or the stack moved. Run `fleetctl plan` and "
                f"review the new plan."
            )
        try:
            workspace.apply(plan_id, holder="approve")
        except BaseException:
            controller.plan_store.set_status(plan_id, "failed")
            raise
    controller.plan_store.set_status(plan_id, "applied")
    _record_applied(controller, stored, review)
    return Approval(plan_id, recheck_id, True, f"plan {plan_id} re-planned unchanged and applied")


def _record_applied(controller: Controller, stored: StoredPlan, review: dict[str, object]) -> None:
    """Say applied at once: the review files and a new state document version (and state.json),
    rather than leaving both at 'waiting for approval' until the next cycle."""
    applied = PlanReview.from_dict(review)
    save_review(replace(applied, applied_at=controller.clock.now()), reviews_dir(controller.config))
    document = controller.state_store.get()
    if document is not None:
        controller.state_store.save(with_plan_applied(document, stored))
