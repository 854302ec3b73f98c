"""A Terraform plan as read from `terraform show -json`, summarised for people and the gate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["create", "update", "delete", "replace", "read", "no-op"]


VERBS: tuple[tuple[Action, str], ...] = (
    ("create", "add"),
    ("update", "change"),
    ("replace", "replace"),
    ("delete", "destroy"),
)


@dataclass(frozen=True)
class ResourceChange:
    address: str
    action: Action
    type: str = ""
    """resource type, e.g. aws_autoscaling_group or terraform_data"""
    name: str = ""
    """resource name in its module, e.g. this or autoscaling_group"""


@dataclass(frozen=True)
class PlanSummary:
    plan_id: str
    changes: tuple[ResourceChange, ...]
    fingerprint: str = ""
    """sha256 of every change's address, actions, before and after: equal plans, equal prints"""

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    @property
    def has_changes(self) -> bool:
        return any(change.action not in ("no-op", "read") for change in self.changes)

    def describe(self) -> str:
        if not self.has_changes:
            return "no changes"
        parts = [f"{self.count(action)} to {verb}" for action, verb in VERBS if self.count(action)]
        return ", ".join(parts)
