"""The live AWS view compared with what was applied: pure, one function per resource kind.

What is expected, not drift (docs/drift.md):
- a desired capacity other than the applied one, within the applied bounds: the target-tracking
  policy and the scheduled actions own desired capacity (modules/fleet ignores it after creation);
- min/max sizes a started scheduled action set (IncreaseMaxCapacity-style actions raise max);
- an applied one-time scheduled action that is gone after its start time: AWS deletes one-time
  actions once they ran.
Everything else that differs is drift: someone changed it outside Terraform.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from pydantic import JsonValue

from controller.domain.applied import (
    AppliedFleet,
    AppliedLoadBalancer,
    AppliedSchedule,
    AppliedWarmPool,
    Naming,
)
from controller.domain.cloud import (
    GroupView,
    ListenerRuleView,
    LoadBalancerView,
    NotFound,
    ScalingPolicyView,
    ScheduledActionView,
    WarmPoolView,
)
from controller.domain.drift import Classification, DriftFinding

TARGET_TRACKING_METRIC = "ASGAverageCPUUtilization"
LISTENER_PORT = 80
WEIGHTED_RULE_PRIORITY = "100"
WEIGHTED_RULE_PATHS = ("/*",)
OUTSIDE = "changed outside Terraform"


def compare_group(
    fleet: AppliedFleet, live: GroupView | NotFound, naming: Naming, now: datetime
) -> list[DriftFinding]:
    name = naming.group(fleet.name)
    resource = f"autoscaling_group/{name}"

    def finding(
        attribute: str,
        applied: JsonValue,
        value: JsonValue,
        reason: str,
        classification: Classification = "drift",
        where: str = resource,
    ) -> DriftFinding:
        return DriftFinding(
            "aws", where, attribute, applied, value, classification, reason, (fleet.name,)
        )

    if isinstance(live, NotFound):
        return [finding("exists", name, None, f"{live.describe()}: deleted outside Terraform")]
    found = [
        *_bounds(fleet, live, now, finding),
        *_launch_template(fleet, live, naming, finding),
        *_schedules(fleet, live, name, now, finding),
        *_policies(fleet, live, naming, finding),
        *_warm_pool(fleet, live, finding),
    ]
    return found


def _warm_pool(fleet: AppliedFleet, live: GroupView, finding: _Make) -> list[DriftFinding]:
    """The warm_pool block of the group: Terraform manages it whole, so a pool added, deleted
    or changed by hand is drift an apply sets back. Instances in the pool are AWS's to move."""
    applied, have = fleet.warm_pool, live.warm_pool
    if applied is None:
        if have is None:
            return []
        return [
            finding("warm_pool", None, _live_pool(have), "a warm pool was added outside Terraform")
        ]
    if have is None:
        return [
            finding(
                "warm_pool",
                _applied_pool(applied),
                None,
                "the warm pool was deleted outside Terraform",
            )
        ]
    pairs: list[tuple[str, JsonValue, JsonValue]] = [
        ("pool_state", applied.pool_state, have.pool_state),
        ("min_size", applied.min_size, have.min_size),
        (
            "max_group_prepared_capacity",
            applied.max_group_prepared_capacity,
            have.max_group_prepared_capacity,
        ),
        ("reuse_on_scale_in", applied.reuse_on_scale_in, have.reuse_on_scale_in),
    ]
    return [finding(f"warm_pool.{name}", a, b, OUTSIDE) for name, a, b in pairs if a != b]


def _applied_pool(pool: AppliedWarmPool) -> JsonValue:
    return {
        "pool_state": pool.pool_state,
        "min_size": pool.min_size,
        "max_group_prepared_capacity": pool.max_group_prepared_capacity,
        "reuse_on_scale_in": pool.reuse_on_scale_in,
    }


def _live_pool(pool: WarmPoolView) -> JsonValue:
    return {
        "pool_state": pool.pool_state,
        "min_size": pool.min_size,
        "max_group_prepared_capacity": pool.max_group_prepared_capacity,
        "reuse_on_scale_in": pool.reuse_on_scale_in,
    }


def _bounds(
    fleet: AppliedFleet, live: GroupView, now: datetime, finding: _Make
) -> list[DriftFinding]:
    found = []
    allowed_min, allowed_max = fleet.allowed_min_sizes(now), fleet.allowed_max_sizes(now)
    for attribute, applied, value, allowed in (
        ("min_size", fleet.min_size, live.min_size, allowed_min),
        ("max_size", fleet.max_size, live.max_size, allowed_max),
    ):
        if value == applied:
            continue
        if value in allowed:
            found.append(
                finding(
                    attribute,
                    applied,
                    value,
                    f"set by a scheduled action that started by {now:%Y-%m-%d %H:%MZ}",
                    "expected",
                )
            )
        else:
            others = sorted(allowed - {applied})
            by_schedule = f"; scheduled actions so far set {others}" if others else ""
            found.append(finding(attribute, applied, value, f"{OUTSIDE}{by_schedule}"))
    low, high = min(allowed_min), max(allowed_max)
    if live.desired_capacity != fleet.desired_capacity:
        if low <= live.desired_capacity <= high:
            found.append(
                finding(
                    "desired_capacity",
                    fleet.desired_capacity,
                    live.desired_capacity,
                    f"moved by the autoscaler or a scheduled action within the applied bounds "
                    f"{low}..{high}",
                    "expected",
                )
            )
        else:
            found.append(
                finding(
                    "desired_capacity",
                    fleet.desired_capacity,
                    live.desired_capacity,
                    f"outside the applied bounds {low}..{high}: {OUTSIDE}",
                )
            )
    return found


def _launch_template(
    fleet: AppliedFleet, live: GroupView, naming: Naming, finding: _Make
) -> list[DriftFinding]:
    prefix = naming.launch_template_prefix(fleet.name)
    expected = f"{prefix}*"
    template = live.launch_template
    if live.uses_mixed_instances:
        return [
            finding(
                "mixed_instances_policy",
                None,
                "set",
                f"a mixed instances policy overrides the launch template: {OUTSIDE}",
            )
        ]
    if template is None:
        return [
            finding(
                "launch_template", expected, None, f"the group has no launch template: {OUTSIDE}"
            )
        ]
    found = []
    if not template.name.startswith(prefix):
        found.append(
            finding(
                "launch_template",
                expected,
                template.name,
                f"the group uses another launch template: {OUTSIDE}",
            )
        )
    if template.resolved_version is None:
        found.append(
            finding(
                "launch_template_version",
                "a version of the controller's template",
                template.version,
                "the version the group names does not exist (deleted?)",
            )
        )
    elif template.instance_type != fleet.instance_type:
        found.append(
            finding(
                "instance_type",
                fleet.instance_type,
                template.instance_type,
                f"launch template {template.name} version {template.resolved_version} "
                f"({template.version}) has another instance type: {OUTSIDE}",
            )
        )
    return found


def _schedules(
    fleet: AppliedFleet, live: GroupView, group: str, now: datetime, finding: _Make
) -> list[DriftFinding]:
    applied = {a.name: a for a in fleet.scheduled_actions}
    running = {a.name: a for a in live.scheduled_actions}
    found = []
    for name in sorted(applied.keys() | running.keys()):
        where = f"scheduled_action/{group}/{name}"
        want, have = applied.get(name), running.get(name)
        if want is not None and have is None:
            if want.start_time <= now:
                found.append(
                    finding(
                        "exists",
                        _schedule_value(want),
                        None,
                        f"ran at {want.start_time:%Y-%m-%d %H:%MZ}; AWS deletes one-time "
                        "actions after they run",
                        "expected",
                        where,
                    )
                )
            else:
                found.append(
                    finding(
                        "exists",
                        _schedule_value(want),
                        None,
                        f"deleted before its start time: {OUTSIDE}",
                        where=where,
                    )
                )
        elif want is None and have is not None:
            found.append(
                finding(
                    "exists",
                    None,
                    _live_schedule_value(have),
                    f"not created by the controller: added {OUTSIDE}",
                    where=where,
                )
            )
        elif want is not None and have is not None:
            found.extend(
                finding(attribute, a, b, OUTSIDE, where=where)
                for attribute, a, b in _schedule_differences(want, have)
            )
    return found


def _schedule_differences(
    want: AppliedSchedule, have: ScheduledActionView
) -> list[tuple[str, JsonValue, JsonValue]]:
    pairs: list[tuple[str, JsonValue, JsonValue]] = [
        ("start_time", _iso(want.start_time), _iso(have.start_time) if have.start_time else None),
        ("desired_capacity", want.desired_capacity, have.desired_capacity),
        ("min_size", want.min_size, have.min_size),
        ("max_size", want.max_size, have.max_size),
        ("recurrence", None, have.recurrence),
    ]
    return [(name, a, b) for name, a, b in pairs if a != b]


def _policies(
    fleet: AppliedFleet, live: GroupView, naming: Naming, finding: _Make
) -> list[DriftFinding]:
    expected = naming.target_tracking_policy(fleet.name)
    group = naming.group(fleet.name)
    found = []
    by_name = {p.name: p for p in live.policies}
    policy = by_name.pop(expected, None)
    where = f"scaling_policy/{group}/{expected}"
    applied_value: JsonValue = {
        "metric": TARGET_TRACKING_METRIC,
        "target_value": fleet.target_cpu_utilization,
        "estimated_instance_warmup": fleet.instance_warmup,
    }
    if policy is None:
        found.append(
            finding(
                "exists", applied_value, None, f"target tracking deleted {OUTSIDE}", where=where
            )
        )
    else:
        found.extend(
            finding(attribute, a, b, OUTSIDE, where=where)
            for attribute, a, b in _policy_differences(fleet, policy)
        )
    for name, extra in sorted(by_name.items()):
        found.append(
            finding(
                "exists",
                None,
                {"policy_type": extra.policy_type, "metric": extra.metric},
                f"not created by the controller: added {OUTSIDE}",
                where=f"scaling_policy/{group}/{name}",
            )
        )
    return found


def _policy_differences(
    fleet: AppliedFleet, policy: ScalingPolicyView
) -> list[tuple[str, JsonValue, JsonValue]]:
    pairs: list[tuple[str, JsonValue, JsonValue]] = [
        ("policy_type", "TargetTrackingScaling", policy.policy_type),
        ("metric", TARGET_TRACKING_METRIC, policy.metric),
        ("target_value", fleet.target_cpu_utilization, policy.target_value),
        ("estimated_instance_warmup", fleet.instance_warmup, policy.estimated_instance_warmup),
        ("disable_scale_in", False, policy.disable_scale_in),
    ]
    return [(name, a, b) for name, a, b in pairs if not _same(a, b)]


def compare_load_balancer(
    lb: AppliedLoadBalancer,
    live: LoadBalancerView | NotFound,
    target_groups: Mapping[str, str],
    naming: Naming,
) -> list[DriftFinding]:
    """`target_groups`: target group ARN -> fleet, from the groups' attachments."""
    name = naming.load_balancer(lb.name)
    resource = f"load_balancer/{name}"
    fleets = tuple(sorted(lb.weights))

    def finding(
        attribute: str,
        applied: JsonValue,
        value: JsonValue,
        reason: str,
        classification: Classification = "drift",
        where: str = resource,
    ) -> DriftFinding:
        return DriftFinding("aws", where, attribute, applied, value, classification, reason, fleets)

    if isinstance(live, NotFound):
        return [finding("exists", name, None, f"{live.describe()}: deleted outside Terraform")]
    found = []
    capacity = live.capacity
    if not capacity.available:
        found.append(
            finding(
                "capacity_units",
                lb.capacity_units,
                "unknown (API unavailable)",
                capacity.detail or "DescribeCapacityReservation is not available at this endpoint",
                "unknown",
            )
        )
    elif (capacity.capacity_units or 0) != lb.capacity_units:
        found.append(
            finding(
                "capacity_units",
                lb.capacity_units,
                capacity.capacity_units or 0,
                f"LCU reservation {OUTSIDE}",
            )
        )
    listeners = {listener.port: listener for listener in live.listeners}
    listener = listeners.pop(LISTENER_PORT, None)
    for port, other in sorted(listeners.items()):
        found.append(
            finding(
                "exists",
                None,
                f"{other.protocol}:{port}",
                f"listener not created by the controller: added {OUTSIDE}",
                where=f"listener/{name}/{port}",
            )
        )
    if listener is None:
        found.append(
            finding(
                "exists",
                f"HTTP:{LISTENER_PORT}",
                None,
                f"listener deleted {OUTSIDE}",
                where=f"listener/{name}/{LISTENER_PORT}",
            )
        )
        return found
    rules = {rule.priority: rule for rule in listener.rules}
    default = rules.pop("default", None)
    if default is not None and default.action_type != "fixed-response":
        found.append(
            finding(
                "default_action",
                "fixed-response",
                default.action_type,
                OUTSIDE,
                where=f"listener/{name}/{LISTENER_PORT}",
            )
        )
    weighted = rules.pop(WEIGHTED_RULE_PRIORITY, None)
    rule_resource = f"listener_rule/{name}/{LISTENER_PORT}/{WEIGHTED_RULE_PRIORITY}"
    if weighted is None:
        found.append(
            finding(
                "exists",
                dict(sorted(lb.weights.items())),
                None,
                f"weighted rule deleted {OUTSIDE}",
                where=rule_resource,
            )
        )
    else:
        found.extend(_weighted_rule(lb, weighted, target_groups, rule_resource, finding))
    for priority, extra in sorted(rules.items()):
        found.append(
            finding(
                "exists",
                None,
                {"action": extra.action_type, "paths": list(extra.path_patterns)},
                f"listener rule not created by the controller: added {OUTSIDE}",
                where=f"listener_rule/{name}/{LISTENER_PORT}/{priority}",
            )
        )
    return found


def _weighted_rule(
    lb: AppliedLoadBalancer,
    rule: ListenerRuleView,
    target_groups: Mapping[str, str],
    where: str,
    finding: _Make,
) -> list[DriftFinding]:
    found = []
    if rule.action_type != "forward":
        found.append(finding("action", "forward", rule.action_type, OUTSIDE, where=where))
    weights = {
        target_groups.get(t.target_group_arn, t.target_group_arn.split(":")[-1]): t.weight
        for t in rule.targets
    }
    applied: dict[str, JsonValue] = dict(sorted(lb.weights.items()))
    live: dict[str, JsonValue] = dict(sorted(weights.items()))
    if live != applied and rule.action_type == "forward":
        found.append(finding("weights", applied, live, OUTSIDE, where=where))
    if rule.path_patterns != WEIGHTED_RULE_PATHS:
        found.append(
            finding(
                "path_patterns",
                list(WEIGHTED_RULE_PATHS),
                list(rule.path_patterns),
                OUTSIDE,
                where=where,
            )
        )
    return found


class _Make(Protocol):
    """The shape of the local `finding` helpers."""

    def __call__(
        self,
        attribute: str,
        applied: JsonValue,
        value: JsonValue,
        reason: str,
        classification: Classification = "drift",
        where: str = "",
    ) -> DriftFinding: ...


def _schedule_value(action: AppliedSchedule) -> JsonValue:
    return {
        "start_time": _iso(action.start_time),
        "desired_capacity": action.desired_capacity,
        "min_size": action.min_size,
        "max_size": action.max_size,
    }


def _live_schedule_value(action: ScheduledActionView) -> JsonValue:
    return {
        "start_time": _iso(action.start_time) if action.start_time else None,
        "recurrence": action.recurrence,
        "desired_capacity": action.desired_capacity,
        "min_size": action.min_size,
        "max_size": action.max_size,
    }


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _same(a: JsonValue, b: JsonValue) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return abs(float(a) - float(b)) < 1e-9
    return a == b
