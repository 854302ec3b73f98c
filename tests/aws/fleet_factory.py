"""Creates a fleet's AWS resources with boto3 exactly as terraform/modules/{fleet,edge} shape them.

What the test then records as "last applied" are the same variables the controller renders
(templates/fleets.auto.tfvars.json.j2), so the drift check compares like with like.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3

PREFIX = "fleet"
REGION = "us-east-1"
IMAGE = "ami-12c6146b"  # one of moto's built-in AMIs


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def fleet_variables(now: datetime) -> dict[str, Any]:
    """Two fleets behind one shared ALB `edge`; `web` has one action that already ran (it
    raised max to 12) and two ahead."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    return {
        "fleets": {
            "web": {
                "region": REGION,
                "instance_type": "m6i.large",
                "min_size": 2,
                "max_size": 10,
                "desired_capacity": 3,
                "load_balancer": "edge",
                "target_cpu_utilization": 70.0,
                "instance_warmup": 300,
                "warm_pool": {
                    "pool_state": "Stopped",
                    "min_size": 0,
                    "max_group_prepared_capacity": 6,
                    "reuse_on_scale_in": True,
                },
                "scheduled_actions": [
                    _action("web", hour, 4, 2, 12),
                    _action("web", hour + timedelta(hours=1), 6, 2, 10),
                    _action("web", hour + timedelta(hours=2), 3, 2, 10),
                ],
            },
            "api": {
                "region": REGION,
                "instance_type": "c6i.large",
                "min_size": 1,
                "max_size": 5,
                "desired_capacity": 1,
                "load_balancer": "edge",
                "target_cpu_utilization": 60.0,
                "instance_warmup": 180,
                "scheduled_actions": [],
            },
        },
        "load_balancers": {
            "edge": {"region": REGION, "capacity_units": 0, "weights": {"api": 20, "web": 80}}
        },
    }


def _action(fleet: str, start: datetime, desired: int, low: int, high: int) -> dict[str, Any]:
    return {
        "name": f"{fleet}-{start:%Y%m%dT%H%MZ}",
        "start_time": stamp(start),
        "desired_capacity": desired,
        "min_size": low,
        "max_size": high,
    }


@dataclass
class CreatedFleet:
    group: str
    launch_template_id: str
    target_group_arn: str


@dataclass
class CreatedEdge:
    arn: str
    listener_arn: str
    rule_arn: str


@dataclass
class AwsAccount:
    endpoint: str
    region: str = REGION
    fleets: dict[str, CreatedFleet] = field(default_factory=dict)
    edges: dict[str, CreatedEdge] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service, endpoint_url=self.endpoint, region_name=self.region
            )
        return self._clients[service]

    @property
    def autoscaling(self) -> Any:
        return self.client("autoscaling")

    @property
    def ec2(self) -> Any:
        return self.client("ec2")

    @property
    def elbv2(self) -> Any:
        return self.client("elbv2")

    @property
    def cloudwatch(self) -> Any:
        return self.client("cloudwatch")

    def create_stack(self, variables: dict[str, Any], now: datetime) -> None:
        """What `terraform apply` of stacks/aws with these variables creates, at `now` (the
        scheduled actions that already ran are gone, as AWS deletes them)."""
        ec2 = self.ec2
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone)[
                "Subnet"
            ]["SubnetId"]
            for i, zone in enumerate(("us-east-1a", "us-east-1b"), start=1)
        ]
        for name, fleet in variables["fleets"].items():
            self.fleets[name] = self._create_fleet(name, fleet, vpc, subnets, now)
        for name, lb in variables["load_balancers"].items():
            self.edges[name] = self._create_edge(name, lb, subnets)

    def _create_fleet(
        self, name: str, fleet: dict[str, Any], vpc: str, subnets: list[str], now: datetime
    ) -> CreatedFleet:
        group = f"{PREFIX}-{name}"
        # modules/fleet: aws_launch_template.this (name_prefix "<group>-")
        template = self.ec2.create_launch_template(
            LaunchTemplateName=f"{group}-{uuid.uuid4().hex[:26]}",
            LaunchTemplateData={
                "ImageId": IMAGE,
                "InstanceType": fleet["instance_type"],
                "MetadataOptions": {"HttpTokens": "required"},
                "TagSpecifications": [
                    {
                        "ResourceType": "instance",
                        "Tags": [
                            {"Key": "Fleet", "Value": group},
                            {"Key": "ManagedBy", "Value": "fleet-persona-controller"},
                        ],
                    }
                ],
            },
        )["LaunchTemplate"]
        # aws_lb_target_group.this (name_prefix = first 6 characters of the name)
        target_group = self.elbv2.create_target_group(
            Name=f"{group[:6]}{uuid.uuid4().hex[:20]}",
            Protocol="HTTP",
            Port=80,
            VpcId=vpc,
            HealthCheckPath="/healthz",
            Matcher={"HttpCode": "200-399"},
        )["TargetGroups"][0]["TargetGroupArn"]
        # aws_autoscaling_group.this
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=group,
            MinSize=fleet["min_size"],
            MaxSize=fleet["max_size"],
            DesiredCapacity=fleet["desired_capacity"],
            VPCZoneIdentifier=",".join(subnets),
            TargetGroupARNs=[target_group],
            HealthCheckType="ELB",
            HealthCheckGracePeriod=fleet["instance_warmup"],
            DefaultInstanceWarmup=fleet["instance_warmup"],
            LaunchTemplate={
                "LaunchTemplateId": template["LaunchTemplateId"],
                "Version": str(template["LatestVersionNumber"]),
            },
            Tags=[{"Key": "Fleet", "Value": group, "PropagateAtLaunch": True}],
        )
        # aws_autoscaling_group.this warm_pool block
        pool = fleet.get("warm_pool")
        if pool is not None:
            self.autoscaling.put_warm_pool(
                AutoScalingGroupName=group,
                PoolState=pool["pool_state"],
                MinSize=pool["min_size"],
                MaxGroupPreparedCapacity=pool["max_group_prepared_capacity"],
                InstanceReusePolicy={"ReuseOnScaleIn": pool["reuse_on_scale_in"]},
            )
        # aws_autoscaling_schedule.forecast (the ones still ahead)
        for action in fleet["scheduled_actions"]:
            start = datetime.fromisoformat(action["start_time"].replace("Z", "+00:00"))
            if start <= now:
                continue
            self.autoscaling.put_scheduled_update_group_action(
                AutoScalingGroupName=group,
                ScheduledActionName=action["name"],
                StartTime=start,
                DesiredCapacity=action["desired_capacity"],
                MinSize=action["min_size"],
                MaxSize=action["max_size"],
                TimeZone="Etc/UTC",
            )
        # aws_autoscaling_policy.target_tracking
        self.autoscaling.put_scaling_policy(
            AutoScalingGroupName=group,
            PolicyName=f"{group}-cpu-target",
            PolicyType="TargetTrackingScaling",
            EstimatedInstanceWarmup=fleet["instance_warmup"],
            TargetTrackingConfiguration={
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ASGAverageCPUUtilization"
                },
                "TargetValue": float(fleet["target_cpu_utilization"]),
            },
        )
        return CreatedFleet(group, template["LaunchTemplateId"], target_group)

    def _create_edge(self, name: str, lb: dict[str, Any], subnets: list[str]) -> CreatedEdge:
        # modules/edge: aws_lb.this (the LCU reservation, ModifyCapacityReservation, is not
        # implemented by moto: only capacity_units 0 can be created here)
        assert lb["capacity_units"] == 0, "moto cannot create an LCU reservation"
        arn = self.elbv2.create_load_balancer(
            Name=f"{PREFIX}-{name}", Subnets=subnets, Type="application", Scheme="internet-facing"
        )["LoadBalancers"][0]["LoadBalancerArn"]
        # aws_lb_listener.http
        listener = self.elbv2.create_listener(
            LoadBalancerArn=arn,
            Protocol="HTTP",
            Port=80,
            DefaultActions=[
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {
                        "ContentType": "text/plain",
                        "MessageBody": "no route",
                        "StatusCode": "404",
                    },
                }
            ],
        )["Listeners"][0]["ListenerArn"]
        # aws_lb_listener_rule.weighted
        rule = self.elbv2.create_rule(
            ListenerArn=listener,
            Priority=100,
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
            Actions=[
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {
                                "TargetGroupArn": self.fleets[fleet].target_group_arn,
                                "Weight": weight,
                            }
                            for fleet, weight in sorted(lb["weights"].items())
                        ]
                    },
                }
            ],
        )["Rules"][0]["RuleArn"]
        return CreatedEdge(arn, listener, rule)
