"""Drift and monitoring decisions as pure functions: classification, tracking, policy, windows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from controller.adapters.terraform.plan_json import parse_refresh_only
from controller.domain.applied import AppliedFleet, AppliedSchedule, AppliedStack, Naming
from controller.domain.cloud import (
    CapacityReservationView,
    GroupView,
    LaunchTemplateView,
    ListenerRuleView,
    ListenerView,
    LoadBalancerView,
    ScalingPolicyView,
    WeightedTarget,
)
from controller.domain.drift import DriftCheck, DriftFinding
from controller.domain.monitor import HealthCheckResult, UtilizationReading
from controller.domain.refresh import RefreshOnlyPlan, ResourceDrift
from controller.drift.aws_view import compare_group, compare_load_balancer
from controller.drift.policy import fleets_to_reconcile, reported_drift
from controller.drift.terraform_view import classify_refresh
from controller.drift.tracking import track
from controller.monitoring.classify import classify, utilization_from_use, watch_window

NOW = datetime(2026, 11, 4, 1, 30, tzinfo=UTC)
FLEET = AppliedFleet(
    name="web",
    region="us-east-1",
    instance_type="m6i.large",
    min_size=2,
    max_size=10,
    desired_capacity=3,
    load_balancer="edge",
    target_cpu_utilization=70.0,
    instance_warmup=300,
    scheduled_actions=(
        AppliedSchedule("web-0100", NOW.replace(minute=0), 4, 2, 12),
        AppliedSchedule("web-0200", NOW.replace(hour=2, minute=0), 6, 2, 10),
    ),
)
STACK = AppliedStack("p1", NOW, {"web": FLEET}, {})
NAMING = Naming()


def group(**changes: object) -> GroupView:
    base: dict[str, object] = {
        "name": "fleet-web",
        "min_size": 2,
        "max_size": 10,
        "desired_capacity": 3,
        "launch_template": LaunchTemplateView("lt-1", "fleet-web-abc", "1", 1, "m6i.large"),
        "uses_mixed_instances": False,
        "target_group_arns": ("arn:tg/web",),
        "scheduled_actions": (),
        "policies": (
            ScalingPolicyView(
                "fleet-web-cpu-target",
                "TargetTrackingScaling",
                "ASGAverageCPUUtilization",
                70.0,
                300,
            ),
        ),
    }
    base.update(changes)
    return GroupView(**base)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=60))
def test_desired_capacity_is_expected_exactly_within_the_bounds_the_plan_allowed(
    desired: int,
) -> None:
    found = {
        f.attribute: f for f in compare_group(FLEET, group(desired_capacity=desired), NAMING, NOW)
    }
    finding = found.get("desired_capacity")
    if desired == 3:
        assert finding is None
    elif 2 <= desired <= 12:  # 12: the max the started 01:00 action set
        assert finding is not None and finding.classification == "expected"
    else:
        assert finding is not None and finding.classification == "drift"


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=1, max_value=40))
def test_bounds_are_drift_unless_the_plan_or_a_started_action_set_them(low: int, high: int) -> None:
    found = {
        f.attribute: f.classification
        for f in compare_group(FLEET, group(min_size=low, max_size=high), NAMING, NOW)
    }
    assert found.get("min_size") == (None if low == 2 else "drift")
    assert found.get("max_size") == (None if high == 10 else "expected" if high == 12 else "drift")


def test_an_action_not_started_yet_does_not_excuse_its_bounds() -> None:
    before_one = NOW.replace(hour=0)
    found = {f.attribute: f for f in compare_group(FLEET, group(max_size=12), NAMING, before_one)}
    assert found["max_size"].classification == "drift"


def test_an_unavailable_capacity_reservation_is_unknown_never_drift() -> None:
    from controller.domain.applied import AppliedLoadBalancer

    lb = AppliedLoadBalancer("edge", "us-east-1", 40, {"web": 100})
    rule = ListenerRuleView("r", "100", "forward", (WeightedTarget("arn:tg/web", 100),), ("/*",))
    default = ListenerRuleView("d", "default", "fixed-response", (), ())
    live = LoadBalancerView(
        "fleet-edge",
        "arn:lb",
        "dns",
        (ListenerView("l", 80, "HTTP", (rule, default)),),
        CapacityReservationView(False, None, "API unavailable: not implemented"),
    )
    (finding,) = compare_load_balancer(lb, live, {"arn:tg/web": "web"}, NAMING)
    assert (finding.attribute, finding.classification) == ("capacity_units", "unknown")
    assert finding.live == "unknown (API unavailable)"
    assert not finding.is_drift


def drift_entry(
    address: str, kind: str, before: dict[str, object], after: dict[str, object] | None
) -> ResourceDrift:
    return ResourceDrift(
        address,
        kind,
        "this",
        None,
        "",
        ("update",) if after is not None else ("delete",),
        before,
        after,  # type: ignore[arg-type]
    )


def test_refresh_only_differences_are_classified_like_the_aws_view() -> None:
    plan = RefreshOnlyPlan(
        2,
        (
            drift_entry(
                'module.fleet["web"].aws_autoscaling_group.this',
                "aws_autoscaling_group",
                {"desired_capacity": 3, "max_size": 10, "min_size": 2},
                {"desired_capacity": 9, "max_size": 25, "min_size": 2},
            ),
            drift_entry(
                'module.fleet["web"].aws_autoscaling_schedule.forecast["web-0100"]',
                "aws_autoscaling_schedule",
                {"start_time": "2026-11-04T01:00:00Z"},
                None,
            ),
            drift_entry(
                'module.fleet["web"].aws_autoscaling_schedule.forecast["web-0200"]',
                "aws_autoscaling_schedule",
                {"start_time": "2026-11-04T02:00:00Z"},
                None,
            ),
        ),
        (),
    )
    found = {
        (f.resource, f.attribute): f.classification for f in classify_refresh(plan, STACK, NOW)
    }
    assert found == {
        ('module.fleet["web"].aws_autoscaling_group.this', "desired_capacity"): "expected",
        ('module.fleet["web"].aws_autoscaling_group.this', "max_size"): "drift",
        ('module.fleet["web"].aws_autoscaling_schedule.forecast["web-0100"]', "exists"): "expected",
        ('module.fleet["web"].aws_autoscaling_schedule.forecast["web-0200"]', "exists"): "drift",
    }


def test_terraform_json_with_resource_drift_and_output_changes_is_read_into_typed_records() -> None:
    # the shape of `terraform show -json` for a refresh-only plan (docs: internals/json-format)
    document = {
        "format_version": "1.2",
        "resource_drift": [
            {
                "address": 'module.fleet["web"].aws_autoscaling_group.this',
                "module_address": 'module.fleet["web"]',
                "mode": "managed",
                "type": "aws_autoscaling_group",
                "name": "this",
                "change": {
                    "actions": ["update"],
                    "before": {"max_size": 10},
                    "after": {"max_size": 25},
                },
            },
            {
                "address": "data.terraform_remote_state.x",
                "mode": "data",
                "type": "terraform_remote_state",
                "name": "x",
                "change": {"actions": ["read"], "before": None, "after": {}},
            },
        ],
        "output_changes": {
            "groups": {"actions": ["update"], "before": {"web": 1}, "after": {"web": 2}},
            "dns": {"actions": ["no-op"], "before": "a", "after": "a"},
        },
    }
    plan = parse_refresh_only(2, json.dumps(document))
    (resource,) = plan.resources
    assert (resource.type, resource.module_address, resource.after) == (
        "aws_autoscaling_group",
        'module.fleet["web"]',
        {"max_size": 25},
    )
    assert [o.name for o in plan.outputs] == ["groups"]
    assert plan.has_drift


def finding(
    attribute: str, classification: str = "drift", fleets: tuple[str, ...] = ("web",)
) -> DriftFinding:
    return DriftFinding(
        "aws", "autoscaling_group/fleet-web", attribute, 1, 2, classification, "r", fleets
    )  # type: ignore[arg-type]


def test_tracking_keeps_since_opens_once_resolves_once_and_ignores_failed_checks() -> None:
    first = track([], DriftCheck("aws", NOW, "drifted", "", (finding("max_size"),)))
    later = NOW + timedelta(minutes=5)
    second = track(first.findings, DriftCheck("aws", later, "drifted", "", (finding("max_size"),)))
    failed = track(second.findings, DriftCheck("aws", later, "failed", "throttled"))
    gone = track(failed.findings, DriftCheck("aws", later, "in-sync", "", ()))

    assert [t.finding.attribute for t in first.opened] == ["max_size"]
    assert second.opened == () and second.findings[0].since == NOW
    assert second.findings[0].last_seen == later
    assert failed.findings == second.findings and failed.resolved == ()
    assert [t.finding.attribute for t in gone.resolved] == ["max_size"]


def test_a_finding_turning_from_expected_into_drift_opens_with_a_new_since() -> None:
    first = track(
        [], DriftCheck("aws", NOW, "in-sync", "", (finding("desired_capacity", "expected"),))
    )
    later = NOW + timedelta(minutes=5)
    second = track(
        first.findings, DriftCheck("aws", later, "drifted", "", (finding("desired_capacity"),))
    )
    assert first.opened == ()
    assert [t.since for t in second.opened] == [later]


def test_policies_pick_fleets_to_reconcile_and_drift_to_hold() -> None:
    findings = [
        finding("max_size"),
        finding("weights", fleets=("api", "web")),
        finding("x", "expected"),
    ]
    policies = {"web": "report", "api": "reconcile"}
    assert fleets_to_reconcile(findings, policies) == ("api",)
    held = reported_drift(findings, policies)
    assert set(held) == {"web"} and [f.attribute for f in held["web"]] == ["max_size", "weights"]


def test_the_watch_window_runs_from_the_apply_for_its_length() -> None:
    assert watch_window(NOW, NOW, timedelta(minutes=15)) is None
    open_window = watch_window(NOW, NOW + timedelta(minutes=5), timedelta(minutes=15))
    assert open_window is not None and not open_window.complete
    assert open_window.end == NOW + timedelta(minutes=5)
    done = watch_window(NOW, NOW + timedelta(hours=1), timedelta(minutes=15))
    assert done is not None and done.complete and done.end == NOW + timedelta(minutes=15)


def reading(source: str, mean: float | None) -> UtilizationReading:
    return UtilizationReading(source, mean, mean, 3 if mean is not None else 0, "none")  # type: ignore[arg-type]


@given(st.floats(min_value=0, max_value=2, allow_nan=False))
def test_the_band_around_the_target_decides_the_status(mean: float) -> None:
    status, _ = classify([reading("event-stream", mean)], 0.7, 0.1)
    if mean > 0.8:
        assert status == "under-provisioned"
    elif mean < 0.6:
        assert status == "over-provisioned"
    else:
        assert status == "healthy"


def test_cloudwatch_outranks_the_event_stream_and_a_failed_check_outranks_both() -> None:
    readings = [reading("event-stream", 0.7), reading("cloudwatch", 0.95)]
    assert classify(readings, 0.7, 0.1)[0] == "under-provisioned"
    assert (
        classify([reading("cloudwatch", None), reading("event-stream", 0.7)], 0.7, 0.1)[0]
        == "healthy"
    )
    failed = HealthCheckResult("http://x/healthz", "failed", "HTTP 503")
    assert classify(readings, 0.7, 0.1, failed)[0] == "unhealthy"
    error = HealthCheckResult("http://x/healthz", "error", "no output")
    assert classify(readings, 0.7, 0.1, error)[0] == "under-provisioned"
    assert classify([reading("event-stream", None)], 0.7, 0.1)[0] == "no-data"


def test_event_stream_utilization_is_total_use_over_total_capacity_gaps_left_out() -> None:
    used = np.array([1.0, np.nan, 3.0])
    capacity = np.array([4.0, 4.0, 4.0])
    result = utilization_from_use(used, capacity)
    assert (result.mean, result.peak, result.samples) == (0.5, 0.75, 2)
    assert utilization_from_use(np.array([np.nan]), np.array([4.0])).mean is None
