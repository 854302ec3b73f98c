"""The live AWS drift view on moto: resources created as Terraform shapes them, recorded as last
applied, then changed out of band with boto3; each kind must be found and classified."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.adapters.aws import AwsFleet, AwsSettings
from controller.config import load_config
from controller.domain.alert import Alert, AlertEvent
from controller.domain.clock import FixedClock
from controller.domain.drift import DriftFinding
from controller.drift.restore import restore_actions
from controller.workflow.drift import DriftReport, run_drift_check
from controller.workflow.state_document import drift_state
from controller.workflow.wiring import Controller, RegionalClouds, build_controller
from tests.aws.fleet_factory import AwsAccount, fleet_variables
from tests.helpers import make_project

NOW = datetime(2026, 11, 4, 1, 30, tzinfo=UTC)
RAN = "scheduled_action/fleet-web/web-20261104T0100Z"


@dataclass
class RecordingSink:
    delivered: list[tuple[str, AlertEvent]] = field(default_factory=list)
    fail_next: int = 0

    def deliver(self, alert: Alert, event: AlertEvent) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("pager unreachable")
        self.delivered.append((alert.message(event), event))


@dataclass
class Fleet:
    aws: AwsAccount
    controller: Controller
    clock: FixedClock
    sink: RecordingSink
    variables: dict[str, object]

    def check(self) -> DriftReport:
        return run_drift_check(self.controller, "aws")


@pytest.fixture
def api_policy() -> str:
    return "report"


@pytest.fixture
def fleet(aws: AwsAccount, tmp_path: Path, api_policy: str) -> Iterator[Fleet]:
    variables = fleet_variables(NOW)
    aws.create_stack(variables, NOW)
    path = make_project(
        tmp_path,
        aws={"endpoint_url": aws.endpoint, "max_attempts": 1},
        drift={"aws": {"enabled": True}, "terraform": {"enabled": False}},
        fleets=[
            {"name": "web", "load_balancer": "edge", "min_instances": 2, "max_instances": 10},
            {
                "name": "api",
                "load_balancer": "edge",
                "instance_type": "c6i.large",
                "drift_policy": api_policy,
            },
        ],
    )
    clock = FixedClock(NOW)
    sink = RecordingSink()
    controller = build_controller(load_config(path), clock=clock, alert_sinks=[sink])
    controller.plan_store.add(
        "000001-applied", 1, NOW - timedelta(minutes=10), "applied", {}, variables
    )
    yield Fleet(aws, controller, clock, sink, variables)
    controller.close()


def drift(report: DriftReport) -> dict[tuple[str, str], DriftFinding]:
    return {(f.resource, f.attribute): f for f in report.check.findings if f.is_drift}


def expected(report: DriftReport) -> dict[tuple[str, str], DriftFinding]:
    return {
        (f.resource, f.attribute): f
        for f in report.check.findings
        if f.classification == "expected"
    }


def test_a_fleet_as_terraform_created_it_is_in_sync(fleet: Fleet) -> None:
    report = fleet.check()

    assert report.check.outcome == "in-sync", report.check.findings
    assert drift(report) == {}
    # the 01:00 action ran and AWS deleted it: expected, not drift
    assert set(expected(report)) == {(RAN, "exists")}
    assert fleet.sink.delivered == []


def test_desired_capacity_moved_by_the_autoscaler_within_the_bounds_is_expected_not_drift(
    fleet: Fleet,
) -> None:
    autoscaling = fleet.aws.autoscaling
    # the 01:00 scheduled action raised max to 12, then target tracking scaled out to 11
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="fleet-web", MaxSize=12)
    autoscaling.set_desired_capacity(AutoScalingGroupName="fleet-web", DesiredCapacity=11)
    autoscaling.set_desired_capacity(AutoScalingGroupName="fleet-api", DesiredCapacity=4)

    report = fleet.check()

    assert report.check.outcome == "in-sync"
    assert drift(report) == {}
    found = expected(report)
    web = found[("autoscaling_group/fleet-web", "desired_capacity")]
    assert (web.applied, web.live) == (3, 11)
    assert "within the applied bounds 2..12" in web.reason
    assert found[("autoscaling_group/fleet-web", "max_size")].live == 12
    assert found[("autoscaling_group/fleet-api", "desired_capacity")].live == 4
    assert fleet.sink.delivered == []


def test_manual_changes_to_the_bounds_are_drift(fleet: Fleet) -> None:
    fleet.aws.autoscaling.update_auto_scaling_group(
        AutoScalingGroupName="fleet-web", MinSize=1, MaxSize=25
    )
    fleet.aws.autoscaling.set_desired_capacity(AutoScalingGroupName="fleet-web", DesiredCapacity=20)

    report = fleet.check()

    found = drift(report)
    assert report.check.outcome == "drifted"
    assert (
        found[("autoscaling_group/fleet-web", "min_size")].applied,
        found[("autoscaling_group/fleet-web", "min_size")].live,
    ) == (2, 1)
    assert found[("autoscaling_group/fleet-web", "max_size")].live == 25
    # 20 is above every max the plan allowed (10, or 12 by the action that ran)
    desired = found[("autoscaling_group/fleet-web", "desired_capacity")]
    assert "outside the applied bounds 2..12" in desired.reason
    assert all(f.fleets == ("web",) for f in found.values())


def test_another_instance_type_or_launch_template_is_drift(fleet: Fleet) -> None:
    aws = fleet.aws
    web_template = aws.fleets["web"].launch_template_id
    aws.ec2.create_launch_template_version(
        LaunchTemplateId=web_template,
        SourceVersion="1",
        LaunchTemplateData={"InstanceType": "m6i.4xlarge"},
    )
    aws.autoscaling.update_auto_scaling_group(
        AutoScalingGroupName="fleet-web",
        LaunchTemplate={"LaunchTemplateId": web_template, "Version": "$Latest"},
    )
    handmade = aws.ec2.create_launch_template(
        LaunchTemplateName="handmade-api",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "c6i.large"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    aws.autoscaling.update_auto_scaling_group(
        AutoScalingGroupName="fleet-api",
        LaunchTemplate={"LaunchTemplateId": handmade, "Version": "1"},
    )

    found = drift(fleet.check())

    web = found[("autoscaling_group/fleet-web", "instance_type")]
    assert (web.applied, web.live) == ("m6i.large", "m6i.4xlarge")
    api = found[("autoscaling_group/fleet-api", "launch_template")]
    assert (api.applied, api.live) == ("fleet-api-*", "handmade-api")
    assert ("autoscaling_group/fleet-api", "instance_type") not in found  # same type


def test_scheduled_actions_deleted_changed_or_added_are_drift_one_that_ran_is_expected(
    fleet: Fleet,
) -> None:
    autoscaling = fleet.aws.autoscaling
    autoscaling.delete_scheduled_action(
        AutoScalingGroupName="fleet-web", ScheduledActionName="web-20261104T0200Z"
    )
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="fleet-web",
        ScheduledActionName="web-20261104T0300Z",
        StartTime=datetime(2026, 11, 4, 3, tzinfo=UTC),
        DesiredCapacity=9,
        MinSize=2,
        MaxSize=10,
        TimeZone="Etc/UTC",
    )
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="fleet-api",
        ScheduledActionName="black-friday",
        StartTime=datetime(2026, 11, 27, 6, tzinfo=UTC),
        DesiredCapacity=5,
    )

    report = fleet.check()

    found = drift(report)
    deleted = found[("scheduled_action/fleet-web/web-20261104T0200Z", "exists")]
    assert deleted.live is None and isinstance(deleted.applied, dict)
    assert deleted.applied["desired_capacity"] == 6
    changed = found[("scheduled_action/fleet-web/web-20261104T0300Z", "desired_capacity")]
    assert (changed.applied, changed.live) == (3, 9)
    added = found[("scheduled_action/fleet-api/black-friday", "exists")]
    assert added.applied is None and "not created by the controller" in added.reason
    assert (RAN, "exists") in expected(report)


def test_target_tracking_changes_and_extra_policies_are_drift(fleet: Fleet) -> None:
    autoscaling = fleet.aws.autoscaling
    autoscaling.put_scaling_policy(
        AutoScalingGroupName="fleet-web",
        PolicyName="fleet-web-cpu-target",
        PolicyType="TargetTrackingScaling",
        EstimatedInstanceWarmup=300,
        TargetTrackingConfiguration={
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
            "TargetValue": 40.0,
        },
    )
    autoscaling.put_scaling_policy(
        AutoScalingGroupName="fleet-api",
        PolicyName="panic-button",
        PolicyType="SimpleScaling",
        AdjustmentType="ChangeInCapacity",
        ScalingAdjustment=3,
    )

    found = drift(fleet.check())

    target = found[("scaling_policy/fleet-web/fleet-web-cpu-target", "target_value")]
    assert (target.applied, target.live) == (70.0, 40.0)
    extra = found[("scaling_policy/fleet-api/panic-button", "exists")]
    assert extra.live == {"policy_type": "SimpleScaling", "metric": None}


def test_a_warm_pool_changed_added_or_deleted_by_hand_is_drift_an_apply_sets_back(
    fleet: Fleet,
) -> None:
    autoscaling = fleet.aws.autoscaling
    autoscaling.put_warm_pool(
        AutoScalingGroupName="fleet-web",
        PoolState="Hibernated",
        MinSize=2,
        MaxGroupPreparedCapacity=6,
        InstanceReusePolicy={"ReuseOnScaleIn": True},
    )
    autoscaling.put_warm_pool(AutoScalingGroupName="fleet-api", PoolState="Stopped", MinSize=1)

    found = drift(fleet.check())

    web, api = "autoscaling_group/fleet-web", "autoscaling_group/fleet-api"
    assert set(found) == {
        (web, "warm_pool.pool_state"),
        (web, "warm_pool.min_size"),
        (api, "warm_pool"),
    }
    state = found[(web, "warm_pool.pool_state")]
    assert (state.applied, state.live) == ("Stopped", "Hibernated")
    size = found[(web, "warm_pool.min_size")]
    assert (size.applied, size.live) == (0, 2)
    added = found[(api, "warm_pool")]
    assert added.applied is None and added.reason == "a warm pool was added outside Terraform"
    assert added.live == {
        "pool_state": "Stopped",
        "min_size": 1,
        "max_group_prepared_capacity": None,
        "reuse_on_scale_in": False,
    }
    restore = {(a.resource, a.attribute): a for a in restore_actions(list(found.values()))}
    assert restore[(api, "warm_pool")].automatic
    assert restore[(api, "warm_pool")].terraform_address == (
        'module.fleet["api"].aws_autoscaling_group.this'
    )

    autoscaling.delete_warm_pool(AutoScalingGroupName="fleet-web", ForceDelete=True)
    deleted = drift(fleet.check())[(web, "warm_pool")]
    applied = fleet.variables["fleets"]["web"]["warm_pool"]  # type: ignore[index]
    assert deleted.live is None and deleted.applied == applied
    assert deleted.reason == "the warm pool was deleted outside Terraform"


def test_listener_weights_and_rules_changed_by_hand_are_drift(fleet: Fleet) -> None:
    aws = fleet.aws
    edge = aws.edges["edge"]
    aws.elbv2.modify_rule(
        RuleArn=edge.rule_arn,
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": aws.fleets["web"].target_group_arn, "Weight": 50},
                        {"TargetGroupArn": aws.fleets["api"].target_group_arn, "Weight": 50},
                    ]
                },
            }
        ],
    )
    aws.elbv2.create_rule(
        ListenerArn=edge.listener_arn,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/maintenance"]}}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"ContentType": "text/plain", "StatusCode": "503"},
            }
        ],
    )

    found = drift(fleet.check())

    weights = found[("listener_rule/fleet-edge/80/100", "weights")]
    assert (weights.applied, weights.live) == ({"api": 20, "web": 80}, {"api": 50, "web": 50})
    assert weights.fleets == ("api", "web")
    assert ("listener_rule/fleet-edge/80/10", "exists") in found


def test_the_lb_capacity_reservation_is_compared_when_the_api_answers(fleet: Fleet) -> None:
    """moto answers DescribeCapacityReservation with no reservation (it cannot create one), so an
    applied reservation of 40 LCU reads as drift to 0: what AWS would say if it were removed."""
    variables = fleet_variables(NOW)
    variables["load_balancers"]["edge"]["capacity_units"] = 40
    fleet.controller.plan_store.add(
        "000002-applied", 2, NOW - timedelta(minutes=5), "applied", {}, variables
    )

    found = drift(fleet.check())

    reservation = found[("load_balancer/fleet-edge", "capacity_units")]
    assert (reservation.applied, reservation.live) == (40, 0)


def test_a_deleted_group_or_load_balancer_is_drift(fleet: Fleet) -> None:
    fleet.aws.autoscaling.delete_auto_scaling_group(
        AutoScalingGroupName="fleet-api", ForceDelete=True
    )
    fleet.aws.elbv2.delete_load_balancer(LoadBalancerArn=fleet.aws.edges["edge"].arn)

    found = drift(fleet.check())

    assert found[("autoscaling_group/fleet-api", "exists")].live is None
    assert found[("load_balancer/fleet-edge", "exists")].live is None


def test_drift_is_alerted_once_kept_with_its_first_seen_time_and_resolved_once(
    fleet: Fleet,
) -> None:
    autoscaling = fleet.aws.autoscaling
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="fleet-web", MaxSize=25)

    first = fleet.check()
    fleet.clock.advance(timedelta(minutes=5))
    second = fleet.check()

    assert [event for _, event in fleet.sink.delivered] == ["opened"]
    message = fleet.sink.delivered[0][0]
    assert "autoscaling_group/fleet-web max_size: applied 10, live 25" in message
    assert "policy report" in message
    assert [t.finding.attribute for t in first.opened] == ["max_size"]
    assert second.opened == ()
    state = drift_state(fleet.controller)
    assert state.status == "drifted"
    (record,) = [f for f in state.findings if f.classification == "drift"]
    assert (record.since, record.last_seen) == (NOW, NOW + timedelta(minutes=5))

    autoscaling.update_auto_scaling_group(AutoScalingGroupName="fleet-web", MaxSize=10)
    fleet.clock.advance(timedelta(minutes=5))
    third = fleet.check()
    fourth = fleet.check()

    assert [event for _, event in fleet.sink.delivered] == ["opened", "resolved"]
    assert (
        "RESOLVED drift (aws view) autoscaling_group/fleet-web max_size"
        in fleet.sink.delivered[1][0]
    )
    assert [t.finding.attribute for t in third.resolved] == ["max_size"]
    assert fourth.resolved == ()
    assert drift_state(fleet.controller).status == "in-sync"
    (alert,) = fleet.controller.alert_store.recent()
    assert alert.opened_sent_at is not None and alert.resolved_sent_at is not None


def test_an_alert_a_sink_could_not_take_is_offered_again_and_delivered_once(fleet: Fleet) -> None:
    fleet.aws.autoscaling.update_auto_scaling_group(AutoScalingGroupName="fleet-web", MaxSize=25)
    fleet.sink.fail_next = 1

    fleet.check()
    assert fleet.sink.delivered == []
    fleet.check()
    fleet.check()

    assert [event for _, event in fleet.sink.delivered] == ["opened"]


def test_a_check_that_cannot_reach_aws_fails_and_keeps_the_open_findings(fleet: Fleet) -> None:
    fleet.aws.autoscaling.update_auto_scaling_group(AutoScalingGroupName="fleet-web", MaxSize=25)
    fleet.check()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    fleet.controller.cloud = RegionalClouds(
        lambda region: AwsFleet(
            AwsSettings(region, endpoint_url=f"http://127.0.0.1:{closed}", max_attempts=1)
        )
    )

    report = fleet.check()

    assert report.check.outcome == "failed"
    assert "cannot reach the endpoint" in report.check.detail
    assert report.resolved == ()
    state = drift_state(fleet.controller)
    assert state.status == "drifted"
    assert {c.view: c.outcome for c in state.checks} == {"aws": "failed"}
    assert [e for _, e in fleet.sink.delivered] == ["opened"]


def test_the_restore_decision_names_what_an_apply_changes_and_what_it_cannot(
    fleet: Fleet,
) -> None:
    autoscaling = fleet.aws.autoscaling
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="fleet-web", MaxSize=25)
    autoscaling.set_desired_capacity(AutoScalingGroupName="fleet-web", DesiredCapacity=7)
    autoscaling.delete_scheduled_action(
        AutoScalingGroupName="fleet-web", ScheduledActionName="web-20261104T0200Z"
    )
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="fleet-api",
        ScheduledActionName="black-friday",
        StartTime=datetime(2026, 11, 27, 6, tzinfo=UTC),
        DesiredCapacity=5,
    )

    report = fleet.check()
    actions = {(a.resource, a.attribute): a for a in restore_actions(report.check.findings)}

    max_size = actions[("autoscaling_group/fleet-web", "max_size")]
    assert max_size.automatic and (max_size.live, max_size.restored_to) == (25, 10)
    assert max_size.terraform_address == 'module.fleet["web"].aws_autoscaling_group.this'
    recreate = actions[("scheduled_action/fleet-web/web-20261104T0200Z", "exists")]
    assert recreate.automatic
    assert recreate.terraform_address == (
        'module.fleet["web"].aws_autoscaling_schedule.forecast["web-20261104T0200Z"]'
    )
    added = actions[("scheduled_action/fleet-api/black-friday", "exists")]
    assert not added.automatic and added.terraform_address is None
    assert "remove it by hand" in added.note
    # the autoscaler's desired capacity and the action that ran are nothing to restore
    assert ("autoscaling_group/fleet-web", "desired_capacity") not in actions
    assert (RAN, "exists") not in actions


@pytest.mark.parametrize("api_policy", ["reconcile"])
def test_reconcile_leaves_drift_an_apply_cannot_undo_to_a_person(fleet: Fleet) -> None:
    fleet.aws.autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="fleet-api",
        ScheduledActionName="black-friday",
        StartTime=datetime(2026, 11, 27, 6, tzinfo=UTC),
        DesiredCapacity=5,
    )

    report = fleet.check()

    assert report.check.outcome == "drifted"
    assert report.reconcile is None
    assert report.reconcile_note == (
        "api: drift an apply cannot undo (added outside Terraform); remove it by hand"
    )
    assert [p.plan_id for p in fleet.controller.plan_store.recent()] == ["000001-applied"]
