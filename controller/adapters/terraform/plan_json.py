"""Reading plans from `terraform show -json` (never from human plan text)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from controller.domain.errors import TerraformError
from controller.domain.plan import Action, PlanSummary, ResourceChange
from controller.domain.refresh import OutputDrift, RefreshOnlyPlan, ResourceDrift


def parse_plan(plan_id: str, show_json: str) -> PlanSummary:
    try:
        plan = json.loads(show_json)
    except json.JSONDecodeError as exc:
        raise TerraformError("show -json", 0, f"unreadable plan JSON: {exc}") from exc
    raw = plan.get("resource_changes", [])
    changes = tuple(
        ResourceChange(
            address=str(rc["address"]),
            action=_action(rc["change"]["actions"]),
            type=str(rc.get("type", "")),
            name=str(rc.get("name", "")),
        )
        for rc in raw
    )
    return PlanSummary(plan_id=plan_id, changes=changes, fingerprint=fingerprint(raw))


def fingerprint(resource_changes: list[Any]) -> str:
    """What the plan would do, without its id or timestamps: the basis of 'plan unchanged'."""
    essence = sorted(
        (
            {
                "address": rc["address"],
                "actions": rc["change"]["actions"],
                "before": rc["change"].get("before"),
                "after": rc["change"].get("after"),
            }
            for rc in resource_changes
            if rc["change"]["actions"] != ["no-op"]
        ),
        key=lambda c: str(c["address"]),
    )
    return hashlib.sha256(json.dumps(essence, sort_keys=True).encode()).hexdigest()


def _action(actions: list[Any]) -> Action:
    kinds = set(actions)
    if kinds == {"create", "delete"}:
        return "replace"
    if len(actions) == 1 and actions[0] in ("create", "update", "delete", "read", "no-op"):
        action: Action = actions[0]
        return action
    raise TerraformError("show -json", 0, f"unknown change actions {actions!r}")


def parse_refresh_only(exit_code: int, show_json: str) -> RefreshOnlyPlan:
    """A refresh-only plan's `resource_drift` and `output_changes` (non-no-op ones)."""
    try:
        plan = json.loads(show_json)
    except json.JSONDecodeError as exc:
        raise TerraformError("show -json", 0, f"unreadable plan JSON: {exc}") from exc
    resources = tuple(
        ResourceDrift(
            address=str(rd["address"]),
            type=str(rd.get("type", "")),
            name=str(rd.get("name", "")),
            index=rd.get("index"),
            module_address=str(rd.get("module_address", "")),
            actions=tuple(rd["change"]["actions"]),
            before=rd["change"].get("before"),
            after=rd["change"].get("after"),
        )
        for rd in plan.get("resource_drift", []) or []
        if rd.get("mode", "managed") == "managed"
    )
    outputs = tuple(
        OutputDrift(
            name=str(name),
            actions=tuple(change["actions"]),
            before=change.get("before"),
            after=change.get("after"),
        )
        for name, change in sorted((plan.get("output_changes") or {}).items())
        if change.get("actions") != ["no-op"]
    )
    return RefreshOnlyPlan(exit_code, resources, outputs)


def parse_outputs(output_json: str) -> dict[str, Any]:
    """`terraform output -json`: name -> value."""
    try:
        outputs = json.loads(output_json or "{}")
    except json.JSONDecodeError as exc:
        raise TerraformError("output -json", 0, f"unreadable outputs JSON: {exc}") from exc
    return {str(name): entry.get("value") for name, entry in outputs.items()}
