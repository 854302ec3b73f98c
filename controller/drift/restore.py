"""What a reconcile would restore, decided from the findings (Karpenter: decide, then do).

Terraform restores only what it manages: an attribute of a resource it created. A scheduled
action, scaling policy, listener or rule someone *added* is not in Terraform's state, so no
apply removes it; the decision says so instead of promising it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from controller.domain.drift import DriftFinding

_TERRAFORM_RESOURCE = {
    "autoscaling_group": 'module.fleet["{fleet}"].aws_autoscaling_group.this',
    "scheduled_action": 'module.fleet["{fleet}"].aws_autoscaling_schedule.forecast["{name}"]',
    "scaling_policy": 'module.fleet["{fleet}"].aws_autoscaling_policy.target_tracking',
    "load_balancer": 'module.edge["{lb}"].aws_lb.this',
    "listener": 'module.edge["{lb}"].aws_lb_listener.http',
    "listener_rule": 'module.edge["{lb}"].aws_lb_listener_rule.weighted',
}


@dataclass(frozen=True)
class RestoreAction:
    resource: str
    attribute: str
    live: JsonValue
    restored_to: JsonValue
    terraform_address: str | None
    """the resource an apply changes; None when Terraform does not manage what drifted"""
    automatic: bool
    """True when re-planning and applying restores it"""
    note: str


def restore_actions(findings: Sequence[DriftFinding], prefix: str = "fleet") -> list[RestoreAction]:
    """One action per drift finding (expected and unknown findings need none)."""
    actions = []
    for f in findings:
        if not f.is_drift:
            continue
        if f.view == "terraform":
            actions.append(
                RestoreAction(
                    f.resource,
                    f.attribute,
                    f.live,
                    f.applied,
                    f.resource,
                    True,
                    "apply writes the configuration back over the drifted object",
                )
            )
            continue
        kind, _, rest = f.resource.partition("/")
        added = f.attribute == "exists" and f.applied is None
        if added:
            actions.append(
                RestoreAction(
                    f.resource,
                    f.attribute,
                    f.live,
                    None,
                    None,
                    False,
                    "added outside Terraform, so not in its state: remove it by hand, or adopt "
                    "it (terraform import) and the variables",
                )
            )
            continue
        address = _address(kind, rest, f, prefix)
        how = (
            "an apply re-creates it"
            if f.attribute == "exists"
            else "an instance refresh rolls the type out (modules/fleet)"
            if f.attribute == "instance_type"
            else "an apply sets it back"
        )
        actions.append(
            RestoreAction(f.resource, f.attribute, f.live, f.applied, address, True, how)
        )
    return actions


def _address(kind: str, rest: str, finding: DriftFinding, prefix: str) -> str | None:
    template = _TERRAFORM_RESOURCE.get(kind)
    if template is None:
        return None
    parts = rest.split("/")
    named = parts[0].removeprefix(f"{prefix}-")
    fleet = finding.fleets[0] if finding.fleets else named
    return template.format(fleet=fleet, lb=named, name=parts[1] if len(parts) > 1 else "")
