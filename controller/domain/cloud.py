"""The live cloud as the controller reads it: typed views, and the small protocol behind them.

Karpenter's cloudprovider interface, for a read-only controller: `FleetCloud` has one method per
question the drift check and the monitor ask, each documenting its error contract. A missing
resource is a typed `NotFound` result, never an exception: "the group is gone" is a finding,
not a failure. Throttling, time-outs and connection errors raise `TemporaryError` (retry later);
missing permissions, bad credentials or a bad endpoint raise `PermanentError` (a person acts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True)
class NotFound:
    """The resource asked for does not exist (in this region and account)."""

    kind: str
    """'autoscaling group', 'load balancer'"""
    name: str

    def describe(self) -> str:
        return f"{self.kind} {self.name!r} not found"


@dataclass(frozen=True)
class LaunchTemplateView:
    template_id: str
    name: str
    version: str
    """as the group names it: '3', '$Latest' or '$Default'"""
    resolved_version: int | None
    """the version number that reference resolves to now; None if it could not be resolved"""
    instance_type: str | None
    """the instance type of that version; None if the version sets none"""


@dataclass(frozen=True)
class ScheduledActionView:
    name: str
    start_time: datetime | None
    recurrence: str | None
    desired_capacity: int | None
    min_size: int | None
    max_size: int | None


@dataclass(frozen=True)
class ScalingPolicyView:
    name: str
    policy_type: str
    """TargetTrackingScaling, StepScaling, SimpleScaling, PredictiveScaling"""
    metric: str | None
    """target tracking: the predefined metric type, 'customized' for a custom metric"""
    target_value: float | None
    estimated_instance_warmup: int | None
    disable_scale_in: bool = False


@dataclass(frozen=True)
class WarmPoolView:
    """The group's warm pool as AWS reports it (DescribeWarmPool)."""

    pool_state: str
    min_size: int
    max_group_prepared_capacity: int | None
    """None when unset: AWS then prepares up to the group's max size"""
    reuse_on_scale_in: bool
    instances: int
    """instances in the pool now (stopped, hibernated or on their way)"""


@dataclass(frozen=True)
class GroupView:
    """An autoscaling group with what the controller applies to it."""

    name: str
    min_size: int
    max_size: int
    desired_capacity: int
    launch_template: LaunchTemplateView | None
    """None when the group uses a launch configuration or a mixed instances policy"""
    uses_mixed_instances: bool
    target_group_arns: tuple[str, ...]
    scheduled_actions: tuple[ScheduledActionView, ...]
    policies: tuple[ScalingPolicyView, ...]
    warm_pool: WarmPoolView | None = None
    """None: the group has no warm pool"""


@dataclass(frozen=True)
class WeightedTarget:
    target_group_arn: str
    weight: int


@dataclass(frozen=True)
class ListenerRuleView:
    arn: str
    priority: str
    """'100', or 'default' for the listener's default rule"""
    action_type: str
    """of the rule's last (terminal) action: forward, fixed-response, redirect, ..."""
    targets: tuple[WeightedTarget, ...]
    path_patterns: tuple[str, ...]

    @property
    def is_default(self) -> bool:
        return self.priority == "default"


@dataclass(frozen=True)
class ListenerView:
    arn: str
    port: int
    protocol: str
    rules: tuple[ListenerRuleView, ...]


@dataclass(frozen=True)
class CapacityReservationView:
    """An ALB's LCU reservation (DescribeCapacityReservation)."""

    available: bool
    """False when the API is not available where we asked (an emulator, a partition without it):
    the reservation is then unknown, which is never drift"""
    capacity_units: int | None
    """requested minimum LCUs; None with available=True means no reservation was requested"""
    detail: str = ""


@dataclass(frozen=True)
class LoadBalancerView:
    name: str
    arn: str
    dns_name: str
    listeners: tuple[ListenerView, ...]
    capacity: CapacityReservationView


@dataclass(frozen=True)
class MetricPoint:
    time: datetime
    value: float


@dataclass(frozen=True)
class MetricSeries:
    """One CloudWatch metric over a window, one point per period (oldest first)."""

    namespace: str
    name: str
    statistic: str
    period: timedelta
    points: tuple[MetricPoint, ...]

    @property
    def mean(self) -> float | None:
        return sum(p.value for p in self.points) / len(self.points) if self.points else None

    @property
    def peak(self) -> float | None:
        return max((p.value for p in self.points), default=None)


@dataclass(frozen=True)
class FleetMetrics:
    cpu_utilization: MetricSeries
    """AWS/EC2 CPUUtilization, Average, per AutoScalingGroupName (percent)"""
    request_count_per_target: MetricSeries | None
    """AWS/ApplicationELB RequestCountPerTarget, Sum per period, per TargetGroup; None if the
    fleet has no target group"""


class FleetCloud(Protocol):
    """What the controller reads from the cloud. Implementations: AwsFleet (boto3)."""

    def describe_group(self, name: str) -> GroupView | NotFound:
        """The group, its launch template (resolved to a version and instance type), its
        scheduled actions, scaling policies and warm pool.

        Returns NotFound if no group has that name. Raises TemporaryError on throttling, time-out
        or connection failure; PermanentError on missing permissions or credentials.
        """
        ...

    def describe_load_balancer(self, name: str) -> LoadBalancerView | NotFound:
        """The load balancer, its listeners with their rules and forward weights, and its
        capacity reservation.

        Returns NotFound if no load balancer has that name. A capacity reservation API that is
        not available is reported in the view (available=False), never raised. Raises
        TemporaryError / PermanentError as describe_group.
        """
        ...

    def fleet_metrics(
        self,
        group: str,
        target_group_arns: Sequence[str],
        start: datetime,
        end: datetime,
        period: timedelta,
    ) -> FleetMetrics:
        """CPU utilization of the group and requests per target of its first target group over
        [start, end). No datapoints is an empty series, not an error. Raises TemporaryError /
        PermanentError as describe_group.
        """
        ...
