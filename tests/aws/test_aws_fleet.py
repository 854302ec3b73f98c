"""AwsFleet against moto's server over HTTP: typed views, NotFound, metrics, error contract."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from controller.adapters.aws import AwsFleet, AwsSettings
from controller.adapters.aws.errors import translate, unavailable_reason
from controller.domain.cloud import GroupView, LoadBalancerView, NotFound
from controller.domain.errors import PermanentError, TemporaryError
from tests.aws.fleet_factory import AwsAccount, fleet_variables

NOW = datetime(2026, 11, 4, 1, 30, tzinfo=UTC)


@pytest.fixture
def cloud(aws: AwsAccount) -> AwsFleet:
    aws.create_stack(fleet_variables(NOW), NOW)
    return AwsFleet(AwsSettings("us-east-1", endpoint_url=aws.endpoint, max_attempts=1))


def test_a_group_is_read_with_its_launch_template_type_schedules_and_policy(
    aws: AwsAccount, cloud: AwsFleet
) -> None:
    group = cloud.describe_group("fleet-web")

    assert isinstance(group, GroupView)
    assert (group.min_size, group.max_size, group.desired_capacity) == (2, 10, 3)
    assert group.launch_template is not None
    assert group.launch_template.name.startswith("fleet-web-")
    assert group.launch_template.resolved_version == 1
    assert group.launch_template.instance_type == "m6i.large"
    assert group.target_group_arns == (aws.fleets["web"].target_group_arn,)
    assert [a.name for a in group.scheduled_actions] == ["web-20261104T0200Z", "web-20261104T0300Z"]
    assert group.scheduled_actions[0].start_time == datetime(2026, 11, 4, 2, tzinfo=UTC)
    assert group.scheduled_actions[0].desired_capacity == 6
    (policy,) = group.policies
    assert (policy.name, policy.policy_type, policy.metric, policy.target_value) == (
        "fleet-web-cpu-target",
        "TargetTrackingScaling",
        "ASGAverageCPUUtilization",
        70.0,
    )
    assert policy.estimated_instance_warmup == 300


def test_a_launch_template_reference_by_latest_resolves_to_the_newest_version(
    aws: AwsAccount, cloud: AwsFleet
) -> None:
    template = aws.fleets["web"].launch_template_id
    aws.ec2.create_launch_template_version(
        LaunchTemplateId=template,
        SourceVersion="1",
        LaunchTemplateData={"InstanceType": "c6i.xlarge"},
    )
    aws.autoscaling.update_auto_scaling_group(
        AutoScalingGroupName="fleet-web",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
    )

    group = cloud.describe_group("fleet-web")

    assert isinstance(group, GroupView) and group.launch_template is not None
    assert group.launch_template.version == "$Latest"
    assert group.launch_template.resolved_version == 2
    assert group.launch_template.instance_type == "c6i.xlarge"


def test_a_missing_group_or_load_balancer_is_a_typed_not_found(cloud: AwsFleet) -> None:
    assert cloud.describe_group("fleet-nope") == NotFound("autoscaling group", "fleet-nope")
    assert cloud.describe_load_balancer("fleet-nope") == NotFound("load balancer", "fleet-nope")


def test_a_load_balancer_is_read_with_its_weighted_rule_and_capacity_reservation(
    aws: AwsAccount, cloud: AwsFleet
) -> None:
    balancer = cloud.describe_load_balancer("fleet-edge")

    assert isinstance(balancer, LoadBalancerView)
    (listener,) = balancer.listeners
    assert (listener.port, listener.protocol) == (80, "HTTP")
    rules = {rule.priority: rule for rule in listener.rules}
    assert rules["default"].action_type == "fixed-response"
    weighted = rules["100"]
    assert weighted.path_patterns == ("/*",)
    assert {t.target_group_arn: t.weight for t in weighted.targets} == {
        aws.fleets["web"].target_group_arn: 80,
        aws.fleets["api"].target_group_arn: 20,
    }
    # moto answers DescribeCapacityReservation (without a reservation: it cannot make one)
    assert balancer.capacity.available and balancer.capacity.capacity_units is None


def test_metrics_are_the_datapoints_in_the_window_cpu_and_requests_per_target(
    aws: AwsAccount, cloud: AwsFleet
) -> None:
    start = NOW - timedelta(minutes=10)
    target_group = aws.fleets["web"].target_group_arn
    aws.cloudwatch.put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "AutoScalingGroupName", "Value": "fleet-web"}],
                "Timestamp": start + timedelta(minutes=i),
                "Value": value,
                "Unit": "Percent",
            }
            for i, value in enumerate([40.0, 60.0, 80.0])
        ]
        + [
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "AutoScalingGroupName", "Value": "fleet-web"}],
                "Timestamp": start - timedelta(minutes=30),  # before the window
                "Value": 99.0,
                "Unit": "Percent",
            }
        ],
    )
    aws.cloudwatch.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "RequestCountPerTarget",
                "Dimensions": [{"Name": "TargetGroup", "Value": target_group.split(":")[-1]}],
                "Timestamp": start + timedelta(minutes=i),
                "Value": 600.0,
                "Unit": "Count",
            }
            for i in range(3)
        ],
    )

    metrics = cloud.fleet_metrics("fleet-web", [target_group], start, NOW, timedelta(minutes=1))

    assert [p.value for p in metrics.cpu_utilization.points] == [40.0, 60.0, 80.0]
    assert metrics.cpu_utilization.mean == pytest.approx(60.0)
    assert metrics.cpu_utilization.peak == 80.0
    assert metrics.request_count_per_target is not None
    assert metrics.request_count_per_target.mean == pytest.approx(600.0)


def test_no_datapoints_is_an_empty_series_not_an_error(cloud: AwsFleet) -> None:
    metrics = cloud.fleet_metrics(
        "fleet-api", [], NOW - timedelta(minutes=5), NOW, timedelta(minutes=1)
    )
    assert metrics.cpu_utilization.points == () and metrics.cpu_utilization.mean is None
    assert metrics.request_count_per_target is None


def test_no_credentials_is_a_permanent_error_saying_where_they_come_from(
    monkeypatch: pytest.MonkeyPatch, aws: AwsAccount
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    cloud = AwsFleet(AwsSettings("us-east-1", endpoint_url=aws.endpoint, max_attempts=1))
    with pytest.raises(
        PermanentError, match=r"no usable AWS credentials.*never in controller\.yaml"
    ):
        cloud.describe_group("fleet-web")


def test_an_unreachable_endpoint_is_a_temporary_error(aws: AwsAccount) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cloud = AwsFleet(
        AwsSettings("us-east-1", endpoint_url=f"http://127.0.0.1:{port}", max_attempts=1)
    )
    with pytest.raises(TemporaryError, match="cannot reach the endpoint"):
        cloud.describe_group("fleet-web")


@pytest.mark.parametrize(
    ("code", "status", "expected", "words"),
    [
        ("AccessDenied", 403, PermanentError, "grant the controller's role the IAM action"),
        ("UnauthorizedOperation", 403, PermanentError, "IAM action"),
        ("Throttling", 400, TemporaryError, "will retry"),
        ("InternalFailure", 500, TemporaryError, "will retry"),
        ("ValidationError", 400, PermanentError, "ValidationError"),
    ],
)
def test_aws_errors_become_typed_errors_that_say_whether_to_retry(
    code: str, status: int, expected: type[Exception], words: str
) -> None:
    error = ClientError(
        {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "DescribeAutoScalingGroups",
    )
    translated = translate(error, "autoscaling:DescribeAutoScalingGroups")
    assert isinstance(translated, expected)
    assert words in str(translated) and "autoscaling:DescribeAutoScalingGroups" in str(translated)


def test_an_operation_moto_does_not_implement_is_recognised_as_unavailable(
    aws: AwsAccount, cloud: AwsFleet
) -> None:
    """ModifyCapacityReservation is not implemented by moto: its real answer (an HTML 500) is what
    `unavailable_reason` must recognise, so a reservation read that meets it reports "unknown"."""
    balancer = cloud.describe_load_balancer("fleet-edge")
    assert isinstance(balancer, LoadBalancerView)
    elbv2 = AwsAccount(aws.endpoint).client("elbv2")
    with pytest.raises(Exception) as raised:
        elbv2.modify_capacity_reservation(
            LoadBalancerArn=balancer.arn, MinimumLoadBalancerCapacity={"CapacityUnits": 100}
        )
    assert unavailable_reason(raised.value) is not None
    unknown_operation = ClientError(
        {
            "Error": {"Code": "UnknownOperationException"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        "DescribeCapacityReservation",
    )
    assert unavailable_reason(unknown_operation) is not None
    denied = ClientError(
        {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
        "DescribeCapacityReservation",
    )
    assert unavailable_reason(denied) is None
