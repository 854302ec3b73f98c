"""Drift checks wired: read a view, classify, track, store, alert, and apply the fleet's policy.

Each view runs on its own schedule (daemon jobs) or on demand (`fleetctl drift`):
- terraform: `plan -refresh-only -detailed-exitcode` against the last applied variables;
- aws: the groups and load balancers read with boto3, compared with the last applied variables.
A check that cannot run is a `failed` DriftCheck with the reason, never an exception, and it
leaves the view's findings as they were (not being able to look is not "the drift ended").

Policy per fleet (fleets[].drift_policy):
- reconcile: re-plan the last applied variables and gate-apply through the usual review and
  guardrails (a violated guardrail or apply_mode review holds it for `fleetctl approve`);
- report: alert; and the cycle's review holds any plan that would revert the drift (guardrail
  `drift_policy_report`) until a person approves it or adopts the change in config.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from controller.adapters.rendering import canonical_json
from controller.adapters.review_files import save_review
from controller.allocation.catalog import load_catalog
from controller.config import ControllerConfig
from controller.domain.allocation import (
    FleetAllocation,
    LoadBalancerAllocation,
    ScheduledAction,
    TargetTracking,
)
from controller.domain.applied import AppliedStack, Naming, applied_stack
from controller.domain.cloud import GroupView
from controller.domain.drift import (
    VIEWS,
    DriftCheck,
    DriftFinding,
    DriftView,
    TrackedFinding,
    outcome_of,
)
from controller.domain.errors import FleetError, PermanentError
from controller.domain.plan import PlanSummary
from controller.domain.state import SCHEMA_VERSION, PlanStatus
from controller.drift.aws_view import compare_group, compare_load_balancer
from controller.drift.policy import fleets_to_reconcile, reported_drift
from controller.drift.restore import RestoreAction, restore_actions
from controller.drift.terraform_view import classify_refresh
from controller.drift.tracking import alert_key, opened_message, resolved_message, track
from controller.review.guardrails import GuardrailResult
from controller.review.model import PlanReview
from controller.workflow.alerts import dispatch_alerts
from controller.workflow.review_step import (
    InForce,
    gate_and_apply,
    in_force,
    review_plan,
    reviews_dir,
)
from controller.workflow.state_document import drift_state
from controller.workflow.steps import AllocationSet
from controller.workflow.wiring import Controller


@dataclass(frozen=True)
class ReconcileOutcome:
    plan_id: str
    fleets: tuple[str, ...]
    status: PlanStatus
    review: PlanReview
    restore: tuple[RestoreAction, ...]

    def line(self) -> str:
        what = {
            "applied": "re-planned and applied",
            "no-changes": "re-planned: Terraform has nothing to change",
            "waiting-for-review": "re-planned; held for `fleetctl approve`",
            "plan-only": "re-planned; not applied (apply_mode: plan-only)",
            "failed": "failed",
        }[self.status]
        return f"reconcile {', '.join(self.fleets)}: {what} ({self.review.one_line()})"


@dataclass(frozen=True)
class DriftReport:
    check: DriftCheck
    findings: tuple[TrackedFinding, ...]
    opened: tuple[TrackedFinding, ...]
    resolved: tuple[TrackedFinding, ...]
    reconcile: ReconcileOutcome | None = None
    reconcile_note: str = ""
    """why a reconcile the policy asked for did not run, or how it failed"""

    def lines(self) -> list[str]:
        c = self.check
        counts = _counts(self.findings)
        head = f"drift {c.view:<9} {c.outcome}: {c.detail}" + (f" ({counts})" if counts else "")
        lines = [head]
        lines.extend(f"  new drift   {t.finding.describe()}" for t in self.opened)
        lines.extend(
            f"  resolved    {t.finding.resource} {t.finding.attribute}" for t in self.resolved
        )
        if self.reconcile is not None:
            lines.append(f"  {self.reconcile.line()}")
        if self.reconcile_note:
            lines.append(f"  reconcile   {self.reconcile_note}")
        return lines


# -- the two views --------------------------------------------------------------------------


def check_terraform(controller: Controller, now: datetime) -> DriftCheck:
    stack, variables = _applied(controller)
    if stack is None:
        return DriftCheck("terraform", now, "skipped", "nothing applied yet")
    controller.workspace.prepare()
    plan = controller.workspace.refresh_only(variables)
    findings = tuple(classify_refresh(plan, stack, now))
    detail = (
        f"plan -refresh-only exit {plan.exit_code} against plan {stack.plan_id}: "
        f"{len(plan.resources)} resource(s), {len(plan.outputs)} output(s) differ"
    )
    return DriftCheck("terraform", now, outcome_of(findings), detail, findings)


def check_aws(controller: Controller, now: datetime) -> DriftCheck:
    stack, _ = _applied(controller)
    if stack is None:
        return DriftCheck("aws", now, "skipped", "nothing applied yet")
    naming = Naming(controller.config.aws.name_prefix)
    findings: list[DriftFinding] = []
    target_groups: dict[str, str] = {}
    for fleet in stack.fleets.values():
        live = controller.cloud(fleet.region).describe_group(naming.group(fleet.name))
        if isinstance(live, GroupView):
            target_groups.update((arn, fleet.name) for arn in live.target_group_arns)
        findings.extend(compare_group(fleet, live, naming, now))
    for lb in stack.load_balancers.values():
        live_lb = controller.cloud(lb.region).describe_load_balancer(naming.load_balancer(lb.name))
        findings.extend(compare_load_balancer(lb, live_lb, target_groups, naming))
    detail = (
        f"{len(stack.fleets)} group(s), {len(stack.load_balancers)} load balancer(s) read "
        f"against plan {stack.plan_id}"
    )
    return DriftCheck("aws", now, outcome_of(tuple(findings)), detail, tuple(findings))


CHECKS: dict[DriftView, Callable[[Controller, datetime], DriftCheck]] = {
    "terraform": check_terraform,
    "aws": check_aws,
}


def enabled_views(config: ControllerConfig) -> tuple[DriftView, ...]:
    views: list[DriftView] = []
    if config.drift.terraform.enabled:
        views.append("terraform")
    if config.drift.aws.enabled:
        views.append("aws")
    return tuple(views)


# -- one check, end to end ------------------------------------------------------------------


def run_drift_check(controller: Controller, view: DriftView, reconcile: bool = True) -> DriftReport:
    """Check one view now; store, alert, apply the policy, refresh the state's drift section."""
    now = controller.clock.now()
    try:
        check = CHECKS[view](controller, now)
    except FleetError as exc:
        check = DriftCheck(view, now, "failed", str(exc))
    tracked = track(controller.drift_store.findings(view), check)
    controller.drift_store.record(check, tracked.findings)
    policies = _policies(controller.config)
    for t in tracked.opened:
        policy = (
            ", ".join(sorted({policies.get(f, "report") for f in t.finding.fleets})) or "report"
        )
        controller.alert_store.open(alert_key(t.finding), "drift", opened_message(t, policy), now)
    for t in tracked.resolved:
        controller.alert_store.resolve(
            alert_key(t.finding), resolved_message(t, f"{now:%Y-%m-%d %H:%MZ}"), now
        )
    dispatch_alerts(controller, now)
    outcome, note = None, ""
    if reconcile:
        outcome, note = _apply_reconcile_policy(controller, check, policies, now)
    refresh_state_drift(controller)
    return DriftReport(check, tracked.findings, tracked.opened, tracked.resolved, outcome, note)


def _apply_reconcile_policy(
    controller: Controller, check: DriftCheck, policies: dict[str, str], now: datetime
) -> tuple[ReconcileOutcome | None, str]:
    """Reconcile the fleets whose policy asks for it, if an apply can restore their drift.

    Drift Terraform cannot undo (something added by hand) is left to a person: re-planning it
    every check would only make empty plans. A reconcile plan still waiting for approval is not
    planned again each check.
    """
    restorable = {
        (a.resource, a.attribute)
        for a in restore_actions(check.drift, controller.config.aws.name_prefix)
        if a.automatic
    }
    findings = tuple(f for f in check.drift if (f.resource, f.attribute) in restorable)
    fleets = fleets_to_reconcile(findings, policies)
    if not fleets:
        manual = fleets_to_reconcile(check.drift, policies)
        return None, (
            f"{', '.join(manual)}: drift an apply cannot undo (added outside Terraform); "
            "remove it by hand"
            if manual
            else ""
        )
    waiting = [
        p
        for p in controller.plan_store.recent(20)
        if p.plan_id.startswith("reconcile-") and p.status == "waiting-for-review"
    ]
    if waiting:
        return None, f"plan {waiting[0].plan_id} still waits for `fleetctl approve`"
    try:
        return reconcile_fleets(controller, fleets, findings, now), ""
    except FleetError as exc:
        return None, f"{', '.join(fleets)} failed: {exc}"


def run_drift_checks(
    controller: Controller, views: tuple[DriftView, ...] = VIEWS, reconcile: bool = True
) -> list[DriftReport]:
    return [run_drift_check(controller, view, reconcile) for view in views]


def refresh_state_drift(controller: Controller) -> None:
    """Store a new state document version whose drift section is current (if one exists)."""
    latest = controller.state_store.get()
    if latest is None:
        return
    current = drift_state(controller)
    if current == latest.drift:
        return
    controller.state_store.save(
        latest.model_copy(
            update={
                "drift": current,
                "generated_at": datetime.now(UTC),
                "schema_version": SCHEMA_VERSION,
            }
        )
    )


# -- policy: reconcile ----------------------------------------------------------------------


def reconcile_fleets(
    controller: Controller,
    fleets: tuple[str, ...],
    findings: tuple[DriftFinding, ...],
    now: datetime,
) -> ReconcileOutcome:
    """Re-plan the last applied variables and gate-apply them like a cycle would.

    Holds the apply lock from writing the variables to the apply, so nothing else plans or
    applies in between (approve does the same).
    """
    last = controller.plan_store.last_applied()
    if last is None:
        raise PermanentError("nothing was applied yet, so there is nothing to reconcile to")
    variables = last.variables
    digest = hashlib.sha256(canonical_json(variables).encode()).hexdigest()[:8]
    plan_id = f"reconcile-{now:%Y%m%dT%H%M%S}-{digest}"
    allocation = allocation_from_variables(variables, controller.config)
    workspace = controller.workspace
    with workspace.apply_lock(f"reconcile {plan_id}"):
        workspace.prepare()
        controller.renderer.write_variables(variables, workspace.stack_dir)
        plan: PlanSummary = workspace.plan(plan_id)
        # the same review as a cycle's, report-policy hold included: restoring one fleet must
        # not revert a change another fleet's policy says to leave to a person
        review = review_with_drift_policy(controller, plan, allocation, in_force(last), now)
        controller.plan_store.add(
            plan_id,
            last.cycle_id,
            now,
            "planned",
            {
                "describe": plan.describe(),
                "review": review.to_dict(),
                "reconcile": {
                    "fleets": list(fleets),
                    "restores_plan": last.plan_id,
                    "findings": [f"{f.resource} {f.attribute}" for f in findings],
                },
            },
            variables,
        )
        status = gate_and_apply(controller, review)
    controller.plan_store.set_status(plan_id, status)
    restore = tuple(restore_actions(findings, controller.config.aws.name_prefix))
    return ReconcileOutcome(plan_id, fleets, status, review, restore)


def allocation_from_variables(
    variables: dict[str, object], config: ControllerConfig
) -> AllocationSet:
    """The allocation a set of applied variables stands for (so it can be reviewed again)."""
    stack = applied_stack("applied", datetime.min.replace(tzinfo=UTC), variables)
    catalog = load_catalog()
    fleets = []
    for f in stack.fleets.values():
        kind = catalog.get(f.instance_type)
        fleets.append(
            FleetAllocation(
                fleet=f.name,
                region=f.region,
                instance_type=f.instance_type,
                desired_now=f.desired_capacity,
                min_size=f.min_size,
                max_size=f.max_size,
                desired_per_step=(f.desired_capacity,),
                scheduled_actions=tuple(
                    ScheduledAction(
                        a.name, a.start_time, a.desired_capacity, a.min_size, a.max_size
                    )
                    for a in f.scheduled_actions
                ),
                lb_capacity_units=stack.load_balancers[f.load_balancer].capacity_units
                if f.load_balancer in stack.load_balancers
                else 0,
                reasons=("reconcile: restores what the last applied plan put in force",),
                load_balancer="" if f.load_balancer == f.name else f.load_balancer,
                target_tracking=TargetTracking(
                    target_value=f.target_cpu_utilization, warmup_seconds=f.instance_warmup
                ),
                price_per_hour=kind.price(f.region) if kind else None,
            )
        )
    balancers = [
        LoadBalancerAllocation(lb.name, lb.region, lb.capacity_units, dict(lb.weights))
        for lb in stack.load_balancers.values()
    ]
    order = {fleet.name: i for i, fleet in enumerate(config.fleets)}
    fleets.sort(key=lambda a: order.get(a.fleet, len(order)))
    return AllocationSet(fleets, balancers)


# -- policy: report -------------------------------------------------------------------------


def review_with_drift_policy(
    controller: Controller,
    plan: PlanSummary,
    allocation: AllocationSet,
    before: InForce,
    now: datetime,
) -> PlanReview:
    """The cycle's review, plus the `drift_policy_report` guardrail (see hold_reported_drift)."""
    review = review_plan(controller, plan, allocation, before, now)
    held = hold_reported_drift(controller, review)
    if held is not review:
        save_review(held, reviews_dir(controller.config))
    return held


def hold_reported_drift(controller: Controller, review: PlanReview) -> PlanReview:
    """Hold a plan that would revert open drift of a fleet whose policy is `report`."""
    if review.verdict not in ("apply", "needs-approval"):
        return review
    open_drift = [t.finding for t in controller.drift_store.findings() if t.finding.is_drift]
    held = reported_drift(open_drift, _policies(controller.config))
    if not held:
        return review
    touched = {f.name for f in review.fleets if f.has_changes}
    touched.update(fleet for lb in review.load_balancers if lb.changes for fleet in lb.weights)
    hits = {fleet: found for fleet, found in sorted(held.items()) if fleet in touched}
    if not hits:
        return review
    message = "; ".join(
        f"{fleet}: the plan would revert drift ({', '.join(f'{f.resource} {f.attribute}' for f in found)}) "
        "and its drift_policy is report: approve to revert it, or adopt the change in config"
        for fleet, found in hits.items()
    )
    result = GuardrailResult("drift_policy_report", False, message)
    return replace(review, guardrails=(*review.guardrails, result), verdict="held")


def _applied(controller: Controller) -> tuple[AppliedStack | None, dict[str, object]]:
    last = controller.plan_store.last_applied()
    if last is None:
        return None, {}
    return applied_stack(last.plan_id, last.created_at, last.variables), last.variables


def _policies(config: ControllerConfig) -> dict[str, str]:
    return {fleet.name: fleet.drift_policy for fleet in config.fleets}


def _counts(findings: tuple[TrackedFinding, ...]) -> str:
    by: dict[str, int] = {}
    for t in findings:
        by[t.finding.classification] = by.get(t.finding.classification, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in sorted(by.items()))
