"""A refresh-only plan as read from `terraform show -json`: what changed outside Terraform."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import JsonValue


@dataclass(frozen=True)
class ResourceDrift:
    """One entry of `resource_drift`: the object Terraform recorded vs what refresh read."""

    address: str
    type: str
    name: str
    index: str | int | None
    module_address: str
    actions: tuple[str, ...]
    """('update',) or ('delete',) (the object is gone)"""
    before: dict[str, JsonValue] | None
    after: dict[str, JsonValue] | None


@dataclass(frozen=True)
class OutputDrift:
    """One entry of `output_changes`: a root output whose recorded value no longer holds."""

    name: str
    actions: tuple[str, ...]
    before: JsonValue
    after: JsonValue


@dataclass(frozen=True)
class RefreshOnlyPlan:
    exit_code: int
    """`-detailed-exitcode`: 0 = nothing changed outside Terraform, 2 = something did"""
    resources: tuple[ResourceDrift, ...]
    outputs: tuple[OutputDrift, ...]

    @property
    def has_drift(self) -> bool:
        return self.exit_code == 2
