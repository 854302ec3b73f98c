"""AwsFleet: FleetCloud on boto3, read-only, one region.

Calls made (the IAM actions the controller's role needs, all read-only):
autoscaling:DescribeAutoScalingGroups, autoscaling:DescribeScheduledActions,
autoscaling:DescribePolicies, ec2:DescribeLaunchTemplateVersions,
elasticloadbalancing:DescribeLoadBalancers, elasticloadbalancing:DescribeListeners,
elasticloadbalancing:DescribeRules, elasticloadbalancing:DescribeCapacityReservation,
cloudwatch:GetMetricData.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from controller.adapters.aws.errors import AWS_ERRORS, error_code, translate, unavailable_reason
from controller.adapters.aws.session import AwsSettings, make_client
from controller.domain.cloud import (
    CapacityReservationView,
    FleetMetrics,
    GroupView,
    LaunchTemplateView,
    ListenerRuleView,
    ListenerView,
    LoadBalancerView,
    MetricPoint,
    MetricSeries,
    NotFound,
    ScalingPolicyView,
    ScheduledActionView,
    WarmPoolView,
    WeightedTarget,
)

log = logging.getLogger(__name__)

LAUNCH_TEMPLATE_GONE = frozenset(
    {
        "InvalidLaunchTemplateId.NotFound",
        "InvalidLaunchTemplateId.Malformed",
        "InvalidLaunchTemplateName.NotFoundException",
        "InvalidLaunchTemplateId.VersionNotFound",
    }
)


class AwsFleet:
    """Reads groups, load balancers and metrics of one region (see FleetCloud for contracts)."""

    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings
        self.region = settings.region
        self._autoscaling = make_client(settings, "autoscaling")
        self._ec2 = make_client(settings, "ec2")
        self._elbv2 = make_client(settings, "elbv2")
        self._cloudwatch = make_client(settings, "cloudwatch")

    # -- groups -------------------------------------------------------------------------------

    def describe_group(self, name: str) -> GroupView | NotFound:
        """See FleetCloud.describe_group."""
        groups = _call(
            "autoscaling:DescribeAutoScalingGroups",
            self._autoscaling.describe_auto_scaling_groups,
            AutoScalingGroupNames=[name],
        )["AutoScalingGroups"]
        if not groups:
            return NotFound("autoscaling group", name)
        group = groups[0]
        mixed = group.get("MixedInstancesPolicy")
        spec = (
            mixed.get("LaunchTemplate", {}).get("LaunchTemplateSpecification")
            if mixed
            else group.get("LaunchTemplate")
        )
        return GroupView(
            name=name,
            min_size=int(group["MinSize"]),
            max_size=int(group["MaxSize"]),
            desired_capacity=int(group["DesiredCapacity"]),
            launch_template=self._launch_template(spec) if spec else None,
            uses_mixed_instances=bool(mixed),
            target_group_arns=tuple(group.get("TargetGroupARNs", [])),
            scheduled_actions=tuple(self._scheduled_actions(name)),
            policies=tuple(self._policies(name)),
            warm_pool=self._warm_pool(name),
        )

    def _warm_pool(self, group: str) -> WarmPoolView | None:
        pages = list(
            _pages(
                "autoscaling:DescribeWarmPool",
                self._autoscaling.describe_warm_pool,
                "NextToken",
                AutoScalingGroupName=group,
            )
        )
        pool = pages[0].get("WarmPoolConfiguration")
        if not pool:
            return None
        prepared = _int(pool.get("MaxGroupPreparedCapacity"))
        return WarmPoolView(
            pool_state=str(pool.get("PoolState", "Stopped")),
            min_size=_int(pool.get("MinSize")) or 0,
            # -1 (or nothing) means "up to the group's max size"
            max_group_prepared_capacity=None if prepared is None or prepared < 0 else prepared,
            reuse_on_scale_in=bool(pool.get("InstanceReusePolicy", {}).get("ReuseOnScaleIn")),
            instances=sum(len(page.get("Instances", [])) for page in pages),
        )

    def _launch_template(self, spec: dict[str, Any]) -> LaunchTemplateView:
        version = str(spec.get("Version") or "$Default")
        ref = (
            {"LaunchTemplateId": spec["LaunchTemplateId"]}
            if spec.get("LaunchTemplateId")
            else {"LaunchTemplateName": spec.get("LaunchTemplateName", "")}
        )
        template_id = str(spec.get("LaunchTemplateId", ""))
        name = str(spec.get("LaunchTemplateName", ""))
        try:
            versions = self._ec2.describe_launch_template_versions(Versions=[version], **ref)[
                "LaunchTemplateVersions"
            ]
        except ClientError as exc:
            if error_code(exc) in LAUNCH_TEMPLATE_GONE:
                return LaunchTemplateView(template_id, name, version, None, None)
            raise translate(exc, "ec2:DescribeLaunchTemplateVersions") from exc
        except AWS_ERRORS as exc:
            raise translate(exc, "ec2:DescribeLaunchTemplateVersions") from exc
        if not versions:
            return LaunchTemplateView(template_id, name, version, None, None)
        found = versions[0]
        return LaunchTemplateView(
            template_id=str(found.get("LaunchTemplateId", template_id)),
            name=str(found.get("LaunchTemplateName", name)),
            version=version,
            resolved_version=int(found["VersionNumber"]),
            instance_type=found.get("LaunchTemplateData", {}).get("InstanceType"),
        )

    def _scheduled_actions(self, group: str) -> Iterator[ScheduledActionView]:
        for page in _pages(
            "autoscaling:DescribeScheduledActions",
            self._autoscaling.describe_scheduled_actions,
            "NextToken",
            AutoScalingGroupName=group,
        ):
            for action in page.get("ScheduledUpdateGroupActions", []):
                yield ScheduledActionView(
                    name=str(action["ScheduledActionName"]),
                    start_time=_utc(action.get("StartTime")),
                    recurrence=action.get("Recurrence"),
                    desired_capacity=_int(action.get("DesiredCapacity")),
                    min_size=_int(action.get("MinSize")),
                    max_size=_int(action.get("MaxSize")),
                )

    def _policies(self, group: str) -> Iterator[ScalingPolicyView]:
        for page in _pages(
            "autoscaling:DescribePolicies",
            self._autoscaling.describe_policies,
            "NextToken",
            AutoScalingGroupName=group,
        ):
            for policy in page.get("ScalingPolicies", []):
                tracking = policy.get("TargetTrackingConfiguration") or {}
                predefined = tracking.get("PredefinedMetricSpecification") or {}
                metric = predefined.get("PredefinedMetricType") or (
                    "customized" if tracking.get("CustomizedMetricSpecification") else None
                )
                target = tracking.get("TargetValue")
                yield ScalingPolicyView(
                    name=str(policy["PolicyName"]),
                    policy_type=str(policy.get("PolicyType", "SimpleScaling")),
                    metric=metric,
                    target_value=float(target) if target is not None else None,
                    estimated_instance_warmup=_int(policy.get("EstimatedInstanceWarmup")),
                    disable_scale_in=bool(tracking.get("DisableScaleIn", False)),
                )

    # -- load balancers -----------------------------------------------------------------------

    def describe_load_balancer(self, name: str) -> LoadBalancerView | NotFound:
        """See FleetCloud.describe_load_balancer."""
        try:
            found = self._elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
        except ClientError as exc:
            if error_code(exc) == "LoadBalancerNotFound":
                return NotFound("load balancer", name)
            raise translate(exc, "elasticloadbalancing:DescribeLoadBalancers") from exc
        except AWS_ERRORS as exc:
            raise translate(exc, "elasticloadbalancing:DescribeLoadBalancers") from exc
        if not found:
            return NotFound("load balancer", name)
        balancer = found[0]
        arn = str(balancer["LoadBalancerArn"])
        return LoadBalancerView(
            name=name,
            arn=arn,
            dns_name=str(balancer.get("DNSName", "")),
            listeners=tuple(self._listeners(arn)),
            capacity=self.capacity_reservation(arn),
        )

    def _listeners(self, balancer_arn: str) -> Iterator[ListenerView]:
        for page in _pages(
            "elasticloadbalancing:DescribeListeners",
            self._elbv2.describe_listeners,
            "Marker",
            LoadBalancerArn=balancer_arn,
        ):
            for listener in page.get("Listeners", []):
                arn = str(listener["ListenerArn"])
                yield ListenerView(
                    arn=arn,
                    port=int(listener.get("Port", 0)),
                    protocol=str(listener.get("Protocol", "")),
                    rules=tuple(self._rules(arn)),
                )

    def _rules(self, listener_arn: str) -> Iterator[ListenerRuleView]:
        for page in _pages(
            "elasticloadbalancing:DescribeRules",
            self._elbv2.describe_rules,
            "Marker",
            ListenerArn=listener_arn,
        ):
            for rule in page.get("Rules", []):
                yield _rule_view(rule)

    def capacity_reservation(self, balancer_arn: str) -> CapacityReservationView:
        """The LCU reservation, or available=False when the endpoint lacks the API.

        Raises TemporaryError / PermanentError as describe_group for any other failure.
        """
        operation = "elasticloadbalancing:DescribeCapacityReservation"
        try:
            reply = self._elbv2.describe_capacity_reservation(LoadBalancerArn=balancer_arn)
        except AWS_ERRORS as exc:
            reason = unavailable_reason(exc)
            if reason is None:
                raise translate(exc, operation) from exc
            log.info("%s unavailable at %s: %s", operation, self._where(), reason)
            return CapacityReservationView(False, None, f"API unavailable: {reason}")
        requested = reply.get("MinimumLoadBalancerCapacity")
        states = ", ".join(
            f"{s.get('AvailabilityZone', '?')} {s.get('State', {}).get('Code', '?')}"
            for s in reply.get("CapacityReservationState", [])
        )
        units = _int(requested.get("CapacityUnits")) if requested else None
        return CapacityReservationView(True, units, states)

    # -- metrics ------------------------------------------------------------------------------

    def fleet_metrics(
        self,
        group: str,
        target_group_arns: Sequence[str],
        start: datetime,
        end: datetime,
        period: timedelta,
    ) -> FleetMetrics:
        """See FleetCloud.fleet_metrics (one GetMetricData call, paginated)."""
        seconds = int(period.total_seconds())
        queries = [
            _query("cpu", "AWS/EC2", "CPUUtilization", "AutoScalingGroupName", group, "Average")
        ]
        target_group = target_group_arns[0] if target_group_arns else None
        if target_group:
            queries.append(
                _query(
                    "rpt",
                    "AWS/ApplicationELB",
                    "RequestCountPerTarget",
                    "TargetGroup",
                    target_group.split(":")[-1],
                    "Sum",
                )
            )
        for query in queries:
            query["MetricStat"]["Period"] = seconds
        points: dict[str, list[MetricPoint]] = {"cpu": [], "rpt": []}
        for page in _pages(
            "cloudwatch:GetMetricData",
            self._cloudwatch.get_metric_data,
            "NextToken",
            MetricDataQueries=queries,
            StartTime=start,
            EndTime=end,
            ScanBy="TimestampAscending",
        ):
            for result in page.get("MetricDataResults", []):
                points[result["Id"]].extend(
                    MetricPoint(_utc_required(t), float(v))
                    for t, v in zip(
                        result.get("Timestamps", []), result.get("Values", []), strict=False
                    )
                )
        cpu = MetricSeries(
            "AWS/EC2", "CPUUtilization", "Average", period, _in_window(points["cpu"], start, end)
        )
        rpt = (
            MetricSeries(
                "AWS/ApplicationELB",
                "RequestCountPerTarget",
                "Sum",
                period,
                _in_window(points["rpt"], start, end),
            )
            if target_group
            else None
        )
        return FleetMetrics(cpu, rpt)

    def _where(self) -> str:
        return self.settings.endpoint_url or f"AWS {self.region}"


def _call(operation: str, method: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return method(**kwargs)
    except AWS_ERRORS as exc:
        raise translate(exc, operation) from exc


def _pages(
    operation: str, method: Callable[..., Any], token: str, **kwargs: Any
) -> Iterator[dict[str, Any]]:
    """Every page of a paginated call (NextToken / Marker), each call guarded."""
    request = dict(kwargs)
    while True:
        page = _call(operation, method, **request)
        yield page
        following = page.get("NextMarker" if token == "Marker" else token)
        if not following:
            return
        request[token] = following


def _rule_view(rule: dict[str, Any]) -> ListenerRuleView:
    actions = sorted(rule.get("Actions", []), key=lambda a: int(a.get("Order", 0)))
    terminal = actions[-1] if actions else {}
    forward = terminal.get("ForwardConfig") or {}
    targets = tuple(
        WeightedTarget(str(t["TargetGroupArn"]), int(t.get("Weight", 1)))
        for t in forward.get("TargetGroups", [])
    )
    if not targets and terminal.get("TargetGroupArn"):
        targets = (WeightedTarget(str(terminal["TargetGroupArn"]), 1),)
    patterns: list[str] = []
    for condition in rule.get("Conditions", []):
        if condition.get("Field") == "path-pattern":
            config = condition.get("PathPatternConfig") or {}
            patterns.extend(config.get("Values") or condition.get("Values") or [])
    return ListenerRuleView(
        arn=str(rule.get("RuleArn", "")),
        priority=str(rule.get("Priority", "")),
        action_type=str(terminal.get("Type", "")),
        targets=targets,
        path_patterns=tuple(patterns),
    )


def _query(
    query_id: str, namespace: str, metric: str, dimension: str, value: str, stat: str
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": dimension, "Value": value}],
            },
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _in_window(
    points: list[MetricPoint], start: datetime, end: datetime
) -> tuple[MetricPoint, ...]:
    return tuple(sorted((p for p in points if start <= p.time < end), key=lambda p: p.time))


def _int(value: object) -> int | None:
    return None if value is None else int(str(value))


def _utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _utc_required(value: object) -> datetime:
    when = _utc(value)
    if when is None:
        raise TypeError(f"not a timestamp: {value!r}")
    return when
