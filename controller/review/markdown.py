"""PlanReview -> Markdown a reviewer reads: header, a section per fleet, footer with counts.

Built from small pieces, Atlantis-style; long detail (schedules, reasons, resource lists) is
folded in <details> so the page stays short.
"""

from __future__ import annotations

from controller.domain.allocation import HOURS_PER_MONTH
from controller.domain.plan import ResourceChange
from controller.review.model import (
    FleetReview,
    LoadBalancerReview,
    PlanReview,
    WarmPoolReview,
    describe_cost,
)

SYMBOL = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}
VERDICT = {
    "no-changes": "nothing to apply",
    "apply": "applies automatically (apply_mode: auto, guardrails ok)",
    "needs-approval": "waiting for approval: `fleetctl approve {plan_id}`",
    "held": "HELD for approval by a guardrail: `fleetctl approve {plan_id}`",
    "plan-only": "not applied (apply_mode: plan-only)",
}


def render_markdown(review: PlanReview) -> str:
    parts = [_header(review)]
    parts.extend(_fleet_section(f, review) for f in review.fleets)
    parts.extend(_lb_section(lb) for lb in review.load_balancers if lb.changes or lb.reasons)
    if review.other_changes:
        parts.append(_folded("Other resource changes", _change_list(review.other_changes)))
    parts.append(_guardrails(review))
    parts.append(_footer(review))
    return "\n\n".join(p for p in parts if p) + "\n"


def _header(review: PlanReview) -> str:
    verdict = VERDICT[review.verdict].format(plan_id=review.plan_id)
    if review.applied_at is not None:
        verdict = f"approved and applied {review.applied_at:%Y-%m-%d %H:%MZ}"
    return (
        f"### Plan `{review.plan_id}`: {review.describe_changes()}\n"
        f"{review.created_at:%Y-%m-%d %H:%MZ} · apply mode `{review.apply_mode}` · **{verdict}**\n\n"
        "| fleet | capacity now -> planned | peak ahead | instance type | cost per hour |\n"
        "|---|---|---|---|---|\n"
        + "\n".join(
            f"| `{f.name}` | {_arrow(f.capacity_now, f.capacity_planned)} | {f.peak_planned} "
            f"| {_arrow(f.instance_type_now, f.instance_type_planned)} "
            f"| {_money_arrow(f.cost_per_hour_now, f.cost_per_hour_planned)} |"
            for f in review.fleets
        )
    )


def _fleet_section(fleet: FleetReview, review: PlanReview) -> str:
    lines = [f"#### Fleet `{fleet.name}` ({fleet.region})"]
    lines.append(
        f"- capacity: {_arrow(fleet.capacity_now, fleet.capacity_planned)} instances "
        f"(min {fleet.min_size}, max {_max(fleet.max_size_now, fleet.max_size_planned)}), "
        f"peak {fleet.peak_planned} within the schedule"
    )
    if fleet.instance_type_now and fleet.instance_type_now != fleet.instance_type_planned:
        lines.append(
            f"- instance type: **{fleet.instance_type_now} -> {fleet.instance_type_planned}**"
        )
    elif fleet.instance_type_now is None:
        lines.append(f"- instance type: {fleet.instance_type_planned} (new)")
    else:
        lines.append(f"- instance type: {fleet.instance_type_planned} (unchanged)")
    lb = next((b for b in review.load_balancers if b.name == fleet.lb_name), None)
    if lb is not None:
        lines.append(
            f"- load balancer `{lb.name}`: "
            f"{_arrow(lb.capacity_units_now, lb.capacity_units_planned)} LCU reserved"
            + (f", weight {lb.weights.get(fleet.name)}" if len(lb.weights) > 1 else "")
        )
    lines.append(f"- {describe_cost(fleet.cost_per_hour_now, fleet.cost_per_hour_planned)}")
    if fleet.warm_pool is not None:
        lines.append(_warm_pool_line(fleet.warm_pool))
    lines.append(f"- resources: {_count_changes(fleet.changes)}")
    body = "\n".join(lines)
    schedule = (
        "| start (UTC) | desired | max |\n|---|---|---|\n"
        + "\n".join(f"| {s.start} | {s.desired} | {s.max_size} |" for s in fleet.schedule)
        if fleet.schedule
        else "no change of capacity within the schedule horizon"
    )
    return "\n\n".join(
        [
            body,
            _folded(f"Schedule: {len(fleet.schedule)} scheduled actions", schedule),
            _folded("Why these numbers", "\n".join(f"- {r}" for r in fleet.reasons)),
            _folded(f"Resource changes ({len(fleet.changes)})", _change_list(fleet.changes))
            if fleet.changes
            else "",
        ]
    ).strip()


def _warm_pool_line(pool: WarmPoolReview) -> str:
    line = (
        f"- warm pool: {pool.instances} {pool.state.lower()} at the planned capacity now "
        f"(min {pool.min_size}, max prepared {pool.max_prepared})"
    )
    if pool.cost_per_hour is None or pool.billed_gib is None or pool.usd_per_gib_month is None:
        return line + ", cost n/a (no volume size or price)"
    return (
        f"{line}, ${pool.cost_per_hour:.4f}/h (${pool.cost_per_hour * HOURS_PER_MONTH:,.2f}"
        f"/month): their EBS volumes only, {pool.billed_gib:g} GiB each at "
        f"${pool.usd_per_gib_month:g}/GiB-month, not in the totals"
    )


def _lb_section(lb: LoadBalancerReview) -> str:
    body = (
        f"- reservation: {_arrow(lb.capacity_units_now, lb.capacity_units_planned)} LCU\n"
        f"- weights: {', '.join(f'{k} {v}' for k, v in sorted(lb.weights.items()))}\n"
        f"- resources: {_count_changes(lb.changes)}"
    )
    why = _folded("Why", "\n".join(f"- {r}" for r in lb.reasons)) if lb.reasons else ""
    return f"#### Load balancer `{lb.name}`\n{body}\n\n{why}".strip()


def _guardrails(review: PlanReview) -> str:
    if not review.guardrails:
        return "#### Guardrails\nnone configured"
    rows = "\n".join(
        f"- {'ok' if g.ok else '**VIOLATED**'} `{g.name}`: {g.message}" for g in review.guardrails
    )
    return f"#### Guardrails\n{rows}"


def _footer(review: PlanReview) -> str:
    changed = sum(1 for f in review.fleets if f.has_changes)
    cost = review.cost_line()
    if review.cost_per_hour_planned is not None:
        cost += f" at the planned capacity now ({HOURS_PER_MONTH} h/month)"
    unpriced = (
        f"; no cited price for {', '.join(review.unpriced_regions)}"
        if review.unpriced_regions
        else ""
    )
    return (
        f"---\n{len(review.fleets)} fleets, {changed} with changes, "
        f"{len(review.fleets) - changed} with no changes · {review.describe_changes()} · "
        f"{cost}{unpriced}"
    )


def _folded(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _change_list(changes: tuple[ResourceChange, ...]) -> str:
    return "\n".join(f"- `{SYMBOL.get(c.action, '?')} {c.address}` ({c.action})" for c in changes)


def _count_changes(changes: tuple[ResourceChange, ...]) -> str:
    if not changes:
        return "no changes"
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.action] = counts.get(c.action, 0) + 1
    verbs = {"create": "add", "update": "change", "replace": "replace", "delete": "destroy"}
    return ", ".join(f"{n} to {verbs.get(a, a)}" for a, n in counts.items())


def _arrow(before: object, after: object) -> str:
    if before is None:
        return f"new -> {after}"
    return str(after) if before == after else f"{before} -> {after}"


def _money_arrow(before: float | None, after: float | None) -> str:
    if after is None:
        return "n/a"
    if before is None:
        return f"new -> ${after:.2f}"
    return f"${after:.2f}" if abs(before - after) < 0.005 else f"${before:.2f} -> ${after:.2f}"


def _max(before: int | None, after: int) -> str:
    return str(after) if before is None or before == after else f"{before} -> {after}"
