"""What the last applied plan put in force, read from its Terraform variables.

The variables (templates/fleets.auto.tfvars.json.j2) are the contract between the controller and
both stacks; here they become typed expectations the drift check and the monitor compare with.
`Naming` says how stacks/aws names the resources it creates from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.domain.errors import PermanentError


@dataclass(frozen=True)
class AppliedSchedule:
    name: str
    start_time: datetime
    desired_capacity: int
    min_size: int
    max_size: int


@dataclass(frozen=True)
class AppliedWarmPool:
    pool_state: str
    min_size: int
    max_group_prepared_capacity: int
    reuse_on_scale_in: bool


@dataclass(frozen=True)
class AppliedFleet:
    name: str
    region: str
    instance_type: str
    min_size: int
    max_size: int
    desired_capacity: int
    load_balancer: str
    target_cpu_utilization: float
    instance_warmup: int
    scheduled_actions: tuple[AppliedSchedule, ...]
    warm_pool: AppliedWarmPool | None = None
    """None: no warm pool was applied (also for plans rendered before warm pools existed)"""

    def started(self, now: datetime) -> tuple[AppliedSchedule, ...]:
        """Scheduled actions whose start time has come (AWS may already have run them)."""
        return tuple(a for a in self.scheduled_actions if a.start_time <= now)

    def allowed_min_sizes(self, now: datetime) -> frozenset[int]:
        """Min sizes the applied plan may have put in force by `now`: its own and its actions'."""
        return frozenset({self.min_size, *(a.min_size for a in self.started(now))})

    def allowed_max_sizes(self, now: datetime) -> frozenset[int]:
        return frozenset({self.max_size, *(a.max_size for a in self.started(now))})

    def capacity_at(self, when: datetime) -> int:
        """Desired capacity the plan scheduled for `when` (the last action started by then)."""
        started = [a for a in self.scheduled_actions if a.start_time <= when]
        if not started:
            return self.desired_capacity
        return max(started, key=lambda a: a.start_time).desired_capacity


@dataclass(frozen=True)
class AppliedLoadBalancer:
    name: str
    region: str
    capacity_units: int
    weights: dict[str, int]


@dataclass(frozen=True)
class AppliedStack:
    plan_id: str
    applied_at: datetime
    fleets: dict[str, AppliedFleet]
    load_balancers: dict[str, AppliedLoadBalancer]

    def fleets_behind(self, load_balancer: str) -> tuple[str, ...]:
        lb = self.load_balancers.get(load_balancer)
        return tuple(sorted(lb.weights)) if lb else ()


@dataclass(frozen=True)
class Naming:
    """Resource names of terraform/stacks/aws (`environment.name_prefix`)."""

    prefix: str = "fleet"

    def group(self, fleet: str) -> str:
        return f"{self.prefix}-{fleet}"

    def load_balancer(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def target_tracking_policy(self, fleet: str) -> str:
        return f"{self.group(fleet)}-cpu-target"

    def launch_template_prefix(self, fleet: str) -> str:
        return f"{self.group(fleet)}-"


def applied_stack(plan_id: str, applied_at: datetime, variables: Mapping[str, Any]) -> AppliedStack:
    """Typed view of rendered variables; PermanentError naming the key if they are malformed."""
    try:
        fleets = {
            str(name): _fleet(str(name), f) for name, f in dict(variables.get("fleets", {})).items()
        }
        balancers = {
            str(name): AppliedLoadBalancer(
                name=str(name),
                region=str(lb["region"]),
                capacity_units=int(lb["capacity_units"]),
                weights={str(k): int(v) for k, v in dict(lb["weights"]).items()},
            )
            for name, lb in dict(variables.get("load_balancers", {})).items()
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentError(
            f"the variables of applied plan {plan_id} are not in the expected shape ({exc!r})"
        ) from exc
    return AppliedStack(plan_id, applied_at, fleets, balancers)


def _fleet(name: str, f: Mapping[str, Any]) -> AppliedFleet:
    return AppliedFleet(
        name=name,
        region=str(f["region"]),
        instance_type=str(f["instance_type"]),
        min_size=int(f["min_size"]),
        max_size=int(f["max_size"]),
        desired_capacity=int(f["desired_capacity"]),
        load_balancer=str(f.get("load_balancer") or name),
        target_cpu_utilization=float(f["target_cpu_utilization"]),
        instance_warmup=int(f["instance_warmup"]),
        scheduled_actions=tuple(
            AppliedSchedule(
                name=str(a["name"]),
                start_time=_utc(str(a["start_time"])),
                desired_capacity=int(a["desired_capacity"]),
                min_size=int(a["min_size"]),
                max_size=int(a["max_size"]),
            )
            for a in f.get("scheduled_actions", [])
        ),
        warm_pool=_warm_pool(f.get("warm_pool")),
    )


def _warm_pool(pool: Mapping[str, Any] | None) -> AppliedWarmPool | None:
    if pool is None:
        return None
    return AppliedWarmPool(
        pool_state=str(pool["pool_state"]),
        min_size=int(pool["min_size"]),
        max_group_prepared_capacity=int(pool["max_group_prepared_capacity"]),
        reuse_on_scale_in=bool(pool["reuse_on_scale_in"]),
    )


def _utc(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
