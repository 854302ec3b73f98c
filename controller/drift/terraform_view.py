"""Terraform's view: a refresh-only plan's resource_drift and output_changes, classified.

`plan -refresh-only` compares what Terraform recorded with what the provider reads now. It shows
every difference, including those the controller expects: modules/fleet ignores desired_capacity
after creation (the autoscaler and the scheduled actions own it), and AWS deletes one-time
scheduled actions after they ran. So exit code 2 alone does not mean drift; each difference is
classified like the AWS view does (controller.drift.aws_view).

`applied` is what Terraform recorded in its state (resource_drift's `before`, the output's recorded
value); `live` is what refresh read (`after`).
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import JsonValue

from controller.domain.applied import AppliedFleet, AppliedStack
from controller.domain.drift import Classification, DriftFinding
from controller.domain.refresh import OutputDrift, RefreshOnlyPlan, ResourceDrift

_KEY = re.compile(r'\["([^"/]+)(?:/[^"]*)?"\]')
COMPUTED_BY_AWS = frozenset({("aws_autoscaling_group", "predicted_capacity")})
"""attributes AWS itself changes (predictive scaling forecasts)"""
OUTSIDE = "changed outside Terraform"


def classify_refresh(
    plan: RefreshOnlyPlan, stack: AppliedStack, now: datetime
) -> list[DriftFinding]:
    found: list[DriftFinding] = []
    for resource in plan.resources:
        found.extend(_resource(resource, stack, now))
    for output in plan.outputs:
        found.extend(_output(output, stack))
    if plan.has_drift and not found:
        found.append(
            DriftFinding(
                "terraform",
                "plan",
                "refresh-only",
                None,
                None,
                "drift",
                "plan -refresh-only exited 2 but its JSON itemises no resource or output",
            )
        )
    return found


def fleets_of(address: str, stack: AppliedStack) -> tuple[str, ...]:
    """The fleets an address concerns: its first index key, a fleet or a load balancer name."""
    match = _KEY.search(address)
    if match is None:
        return ()
    key = match.group(1)
    if key in stack.fleets and "edge" not in address and "load_balancer" not in address:
        return (key,)
    if key in stack.load_balancers:
        return stack.fleets_behind(key)
    return (key,) if key in stack.fleets else ()


def _resource(resource: ResourceDrift, stack: AppliedStack, now: datetime) -> list[DriftFinding]:
    fleets = fleets_of(resource.address, stack)

    def finding(
        attribute: str,
        applied: JsonValue,
        live: JsonValue,
        reason: str,
        classification: Classification = "drift",
    ) -> DriftFinding:
        return DriftFinding(
            "terraform", resource.address, attribute, applied, live, classification, reason, fleets
        )

    before, after = resource.before or {}, resource.after
    if after is None or resource.actions == ("delete",):
        start = before.get("start_time")
        if resource.type == "aws_autoscaling_schedule" and _started(start, now):
            return [
                finding(
                    "exists",
                    before,
                    None,
                    f"ran at {start}; AWS deletes one-time actions after they run",
                    "expected",
                )
            ]
        return [finding("exists", before, None, "deleted outside Terraform")]
    found = []
    fleet = stack.fleets.get(fleets[0]) if len(fleets) == 1 else None
    for attribute in sorted(before.keys() | after.keys()):
        old, new = before.get(attribute), after.get(attribute)
        if old == new:
            continue
        if (resource.type, attribute) in COMPUTED_BY_AWS:
            found.append(finding(attribute, old, new, "computed by AWS", "expected"))
        elif resource.type == "aws_autoscaling_group" and fleet is not None:
            classification, reason = _group_attribute(attribute, new, fleet, now)
            found.append(finding(attribute, old, new, reason, classification))
        else:
            found.append(finding(attribute, old, new, OUTSIDE))
    return found


def _group_attribute(
    attribute: str, new: JsonValue, fleet: AppliedFleet, now: datetime
) -> tuple[Classification, str]:
    allowed_min, allowed_max = fleet.allowed_min_sizes(now), fleet.allowed_max_sizes(now)
    low, high = min(allowed_min), max(allowed_max)
    if attribute == "desired_capacity" and isinstance(new, int) and low <= new <= high:
        return "expected", (
            f"moved by the autoscaler or a scheduled action within the applied bounds {low}..{high}"
        )
    if (attribute == "min_size" and new in allowed_min) or (
        attribute == "max_size" and new in allowed_max
    ):
        return "expected", "set by a scheduled action"
    return "drift", OUTSIDE


def _output(output: OutputDrift, stack: AppliedStack) -> list[DriftFinding]:
    resource = f"output.{output.name}"
    reason = (
        "the output recorded in the state differs from its value over the refreshed state: the "
        "state was edited outside Terraform, or a resource it reads drifted"
    )
    before, after = output.before, output.after
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(before.keys() | after.keys()):
            if before.get(key) == after.get(key):
                continue
            fleets = (
                (key,)
                if key in stack.fleets
                else stack.fleets_behind(key)
                if key in stack.load_balancers
                else ()
            )
            found.append(
                DriftFinding(
                    "terraform",
                    resource,
                    key,
                    before.get(key),
                    after.get(key),
                    "drift",
                    reason,
                    fleets,
                )
            )
        return found
    return [DriftFinding("terraform", resource, "value", before, after, "drift", reason)]


def _started(start: JsonValue, now: datetime) -> bool:
    if not isinstance(start, str):
        return False
    try:
        when = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        return False
    return when <= now
